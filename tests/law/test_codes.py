"""Box 7 codes, the Roth qualified-distribution test and the boundaries the law draws."""

from datetime import date

import polars as pl
import pytest

from tests.builders import Case, contract_row, dist_row, one_contract_case, participant_row, payee_row


def codes_of(case: Case, did: str = "D1") -> str:
    return case.row(did)["distribution_codes"]


def cash_case(dob: date, pay: date, reason: str = "in_service", **participant) -> Case:
    case = one_contract_case(
        "non_roth",
        1_000_000,
        0,
        [("D1", 100_000, "cash")],
        dob=dob,
        reason=reason,
        participant=participant or None,
    )
    case.distributions[0]["payment_date"] = pay
    return case


def test_the_day_before_59_half_is_code_1_and_the_day_of_59_half_is_code_7():
    dob = date(1966, 1, 15)  # 59½ on 15 July 2025
    assert codes_of(cash_case(dob, date(2025, 7, 14))) == "1"
    assert codes_of(cash_case(dob, date(2025, 7, 15))) == "7"


def test_59_half_of_someone_born_on_31_august_falls_on_the_last_day_of_february():
    dob = date(1965, 8, 31)  # six calendar months after 31 Aug 2024 → 28 Feb 2025
    assert codes_of(cash_case(dob, date(2025, 2, 27))) == "1"
    assert codes_of(cash_case(dob, date(2025, 2, 28))) == "7"


def test_separation_in_the_year_of_55_gives_code_2_and_in_the_year_of_54_code_1():
    pay = date(2025, 6, 2)
    sep = date(2025, 1, 10)
    assert codes_of(cash_case(date(1970, 12, 31), pay, "separation", separation_date=sep)) == "2"
    assert codes_of(cash_case(date(1971, 1, 1), pay, "separation", separation_date=sep)) == "1"


def test_a_public_safety_employee_separating_in_the_year_of_50_gets_code_2():
    pay, sep = date(2025, 6, 2), date(2025, 1, 10)
    assert (
        codes_of(
            cash_case(date(1975, 3, 1), pay, "separation", separation_date=sep, public_safety_employee=True)
        )
        == "2"
    )
    assert codes_of(cash_case(date(1975, 3, 1), pay, "separation", separation_date=sep)) == "1"


def test_separation_after_the_payment_date_is_no_exception():
    assert (
        codes_of(
            cash_case(date(1969, 12, 1), date(2025, 3, 1), "separation", separation_date=date(2025, 5, 1))
        )
        == "1"
    )


def test_governmental_457b_money_is_outside_72t_unless_it_came_from_a_rollover():
    case = cash_case(date(1980, 1, 1), date(2025, 6, 2))
    case.plans[0]["plan_type"] = "457b_governmental"
    assert codes_of(case) == "2"
    case.distributions[0]["from_rollover_source"] = True
    assert codes_of(case) == "1"


def test_qdro_payment_to_an_alternate_payee_under_59_half_is_code_2():
    assert codes_of(cash_case(date(1980, 1, 1), date(2025, 6, 2), "qdro")) == "2"


def test_disabled_participant_under_59_half_is_code_3():
    assert codes_of(cash_case(date(1980, 1, 1), date(2025, 6, 2), "disability", disabled=True)) == "3"


def test_age_59_half_wins_over_disability():
    assert codes_of(cash_case(date(1950, 1, 1), date(2025, 6, 2), "disability", disabled=True)) == "7"


def beneficiary_case(destination: str, contract: str = "non_roth") -> Case:
    case = Case()
    case.payees = [
        payee_row("PY1", dob=date(1960, 1, 1)),
        payee_row("BEN", tin="400000009", dob=date(1990, 1, 1)),
    ]
    case.participants = [participant_row("PT1", "PY1", date_of_death=date(2025, 1, 5), roth_first_year=2010)]
    case.contracts = [contract_row("E1", contract, 1_000_000, 100_000)]
    case.distributions = [
        dist_row("D1", "E1", contract, 500_000, destination, payee_id="BEN", reason="death")
    ]
    return case


def test_death_gives_code_4_whatever_the_age_and_4g_on_a_direct_rollover():
    assert codes_of(beneficiary_case("cash")) == "4"
    assert codes_of(beneficiary_case("rollover_ira")) == "4G"
    assert codes_of(beneficiary_case("rollover_roth_ira", "roth")) == "4H"


