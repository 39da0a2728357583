"""The filing season over the store: prepare, review, approve (or discard), replace, correct.

Nothing is filed by writing a file. ``prorata file``, ``prorata corrections`` and ``prorata replace``
**prepare** a filing: its IRS transmissions, ``records.parquet`` (the rows the filing will add to the
``filings`` table), a review (review.html, review.csv: flows/season/review.py) and a manifest, written
atomically into ``STORE/filings/TAX_YEAR/<filing_id>/`` (and ``--out``); the step is recorded in
the year's history (flows/io/history.py) with who prepared it. A second person **approves** it
(``prorata approve``: refused when the approver is the preparer, unless ``[approval]
one_person_team = true``): only then are its records appended to ``filings`` — the commit point —
and the filing becomes the year's filing of record, the state later corrections compare with. A
prepared filing can be **discarded** (its folder removed, the step recorded). One filing at a time
awaits approval per tax year (and per kind of file: TEST or production); a filing prepared before
the year changed (a new extract, another filing approved) is refused at approval: prepare it again.

The ``filings`` table keeps one row per record sent: the return's values as sent (the store holds
TINs, like the extracts it is built from; nothing here prints them), its lineage
(``lineage_account``: the account number of the original, with the payer TIN), its role, the
extracts behind it (``extract_ids``), a hash of the payee's identity, the transmission it went in
(``transmission``, ``utid``) with its IRIS ``submission_id`` and ``record_id``, what it replaces
(``replaces``), and who prepared and approved it, when.

FIRE (Publication 1220) for tax years up to ``fire_last_tax_year`` while FIRE is open, IRIS XML
after (transforms/irs/channel.py). The IRS's acknowledgements (flows/season/acks.py) say which records were
accepted: IRIS corrections point at the accepted original or latest accepted correction, rejected
originals are replaced (transforms/season/references.py).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import polars_hash as plh

from flows.io import history
from flows.io import store as st
from flows.io.outputs import StagedOutput, read_manifest, write_json, write_parquet
from flows.io.store import filings_table
from flows.irs.files import filing_frame, write_irs_file
from flows.season.review import changes_since_last_nightly, write_review
from flows.settings import FilingPolicy, TransmitterSettings
from transforms.engine.edit_checks import filable
from transforms.irs.channel import filing_channel
from transforms.irs.iris.iris_xml import OPTIONAL_COLUMNS as IRIS_OPTIONAL_COLUMNS
from transforms.irs.shared import REQUIRED_COLUMNS
from transforms.law.params import TaxParameters
from transforms.season.corrections import (
    LINEAGE,
    RETURN_COLUMNS,
    filed_state,
    iris_corrections,
    pair,
    plan_corrections,
)
from transforms.season.references import (
    HELD_ACTIONS,
    correction_references,
    effective_filings,
    record_status,
    rejected_units,
)

FILING_KINDS = ("original", "correction", "replacement")


@dataclass
class FilingResult:
    tax_year: int
    status: (
        str  # "prepared", "already prepared", "unchanged", "changed", "nothing to file", "no corrections",
    )
    #              "nothing to replace", "approved", "already approved", "discarded"
    filing_id: str | None = None
    counts: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    message: str = ""
    test_file: bool = False
    lines: list[str] = field(default_factory=list)  # more to print (ids and counts only)


def today() -> date:
    """The transmission date when none is given: today, in UTC."""
    return datetime.now(UTC).date()


def current_forms(store: st.Store, tax_year: int) -> pl.DataFrame:
    """The year's forms at or above the filing threshold, as the writers take them, with ``roth``,
    ``destination``, ``participant_id`` (the account the form reports), ``blocked`` (a blocking edit
    check) and ``extract_ids`` (the extracts their disbursements came from)."""
    if not st.outputs_current(store, tax_year):
        raise st.StoreError(
            f"tax year {tax_year}: the outputs are not those of the store's extracts; run 'prorata nightly' first"
        )
    out = store.outputs(tax_year)
    forms = pl.read_parquet(out / "forms.parquet")
    checks = pl.read_parquet(out / "edit_checks.parquet")
    dist = pl.read_parquet(
        out / "distributions.parquet",
        columns=["distribution_id", "form_id", "participant_id", "contract", "destination"],
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
            pl.col("participant_id").first(),  # one account per form (docs/spec/outputs.md forms, v2)
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


# ---- transmissions ------------------------------------------------------------------------------


def _transmissions(
    root: Path,
    frame: pl.DataFrame,
    settings: TransmitterSettings,
    tax_year: int,
    kind: str,
    transmitted_on: date,
    original_receipt_id: str | None = None,
    part: int = 0,
) -> tuple[dict, list[dict], pl.DataFrame]:
    """The IRS transmission(s) of ``frame`` in ``root/irs/`` (flows.irs.files.write_irs_file: the Pub
    1220 file read back by our checker; IRIS transmissions of at most 100 MB, each validated whole —
    every byte parsed by libxml2 against the IRS's schema package, never by the record check of
    ``prorata run`` — with a per-return index), named after their kind so several sit side
    by side (``part``: the how-manieth part of this kind in the filing, from 0). Returns the writer's
    summary (write_irs_file's: files, index, schema checked), what the manifest says of each
    transmission, and ``frame`` with each record's ``transmission`` (file), ``utid``,
    ``submission_id`` and ``record_id`` (IRIS: from the index)."""
    columns = [*REQUIRED_COLUMNS, *(c for c in IRIS_OPTIONAL_COLUMNS if c in frame.columns)]
    suffix = {"original": "", "correction": "corrections", "late_original": "late_originals"}.get(kind, kind)
    suffix += (
        f"_{part + 1}" if part else ""
    )  # a second part of the same kind (a replacement of another transmission)
    info = write_irs_file(
        root,
        frame.select(columns),
        settings,
        tax_year,
        transmitted_on,
        suffix=suffix,
        original_receipt_id=original_receipt_id,
        full_validation=True,  # what is sent to the IRS: the whole file (docs/OPERATIONS.md)
    )
    if info["channel"] == "FIRE":
        return (
            info,
            [info | {"kind": kind, "utid": None}],
            frame.with_columns(
                pl.lit(info["file"]).alias("transmission"),
                pl.lit(None, pl.String).alias("utid"),
                pl.lit(None, pl.Int64).alias("submission_id"),
                pl.lit(None, pl.Int64).alias("record_id"),
            ),
        )
    common = {
        k: v for k, v in info.items() if k not in ("transmissions", "files", "file", "index", "returns")
    }
    transmissions = [
        common
        | t
        | {"kind": kind, "file": f"irs/{Path(t['file']).name}", "utid": t["unique_transmission_id"]}
        for t in info["transmissions"]
    ]
    index = pl.read_parquet(root / info["index"]).select(
        "form_id",
        pl.concat_str(pl.lit("irs/"), "transmission").alias("transmission"),
        pl.col("unique_transmission_id").alias("utid"),
        "submission_id",
        "record_id",
    )
    return info, transmissions, frame.join(index, on="form_id", how="left")


def _record_rows(
    frame: pl.DataFrame,
    *,
    filing_id: str,
    kind: str,
    tax_year: int,
    ytd_id: str,
    test_file: bool,
    channel: str,
) -> pl.DataFrame:
    """Rows of the filings table for the records of one transmission (``seq``, ``filed_at`` and who
    approved them are set at approval)."""
    defaults = {
        "lineage_account": pl.col("account_number"),
        "role": pl.lit("original"),
        "state_row": pl.lit(True),
        "voided": pl.lit(False),
        "changed": pl.lit([], pl.List(pl.String)),
        "match": pl.lit(""),
        "extract_ids": pl.lit([], pl.List(pl.String)),
        "participant_id": pl.lit(None, pl.String),
        "replaces": pl.lit(None, pl.String),
    }
    frame = _with_identity(
        frame.with_columns(v.alias(k) for k, v in defaults.items() if k not in frame.columns)
    )
    return frame.select(
        pl.lit(filing_id).alias("filing_id"),
        pl.lit(kind).alias("kind"),
        pl.lit(channel).alias("channel"),
        pl.lit(test_file).alias("test_file"),
        pl.lit(ytd_id).alias("ytd_id"),
        *RETURN_COLUMNS,
        "roth",
        "destination",
        pl.col("participant_id").cast(pl.String),
        "corrected",
        "lineage_account",
        "role",
        "state_row",
        "voided",
        pl.col("changed").cast(pl.List(pl.String)),
        pl.col("match").cast(pl.String),
        pl.col("extract_ids").cast(pl.List(pl.String)),
        "payee_identity",
        pl.col("transmission").cast(pl.String),
        pl.col("utid").cast(pl.String),
        pl.col("submission_id").cast(pl.Int64),
        pl.col("record_id").cast(pl.Int64),
        pl.col("replaces").cast(pl.String),
    )


# ---- prepared filings ---------------------------------------------------------------------------


def check_filing_target(out: Path) -> None:
    """``--out`` of ``file``, ``corrections`` and ``replace`` is replaced whole: only a new or empty
    folder or an earlier filing's (its manifest's ``kind``), never a run's outputs, a store or an
    extract."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if (read_manifest(out) or {}).get("kind") not in FILING_KINDS:
        raise st.StoreError(f"{out}: holds something other than an earlier filing; choose another --out")


