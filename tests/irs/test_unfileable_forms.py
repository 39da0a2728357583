"""One bad value never sinks a run (issue 18): every condition under which the IRS writers refuse a
return is a blocking edit check on that form, computed before writing; `prorata run` exits 0, files
the other forms and names the bad one in edit_checks.parquet."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from flows.cli.main import main
from tests.builders import Case, contract_row, dist_row, participant_row, payee_row, plan_row
from transforms.irs import read_pub1220


def case_with(
    tax_year: int, bad_payee: dict | None = None, bad_plan: dict | None = None, amount: int = 100_000, **leg
):
    """Three plans: P1 and P3 pay the good payees PY1 and PY3; P2 pays PY2, whose payee row, plan
    row or disbursement carries the bad value."""
    pay = date(tax_year, 6, 2)
    case = Case(tax_year=tax_year)
    case.plans = [
        plan_row("P1"),
        plan_row("P2", **{"payer_tin": "223456780", **(bad_plan or {})}),
        plan_row("P3", payer_tin="323456780"),
    ]
    case.payees = [
        payee_row("PY1"),
        payee_row("PY2", tin="400000002", **(bad_payee or {})),
        payee_row("PY3", tin="400000003"),
    ]
    case.participants = [
        participant_row("PT1", "PY1"),
        participant_row("PT2", "PY2", plan_id="P2"),
        participant_row("PT3", "PY3", plan_id="P3"),
    ]
    case.contracts = [
        contract_row("E1", "non_roth", 1_000_000, 0),
        contract_row("E2", "non_roth", 2 * 10**12, 0),
        contract_row("E3", "non_roth", 1_000_000, 0),
    ]
    case.distributions = [
        dist_row("D1", "E1", "non_roth", 100_000, payment_date=pay),
        dist_row(
            "D2",
            "E2",
            "non_roth",
            amount,
            participant_id="PT2",
            payee_id="PY2",
            plan_id="P2",
            payment_date=pay,
            **leg,
        ),
        dist_row(
            "D3",
            "E3",
            "non_roth",
            100_000,
            participant_id="PT3",
            payee_id="PY3",
            plan_id="P3",
            payment_date=pay,
        ),
    ]
    return case


#: (what is bad, the case, the check that blocks the form)
CONDITIONS = {
    "empty last name": (dict(bad_payee={"last_name": ""}), "payee_name_unusable"),
    "last name of control characters": (dict(bad_payee={"last_name": "\x01\x1b\x7f"}), "payee_name_unusable"),
    "last name of punctuation": (dict(bad_payee={"last_name": "'.-,"}), "payee_name_unusable"),
    "empty payer name": (dict(bad_plan={"payer_name": ""}), "payer_name_unusable"),
    "payer name of control characters": (dict(bad_plan={"payer_name": "\x00\x07"}), "payer_name_unusable"),
    "payer name of punctuation": (dict(bad_plan={"payer_name": "..."}), "payer_name_unusable"),
    "gross of $10 billion": (dict(amount=10**12), "amount_over_irs_field"),
    "withholding of $10 billion": (
        dict(amount=2 * 10**12, federal_withholding_cents=10**12),
        "amount_over_irs_field",
    ),
    "state withholding of $10 billion": (
        dict(amount=2 * 10**12, state="CA", state_withholding_cents=10**12),
        "amount_over_irs_field",
    ),
    "Puerto Rico address without a ZIP code": (
        dict(bad_payee={"country": "PR", "state": "PR", "zip": None}),
        "payee_us_address_incomplete",
    ),
    "two payer names for one EIN": (
        dict(bad_plan={"payer_tin": "123456780", "payer_name": "Other Trust"}),
        "payer_details_differ",
    ),
}


#: What only the IRIS writer refuses (tax years filed through IRIS).
IRIS_CONDITIONS = {
    "no first name": (dict(bad_payee={"first_name": None}), "iris_person_name"),
    "a city with a digit": (dict(bad_payee={"city": "29 Palms"}), "iris_city"),
    "a country not on the IRS list": (
        dict(bad_payee={"country": "PS", "state": None, "zip": "P607"}),
        "iris_country",
    ),
    "a payer phone of 7 digits": (dict(bad_plan={"payer_phone": "5550100"}), "iris_payer"),
    "a state id of 30 characters": (dict(state="CA", state_payer_id="X" * 30), "iris_state_id"),
    "a locality of 25 characters": (dict(locality="Y" * 25), "iris_locality"),
}
CONDITIONS_2026 = CONDITIONS | IRIS_CONDITIONS

#: The payees whose forms a check blocks: PY2's, or every form of P1's EIN when P2 takes it.
BLOCKED = {check: ["PY2"] for _, check in CONDITIONS_2026.values()} | {"payer_details_differ": ["PY1", "PY2"]}


def run(case: Case, tmp_path) -> tuple[int, pl.DataFrame, dict]:
    extract = case.write(tmp_path / "extract")
    out = tmp_path / "out"
    code = main(["run", str(extract), "--out", str(out), "--no-prefect", "--quiet"])
    if code != 0:
        return code, pl.DataFrame(), {}
    checks = pl.read_parquet(out / "edit_checks.parquet")
    forms = pl.read_parquet(out / "forms.parquet").join(
        checks.select("form_id", "check", "severity"), on="form_id", how="left"
    )
    return code, forms, json.loads((out / "manifest.json").read_text())


def blocked_run(tax_year: int, what: str, tmp_path, capsys) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """The run of the case ``what`` must exit 0: its forms (with their checks), the forms blocked
    by the condition's check (which must be there, an error) and the manifest."""
    kwargs, check = CONDITIONS_2026[what]
    code, forms, manifest = run(case_with(tax_year, **kwargs), tmp_path)
    assert code == 0, capsys.readouterr().err
    bad = forms.filter(pl.col("payee_id").is_in(BLOCKED[check]))
    assert bad.filter(pl.col("check") == check)["severity"].unique().to_list() == ["error"]
    filed = forms.filter(~pl.col("form_id").is_in(bad["form_id"].implode()))
    assert manifest["irs_filing"]["returns"] == filed["form_id"].n_unique() == 3 - len(BLOCKED[check])
    return filed, bad, manifest


