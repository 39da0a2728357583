"""Corrected recipient statements: the returns of a corrections filing, as the store recorded them,
drawn as Copy B (``prorata statements --store STORE --corrections DIR``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl

from flows.io.store import Store, filings_table
from flows.render.statements import FOLDER, Progress, StatementError, corrected_statement_rows, write_rows


def correction_rows(store: Path, corrections_dir: Path) -> tuple[pl.DataFrame, Path, dict]:
    """The statement rows of a corrections run (:func:`flows.render.statements.corrected_statement_rows`
    of its filing and its late originals, as the store's filings table holds them), the year's
    outputs and the facts for the statements' manifest."""
    m = json.loads((Path(corrections_dir) / "manifest.json").read_text(encoding="utf-8"))
    if m.get("kind") != "correction":
        raise StatementError(f"{corrections_dir}: not the folder of a prorata corrections run")
    tax_year = int(m["tax_year"])
    ids = [i for i in (m.get("filing_id"), m.get("late_originals_filing_id")) if i]
    s = Store(Path(store))
    filed = filings_table(s, tax_year).filter(pl.col("filing_id").is_in(ids))
    if filed.height == 0:
        raise StatementError(f"{corrections_dir}: its filing {', '.join(ids)} is not in the store {store}")
    outputs = s.outputs(tax_year)
    facts = {
        "kind": "prorata-statements",
        "corrected": True,
        "filing_id": m.get("filing_id"),
        "tax_year": tax_year,
    }
    return corrected_statement_rows(filed, outputs), outputs, facts


def write_corrected_statements(
    store: Path,
    corrections_dir: Path,
    *,
    dest: Path | None = None,
    progress: Progress | None = None,
    by: str = "both",
) -> dict:
    """Statements for the returns of a corrections run (:func:`correction_rows`), into ``dest``
    (default ``CORRECTIONS_DIR/statements``)."""
    start = time.perf_counter()
    rows, _outputs, facts = correction_rows(store, corrections_dir)
    folder = Path(dest) if dest is not None else Path(corrections_dir) / FOLDER
    return write_rows(rows, Path(corrections_dir), folder, progress, by, facts, start)
