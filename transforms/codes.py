"""Box 7 distribution codes (Instructions for Forms 1099-R and 5498, Guide to Distribution Codes).

Which code and the order of two codes follow ``docs/spec/outputs.md`` ("Which box 7 code");
every entry produced is checked against the cited table of :mod:`transforms.box7`.
"""

from __future__ import annotations

import functools

import polars as pl

from transforms.box7 import is_valid_combination
from transforms.exceptions import (
    is_59_half_on_payment,
    is_disabled,
    known_72t_exception,
    paid_because_of_death,
)
from transforms.lookup import position_in
from transforms.params import TaxParameters

ROTH = pl.col("contract") == "roth"
DEST = pl.col("destination")
REASON = pl.col("reason")


NUMERIC_CODES = ("1", "2", "3", "4", "7")
"""The numeric codes :func:`numeric_code` gives."""


def numeric_code(
    p: TaxParameters, at_59_half: pl.Expr | None = None, in_year_of_age: pl.Expr | None = None
) -> pl.Expr:
    """The age/exception code, first match wins (i1099r codes 4, 7, 3, 2, 1; docs/spec/outputs.md):
    4 death; 7 at 59½ or older; 3 disabled; 2 a §72(t) exception is known; otherwise 1.
    ``at_59_half`` may name a column already holding :func:`is_59_half_on_payment`, and
    ``in_year_of_age`` one holding :func:`transforms.exceptions.separation_in_year_of_age` (faster).
    """
    at_59_half = is_59_half_on_payment(p) if at_59_half is None else at_59_half
    return (
        pl.when(paid_because_of_death())
        .then(pl.lit("4"))
        .when(at_59_half)
        .then(pl.lit("7"))
        .when(is_disabled())
        .then(pl.lit("3"))
        .when(known_72t_exception(p, in_year_of_age))
        .then(pl.lit("2"))
        .otherwise(pl.lit("1"))
    )


def corrective_code() -> pl.Expr:
    """Code 8 when the corrective amount is taxable in the payment year, P for the year before
    (i1099r codes 8 and P; Pub 575 (2010), corrective distributions).
    """
    return (
        pl.when(pl.col("corrective_taxable_year") == pl.col("payment_date").dt.year())
        .then(pl.lit("8"))
        .otherwise(pl.lit("P"))
    )


def distribution_codes(p: TaxParameters, num: pl.Expr | None = None, death: pl.Expr | None = None) -> pl.Expr:
    """Box 7 for one disbursement, in the canonical order (a digit before a letter, otherwise
    ascending). i1099r: G direct rollover (4G for a beneficiary); H designated Roth account to a
    Roth IRA (4H); B with G for a Roth-to-Roth-account rollover; B with the numeric code for other
    Roth money (2 for 3, B is not paired with 3, Table 1); M qualified plan loan offset, L deemed
    loan (Roth: BM, BL; 2 for 3 beside them too); corrective distributions (:func:`corrective_codes`).
    A case needing three codes gives ``"4BG"`` or ``"48B"``, which :func:`needs_three_codes` flags for
    quarantine. ``num`` and ``death`` may name columns already holding :func:`numeric_code` and
    ``paid_because_of_death`` (faster).
    """
    num = numeric_code(p) if num is None else num
    death = paid_because_of_death() if death is None else death
    # Table 1 pairs 3 only with D: for a disabled participant, 2 (an exception applies) stands in
    # for 3 beside M, L and B — the convention docs/spec/outputs.md states for B, extended to M and L.
    num_not_3 = pl.when(num == "3").then(pl.lit("2")).otherwise(num)
    non_roth_cash = (
        pl.when(REASON == "qualified_loan_offset")
        .then(num_not_3 + "M")
        .when(REASON == "deemed_loan")
        .then(num_not_3 + "L")
        .otherwise(num)
    )
    roth_cash = (
        pl.when(REASON == "qualified_loan_offset")
        .then(pl.lit("BM"))
        .when(REASON == "deemed_loan")
        .then(pl.lit("BL"))
        .otherwise(num_not_3 + "B")
    )
    death_prefix = pl.when(death).then(pl.lit("4")).otherwise(pl.lit(""))
    return (
        pl.when(ROTH & (DEST == "rollover_roth_ira"))
        .then(death_prefix + "H")
        .when(ROTH & (DEST == "rollover_roth_plan"))
        .then(death_prefix + "BG")
        .when(DEST != "cash")
        .then(death_prefix + "G")
        .when(REASON == "corrective")
        .then(corrective_codes(death_prefix))
        .when(ROTH)
        .then(roth_cash)
        .otherwise(non_roth_cash)
    )


