"""Notice 2014-54: one distribution, several destinations — pre-tax money goes first to direct rollovers.

All disbursements of an event are a single distribution (Notice 2014-54, §III, first paragraph). The
pre-tax part of each money pool — the designated Roth account, and the rest of the plan — is
assigned first to the direct rollovers, in the order ``docs/spec/extract.md`` fixes; the pre-tax money left is
shared by the other legs in proportion to their amounts; basis takes what is left of each leg. The
Roth account is allocated within itself and never mixed with non-Roth money (§402A(d)(4);
T.D. 9769).

The totals over a pool and over its earlier legs are :class:`transforms.law.scopes.Sum` rules; the
order of the legs within a pool is :func:`elected_rollover_order`, then :func:`rollover_rank`, then
``distribution_id``.
"""

from __future__ import annotations

import polars as pl

from transforms.law.money import mul_div_floor, multiplies_amounts
from transforms.law.scopes import Sum, over_earlier_in_pool, over_pool

DESTINATION_RANK = {
    "rollover_ira": 0,
    "rollover_plan": 0,
    "rollover_roth_ira": 1,
    "rollover_roth_plan": 1,
    "in_plan_roth_rollover": 1,
}
"""Default order among direct rollovers without an election: non-Roth destinations first, so that no
Roth conversion is taxed by default (docs/spec/extract.md, "Allocation within an event")."""
NOT_A_ROLLOVER_RANK = 2
ROLLOVER_RANKS = NOT_A_ROLLOVER_RANK + 1
"""How many values :func:`rollover_rank` takes."""


def is_direct_rollover(destination: pl.Expr) -> pl.Expr:
    """A leg paid in a direct rollover (§401(a)(31); Notice 2014-54, §III): every destination but cash."""
    return destination != "cash"


def takes_pretax_first(
    is_direct_rollover: pl.Expr, contract: pl.Expr, roth_pretax_first_to_direct_rollovers: bool
) -> pl.Expr:
    """The leg is a direct rollover that takes its pool's pre-tax money before the other legs
    (Notice 2014-54, §III; §402(c)(2), last sentence). Designated Roth account money paid before
    2016 (``roth_pretax_first_to_direct_rollovers`` false) is the exception: Treas. Reg.
    §1.402A-1, A-5(a), until T.D. 9769, treats "any amount paid in a direct rollover" as "a separate
    distribution from any amount paid directly to the employee", so no leg of the Roth account goes
    first — each takes a pro-rata share of its earnings (:func:`proportional_share_cents`)."""
    if roth_pretax_first_to_direct_rollovers:
        return is_direct_rollover
    return is_direct_rollover & (contract != "roth")


def rollover_rank(destination: pl.Expr, takes_pretax_first: pl.Expr) -> pl.Expr:
    """The default order of a leg among the legs of its pool (docs/spec/extract.md, "Allocation within an
    event"; Notice 2014-54, §III lets the recipient choose): traditional IRA and plan first (0),
    Roth destinations next (1), legs that do not take pre-tax money first (:func:`takes_pretax_first`)
    last (2)."""
    rank = pl.lit(NOT_A_ROLLOVER_RANK, pl.Int64)
    for destination_value, value in DESTINATION_RANK.items():  # a few comparisons: cheaper than a hash
        rank = pl.when(destination == destination_value).then(pl.lit(value, pl.Int64)).otherwise(rank)
    return pl.when(takes_pretax_first).then(rank).otherwise(pl.lit(NOT_A_ROLLOVER_RANK, pl.Int64))


def elected_rollover_order(rollover_order: pl.Expr, takes_pretax_first: pl.Expr) -> pl.Expr:
    """The order the recipient chose among the direct rollovers (Notice 2014-54, §III: the
    recipient may choose which destination takes the pre-tax money first; docs/spec/extract.md
    ``rollover_order``), null where none was chosen or the leg is not a direct rollover. Legs with
    an order come first, by that order, legs with equal orders by :func:`rollover_rank`; then the
    others by :func:`rollover_rank`; remaining ties by ``distribution_id``."""
    return pl.when(rollover_order.is_not_null() & takes_pretax_first).then(rollover_order)


def rolled_over_cents(takes_pretax_first: pl.Expr, amount_cents: pl.Expr) -> pl.Expr:
    """The leg's amount if it is a direct rollover that takes pre-tax money first, else 0 (Notice
    2014-54, §III; :func:`takes_pretax_first`)."""
    return pl.when(takes_pretax_first).then(amount_cents).otherwise(0)


def paid_otherwise_cents(takes_pretax_first: pl.Expr, amount_cents: pl.Expr) -> pl.Expr:
    """The leg's amount if it shares the pre-tax money left pro rata, else 0 (Notice 2014-54, §III;
    :func:`takes_pretax_first`)."""
    return pl.when(takes_pretax_first).then(0).otherwise(amount_cents)


def other_leg(takes_pretax_first: pl.Expr) -> pl.Expr:
    """1 for a leg that shares the pre-tax money left, else 0 (Notice 2014-54, §III;
    :func:`takes_pretax_first`)."""
    return (~takes_pretax_first).cast(pl.Int64)