def _test_mode(settings: TransmitterSettings) -> bool:
    """The file is a test file (T record position 28, IRIS TestCd "T"): no transmitter settings,
    or asked for."""
    return settings.test_file or not settings.configured


def _same_kind_of_file(filings: pl.DataFrame, test: bool) -> pl.DataFrame:
    """Test files and production files are two separate histories: a test file is never the
    year's filing, so production originals and corrections compare with production filings only
    (and a rehearsal with the test files before it)."""
    if filings.height == 0:
        return filings
    return filings.filter(pl.col("test_file") == test)


def _next_seq(filings: pl.DataFrame) -> int:
    return int(filings["seq"].max()) + 1 if filings.height else 1


def _base_seq(filings: pl.DataFrame) -> int:
    return int(filings["seq"].max()) if filings.height else 0


def pending_filings(store: st.Store, tax_year: int) -> pl.DataFrame:
    """Filings prepared and neither approved nor discarded: (filing_id, state, by, at, test_file)."""
    return history.filing_states(history.events(store, tax_year)).filter(pl.col("state") == "prepared")


def _refuse_if_pending(store: st.Store, tax_year: int, test: bool, filing_id: str | None) -> str | None:
    """The id of a prepared filing awaiting approval of the same kind of file: ``filing_id`` itself
    (the same content prepared again) is returned; any other is refused."""
    pending = pending_filings(store, tax_year).filter(pl.col("test_file") == test)
    if pending.height == 0:
        return None
    first = pending.row(0, named=True)
    if filing_id is not None and first["filing_id"] == filing_id:
        return filing_id
    raise st.StoreError(
        f"filing {first['filing_id']} (prepared by {first['by']} at {first['at']}) awaits approval: "
        "approve it ('prorata approve') or discard it ('prorata discard') first"
    )


