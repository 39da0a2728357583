"""Pre-filing edit checks and the Form 945 tie-out."""

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import one_contract_case
from transforms.engine.edit_checks import edit_checks, filable, max_amount_cents, run_edit_checks, tieout_945
from transforms.irs.iris.iris_rules import DECISIONS, IMPLEMENTED, blocks
from transforms.law.params import TaxParameters

P = TaxParameters.for_year(2025)


class Run:
    """A case run through the engine, with the tables its forms come from."""

    def __init__(self, case):
        self.tables = case.validated().tables
        result = case.run()
        self.forms, self.legs = result.forms, result.legs


def run_checks(run: Run, forms=None, *, payees=None, plans=None, p=P) -> pl.DataFrame:
    parties = {"payees": payees if payees is not None else run.tables["payees"]}
    parties["plans"] = plans if plans is not None else run.tables["plans"]
    return run_edit_checks(run.forms if forms is None else forms, run.legs, p, parties)


@pytest.fixture(scope="module")
def base():
    case = one_contract_case("non_roth", 10_000_000, 0, [("D1", 1_000_000, "cash")], reason="separation")
    case.distributions[0]["federal_withholding_cents"] = 200_000  # exactly 20 % of $10,000
    return Run(case)


def checks_on(run, **changes):
    forms = run.forms.with_columns(**{k: pl.lit(v) for k, v in changes.items()})
    return set(run_checks(run, forms)["check"])


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
        ({"box3_cents": 2_000_000}, "box3_above_box1"),
        ({"box6_cents": 2_000_000}, "box6_above_box1"),
        ({"taxable_not_determined": True}, "taxable_amount_not_determined_with_box2a"),
        ({"box1_cents": 10**12, "box2a_cents": 10**12}, "amount_over_irs_field"),
        ({"state_withholding_cents": 10**12}, "amount_over_irs_field"),
        ({"local_distribution_cents": -1}, "amount_over_irs_field"),
    ],
)
def test_each_edit_check_flags_what_it_names(base, changes, check):
    assert check in checks_on(base, **changes)


#: Each IRIS rule an edit check enforces, and a change of a clean form (or of its payee or payer)
#: that breaks it: ("form" | "payee" | "plan", column, value).
IRIS_BREAKERS = {
    "F1099R001": ("form", "box4_cents", 2_000_000),
    "F1099R002": ("form", "box2a_cents", 2_000_000),
    "F1099R003": ("form", "box3_cents", 2_000_000),
    "F1099R005_001": ("form", "box6_cents", 2_000_000),
    "F1099R006": ("form", "taxable_not_determined", True),
    "SHAREDIRFORM016": ("payee", "address", "  ..  "),
    "SHAREDIRFORM023": ("form", "payee_tin", "12345"),
}


def test_every_iris_rule_an_edit_check_enforces_has_a_test_that_breaks_it():
    by_rule = {chk.irs_rule: chk for chk in edit_checks(P) if chk.irs_rule}
    enforced = {
        n for n, d in DECISIONS.items() if d.status == IMPLEMENTED and d.where.startswith("edit_check:")
    }
    assert set(by_rule) == enforced == set(IRIS_BREAKERS)
    for rule, chk in by_rule.items():
        assert DECISIONS[rule].where == f"edit_check:{chk.name}"
        assert (chk.severity == "error") == blocks(rule), rule


@pytest.mark.parametrize("rule", sorted(IRIS_BREAKERS))
def test_a_form_that_breaks_an_iris_rule_gets_its_check_with_the_rule_number(base, rule):
    where, column, value = IRIS_BREAKERS[rule]
    forms, payees = base.forms, base.tables["payees"]
    if where == "form":
        forms = forms.with_columns(pl.lit(value).alias(column))
    else:
        payees = payees.with_columns(pl.lit(value).alias(column))
    found = run_checks(base, forms, payees=payees).filter(pl.col("irs_rule") == rule)
    assert found.height == 1 and found["form_id"].to_list() == base.forms["form_id"].to_list()