def test_a_beneficiarys_roth_to_roth_plan_rollover_needs_three_codes_and_is_quarantined():
    result = beneficiary_case("rollover_roth_plan", "roth").run()
    assert result.distributions.height == 0
    assert result.rejected.row(0, named=True)["rule"] == "codes_over_two"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("qualified_loan_offset", "1M"), ("deemed_loan", "1L"), ("loan_offset", "1"), ("hardship", "1")],
)
def test_loan_and_hardship_codes_for_a_participant_under_59_half(reason, expected):
    assert codes_of(cash_case(date(1980, 1, 1), date(2025, 6, 2), reason)) == expected


def test_a_disabled_participants_loan_offset_pairs_m_with_2_because_3_does_not_pair_with_m():
    assert (
        codes_of(cash_case(date(1980, 1, 1), date(2025, 6, 2), "qualified_loan_offset", disabled=True))
        == "2M"
    )


def loan_offset_case(year: int, contract: str = "non_roth", **participant) -> Case:
    case = one_contract_case(
        contract,
        1_000_000,
        0,
        [("D1", 100_000, "cash")],
        dob=date(1980, 1, 1),
        reason="qualified_loan_offset",
        participant={"roth_first_year": 2006, **participant},
    )
    case.tax_year = year
    case.distributions[0]["payment_date"] = date(year, 6, 2)
    return case


@pytest.mark.parametrize(
    ("year", "participant", "non_roth", "roth"),
    [
        (2006, {}, "1", "1B"),
        (2017, {}, "1", "1B"),
        (2017, {"disabled": True}, "3", "2B"),
        (2018, {}, "1M", "BM"),
        (2018, {"disabled": True}, "2M", "BM"),
    ],
)
def test_code_m_marks_a_qualified_plan_loan_offset_only_from_2018(year, participant, non_roth, roth):
    # Code M (qualified plan loan offset) exists from the 2018 Form 1099-R: TCJA §13613 made the offset
    # rollable to the tax-return due date for amounts treated as distributed in taxable years beginning
    # after 31 Dec 2017. Before, a loan offset is reported "as you would any other actual distribution"
    # (i1099r, plan loan offsets): the age/exception code alone (B with it for Roth money).
    assert codes_of(loan_offset_case(year, **participant)) == non_roth
    assert codes_of(loan_offset_case(year, "roth", **participant)) == roth


@pytest.mark.parametrize(
    ("dob", "year", "expected"),
    [
        (date(1985, 1, 1), 2025, "8"),  # under 59½, taxable this year: 8 alone, no 1 (§72(t) does not apply)
        (date(1985, 1, 1), 2024, "P"),  # taxable in the prior year: P alone
        (date(1950, 1, 1), 2025, "8"),  # 59½ or older: 8 alone too
    ],
)
def test_corrective_distributions_are_coded_8_or_p_alone_by_the_taxable_year(dob, year, expected):
    # docs/spec/outputs.md v2 (issue 14): never 18, 1P, 28 — §401(k)(8)(D), §401(m)(7)(A), §402(g)(2)(C)
    case = cash_case(dob, date(2025, 3, 1), "corrective")
    case.distributions[0]["corrective_taxable_year"] = year
    assert codes_of(case) == expected


def roth_case(first_year: int, dob: date, reason: str = "separation", legs=None, **contract_kw) -> Case:
    case = one_contract_case(
        "roth",
        7_500_000,
        6_000_000,
        legs or [("D1", 6_000_000, "cash")],
        dob=dob,
        reason=reason,
        participant={"roth_first_year": first_year},
        **contract_kw,
    )
    return case


def test_roth_distribution_in_the_sixth_year_after_59_half_is_qualified_and_untaxed():
    # First year 2020: the 5-year period is 2020–2024; a 2025 payment at 60 is qualified.
    row = roth_case(2020, date(1965, 1, 10)).row("D1")
    assert (row["box2a_cents"], row["box5_cents"], row["distribution_codes"]) == (0, 4_800_000, "7B")


def test_roth_distribution_in_the_fifth_year_is_not_qualified_and_prorated_over_the_roth_account():
    # First year 2021: 2021–2025 not complete. $60,000 × $15,000 / $75,000 = $12,000 taxable.
    row = roth_case(2021, date(1965, 1, 10)).row("D1")
    assert (row["box2a_cents"], row["box5_cents"], row["distribution_codes"]) == (1_200_000, 4_800_000, "7B")


