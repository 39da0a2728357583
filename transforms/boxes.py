"""Form 1099-R boxes 2a, 5 and 10 and the foreign-source part of box 2a, per disbursement.

Reporting recipes: ``docs/reference/tax-rules.md`` e.2 (Instructions for Forms 1099-R and 5498);
conventions where the instructions are silent: ``docs/spec/outputs.md``.
"""

from __future__ import annotations

import polars as pl

from transforms.allocation import RUNS, Windows
from transforms.money import mul_div_half_up

ROTH = pl.col("contract") == "roth"
DEST = pl.col("destination")
NOT_TAXED_NOW = ("rollover_ira", "rollover_plan")


def box2a_taxable_amount() -> pl.Expr:
    """Box 2a. Non-Roth money: the pre-tax part, except in a direct rollover to a traditional IRA or
    a plan, where it is 0 (i1099r: code G recipes); a direct rollover to a Roth IRA or an in-plan
    Roth rollover is taxable (i1099r 2016, qualified rollover contributions under §408A(e); IRR
    recipe). Roth money: 0 when qualified (§402A(d)(1)) and on direct rollovers (codes H and BG
    recipes); otherwise the earnings part (§402A(d)(4) with §72(e)(8)).
    """
    non_roth = pl.when(DEST.is_in(NOT_TAXED_NOW)).then(0).otherwise(pl.col("pretax_cents"))
    roth = pl.when(pl.col("roth_qualified") | (DEST != "cash")).then(0).otherwise(pl.col("pretax_cents"))
    return pl.when(ROTH).then(roth).otherwise(non_roth).cast(pl.Int64)


def box5_employee_contributions() -> pl.Expr:
    """Box 5: the basis recovered in the leg, on every kind of leg (i1099r box 5 "any basis recovery
    amount"; docs/spec/outputs.md convention where the instructions are silent: rollovers and code H).
    """
    return pl.col("basis_cents")


def box10_eligible() -> pl.Expr:
    """The legs box 10 can apply to (i1099r box 10: an in-plan Roth rollover amount is recaptured
    only on a nonqualified distribution, and box 10 stays empty on rollovers and whenever a §72(t)
    exception applies): Roth cash legs, not qualified, numeric code 1 — and never a corrective
    distribution, to which §72(t) does not apply at all (§401(k)(8)(D), §402(g)(2)(C); docs/spec/outputs.md).
    """
    return (
        ROTH
        & (DEST == "cash")
        & ~pl.col("roth_qualified")
        & (pl.col("numeric_code") == "1")
        & (pl.col("reason") != "corrective")
    )


def box10_irr_recapture(eligible: pl.Expr | None = None, w: Windows = RUNS) -> pl.Expr:
    """Box 10: amount allocable to an in-plan Roth rollover made within the 5-year period (i1099r box
    10; §402A(c)(4)(D) with §408A(d)(3)(F)); empty on rollovers and whenever a §72(t) exception
    applies (:func:`box10_eligible`). Project convention pending Notice 2010-84, Q/A-13 (tax-rules
    open question 13): the basis a nonqualified cash leg recovers is allocated first to the
    recapture amounts the event's Roth account still holds (``pool_irr_recapture_cents``), across
    its legs in ``distribution_id`` order. Needs the frame of
    :func:`transforms.allocation.sort_for_allocation` (cash legs of a pool by ``distribution_id``).
    ``eligible`` may name a column already holding :func:`box10_eligible`; ``w``: how sums over the
    pool are read (:class:`transforms.allocation.Windows`).
    """
    eligible = box10_eligible() if eligible is None else eligible
    base = pl.when(eligible).then(pl.col("basis_cents")).otherwise(0)
    before = w.before(base)
    return (pl.col("pool_irr_recapture_cents") - before).clip(0, None).clip(None, base).cast(pl.Int64)


def foreign_source_part(wide: bool = True) -> pl.Expr:
    """Foreign-source part of box 2a: ``box2a × F / U`` rounded half-up, F and U summing
    ``foreign_source_cents`` and ``value_cents − basis_cents`` over the contracts of the leg's pool
    that the event draws on (docs/spec/outputs.md; seed article 000: it lets the payee use foreign tax credits,
    §904). Bounded by box 2a; 0 where U is not positive. ``wide``: see
    :func:`transforms.money.mul_div_half_up`.
    """
    share = mul_div_half_up(
        pl.col("box2a_cents"), pl.col("pool_foreign_cents"), pl.col("pool_untaxed_cents"), wide
    )
    return share.clip(0, None).clip(None, pl.col("box2a_cents")).cast(pl.Int64)