@pytest.mark.parametrize(
    ("where", "column", "value", "check"),
    [
        ("payee", "last_name", "", "payee_name_unusable"),
        ("payee", "last_name", "\x01\x02", "payee_name_unusable"),
        ("payee", "last_name", "'.,;", "payee_name_unusable"),
        ("payee", "last_name", "\u4e2d\u6587", "payee_name_unusable"),  # no letter the IRS files carry
        ("payee", "city", "--", "payee_address_missing"),
        ("plan", "payer_name", "", "payer_name_unusable"),
        ("plan", "payer_name", "\x07", "payer_name_unusable"),
        ("plan", "payer_name", "!!!", "payer_name_unusable"),
    ],
)
def test_a_name_or_address_the_irs_files_cannot_carry_blocks_its_form(base, where, column, value, check):
    tables = {"payees": base.tables["payees"], "plans": base.tables["plans"]}
    key = "payees" if where == "payee" else "plans"
    tables[key] = tables[key].with_columns(pl.lit(value).alias(column))
    found = run_checks(base, **tables)
    assert found.filter(pl.col("check") == check)["severity"].to_list() == ["error"]


def test_a_name_with_accents_and_punctuation_is_usable(base):
    payees = base.tables["payees"].with_columns(pl.lit("O'Núñez-Łącki").alias("last_name"))
    assert run_checks(base, payees=payees).height == 0


def test_a_payee_in_a_us_possession_needs_a_state_and_a_zip_code(base):
    pr = base.tables["payees"].with_columns(
        pl.lit("PR").alias("country"), pl.lit(None, pl.String).alias("zip")
    )
    assert set(run_checks(base, payees=pr)["check"]) == {"payee_us_address_incomplete"}
    abroad = pr.with_columns(pl.lit("DE").alias("country"), pl.lit(None, pl.String).alias("state"))
    assert run_checks(base, payees=abroad).height == 0


def test_plans_that_give_one_payer_ein_two_names_block_every_form_of_that_payer(base):
    plans = pl.concat(
        [base.tables["plans"], base.tables["plans"].with_columns(pl.lit("P9").alias("plan_id"))]
    )
    assert run_checks(base, plans=plans).height == 0  # the same details: fine
    renamed = plans.with_columns(
        pl.when(pl.col("plan_id") == "P9")
        .then(pl.lit("Other Trust"))
        .otherwise("payer_name")
        .alias("payer_name")
    )
    assert set(run_checks(base, plans=renamed)["check"]) == {"payer_details_differ"}


def test_an_amount_of_10_billion_dollars_does_not_fit_the_irs_record():
    for year in (2025, 2026):
        assert max_amount_cents(TaxParameters.for_year(year)) == 10**12 - 1


def test_a_roth_form_without_box_11_is_an_error():
    case = one_contract_case(
        "roth", 1_000_000, 500_000, [("D1", 100_000, "cash")], participant={"roth_first_year": 2015}
    )
    run = Run(case)
    forms = run.forms.with_columns(pl.lit(None, pl.Int32).alias("box11_year"))
    assert "roth_without_box11" in set(run_checks(run, forms)["check"])


def test_withholding_below_20_percent_is_not_flagged_on_hardship_money():
    case = one_contract_case("non_roth", 10_000_000, 0, [("D1", 1_000_000, "cash")], reason="hardship")
    assert "withholding_below_20_percent" not in set(run_checks(Run(case))["check"])


def test_a_participant_born_before_1936_is_flagged_for_the_unmodeled_ten_year_option():
    case = one_contract_case("non_roth", 10_000_000, 0, [("D1", 10_000_000, "cash")], dob=date(1935, 5, 1))
    case.distributions[0]["federal_withholding_cents"] = 2_000_000
    assert set(run_checks(Run(case))["check"]) == {"ten_year_option_not_modeled"}