def test_roth_distribution_to_a_disabled_participant_is_coded_2b():
    case = roth_case(2010, date(1980, 1, 1), "disability")
    case.participants[0]["disabled"] = True
    row = case.row("D1")
    assert row["distribution_codes"] == "2B"
    assert row["box2a_cents"] == 0  # qualified: period complete and attributable to disability


@pytest.mark.parametrize(("reason", "expected"), [("qualified_loan_offset", "BM"), ("deemed_loan", "BL")])
def test_roth_loan_codes_are_bm_and_bl(reason, expected):
    assert codes_of(roth_case(2010, date(1980, 1, 1), reason)) == expected


def test_roth_corrective_distribution_is_8b_and_never_qualified():
    # 59½, first Roth year 2010: any other distribution would be qualified. A corrective one is not
    # (§402A(d)(2)(C)) and is not pro-rated: the $48,000 of Roth deferrals it returns are its basis
    # (corrective_basis_cents), the $12,000 of earnings are taxable.
    case = roth_case(2010, date(1950, 1, 1), "corrective")
    case.distributions[0]["corrective_taxable_year"] = 2025
    case.distributions[0]["corrective_basis_cents"] = 4_800_000
    row = case.row("D1")
    assert row["distribution_codes"] == "8B"
    assert (row["box2a_cents"], row["box5_cents"]) == (1_200_000, 4_800_000)


def test_roth_to_another_plans_roth_account_is_bg_with_nothing_taxable():
    row = roth_case(2021, date(1980, 1, 1), legs=[("D1", 7_500_000, "rollover_roth_plan")]).row("D1")
    assert (row["distribution_codes"], row["box2a_cents"], row["box5_cents"]) == ("BG", 0, 6_000_000)


def test_box_10_takes_the_irr_recapture_from_the_basis_of_a_nonqualified_early_roth_distribution():
    # Basis recovered $48,000; $5,000 of recent in-plan Roth rollover amounts still in the account.
    row = roth_case(2021, date(1985, 1, 1), "in_service", irr_recapture_cents=500_000).row("D1")
    assert (row["distribution_codes"], row["box10_cents"]) == ("1B", 500_000)


def test_box_10_is_empty_when_an_exception_to_72t_applies():
    row = roth_case(2021, date(1960, 1, 1), "in_service", irr_recapture_cents=500_000).row("D1")
    assert (row["distribution_codes"], row["box10_cents"]) == ("7B", 0)


def test_foreign_source_part_of_box_2a_follows_the_outputs_formula():
    # Untaxed U = $100,000 − $20,000 = $80,000, of it F = $20,000 foreign; box 2a $40,000 → $10,000.
    case = one_contract_case(
        "non_roth", 10_000_000, 2_000_000, [("D1", 5_000_000, "cash")], foreign_source_cents=2_000_000
    )
    row = case.row("D1")
    assert (row["box2a_cents"], row["foreign_source_cents"]) == (4_000_000, 1_000_000)


def test_the_engines_tabulated_codes_equal_the_rule_built_leg_by_leg_on_the_sample():
    # The engine reads box 7 from a table of every combination of its inputs, with the participant's
    # facts computed once per participant; the rule (transforms.law.codes.distribution_codes) built on
    # each leg's own joined columns must give the same entry for every disbursement of the sample.
    from pathlib import Path

    from flows.run.pipeline import load_and_validate
    from transforms.engine.legs import compute, joined
    from transforms.engine.resolver import Rules
    from transforms.law.params import TaxParameters

    loaded = load_and_validate(Path(__file__).resolve().parents[2] / "sample_data" / "extract")
    tables, p = loaded.validated.tables, TaxParameters.for_year(loaded.manifest.tax_year)
    result = compute(tables, p)
    legs = joined(tables)
    by_rule = legs.select(
        "distribution_id", Rules(p).expr("distribution_codes", legs.schema).alias("by_rule")
    )
    both = result.distributions.select("distribution_id", "distribution_codes").join(
        by_rule, on="distribution_id"
    )
    assert both.height == result.distributions.height > 4000
    assert both.filter(pl.col("distribution_codes") != pl.col("by_rule")).height == 0
    assert both["distribution_codes"].n_unique() > 10