@pytest.mark.slow
@pytest.mark.parametrize("what", sorted(CONDITIONS))
def test_a_form_the_fire_writer_would_refuse_is_blocked_and_the_run_files_the_rest(what, tmp_path, capsys):
    filed, _, _ = blocked_run(2025, what, tmp_path, capsys)
    payees = read_pub1220((tmp_path / "out" / "irs" / "FIRE_1099R_2025.txt").read_bytes()).payees
    assert sorted(payees["account_number"].str.strip_chars()) == sorted(filed["account_number"].unique())


@pytest.mark.slow
@pytest.mark.parametrize("what", sorted(CONDITIONS_2026))
def test_a_form_the_iris_writer_would_refuse_is_blocked_and_the_run_files_the_rest(what, tmp_path, capsys):
    filed, bad, _ = blocked_run(2026, what, tmp_path, capsys)
    (transmission,) = (tmp_path / "out" / "irs").glob("IRIS_1099R_2026_*.xml")
    xml = transmission.read_text()
    assert all(form_id.upper() in xml for form_id in filed["form_id"])
    assert not any(form_id.upper() in xml for form_id in bad["form_id"])


def test_plans_of_one_payer_ein_in_different_plan_batches_are_both_blocked(tmp_path):
    from flows.run.pipeline import run_pipeline

    kwargs, _ = CONDITIONS["two payer names for one EIN"]
    extract = case_with(2025, **kwargs).write(tmp_path / "extract")
    run_pipeline(extract, tmp_path / "out", batch_rows=1)  # one plan per batch
    checks = pl.read_parquet(tmp_path / "out" / "edit_checks.parquet")
    assert sorted(checks.filter(pl.col("check") == "payer_details_differ")["plan_id"]) == ["P1", "P2"]
