"""Mapped imports: a recordkeeper's CSV, Excel, Parquet or fixed-width files into the canonical
extract (docs/spec/extract.md), through a TOML mapping (:mod:`flows.importer.mapping`)."""
