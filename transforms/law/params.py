"""Dated tax parameters, resolved once per tax year.

The values live in ``parameters.toml`` beside this module, each with a unit, an effective date and
its authority. A rule never hard-codes a number the law sets: it receives a :class:`TaxParameters`.

A parameter resolves to the entry in force on 1 January of the tax year. An entry that starts later
in the year (the §72(t)(10) age of 50, from 18 August 2006) is kept in :attr:`TaxParameters.changes`
with its date: the rules that read such a parameter read it per payment date
(:meth:`TaxParameters.on_payment_date`, :data:`READ_PER_PAYMENT`); before its first entry a
parameter is not in force (``None``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

PARAMETERS_FILE = Path(__file__).with_name("parameters.toml")
LAST_TAX_YEAR = 2100
"""The last tax year a manifest may name: no rule prorata applies is known to end (a bound, not law)."""
READ_PER_PAYMENT = frozenset({"public_safety_separation_age"})
"""The parameters the rules read per payment date, so that one may start or change within a year;
any other parameter holds one value for the whole tax year (``tests/meta/test_meta.py`` checks it)."""


@cache
def _entries() -> dict[str, list[dict]]:
    with PARAMETERS_FILE.open("rb") as fh:
        raw = tomllib.load(fh)
    return {name: sorted(entries, key=lambda e: e["from"]) for name, entries in raw.items()}


def resolve(name: str, tax_year: int) -> tuple[Any, tuple[tuple[date, Any], ...]]:
    """The value of parameter ``name`` in force on 1 January of ``tax_year`` (``None`` when its
    first entry starts later in the year), and the (date, value) entries that start within the year.
    ``KeyError`` when no entry is in force at any time of the year."""
    first, last = date(tax_year, 1, 1).isoformat(), date(tax_year, 12, 31).isoformat()
    entries = _entries()[name]
    before = [e for e in entries if e["from"] <= first]
    within = tuple((date.fromisoformat(e["from"]), e["value"]) for e in entries if first < e["from"] <= last)
    if not before and not within:
        raise KeyError(f"parameter {name!r} has no value for tax year {tax_year}")
    return (before[-1]["value"] if before else None), within


def parameter(name: str, tax_year: int):
    """The value of parameter ``name`` in force on 1 January of ``tax_year`` (``None`` when it
    starts later in the year)."""
    return resolve(name, tax_year)[0]


@dataclass(frozen=True)
class TaxParameters:
    """Every parameter the rules read, for one tax year, as in force on 1 January; ``changes``: the
    entries that start later in the year, as (name, date, value)."""

    tax_year: int
    age_59_half_months: int
    separation_age: int
    public_safety_separation_age: int | None
    designated_roth_first_year: int
    roth_period_years: int
    roth_pretax_first_to_direct_rollovers: bool
    filing_threshold_cents: int
    eligible_rollover_withholding_rate_pct: int
    withholding_de_minimis_cents: int
    early_distribution_tax_rate_pct: int
    fire_last_tax_year: int
    fire_last_transmission_date: date
    code_m_first_tax_year: int
    code_y_first_tax_year: int
    ten_year_option_born_before: date
    recipient_statement_due: str
    irs_electronic_filing_due: str
    cfsf_state_codes: tuple[tuple[str, str], ...]  # CF/SF states (USPS code, Pub 1220 numeric code)
    changes: tuple[tuple[str, date, Any], ...] = ()

    @classmethod
    def for_year(cls, tax_year: int) -> TaxParameters:
        names = [f for f in cls.__dataclass_fields__ if f not in ("tax_year", "changes")]
        values, changes = {}, []
        for name in names:
            value, within = resolve(name, tax_year)
            values[name] = _hashable(value)
            changes += [(name, day, _hashable(later)) for day, later in within]
        return cls(tax_year=tax_year, changes=tuple(changes), **values)

    def changes_of(self, name: str) -> tuple[tuple[date, Any], ...]:
        """The (date, value) entries of ``name`` that start within the tax year."""
        return tuple((day, value) for n, day, value in self.changes if n == name)

    def on_payment_date(self, name: str, payment_date: pl.Expr | None = None) -> pl.Expr:
        """The value of ``name`` in force on each payment date (``payment_date``, default the
        column): the 1 January value, replaced from the date of each entry that starts within the
        year; null where the parameter is not yet in force."""
        day = pl.col("payment_date") if payment_date is None else payment_date
        value = pl.lit(getattr(self, name))
        for start, later in self.changes_of(name):
            value = pl.when(day >= pl.lit(start)).then(pl.lit(later)).otherwise(value)
        return value


@cache
def supported_tax_years() -> range:
    """The tax years prorata computes: from the first year in which every parameter is in force at
    some time of the year (2006, the first year of designated Roth accounts, §402A; and of the
    §72(t)(10) age of 50, from 18 August) to :data:`LAST_TAX_YEAR`."""
    first = LAST_TAX_YEAR + 1
    for year in range(LAST_TAX_YEAR, 1900, -1):
        try:
            TaxParameters.for_year(year)
        except KeyError:
            break
        first = year
    return range(first, LAST_TAX_YEAR + 1)


def _hashable(value):
    """A table (TOML inline table) as sorted (key, value) pairs: parameters are hashed (caches)."""
    return tuple(sorted(value.items())) if isinstance(value, dict) else value


def all_parameters() -> dict[str, list[dict]]:
    """Every dated entry, for documentation and meta-tests."""
    return _entries()
