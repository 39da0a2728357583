"""Notice 2014-54 evaluated over whole frames: the sums over a pool, its earlier legs and an event.

The rules (:mod:`transforms.law.allocation`, the pool totals of :mod:`transforms.law.boxes`) say
what is summed over which legs; here is how. A leg alone in its event — most legs — is its own
pool and event, and nothing comes before it: each sum is the leg's own value (:data:`ALONE`), with
no sort. The legs of the other events are sorted once in allocation order on one packed integer key
(:func:`sort_for_allocation`), so that each pool is a run of consecutive rows, and every sum is read
from running sums at the runs' ends (:data:`RUNS`, :mod:`transforms.kernels.runs`) — no hashing, no
window and no ordered window (all slow in polars). Both give the same numbers
(``tests/engine/test_engine_parts.py``).
"""

from __future__ import annotations

import polars as pl

from transforms.engine.resolver import Rules
from transforms.kernels.runs import (
    run_ends,
    run_starts,
    sum_before_in_run,
    sum_over_marked_runs,
    sum_over_runs,
)
from transforms.law.allocation import ROLLOVER_RANKS
from transforms.law.params import TaxParameters
from transforms.law.scopes import EARLIER_IN_POOL, EVENT, POOL

SEG, SEG_START, SEG_END, EV_START = "_seg", "_seg_start", "_seg_end", "_ev_start"

RUNS = {
    POOL: lambda x: sum_over_runs(x, pl.col(SEG), pl.col(SEG_END)),
    EARLIER_IN_POOL: lambda x: sum_before_in_run(x, pl.col(SEG_START)),
    EVENT: lambda x: sum_over_marked_runs(x, pl.col(EV_START)),
}
"""The sums over the frame of :func:`sort_for_allocation`: each pool a run ``_seg`` (first row
``_seg_start``, last ``_seg_end``), each event's first row marked ``_ev_start``."""
ALONE = {POOL: lambda x: x, EARLIER_IN_POOL: lambda x: x - x, EVENT: lambda x: x}
"""The sums for legs that are each the only leg of their event, in any order: the leg's own value,
and nothing before it."""

ALLOCATION_INPUTS = [
    "_pool_key",
    "_eid",
    "destination",
    "rollover_order",
    "amount_cents",
    "held_cents",
    "box10_eligible",
    "takes_pretax_first",
    "pool_pretax_part_cents",
    "pool_foreign_part_cents",
    "pool_untaxed_part_cents",
    "pool_irr_recapture_part_cents",
]
"""What the allocation reads on each leg (``_pool_key``: the pool's number, ``_eid`` the event's)."""
ALLOCATION_OUTPUTS = [
    "pool_pretax_cents",
    "pool_foreign_cents",
    "pool_untaxed_cents",
    "pool_irr_recapture_cents",
    "pool_rollover_cents",
    "pretax_cents",
    "basis_cents",
    "box10_cents",
    "closes",
]
"""What it gives each leg: the pool totals, the split, box 10 and whether the event closes the account."""
ORDER_INPUTS = ["elected_rollover_order", "rollover_rank"]


def _priority(dense: bool) -> pl.Expr:
    """The rules' allocation order within a pool (:func:`transforms.law.allocation.elected_rollover_order`,
    then :func:`transforms.law.allocation.rollover_rank`) as one integer, lowest first. An elected
    leg's order counts from the smallest order present (no sort needed), or with ``dense`` its rank
    among the orders present (smaller numbers when the orders are far apart): the same ordering."""
    order = pl.col("elected_rollover_order")
    if dense:
        number = order.rank("dense").cast(pl.Int64) - 1
    else:
        number = order.cast(pl.Int64) - order.min().cast(pl.Int64)
    orders = number.max().fill_null(-1) + 1
    rank = pl.col("rollover_rank")
    return (
        pl.when(order.is_not_null())
        .then(number * ROLLOVER_RANKS + rank)
        .otherwise(orders * ROLLOVER_RANKS + rank)
    )


