"""The store's history: who did what to a tax year, and when (docs/OPERATIONS.md, "History").

``STORE/ytd/TAX_YEAR/events/`` is an append-only Delta table, one row per step: an extract ingested,
a filing prepared, approved or discarded, an acknowledgement recorded. Each row names the step
(``action``), the person (``actor``: the user name given, else the operating-system user), the time
(``at``, UTC), the filing or extract it concerns, whether it is a TEST filing, and a JSON ``detail``
of ids and counts — never a TIN, name, address or birth date. Delta keeps every version of the
table, so the history itself cannot be rewritten without leaving a trace in ``_delta_log``.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime

import polars as pl

from flows.io import store as st

EVENT_SCHEMA = {
    "event_seq": pl.Int64,
    "at": pl.String,
    "action": pl.String,
    "actor": pl.String,
    "filing_id": pl.String,
    "extract_id": pl.String,
    "test_file": pl.Boolean,
    "detail": pl.String,
}


def now() -> str:
    """The time of a step: UTC, to the second, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def actor(given: str | None = None) -> str:
    """Who does the step: the user name given (``--user``), else the operating-system user."""
    name = (given or "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a container, say
        return "unknown"


def same_person(a: str, b: str) -> bool:
    """Two user names name one person: compared without case and surrounding spaces."""
    return a.strip().casefold() == b.strip().casefold()


def events(store: st.Store, tax_year: int) -> pl.DataFrame:
    """The year's history in order."""
    return st.read_delta(store.table(tax_year, "events"), EVENT_SCHEMA).sort("event_seq")


def record(
    store: st.Store,
    tax_year: int,
    action: str,
    who: str,
    *,
    filing_id: str | None = None,
    extract_id: str | None = None,
    test_file: bool | None = None,
    detail: dict | None = None,
    at: str | None = None,
) -> None:
    """Append one step to the year's history (one Delta commit). Call it holding the store lock."""
    known = events(store, tax_year)
    seq = int(known["event_seq"].max()) + 1 if known.height else 1
    row = pl.DataFrame(
        {
            "event_seq": [seq],
            "at": [at or now()],
            "action": [action],
            "actor": [who],
            "filing_id": [filing_id],
            "extract_id": [extract_id],
            "test_file": [test_file],
            "detail": [json.dumps(detail or {}, sort_keys=True)],
        },
        schema=EVENT_SCHEMA,
    )
    st.append_delta(row, store.table(tax_year, "events"))


def filing_states(history: pl.DataFrame) -> pl.DataFrame:
    """(filing_id, state, by, at, test_file): each filing's latest prepare / approve / discard step."""
    steps = {"prepare": "prepared", "approve": "approved", "discard": "discarded"}
    return (
        history.filter(pl.col("action").is_in(list(steps)) & pl.col("filing_id").is_not_null())
        .sort("event_seq")
        .group_by("filing_id", maintain_order=True)
        .last()
        .select(
            "filing_id",
            pl.col("action").replace_strict(steps).alias("state"),
            pl.col("actor").alias("by"),
            "at",
            "test_file",
        )
    )


def text(history: pl.DataFrame) -> list[str]:
    """One line per step, for ``prorata history``."""
    lines = []
    for row in history.to_dicts():
        what = row["filing_id"] or row["extract_id"] or ""
        test = " [TEST FILE]" if row["test_file"] else ""
        detail = json.loads(row["detail"] or "{}")
        extra = ", ".join(f"{k} {v}" for k, v in detail.items() if not isinstance(v, dict | list))
        lines.append(
            f"{row['event_seq']:>4}  {row['at']}  {row['action']:<12} {row['actor']:<16} {what}{test}"
            + (f"  ({extra})" if extra else "")
        )
    return lines
