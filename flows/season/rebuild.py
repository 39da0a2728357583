"""The year's outputs rebuilt from the store: the live year materialised as an extract, run through
the ``prorata run`` pipeline into ``STORE/outputs/TAX_YEAR`` (written atomically: a killed rebuild
leaves the previous outputs), then the forms snapshotted for the next review."""

from __future__ import annotations

import shutil

from flows.errors import crash_point
from flows.io.store import Store, materialise
from flows.run.pipeline import run_pipeline
from flows.season.review import snapshot_forms


def rebuild_year(store: Store, tax_year: int, settings=None) -> dict:
    """Rebuild STORE/outputs/TAX_YEAR from the live year with the ``prorata run`` pipeline; returns
    its manifest. All but the IRS file: nobody files the nightly's, ``prorata file`` writes the
    filing from these outputs (the forms the writers would refuse are blocking edit checks already)."""
    store.tmp().mkdir(parents=True, exist_ok=True)
    folder = store.tmp() / f"extract-{tax_year}"
    shutil.rmtree(folder, ignore_errors=True)
    materialise(store, tax_year, folder)
    crash_point("rebuild:materialised")
    try:
        manifest = run_pipeline(folder, store.outputs(tax_year), settings=settings, irs_file=False).manifest
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    crash_point("rebuild:outputs")
    snapshot_forms(store, tax_year)
    return manifest
