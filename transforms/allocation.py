"""Notice 2014-54: one distribution, several destinations — pre-tax money goes first to direct rollovers.

All disbursements of an event are a single distribution (Notice 2014-54, §III, first paragraph). The
pre-tax part of each money pool — the designated Roth account, and the rest of the plan — is
assigned first to the direct rollovers, in the order ``docs/spec/extract.md`` fixes; the pre-tax
money left is shared by the other legs in proportion to their amounts; basis takes what is left of
each leg. The Roth account is allocated within itself and never mixed with non-Roth money
(§402A(d)(4); T.D. 9769).

The functions work on a frame of legs (one row per disbursement) carrying ``destination``,
``rollover_order``, ``amount_cents`` and the pool's pre-tax total ``pool_pretax_cents``, in
allocation order: :func:`sort_for_allocation` sorts the legs once so that each pool is a run of
consecutive rows (``_seg``, its number, and ``_seg_start``) in :func:`rollover_priority` order.
Every sum over a pool is then a sum over a run of rows — a running sum read at the run's ends —
with no hashing, no window and no ordered window (all slow in polars).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from transforms.money import fits_narrow, mul_div_floor

POOL = ["event_id", "pool"]
A = pl.col("amount_cents")
SEG, SEG_START, SEG_END = "_seg", "_seg_start", "_seg_end"

# Default order among direct rollovers without an election: non-Roth destinations first, so that no
# Roth conversion is taxed by default (docs/spec/extract.md, "Allocation within an event").
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


def rollover_priority(dense: bool = False) -> pl.Expr:
    """Order in which direct rollovers take pre-tax money (Notice 2014-54, §III: the recipient may
    choose; ``docs/spec/extract.md`` convention otherwise), as one integer, lowest first: legs with a
    ``rollover_order``, by that order, and legs with equal orders in the default order among
    themselves (traditional IRA and plan before Roth destinations); then the others, in the default
    order; then the legs that are not direct rollovers. Remaining ties go by ``distribution_id``
    (the frame order :func:`sort_for_allocation` keeps). An elected leg's order counts from the
    smallest order present (no sort needed), or with ``dense`` its rank among the orders present
    (smaller numbers when the orders are far apart): the same ordering either way.
    """
    elected = pl.col("rollover_order").is_not_null() & is_direct_rollover()
    order = pl.when(elected).then(pl.col("rollover_order"))
    if dense:
        number = order.rank("dense").cast(pl.Int64) - 1
    else:
        number = order.cast(pl.Int64) - order.min().cast(pl.Int64)
    orders = number.max().fill_null(-1) + 1
    default = pl.lit(2, pl.Int64)  # not a direct rollover
    for destination, rank in DESTINATION_RANK.items():  # a few comparisons: cheaper than a hash per leg
        default = (
            pl.when(pl.col("destination") == destination).then(pl.lit(rank, pl.Int64)).otherwise(default)
        )
    # three default ranks (0 traditional, 1 Roth, 2 not a rollover) within each elected order
    return pl.when(elected).then(number * 3 + default).otherwise(orders * 3 + default)


def sort_for_allocation(legs: pl.DataFrame, pool_key: str) -> pl.DataFrame:
    """Legs in allocation order (Notice 2014-54, §III; docs/spec/extract.md order): each pool — the rows
    sharing the integer ``pool_key`` — a run of consecutive rows in :func:`rollover_priority` order,
    ties kept in the frame's order (``legs`` must come in ``distribution_id`` order). Adds ``_seg``
    (the run's number, sorted), ``_seg_start`` and ``_seg_end``. One stable sort on one integer:
    much cheaper than ``over(order_by=...)`` or a sort on strings.
    """
    limit = (legs.get_column(pool_key).max() or 0) + 1
    for dense in (False, True):
        prio = legs.select(rollover_priority(dense).alias("_prio")).to_series()
        width = prio.max()
        width = 1 if width is None else int(width) + 1
        if limit * width < 2**63:
            break
    else:  # pragma: no cover - needs more pools than rows fit in memory
        raise OverflowError("allocation key does not fit in 64 bits")
    key = pl.col(pool_key).cast(pl.UInt64) * width + prio.cast(pl.UInt64)
    ordered = legs.with_columns(key.alias("_alloc_key")).sort("_alloc_key", maintain_order=True)
    start = (pl.col(pool_key) != pl.col(pool_key).shift(1)).fill_null(True)
    end = (pl.col(pool_key) != pl.col(pool_key).shift(-1)).fill_null(True)
    return (
        ordered.drop("_alloc_key")
        .with_columns(start.alias(SEG_START), end.alias(SEG_END))
        .with_columns((pl.col(SEG_START).cum_sum() - 1).cast(pl.UInt32).set_sorted().alias(SEG))
    )


def sum_before_within(expr: pl.Expr) -> pl.Expr:
    """The sum of ``expr`` over the earlier rows of the same pool, in allocation order (Notice
    2014-54, §III; docs/spec/extract.md order): the global running sum less its value where the pool's run
    starts. Needs the frame of :func:`sort_for_allocation`. Integer sums wrap like polars' own
    ``sum`` does, so the difference is exact whenever the pool's sum is.
    """
    before = expr.cum_sum() - expr
    return before - pl.when(pl.col(SEG_START)).then(before).forward_fill()


def sum_over_runs(values: pl.Expr, runs: pl.Expr, last: pl.Expr | None = None) -> pl.Expr:
    """The sum of ``values`` over each run of rows with equal ``runs`` — a pool, an event, a
    contract's legs, each taken as a whole (Notice 2014-54, §III; §72(e)(8)) —, broadcast to the
    run's rows, where ``runs`` numbers the runs 0, 1, 2, ... in row order (sorted, dense);
    ``last`` may name a column already marking each run's last row. Read from the running sum at
    the runs' last rows — no hashing, no window. Integer sums wrap like polars' own ``sum``, so
    each run's sum is exact whenever it fits."""
    last = (runs != runs.shift(-1)).fill_null(True) if last is None else last
    at_ends = values.cum_sum().filter(last)
    return (at_ends - at_ends.shift(1, fill_value=0)).gather(runs)


def pool_sum(expr: pl.Expr) -> pl.Expr:
    """The sum of ``expr`` over the leg's pool (Notice 2014-54, §III: the pool is allocated as a
    whole; §402A(d)(4)), broadcast to every leg of the pool; frame of :func:`sort_for_allocation`
    (:func:`sum_over_runs` of its runs).
    """
    return sum_over_runs(expr, pl.col(SEG), pl.col(SEG_END))


def event_sum(expr: pl.Expr) -> pl.Expr:
    """The sum of ``expr`` over the leg's event — all its disbursements are one distribution
    (Notice 2014-54, §III) —, broadcast to its legs; frame of :func:`sort_for_allocation` with
    ``_ev_start`` marking each event's first row (an event's pools are consecutive runs)."""
    start = pl.col("_ev_start")
    running = expr.cum_sum()
    end_sum = pl.when(start.shift(-1).fill_null(True)).then(running).backward_fill()
    return end_sum - pl.when(start).then(running - expr).forward_fill()


@dataclass(frozen=True)
class Windows:
    """How the allocation reads sums over other legs: over the leg's pool (``pool``), over the
    earlier legs of its pool in allocation order (``before``) and over its event (``event``).

    :data:`RUNS` reads them from the frame of :func:`sort_for_allocation`. :data:`ALONE` is for legs
    that are the only leg of their event — most legs —, where the pool and event sums are the leg's
    own value and nothing comes before it: the same formulas, without sorting or running sums.
    """

    pool: Callable[[pl.Expr], pl.Expr]
    before: Callable[[pl.Expr], pl.Expr]
    event: Callable[[pl.Expr], pl.Expr]


RUNS = Windows(pool=pool_sum, before=sum_before_within, event=event_sum)
ALONE = Windows(pool=lambda expr: expr, before=lambda expr: expr - expr, event=lambda expr: expr)


def _stage_amounts() -> list[pl.Expr]:
    return [
        pl.when(is_direct_rollover()).then(A).otherwise(0).alias("_rolled"),
        pl.when(is_direct_rollover()).then(0).otherwise(A).alias("_other"),
    ]


def _stage_windows(w: Windows) -> list[pl.Expr]:
    other_leg = (~is_direct_rollover()).cast(pl.Int64)
    return [
        w.before(pl.col("_rolled")).alias("_rolled_before"),
        (w.before(other_leg) + other_leg).alias("_other_rank"),
        w.pool(pl.col("_rolled")).alias("_rolled_total"),
        w.pool(pl.col("_other")).alias("_other_total"),
    ]


def pretax_to_direct_rollovers() -> pl.Expr:
    """Notice 2014-54, §III, second paragraph; §402(c)(2) last sentence: the amount directly rolled
    over consists first of the pre-tax amount. Each rollover leg, in :func:`rollover_priority` order,
    takes ``min(amount, pre-tax left)``.
    """
    return (pl.col("pool_pretax_cents") - pl.col("_rolled_before")).clip(0, None).clip(None, A)


def pretax_left_for_other_legs() -> pl.Expr:
    """Pre-tax money left after the direct rollovers (Notice 2014-54, §III: R2 converse)."""
    return (pl.col("pool_pretax_cents") - pl.col("_rolled_total")).clip(0, None)


def proportional_share(wide: bool = True) -> pl.Expr:
    """A non-rollover leg's share of the pre-tax money left, in proportion to its amount, rounded
    down to the cent (``docs/spec/extract.md`` convention; the Notice is silent, tax-rules c.3 step 5).
    ``wide``: see :func:`transforms.money.mul_div_floor`."""
    return mul_div_floor(pl.col("_left"), pl.col("_other"), pl.col("_other_total"), wide)


def pretax_to_other_legs() -> pl.Expr:
    """The proportional share, plus one of the cents left over by rounding down for the first legs in
    ``distribution_id`` order (``docs/spec/extract.md`` convention)."""
    leftover = pl.col("_left") - pl.col("_shared")
    return pl.col("_share") + pl.when(pl.col("_other_rank") <= leftover).then(1).otherwise(0)


def allocate_in_order(legs: pl.DataFrame, w: Windows = RUNS) -> pl.DataFrame:
    """Add ``pretax_cents`` and ``basis_cents`` to legs already in allocation order (the frame of
    :func:`sort_for_allocation`; Notice 2014-54, §III; §402A(d)(4)); or, with ``w`` :data:`ALONE`,
    to legs that are each the only leg of their event, in any order. The share is computed in
    Int64 when its operands allow it (:func:`transforms.money.fits_narrow`)."""
    staged = (
        legs.with_columns(_stage_amounts())
        .with_columns(_stage_windows(w))
        .with_columns(pretax_left_for_other_legs().alias("_left"))
    )
    wide = not fits_narrow(staged, ["_left", "_other", "_other_total"])
    return (
        staged.with_columns(proportional_share(wide).alias("_share"))
        .with_columns(w.pool(pl.col("_share")).alias("_shared"))
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


def allocate_pretax(legs: pl.DataFrame) -> pl.DataFrame:
    """Add ``pretax_cents`` and ``basis_cents`` to every leg (Notice 2014-54, §III; §402A(d)(4)).

    ``pretax_cents + basis_cents = amount_cents`` on every leg, and the legs of a pool (``event_id``,
    ``pool``) take exactly the pool's pre-tax total between them. Eager: returns the legs in
    allocation order (pools in ``event_id``, ``pool`` order).
    """
    keyed = legs.sort("distribution_id").with_columns(
        pl.struct(POOL).rank("dense").cast(pl.UInt64).alias("_pool_key")
    )
    return allocate_in_order(sort_for_allocation(keyed, "_pool_key")).drop(
        "_pool_key", SEG, SEG_START, SEG_END
    )
