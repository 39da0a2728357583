"""What the IRS said about each record, what a correction points at and what a replacement replaces
(transforms/season/references.py): the IRIS rules, one sentence each."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.season.acks import ACK_SCHEMA
from transforms.season.references import (
    correction_references,
    effective_filings,
    fire_original_after_fire_closed,
    record_status,
    rejected_units,
)

R1, R2 = "2027-00000000001-abc000001", "2027-00000000002-abc000002"


def sent(*rows: tuple) -> pl.DataFrame:
    """(form, kind, utid, submission, record[, replaces, seq]) per record; one payer per submission."""
    full = [(*r, None, 1)[:7] if len(r) == 5 else (*r, 1)[:7] if len(r) == 6 else r for r in rows]
    return pl.DataFrame(
        [
            {
                "form_id": f,
                "kind": k,
                "channel": "IRIS",
                "utid": u,
                "submission_id": s,
                "record_id": r,
                "replaces": rep,
                "seq": seq,
                "filing_id": f"F{seq}",
                "transmission": f"{u}.xml",
                "payer_tin": f"12345678{s}",
                "lineage_account": f"A-{f.split('.')[0]}",
                "state_row": True,
            }
            for f, k, u, s, r, rep, seq in full
        ]
    ).with_columns(pl.col("replaces").cast(pl.String))


def acks(*rows: dict) -> pl.DataFrame:
    base = dict.fromkeys(ACK_SCHEMA)
    return pl.DataFrame([base | {"ack_seq": 1} | r for r in rows], schema=ACK_SCHEMA)


def t(utid, status, receipt=None, seq=1):
    return {"level": "transmission", "utid": utid, "status": status, "receipt_id": receipt, "ack_seq": seq}


def s(utid, sub, status, seq=1):
    return {"level": "submission", "utid": utid, "submission_id": sub, "status": status, "ack_seq": seq}


def e(utid, sub, rec, seq=1):
    return {
        "level": "record",
        "utid": utid,
        "submission_id": sub,
        "record_id": rec,
        "error_code": "X",
        "ack_seq": seq,
    }


def statuses(filings, answers) -> dict[str, str]:
    return dict(record_status(filings, answers).select("form_id", "status").rows())


ORIGINAL = sent(("a", "original", "U1", 1, 1), ("b", "original", "U1", 1, 2), ("c", "original", "U1", 2, 1))


def test_a_record_with_no_answer_from_the_irs_awaits_acknowledgement():
    assert set(statuses(ORIGINAL, acks()).values()) == {"awaiting acknowledgement"}


def test_a_rejected_transmission_rejects_every_record_in_it():
    assert set(statuses(ORIGINAL, acks(t("U1", "Rejected", R1))).values()) == {"rejected"}


def test_in_a_partially_accepted_transmission_each_record_takes_its_submissions_status_and_its_own_errors():
    answer = acks(
        t("U1", "Partially Accepted", R1),
        s("U1", 1, "Accepted with Errors"),
        e("U1", 1, 2),
        s("U1", 2, "Rejected"),
    )
    assert statuses(ORIGINAL, answer) == {"a": "accepted", "b": "accepted with errors", "c": "rejected"}


def test_a_partially_accepted_transmission_that_does_not_list_a_submission_leaves_its_records_unknown():
    answer = acks(t("U1", "Partially Accepted", R1), s("U1", 1, "Accepted"))
    assert statuses(ORIGINAL, answer) == {"a": "accepted", "b": "accepted", "c": "unknown"}


def test_the_latest_response_wins_and_a_later_status_only_response_keeps_the_receipt_id():
    answer = acks(t("U1", "Processing", R1, seq=1), t("U1", "Accepted", None, seq=2))
    status = record_status(ORIGINAL, answer)
    assert set(status["status"]) == {"accepted"} and set(status["receipt_id"]) == {R1}


def test_a_correction_points_at_the_accepted_original_or_the_latest_accepted_correction():
    filings = pl.concat(
        [
            ORIGINAL,
            sent(("a.1", "correction", "U2", 1, 1, None, 2)).with_columns(
                pl.lit("A-a").alias("lineage_account")
            ),
        ]
    )
    answer = acks(t("U1", "Accepted", R1), t("U2", "Accepted", R2))
    state = record_status(filings, answer).sort("seq").unique("lineage_account", keep="last")
    refs = correction_references(state, 2026, "IRIS", date(2027, 2, 1))
    got = dict(refs.select("lineage_account", "prev_unique_record_id").rows())
    assert got == {"A-a": f"{R2}|1|1", "A-b": f"{R1}|1|2", "A-c": f"{R1}|2|1"}  # SHAREDIRFORM009
    assert refs["held_reason"].null_count() == 3


def test_a_rejected_correction_does_not_stand_so_the_change_is_sent_again_against_what_the_irs_holds():
    filings = pl.concat([ORIGINAL, sent(("a.1", "correction", "U2", 1, 1, None, 2))])
    answer = acks(t("U1", "Accepted", R1), t("U2", "Rejected", R2))
    kept = effective_filings(record_status(filings, answer))
    assert sorted(kept["form_id"]) == ["a", "b", "c"]


def test_a_correction_is_held_while_its_original_awaits_acknowledgement_or_was_rejected():
    answer = acks(t("U1", "Partially Accepted", R1), s("U1", 1, "Accepted"), s("U1", 2, "Rejected"))
    refs = correction_references(record_status(ORIGINAL, answer), 2026, "IRIS", date(2027, 2, 1))
    assert dict(refs.select("lineage_account", "held_reason").rows()) == {
        "A-a": None,
        "A-b": None,
        "A-c": "original rejected",
    }
    refs = correction_references(record_status(ORIGINAL, acks()), 2026, "IRIS", date(2027, 2, 1))
    assert set(refs["held_reason"]) == {"awaiting acknowledgement"}


@pytest.mark.parametrize(("on", "closed"), [(date(2026, 12, 31), False), (date(2027, 1, 4), True)])
def test_a_fire_original_is_held_once_fire_has_closed_and_needs_no_reference_while_it_is_open(on, closed):
    fire = ORIGINAL.with_columns(pl.lit("FIRE").alias("channel"), pl.lit(None, pl.String).alias("utid"))
    assert fire_original_after_fire_closed(2025, on) is closed
    assert fire_original_after_fire_closed(2026, on) is False  # a 2026 return never went through FIRE
    status = record_status(fire, acks())
    assert set(status["status"]) == {"FIRE"}
    channel = "IRIS" if closed else "FIRE"
    refs = correction_references(status, 2025, channel, on)
    expected = {"filed through FIRE, which has closed"} if closed else {None}
    assert set(refs["held_reason"]) == expected and refs["prev_unique_record_id"].null_count() == 3


def test_a_rejected_transmission_is_replaced_by_its_receipt_id_and_a_rejected_submission_by_its_unique_id():
    whole = rejected_units(record_status(ORIGINAL, acks(t("U1", "Rejected", R1))))
    assert set(whole.select("unit", "replaces").rows()) == {("transmission", R1)}  # TMFST012
    partial = rejected_units(
        record_status(
            ORIGINAL, acks(t("U1", "Partially Accepted", R1), s("U1", 1, "Accepted"), s("U1", 2, "Rejected"))
        )
    )
    assert partial.select("form_id", "unit", "replaces").rows() == [("c", "submission", f"{R1}|2")]  # S1H028


def test_a_replaced_unit_is_not_replaced_again_unless_its_replacement_was_rejected_too():
    replacement = sent(("c", "replacement", "U3", 1, 1, f"{R1}|2", 2))
    filings = pl.concat([ORIGINAL, replacement])
    first = [t("U1", "Partially Accepted", R1), s("U1", 1, "Accepted"), s("U1", 2, "Rejected")]
    assert rejected_units(record_status(filings, acks(*first))).height == 0  # awaiting: it stands (TMFST013)
    assert rejected_units(record_status(filings, acks(*first, t("U3", "Accepted", R2)))).height == 0
    again = rejected_units(record_status(filings, acks(*first, t("U3", "Rejected", R2))))
    assert again["replaces"].to_list() == [f"{R1}|2"]  # replaced again, naming the original submission


SUBMISSION_STATUSES = ("Accepted", "Accepted with Errors", "Rejected", None)


@given(
    transmission=st.sampled_from(["Accepted", "Accepted with Errors", "Partially Accepted", "Rejected"]),
    submissions=st.lists(st.sampled_from(SUBMISSION_STATUSES), min_size=3, max_size=3),
    errors=st.sets(st.sampled_from([(1, 1), (1, 2), (2, 1), (3, 1)])),
)
@settings(max_examples=150, deadline=None)
def test_every_record_gets_one_status_and_exactly_the_rejected_originals_are_to_replace(
    transmission, submissions, errors
):
    filings = sent(
        ("a", "original", "U1", 1, 1),
        ("b", "original", "U1", 1, 2),
        ("c", "original", "U1", 2, 1),
        ("d", "original", "U1", 3, 1),
    )
    answer = acks(
        t("U1", transmission, R1),
        *(s("U1", i + 1, status) for i, status in enumerate(submissions) if status is not None),
        *(e("U1", sub, rec) for sub, rec in errors),
    )
    status = record_status(filings, answer)
    assert status.height == filings.height and status["status"].null_count() == 0
    by_sub = dict(enumerate(submissions, start=1))
    for row in status.to_dicts():
        sub_status = by_sub[row["submission_id"]]
        rejected = transmission == "Rejected" or sub_status == "Rejected"
        assert (row["status"] == "rejected") == rejected
        if not rejected and row["status"] != "unknown":
            has_error = (row["submission_id"], row["record_id"]) in errors and sub_status is not None
            assert row["status"] == ("accepted with errors" if has_error else "accepted")
    units = rejected_units(status)
    assert sorted(units["form_id"]) == sorted(status.filter(pl.col("status") == "rejected")["form_id"])
    assert units["replaces"].null_count() == 0
