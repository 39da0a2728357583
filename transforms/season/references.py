"""What the IRS said about each record sent, and what a correction or a replacement points at
(pure polars, no I/O).

The store keeps one row per record sent (``filings``) with the IRIS ids the writer gave it
(``utid``: the UniqueTransmissionId of its transmission, ``submission_id``, ``record_id``) and one
row per status and error the IRS returned (``acknowledgements``: IRS-IR-TransStatusOrAckResponse,
read by ``prorata acknowledge``). From them:

* :func:`record_status` — each record's status: ``accepted``, ``accepted with errors``,
  ``rejected``, ``processing``, ``not found``, ``awaiting acknowledgement``, ``unknown`` (a
  partially accepted transmission whose response does not list the record's submission), or
  ``FIRE`` (sent through FIRE, whose acknowledgements prorata does not read);
* :func:`correction_references` — for each filed lineage, the ``UniqueRecordId`` ("ReceiptId |
  SubmissionId | RecordId") a correction must name: the accepted original or the latest accepted
  correction (IRIS rules SHAREDIRFORM006/009/010/026, FTMFST014), or why there is none;
* :func:`rejected_units` — the rejected transmissions and submissions of originals still to be
  replaced (IRIS rules TMFST012/013, S1H027-029, FTMFST006).

IRIS rule numbers: IRIS Business Rules TY2025 v1.2 (tests/data/iris-a2a-ty2025-v1.2).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from transforms.law.params import TaxParameters

ACCEPTED = "accepted"
ACCEPTED_WITH_ERRORS = "accepted with errors"
REJECTED = "rejected"
AWAITING = "awaiting acknowledgement"
#: Statuses a correction may reference (SHAREDIRFORM009: a submission "previously accepted by IRS").
REFERENCEABLE = (ACCEPTED, ACCEPTED_WITH_ERRORS)
#: Kinds of filing rows sent in a transmission of originals (TransmissionTypeCd "O" or "R").
ORIGINAL_KINDS = ("original", "late_original", "replacement")

#: Why a return is not sent, and what the user does about it (corrections and replacements list
#: each held return with both; docs/OPERATIONS.md).
HELD_ACTIONS: dict[str, str] = {
    "blocking edit check": "fix the extract so the edit check passes; the next run sends it",
    "state or local information only": "not sent to the IRS: correct it with the state",
    "payer TIN differs from the return as filed": "write to the IRS: the payer's name and address, the error (the TIN reported), the tax year, the right payer TIN, the TCC, the type of return, the number of payees, the filing method, whether federal tax was withheld (General Instructions for Certain Information Returns, 'Reporting incorrect payer name and/or TIN')",
    "account number already used by a filed lineage": "call the support desk: two returns claim one account",
    "awaiting acknowledgement": "record the IRS acknowledgement of the earlier filing ('prorata acknowledge'), then run again",
    "original rejected": "the IRS rejected the original: run 'prorata replace' (after fixing the extract or settings)",
    "rejected original no longer filable": "nothing to send: the IRS never accepted the original and there is no current return",
    "filed through FIRE, which has closed": "ask the IRS how to correct a FIRE original (Technical Services Operation, 866-455-7438) and file it as directed: docs/CONVENTIONS.md, FIRE originals after FIRE closes",
    "receipt id missing": "record the acknowledgement that carries the IRS receipt id ('prorata acknowledge ACK.xml')",
}


def _latest(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return frame.sort("ack_seq").group_by(keys, maintain_order=True).last()


def transmission_results(acks: pl.DataFrame) -> pl.DataFrame:
    """(utid, receipt_id, transmission_status): the latest status the IRS gave each transmission,
    with the latest receipt id it gave (a later status-only response may omit it)."""
    t = acks.filter(pl.col("level") == "transmission")
    status = _latest(t.filter(pl.col("status").is_not_null()), ["utid"]).select(
        "utid", pl.col("status").alias("transmission_status"), pl.col("ack_seq").alias("_t_seq")
    )
    receipt = _latest(t.filter(pl.col("receipt_id").is_not_null()), ["utid"]).select("utid", "receipt_id")
    return status.join(receipt, on="utid", how="full", coalesce=True)


def submission_results(acks: pl.DataFrame) -> pl.DataFrame:
    """(utid, submission_id, submission_status, _s_seq): the latest status of each submission."""
    s = acks.filter((pl.col("level") == "submission") & pl.col("status").is_not_null())
    return _latest(s, ["utid", "submission_id"]).select(
        "utid",
        "submission_id",
        pl.col("status").alias("submission_status"),
        pl.col("ack_seq").alias("_s_seq"),
    )


def record_error_counts(acks: pl.DataFrame) -> pl.DataFrame:
    """(utid, submission_id, record_id, _s_seq, record_errors): errors listed per record, per response."""
    return (
        acks.filter((pl.col("level") == "record") & pl.col("error_code").is_not_null())
        .group_by("utid", "submission_id", "record_id", pl.col("ack_seq").alias("_s_seq"))
        .agg(pl.len().alias("record_errors"))
    )


def status_expr() -> pl.Expr:
    """A record's status from its transmission's and submission's latest statuses and its own errors
    (IRS-IR-TransStatusOrAckResponse: TransmissionStatusCd, SubmissionStatusCd, RecordResultGrp).
    A rejected transmission or submission rejects every record in it; in an accepted submission a
    record listed with errors is "accepted with errors" (its data reached the IRS: it can be
    corrected, SHAREDIRFORM009)."""
    t, s = pl.col("transmission_status"), pl.col("submission_status")
    errors = pl.col("record_errors").fill_null(0) > 0
    return (
        pl.when(pl.col("channel") == "FIRE")
        .then(pl.lit("FIRE"))
        .when(t.is_null())
        .then(pl.lit(AWAITING))
        .when((t == "Rejected") | (s == "Rejected"))
        .then(pl.lit(REJECTED))
        .when((t == "Processing") | (s == "Processing"))
        .then(pl.lit("processing"))
        .when((t == "Not Found") | (s == "Not Found"))
        .then(pl.lit("not found"))
        .when(s.is_null() & (t == "Partially Accepted"))
        .then(pl.lit("unknown"))
        .when(errors)
        .then(pl.lit(ACCEPTED_WITH_ERRORS))
        .otherwise(pl.lit(ACCEPTED))
    )


def record_status(filings: pl.DataFrame, acks: pl.DataFrame) -> pl.DataFrame:
    """``filings`` with ``receipt_id``, ``transmission_status``, ``submission_status``,
    ``record_errors`` and ``status`` (module docstring)."""
    ids = ["utid", "submission_id", "record_id"]
    return (
        filings.join(transmission_results(acks), on="utid", how="left")
        .join(submission_results(acks), on=["utid", "submission_id"], how="left")
        .join(record_error_counts(acks), on=[*ids, "_s_seq"], how="left")
        .with_columns(status_expr().alias("status"))
        .drop("_t_seq", "_s_seq")
    )


def unique_record_id() -> pl.Expr:
    """IRIS ``UniqueRecordId``: "ReceiptId|SubmissionId|RecordId" (IRS-IRefileTypes.xsd,
    UniqueRecordIdType)."""
    return pl.concat_str(
        [pl.col("receipt_id"), pl.col("submission_id").cast(pl.String), pl.col("record_id").cast(pl.String)],
        separator="|",
    )


def unique_submission_id() -> pl.Expr:
    """IRIS ``UniqueSubmissionId``: "ReceiptId|SubmissionId" (IRS-IRefileTypes.xsd,
    UniqueSubmissionIdType)."""
    return pl.concat_str([pl.col("receipt_id"), pl.col("submission_id").cast(pl.String)], separator="|")


def effective_filings(with_status: pl.DataFrame) -> pl.DataFrame:
    """The filed records that stand for corrections: every record but the corrections the IRS
    rejected (a rejected correction changed nothing at the IRS, so the lineage's state goes back to
    what the IRS holds and the next ``corrections`` sends the change again)."""
    return with_status.filter(~((pl.col("kind") == "correction") & (pl.col("status") == REJECTED)))


def fire_original_after_fire_closed(tax_year: int, transmitted_on: date | None) -> bool:
    """The project's choice for a correction of a return that went through FIRE, transmitted once
    FIRE has closed (docs/CONVENTIONS.md, "FIRE originals after FIRE closes"): IRIS needs the
    original's ``UniqueRecordId`` on every correction (IRIS Business Rules TY2025 v1.2
    SHAREDIRFORM006_002, FTMFST014) and takes only ids of submissions it accepted
    (SHAREDIRFORM009_001); a FIRE return has none, and the IRS has not published another route
    (IRS IRIS Working Group, 15 May 2025: IRIS the only intake from January 2027). So such a
    return is held and listed — never sent as an IRIS correction with a made-up reference, never
    sent again as an original (a duplicate) — and the user files it as the IRS directs. True when
    the correction would go through IRIS (``fire_last_transmission_date`` has passed)."""
    p = TaxParameters.for_year(tax_year)
    return (
        tax_year <= p.fire_last_tax_year
        and transmitted_on is not None
        and transmitted_on > p.fire_last_transmission_date
    )


def correction_references(
    state: pl.DataFrame, tax_year: int, channel: str, transmitted_on: date | None
) -> pl.DataFrame:
    """(payer_tin, lineage_account, prev_unique_record_id, held_reason) for every lineage of
    ``state`` (its latest filed record, with ``status`` and the IRIS ids): an IRIS correction points
    at the accepted original or latest accepted correction (SHAREDIRFORM009/010/026: same tax year
    and form type, a submission the IRS accepted). A lineage with no such record is held with the
    reason: the original rejected (replace it first), its acknowledgement not recorded, or — once
    FIRE has closed — a FIRE original (:func:`fire_original_after_fire_closed`). Through FIRE no
    reference is needed."""
    if channel == "FIRE":
        return state.select(
            "payer_tin",
            "lineage_account",
            pl.lit(None, pl.String).alias("prev_unique_record_id"),
            pl.lit(None, pl.String).alias("held_reason"),
        )
    fire_closed = fire_original_after_fire_closed(tax_year, transmitted_on)
    status = pl.col("status")
    reason = (
        pl.when(status == "FIRE")
        .then(pl.lit("filed through FIRE, which has closed" if fire_closed else "filed through FIRE"))
        .when(status.is_in(REFERENCEABLE) & pl.col("receipt_id").is_null())
        .then(pl.lit("receipt id missing"))
        .when(status.is_in(REFERENCEABLE))
        .then(pl.lit(None, pl.String))
        .when((status == REJECTED) & pl.col("kind").is_in(ORIGINAL_KINDS))
        .then(pl.lit("original rejected"))
        .otherwise(pl.lit("awaiting acknowledgement"))
    )
    return state.select(
        "payer_tin",
        "lineage_account",
        pl.when(reason.is_null()).then(unique_record_id()).alias("prev_unique_record_id"),
        reason.alias("held_reason"),
    )


def rejected_units(with_status: pl.DataFrame) -> pl.DataFrame:
    """The rejected units of originals still to be replaced, one row per record in them:
    ``replaces`` is the ``OriginalReceiptId`` of a rejected transmission of originals (TMFST012) or
    the ``OriginalUniqueSubmissionId`` of a submission rejected in a partially accepted
    transmission (S1H028), never both (FTMFST006); ``unit`` says which. A unit stays to be replaced
    while no replacement of it stands (TMFST013, S1H027: not "already successfully replaced") — a
    rejected replacement is replaced again with the same reference. Columns: the record's
    ``payer_tin``, ``lineage_account``, ``form_id``, ``filing_id``, ``transmission``, ``utid``,
    ``submission_id``, ``receipt_id``, ``unit``, ``replaces``."""
    originals = with_status.filter(
        pl.col("kind").is_in(["original", "late_original"]) & (pl.col("status") == REJECTED)
    )
    whole = pl.col("transmission_status") == "Rejected"
    units = originals.with_columns(
        pl.when(whole).then(pl.lit("transmission")).otherwise(pl.lit("submission")).alias("unit"),
        pl.when(whole).then(pl.col("receipt_id")).otherwise(unique_submission_id()).alias("replaces"),
    )
    standing = with_status.filter(
        (pl.col("kind") == "replacement") & (pl.col("status") != REJECTED) & pl.col("replaces").is_not_null()
    ).select("replaces")
    return units.join(standing.unique(), on="replaces", how="anti").select(
        "payer_tin",
        "lineage_account",
        "form_id",
        "filing_id",
        "transmission",
        "utid",
        "submission_id",
        "receipt_id",
        "unit",
        "replaces",
    )
