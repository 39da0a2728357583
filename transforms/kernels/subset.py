"""A row-wise function computed only on the rows that need it, the other rows keeping a default.

Many columns are cheap to decide for most rows and costly for a few: a name that is plain ASCII
needs only upper-casing, an empty state number cannot be too long. :func:`computed_where` runs the
costly function on those few rows (gathered) and puts its values back at their positions in the
default column (scattered): the same result as computing it on every row, at the cost of the rows
it is computed on. Pure polars, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import polars as pl

In = TypeVar("In", pl.Series, pl.DataFrame)
Out = TypeVar("Out", pl.Series, pl.DataFrame)


def computed_where(
    where: pl.Series, values: In, compute: Callable[[In], Out], default: Callable[[In], Out]
) -> Out:
    """``default(values)`` with, on each row where ``where`` is true, ``compute``'s value for that
    row; ``compute`` runs once, on the rows of ``values`` where ``where`` is true (in their order),
    and not at all when there are none. For row-wise functions that is
    ``when(where).then(compute(values)).otherwise(default(values))``, with ``compute`` computed on
    the rows chosen only.

    ``where``: a Boolean Series as long as ``values`` (a null counts as false). ``values``: a Series
    or a frame. ``compute`` gives one value per row it is given: a Series, or a frame whose columns
    are the default's (each put in the column of its name). ``default`` gives a new Series or frame
    as long as ``values`` (a Series is filled in place, as polars' ``scatter`` does: so it is made
    for the call, never copied); the result keeps its names and types."""
    out = default(values)
    if where.len() != len(values) or len(out) != len(values):
        raise ValueError("where, values and the default must have one row per row of values")
    rows = where.arg_true()
    if rows.len() == 0:
        return out
    done = compute(values.gather(rows))
    if len(done) != rows.len():
        raise ValueError("compute must give one value per row it is given")
    if isinstance(out, pl.Series):
        return (out.clone() if out is values else out).scatter(rows, done)
    if set(done.columns) != set(out.columns):
        raise ValueError("compute must give the default's columns")
    return out.with_columns(
        out.get_column(name).scatter(rows, done.get_column(name)) for name in done.columns
    )


def filled(value: object, *names: str) -> Callable[[pl.Series | pl.DataFrame], pl.Series | pl.DataFrame]:
    """A default for :func:`computed_where`: ``value`` on every row of the values it is given — a
    Series, or, given ``names``, a frame with a column of each name (its type is ``value``'s)."""

    def default(values: pl.Series | pl.DataFrame) -> pl.Series | pl.DataFrame:
        if not names:
            return pl.repeat(value, len(values), eager=True)
        return pl.DataFrame({name: pl.repeat(value, len(values), eager=True) for name in names})

    return default
