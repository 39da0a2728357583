"""The year walk of issue 5: nightly extracts, a filing, a corrected extract, corrections for exactly
the changed returns, an unchanged rerun with none — FIRE (2025) through the Prefect flow, and IRIS (2026)."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from flows.cli.main import main
from flows.io.store import Store
from flows.season.filings import filings_table
from tests.ops_builders import approve_pending, receipt, year_extracts
from transforms.irs import check_pub1220, read_pub1220

pytestmark = pytest.mark.store


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _no_personal_data(text: str) -> None:
    for secret in ("400000002", "400000092", "Case2", "Elm St", "Columbus"):
        assert secret not in text


def _walk_to_corrections(tmp_path, capsys, tax_year: int, *, prefect: bool):
    src = year_extracts(tmp_path / "src", tax_year)
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    for night in ("night1", "night2"):
        shutil.copytree(src[night], inbox / night)
    flags = [] if prefect else ["--no-prefect"]
    code, out, err = cli(["nightly", "--inbox", str(inbox), "--store", str(store), "--quiet", *flags], capsys)
    assert code == 0, err
    assert "2 extracts ingested" in out
    code, out, err = cli(
        ["file", "--store", str(store), "--tax-year", str(tax_year), "--user", "alice"], capsys
    )
    assert code == 0, err
    assert "8 returns" in out
    assert filings_table(Store(store), tax_year).height == 0  # prepared, not filed
    approve_pending(store, tax_year)
    shutil.copytree(src["fix"], inbox / "fix")
    code, out, err = cli(["nightly", "--inbox", str(inbox), "--store", str(store), "--quiet", *flags], capsys)
    assert code == 0, err
    assert "1 extracts ingested, 2 already in the store" in out
    _no_personal_data(out + err)
    return inbox, store


@pytest.mark.prefect
def test_the_fire_year_walk_corrects_exactly_the_three_changed_payees(tmp_path, capsys, prefect_server):
    inbox, store = _walk_to_corrections(tmp_path, capsys, 2025, prefect=True)
    # filing again says the year changed and creates no second original
    code, out, _ = cli(["file", "--store", str(store), "--tax-year", "2025"], capsys)
    assert code == 0 and "already filed" in out and "run 'prorata corrections'" in out
    assert filings_table(Store(store), 2025).filter(pl.col("kind") == "original").height == 8

    out_dir = tmp_path / "corrections"
    code, out, err = cli(
        ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(out_dir)], capsys
    )
    assert code == 0, err
    assert "Type 1 2, Type 2 1" in out
    _no_personal_data(out + err)
    report = pl.read_parquet(out_dir / "corrections.parquet")
    assert report.columns == ["form_id", "lineage_account", "role", "corrected", "changed", "match"]
    _no_personal_data((out_dir / "manifest.json").read_text())
    data = (out_dir / "irs" / "FIRE_1099R_2025_corrections.txt").read_bytes()
    assert check_pub1220(data) == []
    parsed = read_pub1220(data)
    b = parsed.payees.sort("corrected_return_indicator", "account_number")
    assert b["corrected_return_indicator"].to_list() == ["C", "G", "G", "G"]
    assert parsed.payers.height == 2  # G and C records under separate A records
    assert filings_table(Store(store), 2025).filter(pl.col("kind") == "correction").height == 0
    approve_pending(store, 2025)  # only an approved filing becomes the state corrections compare with

    filed = filings_table(Store(store), 2025).filter(pl.col("kind") == "original")
    acct = {r["payee_id"]: r["account_number"] for r in filed.iter_rows(named=True)}
    by = {(r["corrected_return_indicator"], r["account_number"]): r for r in b.iter_rows(named=True)}
    # PY2's TIN fix: the original as filed with zero amounts (G, old TIN), then the right return (C)
    void, right = by[("G", acct["PY2"])], by[("C", acct["PY2"])]
    assert void["payee_tin"] == "400000002" and void["amount_1"] == 0 and void["amount_4"] == 0
    assert right["payee_tin"] == "400000092" and right["amount_1"] == 200_000
    # PY6's amount: one G record with the right amounts, same account number
    assert by[("G", acct["PY6"])]["amount_1"] == 654_321
    # PY7's code 1 -> 3: a new form key, corrected under the ORIGINAL account number
    py7 = by[("G", acct["PY7"])]
    assert py7["distribution_codes"] == "3" and py7["amount_1"] == 700_000
    current = pl.read_parquet(store / "outputs" / "2025" / "forms.parquet")
    assert current.filter(pl.col("payee_id") == "PY7")["account_number"][0] != acct["PY7"]

    # lineage: every correction row names its original and the extract it came from
    rows = filings_table(Store(store), 2025).filter(pl.col("kind") == "correction")
    assert sorted(rows["lineage_account"].unique().to_list()) == sorted(
        [acct["PY2"], acct["PY6"], acct["PY7"]]
    )
    sources = {
        r["payee_id"]: r["extract_ids"]
        for r in rows.filter(pl.col("role") != "type2_void").iter_rows(named=True)
    }
    assert sources == {"PY2": ["fix-2025", "n1-2025"], "PY6": ["fix-2025"], "PY7": ["fix-2025"]}
    assert (store / "filings" / "2025").is_dir() and len(list((store / "filings" / "2025").iterdir())) == 2

    # an unchanged rerun: the same extracts again, nothing ingested, no corrections, no IRS file
    code, out, _ = cli(["nightly", "--inbox", str(inbox), "--store", str(store), "--quiet"], capsys)
    assert code == 0 and "0 extracts ingested, 3 already in the store" in out
    again = tmp_path / "again"
    code, out, _ = cli(
        ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(again)], capsys
    )
    assert code == 0 and "nothing changed since the last filing" in out
    assert not again.exists()
    code, out, _ = cli(["file", "--store", str(store), "--tax-year", "2025"], capsys)
    assert "nothing changed since" in out


def test_iris_corrections_for_2026_point_at_the_acknowledged_original_record(tmp_path, capsys):
    import xmlschema
    from lxml import etree

    from flows.io.iris_package import message_xsd
    from tests.conftest import IRIS_PACKAGE
    from transforms.irs.iris.iris_xml import NAMESPACE

    xsd = xmlschema.XMLSchema(str(message_xsd(IRIS_PACKAGE)))
    inbox, store = _walk_to_corrections(tmp_path, capsys, 2026, prefect=False)
    filing_id = filings_table(Store(store), 2026)["filing_id"][0]
    irs = store / "filings" / "2026" / filing_id / "irs"
    assert sorted(p.name for p in irs.iterdir()) == [
        "IRIS_1099R_2026_001.xml",
        "IRIS_1099R_2026_index.parquet",
    ]
    original = irs / "IRIS_1099R_2026_001.xml"
    xsd.validate(str(original))

    out_dir = tmp_path / "corrections"
    args = ["corrections", "--store", str(store), "--tax-year", "2026", "--out", str(out_dir)]
    # before the IRS's receipt is recorded no correction can name its original: held and listed
    code, out, err = cli(args, capsys)
    assert code == 0 and "nothing can be sent yet" in out, err
    assert "held back: 3 return(s), awaiting acknowledgement" in out and "prorata acknowledge" in out
    assert not out_dir.exists()

    ack = ["acknowledge", "--store", str(store), "--tax-year", "2026", "--filing-id", filing_id]
    code, _, err = cli([*ack, "--receipt-id", "R-1"], capsys)
    assert code == 2 and "is not an IRIS receipt id" in err
    code, _, err = cli([*ack, "--receipt-id", receipt(1)], capsys)
    assert code == 0, err
    code, out, err = cli(args, capsys)
    assert code == 0, err
    assert "Type 1 2, Type 2 1" in out
    approve_pending(store, 2026)
    xml = out_dir / "irs" / "IRIS_1099R_2026_corrections_001.xml"
    xsd.validate(str(xml))
    tree = etree.parse(str(xml))
    ns = {"i": NAMESPACE}
    details = tree.findall(".//i:Form1099RDetail", ns)
    assert len(details) == 3  # one record per corrected return: the Type 2 is one record too
    assert all(d.findtext("i:CorrectedInd", namespaces=ns) == "1" for d in details)
    previous = [d.find("i:PrevSubmittedRecRecipientGrp", ns) for d in details]
    assert sorted(len(p) for p in previous) == [1, 1, 2]  # the Type 2 also names the previous TIN
    # the original transmission: one payer (SubmissionId 1), records numbered in account order
    filed = filings_table(Store(store), 2026).filter(pl.col("kind") == "original")
    expected = {
        r["account_number"]: f"{receipt(1)}|{r['submission_id']}|{r['record_id']}"
        for r in filed.iter_rows(named=True)
    }
    for d in details:
        acct = d.findtext("i:RecipientAccountNum", namespaces=ns)
        assert d.findtext("i:PrevSubmittedRecRecipientGrp/i:UniqueRecordId", namespaces=ns) == expected[acct]
    original_tree = etree.parse(str(original))
    for d in original_tree.findall(".//i:Form1099RDetail", ns):
        acct = d.findtext("i:RecipientAccountNum", namespaces=ns)
        assert expected[acct].endswith("|1|" + d.findtext("i:RecordId", namespaces=ns))


def test_forms_that_appear_after_the_filing_go_out_as_late_originals_apart_from_corrections(tmp_path, capsys):
    src = year_extracts(tmp_path / "src", 2025)
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    nightly = ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]
    assert cli(nightly, capsys)[0] == 0
    assert cli(["file", "--store", str(store), "--tax-year", "2025"], capsys)[0] == 0
    approve_pending(store, 2025)
    shutil.copytree(src["night2"], inbox / "night2")  # three payees paid after the filing
    assert cli(nightly, capsys)[0] == 0
    out_dir = tmp_path / "late"
    code, out, err = cli(
        ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(out_dir)], capsys
    )
    assert code == 0, err
    assert "Type 1 0, Type 2 0 (two records each), voided 0, late originals 3" in out
    assert not (out_dir / "irs" / "FIRE_1099R_2025_corrections.txt").exists()
    data = (out_dir / "irs" / "FIRE_1099R_2025_late_originals.txt").read_bytes()
    assert check_pub1220(data) == []
    b = read_pub1220(data).payees
    assert b.height == 3 and b["corrected_return_indicator"].to_list() == ["", "", ""]
    approve_pending(store, 2025)
    filings = filings_table(Store(store), 2025)
    assert filings.group_by("kind").len().sort("kind").rows() == [("late_original", 3), ("original", 5)]
    code, out, _ = cli(
        ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(tmp_path / "x")], capsys
    )
    assert code == 0 and "nothing changed" in out


def test_fire_takes_tax_year_2025_until_it_closes_and_iris_everything_after():
    from datetime import date

    from transforms.irs.channel import filing_channel

    assert filing_channel(2025) == "FIRE"
    assert filing_channel(2025, date(2026, 12, 31)) == "FIRE"
    assert filing_channel(2025, date(2027, 1, 1)) == "IRIS"
    assert filing_channel(2026, date(2026, 12, 31)) == "IRIS"
    assert filing_channel(2024, date(2026, 3, 1)) == "FIRE"


def test_corrections_go_by_transmission_date_and_a_fire_original_is_listed_not_corrected_through_iris(
    tmp_path, capsys
):
    _, store = _walk_to_corrections(tmp_path, capsys, 2025, prefect=False)
    filed = filings_table(Store(store), 2025)
    assert set(filed["channel"]) == {"FIRE"}
    out_dir = tmp_path / "corrections-2027"
    args = ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(out_dir)]
    code, out, err = cli([*args, "--transmission-date", "2027-01-15"], capsys)
    assert code == 0, err
    assert "nothing can be sent yet" in out
    assert "held back: 3 return(s), filed through FIRE, which has closed" in out
    assert "docs/CONVENTIONS.md" in out  # what the user must do
    _no_personal_data(out)
    assert not out_dir.exists()
    assert filings_table(Store(store), 2025).height == filed.height  # nothing recorded
    code, out, err = cli([*args, "--transmission-date", "2026-12-31"], capsys)
    assert code == 0, err
    assert (out_dir / "irs" / "FIRE_1099R_2025_corrections.txt").is_file()


def test_a_2025_year_first_filed_after_fire_closes_goes_to_iris(tmp_path, capsys):
    src = year_extracts(tmp_path / "src", 2025)
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    nightly = ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]
    assert cli(nightly, capsys)[0] == 0
    code, out, err = cli(
        ["file", "--store", str(store), "--tax-year", "2025", "--transmission-date", "2027-02-01"], capsys
    )
    assert code == 0, err
    assert "IRIS filing prepared" in out and "IRIS_1099R_2025_001.xml" in out
    approve_pending(store, 2025)
    assert set(filings_table(Store(store), 2025)["channel"]) == {"IRIS"}


def test_a_test_file_is_a_rehearsal_and_never_the_years_production_filing(tmp_path, capsys):
    import dataclasses
    from datetime import date

    from flows.season.filings import corrections_year, file_year
    from flows.settings import TransmitterSettings

    src = year_extracts(tmp_path / "src", 2025)
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    assert (
        cli(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"], capsys)[0]
        == 0
    )
    trial = file_year(store, 2025, transmitted_on=date(2026, 2, 1))  # no prorata.toml: a test file
    assert trial.status == "prepared" and trial.test_file
    approve_pending(store, 2025)
    placeholder = TransmitterSettings.placeholder()
    real = dataclasses.replace(
        placeholder,
        transmitter=dataclasses.replace(placeholder.transmitter, tcc="AB123", tin="123456789"),
        configured=True,
        test_file=False,
    )
    with pytest.raises(Exception, match="has not been filed in production"):
        corrections_year(store, 2025, tmp_path / "c", settings=real, transmitted_on=date(2026, 2, 2))
    prod = file_year(store, 2025, settings=real, transmitted_on=date(2026, 2, 2))
    assert prod.status == "prepared" and prod.filing_id != trial.filing_id and not prod.test_file
    approve_pending(store, 2025)
    again = file_year(store, 2025, settings=real, transmitted_on=date(2026, 2, 3))
    assert again.status == "unchanged"
    kinds = filings_table(Store(store), 2025).group_by("test_file").len().sort("test_file").rows()
    assert kinds == [(False, 5), (True, 5)]


def test_corrections_never_replace_a_folder_that_is_not_an_earlier_filing(tmp_path, capsys):
    _, store = _walk_to_corrections(tmp_path, capsys, 2025, prefect=False)
    outputs = store / "outputs" / "2025"
    before = sorted(p.name for p in outputs.iterdir())
    code, _, err = cli(
        ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(outputs)], capsys
    )
    assert code == 2 and "holds something other than an earlier filing" in err
    assert sorted(p.name for p in outputs.iterdir()) == before


def test_a_2024_return_sent_through_fire_in_2026_is_marked_prior_year_data_and_a_2025_one_is_not():
    from datetime import date

    from flows.irs.files import prior_year_data

    assert prior_year_data(2024, date(2026, 3, 1)) is True
    assert prior_year_data(2025, date(2026, 12, 31)) is False
    assert prior_year_data(2024, None) is False


def test_the_store_files_a_late_2024_year_with_p_in_t_record_position_6(tmp_path, capsys):
    src = year_extracts(tmp_path / "src", 2024)
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    assert (
        cli(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"], capsys)[0]
        == 0
    )
    out = tmp_path / "filed"
    code, _, err = cli(
        [
            "file",
            "--store",
            str(store),
            "--tax-year",
            "2024",
            "--out",
            str(out),
            "--transmission-date",
            "2026-03-02",
        ],
        capsys,
    )
    assert code == 0, err
    data = (out / "irs" / "FIRE_1099R_2024.txt").read_bytes()
    assert data[5:6] == b"P" and check_pub1220(data) == []


def test_iris_late_originals_are_a_transmission_of_their_own_with_their_own_receipt(tmp_path, capsys):
    import json
    from datetime import date

    from lxml import etree

    from tests.builders import payee_row
    from tests.ops_builders import _person, write_extract
    from transforms.irs.iris.iris_xml import NAMESPACE

    src = year_extracts(tmp_path / "src", 2026)
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    nightly = ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]
    shutil.copytree(src["night1"], inbox / "night1")
    assert cli(nightly, capsys)[0] == 0
    assert cli(["file", "--store", str(store), "--tax-year", "2026"], capsys)[0] == 0
    first = approve_pending(store, 2026)
    ack = ["acknowledge", "--store", str(store), "--tax-year", "2026"]
    assert cli([*ack, "--filing-id", first, "--receipt-id", receipt(1)], capsys)[0] == 0
    # PY2's TIN is fixed (a Type 2 of a filed return) and PY6..PY8 appear (late originals)
    for name in ("night2", "fix"):
        shutil.copytree(src[name], inbox / name)
    assert cli(nightly, capsys)[0] == 0
    out = tmp_path / "c1"
    code, text, err = cli(
        ["corrections", "--store", str(store), "--tax-year", "2026", "--out", str(out)], capsys
    )
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    kinds = {t["kind"]: t["file"] for t in manifest["transmissions"]}
    assert kinds == {
        "correction": "irs/IRIS_1099R_2026_corrections_001.xml",
        "late_original": "irs/IRIS_1099R_2026_late_originals_001.xml",
    }
    second = approve_pending(store, 2026)
    filings = filings_table(Store(store), 2026).filter(pl.col("filing_id") == second)
    assert filings.group_by("kind", "transmission").len().sort("kind").rows() == [
        ("correction", kinds["correction"], 1),
        ("late_original", kinds["late_original"], 3),
    ]
    code, _, err = cli([*ack, "--filing-id", second, "--receipt-id", receipt(2)], capsys)
    assert code == 2 and "has 2 transmissions: name one with --transmission" in err
    for n, kind in ((2, "correction"), (3, "late_original")):
        args = [*ack, "--filing-id", second, "--receipt-id", receipt(n), "--transmission", kinds[kind]]
        assert cli(args, capsys)[0] == 0
    # a late original's amount changes: its correction names the late transmission's receipt
    write_extract(
        inbox / "fix2",
        [
            _person(6, 2026, amount=612_345),
            _person(7, 2026, amount=700_000, disabled=True),
            _person(8, 2026, amount=800_000),
        ],
        extract_id="fix2-2026",
        created_at="2027-01-25T02:00:00",
        tax_year=2026,
        supersedes="fix-2026",
        # a full replacement of fix-2026: it carries PY2's corrected TIN too
        extra_payees=[payee_row("PY2", tin="400000092", last_name="Case2", dob=date(1980, 1, 15))],
    )
    assert cli(nightly, capsys)[0] == 0
    out2 = tmp_path / "c2"
    code, _, err = cli(
        ["corrections", "--store", str(store), "--tax-year", "2026", "--out", str(out2)], capsys
    )
    assert code == 0, err
    xml = etree.parse(str(out2 / "irs" / "IRIS_1099R_2026_corrections_001.xml"))
    ids = xml.findall(f".//{{{NAMESPACE}}}PrevSubmittedRecRecipientGrp/{{{NAMESPACE}}}UniqueRecordId")
    assert [i.text.split("|")[0] for i in ids] == [receipt(3)]