def _manifest_of(store: st.Store, tax_year: int, filing_id: str) -> dict:
    manifest = read_manifest(store.filings_dir(tax_year) / filing_id)
    if manifest is None or manifest.get("filing_id") != filing_id:
        raise st.StoreError(f"tax year {tax_year}: no prepared filing {filing_id} in the store")
    return manifest


def _held_frame(held: pl.DataFrame) -> pl.DataFrame:
    """``held`` (form_id, reason[, lineage_account]) with what the user must do about each."""
    keys = pl.DataFrame({"_key": list(HELD_ACTIONS), "action": list(HELD_ACTIONS.values())})
    if "lineage_account" not in held.columns:
        held = held.with_columns(pl.lit(None, pl.String).alias("lineage_account"))
    return (
        held.select("form_id", "lineage_account", "reason")
        .with_columns(pl.col("reason").str.split(":").list.first().alias("_key"))
        .join(keys, on="_key", how="left")
        .drop("_key")
        .sort("reason", "form_id")
    )


def _held_lines(held: pl.DataFrame, limit: int = 5) -> list[str]:
    """One line per reason: how many returns, the first form ids, what to do."""
    lines = []
    for (reason,), part in held.group_by("reason", maintain_order=True):
        ids = ", ".join(part["form_id"].drop_nulls().head(limit).to_list())
        more = f" (+{part.height - limit} more)" if part.height > limit else ""
        action = part["action"][0] or ""
        lines.append(
            f"held back: {part.height} return(s), {reason}: {ids}{more}" + (f" — {action}" if action else "")
        )
    return lines


