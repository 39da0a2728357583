"""The run's IRS file: read back with our own reader, cent for cent against forms.parquet."""

import json
from datetime import date

import polars as pl
import pytest

from flows.cli.main import main
from tests.builders import Case, contract_row, dist_row, participant_row, payee_row
from transforms.irs import check_pub1220, read_pub1220

GOOD_TOML = """
[transmitter]
tin = "987654321"
tcc = "AB12C"
name = "Example Recordkeeping LLC"
address = "1 Main St"
city = "Springfield"
state = "IL"
zip = "62701"
contact_name = "Tax Operations"
contact_phone = "2175550100"
contact_email = "taxops@example.com"
"""


def run(args, capsys):
    code = main(args)
    return code, *capsys.readouterr()


def test_the_fire_file_reads_back_to_forms_parquet_cent_for_cent(seed_extract, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(["run", str(seed_extract), "--out", str(out), "--no-prefect", "--quiet"], capsys)[0] == 0
    data = (out / "irs" / "FIRE_1099R_2025.txt").read_bytes()
    assert check_pub1220(data) == []
    parsed = read_pub1220(data)
    forms = pl.read_parquet(out / "forms.parquet").sort("account_number")
    payees = parsed.payees.sort("account_number")
    assert payees["account_number"].to_list() == forms["account_number"].to_list()
    for code, box in [("1", "box1"), ("2", "box2a"), ("4", "box4"), ("5", "box5"), ("b", "box10")]:
        assert payees[f"amount_{code}"].to_list() == forms[f"{box}_cents"].to_list(), box
    assert payees["payee_tin"].to_list() == forms["payee_tin"].to_list()
    assert parsed.transmitter["test_file_indicator"].to_list() == ["T"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["irs_filing"]["test_file"] is True
        and manifest["irs_filing"]["transmitter_configured"] is False
    )


def test_a_checked_prorata_toml_makes_a_production_file(seed_extract, tmp_path, capsys):
    cfg = tmp_path / "prorata.toml"
    cfg.write_text(GOOD_TOML)
    out = tmp_path / "out"
    code, stdout, _ = run(
        ["run", str(seed_extract), "--out", str(out), "--no-prefect", "--quiet", "--config", str(cfg)], capsys
    )
    assert code == 0 and "FIRE production file" in stdout
    parsed = read_pub1220((out / "irs" / "FIRE_1099R_2025.txt").read_bytes())
    t = parsed.transmitter.row(0, named=True)
    assert (t["transmitter_tin"], t["transmitter_control_code"], t["test_file_indicator"]) == (
        "987654321",
        "AB12C",
        "",
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace('tcc = "AB12C"', 'tcc = "AB1"'), "transmitter.tcc must be 5 letters or digits"),
        (lambda s: s.replace('tin = "987654321"', 'tin = "98-76"'), "transmitter.tin must be 9 digits"),
        (lambda s: s.replace("[transmitter]", "[sender]"), "needs a [transmitter] table"),
        # what the IRS writers would refuse at the end of the run: refused before it starts
        (
            lambda s: s.replace('tin = "987654321"', 'tin = "111111111"'),
            "transmitter.tin must be 9 digits, not one digit repeated",
        ),
        (
            lambda s: s.replace(
                "taxops@example.com", "tax-operations-and-filing-desk@example-recordkeeping.com"
            ),
            "transmitter.contact_email must be an ASCII e-mail address of at most 50 characters",
        ),
        (
            lambda s: s.replace("taxops@example.com", "taxöps@example.com"),
            "transmitter.contact_email must be an ASCII e-mail address",
        ),
        # what the IRIS writer's TransmitterGrp cannot carry
        (lambda s: s.replace('contact_phone = "2175550100"', 'contact_phone = "5550100"'), "contact phone"),
        (
            lambda s: s.replace('city = "Springfield"', 'city = "29 Palms"'),
            "the city cannot be written in IRIS",
        ),
    ],
)
def test_a_bad_prorata_toml_stops_the_run_with_one_line(seed_extract, tmp_path, capsys, edit, message):
    cfg = tmp_path / "prorata.toml"
    cfg.write_text(edit(GOOD_TOML))
    code, stdout, stderr = run(
        ["run", str(seed_extract), "--out", str(tmp_path / "o"), "--no-prefect", "--config", str(cfg)], capsys
    )
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1


