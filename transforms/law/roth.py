"""Designated Roth accounts (IRC §402A): the qualified-distribution test.

A designated Roth account is its own §72 contract (§402A(d)(4)); its basis recovery is computed by
:mod:`transforms.law.basis` on the Roth account alone — never pro-rated over the whole plan (seed
article 002 is wrong on this point).
"""

from __future__ import annotations

import polars as pl

from transforms.law.exceptions import is_59_half_on_payment, is_disabled, paid_because_of_death
from transforms.params import TaxParameters

NEVER_QUALIFIED_REASONS = ("corrective", "deemed_loan")


def roth_period_complete(p: TaxParameters) -> pl.Expr:
    """§402A(d)(2)(B); Reg. §1.402A-1, A-4: the 5-taxable-year period starts on 1 January of
    ``roth_first_year`` and ends after the fifth consecutive taxable year; a payment in year
    ``roth_first_year + 5`` or later is outside it.
    """
    return (
        pl.col("payment_date").dt.year().cast(pl.Int64)
        >= pl.col("roth_first_year").cast(pl.Int64) + p.roth_period_years
    )


def roth_qualified(p: TaxParameters, at_59_half: pl.Expr | None = None) -> pl.Expr:
    """§402A(d)(2)(A); Reg. §1.402A-1, A-2: a qualified distribution is made after the 5-year period
    and on or after 59½, to a beneficiary after death, or on account of disability (§72(m)(7)).
    Never qualified: corrective distributions of excess deferrals/contributions (§402A(d)(2)(C))
    and deemed distributions of failed loans (Reg. §1.402A-1, A-11; tax-rules d.3).
    ``at_59_half`` may name a column already holding :func:`is_59_half_on_payment` (faster).
    """
    at_59_half = is_59_half_on_payment(p) if at_59_half is None else at_59_half
    trigger = at_59_half | paid_because_of_death() | is_disabled()
    return (
        (pl.col("contract") == "roth")
        & roth_period_complete(p)
        & trigger
        & ~pl.col("reason").is_in(NEVER_QUALIFIED_REASONS)
    ).fill_null(False)