@dataclass(frozen=True)
class _Step:
    """Who prepares a filing, with which settings, for which transmission date, and where else
    its folder goes (``--out``)."""

    settings: TransmitterSettings
    on: date
    who: str
    out: Path | None

    @classmethod
    def of(cls, settings, transmitted_on, user, out) -> _Step:
        if out is not None:
            check_filing_target(out)
        return cls(
            settings or TransmitterSettings.placeholder(), transmitted_on or today(), history.actor(user), out
        )

    @property
    def test(self) -> bool:
        return _test_mode(self.settings)


def _prepare(
    store: st.Store,
    tax_year: int,
    step: _Step,
    *,
    kind: str,
    parts: list[tuple[str, pl.DataFrame, dict]],
    every: pl.DataFrame,
    held: pl.DataFrame,
    counts: dict,
    extra: dict[str, pl.DataFrame] | None = None,
) -> FilingResult:
    """Write a prepared filing (module docstring) and record the step; the same returns prepared
    again while they await approval are said to be so. ``parts``: (transmission kind, records,
    extra manifest facts) per transmission; ``every``: the filings of record."""
    settings, on, who, out, test = step.settings, step.on, step.who, step.out, step.test
    ytd_id = st.ledger_id(st.ledger(store, tax_year), tax_year)
    sent = pl.concat([frame.select("form_id", "corrected") for _, frame, _ in parts])
    filing_id = _filing_id(tax_year, _next_seq(every), kind, sent, ytd_id)
    if _refuse_if_pending(store, tax_year, test, filing_id):
        return FilingResult(
            tax_year,
            "already prepared",
            filing_id,
            counts,
            message=f"filing {filing_id} is already prepared and awaits approval",
            test_file=test,
        )
    base_seq = _base_seq(_same_kind_of_file(every, test))
    channel = filing_channel(tax_year, on)
    now = history.now()
    target = store.filings_dir(tax_year) / filing_id
    transmissions, rows, irs = [], [], {}
    with StagedOutput(target) as staged:
        for i, (part_kind, frame, facts) in enumerate(parts):
            same = sum(k == part_kind for k, _, _ in parts[:i])
            receipt = facts.get("original_receipt_id")
            written, infos, indexed = _transmissions(
                staged.path, frame, settings, tax_year, part_kind, on, receipt, same
            )
            irs[part_kind + (f"_{same + 1}" if same else "")] = written
            transmissions += [info | facts for info in infos]
            row_kind = "replacement" if kind == "replacement" else part_kind
            rows.append(
                _record_rows(
                    indexed,
                    filing_id=filing_id,
                    kind=row_kind,
                    tax_year=tax_year,
                    ytd_id=ytd_id,
                    test_file=test,
                    channel=channel,
                )
            )
        records = pl.concat(rows, how="vertical_relaxed")
        write_parquet(records, staged.path / "records.parquet")
        held = _held_frame(held)
        if held.height:
            write_parquet(held, staged.path / "held.parquet")
        for name, frame in (extra or {}).items():
            write_parquet(frame, staged.path / name)
        plans = pl.read_parquet(store.outputs(tax_year) / "payers.parquet", columns=["plan_id", "plan_name"])
        checks = pl.read_parquet(store.outputs(tax_year) / "edit_checks.parquet")
        files = [t["file"] for t in transmissions if t.get("file")]
        validation = _schema_validation(transmissions)
        heading = {
            "filing": filing_id,
            "tax year": str(tax_year),
            "kind": kind,
            "channel": channel,
            "file": "TEST FILE" if test else "production",
            "prepared by": who,
            "prepared at": now,
            "year-to-date": ytd_id,
            "returns": f"{records.height:,}",
        }
        reviewed = records if kind != "original" else records.drop("role")
        write_review(
            staged.path,
            filing_id=filing_id,
            heading=heading,
            test_file=test,
            rows=reviewed,
            plans=plans,
            checks=checks,
            held=held,
            changes=changes_since_last_nightly(store, tax_year),
            transmissions=transmissions,
        )
        write_json(
            {
                "filing_id": filing_id,
                "tax_year": tax_year,
                "kind": kind,
                "channel": channel,
                "test_file": test,
                "ytd_id": ytd_id,
                "base_seq": base_seq,
                "prepared_by": who,
                "prepared_at": now,
                "transmission_date": on.isoformat(),
                "transmissions": transmissions,
                "irs": irs,  # the writer's summary of each part (files, index, schema checked)
                "schema_validation": validation,
                "counts": counts,
                "files": files,
            },
            staged.path / "manifest.json",
        )
    if out is not None and out.resolve() != target.resolve():
        _copy(target, out)
    st.crash_point(
        {"original": "file", "correction": "corrections", "replacement": "replace"}[kind] + ":written"
    )
    history.record(
        store,
        tax_year,
        "prepare",
        who,
        filing_id=filing_id,
        test_file=test,
        detail={
            "kind": kind,
            "returns": records.height,
            "files": files,
            "held": held.height,
            "schema_validation": validation,
        },
        at=now,
    )
    return FilingResult(
        tax_year,
        "prepared",
        filing_id,
        counts,
        files,
        f"{channel} filing prepared for review: not filed until approved ('prorata approve --filing-id {filing_id}')",
        test,
        [f"review: {target / 'review.html'}", *_held_lines(held)],
    )


