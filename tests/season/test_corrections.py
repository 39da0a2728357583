"""Corrections as pure polars (transforms/season/corrections.py): Type 1, Type 2, voids, pairing, late originals."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.irs.files import filing_frame
from flows.run.pipeline import parties
from tests.builders import Case, contract_row, dist_row, participant_row, payee_row
from transforms.season.corrections import PAYER_TIN_REASON, filed_state, plan_corrections


def _current(
    *people: tuple[str, int], reason: str = "in_service", disabled: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Current forms of one plan, one cash event per (payee_id, amount), as the store gives them."""
    case = Case()
    case.payees = [
        payee_row(p, tin=f"4000000{i:02d}", last_name=f"Name{i}") for i, (p, _) in enumerate(people, 1)
    ]
    case.participants = [participant_row(f"T{p}", p, disabled=p in disabled) for p, _ in people]
    case.contracts = [contract_row(f"E{p}", "non_roth", 10_000_000, 0) for p, _ in people]
    case.distributions = [
        dist_row(f"D{p}", f"E{p}", "non_roth", amt, participant_id=f"T{p}", payee_id=p, reason=reason)
        for p, amt in people
    ]
    result = case.run()
    tables = case.validated().tables
    blocks = parties(tables, result.forms)
    frame = filing_frame(result.forms, {"plans": blocks["payers"], "payees": blocks["recipients"]})
    return frame.with_columns(
        pl.lit(False).alias("roth"), pl.lit("cash").alias("destination"), pl.lit(False).alias("blocked")
    )


def _as_filed(current: pl.DataFrame, seq: int = 1) -> pl.DataFrame:
    """The filings rows of an original filing of ``current``."""
    return (
        current.filter(~pl.col("blocked"))
        .drop("blocked")
        .with_columns(
            pl.col("account_number").alias("lineage_account"),
            pl.lit(True).alias("state_row"),
            pl.lit(False).alias("voided"),
            pl.lit("original").alias("role"),
            pl.lit(seq).alias("seq"),
        )
    )


def _plan(filed: pl.DataFrame, current: pl.DataFrame):
    return plan_corrections(filed_state(filed), current)


def _edit(frame: pl.DataFrame, payee: str, **values) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.col("payee_id") == payee).then(pl.lit(v)).otherwise(pl.col(k)).alias(k)
        for k, v in values.items()
    )


BASE = (("PY1", 100_000), ("PY2", 200_000), ("PY3", 300_000))


def test_nothing_changed_gives_no_corrections():
    current = _current(*BASE)
    plan = _plan(_as_filed(current), current)
    assert plan.empty and plan.unchanged == 3


def test_a_changed_amount_is_one_g_record_under_the_same_account_number():
    filed = _as_filed(_current(*BASE))
    current = _current(("PY1", 100_000), ("PY2", 250_000), ("PY3", 300_000))
    plan = _plan(filed, current)
    r = plan.records.row(0, named=True)
    assert plan.records.height == 1 and r["corrected"] == "G" and r["role"] == "type1"
    assert r["box1_cents"] == 250_000
    assert r["account_number"] == filed.filter(pl.col("payee_id") == "PY2")["account_number"][0]
    assert "box1_cents" in r["changed"]


def test_a_changed_address_is_a_type_1_correction():
    filed = _as_filed(_current(*BASE))
    plan = _plan(filed, _edit(_current(*BASE), "PY3", address="9 New Rd"))
    assert plan.counts()["type1"] == 1 and plan.records["changed"][0].to_list() == ["address"]


def test_a_tin_fix_gives_a_two_transaction_correction():
    filed = _as_filed(_current(*BASE))
    current = _edit(_current(*BASE), "PY1", payee_tin="499999999")
    plan = _plan(filed, current)
    recs = plan.records.sort("corrected", descending=True)
    assert recs["corrected"].to_list() == ["G", "C"]
    void, right = recs.row(0, named=True), recs.row(1, named=True)
    assert void["payee_tin"] == "400000001" and void["box1_cents"] == 0 and void["box4_cents"] == 0
    assert void["role"] == "type2_void" and not void["state_row"]
    assert right["payee_tin"] == "499999999" and right["box1_cents"] == 100_000 and right["state_row"]
    assert (
        void["account_number"]
        == right["account_number"]
        == filed.filter(pl.col("payee_id") == "PY1")["account_number"][0]
    )


