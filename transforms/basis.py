"""§72(e)(8): the basis (investment in the contract) recovered by one event's draw on one contract.

Each contract of a plan is its own §72 contract: the designated Roth account (§402A(d)(4)), a
separately accounted after-tax account (§72(d)(2)), and the rest (``non_roth``). The functions here
work on a frame with one row per (event, contract) holding ``draw_cents`` (D), ``value_cents`` (V),
``basis_cents`` (B), ``pre1987_basis_cents`` (P) and the plan's ``pre1987_recovery`` flag.
"""

from __future__ import annotations

import polars as pl

from transforms.money import mul_div_half_up

D, V, B, P = (pl.col(c) for c in ("draw_cents", "value_cents", "basis_cents", "pre1987_basis_cents"))


def takes_whole_contract() -> pl.Expr:
    """The event pays out the whole vested value of the contract (D = V).

    A contract paid out whole recovers all its remaining basis, never more than the amount paid:
    ``min(D, B)`` (``docs/spec/extract.md``, "Allocation within an event"; §72(e)(8)(B) with
    the ratio IVC/AB applied to the whole balance; basis above value is capped at the amount).
    """
    return D == V


def pre1987_tier() -> pl.Expr:
    """IRC §72(e)(8)(D): in a plan that on 5 May 1986 allowed in-service withdrawal of employee
    contributions, the distribution is first tax-free up to the pre-1987 basis not yet recovered,
    ``t = min(D, P)``; only the excess is pro-rated. Pub 575 (2004): "Apply the allocation ... only
    to any excess distribution." 0 in other plans.
    """
    return pl.when(pl.col("pre1987_recovery")).then(pl.min_horizontal(D, P)).otherwise(0)


def prorata_basis(draw: pl.Expr, basis: pl.Expr, value: pl.Expr, wide: bool = True) -> pl.Expr:
    """IRC §72(e)(8)(B): the part of an amount received that "bears the same ratio to such amount as
    the investment in the contract bears to the account balance", rounded half-up to the cent and
    capped at the draw and at the basis: ``min(D, B, (2·D·B + V) div (2·V))`` (``docs/spec/extract.md``).
    The account balance is the vested value (§72(e)(8)(C)). ``wide``: see
    :func:`transforms.money.mul_div_half_up`.
    """
    return pl.min_horizontal(draw, basis, mul_div_half_up(draw, basis, value, wide))


def basis_recovered(tier: pl.Expr | None = None, wide: bool = True) -> pl.Expr:
    """Basis recovered by the event's draw on one contract (§72(e)(8)(B), (D); §72(d)(2); §402A(d)(4)).

    Whole contract: ``min(D, B)``. Otherwise the pre-1987 tier ``t`` first, then the rest of the
    draw pro rata with basis ``B − t`` and value ``V − t``. Project convention for the remainder
    (``docs/reference/tax-rules.md`` b.5, open question 4; ``docs/spec/extract.md``): the balance after the first tier.
    ``tier`` may name a column already holding :func:`pre1987_tier` (faster on large frames);
    ``wide``: see :func:`transforms.money.mul_div_half_up`.
    """
    t = pre1987_tier() if tier is None else tier
    partial = t + prorata_basis(D - t, B - t, V - t, wide)
    return pl.when(takes_whole_contract()).then(pl.min_horizontal(D, B)).otherwise(partial)


def corrective_distribution() -> pl.Expr:
    """The leg is a corrective distribution of excess deferrals, excess contributions or excess
    aggregate contributions (§402(g)(2), §401(k)(8), §401(m)(6); docs/spec/extract.md reason ``corrective``)."""
    return pl.col("reason") == "corrective"


def corrective_basis(corrective: pl.Expr, prorated: pl.Expr) -> pl.Expr:
    """A corrective distribution returns specific amounts, not a share of the account, so
    §72(e)(8) does not pro-rate it (docs/spec/extract.md, ``corrective_basis_cents``): its basis is the part
    that returns after-tax or designated Roth contributions already taxed, and the rest — the
    excess pre-tax deferrals or contributions and the earnings on all of it (§402(g)(2)(A)(ii),
    §401(k)(8)(A)(i)) — is pre-tax. A corrective leg is an event of its own, so its draw on the
    contract is its amount. ``corrective``: :func:`corrective_distribution`; ``prorated``: the
    §72(e)(8) basis (:func:`basis_recovered`) of every other leg."""
    return pl.when(corrective).then(pl.col("corrective_basis_cents")).otherwise(prorated)
