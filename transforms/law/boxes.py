"""Form 1099-R boxes 2a, 5 and 10 and the foreign-source part of box 2a, per disbursement.

Reporting recipes: ``docs/reference/tax-rules.md`` e.2 (Instructions for Forms 1099-R and 5498); conventions where
the instructions are silent: ``docs/spec/outputs.md``.
"""

from __future__ import annotations

import polars as pl

from transforms.law.money import mul_div_half_up, multiplies_amounts
from transforms.law.scopes import Sum, over_earlier_in_pool, over_event, over_pool

NOT_TAXED_NOW = ("rollover_ira", "rollover_plan")


def box2a_cents(
    contract: pl.Expr, destination: pl.Expr, pretax_cents: pl.Expr, roth_qualified: pl.Expr
) -> pl.Expr:
    """Box 2a, taxable amount. Non-Roth money: the pre-tax part, except in a direct rollover to a
    traditional IRA or a plan, where it is 0 (i1099r: code G recipes); a direct rollover to a Roth
    IRA or an in-plan Roth rollover is taxable (i1099r 2016, qualified rollover contributions under
    §408A(e); IRR recipe). Roth money: 0 when qualified (§402A(d)(1)) and on direct rollovers (codes
    H and BG recipes); otherwise the earnings part (§402A(d)(4) with §72(e)(8)).
    """
    non_roth = pl.when(destination.is_in(NOT_TAXED_NOW)).then(0).otherwise(pretax_cents)
    roth = pl.when(roth_qualified | (destination != "cash")).then(0).otherwise(pretax_cents)
    return pl.when(contract == "roth").then(roth).otherwise(non_roth).cast(pl.Int64)


def box5_cents(basis_cents: pl.Expr) -> pl.Expr:
    """Box 5, employee contributions: the basis recovered in the leg, on every kind of leg (i1099r
    box 5 "any basis recovery amount"; docs/spec/outputs.md convention where the instructions are silent:
    rollovers and code H).
    """
    return basis_cents


def event_amount_cents(amount_cents: pl.Expr) -> Sum:
    """What the event pays in all, every leg of it: one distribution (Notice 2014-54, §III)."""
    return over_event(amount_cents)


def kept_in_plan_cents(destination: pl.Expr, amount_cents: pl.Expr) -> pl.Expr:
    """The leg's amount if it stays in the participant's account — an in-plan Roth rollover moves it
    to the designated Roth account of the same plan (IRC §402A(c)(4); Notice 2010-84) — else 0."""
    return pl.when(destination == "in_plan_roth_rollover").then(amount_cents).otherwise(0)


def event_kept_in_plan_cents(kept_in_plan_cents: pl.Expr) -> Sum:
    """What the event's in-plan Roth rollovers keep in the account, every leg of the event (i1099r box
    2b; IRC §402A(c)(4))."""
    return over_event(kept_in_plan_cents)


def closes(event_amount_cents: pl.Expr, held_cents: pl.Expr, event_kept_in_plan_cents: pl.Expr) -> pl.Expr:
    """The event pays out the whole balance of the account (i1099r box 2b "Total distribution": the
    entire balance of the account is distributed; docs/spec/outputs.md): it draws every contract the
    payee holds down to zero — each draw is at most its contract's value (docs/spec/extract.md), so
    exactly when the event's total equals the total value of its contract rows (``held_cents``) —
    and none of it stays in the plan by an in-plan Roth rollover (:func:`kept_in_plan_cents`), which
    leaves the money in the account's designated Roth part even when there was none before."""
    return ((event_amount_cents == held_cents) & (event_kept_in_plan_cents == 0)).fill_null(False)


def box10_eligible(
    contract: pl.Expr,
    destination: pl.Expr,
    roth_qualified: pl.Expr,
    numeric_code: pl.Expr,
    reason: pl.Expr,
) -> pl.Expr:
    """The legs box 10 can apply to (i1099r box 10: an in-plan Roth rollover amount is recaptured
    only on a nonqualified distribution, and box 10 stays empty on rollovers and whenever a §72(t)
    exception applies): Roth cash legs, not qualified, numeric code 1 — and never a corrective
    distribution, to which §72(t) does not apply at all (§401(k)(8)(D), §402(g)(2)(C); docs/spec/outputs.md).
    """
    return (
        (contract == "roth")
        & (destination == "cash")
        & ~roth_qualified
        & (numeric_code == "1")
        & (reason != "corrective")
    )


