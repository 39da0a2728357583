"""Notice 2014-54: one distribution, several destinations — pre-tax money goes first to direct rollovers.

All disbursements of an event are a single distribution (Notice 2014-54, §III, first paragraph). The
pre-tax part of each money pool — the designated Roth account, and the rest of the plan — is
assigned first to the direct rollovers, in the order ``shared/spec/extract.md`` fixes; the pre-tax
money left is shared by the other legs in proportion to their amounts; basis takes what is left of
each leg. The Roth account is allocated within itself and never mixed with non-Roth money
(§402A(d)(4); T.D. 9769).

The functions work on a frame of legs (one row per disbursement) carrying ``event_id``, ``pool``,
``distribution_id``, ``destination``, ``rollover_order``, ``amount_cents`` and the pool's pre-tax
total ``pool_pretax_cents``. :func:`allocate_pretax` sorts the legs by pool and priority once, then
adds the intermediate columns in stages (one window per stage: nested windows are slow in polars).
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
    Legs that are not direct rollovers sort after them, by ``distribution_id``.
    """
    elected = pl.col("rollover_order").is_not_null() & is_direct_rollover()
    return [
        (~elected).alias("_k0"),
        pl.when(elected).then(pl.col("rollover_order")).alias("_k1"),
        pl.when(elected)
        .then(0)
        .when(is_direct_rollover())
        .then(pl.col("destination").replace_strict(DESTINATION_RANK, default=2))
        .otherwise(2)
        .alias("_k2"),
        pl.col("distribution_id").alias("_k3"),
    ]


SORT_KEYS = [*POOL, "_k0", "_k1", "_k2", "_k3"]


def sort_for_allocation(legs: pl.DataFrame) -> pl.DataFrame:
    """Legs sorted by pool and :func:`rollover_priority` (Notice 2014-54, §III; extract.md order):
    the running sums below follow this frame order (an eager frame keeps it; a sort is much cheaper than ``over(order_by=...)`` on strings)."""
    return legs.with_columns(rollover_priority()).sort(SORT_KEYS, nulls_last=True)


def sum_before_within(frame: pl.DataFrame, expr: pl.Expr, keys: list[str], name: str) -> pl.DataFrame:
    """Add ``name``: the sum of a non-negative ``expr`` over the earlier rows of the same group, in
    frame order (the allocation order of Notice 2014-54, §III, and extract.md). Needs the frame sorted by ``keys`` (groups contiguous): the global running sum less
    its value where the group starts — much faster than ``cum_sum().over(keys)`` in polars 2.1.
    """
    before = frame.select((expr.cum_sum() - expr).alias(name))
    return frame.with_columns(before[name]).with_columns(
        (pl.col(name) - pl.col(name).min().over(keys)).alias(name)
    )


def _stage_amounts() -> list[pl.Expr]:
    return [
        pl.when(is_direct_rollover()).then(A).otherwise(0).alias("_rolled"),
        pl.when(is_direct_rollover()).then(0).otherwise(A).alias("_other"),
    ]


def _stage_windows(legs: pl.DataFrame) -> pl.DataFrame:
    rolled, other = pl.col("_rolled"), pl.col("_other")
    other_leg = (~is_direct_rollover()).cast(pl.Int64)
    legs = sum_before_within(legs, rolled, POOL, "_rolled_before")
    legs = sum_before_within(legs, other_leg, POOL, "_other_rank")
    return legs.with_columns(
        rolled.sum().over(POOL).alias("_rolled_total"),
        other.sum().over(POOL).alias("_other_total"),
        (pl.col("_other_rank") + other_leg).alias("_other_rank"),
    )


def pretax_to_direct_rollovers() -> pl.Expr:
    """Notice 2014-54, §III, second paragraph; §402(c)(2) last sentence: the amount directly rolled
    over consists first of the pre-tax amount. Each rollover leg, in :func:`rollover_priority` order,
    takes ``min(amount, pre-tax left)``.
    """
    return (pl.col("pool_pretax_cents") - pl.col("_rolled_before")).clip(0, None).clip(None, A)


def pretax_left_for_other_legs() -> pl.Expr:
    """Pre-tax money left after the direct rollovers (Notice 2014-54, §III: R2 converse)."""
    return (pl.col("pool_pretax_cents") - pl.col("_rolled_total")).clip(0, None)


def proportional_share() -> pl.Expr:
    """A non-rollover leg's share of the pre-tax money left, in proportion to its amount, rounded
    down to the cent (``extract.md`` convention; the Notice is silent, tax-rules c.3 step 5)."""
    return mul_div_floor(pl.col("_left"), pl.col("_other"), pl.col("_other_total"))


def pretax_to_other_legs() -> pl.Expr:
    """The proportional share, plus one of the cents left over by rounding down for the first legs in
    ``distribution_id`` order (``extract.md`` convention)."""
    leftover = pl.col("_left") - pl.col("_shared")
    return pl.col("_share") + pl.when(pl.col("_other_rank") <= leftover).then(1).otherwise(0)


def allocate_pretax(legs: pl.DataFrame) -> pl.DataFrame:
    """Add ``pretax_cents`` and ``basis_cents`` to every leg (Notice 2014-54, §III; §402A(d)(4)).

    ``pretax_cents + basis_cents = amount_cents`` on every leg, and the legs of a pool take exactly
    the pool's pre-tax total between them. Eager: returns the legs sorted by :data:`SORT_KEYS`.
    """
    return (
        sort_for_allocation(legs)
        .with_columns(_stage_amounts())
        .pipe(_stage_windows)
        .with_columns(pretax_left_for_other_legs().alias("_left"))
        .with_columns(proportional_share().alias("_share"))
        .with_columns(pl.col("_share").sum().over(POOL).alias("_shared"))
        .with_columns(
            pl.when(is_direct_rollover())
            .then(pretax_to_direct_rollovers())
            .otherwise(pretax_to_other_legs())
            .cast(pl.Int64)
            .alias("pretax_cents")
        )
        .with_columns((A - pl.col("pretax_cents")).alias("basis_cents"))
        .drop(
            "_rolled",
            "_other",
            "_rolled_before",
            "_rolled_total",
            "_other_total",
            "_other_rank",
            "_left",
            "_share",
            "_shared",
        )
    )