def test_a_wrong_name_is_a_type_2_correction():
    filed = _as_filed(_current(*BASE))
    plan = _plan(filed, _edit(_current(*BASE), "PY2", last_name="Other"))
    assert plan.counts()["type2"] == 1 and plan.records.height == 2
    assert plan.records.filter(pl.col("corrected") == "C")["last_name"].to_list() == ["Other"]


def test_a_code_change_is_paired_with_the_filed_form_and_keeps_its_account_number():
    filed = _as_filed(_current(*BASE))
    current = _current(*BASE, disabled=("PY2",))  # code 1 -> 3: a new form id and account number
    new = current.filter(pl.col("payee_id") == "PY2").row(0, named=True)
    old = filed.filter(pl.col("payee_id") == "PY2").row(0, named=True)
    assert new["form_id"] != old["form_id"] and new["distribution_codes"] == "3"
    plan = _plan(filed, current)
    r = plan.records.row(0, named=True)
    assert plan.records.height == 1 and plan.late.height == 0
    assert r["account_number"] == old["account_number"] and r["form_id"] == new["form_id"]
    assert r["distribution_codes"] == "3" and r["match"] == "same_key_but_codes"


def test_a_filed_return_without_a_current_form_is_voided_with_zero_amounts():
    filed = _as_filed(_current(*BASE))
    plan = _plan(filed, _current(*BASE[:2]))
    r = plan.records.row(0, named=True)
    assert plan.counts()["void"] == 1 and r["corrected"] == "G" and r["voided"] and r["box1_cents"] == 0
    assert r["payee_tin"] == "400000003"


def test_a_form_never_filed_is_a_late_original():
    filed = _as_filed(_current(*BASE[:2]))
    plan = _plan(filed, _current(*BASE))
    assert plan.records.height == 0 and plan.late["payee_id"].to_list() == ["PY3"]
    assert plan.late["corrected"].to_list() == [""]


def test_an_ambiguous_split_voids_the_filed_return_and_files_the_new_ones_as_late_originals():
    filed = _as_filed(_current(*BASE))
    current = _current(*BASE)
    py1 = current.filter(pl.col("payee_id") == "PY1")
    split = pl.concat(
        [
            current.filter(pl.col("payee_id") != "PY1"),
            py1.with_columns(
                pl.lit("a" * 20).alias("form_id"),
                pl.lit("A" * 20).alias("account_number"),
                pl.lit("7").alias("distribution_codes"),
            ),
            py1.with_columns(
                pl.lit("b" * 20).alias("form_id"),
                pl.lit("B" * 20).alias("account_number"),
                pl.lit("2").alias("distribution_codes"),
            ),
        ]
    )
    plan = _plan(filed, split)
    assert plan.counts()["void"] == 1 and sorted(plan.late["account_number"].to_list()) == [
        "A" * 20,
        "B" * 20,
    ]


def test_a_return_held_back_by_an_edit_check_is_neither_corrected_nor_voided():
    filed = _as_filed(_current(*BASE))
    current = _edit(_current(*BASE), "PY1", box1_cents=1, blocked=True)
    plan = _plan(filed, current)
    assert plan.empty and plan.held.height == 1


def test_a_voided_return_that_comes_back_is_corrected_to_its_values():
    filed = _as_filed(_current(*BASE))
    void = _plan(filed, _current(*BASE[:2])).records.with_columns(pl.lit(2).alias("seq"))
    history = pl.concat([filed, void.select(filed.columns)], how="vertical_relaxed")
    plan = _plan(history, _current(*BASE))
    r = plan.records.row(0, named=True)
    assert plan.records.height == 1 and r["role"] == "type1" and r["box1_cents"] == 300_000