def rolled_over_before_cents(rolled_over_cents: pl.Expr) -> Sum:
    """What the pool's earlier direct rollovers take, in allocation order (Notice 2014-54, §III)."""
    return over_earlier_in_pool(rolled_over_cents)


def other_legs_before(other_leg: pl.Expr) -> Sum:
    """How many of the pool's earlier legs are not direct rollovers (Notice 2014-54, §III)."""
    return over_earlier_in_pool(other_leg)


def other_leg_rank(other_legs_before: pl.Expr, other_leg: pl.Expr) -> pl.Expr:
    """A leg that is not a direct rollover: its place (1, 2, ...) among those of its pool, in
    ``distribution_id`` order (docs/spec/extract.md: who takes the cents left over by rounding)."""
    return other_legs_before + other_leg


def pool_pretax_part_cents(
    first_of_contract: pl.Expr, draw_cents: pl.Expr, contract_basis_recovered_cents: pl.Expr
) -> pl.Expr:
    """What the leg's contract adds to its pool's pre-tax money, once per contract the event draws
    on: the draw less the basis it recovers (§72(e)(8); Notice 2014-54, §III)."""
    return pl.when(first_of_contract).then(draw_cents - contract_basis_recovered_cents).otherwise(0)


def pool_pretax_cents(pool_pretax_part_cents: pl.Expr) -> Sum:
    """The pool's pre-tax money: the pre-tax part of the event's draws on the pool's contracts
    (Notice 2014-54, §III: allocated as a whole; §402A(d)(4): Roth and non-Roth apart)."""
    return over_pool(pool_pretax_part_cents)


def pool_rollover_cents(rolled_over_cents: pl.Expr) -> Sum:
    """What the pool's direct rollovers receive in all (Notice 2014-54, §III)."""
    return over_pool(rolled_over_cents)


def pool_paid_otherwise_cents(paid_otherwise_cents: pl.Expr) -> Sum:
    """What the pool's other legs receive in all (Notice 2014-54, §III)."""
    return over_pool(paid_otherwise_cents)


def pretax_to_direct_rollovers_cents(
    pool_pretax_cents: pl.Expr, rolled_over_before_cents: pl.Expr, amount_cents: pl.Expr
) -> pl.Expr:
    """Notice 2014-54, §III, second paragraph; §402(c)(2) last sentence: the amount directly rolled
    over consists first of the pre-tax amount. Each rollover leg, in allocation order, takes
    ``min(amount, pre-tax left)``.
    """
    return (pool_pretax_cents - rolled_over_before_cents).clip(0, None).clip(None, amount_cents)


def pretax_left_for_other_legs_cents(pool_pretax_cents: pl.Expr, pool_rollover_cents: pl.Expr) -> pl.Expr:
    """Pre-tax money left after the direct rollovers (Notice 2014-54, §III: R2 converse)."""
    return (pool_pretax_cents - pool_rollover_cents).clip(0, None)


@multiplies_amounts
def proportional_share_cents(
    pretax_left_for_other_legs_cents: pl.Expr,
    paid_otherwise_cents: pl.Expr,
    pool_paid_otherwise_cents: pl.Expr,
) -> pl.Expr:
    """A non-rollover leg's share of the pre-tax money left, in proportion to its amount, rounded
    down to the cent (``docs/spec/extract.md`` convention; the Notice is silent, tax-rules c.3 step 5)."""
    return mul_div_floor(pretax_left_for_other_legs_cents, paid_otherwise_cents, pool_paid_otherwise_cents)


def pool_shared_cents(proportional_share_cents: pl.Expr) -> Sum:
    """The pre-tax money the pool's shares give out in all, before the cents left over by rounding
    (``docs/spec/extract.md`` convention)."""
    return over_pool(proportional_share_cents)


def pretax_to_other_legs_cents(
    proportional_share_cents: pl.Expr,
    pretax_left_for_other_legs_cents: pl.Expr,
    pool_shared_cents: pl.Expr,
    other_leg_rank: pl.Expr,
) -> pl.Expr:
    """The proportional share, plus one of the cents left over by rounding down for the first legs in
    ``distribution_id`` order (``docs/spec/extract.md`` convention)."""
    leftover = pretax_left_for_other_legs_cents - pool_shared_cents
    return proportional_share_cents + pl.when(other_leg_rank <= leftover).then(1).otherwise(0)


def pretax_cents(
    takes_pretax_first: pl.Expr,
    pretax_to_direct_rollovers_cents: pl.Expr,
    pretax_to_other_legs_cents: pl.Expr,
) -> pl.Expr:
    """The leg's pre-tax part (Notice 2014-54, §III; §402A(d)(4)): the legs of a pool take exactly
    the pool's pre-tax money between them."""
    return (
        pl.when(takes_pretax_first)
        .then(pretax_to_direct_rollovers_cents)
        .otherwise(pretax_to_other_legs_cents)
        .cast(pl.Int64)
    )


def basis_cents(amount_cents: pl.Expr, pretax_cents: pl.Expr) -> pl.Expr:
    """The leg's basis part: what is left of its amount (Notice 2014-54, §III: each destination
    takes basis for the rest): ``pretax_cents + basis_cents = amount_cents``."""
    return amount_cents - pretax_cents
