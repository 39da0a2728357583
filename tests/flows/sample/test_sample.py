"""The sample-extract generator writes extracts that keep every rule of docs/spec/extract.md, cover the cases
the engine must handle, are reproducible by seed, and carry the faults they are asked to carry.

The rules are checked here with polars directly, independently of the generator's own code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from flows.sample import FAULT_KINDS, generate_extract

TAX_YEAR = 2025
TABLES = ("plans", "payees", "participants", "contracts", "distributions", "control_totals")
CONTRACTS = ("non_roth", "after_tax", "roth")
DESTINATIONS = (
    "cash",
    "rollover_ira",
    "rollover_roth_ira",
    "rollover_plan",
    "rollover_roth_plan",
    "in_plan_roth_rollover",
)
REASONS = (
    "separation",
    "in_service",
    "hardship",
    "death",
    "disability",
    "required_minimum",
    "loan_offset",
    "qualified_loan_offset",
    "deemed_loan",
    "qdro",
    "corrective",
)
USPS = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA",
    "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR",
    "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", "VI", "AS", "MP",
}  # fmt: skip
REQUIRED_DISTRIBUTION_COLUMNS = (
    "distribution_id",
    "event_id",
    "participant_id",
    "payee_id",
    "plan_id",
    "payment_date",
    "contract",
    "amount_cents",
    "destination",
    "reason",
    "federal_withholding_cents",
)
NOT_ROLLED_OVER = ("hardship", "required_minimum", "corrective", "deemed_loan")
LOANS = ("loan_offset", "qualified_loan_offset", "deemed_loan")


def read(folder: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(folder / f"{name}.parquet") for name in TABLES}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, pl.DataFrame]:
    folder = tmp_path_factory.mktemp("small")
    generate_extract(folder, 1_500, seed=3, tax_year=TAX_YEAR)
    return read(folder)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[dict[str, pl.DataFrame], dict]:
    folder = tmp_path_factory.mktemp("sample")
    counts = generate_extract(folder, 5_000, seed=20250101, tax_year=TAX_YEAR)
    return read(folder), counts


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> tuple[dict[str, pl.DataFrame], dict, Path]:
    folder = tmp_path_factory.mktemp("faulty")
    counts = generate_extract(folder, 4_000, seed=9, tax_year=TAX_YEAR, fault_fraction=0.2)
    return read(folder), counts, folder


# ---------------------------------------------------------------------------------------------
# Independent rule checks: each returns the offending rows (empty when the rule holds)
# ---------------------------------------------------------------------------------------------
def drawn_per_contract(x: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return x["distributions"].group_by("event_id", "contract").agg(drawn=pl.col("amount_cents").sum())


def nonpositive_amount(x):
    return x["distributions"].filter(pl.col("amount_cents") <= 0)


def unknown_enum(x):
    d = x["distributions"]
    return d.filter(
        ~pl.col("destination").is_in(DESTINATIONS)
        | ~pl.col("reason").is_in(REASONS)
        | ~pl.col("contract").is_in(CONTRACTS)
    )


def dangling_reference(x):
    d = x["distributions"]
    return pl.concat(
        [
            d.filter(pl.col("participant_id").is_not_null()).join(
                x["participants"], on="participant_id", how="anti"
            ),
            d.join(x["payees"], on="payee_id", how="anti"),
            d.join(x["plans"], on="plan_id", how="anti"),
        ]
    )


def event_without_contracts(x):
    return x["distributions"].join(x["contracts"], on="event_id", how="anti")


def duplicate_distribution_id(x):
    return x["distributions"].filter(pl.col("distribution_id").is_duplicated())


def amount_above_value(x):
    return (
        drawn_per_contract(x)
        .join(x["contracts"], on=["event_id", "contract"])
        .filter(pl.col("drawn") > pl.col("value_cents"))
    )


def event_mixes_payee_or_date(x):
    keys = ("participant_id", "payee_id", "plan_id", "payment_date")
    return (
        x["distributions"]
        .group_by("event_id")
        .agg(pl.col(k).n_unique().alias(k) for k in keys)
        .filter(pl.any_horizontal(pl.col(k) > 1 for k in keys))
    )


def payment_outside_tax_year(x):
    return x["distributions"].filter(pl.col("payment_date").dt.year() != TAX_YEAR)


def all_same_digit(col: str) -> pl.Expr:
    return pl.any_horizontal(pl.col(col) == str(d) * 9 for d in range(10))


def malformed_tin_strict(x):
    return x["payees"].filter(~pl.col("tin").str.contains(r"^\d{9}$") | all_same_digit("tin"))


def missing_contract_row(x):
    d = x["distributions"].filter(pl.col("contract").is_in(CONTRACTS))
    with_rows = d.join(x["contracts"].select("event_id").unique(), on="event_id", how="semi")
    return with_rows.join(x["contracts"], on=["event_id", "contract"], how="anti")


def null_required_field(x):
    return x["distributions"].filter(
        pl.any_horizontal(pl.col(c).is_null() for c in REQUIRED_DISTRIBUTION_COLUMNS)
    )


def pre1987_basis_above_basis(x):
    return x["contracts"].filter(pl.col("pre1987_basis_cents") > pl.col("basis_cents"))


def nonresident_alien(x):
    return x["payees"].filter(~pl.col("us_person"))


def non_roth_to_rollover_roth_plan(x):
    return x["distributions"].filter(
        (pl.col("contract") != "roth") & (pl.col("destination") == "rollover_roth_plan")
    )


def hardship_rolled_over(x):
    return x["distributions"].filter(
        pl.col("reason").is_in(NOT_ROLLED_OVER) & (pl.col("destination") != "cash")
    )


FAULT_CHECKS = {
    "nonpositive_amount": nonpositive_amount,
    "unknown_enum": unknown_enum,
    "dangling_reference": dangling_reference,
    "event_without_contracts": event_without_contracts,
    "duplicate_distribution_id": duplicate_distribution_id,
    "amount_above_value": amount_above_value,
    "event_mixes_payee_or_date": event_mixes_payee_or_date,
    "payment_outside_tax_year": payment_outside_tax_year,
    "malformed_tin": malformed_tin_strict,
    "missing_contract_row": missing_contract_row,
    "null_required_field": null_required_field,
    "pre1987_basis_above_basis": pre1987_basis_above_basis,
    "nonresident_alien": nonresident_alien,
    "non_roth_to_rollover_roth_plan": non_roth_to_rollover_roth_plan,
    "hardship_rolled_over": hardship_rolled_over,
}


def events_with_people(x) -> pl.DataFrame:
    """One row per event with its participant, plan and payee facts."""
    ev = x["distributions"].group_by("event_id").agg(pl.all().first())
    part = x["participants"].rename({"payee_id": "own_payee_id", "plan_id": "participant_plan_id"})
    ev = ev.join(part, on="participant_id").join(x["plans"], on="plan_id")
    own = x["payees"].select(own_payee_id="payee_id", participant_dob="date_of_birth")
    return ev.join(own, on="own_payee_id")


def held_contracts(x) -> pl.DataFrame:
    ev = events_with_people(x)
    rows = [
        ev.select("event_id", contract=pl.lit("non_roth")),
        ev.filter(pl.col("after_tax_separately_accounted")).select("event_id", contract=pl.lit("after_tax")),
        ev.filter(pl.col("roth_first_year").is_not_null()).select("event_id", contract=pl.lit("roth")),
    ]
    return pl.concat(rows)


# ---------------------------------------------------------------------------------------------
# (1) A clean extract keeps every rule of docs/spec/extract.md
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_a_clean_extract_has_none_of_the_faults_the_pipeline_quarantines(small, fault):
    assert FAULT_CHECKS[fault](small).height == 0


def test_identifiers_are_unique_in_every_table(small):
    assert small["plans"].get_column("plan_id").is_unique().all()
    assert small["payees"].get_column("payee_id").is_unique().all()
    assert small["payees"].get_column("tin").is_unique().all()
    assert small["participants"].get_column("participant_id").is_unique().all()
    assert small["distributions"].get_column("distribution_id").is_unique().all()
    assert not small["contracts"].select("event_id", "contract").is_duplicated().any()
    assert not small["control_totals"].select("plan_id", "month").is_duplicated().any()


def test_participants_point_at_existing_plans_and_payees(small):
    p = small["participants"]
    assert p.join(small["plans"], on="plan_id", how="anti").height == 0
    assert p.join(small["payees"], on="payee_id", how="anti").height == 0
    assert small["contracts"].join(small["distributions"], on="event_id", how="anti").height == 0


def test_a_disbursement_is_paid_from_its_participants_plan(small):
    joined = small["distributions"].join(small["participants"], on="participant_id", suffix="_p")
    assert joined.filter(pl.col("plan_id") != pl.col("plan_id_p")).height == 0


def test_each_event_has_exactly_one_contracts_row_per_contract_the_participant_holds(small):
    expected = held_contracts(small).sort("event_id", "contract")
    actual = small["contracts"].select("event_id", "contract").sort("event_id", "contract")
    assert expected.equals(actual)


def test_contract_amounts_are_consistent(small):
    c = small["contracts"]
    money = (
        "value_cents",
        "basis_cents",
        "pre1987_basis_cents",
        "irr_recapture_cents",
        "foreign_source_cents",
    )
    assert c.filter(pl.any_horizontal(pl.col(m) < 0 for m in money)).height == 0
    untaxed = (pl.col("value_cents") - pl.col("basis_cents")).clip(0)
    assert c.filter(pl.col("foreign_source_cents") > untaxed).height == 0
    # The in-plan Roth rollover recapture is Roth money only and part of the Roth basis.
    assert c.filter((pl.col("contract") != "roth") & (pl.col("irr_recapture_cents") > 0)).height == 0
    assert c.filter(pl.col("irr_recapture_cents") > pl.col("basis_cents")).height == 0


def test_roth_contracts_need_a_first_roth_year_and_carry_no_pre1987_basis(small):
    roth = small["contracts"].filter(pl.col("contract") == "roth")
    assert roth.filter(pl.col("pre1987_basis_cents") != 0).height == 0
    ev = events_with_people(small).select("event_id", "roth_first_year")
    assert roth.join(ev, on="event_id").filter(pl.col("roth_first_year").is_null()).height == 0
    years = small["participants"].get_column("roth_first_year").drop_nulls()
    assert years.min() >= TAX_YEAR - 10 and years.max() <= TAX_YEAR


def test_governmental_457b_plans_hold_no_after_tax_money(small):
    g = small["plans"].filter(pl.col("plan_type") == "457b_governmental")
    assert not g.get_column("pre1987_recovery").any()
    assert not g.get_column("after_tax_separately_accounted").any()
    ev = events_with_people(small).select("event_id", "plan_type")
    c = small["contracts"].join(ev, on="event_id").filter(pl.col("plan_type") == "457b_governmental")
    assert c.filter(pl.col("contract") == "after_tax").height == 0
    assert c.filter((pl.col("contract") == "non_roth") & (pl.col("basis_cents") > 0)).height == 0


def test_only_moves_the_law_allows_appear(small):
    d = small["distributions"]
    roth_out = d.filter(
        (pl.col("contract") == "roth")
        & ~pl.col("destination").is_in(["cash", "rollover_roth_ira", "rollover_roth_plan"])
    )
    assert roth_out.height == 0
    assert d.filter(pl.col("reason").is_in(LOANS) & (pl.col("destination") != "cash")).height == 0
    assert hardship_rolled_over(small).height == 0
    assert non_roth_to_rollover_roth_plan(small).height == 0


def test_corrective_taxable_year_is_the_payment_year_or_the_year_before_and_only_for_corrections(small):
    d = small["distributions"]
    corrective = d.filter(pl.col("reason") == "corrective")
    assert corrective.get_column("corrective_taxable_year").is_in([TAX_YEAR, TAX_YEAR - 1]).all()
    assert (
        d.filter((pl.col("reason") != "corrective") & pl.col("corrective_taxable_year").is_not_null()).height
        == 0
    )


def test_money_from_a_rollover_source_is_flagged_only_in_governmental_457b_plans(small):
    joined = small["distributions"].join(small["plans"], on="plan_id")
    assert (
        joined.filter(pl.col("from_rollover_source") & (pl.col("plan_type") != "457b_governmental")).height
        == 0
    )


def test_beneficiaries_are_paid_after_the_death_and_are_never_the_participant(small):
    ev = events_with_people(small)
    death = ev.filter(pl.col("reason") == "death")
    assert death.height > 0
    assert (
        death.filter(
            pl.col("date_of_death").is_null() | (pl.col("payment_date") <= pl.col("date_of_death"))
        ).height
        == 0
    )
    assert death.filter(pl.col("payee_id") == pl.col("own_payee_id")).height == 0
    # Nobody is paid as a participant after dying.
    assert (
        ev.filter(
            pl.col("date_of_death").is_not_null() & (pl.col("payee_id") == pl.col("own_payee_id"))
        ).height
        == 0
    )
    qdro = ev.filter(pl.col("reason") == "qdro")
    assert qdro.filter(pl.col("payee_id") == pl.col("own_payee_id")).height == 0
    others = ev.filter(~pl.col("reason").is_in(["death", "qdro"]))
    assert others.filter(pl.col("payee_id") != pl.col("own_payee_id")).height == 0


def test_tins_zips_phones_and_states_have_the_canonical_shape(small):
    p = small["payees"]
    assert malformed_tin_strict(small).height == 0
    us = p.filter(pl.col("country") == "US")
    assert us.get_column("zip").str.contains(r"^\d{5}(\d{4})?$").all()
    assert us.get_column("state").is_in(sorted(USPS)).all()
    assert p.filter(pl.col("country") != "US").get_column("state").eq("").all()
    entity = p.filter(pl.col("tin_type") == "ein")
    assert entity.get_column("first_name").eq("").all() and entity.get_column("date_of_birth").is_null().all()
    assert p.get_column("tin_type").is_in(["ssn", "itin", "atin", "ein"]).all()
    plans = small["plans"]
    assert plans.get_column("payer_tin").str.contains(r"^\d{9}$").all()
    assert not plans.select(all_same_digit("payer_tin")).to_series().any()
    assert plans.get_column("payer_zip").str.contains(r"^\d{5}(\d{4})?$").all()
    assert plans.get_column("payer_phone").str.contains(r"^\d{10}$").all()
    assert plans.get_column("payer_state").is_in(sorted(USPS)).all()
    d = small["distributions"]
    assert d.get_column("state").drop_nulls().is_in(sorted(USPS)).all()
    with_state = d.filter(pl.col("state").is_not_null())
    assert with_state.get_column("state_payer_id").is_not_null().all()


def test_columns_have_the_canonical_types(small):
    d, c, p, pt = small["distributions"], small["contracts"], small["payees"], small["participants"]
    for col in (
        "amount_cents",
        "federal_withholding_cents",
        "state_withholding_cents",
        "local_withholding_cents",
    ):
        assert d.schema[col] == pl.Int64
    for col in (
        "value_cents",
        "basis_cents",
        "pre1987_basis_cents",
        "irr_recapture_cents",
        "foreign_source_cents",
    ):
        assert c.schema[col] == pl.Int64
    assert d.schema["payment_date"] == pl.Date
    assert p.schema["date_of_birth"] == pl.Date
    assert pt.schema["date_of_death"] == pl.Date and pt.schema["separation_date"] == pl.Date
    assert pt.schema["roth_first_year"] in (pl.Int32, pl.Int64)
    assert d.schema["corrective_taxable_year"] in (pl.Int32, pl.Int64)
    assert d.schema["rollover_order"] in (pl.Int32, pl.Int64)
    assert p.schema["us_person"] == pl.Boolean
    assert small["control_totals"].schema["month"] == pl.Date


def test_rollover_legs_carry_no_federal_withholding(small):
    d = small["distributions"]
    assert (
        d.filter((pl.col("destination") != "cash") & (pl.col("federal_withholding_cents") != 0)).height == 0
    )
    assert d.filter(pl.col("federal_withholding_cents") < 0).height == 0


def test_control_totals_add_up_the_distributions_by_plan_and_month(small):
    expected = (
        small["distributions"]
        .group_by("plan_id", month=pl.col("payment_date").dt.truncate("1mo"))
        .agg(
            gross_cents=pl.col("amount_cents").sum(),
            federal_withholding_cents=pl.col("federal_withholding_cents").sum(),
            disbursement_count=pl.len().cast(pl.Int64),
        )
        .sort("plan_id", "month")
    )
    assert small["control_totals"].sort("plan_id", "month").equals(expected)
    assert small["control_totals"].get_column("month").dt.day().eq(1).all()


def test_the_manifest_names_the_tax_year_and_a_fixed_creation_time(tmp_path):
    generate_extract(tmp_path, 10, seed=5, tax_year=2024, extract_id="x-1")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["extract_id"] == "x-1" and manifest["tax_year"] == 2024
    assert manifest["created_at"].startswith("2025-01-")
    assert set(manifest) == {"extract_id", "recordkeeper", "tax_year", "created_at"}


def test_a_payees_later_events_see_the_value_the_earlier_ones_left(sample):
    x, _ = sample
    ev = x["distributions"].group_by("event_id").agg(pl.col("payee_id", "plan_id", "payment_date").first())
    drawn = drawn_per_contract(x)
    c = (
        x["contracts"]
        .join(ev, on="event_id")
        .join(drawn, on=["event_id", "contract"], how="left")
        .with_columns(pl.col("drawn").fill_null(0))
        .sort("payee_id", "plan_id", "contract", "payment_date")
    )
    c = c.with_columns(
        prev_left=(pl.col("value_cents") - pl.col("drawn")).shift(1).over("payee_id", "plan_id", "contract"),
        prev_basis=pl.col("basis_cents").shift(1).over("payee_id", "plan_id", "contract"),
    ).filter(pl.col("prev_left").is_not_null())
    assert c.height > 100
    assert c.filter(pl.col("value_cents") != pl.col("prev_left")).height == 0
    assert c.filter(pl.col("basis_cents") > pl.col("prev_basis")).height == 0


# ---------------------------------------------------------------------------------------------
# (2) A 5,000-row sample covers what the engine must handle
# ---------------------------------------------------------------------------------------------
def test_the_sample_covers_every_plan_type_destination_and_reason(sample):
    x, _ = sample
    d = x["distributions"].join(x["plans"], on="plan_id")
    assert set(d.get_column("plan_type")) == {"401k", "403b", "457b_governmental"}
    assert set(d.get_column("destination")) == set(DESTINATIONS)
    assert set(d.get_column("reason")) == set(REASONS)
    assert set(d.get_column("contract")) == set(CONTRACTS)


def test_the_sample_has_separate_after_tax_accounts_and_grandfathered_pre1987_basis(sample):
    x, _ = sample
    c = x["contracts"].join(events_with_people(x).select("event_id", "pre1987_recovery"), on="event_id")
    assert c.filter(pl.col("contract") == "after_tax").height > 20
    grandfathered = c.filter(pl.col("pre1987_recovery") & (pl.col("pre1987_basis_cents") > 0))
    assert set(grandfathered.get_column("contract")) == {"non_roth", "after_tax"}
    assert c.filter(pl.col("basis_cents") > pl.col("value_cents")).height > 0
    assert c.filter(pl.col("irr_recapture_cents") > 0).height > 0
    assert c.filter(pl.col("foreign_source_cents") > 0).height > 0


def test_the_sample_has_roth_periods_both_complete_and_not(sample):
    x, _ = sample
    years = set(events_with_people(x).get_column("roth_first_year").drop_nulls())
    assert years == set(range(TAX_YEAR - 10, TAX_YEAR + 1))


def test_the_sample_has_beneficiaries_entities_and_alternate_payees(sample):
    x, _ = sample
    ev = events_with_people(x).join(x["payees"], on="payee_id")
    death = ev.filter(pl.col("reason") == "death")
    assert death.height > 10
    assert death.filter(pl.col("tin_type") == "ein").height > 0
    assert ev.filter(pl.col("reason") == "qdro").height > 5
    assert x["payees"].filter(pl.col("country") != "US").height > 0
    assert x["payees"].get_column("us_person").all()


def test_the_sample_has_payees_with_several_events_in_the_year(sample):
    x, _ = sample
    per_payee = x["distributions"].group_by("payee_id").agg(pl.col("event_id").n_unique().alias("n"))
    assert per_payee.filter(pl.col("n") >= 2).height > 20
    assert per_payee.get_column("n").max() >= 4


def test_the_sample_spans_the_age_boundaries_of_the_early_distribution_rules(sample):
    x, _ = sample
    ev = events_with_people(x).with_columns(
        age=TAX_YEAR - pl.col("participant_dob").dt.year(),
        half=pl.col("participant_dob").dt.offset_by("714mo"),
    )
    ages = set(ev.get_column("age"))
    assert {55, 59}.issubset(ages) and min(ages) < 55 and max(ages) >= 73
    reached = ev.filter(pl.col("half").dt.year() == TAX_YEAR)
    assert reached.filter(pl.col("payment_date") < pl.col("half")).height > 0
    assert reached.filter(pl.col("payment_date") >= pl.col("half")).height > 0
    sep_age = pl.col("separation_date").dt.year() - pl.col("participant_dob").dt.year()
    assert ev.filter(sep_age == 55).height > 0 and ev.filter(sep_age == 54).height > 0
    assert (
        ev.filter(pl.col("public_safety_employee") & (pl.col("plan_type") == "457b_governmental")).height > 0
    )
    assert ev.filter(pl.col("disabled")).height > 0


def test_the_sample_has_multi_destination_events(sample):
    x, _ = sample
    d = x["distributions"]
    per_event = d.group_by("event_id").agg(
        dests=pl.col("destination").n_unique(),
        cash=(pl.col("destination") == "cash").any(),
        roll=(pl.col("destination") != "cash").any(),
        pretax_to_ira=((pl.col("contract") == "non_roth") & (pl.col("destination") == "rollover_ira")).any(),
        after_tax_to_roth_ira=(
            (pl.col("contract") == "after_tax") & (pl.col("destination") == "rollover_roth_ira")
        ).any(),
    )
    assert per_event.filter(pl.col("dests") >= 2).height > 50
    assert per_event.filter(pl.col("cash") & pl.col("roll")).height > 10
    assert per_event.filter(pl.col("pretax_to_ira") & pl.col("after_tax_to_roth_ira")).height > 0
    assert d.get_column("rollover_order").is_not_null().sum() > 0
    assert d.filter(pl.col("from_rollover_source")).height > 0


def test_the_sample_has_events_that_empty_a_contract(sample):
    x, _ = sample
    closed = (
        drawn_per_contract(x)
        .join(x["contracts"], on=["event_id", "contract"])
        .filter(pl.col("drawn") == pl.col("value_cents"))
    )
    assert closed.height > 20


def test_the_sample_has_federal_state_and_local_withholding(sample):
    x, _ = sample
    d = x["distributions"]
    assert (
        d.filter((pl.col("destination") == "cash") & (pl.col("federal_withholding_cents") > 0)).height > 100
    )
    assert d.filter(pl.col("state_withholding_cents") > 0).height > 20
    assert d.filter(pl.col("state_payer_id").is_not_null()).height > 20
    assert d.filter(pl.col("locality").is_not_null() & (pl.col("local_withholding_cents") > 0)).height > 0


# ---------------------------------------------------------------------------------------------
# (3) Reproducible by seed, (5) exact row count
# ---------------------------------------------------------------------------------------------
def digest(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_the_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    generate_extract(tmp_path / "a", 800, seed=42, fault_fraction=0.1)
    generate_extract(tmp_path / "b", 800, seed=42, fault_fraction=0.1)
    generate_extract(tmp_path / "c", 800, seed=43, fault_fraction=0.1)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert len(a) == 7 and a == b
    assert a["distributions.parquet"] != c["distributions.parquet"]
    assert a["payees.parquet"] != c["payees.parquet"]


@pytest.mark.parametrize(("n", "fault_fraction"), [(1, 0.0), (2, 0.0), (37, 0.0), (1_234, 0.0), (999, 0.3)])
def test_the_extract_has_exactly_the_requested_number_of_disbursements(tmp_path, n, fault_fraction):
    counts = generate_extract(tmp_path, n, seed=n, fault_fraction=fault_fraction)
    assert pl.read_parquet(tmp_path / "distributions.parquet").height == n == counts["distributions"]


# ---------------------------------------------------------------------------------------------
# (4) Faults
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_a_faulty_extract_contains_each_kind_of_fault(faulty, fault):
    x, counts, _ = faulty
    assert counts["faults"][fault] > 0
    assert FAULT_CHECKS[fault](x).height > 0


def test_about_the_requested_fraction_of_events_is_corrupted_and_nothing_else_says_so(faulty):
    x, counts, folder = faulty
    assert x["distributions"].height == 4_000
    assert sum(counts["faults"].values()) == counts["faulty_events"] == round(0.2 * counts["events"])
    manifest = (folder / "manifest.json").read_text()
    assert "fault" not in manifest
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{t}.parquet" for t in TABLES] + ["manifest.json"]
    )