def test_after_a_correction_the_filed_state_is_the_corrected_return():
    filed = _as_filed(_current(*BASE))
    current = _current(("PY1", 100_000), ("PY2", 250_000), ("PY3", 300_000))
    corr = _plan(filed, current).records.with_columns(pl.lit(2).alias("seq"))
    history = pl.concat([filed, corr.select(filed.columns)], how="vertical_relaxed")
    assert _plan(history, current).empty


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(min_value=1_000, max_value=9_000_000), min_size=3, max_size=3),
    st.sets(st.sampled_from(["PY1", "PY2", "PY3"])),
)
def test_exactly_the_returns_whose_amount_changed_are_corrected(amounts, changed):
    base = [(p, a) for p, a in zip(("PY1", "PY2", "PY3"), amounts, strict=True)]
    filed = _as_filed(_current(*base))
    new = [(p, a + 1 if p in changed else a) for p, a in base]
    plan = _plan(filed, _current(*new))
    assert sorted(plan.records["payee_id"].to_list()) == sorted(changed)
    assert set(plan.records["corrected"].to_list()) <= {"G"} and plan.late.height == 0


def test_a_change_to_state_boxes_only_sends_no_irs_correction_and_is_reported():
    filed = _as_filed(_current(*BASE))
    plan = _plan(filed, _edit(_current(*BASE), "PY1", state_withholding_cents=1234, state="CA"))
    assert plan.records.height == 0 and plan.late.height == 0
    assert plan.held["reason"].to_list() == [
        "state or local information only: not sent to the IRS; correct it with the state"
    ]


def test_a_type_2_after_the_payer_moved_is_written_with_the_payers_current_details(tmp_path):
    from datetime import date

    from flows.irs.files import write_irs_file
    from flows.settings import TransmitterSettings
    from transforms.irs import check_pub1220
    from transforms.irs.shared import REQUIRED_COLUMNS

    filed = _as_filed(_current(*BASE))
    current = _edit(_current(*BASE), "PY1", payee_tin="499999999").with_columns(
        pl.lit("2 New Plaza").alias("payer_address")
    )
    plan = _plan(filed, current)
    assert plan.counts()["type2"] == 1
    assert set(plan.records["payer_address"]) == {"2 New Plaza"}
    info = write_irs_file(
        tmp_path,
        plan.records.select(REQUIRED_COLUMNS),
        TransmitterSettings.placeholder(),
        2025,
        date(2026, 6, 1),
    )
    assert check_pub1220((tmp_path / info["file"]).read_bytes()) == []


def test_a_form_whose_key_comes_back_after_a_code_fix_is_filed_under_a_new_account_number():
    from transforms.season.corrections import filed_state, plan_corrections

    first = _current(*BASE)
    filed = _as_filed(first)
    old = first.filter(pl.col("payee_id") == "PY2")
    fixed = _edit(first, "PY2", distribution_codes="3", form_id="F-PY2-CODE3", account_number="F-PY2-CODE3")
    plan2 = plan_corrections(filed_state(filed), fixed)
    assert plan2.counts()["type1"] == 1
    filings = pl.concat([filed, plan2.records.with_columns(pl.lit(2).alias("seq"))], how="diagonal_relaxed")
    plan3 = plan_corrections(filed_state(filings), pl.concat([fixed, old], how="diagonal_relaxed"))
    assert plan3.held.height == 0 and plan3.late.height == 1
    account = plan3.late["account_number"][0]
    assert account != old["account_number"][0] and len(account) == 20 and account == account.upper()
    again = plan_corrections(filed_state(filings), pl.concat([fixed, old], how="diagonal_relaxed"))
    assert again.late["account_number"].to_list() == [account]  # stable


