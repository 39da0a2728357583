"""``prorata acknowledge``: the IRS's IRIS status / acknowledgement responses read back into the store.

A response file (IRS-IR-TransStatusOrAckResponse.xsd, IRIS STATUS LIBRARY of the IRIS A2A package)
holds up to 100 ``ResultGrp``: per transmission (``SearchId``: its UniqueTransmissionId or its
ReceiptId) the ``TransmissionStatusCd`` (Accepted, Accepted with Errors, Partially Accepted,
Rejected, Processing, Not Found), the receipt id, and per submission and record the status and each
error (``ErrorMessageCd``, ``ErrorMessageTxt``, ``ElementPathTxt``). Each file is validated against
the package's schema, every transmission, submission and record it names is matched to what the
store recorded as sent (``filings``: UniqueTransmissionId, SubmissionId, RecordId), and the whole
lot is appended to ``STORE/ytd/TAX_YEAR/acknowledgements/`` in one Delta commit, with one history
event per file. A file naming anything the store did not send is refused whole, with one line.

``ErrorValueTxt`` (the value that failed: it may be a TIN or a name) is neither kept nor printed;
records are named by ``form_id``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from lxml import etree

from flows.io import history
from flows.io import store as st
from flows.io.store import filings_table
from transforms.season.references import record_status, rejected_units

NS = "urn:us:gov:treasury:irs:ir"
RESPONSE_XSD = Path("IRS-IR-TransStatusOrAckResponse.xsd")
RECEIPT_ID = re.compile(r"[1-9][0-9]{3}-[0-9]{11}-[0-9a-zA-Z]{9}")
UTID = re.compile(
    r"[0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12}:IRIS:[a-zA-Z0-9]{5}::(A|U)"
)
TRANSMISSION_STATUSES = (
    "Accepted",
    "Accepted with Errors",
    "Partially Accepted",
    "Rejected",
    "Processing",
    "Not Found",
)

ACK_SCHEMA = {
    "ack_seq": pl.Int64,
    "recorded_at": pl.String,
    "recorded_by": pl.String,
    "source": pl.String,
    "source_sha256": pl.String,
    "filing_id": pl.String,
    "transmission": pl.String,
    "utid": pl.String,
    "receipt_id": pl.String,
    "level": pl.String,  # transmission, submission, record
    "submission_id": pl.Int64,
    "record_id": pl.Int64,
    "status": pl.String,
    "form_id": pl.String,
    "error_code": pl.String,
    "error_text": pl.String,
    "element_path": pl.String,
}


def acknowledgements(store: st.Store, tax_year: int) -> pl.DataFrame:
    frame = st.read_delta(store.table(tax_year, "acknowledgements"), ACK_SCHEMA)
    return frame.select(ACK_SCHEMA.keys()) if frame.height else pl.DataFrame(schema=ACK_SCHEMA)


#: The IRS's IRIS A2A package vendored with the tests (tests/data/iris-a2a-ty2025-v1.2/VENDORED.md).
VENDORED_PACKAGE = Path(__file__).resolve().parents[2] / "tests" / "data" / "iris-a2a-ty2025-v1.2"
PACKAGE_ENV = "PRORATA_IRIS_SCHEMA_PACKAGE"


def response_schema(package: Path | None = None) -> etree.XMLSchema:
    """The status / acknowledgement response schema of the IRIS A2A package: ``package``, else
    ``PRORATA_IRIS_SCHEMA_PACKAGE``, else the copy vendored with the tests."""
    package = package or Path(os.environ.get(PACKAGE_ENV) or VENDORED_PACKAGE)
    found = sorted(package.glob(f"**/{RESPONSE_XSD.name}"))
    if not found:
        raise st.StoreError(f"{package}: no IRIS status response schema ({RESPONSE_XSD.name}) in the package")
    return etree.XMLSchema(etree.parse(str(found[0])))


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _text(el: etree._Element, name: str) -> str | None:
    found = el.find(_q(name))
    return found.text.strip() if found is not None and found.text is not None else None


def _errors(el: etree._Element) -> list[tuple[str, str | None, str | None]]:
    """(code, text, element path) of each ErrorInformationGrp directly under ``el``; ErrorValueTxt
    is left out (module docstring)."""
    return [
        (_text(e, "ErrorMessageCd") or "", _text(e, "ErrorMessageTxt"), _text(e, "ElementPathTxt"))
        for e in el.findall(_q("ErrorInformationGrp"))
    ]


def parse_response(path: Path, schema: etree.XMLSchema) -> pl.DataFrame:
    """The rows of one response file (ACK_SCHEMA without the store's columns), validated against the
    schema first: a file that does not match is refused with its line, never its values."""
    try:
        tree = etree.parse(str(path))
    except (OSError, etree.XMLSyntaxError) as exc:
        raise st.StoreError(f"{path}: not readable as XML ({type(exc).__name__})") from None
    if not schema.validate(tree):
        e = schema.error_log.last_error
        etree.clear_error_log()  # lxml's thread-wide log: leave no finding of ours for another parser
        raise st.StoreError(
            f"{path}: line {e.line}: not a valid IRIS status/acknowledgement response "
            f"(IRS-IR-TransStatusOrAckResponse.xsd, {e.type_name})"
        )
    rows: list[dict] = []

    def add(level: str, group: int, status: str | None, errs, **ids) -> None:
        base = {"level": level, "group": group, "status": status, **ids}
        if not errs:
            rows.append({**base, "error_code": None, "error_text": None, "element_path": None})
        for code, text, where in errs:
            rows.append({**base, "error_code": code, "error_text": text, "element_path": where})

    for group, result in enumerate(tree.getroot().findall(_q("ResultGrp"))):
        search = _text(result, "SearchId") or ""
        t = result.find(_q("TransmissionResultGrp"))
        utid = _text(t, "UniqueTransmissionId") or (search if UTID.fullmatch(search) else None)
        receipt = _text(t, "ReceiptId") or (search if RECEIPT_ID.fullmatch(search) else None)
        ids = {"search_id": search, "utid": utid, "receipt_id": receipt}
        add("transmission", group, _text(t, "TransmissionStatusCd"), _errors(t), **ids)
        for s in result.findall(_q("SubmissionResultGrp")):
            sub = _text(s, "SubmissionId")
            sub_id = int(sub) if sub else None
            add("submission", group, _text(s, "SubmissionStatusCd"), _errors(s), **ids, submission_id=sub_id)
            for r in s.findall(_q("RecordResultGrp")):
                rec = _text(r, "RecordId")
                rec_id = int(rec) if rec else None
                add("record", group, None, _errors(r), **ids, submission_id=sub_id, record_id=rec_id)
    return pl.DataFrame(
        rows,
        schema={
            "level": pl.String,
            "group": pl.Int64,
            "status": pl.String,
            "search_id": pl.String,
            "utid": pl.String,
            "receipt_id": pl.String,
            "submission_id": pl.Int64,
            "record_id": pl.Int64,
            "error_code": pl.String,
            "error_text": pl.String,
            "element_path": pl.String,
        },
    )


def _sent(filings: pl.DataFrame) -> pl.DataFrame:
    """The IRIS records sent, one row each, with their ids."""
    if filings.height == 0 or "utid" not in filings.columns:
        return pl.DataFrame(
            schema={
                "filing_id": pl.String,
                "transmission": pl.String,
                "utid": pl.String,
                "submission_id": pl.Int64,
                "record_id": pl.Int64,
                "form_id": pl.String,
                "test_file": pl.Boolean,
            }
        )
    return filings.filter(pl.col("utid").is_not_null()).select(
        "filing_id", "transmission", "utid", "submission_id", "record_id", "form_id", "test_file"
    )


def _match(parsed: pl.DataFrame, sent: pl.DataFrame, known: pl.DataFrame, source: Path) -> pl.DataFrame:
    """The parsed rows with the transmission they concern (by UniqueTransmissionId, else by a receipt
    id recorded before) and, for records, the form; refuses a file naming anything not sent."""
    by_receipt = (
        known.filter(pl.col("receipt_id").is_not_null())
        .select("receipt_id", pl.col("utid").alias("_by_receipt"))
        .unique()
    )
    rows = parsed.join(by_receipt, on="receipt_id", how="left").with_columns(
        pl.coalesce("utid", "_by_receipt").alias("utid")
    )
    transmissions = sent.select("utid", "filing_id", "transmission", "test_file").unique("utid")
    rows = rows.drop("_by_receipt").join(transmissions, on="utid", how="left")
    unknown = rows.filter(pl.col("filing_id").is_null())
    if unknown.height:
        search = unknown["search_id"][0]
        raise st.StoreError(
            f"{source}: {search} is not a transmission of this tax year in the store "
            "(a response for another tax year or store?); nothing recorded"
        )
    clash = (
        rows.filter(pl.col("receipt_id").is_not_null())
        .join(by_receipt.rename({"_by_receipt": "_other"}), on="receipt_id", how="inner")
        .filter(pl.col("_other") != pl.col("utid"))
    )
    if clash.height:
        raise st.StoreError(
            f"{source}: receipt id {clash['receipt_id'][0]} is already recorded for another transmission"
        )
    subs = sent.select("utid", "submission_id").unique()
    bad_sub = rows.filter(pl.col("submission_id").is_not_null()).join(
        subs, on=["utid", "submission_id"], how="anti"
    )
    if bad_sub.height:
        r = bad_sub.row(0, named=True)
        raise st.StoreError(
            f"{source}: submission {r['submission_id']} is not in transmission {r['transmission']}; nothing recorded"
        )
    rec = rows.filter(pl.col("level") == "record")
    forms = sent.select("utid", "submission_id", "record_id", "form_id")
    mapped = rec.join(forms, on=["utid", "submission_id", "record_id"], how="left")
    missing = mapped.filter(pl.col("form_id").is_null())
    if missing.height:
        r = missing.row(0, named=True)
        raise st.StoreError(
            f"{source}: record {r['record_id']} of submission {r['submission_id']} is not in transmission "
            f"{r['transmission']}; nothing recorded"
        )
    return pl.concat(
        [
            rows.filter(pl.col("level") != "record").with_columns(pl.lit(None, pl.String).alias("form_id")),
            mapped,
        ],
        how="diagonal_relaxed",
    ).sort("group", "submission_id", "record_id", nulls_last=False, maintain_order=True)


@dataclass
class AckResult:
    """What one ``acknowledge`` recorded: per file, its summary lines (ids, statuses, error codes)."""

    recorded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    test_file: bool = False


def _next_seq(known: pl.DataFrame) -> int:
    return int(known["ack_seq"].max()) + 1 if known.height else 1


def read_responses(
    store_root: Path, tax_year: int, files: list[Path], who: str, package: Path | None = None
) -> AckResult:
    """Record the IRS responses ``files`` (module docstring); all or nothing."""
    store = st.Store(store_root)
    schema = response_schema(package)
    result = AckResult()
    with store.lock():
        filings = filings_table(store, tax_year)
        sent = _sent(filings)
        known = acknowledgements(store, tax_year)
        seq = _next_seq(known)
        now = history.now()
        frames, digests = [], []
        for path in files:
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            if not digest:
                raise st.StoreError(f"{path}: file is missing")
            if digest in known["source_sha256"].to_list() or digest in digests:
                result.skipped.append(path.name)
                continue
            rows = _match(parse_response(path, schema), sent, known, path)
            frames.append(
                rows.with_columns(
                    pl.lit(seq, pl.Int64).alias("ack_seq"),
                    pl.lit(now).alias("recorded_at"),
                    pl.lit(who).alias("recorded_by"),
                    pl.lit(path.name).alias("source"),
                    pl.lit(digest).alias("source_sha256"),
                )
            )
            digests.append(digest)
            seq += 1
        if not frames:
            return result
        new = pl.concat(frames, how="diagonal_relaxed")
        st.append_delta(
            new.select([pl.col(c).cast(t) for c, t in ACK_SCHEMA.items()]),
            store.table(tax_year, "acknowledgements"),
        )
        for frame in frames:
            source = frame["source"][0]
            result.recorded.append(source)
            result.test_file = result.test_file or bool(frame["test_file"].any())
            t = frame.filter(pl.col("level") == "transmission").unique(
                "utid", keep="first", maintain_order=True
            )
            history.record(
                store,
                tax_year,
                "acknowledge",
                who,
                filing_id=",".join(sorted(set(t["filing_id"].to_list()))),
                test_file=bool(frame["test_file"].any()),
                detail={
                    "file": source,
                    "ack_seq": int(frame["ack_seq"][0]),
                    "transmissions": {r["transmission"]: r["status"] for r in t.to_dicts()},
                    "errors": int(frame["error_code"].is_not_null().sum()),
                },
                at=now,
            )
        all_acks = acknowledgements(store, tax_year)
        result.lines = summary_lines(new, record_status(filings, all_acks))
    return result


def record_receipt(
    store_root: Path,
    tax_year: int,
    filing_id: str,
    receipt_id: str,
    who: str,
    *,
    transmission: str | None = None,
    status: str = "Accepted",
) -> tuple[str, bool]:
    """The plain case: the receipt id (and status, Accepted unless said) of one transmission of a
    filing, as read from the IRS's screen. Returns the transmission's file name and whether it is
    a TEST filing."""
    receipt_id = receipt_id.strip()
    if not RECEIPT_ID.fullmatch(receipt_id):
        raise st.StoreError(
            f"receipt id {receipt_id!r} is not an IRIS receipt id (YYYY-NNNNNNNNNNN-XXXXXXXXX, e.g. 2027-63385508791-4a6c57eda)"
        )
    if status not in TRANSMISSION_STATUSES:
        raise st.StoreError(f"status must be one of: {', '.join(TRANSMISSION_STATUSES)}")
    store = st.Store(store_root)
    with store.lock():
        sent = _sent(filings_table(store, tax_year)).filter(pl.col("filing_id") == filing_id)
        if sent.height == 0:
            raise st.StoreError(f"tax year {tax_year}: no approved IRIS filing {filing_id} in the store")
        names = sorted(set(sent["transmission"].to_list()))
        if transmission is None and len(names) > 1:
            raise st.StoreError(
                f"filing {filing_id} has {len(names)} transmissions: name one with --transmission ({', '.join(names)})"
            )
        name = transmission or names[0]
        t = sent.filter(pl.col("transmission") == name)
        if t.height == 0:
            raise st.StoreError(f"filing {filing_id} has no transmission {name}")
        known = acknowledgements(store, tax_year)
        other = known.filter((pl.col("receipt_id") == receipt_id) & (pl.col("utid") != t["utid"][0]))
        if other.height:
            raise st.StoreError(f"receipt id {receipt_id} is already recorded for another transmission")
        now = history.now()
        row = {c: None for c in ACK_SCHEMA} | {
            "ack_seq": _next_seq(known),
            "recorded_at": now,
            "recorded_by": who,
            "source": "--receipt-id",
            "filing_id": filing_id,
            "transmission": name,
            "utid": t["utid"][0],
            "receipt_id": receipt_id,
            "level": "transmission",
            "status": status,
        }
        st.append_delta(pl.DataFrame([row], schema=ACK_SCHEMA), store.table(tax_year, "acknowledgements"))
        test = bool(t["test_file"][0])
        history.record(
            store,
            tax_year,
            "acknowledge",
            who,
            filing_id=filing_id,
            test_file=test,
            detail={"transmissions": {name: status}, "receipt_id": receipt_id},
            at=now,
        )
    return name, test


def summary_lines(new: pl.DataFrame, status: pl.DataFrame, limit: int = 20) -> list[str]:
    """What the responses said, transmission by transmission: statuses, receipt ids, the returns
    per submission, each error with its code, text, element path and form id (first ``limit``
    errors), and what to do about rejected returns. Never a TIN or a name."""
    lines: list[str] = []
    t = new.filter(pl.col("level") == "transmission").unique(
        ["ack_seq", "utid"], keep="first", maintain_order=True
    )
    per_sub = status.group_by("utid", "submission_id").agg(
        pl.len().alias("returns"), pl.col("plan_id").unique().sort().alias("plans")
    )
    for tr in t.to_dicts():
        lines.append(
            f"transmission {tr['transmission']} of filing {tr['filing_id']}: {tr['status']}"
            + (f", receipt {tr['receipt_id']}" if tr["receipt_id"] else "")
        )
        these = new.filter((pl.col("ack_seq") == tr["ack_seq"]) & (pl.col("utid") == tr["utid"]))
        subs = these.filter(pl.col("level") == "submission").unique(
            "submission_id", keep="first", maintain_order=True
        )
        subs = subs.join(per_sub, on=["utid", "submission_id"], how="left")
        for s in subs.to_dicts():
            plans = ", ".join(s["plans"] or [])
            errs = these.filter(
                (pl.col("submission_id") == s["submission_id"]) & pl.col("error_code").is_not_null()
            )
            lines.append(
                f"  submission {s['submission_id']} ({s['returns'] or 0} returns; plan {plans}): {s['status']}"
                + (f", {errs.height} error(s)" if errs.height else "")
            )
        errors = these.filter(pl.col("error_code").is_not_null())
        for e in errors.head(limit).to_dicts():
            where = (
                f"form {e['form_id']}"
                if e["form_id"]
                else (
                    f"submission {e['submission_id']}" if e["submission_id"] is not None else "transmission"
                )
            )
            lines.append(
                f"    {where}: {e['error_code']} {e['error_text'] or ''} [{e['element_path'] or '-'}]".rstrip()
            )
        if errors.height > limit:
            lines.append(
                f"    ... {errors.height - limit} more errors: see 'prorata status' (status_errors.csv)"
            )
    rejected = rejected_units(status)
    if rejected.height:
        lines.append(
            f"rejected: {rejected.height} original return(s) not at the IRS: fix the extract or settings, "
            "then 'prorata replace' writes the replacement"
        )
    return lines
