"""Exact integer arithmetic on cents: the rounding conventions of the pro-rata shares.

Amounts are integer cents (``docs/spec/extract.md``). A share ``a·b / c`` of an amount is computed exactly,
in the integer type of its operands, and rounded as the project's conventions say; the result is
never larger than an amount, so it is brought back to Int64. A rule that multiplies two amounts is
marked :func:`multiplies_amounts`: its product can exceed 64 bits (two $10 billion balances), so
the engine hands it Int128 operands unless every operand is small enough for Int64 to be exact
(``transforms.kernels.precision``). The rule itself does not choose: the result is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import polars as pl

F = TypeVar("F", bound=Callable)


def multiplies_amounts(rule: F) -> F:
    """Mark ``rule`` as one that multiplies two amounts (a share ``a·b / c``): exact in Int128,
    and in Int64 where its operands are below ``transforms.kernels.precision.NARROW_LIMIT``."""
    rule.multiplies_amounts = True  # type: ignore[attr-defined]
    return rule


def mul_div_half_up(a: pl.Expr, b: pl.Expr, c: pl.Expr) -> pl.Expr:
    """``a·b / c`` rounded half-up to the cent, exact: ``(2·a·b + c) div (2·c)``; 0 when ``c`` is 0.

    Project convention (``docs/spec/extract.md``, "Allocation within an event"): the pro-rata share is
    rounded half-up; no IRS source prescribes rounding.
    """
    return pl.when(c > 0).then((2 * a * b + c) // (2 * c)).otherwise(0).cast(pl.Int64)


def mul_div_floor(a: pl.Expr, b: pl.Expr, c: pl.Expr) -> pl.Expr:
    """``a·b / c`` rounded down to the cent, exact; 0 when ``c`` is 0 (``docs/spec/extract.md`` convention)."""
    return pl.when(c > 0).then((a * b) // c).otherwise(0).cast(pl.Int64)
