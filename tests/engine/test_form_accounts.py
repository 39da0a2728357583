"""One form per account (docs/spec/outputs.md forms, version 2; issue 14, point 2): the form key gains
``participant_id``; box 11 and box 2b per account; form ids change only for payees paid from more
than one account; a store that filed version-1 forms carries on with corrections, not new returns."""

from __future__ import annotations

import hashlib
from datetime import date

import polars as pl
import pytest

from flows.irs.files import filing_frame
from flows.run.pipeline import parties
from tests.builders import Case, contract_row, dist_row, participant_row, payee_row
from tests.ops_builders import approve_pending
from transforms.season.corrections import filed_state, plan_corrections

pytestmark = pytest.mark.store


def v1_form_id(*fields: str) -> str:
    """The form id version 1 gave (transforms/engine/forms.py, FORM_ID_VERSION "1099R-v1"): SHA-256 of
    the key fields joined by the unit separator, first 20 hex digits — computed here with hashlib."""
    return hashlib.sha256("\x1f".join(("1099R-v1", *fields)).encode()).hexdigest()[:20]


def heir_case() -> Case:
    """KID inherits the Roth accounts of MOM (first Roth year 2016) and DAD (2021) in plan P1 and
    is paid $15,000 from each in 2025; MOM's account is emptied, DAD's is not."""
    case = Case()
    case.payees = [
        payee_row("MOM", tin="400000011", dob=date(1950, 1, 1)),
        payee_row("DAD", tin="400000012", dob=date(1950, 1, 1)),
        payee_row("KID", tin="400000013", dob=date(1985, 1, 1)),
    ]
    case.participants = [
        participant_row("PM", "MOM", date_of_death=date(2024, 3, 1), roth_first_year=2016),
        participant_row("PD", "DAD", date_of_death=date(2024, 5, 1), roth_first_year=2021),
    ]
    case.contracts = [
        contract_row("EM", "roth", 1_500_000, 1_000_000),
        contract_row("ED", "roth", 2_000_000, 1_500_000),
    ]
    case.distributions = [
        dist_row("DM", "EM", "roth", 1_500_000, participant_id="PM", payee_id="KID", reason="death"),
        dist_row("DD", "ED", "roth", 1_500_000, participant_id="PD", payee_id="KID", reason="death"),
    ]
    return case


def forms_by_participant(case: Case) -> dict[str, dict]:
    result = case.run()
    part = result.distributions.select("form_id", "participant_id").unique()
    forms = result.forms.join(part, on="form_id")
    assert forms.height == result.forms.height  # one participant behind every form
    return {r["participant_id"]: r for r in forms.iter_rows(named=True)}


def test_an_heir_of_two_roth_accounts_gets_one_form_per_account_with_its_own_box_11():
    forms = forms_by_participant(heir_case())
    assert len(forms) == 2
    mom, dad = forms["PM"], forms["PD"]
    assert (mom["box1_cents"], mom["box11_year"], mom["distribution_codes"]) == (1_500_000, 2016, "4B")
    assert (dad["box1_cents"], dad["box11_year"], dad["distribution_codes"]) == (1_500_000, 2021, "4B")
    # 2016–2020 complete: qualified, nothing taxable. 2021–2025 not: $15,000 × $5,000 / $20,000.
    assert (mom["box2a_cents"], dad["box2a_cents"]) == (0, 375_000)


def test_box_2b_is_checked_on_the_form_of_the_account_paid_out_and_not_on_the_other():
    forms = forms_by_participant(heir_case())
    assert forms["PM"]["total_distribution"] is True
    assert forms["PD"]["total_distribution"] is False


def own_and_inherited_case() -> Case:
    """ANN is paid $4,000 from her own 401(k) account (of $10,000) and, as the only beneficiary of
    BOB, $6,000 closing out his account; both cash, both code 7 / 4 apart."""
    case = Case()
    case.payees = [
        payee_row("ANN", tin="400000021", dob=date(1960, 1, 1)),
        payee_row("BOB", tin="400000022", dob=date(1950, 1, 1)),
        payee_row("SOLO", tin="400000023", dob=date(1960, 1, 1)),
    ]
    case.participants = [
        participant_row("PA", "ANN"),
        participant_row("PB", "BOB", date_of_death=date(2024, 12, 1)),
        participant_row("PS", "SOLO"),
    ]
    case.contracts = [
        contract_row("EA", "non_roth", 1_000_000, 0),
        contract_row("EB", "non_roth", 600_000, 0),
        contract_row("ES", "non_roth", 1_000_000, 0),
    ]
    case.distributions = [
        dist_row("DA", "EA", "non_roth", 400_000, participant_id="PA", payee_id="ANN", reason="in_service"),
        dist_row("DB", "EB", "non_roth", 600_000, participant_id="PB", payee_id="ANN", reason="in_service"),
        dist_row("DS", "ES", "non_roth", 250_000, participant_id="PS", payee_id="SOLO", reason="in_service"),
    ]
    return case


