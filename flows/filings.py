"""``prorata file``, ``prorata corrections`` and ``prorata acknowledge``: what was sent to the IRS.

The store keeps, per tax year, a Delta table ``filings`` with one row per record transmitted
(originals, corrections, late originals): the return's values as sent (the store holds TINs, like
the extracts it is built from; nothing here prints them), its lineage (``lineage_account``: the
account number of the original, with the payer TIN), its role, the extracts behind it
(``extract_ids``), a hash of the payee's identity, and for IRIS the submission and record ids the
writer gives it. The append of a filing's rows is the commit point: the IRS file is written first
(atomically, into ``STORE/filings/TAX_YEAR/<filing_id>/`` and ``--out``), so a killed command
leaves either a recorded filing or none, and its rerun writes the same file again (the filing id
is derived from the content).

FIRE (Publication 1220) for tax years up to ``fire_last_tax_year``, IRIS XML after
(transforms/parameters.toml). IRIS corrections point at the original record's
``UniqueRecordId`` = "receipt id|submission id|record id": the receipt id the IRS returns for the
original transmission is recorded with ``prorata acknowledge``; corrections are refused, with one
line, while it is missing.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import polars_hash as plh

from flows import store as st
from flows.config import TransmitterSettings
from flows.filing import filing_frame, write_irs_file
from flows.outputs import StagedOutput, read_manifest, write_json, write_parquet
from transforms.corrections import (
    RETURN_COLUMNS,
    CorrectionPlan,
    filed_state,
    iris_corrections,
    plan_corrections,
)
from transforms.edit_checks import filable
from transforms.irs.channel import filing_channel
from transforms.irs.iris.iris_xml import OPTIONAL_COLUMNS as IRIS_OPTIONAL_COLUMNS
from transforms.irs.shared import REQUIRED_COLUMNS
from transforms.params import TaxParameters

ACK_SCHEMA = {"filing_id": pl.String, "receipt_id": pl.String, "recorded_at": pl.String}


@dataclass
class FilingResult:
    tax_year: int
    status: str  # "filed", "unchanged", "changed", "nothing to file", "corrections", "no corrections"
    filing_id: str | None = None
    counts: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    message: str = ""


def today() -> date:
    """The transmission date when none is given: today, in UTC."""
    return datetime.now(UTC).date()


def _fire_originals_after_fire_closed(tax_year: int, filings: pl.DataFrame, records: pl.DataFrame) -> None:
    """Refuse IRIS corrections of returns first filed through FIRE: an IRIS correction names its
    original by IRIS record id (PrevSubmittedRecRecipientGrp/UniqueRecordId), which a FIRE return
    never had, and the IRS has not said how a FIRE original is corrected once FIRE is closed
    (irs-filing-formats.md, open question 7). A project choice, easy to change here."""
    fire = filings.filter((pl.col("role") == "original") & (pl.col("channel") == "FIRE"))
    hit = records.join(
        fire.select("payer_tin", "lineage_account").unique(), on=["payer_tin", "lineage_account"]
    )
    if hit.height:
        raise st.StoreError(
            f"{hit.height} correction record(s) correct returns filed through FIRE, which closed on "
            f"{TaxParameters.for_year(tax_year).fire_last_transmission_date}: IRIS "
            "cannot name a FIRE original; see docs/OPERATIONS.md (corrections after FIRE closes)"
        )


def filings_table(store: st.Store, tax_year: int) -> pl.DataFrame:
    return st.read_delta(store.table(tax_year, "filings"))


def acknowledgements(store: st.Store, tax_year: int) -> pl.DataFrame:
    return st.read_delta(store.table(tax_year, "acknowledgements"), ACK_SCHEMA)


def current_forms(store: st.Store, tax_year: int) -> pl.DataFrame:
    """The year's forms at or above the filing threshold, as the writers take them, with ``roth``,
    ``destination``, ``blocked`` (a blocking edit check) and ``extract_ids`` (the extracts their
    disbursements came from)."""
    if not st.outputs_current(store, tax_year):
        raise st.StoreError(
            f"tax year {tax_year}: the outputs are not those of the store's extracts; run 'prorata nightly' first"
        )
    out = store.outputs(tax_year)
    forms = pl.read_parquet(out / "forms.parquet")
    checks = pl.read_parquet(out / "edit_checks.parquet")
    dist = pl.read_parquet(
        out / "distributions.parquet", columns=["distribution_id", "form_id", "contract", "destination"]
    )
    tables = {
        "plans": pl.read_parquet(out / "payers.parquet"),
        "payees": pl.read_parquet(out / "recipients.parquet"),
    }
    threshold = TaxParameters.for_year(tax_year).filing_threshold_cents
    ok = filable(forms, checks).select("form_id")
    live = st.live_tables(store, tax_year)
    payee_source = live["payees"].select("payee_id", pl.col(st.EXTRACT_COL).alias("_payee_extract"))
    per_form = (
        dist.join(
            live["distributions"].select("distribution_id", st.EXTRACT_COL), on="distribution_id", how="left"
        )
        .group_by("form_id")
        .agg(
            (pl.col("contract") == "roth").any().alias("roth"),
            pl.col("destination").first(),
            pl.col(st.EXTRACT_COL).drop_nulls().unique().alias("extract_ids"),
        )
    )
    frame = filing_frame(forms.filter(pl.col("box1_cents") >= threshold), tables)
    # the extracts behind a return: those of its disbursements and of its payee's name and TIN
    return (
        frame.join(per_form, on="form_id", how="left")
        .join(payee_source, on="payee_id", how="left")
        .with_columns(
            pl.concat_list("extract_ids", pl.col("_payee_extract").fill_null(""))
            .list.eval(pl.element().filter(pl.element() != ""))
            .list.unique()
            .list.sort()
            .alias("extract_ids"),
            (~pl.col("form_id").is_in(ok["form_id"].implode())).alias("blocked"),
        )
        .drop("_payee_extract")
    )


def _with_identity(frame: pl.DataFrame) -> pl.DataFrame:
    """``payee_identity``: SHA-256 of the payee's TIN, TIN type and name (first 16 hex digits), to
    compare identities across filings without showing them."""
    text = pl.concat_str(
        [
            pl.col(c).cast(pl.String).fill_null("")
            for c in ("payee_tin", "tin_type", "last_name", "first_name")
        ],
        separator="\x1f",
    )
    return (
        frame.with_columns(text.alias("_identity_text"))
        .with_columns(plh.col("_identity_text").chash.sha2_256().str.slice(0, 16).alias("payee_identity"))
        .drop("_identity_text")
    )


def _filing_id(tax_year: int, seq: int, kind: str, frame: pl.DataFrame, ytd_id: str) -> str:
    text = "|".join(
        [str(tax_year), str(seq), kind, ytd_id, *frame["form_id"].to_list(), *frame["corrected"].to_list()]
    )
    return f"{tax_year}-{seq:03d}-{kind[0]}{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _irs_file(
    root: Path,
    filing: pl.DataFrame,
    settings: TransmitterSettings,
    tax_year: int,
    suffix: str,
    transmitted_on: date,
) -> dict:
    """One filing's IRS file(s) in ``root/irs/`` (write_irs_file: the Pub 1220 file read back by our
    checker, the IRIS transmissions validated against the IRS's schema), named with ``suffix`` so
    originals and corrections sit side by side. IRIS: ``info["ids"]`` is the per-return index
    (form_id, submission_id, record_id, the transmission's file and UniqueTransmissionId)."""
    columns = [
        *REQUIRED_COLUMNS,
        *(c for c in IRIS_OPTIONAL_COLUMNS if c in filing.columns),
    ]
    info = write_irs_file(
        root,
        filing.select(columns),
        settings,
        tax_year,
        transmitted_on,
        suffix="" if suffix == "original" else suffix,
    )
    if info.get("index"):
        info["ids"] = pl.read_parquet(root / info["index"])
    return info


def _files(info: dict | None) -> list[str]:
    """The files of a filing's IRS part (IRIS: every transmission)."""
    if not info:
        return []
    return list(info.get("files") or ([info["file"]] if info.get("file") else []))


def _record_rows(
    frame: pl.DataFrame,
    *,
    filing_id: str,
    filed_at: str,
    kind: str,
    seq: int,
    tax_year: int,
    ytd_id: str,
    test_file: bool,
    transmitted_on: date,
    ids: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Rows of the filings table for the records of one filing; ``ids``: the IRIS writer's
    per-return index (SubmissionId and RecordId of each form_id)."""
    defaults = {
        "lineage_account": pl.col("account_number"),
        "role": pl.lit("original"),
        "state_row": pl.lit(True),
        "voided": pl.lit(False),
        "changed": pl.lit([], pl.List(pl.String)),
        "match": pl.lit(""),
        "extract_ids": pl.lit([], pl.List(pl.String)),
    }
    frame = frame.with_columns(v.alias(k) for k, v in defaults.items() if k not in frame.columns)
    system = filing_channel(tax_year, transmitted_on)
    frame = _with_identity(frame)
    if ids is not None:
        frame = frame.join(ids.select("form_id", "submission_id", "record_id"), on="form_id", how="left")
    if "submission_id" not in frame.columns:
        frame = frame.with_columns(
            pl.lit(None, pl.Int64).alias("submission_id"), pl.lit(None, pl.Int64).alias("record_id")
        )
    return frame.select(
        pl.lit(filing_id).alias("filing_id"),
        pl.lit(seq, pl.Int64).alias("seq"),
        pl.lit(filed_at).alias("filed_at"),
        pl.lit(kind).alias("kind"),
        pl.lit(system).alias("channel"),
        pl.lit(test_file).alias("test_file"),
        pl.lit(ytd_id).alias("ytd_id"),
        *RETURN_COLUMNS,
        "roth",
        "destination",
        "corrected",
        "lineage_account",
        "role",
        "state_row",
        "voided",
        pl.col("changed").cast(pl.List(pl.String)),
        pl.col("match").cast(pl.String),
        pl.col("extract_ids").cast(pl.List(pl.String)),
        "payee_identity",
        pl.col("submission_id").cast(pl.Int64),
        pl.col("record_id").cast(pl.Int64),
    )


def check_filing_target(out: Path) -> None:
    """``--out`` of ``file`` and ``corrections`` is replaced whole: only a new or empty folder or an
    earlier filing's (its manifest's ``kind``), never a run's outputs, a store or an extract."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if (read_manifest(out) or {}).get("kind") not in ("original", "correction"):
        raise st.StoreError(f"{out}: holds something other than an earlier filing; choose another --out")


def _test_mode(settings: TransmitterSettings) -> bool:
    """The file is a test file (T record position 28): no transmitter settings, or asked for."""
    return settings.test_file or not settings.configured


def _same_kind_of_file(filings: pl.DataFrame, settings: TransmitterSettings) -> pl.DataFrame:
    """Test files and production files are two separate histories: a test file is never the
    year's filing, so production originals and corrections compare with production filings only
    (and a rehearsal with the test files before it)."""
    if filings.height == 0:
        return filings
    return filings.filter(pl.col("test_file") == _test_mode(settings))


def _next_seq(filings: pl.DataFrame) -> int:
    return int(filings["seq"].max()) + 1 if filings.height else 1


def file_year(
    store_root: Path,
    tax_year: int,
    *,
    out: Path | None = None,
    settings: TransmitterSettings | None = None,
    transmitted_on: date | None = None,
) -> FilingResult:
    """Record and write the original filing of the year's current forms; a year already filed is
    not filed again (it says whether anything changed since). ``transmitted_on`` (default today)
    decides FIRE or IRIS (:func:`transforms.irs.channel.filing_channel`)."""
    settings = settings or TransmitterSettings.placeholder()
    on = transmitted_on or today()
    if out is not None:
        check_filing_target(out)
    store = st.Store(store_root)
    with store.lock():
        current = current_forms(store, tax_year)
        every = filings_table(store, tax_year)
        filings = _same_kind_of_file(every, settings)
        if filings.height:
            first = filings.sort("seq")["filing_id"][0]
            plan = plan_corrections(filed_state(filings), current)
            if plan.empty:
                return FilingResult(
                    tax_year,
                    "unchanged",
                    first,
                    plan.counts(),
                    message=f"already filed ({first}); nothing changed since",
                )
            return FilingResult(
                tax_year,
                "changed",
                first,
                plan.counts(),
                message=f"already filed ({first}); returns changed since: run 'prorata corrections'",
            )
        returns = current.filter(~pl.col("blocked"))
        if returns.height == 0:
            return FilingResult(tax_year, "nothing to file", message="no returns to file")
        ytd_id = st.ledger_id(st.ledger(store, tax_year), tax_year)
        seq = _next_seq(every)
        filing_id = _filing_id(tax_year, seq, "original", returns, ytd_id)
        target = out or store.filings_dir(tax_year) / filing_id
        with StagedOutput(target) as staged:
            info = _irs_file(staged.path, returns, settings, tax_year, "original", on)
            ids = info.pop("ids", None)
            summary = {
                "filing_id": filing_id,
                "tax_year": tax_year,
                "kind": "original",
                "ytd_id": ytd_id,
                "irs": info,
            }
            write_json(summary, staged.path / "manifest.json")
        if out is not None:  # keep the store's copy too
            _copy(target, store.filings_dir(tax_year) / filing_id)
        st.crash_point("file:written")
        rows = _record_rows(
            returns,
            filing_id=filing_id,
            filed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            kind="original",
            seq=seq,
            tax_year=tax_year,
            ytd_id=ytd_id,
            test_file=info["test_file"],
            transmitted_on=on,
            ids=ids,
        )
        st.append_delta(rows, store.table(tax_year, "filings"))  # the commit point
        return FilingResult(
            tax_year,
            "filed",
            filing_id,
            {"returns": returns.height},
            _files(info),
            f"{filing_channel(tax_year, on)} file written",
        )


def _copy(src: Path, dst: Path) -> None:
    with StagedOutput(dst) as staged:
        shutil.copytree(src, staged.path, dirs_exist_ok=True)


def acknowledge(store_root: Path, tax_year: int, filing_id: str, receipt_id: str) -> None:
    """Record the IRS receipt id of a transmitted filing (IRIS acknowledgement)."""
    store = st.Store(store_root)
    with store.lock():
        filings = filings_table(store, tax_year)
        if filings.height == 0 or filing_id not in filings["filing_id"].to_list():
            raise st.StoreError(f"tax year {tax_year}: no filing {filing_id} in the store")
        if not receipt_id.strip():
            raise st.StoreError("the receipt id is empty")
        row = pl.DataFrame(
            {
                "filing_id": [filing_id],
                "receipt_id": [receipt_id.strip()],
                "recorded_at": [datetime.now(UTC).isoformat(timespec="seconds")],
            },
            schema=ACK_SCHEMA,
        )
        st.append_delta(row, store.table(tax_year, "acknowledgements"))


def _prev_record_ids(
    store: st.Store, tax_year: int, filings: pl.DataFrame, records: pl.DataFrame
) -> pl.DataFrame:
    """IRIS: each correction record's ``prev_unique_record_id`` — the lineage's original record
    ("receipt id|submission id|record id"); refused while an original filing has no receipt id."""
    acks = acknowledgements(store, tax_year).sort("recorded_at").unique("filing_id", keep="last")
    originals = (
        filings.filter(pl.col("role").is_in(["original"]))
        .select("payer_tin", "lineage_account", "filing_id", "submission_id", "record_id")
        .join(acks.select("filing_id", "receipt_id"), on="filing_id", how="left")
    )
    joined = records.join(originals, on=["payer_tin", "lineage_account"], how="left")
    missing = joined.filter(pl.col("receipt_id").is_null())
    if missing.height:
        ids = sorted(set(missing["filing_id"].drop_nulls().to_list()))
        raise st.StoreError(
            f"IRIS corrections need the receipt id of filing {', '.join(ids) or '?'}: "
            f"record it with 'prorata acknowledge --store STORE --tax-year {tax_year} --filing-id ID --receipt-id RECEIPT'"
        )
    return joined.with_columns(
        pl.concat_str(
            ["receipt_id", pl.col("submission_id").cast(pl.String), pl.col("record_id").cast(pl.String)],
            separator="|",
        ).alias("prev_unique_record_id")
    ).drop("filing_id", "submission_id", "record_id", "receipt_id")


def corrections_year(
    store_root: Path,
    tax_year: int,
    out: Path,
    *,
    settings: TransmitterSettings | None = None,
    transmitted_on: date | None = None,
) -> FilingResult:
    """Write and record the corrections (and late originals) of the returns that changed since the
    last filing; nothing is written when nothing changed. ``transmitted_on`` (default today)
    decides FIRE or IRIS: corrections go by transmission date (outputs.md, "IRS files")."""
    settings = settings or TransmitterSettings.placeholder()
    on = transmitted_on or today()
    check_filing_target(out)
    store = st.Store(store_root)
    with store.lock():
        every = filings_table(store, tax_year)
        filings = _same_kind_of_file(every, settings)
        if filings.height == 0:
            kind = "as a test file" if _test_mode(settings) else "in production"
            raise st.StoreError(f"tax year {tax_year} has not been filed {kind}: run 'prorata file' first")
        current = current_forms(store, tax_year)
        plan: CorrectionPlan = plan_corrections(filed_state(filings), current)
        counts = plan.counts()
        if plan.empty:
            return FilingResult(
                tax_year,
                "no corrections",
                counts=counts,
                message="nothing changed since the last filing: no IRS file written",
            )
        records = plan.records.join(
            current.select("form_id", "extract_ids"), on="form_id", how="left"
        ).with_columns(pl.col("extract_ids").fill_null(pl.lit([], pl.List(pl.String))))
        if filing_channel(tax_year, on) == "IRIS" and records.height:
            _fire_originals_after_fire_closed(tax_year, filings, records)
            # one record per corrected return (no Type 2 pair), naming the original's record
            records = _prev_record_ids(store, tax_year, filings, iris_corrections(records))
        late = plan.late.join(current.select("form_id", "extract_ids"), on="form_id", how="left")
        ytd_id = st.ledger_id(st.ledger(store, tax_year), tax_year)
        seq = _next_seq(every)
        both = pl.concat([records.select("form_id", "corrected"), late.select("form_id", "corrected")])
        filing_id = _filing_id(tax_year, seq, "correction", both, ytd_id)
        # late originals are a transmission of their own (an IRIS transmission holds originals or
        # corrections, never both), so they get their own filing id — and their own receipt id
        separate = records.height > 0 and late.height > 0
        late_id = _filing_id(tax_year, seq + 1, "late_original", both, ytd_id) if separate else filing_id
        late_seq = seq + 1 if separate else seq
        files: list[str] = []
        test_file = _test_mode(settings)
        with StagedOutput(out) as staged:
            info_c = (
                _irs_file(staged.path, records, settings, tax_year, "corrections", on)
                if records.height
                else None
            )
            info_l = (
                _irs_file(staged.path, late, settings, tax_year, "late_originals", on)
                if late.height
                else None
            )
            ids_c = info_c.pop("ids", None) if info_c else None
            ids_l = info_l.pop("ids", None) if info_l else None
            files = _files(info_c) + _files(info_l)
            write_parquet(
                pl.concat(
                    [
                        records.select("form_id", "lineage_account", "role", "corrected", "changed", "match"),
                        late.select(
                            "form_id",
                            pl.col("account_number").alias("lineage_account"),
                            pl.lit("late_original").alias("role"),
                            "corrected",
                            pl.lit([], pl.List(pl.String)).alias("changed"),
                            pl.lit("").alias("match"),
                        ),
                    ]
                ).sort("lineage_account", "role"),
                staged.path / "corrections.parquet",
            )
            if plan.held.height:
                write_parquet(plan.held, staged.path / "held.parquet")
            write_json(
                {
                    "filing_id": filing_id,
                    "late_originals_filing_id": late_id if late.height else None,
                    "tax_year": tax_year,
                    "kind": "correction",
                    "ytd_id": ytd_id,
                    "counts": counts,
                    "files": files,
                    "irs": {"corrections": info_c, "late_originals": info_l},
                },
                staged.path / "manifest.json",
            )
        _copy(out, store.filings_dir(tax_year) / filing_id)
        st.crash_point("corrections:written")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        common = {
            "filing_id": filing_id,
            "filed_at": now,
            "seq": seq,
            "tax_year": tax_year,
            "ytd_id": ytd_id,
            "test_file": test_file,
            "transmitted_on": on,
        }
        rows = []
        if records.height:
            rows.append(_record_rows(records, kind="correction", ids=ids_c, **common))
        if late.height:
            rows.append(
                _record_rows(
                    late, kind="late_original", ids=ids_l, **{**common, "filing_id": late_id, "seq": late_seq}
                )
            )
        st.append_delta(pl.concat(rows), store.table(tax_year, "filings"))  # the commit point
        message = "corrections written" + (f"; late originals filed apart as {late_id}" if separate else "")
        return FilingResult(tax_year, "corrections", filing_id, counts, files, message)