def _schema_validation(transmissions: list[dict]) -> str | None:
    """Which validation against the IRS's schema the filing's transmissions had: ``whole file``
    (IRIS with a package: every one, :func:`_transmissions`), None for FIRE (read back by the
    Publication 1220 checker) or IRIS without a package (``schema_checked: false``)."""
    kinds = {t.get("schema_validation") for t in transmissions} - {None}
    return ", ".join(sorted(kinds)) or None


def _copy(src: Path, dst: Path) -> None:
    with StagedOutput(dst) as staged:
        shutil.copytree(src, staged.path, dirs_exist_ok=True)


def file_year(
    store_root: Path,
    tax_year: int,
    *,
    out: Path | None = None,
    settings: TransmitterSettings | None = None,
    transmitted_on: date | None = None,
    user: str | None = None,
) -> FilingResult:
    """Prepare the original filing of the year's current forms; a year already filed is not filed
    again (it says whether anything changed since). ``transmitted_on`` (default today) decides FIRE
    or IRIS (:func:`transforms.irs.channel.filing_channel`)."""
    step = _Step.of(settings, transmitted_on, user, out)
    store = st.Store(store_root)
    with store.lock():
        current = current_forms(store, tax_year)
        every = filings_table(store, tax_year)
        filings = _same_kind_of_file(every, step.test)
        if filings.height:
            first = filings.sort("seq")["filing_id"][0]
            plan = plan_corrections(filed_state(filings), current)
            if plan.empty:
                status, message = "unchanged", f"already filed ({first}); nothing changed since"
            else:
                status = "changed"
                message = f"already filed ({first}); returns changed since: run 'prorata corrections'"
            return FilingResult(tax_year, status, first, plan.counts(), message=message, test_file=step.test)
        returns = current.filter(~pl.col("blocked"))
        if returns.height == 0:
            return FilingResult(
                tax_year, "nothing to file", message="no returns to file", test_file=step.test
            )
        held = current.filter(pl.col("blocked")).select(
            "form_id", pl.lit("blocking edit check").alias("reason")
        )
        return _prepare(
            store,
            tax_year,
            step,
            kind="original",
            parts=[("original", returns, {})],
            every=every,
            held=held,
            counts={"returns": returns.height, "held": held.height},
        )


@dataclass
class PendingCorrections:
    """What ``corrections`` would send now: correction ``records`` (with ``prev_unique_record_id``
    for IRIS), ``late`` originals, ``held`` returns (form_id, lineage_account, reason) and counts."""

    records: pl.DataFrame
    late: pl.DataFrame
    held: pl.DataFrame
    counts: dict