def test_a_payee_paid_from_her_own_account_and_an_inherited_one_gets_a_form_for_each():
    forms = forms_by_participant(own_and_inherited_case())
    ann_own, ann_inherited = forms["PA"], forms["PB"]
    assert (ann_own["payee_id"], ann_own["distribution_codes"], ann_own["box1_cents"]) == (
        "ANN",
        "7",
        400_000,
    )
    assert (ann_inherited["payee_id"], ann_inherited["distribution_codes"]) == ("ANN", "4")
    assert (ann_own["total_distribution"], ann_inherited["total_distribution"]) == (False, True)


def test_form_ids_and_account_numbers_change_only_for_payees_paid_from_more_than_one_account():
    case = own_and_inherited_case()
    case.distributions[1]["reason"] = "in_service"
    case.participants[1]["date_of_death"] = None  # BOB alive: ANN is an alternate payee, code 7 like her own
    case.distributions[1]["reason"] = "qdro"
    forms = forms_by_participant(case)
    solo = forms["PS"]
    assert solo["form_id"] == v1_form_id("2025", "P1", "SOLO", "non_roth", "cash", "7", "")
    assert solo["account_number"] == solo["form_id"].upper()
    ann = [forms["PA"], forms["PB"]]
    assert {f["form_id"] for f in ann}.isdisjoint(
        {v1_form_id("2025", "P1", "ANN", "non_roth", "cash", "7", "")}
    )
    assert len({f["account_number"] for f in forms.values()}) == 3


def test_the_same_key_gives_the_same_form_id_on_every_run():
    a, b = own_and_inherited_case().run().forms, own_and_inherited_case().run().forms
    assert a.select("form_id", "account_number").equals(b.select("form_id", "account_number"))


# ---- a store that filed version-1 forms -------------------------------------------------------


def current_returns(case: Case) -> pl.DataFrame:
    """The current forms of ``case`` as the store gives them (flows/filings.current_forms)."""
    result = case.run()
    tables = case.validated().tables
    blocks = parties(tables, result.forms)
    frame = filing_frame(result.forms, {"plans": blocks["payers"], "payees": blocks["recipients"]})
    detail = result.distributions.group_by("form_id").agg(
        (pl.col("contract") == "roth").any().alias("roth"),
        pl.col("destination").first(),
        pl.col("participant_id").first(),
    )
    return frame.join(detail, on="form_id").with_columns(pl.lit(False).alias("blocked"))


def filed_by_version_1(current: pl.DataFrame, payee: str) -> pl.DataFrame:
    """The filings rows version 1 wrote for ``current``: no participant_id column, and the payee's
    forms of several accounts merged into the one form of the version-1 key, under its id."""
    rows = current.drop("blocked", "participant_id")
    one = rows.filter(pl.col("payee_id") == payee)
    merged_id = v1_form_id("2025", "P1", payee, "roth", "cash", "4B", "")
    merged = one.head(1).with_columns(
        pl.lit(merged_id).alias("form_id"),
        pl.lit(merged_id.upper()).alias("account_number"),
        *[pl.lit(one[c].sum(), pl.Int64).alias(c) for c in ("box1_cents", "box2a_cents", "box5_cents")],
        pl.lit(2021, pl.Int32).alias("box11_year"),
        pl.lit(False).alias("total_distribution"),
    )
    return pl.concat([rows.filter(pl.col("payee_id") != payee), merged]).with_columns(
        pl.col("account_number").alias("lineage_account"),
        pl.lit(True).alias("state_row"),
        pl.lit(False).alias("voided"),
        pl.lit("original").alias("role"),
        pl.lit(1).alias("seq"),
    )


def test_a_form_filed_by_version_1_that_merged_two_accounts_is_corrected_not_voided_or_filed_again():
    current = current_returns(heir_case())
    filed = filed_by_version_1(current, "KID")
    assert filed.height == 1 and current.height == 2
    plan = plan_corrections(filed_state(filed), current)
    # one Type 1 correction under the filed account number, one late original for the other account
    assert plan.counts()["void"] == 0 and plan.counts()["type1"] == 1 and plan.counts()["late_originals"] == 1
    fix = plan.records.row(0, named=True)
    assert (fix["corrected"], fix["match"], fix["account_number"]) == (
        "G",
        "rekeyed",
        filed["account_number"][0],
    )
    late = plan.late.row(0, named=True)
    assert late["account_number"] != fix["account_number"]
    assert {fix["form_id"], late["form_id"]} == set(current["form_id"])
    assert fix["box1_cents"] + late["box1_cents"] == filed["box1_cents"][0]
    # the filing records each return's account from now on: the next plan pairs by participant
    assert fix["participant_id"] in ("PM", "PD") and late["participant_id"] in ("PM", "PD")


