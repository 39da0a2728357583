"""Designated Roth accounts (IRC §402A): the qualified-distribution test.

A designated Roth account is its own §72 contract (§402A(d)(4)); its basis recovery is computed by
:mod:`transforms.law.basis` on the Roth account alone — never pro-rated over the whole plan (seed
article 002 is wrong on this point).
"""

from __future__ import annotations

import polars as pl

NEVER_QUALIFIED_REASONS = ("corrective", "deemed_loan")


def roth_period_complete(payment_date: pl.Expr, roth_first_year: pl.Expr, roth_period_years: int) -> pl.Expr:
    """§402A(d)(2)(B); Reg. §1.402A-1, A-4: the 5-taxable-year period starts on 1 January of
    ``roth_first_year`` and ends after the fifth consecutive taxable year; a payment in year
    ``roth_first_year + 5`` or later is outside it. False without a first year.
    """
    started = roth_first_year.cast(pl.Int64) + roth_period_years
    return (payment_date.dt.year().cast(pl.Int64) >= started).fill_null(False)


def roth_qualified(
    contract: pl.Expr,
    roth_period_complete: pl.Expr,
    is_59_half_on_payment: pl.Expr,
    paid_because_of_death: pl.Expr,
    is_disabled: pl.Expr,
    reason: pl.Expr,
) -> pl.Expr:
    """§402A(d)(2)(A); Reg. §1.402A-1, A-2: a qualified distribution is made after the 5-year period
    and on or after 59½, to a beneficiary after death, or on account of disability (§72(m)(7)).
    Never qualified: corrective distributions of excess deferrals/contributions (§402A(d)(2)(C))
    and deemed distributions of failed loans (Reg. §1.402A-1, A-11; tax-rules d.3).
    """
    trigger = is_59_half_on_payment | paid_because_of_death | is_disabled
    return (
        (contract == "roth") & roth_period_complete & trigger & ~reason.is_in(NEVER_QUALIFIED_REASONS)
    ).fill_null(False)