def pending_corrections(
    store: st.Store, tax_year: int, filings: pl.DataFrame, on: date
) -> PendingCorrections:
    """The corrections and late originals the current forms call for, against what the IRS holds
    (the filings of record less rejected corrections), each IRIS correction with the record it
    points at; those without one are held with the reason (transforms/season/references.py)."""
    from flows.season.acks import acknowledgements

    with_status = record_status(filings, acknowledgements(store, tax_year))
    state = filed_state(effective_filings(with_status))
    current = current_forms(store, tax_year)
    plan = plan_corrections(state, current)
    channel = filing_channel(tax_year, on)
    refs = correction_references(state, tax_year, channel, on)
    records = (
        plan.records.join(refs, on=LINEAGE, how="left")
        .join(current.select("form_id", "extract_ids"), on="form_id", how="left")
        .with_columns(pl.col("extract_ids").fill_null(pl.lit([], pl.List(pl.String))))
    )
    unreferenced = records.filter(pl.col("held_reason").is_not_null())
    records = records.filter(pl.col("held_reason").is_null()).drop("held_reason")
    # IRIS: one record per corrected return, naming the record it corrects
    records = records.drop("prev_unique_record_id") if channel == "FIRE" else iris_corrections(records)
    late = plan.late.join(current.select("form_id", "extract_ids"), on="form_id", how="left")
    held = pl.concat(
        [
            plan.held.with_columns(pl.lit(None, pl.String).alias("lineage_account")),
            unreferenced.unique(LINEAGE, keep="first", maintain_order=True).select(
                "form_id", "lineage_account", pl.col("held_reason").alias("reason")
            ),
        ],
        how="diagonal_relaxed",
    )
    counts = plan.counts() | {
        "held": held.height,
        "type1": int((records["role"] == "type1").sum()),
        "void": int((records["role"] == "void").sum()),
        "type2": int((records["role"] == "type2_correct").sum()),
        "records": records.height,
        "channel": channel,
    }
    return PendingCorrections(records, late, held, counts)


def corrections_year(
    store_root: Path,
    tax_year: int,
    out: Path,
    *,
    settings: TransmitterSettings | None = None,
    transmitted_on: date | None = None,
    user: str | None = None,
) -> FilingResult:
    """Prepare the corrections (and late originals) of the returns that changed since the IRS got
    them; nothing is written when nothing changed. IRIS corrections point at the accepted original
    or latest accepted correction; a return without one is held and listed with the reason
    (transforms/season/references.py). ``transmitted_on`` (default today) decides FIRE or IRIS: corrections
    go by transmission date (docs/spec/outputs.md, "IRS files")."""
    step = _Step.of(settings, transmitted_on, user, out)
    store = st.Store(store_root)
    with store.lock():
        every = filings_table(store, tax_year)
        filings = _same_kind_of_file(every, step.test)
        if filings.height == 0:
            mode = "as a test file" if step.test else "in production"
            raise st.StoreError(f"tax year {tax_year} has not been filed {mode}: run 'prorata file' first")
        pending = pending_corrections(store, tax_year, filings, step.on)
        records, late, held, counts = pending.records, pending.late, pending.held, pending.counts
        if records.height == 0 and late.height == 0:
            why = "nothing changed since the last filing" if held.height == 0 else "nothing can be sent yet"
            return FilingResult(
                tax_year,
                "no corrections",
                counts=counts,
                test_file=step.test,
                message=f"{why}: no IRS file written",
                lines=_held_lines(_held_frame(held)),
            )
        # an IRIS transmission holds originals or corrections, never both: late originals go apart
        parts = [("correction", records, {})] if records.height else []
        parts += [("late_original", late, {})] if late.height else []
        report = pl.concat(
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
        ).sort("lineage_account", "role")
        extra = {"corrections.parquet": report}
        return _prepare(
            store,
            tax_year,
            step,
            kind="correction",
            parts=parts,
            every=every,
            held=held,
            counts=counts,
            extra=extra,
        )


