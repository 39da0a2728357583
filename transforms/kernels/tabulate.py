"""A function of a few small-domain columns, evaluated once per combination of their values.

When a rule reads only columns that take a handful of values each (flags, codes, the spec's lists),
its result for a million rows is its result for the few thousand combinations of those values,
read back by position: :func:`combinations` lists them (the last column varies fastest) and
:func:`positions` gives each row's combination, from the position of each of its values in its
column's domain (:func:`domain_and_index`).
"""

from __future__ import annotations

import polars as pl

from transforms.kernels.lookup import position_in


def domain(frame: pl.DataFrame, column: str) -> pl.Series:
    """The values of ``column`` to tabulate: ``[False, True, None]`` for a flag, otherwise the
    values present (sorted), with ``None`` last when the column has nulls."""
    series = frame.get_column(column)
    if series.dtype == pl.Boolean:
        return pl.Series(column, [False, True, None], pl.Boolean)
    values = series.drop_nulls().unique().sort()
    return values.extend(pl.Series(column, [None], values.dtype)) if series.null_count() else values


def index(column: str, values: pl.Series) -> pl.Expr:
    """Position of each row's value of ``column`` in its domain ``values`` (:func:`domain`)."""
    col = pl.col(column)
    if values.dtype == pl.Boolean:
        at = col.cast(pl.UInt64)
    else:
        at = col.cast(pl.String).cast(pl.Enum(values.drop_nulls().cast(pl.String))).to_physical()
    return at.cast(pl.UInt64).fill_null(values.len() - 1)


def domain_and_index(
    frame: pl.DataFrame, column: str, known: tuple[str, ...] | None = None
) -> tuple[pl.Series, pl.Series]:
    """:func:`domain` and :func:`index` of ``column``. With ``known`` (the values a text column
    may take), the domain is that list with ``None`` last, provided every value is one of them:
    the positions come from one cast, with no scan for the values present."""
    series = frame.get_column(column)
    if known is not None and series.dtype == pl.String:
        listed = position_in(series, known)
        if listed.null_count() == series.null_count():
            at = listed.cast(pl.UInt64).fill_null(len(known))
            return pl.Series(column, [*known, None], pl.String), at
    values = domain(frame, column)
    return values, frame.select(index(column, values)).to_series()


def combinations(domains: dict[str, pl.Series]) -> pl.DataFrame:
    """Every combination of the ``domains`` values, one column each, in their order: the last
    column varies fastest."""
    table = pl.DataFrame({"_i": [0]})
    for column, values in domains.items():
        table = table.join(values.alias(column).to_frame(), how="cross")
    return table.drop("_i")


def positions(indexed: dict[str, tuple[pl.Series, pl.Series]]) -> pl.Series:
    """The row of :func:`combinations` holding each row's combination, from each column's
    (domain, index) (:func:`domain_and_index`), in the order of ``indexed``."""
    position = pl.lit(0, pl.UInt64)
    for values, at in indexed.values():
        position = position * values.len() + pl.lit(at)
    return pl.select(position.alias("_at")).get_column("_at")


def size(domains: dict[str, pl.Series]) -> int:
    """How many combinations the ``domains`` make."""
    total = 1
    for values in domains.values():
        total *= values.len()
    return total
