"""Facts about the participant on the payment date that decide the box 7 code (IRC §72(t)).

Each function returns a boolean expression over a frame of disbursements joined with the
participant (``date_of_birth``, ``date_of_death``, ``disabled``, ``separation_date``,
``public_safety_employee``), the plan (``plan_type``) and the payment (``payment_date``, ``reason``,
``payee_id``, ``participant_payee_id``, ``from_rollover_source``).
"""

from __future__ import annotations

import polars as pl

from transforms.params import TaxParameters


def date_reaching_59_half(p: TaxParameters) -> pl.Expr:
    """The day the participant reaches 59½: six calendar months after the 59th birthday
    (IRC §72(t)(2)(A)(i); i1099r code 7; ``docs/spec/outputs.md``). Computed as 714 calendar
    months after birth, the day clamped to the month's end (born 31 Aug → end of February).
    """
    return pl.col("date_of_birth").dt.offset_by(f"{p.age_59_half_months}mo")


def is_59_half_on_payment(p: TaxParameters, reached: pl.Expr | None = None) -> pl.Expr:
    """Participant is 59½ or older on the payment date (i1099r code 7; §72(t)(2)(A)(i)).
    ``reached`` may name a column already holding :func:`date_reaching_59_half` (the engine
    computes it once per participant)."""
    reached = date_reaching_59_half(p) if reached is None else reached
    return pl.col("payment_date") >= reached


def paid_because_of_death() -> pl.Expr:
    """Payment to a beneficiary or estate because of the participant's death (i1099r code 4:
    "Use Code 4 regardless of the age of the participant to indicate payment to a decedent's
    beneficiary"; §72(t)(2)(A)(ii)). Reason ``death``, or any payment other than a QDRO payment made
    after the recorded date of death to someone other than the participant.
    """
    after_death = (
        pl.col("date_of_death").is_not_null()
        & (pl.col("date_of_death") <= pl.col("payment_date"))
        & (pl.col("payee_id") != pl.col("participant_payee_id"))
        & (pl.col("reason") != "qdro")
    )
    return (pl.col("reason") == "death") | after_death


def is_disabled() -> pl.Expr:
    """Participant totally and permanently disabled (§72(m)(7); §72(t)(2)(A)(iii); i1099r code 3)."""
    return pl.col("disabled")


def separation_in_year_of_age(p: TaxParameters, public_safety_age: pl.Expr | None = None) -> pl.Expr:
    """The participant's separation from service falls in or after the year they reach 55, or 50
    for a qualified public safety employee (§72(t)(2)(A)(v), (10); Tax Topic 558): a fact of the
    participant alone, computed once per participant by the engine. Null without a separation.
    ``public_safety_age``: the §72(t)(10) age where it is not the year's (a leg's payment date
    before the exception's start, :func:`separated_in_or_after_year_of_55`); null = not in force,
    the general age applies."""
    public_safety_age = (
        pl.lit(p.public_safety_separation_age) if public_safety_age is None else public_safety_age
    )
    age = (
        pl.when(pl.col("public_safety_employee"))
        .then(public_safety_age.fill_null(p.separation_age))
        .otherwise(p.separation_age)
    )
    return pl.col("separation_date").dt.year().cast(pl.Int64) >= pl.col("date_of_birth").dt.year().cast(
        pl.Int64
    ) + age.cast(pl.Int64)


def separated_in_or_after_year_of_55(p: TaxParameters, in_year_of_age: pl.Expr | None = None) -> pl.Expr:
    """§72(t)(2)(A)(v): separation from service in or after the year the participant reaches 55 (the
    IRS reading, Tax Topic 558, i1099r code 2); 50 for a qualified public safety employee
    (§72(t)(10)), as the recordkeeper flags it. The separation must precede the payment.
    ``in_year_of_age`` may name a column already holding :func:`separation_in_year_of_age`.
    """
    if in_year_of_age is None or p.changes_of("public_safety_separation_age"):
        # the §72(t)(10) age starts within the year (PPA 2006 §828(c)): read per payment date
        in_year_of_age = separation_in_year_of_age(p, p.on_payment_date("public_safety_separation_age"))
    return (
        pl.col("separation_date").is_not_null()
        & (pl.col("separation_date") <= pl.col("payment_date"))
        & in_year_of_age
    ).fill_null(False)


def governmental_457b_outside_72t() -> pl.Expr:
    """§72(t)(9): a governmental 457(b) distribution is outside §72(t) except amounts attributable to
    rollovers in from other kinds of plans or IRAs (Tax Topic 558; i1099r 2025, code 2).
    """
    return (pl.col("plan_type") == "457b_governmental") & ~pl.col("from_rollover_source")


def qdro_payment() -> pl.Expr:
    """§72(t)(2)(C): payment to an alternate payee under a qualified domestic relations order."""
    return pl.col("reason") == "qdro"


def known_72t_exception(p: TaxParameters, in_year_of_age: pl.Expr | None = None) -> pl.Expr:
    """An exception to the 10% additional tax is known (i1099r code 2 list): separation in or after
    the year of 55 (50), a QDRO payment, governmental 457(b) money not from a rollover source.
    ``in_year_of_age``: see :func:`separated_in_or_after_year_of_55`.
    """
    separated = separated_in_or_after_year_of_55(p, in_year_of_age)
    return separated | qdro_payment() | governmental_457b_outside_72t()
