"""Facts about the participant on the payment date that decide the box 7 code (IRC §72(t)).

Each rule reads the disbursement joined with its participant (``date_of_birth``,
``date_of_death``, ``disabled``, ``separation_date``, ``public_safety_employee``), its plan
(``plan_type``) and the payment (``payment_date``, ``reason``, ``payee_id``,
``participant_payee_id``, ``from_rollover_source``).
"""

from __future__ import annotations

import polars as pl


def date_reaching_59_half(date_of_birth: pl.Expr, age_59_half_months: int) -> pl.Expr:
    """The day the participant reaches 59½: six calendar months after the 59th birthday
    (IRC §72(t)(2)(A)(i); i1099r code 7; ``docs/spec/outputs.md``). Computed as 714 calendar months after
    birth, the day clamped to the month's end (born 31 Aug → end of February).
    """
    return date_of_birth.dt.offset_by(f"{age_59_half_months}mo")


def is_59_half_on_payment(payment_date: pl.Expr, date_reaching_59_half: pl.Expr) -> pl.Expr:
    """Participant is 59½ or older on the payment date (i1099r code 7; §72(t)(2)(A)(i))."""
    return payment_date >= date_reaching_59_half


def paid_because_of_death(
    reason: pl.Expr,
    date_of_death: pl.Expr,
    payment_date: pl.Expr,
    payee_id: pl.Expr,
    participant_payee_id: pl.Expr,
) -> pl.Expr:
    """Payment to a beneficiary or estate because of the participant's death (i1099r code 4:
    "Use Code 4 regardless of the age of the participant to indicate payment to a decedent's
    beneficiary"; §72(t)(2)(A)(ii)). Reason ``death``, or any payment other than a QDRO payment made
    after the recorded date of death to someone other than the participant.
    """
    after_death = (
        date_of_death.is_not_null()
        & (date_of_death <= payment_date)
        & (payee_id != participant_payee_id)
        & (reason != "qdro")
    )
    return (reason == "death") | after_death


def is_disabled(disabled: pl.Expr) -> pl.Expr:
    """Participant totally and permanently disabled (§72(m)(7); §72(t)(2)(A)(iii); i1099r code 3)."""
    return disabled


def separation_in_year_of_age(
    separation_date: pl.Expr,
    date_of_birth: pl.Expr,
    public_safety_employee: pl.Expr,
    separation_age: int,
    public_safety_separation_age: pl.Expr,
) -> pl.Expr:
    """The participant's separation from service falls in or after the year they reach 55, or 50
    for a qualified public safety employee (§72(t)(2)(A)(v), (10); Tax Topic 558): a fact of the
    participant. Null without a separation. ``public_safety_separation_age`` is read on the payment
    date where it starts within the year (PPA 2006 §828(c)); null while not in force: the general
    age applies."""
    age = (
        pl.when(public_safety_employee)
        .then(public_safety_separation_age.fill_null(separation_age))
        .otherwise(separation_age)
    )
    reached = date_of_birth.dt.year().cast(pl.Int64) + age.cast(pl.Int64)
    return separation_date.dt.year().cast(pl.Int64) >= reached


def separated_in_or_after_year_of_55(
    separation_date: pl.Expr, payment_date: pl.Expr, separation_in_year_of_age: pl.Expr
) -> pl.Expr:
    """§72(t)(2)(A)(v): separation from service in or after the year the participant reaches 55 (the
    IRS reading, Tax Topic 558, i1099r code 2); 50 for a qualified public safety employee
    (§72(t)(10)), as the recordkeeper flags it. The separation must precede the payment.
    """
    return (
        separation_date.is_not_null() & (separation_date <= payment_date) & separation_in_year_of_age
    ).fill_null(False)


def governmental_457b_outside_72t(plan_type: pl.Expr, from_rollover_source: pl.Expr) -> pl.Expr:
    """§72(t)(9): a governmental 457(b) distribution is outside §72(t) except amounts attributable to
    rollovers in from other kinds of plans or IRAs (Tax Topic 558; i1099r 2025, code 2).
    """
    return (plan_type == "457b_governmental") & ~from_rollover_source


def qdro_payment(reason: pl.Expr) -> pl.Expr:
    """§72(t)(2)(C): payment to an alternate payee under a qualified domestic relations order."""
    return reason == "qdro"


def known_72t_exception(
    separated_in_or_after_year_of_55: pl.Expr, qdro_payment: pl.Expr, governmental_457b_outside_72t: pl.Expr
) -> pl.Expr:
    """An exception to the 10% additional tax is known (i1099r code 2 list): separation in or after
    the year of 55 (50), a QDRO payment, governmental 457(b) money not from a rollover source.
    """
    return separated_in_or_after_year_of_55 | qdro_payment | governmental_457b_outside_72t
