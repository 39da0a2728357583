"""Notice 2014-54: one distribution, several destinations — pre-tax money goes first to direct rollovers.

All disbursements of an event are a single distribution (Notice 2014-54, §III, first paragraph). The
pre-tax part of each money pool — the designated Roth account, and the rest of the plan — is
assigned first to the direct rollovers, in the order ``shared/spec/extract.md`` fixes; the pre-tax
money left is shared by the other legs in proportion to their amounts; basis takes what is left of
each leg. The Roth account is allocated within itself and never mixed with non-Roth money
(§402A(d)(4); T.D. 9769).

The functions work on a frame of legs (one row per disbursement) carrying ``event_id``, ``pool``,
``distribution_id``, ``destination``, ``rollover_order``, ``amount_cents`` and the pool's pre-tax
total ``pool_pretax_cents``.
"""

from __future__ import annotations

import polars as pl

from transforms.money import mul_div_floor

POOL = ["event_id", "pool"]
A = pl.col("amount_cents")

# Default order among direct rollovers without an election: non-Roth destinations first, so that no
# Roth conversion is taxed by default (extract.md, "Allocation within an event").
DESTINATION_RANK = {
    "rollover_ira": 0,
    "rollover_plan": 0,
    "rollover_roth_ira": 1,
    "rollover_roth_plan": 1,
    "in_plan_roth_rollover": 1,
}


def is_direct_rollover() -> pl.Expr:
    """A leg paid in a direct rollover (§401(a)(31); Notice 2014-54, §III): every destination but cash."""
    return pl.col("destination") != "cash"


def rollover_priority() -> list[pl.Expr]:
    """Order in which direct rollovers take pre-tax money (Notice 2014-54, §III: the recipient may
    choose; ``extract.md`` convention otherwise): legs with a ``rollover_order``, lowest first; then
    the others, traditional IRA and plan before Roth destinations; ties by ``distribution_id``.
    """
    elected = pl.col("rollover_order").is_not_null()
    return [
        ~elected,
        pl.col("rollover_order"),
        pl.when(elected).then(0).otherwise(pl.col("destination").replace_strict(DESTINATION_RANK, default=2)),
        pl.col("distribution_id"),
    ]


def pretax_to_direct_rollovers() -> pl.Expr:
    """Notice 2014-54, §III, second paragraph; §402(c)(2) last sentence: the amount directly rolled
    over consists first of the pre-tax amount. Each rollover leg, in :func:`rollover_priority` order,
    takes ``min(amount, pre-tax left)``.
    """
    rolled = pl.when(is_direct_rollover()).then(A).otherwise(0)
    before = rolled.cum_sum().over(POOL, order_by=rollover_priority()) - rolled
    return (pl.col("pool_pretax_cents") - before).clip(0, None).clip(None, A)


def pretax_left_for_other_legs() -> pl.Expr:
    """Pre-tax money left after the direct rollovers (Notice 2014-54, §III: R2 converse)."""
    rolled_total = pl.when(is_direct_rollover()).then(A).otherwise(0).sum().over(POOL)
    return (pl.col("pool_pretax_cents") - rolled_total).clip(0, None)


def pretax_to_other_legs() -> pl.Expr:
    """The pre-tax money left is shared by the legs that are not direct rollovers in proportion to
    their amounts, rounded down to the cent; the cents left over go one per leg in
    ``distribution_id`` order (``extract.md`` convention; the Notice is silent, tax-rules c.3 step 5).
    """
    other = ~is_direct_rollover()
    left = pretax_left_for_other_legs()
    other_total = pl.when(other).then(A).otherwise(0).sum().over(POOL)
    share = mul_div_floor(left, A, other_total)
    shared = pl.when(other).then(share).otherwise(0).sum().over(POOL)
    rank = pl.when(other).then(pl.col("distribution_id")).otherwise(None).rank("ordinal").over(POOL) - 1
    extra = pl.when(rank < left - shared).then(1).otherwise(0)
    return share + extra


def allocate_pretax(legs: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``pretax_cents`` and ``basis_cents`` to every leg (Notice 2014-54, §III; §402A(d)(4)).

    ``pretax_cents + basis_cents = amount_cents`` on every leg, and the legs of a pool take exactly
    the pool's pre-tax total between them.
    """
    return legs.with_columns(
        pl.when(is_direct_rollover())
        .then(pretax_to_direct_rollovers())
        .otherwise(pretax_to_other_legs())
        .cast(pl.Int64)
        .alias("pretax_cents")
    ).with_columns((A - pl.col("pretax_cents")).alias("basis_cents"))
