"""The filing season (issue 13): prepare, review and approve; discard; TEST files; the IRS's
acknowledgements read back and mapped to forms; the year at a glance; the rules behind them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from flows.cli.main import main
from flows.environment import Environment
from flows.io import history
from flows.io.store import Store
from flows.season.acks import acknowledgements
from flows.season.filings import filings_table, pending_filings
from tests.ack_builders import STATUS_LIBRARY, Result, Submission, write_response
from tests.builders import plan_row
from tests.irs.test_filing import GOOD_TOML
from tests.ops_builders import _person, receipt, write_extract
from transforms.season.references import record_status, rejected_units

pytestmark = pytest.mark.store

SECRETS = ("400000001", "400000002", "400000004", "Case1", "Case4", "Elm St", "Columbus")
PLANS = [plan_row("P1"), plan_row("P2", payer_tin="223456780", plan_name="Second Plan")]


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _private(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def _two_payers(
    root: Path, tax_year: int = 2026, *, extract_id: str = "n1", created: str = "2027-01-05T02:00:00", **kw
):
    """PY1..PY3 paid from plan P1, PY4..PY5 from plan P2 (another payer): two IRIS submissions."""
    people = [_person(i, tax_year, amount=100_000 * i, plan="P1" if i <= 3 else "P2") for i in range(1, 6)]
    return write_extract(
        root / extract_id,
        people,
        extract_id=f"{extract_id}-{tax_year}",
        created_at=created,
        tax_year=tax_year,
        plans=PLANS,
        **kw,
    )


@pytest.fixture
def year(tmp_path, capsys):
    """A 2026 store after one nightly: five returns of two payers."""
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    _two_payers(inbox)
    code, _, err = cli(
        ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"], capsys
    )
    assert code == 0, err
    return inbox, store


def _second_night(inbox: Path, store: Path, capsys, *people: dict) -> None:
    """A second nightly the next day: ``people`` in extract n2."""
    write_extract(
        inbox / "n2",
        list(people),
        extract_id="n2-2026",
        created_at="2027-01-06T02:00:00",
        tax_year=2026,
        plans=PLANS,
    )
    nightly = ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]
    assert cli(nightly, capsys)[0] == 0


def _file(store: Path, capsys, *extra: str) -> tuple[str, str]:
    code, out, err = cli(["file", "--store", str(store), "--tax-year", "2026", *extra], capsys)
    assert code == 0, err
    return pending_filings(Store(store), 2026)["filing_id"][0], out


def _approve(store: Path, filing_id: str, user: str, capsys, *extra: str) -> tuple[int, str, str]:
    args = ["approve", "--store", str(store), "--tax-year", "2026", "--filing-id", filing_id, "--user", user]
    return cli([*args, *extra], capsys)


def _config(path: Path, *, one_person_team: bool = False) -> Path:
    path.write_text(GOOD_TOML + f"\n[approval]\none_person_team = {str(one_person_team).lower()}\n")
    return path


def test_file_prepares_a_filing_for_review_that_is_filed_only_once_a_second_person_approves_it(year, capsys):
    _, store = year
    filing_id, out = _file(store, capsys, "--user", "alice")
    assert "prepared for review: not filed until approved" in out and "5 returns" in out
    assert filings_table(Store(store), 2026).height == 0  # nothing recorded as filed
    folder = store / "filings" / "2026" / filing_id
    assert {p.name for p in folder.iterdir()} >= {
        "irs",
        "manifest.json",
        "records.parquet",
        "review.html",
        "review.csv",
    }
    review = pl.read_csv(folder / "review.csv", infer_schema=False)
    assert review.select("plan_id", "plan_name", "returns").rows() == [
        ("P1", "Plan P1", "3"),
        ("P2", "Second Plan", "2"),
    ]
    assert review["box_1_gross"].to_list() == ["6000.00", "9000.00"]  # dollars, integer arithmetic
    page = (folder / "review.html").read_text()
    assert "Second Plan" in page and "$9,000.00" in page and "Edit checks of the year" in page
    assert "What changed since the last nightly" in page
    _private(page + (folder / "review.csv").read_text() + out)

    code, _, err = _approve(store, filing_id, " ALICE ", capsys)  # the preparer, however written
    assert code == 2 and "prepared by alice: a second person approves it" in err
    assert filings_table(Store(store), 2026).height == 0
    code, out, err = _approve(store, filing_id, "bob", capsys)
    assert code == 0, err
    assert "approved by bob (prepared by alice)" in out and "transmit: irs/IRIS_1099R_2026_001.xml" in out
    filed = filings_table(Store(store), 2026)
    assert (
        filed.height == 5 and set(filed["approved_by"]) == {"bob"} and set(filed["prepared_by"]) == {"alice"}
    )
    assert filed["utid"].n_unique() == 1 and sorted(filed["submission_id"].unique()) == [1, 2]
    steps = history.events(Store(store), 2026)
    assert steps.select("action", "actor").rows() == [
        ("ingest", history.actor()),
        ("prepare", "alice"),
        ("approve", "bob"),
    ]
    assert all(steps["at"].str.ends_with("+00:00"))
    code, out, _ = _approve(store, filing_id, "bob", capsys)
    assert code == 0 and "already approved" in out


def test_a_test_file_says_so_on_every_line_and_never_becomes_the_production_filing(year, tmp_path, capsys):
    _, store = year
    filing_id, out = _file(store, capsys, "--user", "alice")  # no prorata.toml: a TEST file
    assert out.strip() and all(line.startswith("TEST FILE: ") for line in out.splitlines())
    code, _, err = _approve(store, filing_id, "alice", capsys)  # refused: its line says TEST FILE too
    assert code == 2 and err.startswith("prorata: error: TEST FILE: filing ")
    code, out, _ = _approve(store, filing_id, "bob", capsys)
    assert code == 0 and all(line.startswith("TEST FILE: ") for line in out.splitlines())
    assert filings_table(Store(store), 2026)["test_file"].all()
    # production has not been filed: the rehearsal is not the year's filing
    config = _config(tmp_path / "prorata.toml")
    args = [
        "corrections",
        "--store",
        str(store),
        "--tax-year",
        "2026",
        "--out",
        str(tmp_path / "c"),
        "--config",
        str(config),
    ]
    code, _, err = cli(args, capsys)
    assert code == 2 and "has not been filed in production" in err
    prod_id, out = _file(store, capsys, "--user", "alice", "--config", str(config))
    assert prod_id != filing_id and not any(line.startswith("TEST FILE") for line in out.splitlines())
    code, out, _ = cli(
        ["status", "--store", str(store), "--tax-year", "2026", "--test", "--date", "2027-01-06"], capsys
    )
    assert code == 0 and all(line.startswith("TEST FILE: ") for line in out.splitlines())


def test_a_one_person_team_setting_lets_the_preparer_approve(year, tmp_path, capsys):
    _, store = year
    config = _config(tmp_path / "prorata.toml", one_person_team=True)
    filing_id, _ = _file(store, capsys, "--user", "alice", "--config", str(config))
    code, out, err = _approve(store, filing_id, "alice", capsys, "--config", str(config))
    assert code == 0, err
    assert "approved by alice (prepared by alice)" in out


def test_a_prepared_filing_can_be_discarded_and_is_then_never_approved(year, capsys):
    _, store = year
    filing_id, _ = _file(store, capsys, "--user", "alice")
    args = [
        "discard",
        "--store",
        str(store),
        "--tax-year",
        "2026",
        "--filing-id",
        filing_id,
        "--user",
        "carol",
    ]
    code, out, err = cli([*args, "--reason", "wrong control totals"], capsys)
    assert code == 0 and "discarded by carol" in out, err
    assert not (store / "filings" / "2026" / filing_id).exists()
    code, _, err = _approve(store, filing_id, "bob", capsys)
    assert code == 2 and "was discarded by carol" in err
    code, _, err = cli(args, capsys)
    assert code == 2 and "not awaiting approval" in err
    last = history.events(Store(store), 2026).row(-1, named=True)
    assert last["action"] == "discard" and json.loads(last["detail"]) == {"reason": "wrong control totals"}
    again, _ = _file(store, capsys, "--user", "alice")  # the same returns can be prepared again
    assert again == filing_id and pending_filings(Store(store), 2026).height == 1


def test_one_filing_awaits_approval_at_a_time_and_one_prepared_before_new_extracts_is_refused(
    year, tmp_path, capsys
):
    inbox, store = year
    filing_id, _ = _file(store, capsys, "--user", "alice")
    _, out = _file(store, capsys, "--user", "alice")
    assert f"filing {filing_id} is already prepared and awaits approval" in out
    # a changed year: PY1's amount
    write_extract(
        inbox / "n2",
        [
            _person(1, 2026, amount=111_111),
            *[_person(i, 2026, amount=100_000 * i, plan="P1" if i <= 3 else "P2") for i in range(2, 6)],
        ],
        extract_id="n2-2026",
        created_at="2027-01-06T02:00:00",
        tax_year=2026,
        supersedes="n1-2026",
        plans=PLANS,
    )
    assert (
        cli(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"], capsys)[0]
        == 0
    )
    code, _, err = cli(["file", "--store", str(store), "--tax-year", "2026"], capsys)
    assert code == 2 and f"filing {filing_id}" in err and "awaits approval" in err
    code, _, err = _approve(store, filing_id, "bob", capsys)
    assert code == 2 and "(new extracts): discard it and prepare it again" in err
    assert filings_table(Store(store), 2026).height == 0


def test_the_irs_sample_responses_are_valid_and_read_without_the_values_they_quote():
    from lxml import etree

    from flows.season.acks import parse_response

    schema = etree.XMLSchema(etree.parse(str(STATUS_LIBRARY / "IRS-IR-TransStatusOrAckResponse.xsd")))
    samples = sorted(STATUS_LIBRARY.glob("Sample*Response*.xml"))
    assert len(samples) == 4
    read = {p.name: parse_response(p, schema) for p in samples}
    ack = read["SampleAck_2_IRS-IR-StatusOrAckResponse_For_UTID.xml"]
    t = ack.filter(pl.col("level") == "transmission")
    assert t.select("utid", "receipt_id", "status").rows()[0] == (
        "550e8400-e29b-41d4-a716-446655440000:IRIS:BB002::A",
        "2020-63385508791-4a6c57eda",
        "Accepted",
    )
    assert t["status"].to_list() == ["Accepted", "Not Found"]
    rec = ack.filter(pl.col("level") == "record").row(0, named=True)
    assert (rec["submission_id"], rec["record_id"], rec["error_code"], rec["element_path"]) == (
        1,
        1,
        "String",
        "String",
    )
    assert "ErrorValueTxt" not in " ".join(ack.columns) and "error_value" not in ack.columns
    by_rid = read["SampleAck_1_IRS-IR-StatusOrAckResponse_For_RID.xml"]
    assert by_rid["receipt_id"][0] == "2020-63385508791-4a6c57eda"  # searched by receipt id
    status = read["SampleStatus_2_IRS-IR-StatusOrAckResponse_For_UTID.xml"]
    assert status["status"].to_list() == ["Accepted with Errors", "Processing"]


def test_a_response_naming_a_transmission_the_store_did_not_send_is_refused_whole(year, capsys):
    _, store = year
    filing_id, _ = _file(store, capsys, "--user", "alice")
    _approve(store, filing_id, "bob", capsys)
    sample = STATUS_LIBRARY / "SampleAck_2_IRS-IR-StatusOrAckResponse_For_UTID.xml"
    code, _, err = cli(["acknowledge", "--store", str(store), "--tax-year", "2026", str(sample)], capsys)
    assert code == 2 and err.count("\n") == 1 and "is not a transmission of this tax year in the store" in err
    assert acknowledgements(Store(store), 2026).height == 0


def test_a_response_that_does_not_match_the_irs_schema_is_refused_with_its_line(year, tmp_path, capsys):
    _, store = year
    bad = tmp_path / "bad.xml"
    text = (STATUS_LIBRARY / "SampleStatus_1_IRS-IR-StatusOrAckResponse_For_RID.xml").read_text()
    bad.write_text(text.replace("Accepted with Errors", "Fine"))
    code, _, err = cli(["acknowledge", "--store", str(store), "--tax-year", "2026", str(bad)], capsys)
    assert code == 2 and "not a valid IRIS status/acknowledgement response" in err and "line 7" in err
    assert "Fine" not in err


def _acknowledged(store: Path, tmp_path: Path, capsys) -> tuple[str, pl.DataFrame, str]:
    """The filing approved, then the IRS's answer: submission 1 (P1) accepted with one record in
    error, submission 2 (P2) rejected; the transmission partially accepted."""
    filing_id, _ = _file(store, capsys, "--user", "alice")
    assert _approve(store, filing_id, "bob", capsys)[0] == 0
    filed = filings_table(Store(store), 2026)
    ack = write_response(
        tmp_path / "ack.xml",
        [
            Result(
                filed["utid"][0],
                "Partially Accepted",
                receipt(7),
                submissions=[
                    Submission(
                        1,
                        "Accepted with Errors",
                        records={
                            2: [("F1099R-502-01", "Payee TIN must be valid", "Form1099RDetail/RecipientTIN")]
                        },
                    ),
                    Submission(
                        2,
                        "Rejected",
                        errors=[
                            (
                                "S1H-010",
                                "Issuer TIN and name control do not match",
                                "IRSubmission1Header/IssuerDetail/TIN",
                            )
                        ],
                    ),
                ],
            )
        ],
        error_value="400000004",  # a TIN the IRS quotes back: never kept, never printed
    )
    code, out, err = cli(
        ["acknowledge", "--store", str(store), "--tax-year", "2026", str(ack), "--user", "dana"], capsys
    )
    assert code == 0, err
    return filing_id, filed, out


def test_an_acknowledgement_is_recorded_per_transmission_submission_and_record_and_mapped_to_forms(
    year, tmp_path, capsys
):
    _, store = year
    filing_id, filed, out = _acknowledged(store, tmp_path, capsys)
    _private(out)
    record2 = filed.filter((pl.col("submission_id") == 1) & (pl.col("record_id") == 2))["form_id"][0]
    assert (
        "transmission irs/IRIS_1099R_2026_001.xml of filing" in out
        and "Partially Accepted, receipt " + receipt(7) in out
    )
    assert "submission 1 (3 returns; plan P1): Accepted with Errors, 1 error(s)" in out
    assert "submission 2 (2 returns; plan P2): Rejected, 1 error(s)" in out
    assert f"form {record2}: F1099R-502-01 Payee TIN must be valid [Form1099RDetail/RecipientTIN]" in out
    assert "rejected: 2 original return(s)" in out and "prorata replace" in out
    acks = acknowledgements(Store(store), 2026)
    assert sorted(acks["level"].unique()) == ["record", "submission", "transmission"]
    assert acks.filter(pl.col("level") == "record")["form_id"].to_list() == [record2]
    assert set(acks["recorded_by"]) == {"dana"} and "400000004" not in str(acks.rows())
    status = record_status(filings_table(Store(store), 2026), acks)
    assert status.group_by("plan_id", "status").len().sort("plan_id", "status").rows() == [
        ("P1", "accepted", 2),
        ("P1", "accepted with errors", 1),
        ("P2", "rejected", 2),
    ]
    units = rejected_units(status)
    assert set(units["replaces"]) == {f"{receipt(7)}|2"} and set(units["unit"]) == {"submission"}
    last = history.events(Store(store), 2026).row(-1, named=True)
    assert last["action"] == "acknowledge" and last["actor"] == "dana" and last["filing_id"] == filing_id
    # the same file again records nothing
    code, out, _ = cli(
        ["acknowledge", "--store", str(store), "--tax-year", "2026", str(tmp_path / "ack.xml")], capsys
    )
    assert code == 0 and "0 response file(s) recorded, 1 already recorded" in out
    assert acknowledgements(Store(store), 2026).height == acks.height


def test_a_response_naming_a_record_not_sent_is_refused(year, tmp_path, capsys):
    _, store = year
    filing_id, _ = _file(store, capsys, "--user", "alice")
    _approve(store, filing_id, "bob", capsys)
    utid = filings_table(Store(store), 2026)["utid"][0]
    ack = write_response(
        tmp_path / "ack.xml",
        [
            Result(
                utid,
                "Accepted with Errors",
                receipt(8),
                submissions=[Submission(1, "Accepted with Errors", records={9: [("X", "y", "z")]})],
            )
        ],
    )
    code, _, err = cli(["acknowledge", "--store", str(store), "--tax-year", "2026", str(ack)], capsys)
    assert code == 2 and "record 9 of submission 1 is not in transmission" in err
    assert acknowledgements(Store(store), 2026).height == 0


def test_status_shows_where_the_year_stands_and_its_deadlines(year, tmp_path, capsys):
    _, store = year
    _acknowledged(store, tmp_path, capsys)
    html = tmp_path / "status"
    code, out, err = cli(
        [
            "status",
            "--store",
            str(store),
            "--tax-year",
            "2026",
            "--test",
            "--date",
            "2027-01-15",
            "--html-dir",
            str(html),
        ],
        capsys,
    )
    assert code == 0, err
    assert "extracts in              1 (last: n1-2026" in out.replace("TEST FILE: ", "")
    assert "forms now                5 (5 to file)" in out
    assert "original 5 records (1 filing)" in out
    assert "IRS said                 accepted 2, accepted with errors 1, rejected 2 (records)" in out
    assert "rejected, to replace     2 returns in 1 unit(s): run 'prorata replace'" in out
    assert "corrections pending      Type 1 0, Type 2 0, voids 0" in out
    assert "recipient copies         Mon 2027-02-01 (17 days left)" in out
    assert "IRS electronic filing    Wed 2027-03-31 (75 days left)" in out
    page = (html / "2026.html").read_text()
    assert "Payee TIN must be valid" in page and "Errors the IRS returned" in page
    _private(out + page + (html / "2026_irs_errors.csv").read_text())


def test_the_plain_receipt_id_is_checked_against_the_irs_form_of_receipt_ids(year, capsys):
    _, store = year
    filing_id, _ = _file(store, capsys, "--user", "alice")
    args = ["acknowledge", "--store", str(store), "--tax-year", "2026", "--filing-id", filing_id]
    code, _, err = cli([*args, "--receipt-id", receipt(1)], capsys)
    assert code == 2 and "no approved IRIS filing" in err  # prepared is not filed
    _approve(store, filing_id, "bob", capsys)
    code, _, err = cli([*args, "--receipt-id", "R-1"], capsys)
    assert code == 2 and "is not an IRIS receipt id" in err
    code, out, err = cli([*args, "--receipt-id", receipt(1)], capsys)
    assert code == 0 and f"receipt {receipt(1)} (Accepted) recorded" in out, err
    status = record_status(filings_table(Store(store), 2026), acknowledgements(Store(store), 2026))
    assert set(status["status"]) == {"accepted"}


@pytest.mark.parametrize(
    ("tax_year", "recipients", "irs"),
    [
        (2025, date(2026, 2, 2), date(2026, 3, 31)),  # 31 Jan 2026 is a Saturday
        (2026, date(2027, 2, 1), date(2027, 3, 31)),  # 31 Jan 2027 is a Sunday
        (2027, date(2028, 1, 31), date(2028, 3, 31)),
        (2028, date(2029, 1, 31), date(2029, 4, 2)),  # 31 Mar 2029 is a Saturday
    ],
)
def test_the_deadlines_are_31_january_and_31_march_moved_off_a_weekend(tax_year, recipients, irs):
    from transforms.law.deadlines import deadlines

    assert deadlines(tax_year) == {"recipient copies": recipients, "IRS electronic filing": irs}


def test_the_review_shows_what_changed_since_the_last_nightly(year, capsys):
    inbox, store = year
    before = pl.read_parquet(store / "outputs" / "2026" / "forms.parquet")
    _second_night(
        inbox, store, capsys, _person(1, 2026, amount=111_111), _person(6, 2026, amount=600_000, plan="P2")
    )
    filing_id, _ = _file(store, capsys, "--user", "alice")
    page = (store / "filings" / "2026" / filing_id / "review.html").read_text()
    after = pl.read_parquet(store / "outputs" / "2026" / "forms.parquet")
    py1 = after.filter(pl.col("payee_id") == "PY1")["form_id"][0]
    py6 = after.filter(pl.col("payee_id") == "PY6")["form_id"][0]
    assert py1 in before["form_id"].to_list()  # same form, new amount
    assert "extracts new since: n2-2026" in page and "compared with build ytd-2026-" in page
    assert f'<td class="l">{py1}</td><td class="l">P1</td><td class="l">changed</td>' in page
    assert f'<td class="l">{py6}</td><td class="l">P2</td><td class="l">new</td>' in page
    _private(page)


def test_a_rejected_transmission_is_replaced_whole_naming_its_receipt_id(year, tmp_path, capsys):
    from lxml import etree

    from tests.ack_builders import INTAKE_XSD

    _, store = year
    filing_id, _ = _file(store, capsys, "--user", "alice")
    _approve(store, filing_id, "bob", capsys)
    utid = filings_table(Store(store), 2026)["utid"][0]
    errors = [
        (
            "TMFST-X",
            "Transmitter not authorized",
            "IRTransmissionManifest/TransmitterGrp/TransmitterControlCd",
        )
    ]
    ack = write_response(tmp_path / "ack.xml", [Result(utid, "Rejected", receipt(4), errors=errors)])
    code, out, err = cli(["acknowledge", "--store", str(store), "--tax-year", "2026", str(ack)], capsys)
    assert code == 0 and "Rejected" in out and "transmission: TMFST-X Transmitter not authorized" in out, err
    assert "rejected: 5 original return(s)" in out
    # corrections wait for the replacement: nothing the IRS holds to correct
    code, out, _ = cli(
        ["corrections", "--store", str(store), "--tax-year", "2026", "--out", str(tmp_path / "c")], capsys
    )
    assert code == 0 and "nothing changed since the last filing" in out
    code, out, err = cli(
        [
            "replace",
            "--store",
            str(store),
            "--tax-year",
            "2026",
            "--out",
            str(tmp_path / "r"),
            "--user",
            "alice",
        ],
        capsys,
    )
    assert code == 0 and "5 returns replacing 1 rejected unit(s)" in out, err
    [name] = json.loads((tmp_path / "r" / "manifest.json").read_text())["files"]
    tree = etree.parse(str(tmp_path / "r" / name))
    etree.XMLSchema(etree.parse(str(INTAKE_XSD))).assertValid(tree)
    ns = {"i": "urn:us:gov:treasury:irs:ir"}
    assert tree.findtext("i:IRTransmissionManifest/i:TransmissionTypeCd", namespaces=ns) == "R"
    assert tree.findtext("i:IRTransmissionManifest/i:OriginalReceiptId", namespaces=ns) == receipt(
        4
    )  # TMFST012
    assert tree.find(".//i:OriginalUniqueSubmissionId", ns) is None  # FTMFST006: not both
    assert len(tree.findall(".//i:Form1099RDetail", ns)) == 5
    filed = filings_table(Store(store), 2026)
    assert sorted(filed["account_number"]) == sorted(
        pl.read_parquet(
            store
            / "filings"
            / "2026"
            / pending_filings(Store(store), 2026)["filing_id"][0]
            / "records.parquet"
        )["lineage_account"]
    )  # under the original account numbers


def test_two_rejected_transmissions_are_replaced_by_two_transmissions_each_naming_its_own(
    year, tmp_path, capsys
):
    from lxml import etree

    from tests.ack_builders import INTAKE_XSD

    inbox, store = year
    first, _ = _file(store, capsys, "--user", "alice")
    _approve(store, first, "bob", capsys)
    # PY6 paid after the filing: a late original, in a transmission of its own
    _second_night(inbox, store, capsys, _person(6, 2026, amount=600_000, plan="P2"))
    assert (
        cli(
            ["corrections", "--store", str(store), "--tax-year", "2026", "--out", str(tmp_path / "c")], capsys
        )[0]
        == 0
    )
    second = pending_filings(Store(store), 2026)["filing_id"][0]
    _approve(store, second, "bob", capsys)
    utids = filings_table(Store(store), 2026).group_by("filing_id").agg(pl.col("utid").first())
    utid = dict(utids.rows())
    results = [Result(utid[first], "Rejected", receipt(5)), Result(utid[second], "Rejected", receipt(6))]
    ack = write_response(tmp_path / "ack.xml", results)
    assert cli(["acknowledge", "--store", str(store), "--tax-year", "2026", str(ack)], capsys)[0] == 0
    out_dir = tmp_path / "r"
    code, out, err = cli(
        ["replace", "--store", str(store), "--tax-year", "2026", "--out", str(out_dir)], capsys
    )
    assert code == 0 and "6 returns replacing 2 rejected unit(s)" in out, err
    manifest = json.loads((out_dir / "manifest.json").read_text())
    schema = etree.XMLSchema(etree.parse(str(INTAKE_XSD)))
    ns = {"i": "urn:us:gov:treasury:irs:ir"}
    named = {}
    for t in manifest["transmissions"]:
        tree = etree.parse(str(out_dir / t["file"]))
        schema.assertValid(tree)
        receipt_id = tree.findtext("i:IRTransmissionManifest/i:OriginalReceiptId", namespaces=ns)
        named[receipt_id] = len(tree.findall(".//i:Form1099RDetail", ns))
    assert named == {receipt(5): 5, receipt(6): 1}
    assert len({t["file"] for t in manifest["transmissions"]}) == 2


def test_what_is_sent_to_the_irs_is_validated_whole_and_its_manifest_and_history_say_so(
    year, tmp_path, capsys, monkeypatch
):
    """``prorata run`` proves its transmissions valid by their records' shape and values (the record
    check); a filing's own transmissions — original, late originals, replacements — are parsed whole
    by libxml2 against the package whatever PRORATA_IRIS_VALIDATION says, and the filing's manifest,
    each transmission and the prepare step in the history say which validation ran."""
    from flows.irs import files
    from transforms.irs.iris.schema_check import SchemaFeed

    # the default: the record check for runs
    monkeypatch.delenv(Environment.variable("iris_validation"), raising=False)
    fed: list[int] = []

    class Counted(SchemaFeed):
        def __init__(self, schema):
            super().__init__(schema)
            fed.append(1)

    def no_record_check(schema):
        raise AssertionError("a filing's transmissions went through the record check")

    monkeypatch.setattr(files, "SchemaFeed", Counted)
    monkeypatch.setattr(files, "record_check", no_record_check)
    inbox, store = year
    first, _ = _file(store, capsys, "--user", "alice")
    _approve(store, first, "bob", capsys)
    _second_night(inbox, store, capsys, _person(6, 2026, amount=600_000, plan="P2"))  # a late original
    args = ["corrections", "--store", str(store), "--tax-year", "2026", "--out", str(tmp_path / "c")]
    assert cli(args, capsys)[0] == 0
    second = pending_filings(Store(store), 2026)["filing_id"][0]
    _approve(store, second, "bob", capsys)
    utid = filings_table(Store(store), 2026).filter(pl.col("filing_id") == first)["utid"][0]
    ack = write_response(tmp_path / "ack.xml", [Result(utid, "Rejected", receipt(7))])
    assert cli(["acknowledge", "--store", str(store), "--tax-year", "2026", str(ack)], capsys)[0] == 0
    args = ["replace", "--store", str(store), "--tax-year", "2026", "--out", str(tmp_path / "r")]
    assert cli(args, capsys)[0] == 0
    third = pending_filings(Store(store), 2026)["filing_id"][0]

    manifests = [
        json.loads((store / "filings" / "2026" / f / "manifest.json").read_text())
        for f in (first, second, third)
    ]
    assert [m["kind"] for m in manifests] == ["original", "correction", "replacement"]
    for manifest in manifests:
        assert manifest["schema_validation"] == "whole file"
        assert {t["schema_validation"] for t in manifest["transmissions"]} == {"whole file"}
        assert all(part["schema_validation"] == "whole file" for part in manifest["irs"].values())
    # each transmission parsed whole, in this process (they are small), and nothing else fed
    assert len(fed) == sum(len(m["transmissions"]) for m in manifests) == 3
    prepared = history.events(Store(store), 2026).filter(pl.col("action") == "prepare")
    assert [json.loads(d)["schema_validation"] for d in prepared["detail"]] == ["whole file"] * 3

    # prorata run, the same year's extract: the record check (and no whole-file parse)
    monkeypatch.undo()
    monkeypatch.delenv(Environment.variable("iris_validation"), raising=False)
    code, _, err = cli(
        ["run", str(inbox / "n1"), "--out", str(tmp_path / "run"), "--no-prefect", "--quiet"], capsys
    )
    assert code == 0, err
    run = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert run["irs_filing"]["schema_validation"] == "records by shape and value"
