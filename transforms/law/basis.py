"""§72(e)(8): the basis (investment in the contract) recovered by one event's draw on one contract.

Each contract of a plan is its own §72 contract: the designated Roth account (§402A(d)(4)), a
separately accounted after-tax account (§72(d)(2)), and the rest (``non_roth``). The rules here read
one leg joined with its contract row — the contract's vested value (``value_cents``, V), its basis
(``contract_basis_cents``, B), its pre-1987 basis (``pre1987_basis_cents``, P) and the plan's
``pre1987_recovery`` flag — and the event's draw on the contract (:func:`draw_cents`, D).
"""

from __future__ import annotations

import polars as pl

from transforms.law.money import mul_div_half_up, multiplies_amounts
from transforms.law.scopes import Sum, over_contract


def draw_cents(amount_cents: pl.Expr) -> Sum:
    """D: the event's whole draw on the contract, the amounts of its legs on that contract (§72(e)(8):
    the amount received from the contract; all disbursements of an event are one distribution,
    Notice 2014-54, §III)."""
    return over_contract(amount_cents)


def whole_contract(draw_cents: pl.Expr, value_cents: pl.Expr) -> pl.Expr:
    """The event pays out the whole vested value of the contract (D = V).

    A contract paid out whole recovers all its remaining basis, never more than the amount paid:
    ``min(D, B)`` (``docs/spec/extract.md``, "Allocation within an event"; §72(e)(8)(B) with the ratio IVC/AB
    applied to the whole balance; basis above value is capped at the amount).
    """
    return draw_cents == value_cents


def corrective_distribution(reason: pl.Expr) -> pl.Expr:
    """The leg is a corrective distribution of excess deferrals, excess contributions or excess
    aggregate contributions (§402(g)(2), §401(k)(8), §401(m)(6); docs/spec/extract.md reason ``corrective``)."""
    return reason == "corrective"


def pre1987_tier_cents(
    corrective_distribution: pl.Expr,
    pre1987_recovery: pl.Expr,
    draw_cents: pl.Expr,
    pre1987_basis_cents: pl.Expr,
) -> pl.Expr:
    """IRC §72(e)(8)(D): in a plan that on 5 May 1986 allowed in-service withdrawal of employee
    contributions, the distribution is first tax-free up to the pre-1987 basis not yet recovered,
    ``t = min(D, P)``; only the excess is pro-rated. Pub 575 (2004): "Apply the allocation ... only
    to any excess distribution." 0 in other plans, and for a corrective distribution, which is not
    pro-rated at all (:func:`contract_basis_recovered_cents`).
    """
    return (
        pl.when(corrective_distribution)
        .then(0)
        .when(pre1987_recovery)
        .then(pl.min_horizontal(draw_cents, pre1987_basis_cents))
        .otherwise(0)
    )


def _pro_rata(draw: pl.Expr, basis: pl.Expr, value: pl.Expr) -> pl.Expr:
    """IRC §72(e)(8)(B): the part of an amount received that "bears the same ratio to such amount as
    the investment in the contract bears to the account balance", rounded half-up to the cent and
    capped at the draw and at the basis: ``min(D, B, (2·D·B + V) div (2·V))`` (``docs/spec/extract.md``).
    The account balance is the vested value (§72(e)(8)(C))."""
    return pl.min_horizontal(draw, basis, mul_div_half_up(draw, basis, value))


@multiplies_amounts
def prorated_basis_cents(
    draw_cents: pl.Expr,
    contract_basis_cents: pl.Expr,
    value_cents: pl.Expr,
    pre1987_tier_cents: pl.Expr,
    whole_contract: pl.Expr,
) -> pl.Expr:
    """Basis recovered by the event's draw on one contract (§72(e)(8)(B), (D); §72(d)(2); §402A(d)(4)).

    Whole contract: ``min(D, B)``. Otherwise the pre-1987 tier ``t`` first, then the rest of the
    draw pro rata with basis ``B − t`` and value ``V − t``. Project convention for the remainder
    (``docs/reference/tax-rules.md`` b.5, open question 4; ``docs/spec/extract.md``): the balance after the first tier.
    """
    t = pre1987_tier_cents
    partial = t + _pro_rata(draw_cents - t, contract_basis_cents - t, value_cents - t)
    return (
        pl.when(whole_contract).then(pl.min_horizontal(draw_cents, contract_basis_cents)).otherwise(partial)
    )


def contract_basis_recovered_cents(
    corrective_distribution: pl.Expr, corrective_basis_cents: pl.Expr, prorated_basis_cents: pl.Expr
) -> pl.Expr:
    """The basis the event's draw on the contract recovers. A corrective distribution returns
    specific amounts, not a share of the account, so §72(e)(8) does not pro-rate it (docs/spec/extract.md,
    ``corrective_basis_cents``): its basis is the part that returns after-tax or designated Roth
    contributions already taxed, and the rest — the excess pre-tax deferrals or contributions and
    the earnings on all of it (§402(g)(2)(A)(ii), §401(k)(8)(A)(i)) — is pre-tax. A corrective leg
    is an event of its own, so its draw on the contract is its amount. Every other leg: the
    §72(e)(8) basis (:func:`prorated_basis_cents`)."""
    return pl.when(corrective_distribution).then(corrective_basis_cents).otherwise(prorated_basis_cents)
