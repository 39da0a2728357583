"""Pre-filing edit checks and the Form 945 tie-out."""

from datetime import date

import polars as pl
import pytest
from builders import one_contract_case

from transforms.edit_checks import filable, run_edit_checks, tieout_945
from transforms.params import TaxParameters

P = TaxParameters.for_year(2025)


@pytest.fixture(scope="module")
def base():
    case = one_contract_case("non_roth", 10_000_000, 0, [("D1", 1_000_000, "cash")], reason="separation")
    case.distributions[0]["federal_withholding_cents"] = 200_000  # exactly 20 % of $10,000
    return case.run()


def checks_on(result, **changes):
    forms = result.forms.with_columns(**{k: pl.lit(v) for k, v in changes.items()})
    return set(run_edit_checks(forms, result.legs, P)["check"])


def test_a_clean_form_passes_every_check(base):
    assert checks_on(base) == set()


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"payee_tin": "12345"}, "payee_tin_invalid"),
        ({"payee_tin": "000000000"}, "payee_tin_invalid"),
        ({"payer_tin": "999999999"}, "payer_tin_invalid"),
        ({"distribution_codes": "3B"}, "invalid_code_pair"),
        ({"box2a_cents": 2_000_000}, "box2a_above_box1"),
        ({"box5_cents": 2_000_000}, "box5_above_box1"),
        ({"box4_cents": 2_000_000}, "box4_above_box1"),
        ({"distribution_codes": ""}, "codes_missing"),
        ({"box1_cents": 999}, "under_filing_threshold"),
        ({"box4_cents": 199_999}, "withholding_below_20_percent"),
    ],
)
def test_each_edit_check_flags_what_it_names(base, changes, check):
    assert check in checks_on(base, **changes)


def test_a_roth_form_without_box_11_is_an_error():
    case = one_contract_case(
        "roth", 1_000_000, 500_000, [("D1", 100_000, "cash")], participant={"roth_first_year": 2015}
    )
    result = case.run()
    forms = result.forms.with_columns(pl.lit(None, pl.Int32).alias("box11_year"))
    assert "roth_without_box11" in set(run_edit_checks(forms, result.legs, P)["check"])


def test_withholding_below_20_percent_is_not_flagged_on_hardship_money():
    case = one_contract_case("non_roth", 10_000_000, 0, [("D1", 1_000_000, "cash")], reason="hardship")
    result = case.run()
    assert "withholding_below_20_percent" not in set(run_edit_checks(result.forms, result.legs, P)["check"])


def test_a_participant_born_before_1936_is_flagged_for_the_unmodeled_ten_year_option():
    case = one_contract_case("non_roth", 10_000_000, 0, [("D1", 10_000_000, "cash")], dob=date(1935, 5, 1))
    case.distributions[0]["federal_withholding_cents"] = 2_000_000
    result = case.run()
    assert set(run_edit_checks(result.forms, result.legs, P)["check"]) == {"ten_year_option_not_modeled"}


def test_errors_and_forms_under_10_dollars_are_kept_out_of_the_filing(base):
    forms = base.forms.with_columns(
        pl.lit(999).alias("box1_cents"), pl.lit(0).alias("box2a_cents"), pl.lit(0).alias("box4_cents")
    )
    checks = run_edit_checks(forms, base.legs, P)
    assert filable(forms, checks).height == 0
    assert filable(base.forms, run_edit_checks(base.forms, base.legs, P)).height == 1


def test_the_945_tie_out_sums_withholding_per_payer_and_month():
    case = one_contract_case("non_roth", 10_000_000, 0, [("D1", 1_000_000, "cash"), ("D2", 500_000, "cash")])
    case.distributions[0]["federal_withholding_cents"] = 200_000
    case.distributions[1]["federal_withholding_cents"] = 100_000
    t = tieout_945(case.run().legs)
    assert t.to_dicts() == [
        {
            "payer_tin": "123456780",
            "month": date(2025, 6, 1),
            "box4_cents": 300_000,
            "gross_cents": 1_500_000,
            "disbursements": 2,
        }
    ]
