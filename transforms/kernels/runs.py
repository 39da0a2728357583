"""Sums over runs of consecutive rows, read from running sums: no hashing, no window.

A frame sorted so that each group of interest — a pool, an event, a contract's legs — is a run of
consecutive rows needs no group-by to sum over a group: the running sum read at the run's ends
gives each run's total, and the running sum less its value where the run starts gives the sum over
the run's earlier rows. Integer sums wrap like polars' own ``sum``, so each difference is exact
whenever the run's sum is.
"""

from __future__ import annotations

import polars as pl


def run_starts(key: pl.Expr) -> pl.Expr:
    """True on the first row of each run of equal ``key`` values."""
    return (key != key.shift(1)).fill_null(True)


def run_ends(key: pl.Expr) -> pl.Expr:
    """True on the last row of each run of equal ``key`` values."""
    return (key != key.shift(-1)).fill_null(True)


def sum_over_runs(values: pl.Expr, runs: pl.Expr, last: pl.Expr | None = None) -> pl.Expr:
    """The sum of ``values`` over each run of rows with equal ``runs``, broadcast to the run's rows,
    where ``runs`` numbers the runs 0, 1, 2, ... in row order (sorted, dense); ``last`` may name a
    column already marking each run's last row."""
    last = run_ends(runs) if last is None else last
    at_ends = values.cum_sum().filter(last)
    return (at_ends - at_ends.shift(1, fill_value=0)).gather(runs)


def sum_before_in_run(values: pl.Expr, starts: pl.Expr) -> pl.Expr:
    """The sum of ``values`` over the earlier rows of the same run (``starts`` marks each run's
    first row): the global running sum less its value where the run starts."""
    before = values.cum_sum() - values
    return before - pl.when(starts).then(before).forward_fill()


def sum_over_marked_runs(values: pl.Expr, starts: pl.Expr) -> pl.Expr:
    """The sum of ``values`` over each run (``starts`` marks each run's first row), broadcast to
    the run's rows: the running sum at the run's last row less the one before its first."""
    running = values.cum_sum()
    end_sum = pl.when(starts.shift(-1).fill_null(True)).then(running).backward_fill()
    return end_sum - pl.when(starts).then(running - values).forward_fill()
