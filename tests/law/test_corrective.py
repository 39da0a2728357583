"""Corrective distributions (excess deferrals, excess contributions, excess aggregate contributions):
codes 8 / P alone, 4 for a beneficiary, 8B / BP for Roth money, box 10 empty, never qualified, and a
taxable amount that is not a pro-rata share (docs/spec/outputs.md "Which box 7 code"; docs/spec/extract.md
``corrective_basis_cents``; issue 14, point 1)."""

from datetime import date

import polars as pl
import pytest

from tests.builders import Case, contract_row, dist_row, one_contract_case
from tests.law.test_codes import beneficiary_case


def corrective(
    contract: str = "non_roth",
    *,
    value: int = 10_000_000,
    basis: int = 2_000_000,
    amount: int = 100_000,
    taxable_year: int = 2025,
    corrective_basis: int = 0,
    dob: date = date(1985, 1, 1),
    participant: dict | None = None,
    plan: dict | None = None,
    **contract_kw,
) -> Case:
    """One corrective leg D1 of ``amount`` paid in 2025 from ``contract`` (value, basis)."""
    participant = {"roth_first_year": 2010, **(participant or {})}
    case = one_contract_case(
        contract,
        value,
        basis,
        [("D1", amount, "cash")],
        reason="corrective",
        dob=dob,
        participant=participant,
        plan=plan,
        **contract_kw,
    )
    case.distributions[0]["corrective_taxable_year"] = taxable_year
    case.distributions[0]["corrective_basis_cents"] = corrective_basis
    return case


def boxes(case: Case) -> tuple:
    row = case.row("D1")
    return (row["distribution_codes"], row["box2a_cents"], row["box5_cents"], row["box10_cents"])


@pytest.mark.parametrize(
    ("participant", "dob"),
    [
        ({}, date(1985, 1, 1)),  # under 59½, no exception: would be code 1
        ({}, date(1950, 1, 1)),  # 59½ or older: would be code 7
        ({"disabled": True}, date(1985, 1, 1)),  # disabled: would be code 3
        ({"separation_date": date(2025, 1, 10)}, date(1970, 6, 1)),  # separated in the year of 55: code 2
    ],
)
def test_a_corrective_refund_is_coded_8_alone_whatever_the_participants_age_or_exception(participant, dob):
    assert boxes(corrective(participant=participant, dob=dob))[0] == "8"
    assert boxes(corrective(participant=participant, dob=dob, taxable_year=2024))[0] == "P"


def test_a_refund_of_excess_pretax_deferrals_from_an_account_with_after_tax_basis_is_all_taxable():
    # The case: $1,000 of excess pre-tax deferrals from an account whose basis is 20 % of
    # its value. Pro rata would report $800 taxable and $200 in box 5; the refund returns no basis.
    assert boxes(corrective(value=10_000_000, basis=2_000_000, amount=100_000)) == ("8", 100_000, 0, 0)


def test_the_corrective_basis_is_box_5_and_the_rest_of_the_refund_is_box_2a():
    # Excess aggregate contributions: $900 of after-tax contributions returned with $100 of earnings.
    row = corrective(amount=100_000, corrective_basis=90_000).row("D1")
    assert (row["pretax_cents"], row["basis_cents"]) == (10_000, 90_000)
    assert (row["box2a_cents"], row["box5_cents"]) == (10_000, 90_000)


def test_a_corrective_distribution_is_not_prorated_even_with_pre1987_basis_in_a_grandfathered_plan():
    case = corrective(
        amount=100_000,
        corrective_basis=25_000,
        plan={"pre1987_recovery": True},
        pre1987_basis_cents=1_000_000,
    )
    row = case.run().explain.row(0, named=True)
    assert (row["pre1987_tier_cents"], row["contract_basis_recovered_cents"]) == (0, 25_000)
    assert boxes(case) == ("8", 75_000, 25_000, 0)


def test_a_roth_corrective_distribution_is_8b_or_bp_with_nothing_in_box_10():
    # Under 59½, first Roth year 2021, $5,000 of recent in-plan Roth rollover amounts in the account:
    # any other early Roth distribution would put its basis in box 10 (test_codes). §72(t) does
    # not apply to a corrective distribution, so box 10 stays 0.
    kw = {"value": 7_500_000, "basis": 6_000_000, "amount": 1_000_000, "irr_recapture_cents": 500_000}
    participant = {"roth_first_year": 2021}
    assert boxes(corrective("roth", participant=participant, corrective_basis=800_000, **kw)) == (
        "8B",
        200_000,
        800_000,
        0,
    )
    assert boxes(corrective("roth", participant=participant, taxable_year=2024, **kw)) == (
        "BP",
        1_000_000,
        0,
        0,
    )