def _person(payee: str, participant: str, event: str, amount: int, *, dob: date, **kw) -> dict:
    return dist_row(
        f"D-{event}",
        event,
        "non_roth",
        amount,
        participant_id=participant,
        payee_id=payee,
        reason="in_service",
        **kw,
    )


def _extract(folder, extract_id: str, created_at: str, *, with_qdro: bool):
    """Plan P1: ANN (60) paid $4,000 from her own account; with ``with_qdro``, also $6,000 as BOB's
    alternate payee (BOB is 75: code 7 on both forms, so both share the version-1 form key)."""
    from tests.ops_builders import write_extract

    people = [
        {
            "payees": [payee_row("ANN", tin="400000021", last_name="Ann", dob=date(1965, 1, 1))],
            "participants": [participant_row("PA", "ANN")],
            "contracts": [contract_row("EA", "non_roth", 1_000_000, 0)],
            "distributions": [
                _person("ANN", "PA", "EA", 400_000, dob=date(1965, 1, 1), payment_date=date(2025, 3, 1))
            ],
        }
    ]
    if with_qdro:
        people.append(
            {
                "payees": [payee_row("BOB", tin="400000022", last_name="Bob", dob=date(1950, 1, 1))],
                "participants": [participant_row("PB", "BOB")],
                "contracts": [contract_row("EB", "non_roth", 2_000_000, 0)],
                "distributions": [
                    dict(
                        _person(
                            "ANN", "PB", "EB", 600_000, dob=date(1950, 1, 1), payment_date=date(2025, 4, 1)
                        ),
                        reason="qdro",
                    )
                ],
            }
        )
    return write_extract(folder, people, extract_id=extract_id, created_at=created_at, tax_year=2025)


def test_a_store_that_filed_version_1_forms_carries_on_without_voids_or_duplicate_returns(tmp_path, capsys):
    """The store filed ANN's form when she had one account, with a filings table of version 1 (no
    participant_id). Then she is paid from a second account: her filed form is the same return
    (paired, unchanged: nothing sent) and the second account's form is a late original — no void,
    no second original of the filed return. A rerun finds nothing to correct."""
    import shutil

    from flows.cli.main import main
    from flows.io.store import Store
    from flows.season.filings import filings_table

    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    _extract(inbox / "night1", "n1", "2026-01-05T02:00:00", with_qdro=False)
    nightly = ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]
    assert main(nightly) == 0
    assert main(["file", "--store", str(store), "--tax-year", "2025", "--user", "alice"]) == 0
    approve_pending(store, 2025)
    # the filings table as version 1 wrote it: no participant_id column
    path = Store(store).table(2025, "filings")
    old = pl.read_delta(str(path)).drop("participant_id")
    old.write_delta(str(path), mode="overwrite", delta_write_options={"schema_mode": "overwrite"})
    assert "participant_id" not in filings_table(Store(store), 2025).columns
    filed_account = old["account_number"].item()
    assert old["form_id"].item() == v1_form_id("2025", "P1", "ANN", "non_roth", "cash", "7", "")

    shutil.rmtree(inbox / "night1")
    _extract(inbox / "night2", "n2", "2026-01-06T02:00:00", with_qdro=True)
    assert main(nightly) == 0
    capsys.readouterr()
    out_dir = tmp_path / "corr"
    args = ["--store", str(store), "--tax-year", "2025", "--out", str(out_dir), "--user", "alice"]
    assert main(["corrections", *args]) == 0
    assert "Type 1 0, Type 2 0 (two records each), voided 0, late originals 1" in capsys.readouterr().out
    approve_pending(store, 2025)
    late = pl.read_parquet(out_dir / "corrections.parquet")
    assert late.select("role").to_series().to_list() == ["late_original"]
    assert late["lineage_account"].item() != filed_account
    filings = filings_table(Store(store), 2025)
    assert filings.filter(pl.col("kind") == "late_original")["participant_id"].to_list() == ["PB"]
    assert filings.filter(pl.col("kind") == "original")["participant_id"].to_list() == [None]
    assert (
        main(["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(tmp_path / "x")]) == 0
    )
    assert "nothing changed" in capsys.readouterr().out
