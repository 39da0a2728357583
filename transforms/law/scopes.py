"""Sums over other legs: how a rule speaks of a contract's legs, a pool or an event.

Some rules read a total over other disbursements: §72(e)(8) pro-rates the event's whole draw on a
contract; Notice 2014-54, §III allocates each money pool of a distribution as a whole, in an order.
Such a rule returns a :class:`Sum` — what is summed and over which legs — rather than an
expression; the engine evaluates it (over runs of sorted legs, or, for a leg alone in its event, as
the leg's own value) and the rules that read the total take it as an input like any column.

The legs a sum runs over:

- :data:`CONTRACT`: the legs of the event that draw on the same contract (§72(e)(8): the amount
  received from the contract is the event's whole draw on it);
- :data:`POOL`: the legs of the event that draw on the same pool of money — the designated Roth
  account, or the rest of the plan (Notice 2014-54, §III; §402A(d)(4): never mixed);
- :data:`EARLIER_IN_POOL`: the legs of the pool before this one in allocation order (Notice
  2014-54, §III: direct rollovers take pre-tax money first, in the order ``docs/spec/extract.md`` fixes);
- :data:`EVENT`: every leg of the event — they are one distribution (Notice 2014-54, §III).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

CONTRACT = "contract"
POOL = "pool"
EARLIER_IN_POOL = "earlier_in_pool"
EVENT = "event"
SCOPES = (CONTRACT, POOL, EARLIER_IN_POOL, EVENT)


@dataclass(frozen=True)
class Sum:
    """The sum of ``of`` (an expression over one leg) over the legs of ``over`` (one of
    :data:`SCOPES`), broadcast to each leg."""

    of: pl.Expr
    over: str

    def __post_init__(self) -> None:
        if self.over not in SCOPES:
            raise ValueError(f"unknown scope {self.over!r}: one of {', '.join(SCOPES)}")


def over_contract(of: pl.Expr) -> Sum:
    """The sum of ``of`` over the event's legs on the leg's contract (§72(e)(8))."""
    return Sum(of, CONTRACT)


def over_pool(of: pl.Expr) -> Sum:
    """The sum of ``of`` over the event's legs on the leg's pool (Notice 2014-54, §III)."""
    return Sum(of, POOL)


def over_earlier_in_pool(of: pl.Expr) -> Sum:
    """The sum of ``of`` over the legs of the pool before this one in allocation order (Notice
    2014-54, §III)."""
    return Sum(of, EARLIER_IN_POOL)


def over_event(of: pl.Expr) -> Sum:
    """The sum of ``of`` over every leg of the event: one distribution (Notice 2014-54, §III)."""
    return Sum(of, EVENT)