def replace_year(
    store_root: Path,
    tax_year: int,
    out: Path,
    *,
    settings: TransmitterSettings | None = None,
    transmitted_on: date | None = None,
    user: str | None = None,
) -> FilingResult:
    """Prepare the replacement of every rejected transmission or submission of originals not yet
    replaced (transforms/season/references.py ``rejected_units``): each return as it is now (after the
    extract or settings were fixed), under its original account number, in a transmission of type
    "R" naming the rejected transmission's ``OriginalReceiptId`` or each rejected submission's
    ``OriginalUniqueSubmissionId`` (IRIS rules TMFST012/013, S1H027-029, FTMFST006) — and nothing
    else. A rejected return with no current form, or held back by an edit check, is listed."""
    step = _Step.of(settings, transmitted_on, user, out)
    store = st.Store(store_root)
    with store.lock():
        every = filings_table(store, tax_year)
        filings = _same_kind_of_file(every, step.test)
        from flows.season.acks import acknowledgements

        with_status = record_status(filings, acknowledgements(store, tax_year)) if filings.height else filings
        units = rejected_units(with_status) if filings.height else pl.DataFrame()
        if units.height == 0:
            return FilingResult(
                tax_year,
                "nothing to replace",
                test_file=step.test,
                message="no rejected transmission or submission of originals awaits a replacement",
            )
        if filing_channel(tax_year, step.on) != "IRIS":
            raise st.StoreError(
                "replacements are IRIS transmissions (TransmissionTypeCd R); this one would go to FIRE"
            )
        no_receipt = units.filter(pl.col("replaces").is_null())
        units = units.filter(pl.col("replaces").is_not_null())
        current = current_forms(store, tax_year)
        state = filed_state(effective_filings(with_status))
        pairs = pair(state, current).join(units.select(LINEAGE), on=LINEAGE, how="semi")
        joined = units.join(
            pairs.select(*LINEAGE, pl.col("form_id").alias("_current"), "match"), on=LINEAGE, how="left"
        )
        gone = joined.filter(pl.col("_current").is_null())
        now_forms = current.rename({"form_id": "_current"})
        matched = (
            joined.filter(pl.col("_current").is_not_null())
            .select(*LINEAGE, "_current", "match", "replaces", "unit", "utid")
            .join(now_forms, on="_current", how="inner")
        )
        blocked = matched.filter(pl.col("blocked"))
        ready = (
            matched.filter(~pl.col("blocked"))
            .with_columns(
                pl.col("lineage_account").alias("account_number"),
                pl.col("_current").alias("form_id"),
                pl.lit("").alias("corrected"),
            )
            .drop("_current")
        )
        held = pl.concat(
            [
                no_receipt.select("form_id", "lineage_account", pl.lit("receipt id missing").alias("reason")),
                gone.select(
                    "form_id",
                    "lineage_account",
                    pl.lit("rejected original no longer filable").alias("reason"),
                ),
                blocked.select(
                    pl.col("_current").alias("form_id"),
                    "lineage_account",
                    pl.lit("blocking edit check").alias("reason"),
                ),
            ]
        )
        counts = {"returns": ready.height, "held": held.height, "units": units["replaces"].n_unique()}
        if ready.height == 0:
            return FilingResult(
                tax_year,
                "nothing to replace",
                counts=counts,
                test_file=step.test,
                message="the rejected returns cannot be replaced yet",
                lines=_held_lines(_held_frame(held)),
            )
        parts = []
        for (utid,), part in ready.sort("utid", "payer_tin", "account_number").group_by(
            "utid", maintain_order=True
        ):
            whole = part["unit"][0] == "transmission"
            facts = {
                "replaces_transmission": utid,
                "original_receipt_id" if whole else "original_unique_submission_ids": (
                    part["replaces"][0] if whole else sorted(part["replaces"].unique().to_list())
                ),
            }
            if not whole:  # each replaced submission names the rejected one (S1H027-029)
                part = part.with_columns(pl.col("replaces").alias("original_unique_submission_id"))
            parts.append(("replacement", part.drop("unit", "utid"), facts))
        return _prepare(
            store, tax_year, step, kind="replacement", parts=parts, every=every, held=held, counts=counts
        )


# ---- approve, discard ---------------------------------------------------------------------------


