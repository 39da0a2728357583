"""Dated tax parameters, resolved once per tax year.

The values live in ``parameters.toml`` beside this module, each with a unit, an effective date and
its authority. A rule never hard-codes a number the law sets: it receives a :class:`TaxParameters`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

PARAMETERS_FILE = Path(__file__).with_name("parameters.toml")


@cache
def _entries() -> dict[str, list[dict]]:
    with PARAMETERS_FILE.open("rb") as fh:
        raw = tomllib.load(fh)
    return {name: sorted(entries, key=lambda e: e["from"]) for name, entries in raw.items()}


def parameter(name: str, tax_year: int):
    """The value of parameter ``name`` in force on 1 January of ``tax_year``."""
    start = date(tax_year, 1, 1).isoformat()
    applicable = [e for e in _entries()[name] if e["from"] <= start]
    if not applicable:
        raise KeyError(f"parameter {name!r} has no value for tax year {tax_year}")
    return applicable[-1]["value"]


@dataclass(frozen=True)
class TaxParameters:
    """Every parameter the rules read, for one tax year."""

    tax_year: int
    age_59_half_months: int
    separation_age: int
    public_safety_separation_age: int
    roth_period_years: int
    filing_threshold_cents: int
    eligible_rollover_withholding_rate_pct: int
    nonperiodic_withholding_rate_pct: int
    withholding_de_minimis_cents: int
    fire_last_tax_year: int
    fire_last_transmission_date: date
    cfsf_state_codes: tuple[tuple[str, str], ...]  # CF/SF states (USPS code, Pub 1220 numeric code)

    @classmethod
    def for_year(cls, tax_year: int) -> TaxParameters:
        names = [f for f in cls.__dataclass_fields__ if f != "tax_year"]
        return cls(tax_year=tax_year, **{n: _hashable(parameter(n, tax_year)) for n in names})


def _hashable(value):
    """A table (TOML inline table) as sorted (key, value) pairs: parameters are hashed (caches)."""
    return tuple(sorted(value.items())) if isinstance(value, dict) else value


def all_parameters() -> dict[str, list[dict]]:
    """Every dated entry, for documentation and meta-tests."""
    return _entries()