def test_an_ssn_recorded_again_as_an_itin_with_the_same_number_needs_no_correction_but_an_ein_does():
    filed = _as_filed(_current(*BASE))
    assert _plan(filed, _edit(_current(*BASE), "PY1", tin_type="itin")).records.height == 0
    plan = _plan(filed, _edit(_current(*BASE), "PY1", tin_type="ein"))
    assert plan.counts()["type2"] == 1
    assert "tin_type" in plan.records.filter(pl.col("role") == "type2_correct")["changed"][0].to_list()


def test_a_name_or_address_that_differs_only_in_case_or_accents_needs_no_correction():
    # Both IRS writers fold accents and write upper case (Pub 1220 alphanumeric fields; the IRIS
    # name and address types): "Name2" and "NAME2" are the same return, so there is no error to
    # correct (General Instructions for Certain Information Returns, corrected returns).
    filed = _as_filed(_current(*BASE))
    current = _edit(_current(*BASE), "PY2", last_name="NAME2", first_name=" pat ")
    current = _edit(current, "PY3", address="2 ELM ST", city="Colúmbus")
    plan = _plan(filed, current)
    assert plan.empty and plan.unchanged == 3
    # a real change beside one of case is still corrected, and only it is named
    plan = _plan(filed, _edit(current, "PY3", address="9 New Rd"))
    assert plan.counts()["type1"] == 1 and plan.records["changed"][0].to_list() == ["address"]


def test_a_wrong_payer_tin_sends_no_corrected_return_but_is_listed_for_a_letter_to_the_irs():
    # General Instructions for Certain Information Returns: an error in the payer's name or TIN is
    # not corrected by corrected returns; the payer writes to the IRS. Before: "nothing changed".
    filed = _as_filed(_current(*BASE))
    current = _current(*BASE).with_columns(pl.lit("123456789").alias("payer_tin"))
    plan = _plan(filed, current)
    assert plan.records.height == 0 and plan.late.height == 0
    assert plan.held["reason"].unique().to_list() == [PAYER_TIN_REASON] and plan.held.height == 3
    # an amount corrected beside it goes under the payer TIN the IRS holds, and the TIN is listed
    plan = _plan(filed, _edit(current, "PY2", box1_cents=250_000))
    assert plan.records["payer_tin"].to_list() == [filed["payer_tin"][0]]
    assert plan.records["box1_cents"].to_list() == [250_000] and plan.held.height == 3


def test_a_payment_reported_as_cash_that_was_a_direct_rollover_is_a_type_1_correction_of_its_return():
    # One filed return, one current return of the same payee and account, another destination:
    # a wrong code and amounts (Error Type 1, General Instructions for Certain Information
    # Returns): one G record under the original account number, not a void and a late original.
    filed = _as_filed(_current(*BASE))
    current = _current(*BASE)
    rollover = current.filter(pl.col("payee_id") == "PY2").with_columns(
        pl.lit("rollover_ira").alias("destination"),
        pl.lit("G").alias("distribution_codes"),
        pl.lit(0, pl.Int64).alias("box2a_cents"),
        pl.lit("F" * 20).alias("account_number"),
        pl.lit("f" * 20).alias("form_id"),
    )
    current = pl.concat([current.filter(pl.col("payee_id") != "PY2"), rollover])
    plan = _plan(filed, current)
    assert plan.late.height == 0 and plan.counts()["void"] == 0 and plan.counts()["type1"] == 1
    r = plan.records.row(0, named=True)
    assert r["corrected"] == "G" and r["distribution_codes"] == "G" and r["box2a_cents"] == 0
    assert r["account_number"] == filed.filter(pl.col("payee_id") == "PY2")["account_number"][0]
    assert r["match"] == "same_account_but_destination"
    # a filed cash return that became a cash and a rollover return is not guessed
    split = pl.concat(
        [
            current,
            current.filter(pl.col("payee_id") == "PY1").with_columns(
                pl.lit("rollover_ira").alias("destination"),
                pl.lit("e" * 20).alias("form_id"),
                pl.lit("E" * 20).alias("account_number"),
            ),
        ]
    )
    assert _plan(filed, split).late["account_number"].to_list() == ["E" * 20]
