"""``prorata status``: where a tax year stands, printed and written as a small HTML page.

Extracts in, forms now, filings prepared and approved, what the IRS said (accepted, accepted with
errors, rejected, awaiting an acknowledgement), what is still to send (corrections, late originals,
replacements of rejected returns) and the deadlines. Read-only: it takes no lock and writes only
its page (``STORE/status/TAX_YEAR.html``, with ``TAX_YEAR_irs_errors.csv`` listing every error the
IRS returned by form id). Ids, counts and amounts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from html import escape
from pathlib import Path

import polars as pl

from flows.io import history
from flows.io import store as st
from flows.io.outputs import read_manifest
from flows.render.reconcile_html import CSS
from flows.render.reconcile_html import _table as table
from flows.season.acks import acknowledgements
from flows.season.filings import (
    filings_table,
    pending_corrections,
    pending_filings,
    today,
)
from transforms.law.deadlines import deadlines
from transforms.season.references import record_status, rejected_units

STATUSES = (
    "accepted",
    "accepted with errors",
    "rejected",
    "processing",
    "awaiting acknowledgement",
    "not found",
    "unknown",
    "FIRE",
)


@dataclass
class YearStatus:
    tax_year: int
    test_file: bool = False  # the rehearsals' status (TEST files), not production
    facts: list[tuple[str, str]] = field(default_factory=list)  # (what, where it stands)
    by_status: pl.DataFrame | None = None  # kind x status -> records
    errors: pl.DataFrame | None = None  # every IRS error, by form id

    def lines(self) -> list[str]:
        head = f"prorata status: tax year {self.tax_year}" + (
            " (TEST filings: rehearsals)" if self.test_file else ""
        )
        return [head, *(f"  {k:<24} {v}" for k, v in self.facts)]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def year_status(store_root: Path, tax_year: int, *, on: date | None = None, test: bool = False) -> YearStatus:
    """The year at a glance (module docstring): the production filings, with the rehearsals (TEST
    files) counted apart — or, with ``test``, the rehearsals themselves."""
    on = on or today()
    store = st.Store(store_root)
    result = YearStatus(tax_year, test_file=test)
    facts = result.facts
    led = st.ledger(store, tax_year)
    if led.height == 0:
        raise st.StoreError(f"tax year {tax_year}: no extract in the store")
    last = led.row(-1, named=True)
    facts.append(
        ("extracts in", f"{led.height:,} (last: {last['extract_id']}, ingested {last['ingested_at']})")
    )
    current = st.outputs_current(store, tax_year)
    manifest = read_manifest(store.outputs(tax_year)) or {}
    if manifest:
        forms = manifest.get("forms", {})
        facts.append(
            (
                "forms now",
                f"{forms.get('count', 0):,} ({forms.get('to_file', 0):,} to file)"
                + ("" if current else " — outputs older than the store's extracts: run 'prorata nightly'"),
            )
        )
    every = filings_table(store, tax_year)
    prod = every.filter(pl.col("test_file") == test) if every.height else every
    rehearsals = every.filter(pl.col("test_file") != test) if every.height else every
    events = history.events(store, tax_year)
    approved = history.filing_states(events).filter(pl.col("state") == "approved")
    if prod.height:
        per_kind = (
            prod.group_by("kind").agg(pl.len(), pl.col("filing_id").n_unique().alias("filings")).sort("kind")
        )
        facts.append(
            (
                "filed and approved",
                ", ".join(
                    f"{k} {n:,} records ({f} filing{'s' if f > 1 else ''})" for k, n, f in per_kind.rows()
                ),
            )
        )
        for row in approved.filter(pl.col("test_file").fill_null(False) == test).to_dicts():
            facts.append(("  approved", f"{row['filing_id']} by {row['by']} at {row['at']}"))
    else:
        facts.append(("filed and approved", "nothing yet"))
    if rehearsals.height:
        other = "production filings" if test else "TEST filings"
        facts.append((other, f"{rehearsals['filing_id'].n_unique():,} (not shown here)"))
    for row in pending_filings(store, tax_year).to_dicts():
        mark = " [TEST FILE]" if row["test_file"] else ""
        facts.append(
            ("awaiting approval", f"{row['filing_id']}{mark}, prepared by {row['by']} at {row['at']}")
        )
    acks = acknowledgements(store, tax_year)
    if prod.height:
        with_status = record_status(prod, acks)
        result.by_status = with_status.group_by("kind", "status").len().sort("kind", "status")
        counts = dict(with_status.group_by("status").len().rows())
        facts.append(
            (
                "IRS said",
                ", ".join(f"{s} {counts[s]:,}" for s in STATUSES if counts.get(s)) + " (records)",
            )
        )
        units = rejected_units(with_status)
        facts.append(
            (
                "rejected, to replace",
                f"{_plural(units.height, 'return')}"
                + (
                    f" in {units['replaces'].n_unique()} unit(s): run 'prorata replace'"
                    if units.height
                    else ""
                ),
            )
        )
        result.errors = (
            acks.filter(pl.col("error_code").is_not_null())
            .select(
                "recorded_at",
                "transmission",
                "level",
                "submission_id",
                "record_id",
                "form_id",
                "error_code",
                "error_text",
                "element_path",
            )
            .sort("recorded_at", "transmission", "submission_id", "record_id", nulls_last=False)
        )
        if current:
            pending = pending_corrections(store, tax_year, prod, on)
            c = pending.counts
            facts.append(
                (
                    "corrections pending",
                    f"Type 1 {c['type1']}, Type 2 {c['type2']}, voids {c['void']}"
                    + (f"; {c['held']} held back" if c["held"] else ""),
                )
            )
            facts.append(("late originals pending", f"{pending.late.height:,}"))
    for what, day in deadlines(tax_year).items():
        left = (day - on).days
        when = f"{left} days left" if left >= 0 else f"{-left} days ago"
        facts.append((what, f"{day:%a} {day.isoformat()} ({when})"))
    return result


def write_page(status: YearStatus, folder: Path) -> Path:
    """``TAX_YEAR.html`` (and the IRS errors as CSV) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{status.tax_year}.html"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>prorata status {status.tax_year}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Tax year {status.tax_year} at a glance{' — TEST filings (rehearsals)' if status.test_file else ''}</h1>",
        table(["", ""], [[escape(k), escape(v)] for k, v in status.facts], left_cols=2),
    ]
    if status.by_status is not None and status.by_status.height:
        parts.append("<h2>Records sent, by what the IRS said</h2>")
        parts.append(
            table(
                ["kind", "status", "records"],
                [[escape(k), escape(s), f"{n:,}"] for k, s, n in status.by_status.rows()],
                left_cols=2,
            )
        )
    if status.errors is not None and status.errors.height:
        status.errors.write_csv(folder / f"{status.tax_year}_irs_errors.csv")
        parts.append("<h2>Errors the IRS returned</h2>")
        parts.append(
            table(
                ["transmission", "submission", "record", "form id", "code", "text", "element"],
                [
                    [
                        escape(r["transmission"] or ""),
                        str(r["submission_id"] or ""),
                        str(r["record_id"] or ""),
                        escape(r["form_id"] or ""),
                        escape(r["error_code"]),
                        escape(r["error_text"] or ""),
                        escape(r["element_path"] or ""),
                    ]
                    for r in status.errors.head(500).to_dicts()
                ],
                left_cols=7,
            )
        )
    parts.append("</body></html>")
    tmp = page.with_name(f".{page.name}.partial")
    tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    tmp.replace(page)
    return page