def corrective_codes(death_prefix: pl.Expr) -> pl.Expr:
    """A corrective distribution of excess deferrals, excess contributions or excess aggregate
    contributions: 8 or P by its taxable year (:func:`corrective_code`), alone — §72(t) does not
    apply to them (§401(k)(8)(D), §401(m)(7)(A), §402(g)(2)(C)), so no 1, 2 or 3 — with 4 for a
    beneficiary (``death_prefix``), B for designated Roth money: 8B, BP (docs/spec/outputs.md, "Which box 7
    code"). A beneficiary's Roth corrective distribution needs 4, 8 (or P) and B: three codes."""
    code = corrective_code()
    roth = pl.when(code == "8").then(pl.lit("8B")).otherwise(pl.lit("BP"))
    return death_prefix + pl.when(ROTH).then(roth).otherwise(code)


CODE_INPUTS = ("numeric_code", "_death", "contract", "destination", "reason", "_corrective_8")
TABLE_ROWS = 100_000  # at most this many combinations are tabulated (validated extracts: under 10,000)


def corrective_in_payment_year() -> pl.Expr:
    """The leg's corrective code is 8 rather than P (i1099r codes 8 and P): true or false on every
    leg, the one fact :func:`corrective_code` reads: the year compared without building the code."""
    return (pl.col("corrective_taxable_year") == pl.col("payment_date").dt.year()).fill_null(False)


def _domain(legs: pl.DataFrame, column: str) -> pl.Series:
    """The values of ``column`` to tabulate: ``[False, True, None]`` for a flag, otherwise the
    values present (sorted), with ``None`` last when the column has nulls."""
    series = legs.get_column(column)
    if series.dtype == pl.Boolean:
        return pl.Series(column, [False, True, None], pl.Boolean)
    values = series.drop_nulls().unique().sort()
    return values.extend(pl.Series(column, [None], values.dtype)) if series.null_count() else values


def _index(column: str, domain: pl.Series) -> pl.Expr:
    """Position of each leg's value in ``domain`` (see :func:`_domain`)."""
    col = pl.col(column)
    if domain.dtype == pl.Boolean:
        index = col.cast(pl.UInt64)
    else:
        index = col.cast(pl.String).cast(pl.Enum(domain.drop_nulls().cast(pl.String))).to_physical()
    return index.cast(pl.UInt64).fill_null(domain.len() - 1)


def _domain_and_index(
    legs: pl.DataFrame, column: str, known: tuple[str, ...] | None
) -> tuple[pl.Series, pl.Series]:
    """:func:`_domain` and :func:`_index` of ``column``. With ``known`` (the values the spec lists
    for a text column), the domain is that list with ``None`` last, provided every value is one of
    them: the positions come from one cast, with no scan for the values present."""
    series = legs.get_column(column)
    if known is not None and series.dtype == pl.String:
        listed = position_in(series, known)
        if listed.null_count() == series.null_count():
            index = listed.cast(pl.UInt64).fill_null(len(known))
            return pl.Series(column, [*known, None], pl.String), index
    domain = _domain(legs, column)
    return domain, legs.select(_index(column, domain)).to_series()


