"""Amounts as people read them: integer cents as text, with integer arithmetic only (no float).

The one definition of money formatting; every report, statement and trace uses it.
"""

from __future__ import annotations

import polars as pl


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


def dollars_text(cents: int | None, none: str = "") -> str:
    """Integer cents as text for people, exact: ``123456789`` → ``$1,234,567.89``; ``none`` for a
    missing amount. The same text as :func:`dollars`, for one value."""
    if cents is None:
        return none
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{frac:02d}"


def decimal_text(cents: pl.Expr) -> pl.Expr:
    """Cents as a plain decimal number of dollars, integer arithmetic only: ``123450`` → ``1234.50``,
    ``-5`` → ``-0.05`` (for files a program reads: no ``$``, no grouping)."""
    c = cents.cast(pl.Int64)
    sign = pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = c.abs()
    return pl.concat_str(
        sign, (whole // 100).cast(pl.String), pl.lit("."), (whole % 100).cast(pl.String).str.zfill(2)
    )