def test_errors_and_forms_under_10_dollars_are_kept_out_of_the_filing(base):
    forms = base.forms.with_columns(
        pl.lit(999).alias("box1_cents"), pl.lit(0).alias("box2a_cents"), pl.lit(0).alias("box4_cents")
    )
    checks = run_checks(base, forms)
    assert filable(forms, checks).height == 0
    assert filable(base.forms, run_checks(base)).height == 1


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


# ---- what the IRIS writer refuses (tax years filed through IRIS) ---------------------------------

#: One payee per condition the IRIS writer refuses (payee_row changes), with the check that says so.
IRIS_PAYEES = {
    "no first name": ({"first_name": None}, "iris_person_name"),
    "a last name of one 25-letter word": ({"last_name": "A" * 25}, "iris_person_name"),
    "an entity name over two lines": ({"tin_type": "ein", "last_name": "Trust " * 30}, "iris_business_name"),
    "a street of symbols": ({"address": "#$%"}, "iris_street"),
    "a street over two lines": ({"address": "Long " * 20}, "iris_street"),
    "a city with a digit": ({"city": "29 Palms"}, "iris_city"),
    "a country not on the IRS list": ({"country": "PS", "state": None, "zip": "P607"}, "iris_country"),
    "a state IRIS does not take": ({"state": "UM"}, "iris_payee_state"),
}
#: One plan or disbursement per condition (plan_row / dist_row changes).
IRIS_PLANS = {
    "a payer phone of 7 digits": ({"payer_phone": "5550100"}, "iris_payer"),
    "a payer city with a digit": ({"payer_city": "29 Palms"}, "iris_payer"),
}
IRIS_LEGS = {
    "a state id of 30 characters": ({"state": "CA", "state_payer_id": "X" * 30}, "iris_state_id"),
    "a locality of 25 characters": ({"locality": "Y" * 25}, "iris_locality"),
    "a box 15 state IRIS does not take": ({"state": "UM"}, "iris_state"),
}


def iris_case():
    """Tax year 2026: one good form (payee G, plan PG), then one form per condition above."""
    from tests.builders import Case, contract_row, dist_row, participant_row, payee_row, plan_row

    case = Case(tax_year=2026)
    case.plans, case.payees, case.participants, case.contracts, case.distributions = [], [], [], [], []
    expected = {}
    rows = [("G", {}, {}, {}, None)]
    rows += [(k, change, {}, {}, check) for k, (change, check) in IRIS_PAYEES.items()]
    rows += [(k, {}, change, {}, check) for k, (change, check) in IRIS_PLANS.items()]
    rows += [(k, {}, {}, change, check) for k, (change, check) in IRIS_LEGS.items()]
    for i, (_what, payee, plan, leg, check) in enumerate(rows):
        pid, tin = f"P{i}", f"{100000000 + i}"
        case.plans.append(plan_row(pid, payer_tin=f"{200000000 + i}", **plan))
        case.payees.append(payee_row(f"Y{i}", tin=tin, **payee))
        case.participants.append(participant_row(f"T{i}", f"Y{i}", plan_id=pid))
        case.contracts.append(contract_row(f"E{i}", "non_roth", 1_000_000, 0))
        case.distributions.append(
            dist_row(f"D{i}", f"E{i}", "non_roth", 100_000, participant_id=f"T{i}", payee_id=f"Y{i}",
                     plan_id=pid, payment_date=date(2026, 6, 2), **leg)
        )  # fmt: skip
        expected[f"Y{i}"] = check
    return case, expected


def test_in_an_iris_year_each_form_the_iris_writer_would_refuse_has_its_blocking_check():
    case, expected = iris_case()
    run = Run(case)
    checks = run_checks(run, p=TaxParameters.for_year(2026)).join(
        run.forms.select("form_id", "payee_id"), on="form_id"
    )
    errors = checks.filter(pl.col("severity") == "error")
    for payee_id, check in expected.items():
        found = set(errors.filter(pl.col("payee_id") == payee_id)["check"])
        assert (check in found) if check else not found, (payee_id, check, found)


