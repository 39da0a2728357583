"""Exact integer arithmetic on cents.

Products of two balances reach 10^24 for accounts of $10 billion, beyond Int64; they are computed
in Int128 and the quotient is brought back to Int64 (it is never larger than an amount).
"""

from __future__ import annotations

import polars as pl

WIDE = pl.Int128
NARROW_LIMIT = 2**30
"""Operands below this in magnitude (about $10.7 million in cents) have ``2·a·b + c`` below 2^62:
Int64 is then exact, and several times faster than Int128 (:func:`fits_narrow`)."""


def fits_narrow(frame: pl.DataFrame, columns: list[str]) -> bool:
    """Every value of ``columns`` in ``frame`` is below :data:`NARROW_LIMIT` in magnitude (nulls
    aside), so :func:`mul_div_half_up` and :func:`mul_div_floor` over them are exact with
    ``wide=False``. Read from the operands themselves, just before the product is taken."""
    bounds = frame.select(
        pl.max_horizontal(pl.col(c).max() for c in columns).alias("hi"),
        pl.min_horizontal(pl.col(c).min() for c in columns).alias("lo"),
    ).row(0)
    return all(bound is None or -NARROW_LIMIT < bound < NARROW_LIMIT for bound in bounds)


def mul_div_half_up(a: pl.Expr, b: pl.Expr, c: pl.Expr, wide: bool = True) -> pl.Expr:
    """``a·b / c`` rounded half-up to the cent, exact: ``(2·a·b + c) div (2·c)``; 0 when ``c`` is 0.
    In Int128, or with ``wide=False`` in Int64 (operands below :data:`NARROW_LIMIT`).

    Project convention (``docs/spec/extract.md``, "Allocation within an event"): the pro-rata
    share is rounded half-up; no IRS source prescribes rounding.
    """
    if wide:
        a, b, c = a.cast(WIDE), b.cast(WIDE), c.cast(WIDE)
    return pl.when(c > 0).then((2 * a * b + c) // (2 * c)).otherwise(0).cast(pl.Int64)


def mul_div_floor(a: pl.Expr, b: pl.Expr, c: pl.Expr, wide: bool = True) -> pl.Expr:
    """``a·b / c`` rounded down to the cent, exact; 0 when ``c`` is 0 (``docs/spec/extract.md`` convention).
    In Int128, or with ``wide=False`` in Int64 (operands below :data:`NARROW_LIMIT`)."""
    if wide:
        a, b, c = a.cast(WIDE), b.cast(WIDE), c.cast(WIDE)
    return pl.when(c > 0).then((a * b) // c).otherwise(0).cast(pl.Int64)


def dollars(cents: pl.Expr) -> pl.Expr:
    """Cents as text for people: ``$40,000.00`` (thousands grouped, up to $999 billion)."""
    c = cents.cast(pl.Int64)
    sign = pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    c = c.abs()
    d = c // 100
    cts = (c % 100).cast(pl.String).str.zfill(2)

    def grp(n: pl.Expr) -> pl.Expr:
        return n.cast(pl.String).str.zfill(3)

    body = (
        pl.when(d >= 1_000_000_000)
        .then(
            pl.format(
                "{},{},{},{}",
                d // 1_000_000_000,
                grp(d // 1_000_000 % 1000),
                grp(d // 1000 % 1000),
                grp(d % 1000),
            )
        )
        .when(d >= 1_000_000)
        .then(pl.format("{},{},{}", d // 1_000_000, grp(d // 1000 % 1000), grp(d % 1000)))
        .when(d >= 1000)
        .then(pl.format("{},{}", d // 1000, grp(d % 1000)))
        .otherwise(d.cast(pl.String))
    )
    return pl.format("{}${}.{}", sign, body, cts)
