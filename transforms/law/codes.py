"""Box 7 distribution codes (Instructions for Forms 1099-R and 5498, Guide to Distribution Codes).

Which code and the order of two codes follow ``docs/spec/outputs.md`` ("Which box 7 code"); every entry
produced is checked against the cited table of :mod:`transforms.law.box7`.
"""

from __future__ import annotations

import polars as pl

from transforms.law.box7 import is_valid_combination

NUMERIC_CODES = ("1", "2", "3", "4", "7")
"""The numeric codes :func:`numeric_code` gives."""


def numeric_code(
    paid_because_of_death: pl.Expr,
    is_59_half_on_payment: pl.Expr,
    is_disabled: pl.Expr,
    known_72t_exception: pl.Expr,
) -> pl.Expr:
    """The age/exception code, first match wins (i1099r codes 4, 7, 3, 2, 1; docs/spec/outputs.md):
    4 death; 7 at 59½ or older; 3 disabled; 2 a §72(t) exception is known; otherwise 1.
    """
    return (
        pl.when(paid_because_of_death)
        .then(pl.lit("4"))
        .when(is_59_half_on_payment)
        .then(pl.lit("7"))
        .when(is_disabled)
        .then(pl.lit("3"))
        .when(known_72t_exception)
        .then(pl.lit("2"))
        .otherwise(pl.lit("1"))
    )


def corrective_in_payment_year(corrective_taxable_year: pl.Expr, payment_date: pl.Expr) -> pl.Expr:
    """A corrective distribution taxable in the year it is paid (i1099r codes 8 and P; Pub 575
    (2010), corrective distributions): true or false on every leg."""
    return (corrective_taxable_year == payment_date.dt.year()).fill_null(False)


def corrective_code(corrective_in_payment_year: pl.Expr) -> pl.Expr:
    """Code 8 when the corrective amount is taxable in the payment year, P for the year before
    (i1099r codes 8 and P; Pub 575 (2010), corrective distributions).
    """
    return pl.when(corrective_in_payment_year).then(pl.lit("8")).otherwise(pl.lit("P"))


def _corrective_codes(death_prefix: pl.Expr, roth: pl.Expr, code: pl.Expr) -> pl.Expr:
    """A corrective distribution of excess deferrals, excess contributions or excess aggregate
    contributions: 8 or P by its taxable year (:func:`corrective_code`), alone — §72(t) does not
    apply to them (§401(k)(8)(D), §401(m)(7)(A), §402(g)(2)(C)), so no 1, 2 or 3 — with 4 for a
    beneficiary (``death_prefix``), B for designated Roth money: 8B, BP (docs/spec/outputs.md, "Which box 7
    code"). A beneficiary's Roth corrective distribution needs 4, 8 (or P) and B: three codes."""
    roth_code = pl.when(code == "8").then(pl.lit("8B")).otherwise(pl.lit("BP"))
    return death_prefix + pl.when(roth).then(roth_code).otherwise(code)


def qualified_plan_loan_offset(reason: pl.Expr, tax_year: int, code_m_first_tax_year: int) -> pl.Expr:
    """A qualified plan loan offset, coded M (i1099r code M; IRC §402(c)(3)(C), added by TCJA
    §13613 for offsets treated as distributed in taxable years beginning after 31 Dec 2017). Before
    ``code_m_first_tax_year`` there is no such offset and no code M: a loan offset is reported "as you
    would any other actual distribution" (i1099r, plan loan offsets), so false in every earlier year."""
    return (reason == "qualified_loan_offset") & pl.lit(tax_year >= code_m_first_tax_year)


def distribution_codes(
    numeric_code: pl.Expr,
    paid_because_of_death: pl.Expr,
    contract: pl.Expr,
    destination: pl.Expr,
    reason: pl.Expr,
    corrective_code: pl.Expr,
    qualified_plan_loan_offset: pl.Expr,
) -> pl.Expr:
    """Box 7 for one disbursement, in the canonical order (a digit before a letter, otherwise
    ascending). i1099r: G direct rollover (4G for a beneficiary); H designated Roth account to a
    Roth IRA (4H); B with G for a Roth-to-Roth-account rollover; B with the numeric code for other
    Roth money (2 for 3, B is not paired with 3, Table 1); M qualified plan loan offset (from 2018,
    :func:`qualified_plan_loan_offset`), L deemed loan (Roth: BM, BL; 2 for 3 beside them too);
    corrective distributions 8 or P alone, with 4 and B as they apply. A case needing three codes gives ``"4BG"`` or ``"48B"``, which
    :func:`needs_three_codes` flags for quarantine.
    """
    roth = contract == "roth"
    # Table 1 pairs 3 only with D: for a disabled participant, 2 (an exception applies) stands in
    # for 3 beside M, L and B — the convention docs/spec/outputs.md states for B, extended to M and L.
    num_not_3 = pl.when(numeric_code == "3").then(pl.lit("2")).otherwise(numeric_code)
    non_roth_cash = (
        pl.when(qualified_plan_loan_offset)
        .then(num_not_3 + "M")
        .when(reason == "deemed_loan")
        .then(num_not_3 + "L")
        .otherwise(numeric_code)
    )
    roth_cash = (
        pl.when(qualified_plan_loan_offset)
        .then(pl.lit("BM"))
        .when(reason == "deemed_loan")
        .then(pl.lit("BL"))
        .otherwise(num_not_3 + "B")
    )
    death_prefix = pl.when(paid_because_of_death).then(pl.lit("4")).otherwise(pl.lit(""))
    return (
        pl.when(roth & (destination == "rollover_roth_ira"))
        .then(death_prefix + "H")
        .when(roth & (destination == "rollover_roth_plan"))
        .then(death_prefix + "BG")
        .when(destination != "cash")
        .then(death_prefix + "G")
        .when(reason == "corrective")
        .then(_corrective_codes(death_prefix, roth, corrective_code))
        .when(roth)
        .then(roth_cash)
        .otherwise(non_roth_cash)
    )


def needs_three_codes(distribution_codes: pl.Expr) -> pl.Expr:
    """More than two codes would be needed; box 7 takes at most two (i1099r 2023: "Enter a maximum
    of two alphanumeric codes"). Such rows are quarantined under ``codes_over_two`` (docs/spec/outputs.md).
    """
    return distribution_codes.str.len_chars() > 2


def codes_are_valid(distribution_codes: pl.Expr, tax_year: int) -> pl.Expr:
    """The entry is a single code or a pair that Table 1 of i1099r allows, among the codes in use
    in ``tax_year`` (:mod:`transforms.law.box7`)."""
    return is_valid_combination(distribution_codes, tax_year)