def sort_for_allocation(legs: pl.DataFrame, pool_key: str, p: TaxParameters) -> pl.DataFrame:
    """Legs in allocation order (Notice 2014-54, §III; docs/spec/extract.md order): each pool — the rows
    sharing the integer ``pool_key`` — a run of consecutive rows in the rules' order, ties kept in
    the frame's order (``legs`` must come in ``distribution_id`` order). Adds ``_seg`` (the run's
    number, sorted), ``_seg_start`` and ``_seg_end``. One stable sort on one integer: much cheaper
    than ``over(order_by=...)`` or a sort on strings.
    """
    order = Rules(p).columns(legs, ORDER_INPUTS)
    limit = (legs.get_column(pool_key).max() or 0) + 1
    for dense in (False, True):
        prio = order.select(_priority(dense).alias("_prio")).to_series()
        width = prio.max()
        width = 1 if width is None else int(width) + 1
        if limit * width < 2**63:
            break
    else:  # pragma: no cover - needs more pools than rows fit in memory
        raise OverflowError("allocation key does not fit in 64 bits")
    key = pl.col(pool_key).cast(pl.UInt64) * width + prio.cast(pl.UInt64)
    ordered = legs.with_columns(key.alias("_alloc_key")).sort("_alloc_key", maintain_order=True)
    return (
        ordered.drop("_alloc_key")
        .with_columns(
            run_starts(pl.col(pool_key)).alias(SEG_START), run_ends(pl.col(pool_key)).alias(SEG_END)
        )
        .with_columns((pl.col(SEG_START).cum_sum() - 1).cast(pl.UInt32).set_sorted().alias(SEG))
    )


def allocate_in_runs(narrow: pl.DataFrame, p: TaxParameters) -> pl.DataFrame:
    """The :data:`ALLOCATION_OUTPUTS` of legs (:data:`ALLOCATION_INPUTS`, in ``distribution_id``
    order) sorted once in allocation order (:func:`sort_for_allocation`), returned in the legs'
    order."""
    ordered = sort_for_allocation(
        narrow.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_pos")), "_pool_key", p
    )
    done = Rules(p, RUNS).evaluate(
        ordered.with_columns(run_starts(pl.col("_eid")).alias(EV_START)), ALLOCATION_OUTPUTS
    )
    # back in the legs' order: allocation row i holds leg _pos[i]
    pos = done.get_column("_pos")
    back = (
        pl.Series("_back", [], pl.UInt32)
        .extend_constant(0, pos.len())
        .scatter(pos, pl.int_range(pos.len(), eager=True, dtype=pl.UInt32))
    )
    return done.select(pl.col(ALLOCATION_OUTPUTS).gather(back))


def alone_in_event(eid: pl.Series) -> pl.Series:
    """True on the legs that are the only leg of their event (``_eid``): neighbours compared when
    each event's legs are together, a hash count otherwise."""
    if not eid.is_sorted():
        return eid.is_unique()
    key = pl.lit(eid)
    return pl.select((run_starts(key) & run_ends(key)).alias("alone")).to_series()


def allocate(legs: pl.DataFrame, p: TaxParameters) -> pl.DataFrame:
    """Pool totals, the Notice 2014-54 allocation, box 10 and the event's close-out flag
    (:data:`ALLOCATION_OUTPUTS`), in the legs' order. The rules are the same for every leg; how
    sums over other legs are read is not: a leg alone in its event is its own pool and event
    (:data:`ALONE`, no sort), the legs of the other events are sorted in allocation order
    (:func:`allocate_in_runs`). Both are computed on narrow copies; the second overwrites the
    first's rows of the events with several legs."""
    narrow = legs.select(ALLOCATION_INPUTS)
    alone = alone_in_event(narrow.get_column("_eid"))
    if not alone.any():
        return allocate_in_runs(narrow, p)
    single = Rules(p, ALONE).columns(narrow, ALLOCATION_OUTPUTS)
    if alone.all():
        return single
    shared = (~alone).arg_true()
    runs = allocate_in_runs(narrow[shared], p)
    columns = single.get_columns()
    del single  # the columns alone own their buffers: each scatter writes in place
    return pl.DataFrame([column.scatter(shared, runs.get_column(column.name)) for column in columns])