def test_a_roth_corrective_distribution_is_never_qualified():
    # 60 years old, Roth period complete (2010–2014): qualified for anything but a corrective
    # distribution (§402A(d)(2)(C)), whose earnings stay taxable.
    case = corrective("roth", value=7_500_000, basis=6_000_000, amount=1_000_000, corrective_basis=900_000)
    case.payees[0]["date_of_birth"] = date(1965, 1, 10)
    row = case.run().explain.row(0, named=True)
    assert row["roth_period_complete"] and not row["roth_qualified"]
    assert boxes(case) == ("8B", 100_000, 900_000, 0)


def beneficiary_corrective(contract: str) -> Case:
    """test_codes' beneficiary of PT1 (died 5 Jan 2025), paid a corrective distribution instead."""
    case = beneficiary_case("cash", contract)
    case.distributions[0].update(reason="corrective", corrective_taxable_year=2024, amount_cents=50_000)
    return case


def test_a_beneficiarys_corrective_distribution_adds_4_and_nothing_else():
    case = beneficiary_corrective("non_roth")
    assert case.row("D1")["distribution_codes"] == "4P"
    case.distributions[0]["corrective_taxable_year"] = 2025
    assert case.row("D1")["distribution_codes"] == "48"


def test_a_beneficiarys_roth_corrective_distribution_needs_three_codes_and_is_quarantined():
    result = beneficiary_corrective("roth").run()
    assert result.distributions.height == 0
    assert result.rejected.select("distribution_id", "rule").rows() == [("D1", "codes_over_two")]


def test_a_corrective_leg_in_an_event_with_another_leg_is_quarantined_as_corrective_not_alone():
    case = corrective(amount=100_000)
    case.distributions.append(
        dist_row("D2", "E1", "non_roth", 200_000, reason="corrective", corrective_taxable_year=2025)
    )
    case.distributions.append(dist_row("D3", "E1", "non_roth", 300_000, reason="in_service"))
    q = case.validated().quarantine.filter(pl.col("table") == "distributions").sort("key")
    assert q.select("key", "rule").rows() == [
        ("D1", "corrective_not_alone"),
        ("D2", "corrective_not_alone"),
        ("D3", "event_quarantined"),
    ]
    assert "event of its own" in q.row(0, named=True)["message"]


def test_two_corrective_refunds_in_events_of_their_own_are_both_reported():
    case = corrective(amount=100_000)
    case.contracts.append(contract_row("E2", "non_roth", 9_900_000, 2_000_000))
    case.distributions.append(
        dist_row("D2", "E2", "non_roth", 50_000, reason="corrective", corrective_taxable_year=2024)
    )
    d = case.run().distributions.sort("distribution_id")
    assert d.select("distribution_codes", "box2a_cents").rows() == [("8", 100_000), ("P", 50_000)]


@pytest.mark.parametrize(
    ("reason", "amount", "corrective_basis", "rule"),
    [
        ("corrective", 100_000, 100_001, "corrective_basis_invalid"),  # above the amount
        ("corrective", 100_000, -1, "corrective_basis_invalid"),  # negative
        ("in_service", 100_000, 5_000, "corrective_basis_invalid"),  # not a corrective leg
        ("corrective", 3_000_000, 2_500_000, "corrective_basis_above_contract_basis"),  # basis $20,000
    ],
)
def test_a_corrective_basis_outside_its_bounds_quarantines_the_event(reason, amount, corrective_basis, rule):
    case = corrective(amount=amount, corrective_basis=corrective_basis)
    case.distributions[0]["reason"] = reason
    q = case.validated().quarantine.filter(pl.col("table") == "distributions")
    assert q.select("key", "rule").rows() == [("D1", rule)]


def test_a_corrective_basis_equal_to_the_amount_makes_the_refund_wholly_nontaxable():
    assert boxes(corrective(amount=100_000, corrective_basis=100_000)) == ("8", 0, 100_000, 0)
