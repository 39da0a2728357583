"""Exact integer products on cents, in Int64 where that is exact and in Int128 otherwise.

Products of two balances reach 10^24 for accounts of $10 billion, beyond Int64; in Int128 they are
exact. Where every operand is below :data:`NARROW_LIMIT` in magnitude, ``2·a·b + c`` stays below
2^62 and Int64 is exact too — and several times faster. The engine reads the operands just before a
product is taken (:func:`fits_narrow`) and chooses (``transforms.engine.resolver``).
"""

from __future__ import annotations

import polars as pl

WIDE = pl.Int128
NARROW_LIMIT = 2**30
"""Operands below this in magnitude (about $10.7 million in cents) have ``2·a·b + c`` below 2^62:
Int64 is then exact (:func:`fits_narrow`)."""


def fits_narrow(frame: pl.DataFrame, columns: list[str]) -> bool:
    """Every value of ``columns`` in ``frame`` is below :data:`NARROW_LIMIT` in magnitude (nulls
    aside), so a product of two of them plus a third, doubled, is exact in Int64. Read from the
    operands themselves, just before the product is taken."""
    if not columns:
        return True
    bounds = frame.select(
        pl.max_horizontal(pl.col(c).max() for c in columns).alias("hi"),
        pl.min_horizontal(pl.col(c).min() for c in columns).alias("lo"),
    ).row(0)
    return all(bound is None or -NARROW_LIMIT < bound < NARROW_LIMIT for bound in bounds)