def approve(
    store_root: Path,
    tax_year: int,
    filing_id: str,
    *,
    user: str | None = None,
    policy: FilingPolicy | None = None,
) -> FilingResult:
    """Approve a prepared filing: its records become filings of record (the commit point), with who
    prepared and who approved it, when. Refused when the approver prepared it (unless
    ``one_person_team``), when it was discarded, and when the year changed since it was prepared."""
    policy = policy or FilingPolicy()
    who = history.actor(user)
    store = st.Store(store_root)
    with store.lock():
        every = filings_table(store, tax_year)
        states = history.filing_states(history.events(store, tax_year)).filter(
            pl.col("filing_id") == filing_id
        )
        recorded = every.height > 0 and filing_id in every["filing_id"].unique().to_list()
        if recorded:
            test = bool(every.filter(pl.col("filing_id") == filing_id)["test_file"][0])
            if states.height == 0 or states["state"][0] != "approved":  # killed before its event
                row = every.filter(pl.col("filing_id") == filing_id).row(0, named=True)
                history.record(
                    store,
                    tax_year,
                    "approve",
                    row["approved_by"],
                    filing_id=filing_id,
                    test_file=test,
                    detail={"recovered": True},
                    at=row["approved_at"],
                )
            return FilingResult(
                tax_year,
                "already approved",
                filing_id,
                message=f"filing {filing_id} is already approved",
                test_file=test,
            )
        if states.height == 0:
            raise st.StoreError(f"tax year {tax_year}: no prepared filing {filing_id} in the store")
        state = states.row(0, named=True)
        if state["state"] == "discarded":
            raise st.StoreError(f"filing {filing_id} was discarded by {state['by']} at {state['at']}")
        manifest = _manifest_of(store, tax_year, filing_id)
        test = bool(manifest["test_file"])
        tag = "TEST FILE: " if test else ""  # a TEST filing says so in every line, refusals too
        preparer = manifest["prepared_by"]
        if history.same_person(preparer, who) and not policy.one_person_team:
            raise st.StoreError(
                f"{tag}filing {filing_id} was prepared by {preparer}: a second person approves it "
                "(or set [approval] one_person_team = true in prorata.toml)"
            )
        ytd_id = st.ledger_id(st.ledger(store, tax_year), tax_year)
        if ytd_id != manifest["ytd_id"]:
            raise st.StoreError(
                f"{tag}filing {filing_id} was prepared from {manifest['ytd_id']}; the year is now {ytd_id} "
                "(new extracts): discard it and prepare it again"
            )
        base = _base_seq(_same_kind_of_file(every, test))
        if base != manifest["base_seq"]:
            raise st.StoreError(
                f"{tag}another filing was approved since {filing_id} was prepared: discard it and prepare it again"
            )
        records = pl.read_parquet(store.filings_dir(tax_year) / filing_id / "records.parquet")
        now = history.now()
        rows = records.with_columns(
            pl.lit(_next_seq(every), pl.Int64).alias("seq"),
            pl.lit(now).alias("filed_at"),
            pl.lit(preparer).alias("prepared_by"),
            pl.lit(manifest["prepared_at"]).alias("prepared_at"),
            pl.lit(who).alias("approved_by"),
            pl.lit(now).alias("approved_at"),
        )
        st.append_delta(rows, store.table(tax_year, "filings"), merge_schema=True)  # the commit point
        st.crash_point("approve:recorded")
        history.record(
            store,
            tax_year,
            "approve",
            who,
            filing_id=filing_id,
            test_file=test,
            detail={"kind": manifest["kind"], "returns": records.height, "prepared_by": preparer},
            at=now,
        )
        lines = [f"transmit: {f}" for f in manifest["files"]]
        if manifest["channel"] == "IRIS":
            lines.append(
                f"then record the IRS's answer: prorata acknowledge --store STORE --tax-year {tax_year} ACK.xml"
            )
        return FilingResult(
            tax_year,
            "approved",
            filing_id,
            {"returns": records.height},
            manifest["files"],
            f"filing {filing_id} approved by {who} (prepared by {preparer}): {records.height:,} returns "
            f"in {len(manifest['transmissions'])} transmission(s) are the year's filing of record",
            test,
            lines,
        )


def discard(
    store_root: Path, tax_year: int, filing_id: str, *, user: str | None = None, reason: str = ""
) -> FilingResult:
    """Discard a prepared filing that was never approved: its folder is removed, the step recorded."""
    who = history.actor(user)
    store = st.Store(store_root)
    with store.lock():
        states = history.filing_states(history.events(store, tax_year)).filter(
            pl.col("filing_id") == filing_id
        )
        if states.height == 0 or states["state"][0] != "prepared":
            what = (
                "no prepared filing"
                if states.height == 0
                else f"filing {filing_id} is {states['state'][0]}, not"
            )
            raise st.StoreError(
                f"tax year {tax_year}: {what} {filing_id if states.height == 0 else 'awaiting approval'}"
            )
        test = bool(states["test_file"][0])
        shutil.rmtree(store.filings_dir(tax_year) / filing_id, ignore_errors=True)
        history.record(
            store,
            tax_year,
            "discard",
            who,
            filing_id=filing_id,
            test_file=test,
            detail={"reason": reason} if reason else {},
        )
        return FilingResult(
            tax_year, "discarded", filing_id, message=f"filing {filing_id} discarded by {who}", test_file=test
        )