def test_the_iris_writer_takes_every_form_the_edit_checks_let_through_and_refuses_every_other():
    from flows.irs.files import filing_frame
    from transforms.irs.iris.iris_xml import write_iris_xml
    from transforms.irs.shared import FilingInputError, Transmitter

    case, _ = iris_case()
    run = Run(case)
    checks = run_checks(run, p=TaxParameters.for_year(2026))
    filing = filing_frame(run.forms.lazy(), {k: v.lazy() for k, v in run.tables.items()}).collect()
    transmitter = Transmitter("123456789", "AB12C", "Ops", "Ops", "1 Main St", "Springfield", "IL", "62701",
                              "Tax Ops", "2175550100", "")  # fmt: skip
    ok = filable(run.forms, checks)["form_id"]
    assert ok.len() == 1  # the good form
    write_iris_xml(
        filing.filter(pl.col("form_id").is_in(ok.implode())), transmitter, tax_year=2026, test_file=True
    )
    for form_id in run.forms.filter(~pl.col("form_id").is_in(ok.implode()))["form_id"]:
        with pytest.raises(FilingInputError, match=form_id):
            write_iris_xml(
                filing.filter(pl.col("form_id") == form_id), transmitter, tax_year=2026, test_file=True
            )


def test_in_a_fire_year_the_iris_conditions_are_not_checked():
    run = Run(iris_case()[0])
    assert not any(chk.name.startswith("iris_") for chk in edit_checks(P))
    assert not run_checks(run, p=P)["check"].str.starts_with("iris_").any()


def test_the_plain_payee_shortcut_gives_the_iris_masks_exactly():
    from transforms.engine.edit_checks import _unwritable_payees
    from transforms.irs.shared import unwritable_name_address

    odd = pl.DataFrame(
        {
            "tin_type": ["ssn", "ein", "ssn", "ssn", "ssn", "ssn", "ein", "ssn", "ssn", "ssn"],
            "first_name": ["Ann", None, "A" * 21, "Jo-Ann", "Ann", "Ann", "", "Ann", "Zoë", "Ann"],
            "last_name": [
                "Lee",
                "Trust " * 30,
                "Lee",
                "O'Neil",
                "Lee",
                "Lee",
                "Acme",
                "Lee",
                "Lee",
                "A" * 20,
            ],
            "address": [
                "1 Main St",
                "2 Elm",
                "3 Oak",
                "4 Elm",
                "",
                "5 Elm " * 15,
                "6 Elm",
                "7 Elm",
                "8 Elm",
                "9 Elm",
            ],
            "city": [
                "Boston",
                "Boston",
                "Boston",
                "Boston",
                "Boston",
                "Boston",
                "29 Palms",
                "Paris",
                "Boston",
                "Boston",
            ],
            "country": ["US", "US", "US", "US", "US", "US", "US", "PS", "US", "US"],
        }
    )
    full = odd.select(mask.fill_null(True).alias(name) for name, _, mask in unwritable_name_address())
    assert _unwritable_payees(odd).equals(full)
    assert full.select(pl.any_horizontal(pl.all())).to_series().to_list() == [
        False, True, True, False, True, True, True, True, False, False,
    ]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(alphabet="aZ09 é中'.-\x01", max_size=30)), max_size=12))
def test_the_text_facts_computed_on_some_values_equal_those_computed_on_every_value(values):
    from transforms.engine.edit_checks import _refused, _unusable
    from transforms.irs.shared import clean_text, iris_locality, iris_state_id

    text = pl.Series("v", values, dtype=pl.String)
    every = clean_text(text)
    assert _unusable(text).to_list() == (~every.str.contains(r"[A-Z0-9]")).to_list()
    for normalise in (iris_state_id, iris_locality):
        assert _refused(text, normalise).to_list() == normalise(text).is_null().to_list()