def test_tax_year_2026_is_filed_as_iris_xml_that_validates_against_the_irs_schema(tmp_path, capsys):
    import xmlschema

    from flows.io.iris_package import message_xsd
    from tests.conftest import IRIS_PACKAGE

    case = Case(tax_year=2026)
    case.payees = [payee_row("PY1", dob=date(1960, 1, 1))]
    case.participants = [participant_row("PT1", "PY1")]
    case.contracts = [contract_row("E1", "non_roth", 1_000_000, 100_000)]
    case.distributions = [
        dist_row(
            "D1", "E1", "non_roth", 500_000, payment_date=date(2026, 3, 2), federal_withholding_cents=90_000
        )
    ]
    folder = case.write(tmp_path / "x")
    out = tmp_path / "out"
    assert run(["run", str(folder), "--out", str(out), "--no-prefect", "--quiet"], capsys)[0] == 0
    xml = out / "irs" / "IRIS_1099R_2026_001.xml"
    xmlschema.XMLSchema(str(message_xsd(IRIS_PACKAGE))).validate(str(xml))
    text = xml.read_text()
    assert "<" in text and "5000.00" in text and "4500.00" in text  # box 1 and box 2a in dollars


def test_cfsf_approved_payers_are_read_as_nine_digits(tmp_path):
    from flows.settings import load_settings

    cfg = tmp_path / "prorata.toml"
    cfg.write_text(GOOD_TOML + '\n[cfsf]\napproved_payers = ["12-3456780", "987654321"]\n')
    assert load_settings(cfg).transmitter.cfsf_approved_payers == frozenset({"123456780", "987654321"})
    cfg.write_text(GOOD_TOML)
    assert load_settings(cfg).transmitter.cfsf_approved_payers == frozenset()


@pytest.mark.parametrize(
    ("cfsf", "message"),
    [
        ('approved_payers = ["12345"]', "cfsf.approved_payers must be a list of payer EINs, 9 digits each"),
        ('approved_payers = "123456789"', "cfsf.approved_payers must be a list of payer EINs, 9 digits each"),
        ("approved_payers = [123456789]", "cfsf.approved_payers must be a list of payer EINs, 9 digits each"),
        ('approved_states = ["CA"]', "cfsf.approved_states is not a setting"),
    ],
)
def test_a_bad_cfsf_setting_stops_the_run_with_one_line(seed_extract, tmp_path, capsys, cfsf, message):
    cfg = tmp_path / "prorata.toml"
    cfg.write_text(GOOD_TOML + f"\n[cfsf]\n{cfsf}\n")
    code, stdout, stderr = run(
        ["run", str(seed_extract), "--out", str(tmp_path / "o"), "--no-prefect", "--config", str(cfg)], capsys
    )
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1


def test_a_run_codes_cfsf_only_for_the_payers_prorata_toml_approves(tmp_path, capsys):
    case = Case()
    case.contracts = [contract_row("E1", "non_roth", 1_000_000, 0)]
    case.distributions = [
        dist_row(
            "D1", "E1", "non_roth", 500_000, state="CA", state_withholding_cents=10_000, state_payer_id="12"
        )
    ]
    extract = case.write(tmp_path / "extract")
    cfg = tmp_path / "prorata.toml"
    parsed = {}
    for name, cfsf in (("none", ""), ("other", '["987654321"]'), ("approved", '["12-3456780"]')):
        cfg.write_text(GOOD_TOML + (f"\n[cfsf]\napproved_payers = {cfsf}\n" if cfsf else ""))
        out = tmp_path / name
        args = ["run", str(extract), "--out", str(out), "--no-prefect", "--quiet", "--config", str(cfg)]
        assert run(args, capsys)[0] == 0
        data = (out / "irs" / "FIRE_1099R_2025.txt").read_bytes()
        assert check_pub1220(data) == []
        parsed[name] = read_pub1220(data)
    for name in ("none", "other"):
        assert parsed[name].payers["cfsf_indicator"].to_list() == [""]
        assert parsed[name].payees["combined_federal_state_code"].to_list() == [None]
        assert parsed[name].state_totals.height == 0
    approved = parsed["approved"]
    assert approved.payers["cfsf_indicator"].to_list() == ["1"]
    assert approved.payees["combined_federal_state_code"].to_list() == ["06"]
    assert approved.state_totals["combined_federal_state_code"].to_list() == ["06"]