def pool_irr_recapture_part_cents(first_of_contract: pl.Expr, irr_recapture_cents: pl.Expr) -> pl.Expr:
    """What the leg's contract adds to its pool's recapture amounts, once per contract the event
    draws on (i1099r box 10; §402A(c)(4)(D))."""
    return pl.when(first_of_contract).then(irr_recapture_cents).otherwise(0)


def pool_irr_recapture_cents(pool_irr_recapture_part_cents: pl.Expr) -> Sum:
    """The in-plan Roth rollover amounts still within their 5-year period that the event's Roth
    pool holds (i1099r box 10; §402A(c)(4)(D) with §408A(d)(3)(F))."""
    return over_pool(pool_irr_recapture_part_cents)


def box10_base_cents(box10_eligible: pl.Expr, basis_cents: pl.Expr) -> pl.Expr:
    """The basis a leg box 10 applies to recovers (:func:`box10_eligible`), else 0 (i1099r box 10;
    project convention pending Notice 2010-84, Q/A-13)."""
    return pl.when(box10_eligible).then(basis_cents).otherwise(0)


def box10_base_before_cents(box10_base_cents: pl.Expr) -> Sum:
    """The basis the pool's earlier legs recover that box 10 applies to, in ``distribution_id``
    order (i1099r box 10; Notice 2010-84, Q/A-13 convention)."""
    return over_earlier_in_pool(box10_base_cents)


def box10_cents(
    pool_irr_recapture_cents: pl.Expr, box10_base_before_cents: pl.Expr, box10_base_cents: pl.Expr
) -> pl.Expr:
    """Box 10: amount allocable to an in-plan Roth rollover made within the 5-year period (i1099r box
    10; §402A(c)(4)(D) with §408A(d)(3)(F)); empty on rollovers and whenever a §72(t) exception
    applies (:func:`box10_eligible`). Project convention pending Notice 2010-84, Q/A-13 (tax-rules
    open question 13): the basis a nonqualified cash leg recovers is allocated first to the
    recapture amounts the event's Roth account still holds, across its legs in ``distribution_id``
    order.
    """
    left = (pool_irr_recapture_cents - box10_base_before_cents).clip(0, None)
    return left.clip(None, box10_base_cents).cast(pl.Int64)


def pool_foreign_part_cents(first_of_contract: pl.Expr, contract_foreign_cents: pl.Expr) -> pl.Expr:
    """What the leg's contract adds to its pool's foreign-source amounts, once per contract the
    event draws on (docs/spec/outputs.md foreign-source formula)."""
    return pl.when(first_of_contract).then(contract_foreign_cents).otherwise(0)


def pool_foreign_cents(pool_foreign_part_cents: pl.Expr) -> Sum:
    """F: the foreign-source amounts of the contracts of the leg's pool that the event draws on
    (docs/spec/outputs.md foreign-source formula)."""
    return over_pool(pool_foreign_part_cents)


def pool_untaxed_part_cents(
    first_of_contract: pl.Expr, value_cents: pl.Expr, contract_basis_cents: pl.Expr
) -> pl.Expr:
    """What the leg's contract adds to its pool's untaxed value, once per contract the event draws
    on: value less basis (docs/spec/outputs.md foreign-source formula)."""
    return pl.when(first_of_contract).then(value_cents - contract_basis_cents).otherwise(0)


def pool_untaxed_cents(pool_untaxed_part_cents: pl.Expr) -> Sum:
    """U: the untaxed value of the contracts of the leg's pool that the event draws on (docs/spec/outputs.md
    foreign-source formula)."""
    return over_pool(pool_untaxed_part_cents)


@multiplies_amounts
def foreign_source_cents(
    box2a_cents: pl.Expr, pool_foreign_cents: pl.Expr, pool_untaxed_cents: pl.Expr
) -> pl.Expr:
    """Foreign-source part of box 2a: ``box2a × F / U`` rounded half-up, F and U summing
    ``foreign_source_cents`` and ``value_cents − basis_cents`` over the contracts of the leg's pool
    that the event draws on (docs/spec/outputs.md; seed article 000: it lets the payee use foreign tax
    credits, §904). Bounded by box 2a; 0 where U is not positive.
    """
    share = mul_div_half_up(box2a_cents, pool_foreign_cents, pool_untaxed_cents)
    return share.clip(0, None).clip(None, box2a_cents).cast(pl.Int64)