def code_table(p: TaxParameters, domains: dict[str, pl.Series]) -> pl.DataFrame:
    """Box 7 for every combination of the :data:`CODE_INPUTS` values in ``domains``, coded by
    :func:`distribution_codes` itself (docs/spec/outputs.md, "Which box 7 code"): a few thousand rows at most,
    however many legs, in the order of the combinations (the last input varies fastest).
    ``_corrective_8`` rows carry a payment date and a corrective year for which
    :func:`corrective_code` gives 8 (true) or P (false, or null)."""
    table = pl.DataFrame({"_i": [0]})
    for column in CODE_INPUTS:
        table = table.join(domains[column].to_frame(), how="cross")
    table = table.drop("_i").with_columns(
        pl.date(2000, 6, 1).alias("payment_date"),
        pl.when(pl.col("_corrective_8"))
        .then(2000)
        .otherwise(1999)
        .cast(pl.Int64)
        .alias("corrective_taxable_year"),
    )
    return table.select(
        *CODE_INPUTS,
        distribution_codes(p, pl.col("numeric_code"), pl.col("_death")).alias("distribution_codes"),
    )


def distribution_codes_by_table(
    p: TaxParameters, legs: pl.DataFrame, known: dict[str, tuple[str, ...]] | None = None
) -> pl.DataFrame:
    """:func:`distribution_codes` for every leg (docs/spec/outputs.md), read from :func:`code_table` at the
    position of the leg's combination of inputs: the same strings, without building them leg by
    leg; and ``_codes_bad``, true where the entry cannot be reported (:func:`needs_three_codes` or
    not :func:`codes_are_valid`). ``legs`` holds the :data:`CODE_INPUTS` columns; ``known`` may
    list the values a text column can take (the spec's lists; :func:`_domain`): no scan for the
    values present."""
    known = known or {}
    indexed = {column: _domain_and_index(legs, column, known.get(column)) for column in CODE_INPUTS}
    domains = {column: domain for column, (domain, _) in indexed.items()}
    combinations = 1
    for domain in domains.values():
        combinations *= domain.len()
    if combinations > max(TABLE_ROWS, legs.height):  # unvalidated values: build the strings leg by leg
        return legs.select(
            distribution_codes(p, pl.col("numeric_code"), pl.col("_death")).alias("distribution_codes")
        ).with_columns((needs_three_codes() | ~codes_are_valid(p.tax_year)).alias("_codes_bad"))
    position = pl.lit(0, pl.UInt64)
    for column in CODE_INPUTS:
        position = position * domains[column].len() + pl.lit(indexed[column][1])
    at = pl.select(position.alias("_at")).get_column("_at")
    key = tuple((column, tuple(domain.to_list())) for column, domain in domains.items())
    return _coded_table(p, key)[at]


@functools.lru_cache(maxsize=16)
def _coded_table(p: TaxParameters, key: tuple[tuple[str, tuple], ...]) -> pl.DataFrame:
    """:func:`code_table` of the domains ``key`` (column, values) with ``_codes_bad``: the same
    few thousand rows for every batch and run of a tax year, so built once."""
    domains = {column: pl.Series(column, values) for column, values in key}
    return code_table(p, domains).select(
        "distribution_codes", (needs_three_codes() | ~codes_are_valid(p.tax_year)).alias("_codes_bad")
    )


def needs_three_codes() -> pl.Expr:
    """More than two codes would be needed; box 7 takes at most two (i1099r 2023: "Enter a maximum
    of two alphanumeric codes"). Such rows are quarantined under ``codes_over_two`` (docs/spec/outputs.md).
    """
    return pl.col("distribution_codes").str.len_chars() > 2


def codes_are_valid(tax_year: int | None = None) -> pl.Expr:
    """The entry is a single code or a pair that Table 1 of i1099r allows, among the codes in use
    in ``tax_year`` (:mod:`transforms.box7`)."""
    return is_valid_combination(pl.col("distribution_codes"), tax_year)
