"""Issue 13's walk of tax year 2026: nightly, prepare, approval by a second person, the IRS's
acknowledgements (one submission accepted, one rejected — shaped after the IRIS STATUS LIBRARY's
samples, for our transmission), a replacement of the rejected submission, a superseding extract, and
corrections that point at the accepted records' ids — every transmission valid against the IRS's
official schema, every step in the store's history with who and when."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from lxml import etree

from flows.cli.main import main
from flows.io import history
from flows.io.store import Store
from flows.season.acks import acknowledgements
from flows.season.filings import filings_table, pending_filings
from tests.ack_builders import INTAKE_XSD, Result, Submission, write_response
from tests.builders import payee_row, plan_row
from tests.ops_builders import _person, receipt, write_extract
from transforms.season.references import record_status

pytestmark = pytest.mark.store

NS = {"i": "urn:us:gov:treasury:irs:ir"}
SECRETS = ("400000001", "400000002", "400000004", "400000092", "Case1", "Case2", "Elm St", "Columbus")
P2_OLD = plan_row("P2", payer_tin="223456780", plan_name="Second Plan", payer_name="Secnd Plan Trst")
P2_FIXED = plan_row("P2", payer_tin="223456780", plan_name="Second Plan", payer_name="Second Plan Trust")


def cli(args: list[str], capsys) -> str:
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, out.err
    for secret in SECRETS:
        assert secret not in out.out + out.err, secret
    return out.out


def people(p1: dict | None = None, p2: dict | None = None) -> list[dict]:
    """PY1..PY3 paid from plan P1, PY4..PY5 from P2; ``p1``/``p2``: amounts that differ."""
    amounts = {i: 100_000 * i for i in range(1, 6)} | (p1 or {}) | (p2 or {})
    return [_person(i, 2026, amount=amounts[i], plan="P1" if i <= 3 else "P2") for i in range(1, 6)]


def valid(path) -> etree._ElementTree:
    """The transmission, checked against IRS-IRIntakeTransmissionMessage.xsd (IRIS A2A TY2025 v1.2)."""
    schema = etree.XMLSchema(etree.parse(str(INTAKE_XSD)))
    tree = etree.parse(str(path))
    schema.assertValid(tree)
    return tree


def text(tree, path: str) -> list[str]:
    return [e.text for e in tree.findall(path, NS)]


def test_a_tax_year_walks_from_nightly_through_approval_acknowledgements_replacement_and_corrections(
    tmp_path, capsys
):
    inbox, store, acks_dir = tmp_path / "inbox", tmp_path / "store", tmp_path / "acks"
    inbox.mkdir()
    acks_dir.mkdir()
    year = ["--store", str(store), "--tax-year", "2026"]
    nightly = ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]

    # 1. nightly: five returns of two payers (plan P2's payer name misspelt in the extract)
    write_extract(
        inbox / "n1",
        people(),
        extract_id="n1-2026",
        created_at="2027-01-05T02:00:00",
        tax_year=2026,
        plans=[plan_row("P1"), P2_OLD],
    )
    assert "1 extracts ingested" in cli(nightly, capsys)

    # 2. prepare: nothing filed yet, a review to read
    out = cli(["file", *year, "--user", "alice"], capsys)
    assert "prepared for review" in out and "5 returns" in out
    original_id = pending_filings(Store(store), 2026)["filing_id"][0]
    folder = store / "filings" / "2026" / original_id
    assert (folder / "review.html").is_file() and (folder / "review.csv").is_file()
    original = valid(folder / "irs" / "IRIS_1099R_2026_001.xml")
    assert text(original, "i:IRTransmissionManifest/i:TransmissionTypeCd") == ["O"]
    assert len(original.findall("i:IRSubmission1Grp", NS)) == 2
    assert filings_table(Store(store), 2026).height == 0

    # 3. approval by a second person
    assert main(["approve", *year, "--filing-id", original_id, "--user", "alice"]) == 2
    capsys.readouterr()
    assert "approved by bob (prepared by alice)" in cli(
        ["approve", *year, "--filing-id", original_id, "--user", "bob"], capsys
    )
    filed = filings_table(Store(store), 2026)
    utid = filed["utid"][0]
    assert text(original, "i:IRTransmissionManifest/i:UniqueTransmissionId") == [utid]

    # 4. the IRS's answer: submission 1 (P1) accepted, submission 2 (P2) rejected
    write_response(
        acks_dir / "ack-original.xml",
        [
            Result(
                utid,
                "Partially Accepted",
                receipt(1),
                submissions=[
                    Submission(1, "Accepted"),
                    Submission(
                        2,
                        "Rejected",
                        errors=[
                            (
                                "S1H-IRS-NC",
                                "Issuer name control does not match the TIN",
                                "IRSubmission1Header/IssuerDetail/BusinessName",
                            )
                        ],
                    ),
                ],
            )
        ],
    )
    out = cli(["acknowledge", *year, str(acks_dir / "ack-original.xml"), "--user", "carol"], capsys)
    assert "Partially Accepted" in out and "submission 2 (2 returns; plan P2): Rejected" in out
    assert "S1H-IRS-NC Issuer name control does not match the TIN" in out

    # 5. the extract fixed (P2's payer name), then the replacement of the rejected submission only
    write_extract(
        inbox / "p2fix",
        people()[3:],
        extract_id="p2fix-2026",
        created_at="2027-01-08T02:00:00",
        tax_year=2026,
        supersedes="n1-2026",
        plans=[P2_FIXED],
    )
    assert "1 extracts ingested" in cli(nightly, capsys)
    out = cli(["replace", *year, "--out", str(tmp_path / "replacement"), "--user", "alice"], capsys)
    assert "2 returns replacing 1 rejected unit(s)" in out
    replacement_id = pending_filings(Store(store), 2026)["filing_id"][0]
    [r_file] = json.loads((tmp_path / "replacement" / "manifest.json").read_text())["files"]
    repl = valid(tmp_path / "replacement" / r_file)
    assert text(repl, "i:IRTransmissionManifest/i:TransmissionTypeCd") == ["R"]
    assert text(repl, "i:IRTransmissionManifest/i:OriginalReceiptId") == []  # FTMFST006: not both
    assert text(repl, "i:IRSubmission1Grp/i:IRSubmission1Header/i:OriginalUniqueSubmissionId") == [
        f"{receipt(1)}|2"
    ]
    assert repl.find(".//i:PrevSubmittedRecRecipientGrp", NS) is None  # FTMFST013
    assert len(repl.findall(".//i:Form1099RDetail", NS)) == 2  # the rejected returns, nothing else
    assert "SECOND PLAN TRUST" in (tmp_path / "replacement" / r_file).read_text()
    cli(["approve", *year, "--filing-id", replacement_id, "--user", "bob"], capsys)
    r_utid = filings_table(Store(store), 2026).filter(pl.col("filing_id") == replacement_id)["utid"][0]
    write_response(
        acks_dir / "ack-replacement.xml",
        [Result(r_utid, "Accepted", receipt(2), submissions=[Submission(1, "Accepted")])],
    )
    cli(["acknowledge", *year, str(acks_dir / "ack-replacement.xml"), "--user", "carol"], capsys)
    assert "no rejected transmission or submission of originals awaits" in cli(
        ["replace", *year, "--out", str(tmp_path / "again")], capsys
    )

    # 6. a superseding extract: PY1's amount (P1), PY2's TIN (P1), PY5's amount (P2)
    write_extract(
        inbox / "fix",
        people({1: 123_456}, {5: 555_555}),
        extract_id="fix-2026",
        created_at="2027-01-20T02:00:00",
        tax_year=2026,
        supersedes="p2fix-2026",
        plans=[plan_row("P1"), P2_FIXED],
        extra_payees=[payee_row("PY2", tin="400000092", last_name="Case2")],
    )
    assert "1 extracts ingested" in cli(nightly, capsys)

    # 7. corrections that point at the records the IRS accepted: P1's in the original, P2's in the replacement
    out = cli(["corrections", *year, "--out", str(tmp_path / "corrections"), "--user", "alice"], capsys)
    assert "held back 0" in out
    corrections_id = pending_filings(Store(store), 2026)["filing_id"][0]
    c_file = tmp_path / "corrections" / "irs" / "IRIS_1099R_2026_corrections_001.xml"
    corr = valid(c_file)
    assert text(corr, "i:IRTransmissionManifest/i:TransmissionTypeCd") == ["C"]
    cli(["approve", *year, "--filing-id", corrections_id, "--user", "bob"], capsys)
    every = filings_table(Store(store), 2026)
    accepted = record_status(every, acknowledgements(Store(store), 2026))
    ids = {
        r["lineage_account"]: f"{r['receipt_id']}|{r['submission_id']}|{r['record_id']}"
        for r in accepted.filter(
            pl.col("kind").is_in(["original", "replacement"]) & pl.col("status").eq("accepted")
        ).to_dicts()
    }
    refs = {
        d.findtext("i:RecipientDetail/i:RecipientAccountNum", namespaces=NS)
        or d.findtext("i:RecipientAccountNum", namespaces=NS): d.findtext(
            "i:PrevSubmittedRecRecipientGrp/i:UniqueRecordId", namespaces=NS
        )
        for d in corr.findall(".//i:Form1099RDetail", NS)
    }
    account = dict(
        every.filter(pl.col("kind") != "correction").select("payee_id", "lineage_account").unique().rows()
    )
    assert refs[account["PY1"]] == ids[account["PY1"]] and refs[account["PY1"]].startswith(receipt(1) + "|1|")
    assert refs[account["PY2"]] == ids[account["PY2"]]
    assert refs[account["PY5"]] == ids[account["PY5"]] and refs[account["PY5"]].startswith(receipt(2) + "|1|")
    assert set(refs) == {account["PY1"], account["PY2"], account["PY5"]}

    # 8. the year at a glance, and every step in the history with who and when
    out = cli(["status", *year, "--test", "--date", "2027-01-25"], capsys)
    assert "rejected, to replace     0 returns" in out and "Type 1 0, Type 2 0, voids 0" in out
    steps = history.events(Store(store), 2026)
    assert steps.select("action", "actor").rows() == [
        ("ingest", history.actor()),
        ("prepare", "alice"),
        ("approve", "bob"),
        ("acknowledge", "carol"),
        ("ingest", history.actor()),
        ("prepare", "alice"),
        ("approve", "bob"),
        ("acknowledge", "carol"),
        ("ingest", history.actor()),
        ("prepare", "alice"),
        ("approve", "bob"),
    ]
    assert steps["at"].is_sorted() and steps["at"].str.ends_with("+00:00").all()
    assert steps.filter(pl.col("action") == "approve")["filing_id"].to_list() == [
        original_id,
        replacement_id,
        corrections_id,
    ]
    shutil.rmtree(acks_dir)
