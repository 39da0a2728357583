"""The IRS's schema package as the authority: every transmission is validated against it before it is
kept, through the code that validates the IRS's own samples; a failure names the form and the
element, never a value; the package is a setting; the tables transcribed from it equal it."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import polars as pl
import pytest
from lxml import etree

from flows.environment import Environment
from flows.io import iris_package as iris_schema
from flows.irs.files import FilingCheckError, write_irs_file
from flows.settings import ConfigError, TransmitterSettings, load_settings
from tests.conftest import IRIS_PACKAGE
from tests.irs.test_filing import GOOD_TOML as GOOD
from tests.irs.test_iris_xml import originals
from transforms.irs.countries import IRS_COUNTRY_CODE
from transforms.irs.iris import iris_xml
from transforms.irs.iris.iris_xml import STATES
from transforms.irs.iris.schema_check import SchemaFeed, validate

SAMPLES = sorted((IRIS_PACKAGE / "IRIS A2A INTAKE XML LIBRARY 2025" / "XML Examples").glob("*.xml"))
COMMON = IRIS_PACKAGE / "IRIS A2A INTAKE XML LIBRARY 2025" / "COMMON" / "IRS-IRefileTypes.xsd"
XS = {"xsd": "http://www.w3.org/2001/XMLSchema"}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return iris_schema.load(IRIS_PACKAGE).schema


def test_the_package_holds_the_irs_samples():
    assert len(SAMPLES) == 9


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_every_irs_sample_transmission_validates_through_the_validator_prorata_uses(schema, sample):
    data = sample.read_bytes()
    assert validate(schema, [data]) == []
    feed = SchemaFeed(schema)  # in pieces, as a transmission is fed while it is written
    for start in range(0, len(data), 1000):
        feed.feed(data[start : start + 1000])
    assert feed.errors() == []


def test_a_broken_sample_fails_the_same_validator(schema):
    data = SAMPLES[0].read_bytes().replace(b"<n1:TaxYr>2025</n1:TaxYr>", b"<n1:TaxYr>25</n1:TaxYr>", 1)
    errors = validate(schema, [data])
    assert errors and "TaxYr" in errors[0] and "'25'" not in errors[0]


def test_the_schema_version_comes_from_the_package():
    assert iris_schema.load(IRIS_PACKAGE).version == iris_xml.SCHEMA_VERSION == "2.0.3"


@pytest.mark.parametrize("in_a_process", [False, True], ids=["while written", "in a process of its own"])
def test_a_transmission_that_fails_the_schema_is_not_kept_and_the_error_names_the_form_and_the_element(
    tmp_path, monkeypatch, in_a_process
):
    from flows.irs import files as filing

    if in_a_process:  # as a large transmission is validated: from its file, beside the writing
        monkeypatch.setattr(filing, "PARALLEL_VALIDATION_BYTES", 0)
    # A normaliser that lets a city with digits through: the writer's checks pass, the schema not.
    strict = iris_xml.city_name

    def lenient(expr, width=40):
        return strict(expr, width).fill_null(expr.cast(pl.String).str.to_uppercase())

    monkeypatch.setattr(iris_xml, "city_name", lenient)
    filing = originals().with_columns(
        pl.when(pl.col("form_id") == "F4").then(pl.lit("29 Palms")).otherwise(pl.col("city")).alias("city")
    )
    with pytest.raises(FilingCheckError) as error:
        write_irs_file(
            tmp_path, filing, TransmitterSettings.placeholder(), 2025, transmitted_on=_after_fire()
        )
    message = str(error.value)
    assert "form_id F4" in message
    assert "IRTransmission/IRSubmission1Grp/IRSubmission1Detail/Form1099RDetail/RecipientDetail/" in message
    assert "USAddress/CityNm" in message and "pattern" in message
    assert "29" not in message and "PALMS" not in message and "444556666" not in message
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing kept, no partial file left


def _after_fire():
    from datetime import date

    return date(2027, 2, 1)  # tax year 2025 through IRIS: the sample filing's tax year


def test_without_a_configured_package_the_file_is_written_and_the_manifest_says_it_was_not_checked(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(Environment.variable("iris_schema_package"))
    info = write_irs_file(tmp_path, originals(), TransmitterSettings.placeholder(), 2025, _after_fire())
    assert info["schema_checked"] is False and info["schema_package"] is None
    assert (tmp_path / info["file"]).is_file()
    monkeypatch.setenv(Environment.variable("iris_schema_package"), str(IRIS_PACKAGE))
    checked = write_irs_file(
        tmp_path / "b", originals(), TransmitterSettings.placeholder(), 2025, _after_fire()
    )
    assert checked["schema_checked"] is True and checked["schema_package"] == IRIS_PACKAGE.name
    json.dumps(checked)  # what the manifest records


def test_the_run_summary_says_plainly_when_the_iris_file_was_not_checked():
    from flows.cli.main import summary_text

    manifest = {
        "rows": {"distributions": {"in": 1, "out": 1, "quarantined": 0}},
        "extract_id": "x",
        "tax_year": 2026,
        "run_id": "r",
        "forms": {"count": 1, "below_filing_threshold": 0},
        "totals": {k: 0 for k in ("box1_cents", "box2a_cents", "box4_cents", "box5_cents", "box10_cents")},
        "irs_filing": {
            "channel": "IRIS",
            "file": "irs/IRIS_1099R_2026_001.xml",
            "files": ["irs/IRIS_1099R_2026_001.xml"],
            "returns": 1,
            "test_file": True,
            "transmitter_configured": False,
            "schema_checked": False,
        },
    }
    assert "NOT checked against the IRS schema" in summary_text(manifest, Path("o"))
    manifest["irs_filing"] |= {"schema_checked": True, "schema_package": "iris-a2a-ty2025-v1.2"}
    assert "validated against the IRS schema (iris-a2a-ty2025-v1.2)" in summary_text(manifest, Path("o"))


# --- the setting --------------------------------------------------------------------------------


def test_the_iris_table_names_the_package_and_the_software_ids(tmp_path):
    cfg = tmp_path / "prorata.toml"
    cfg.write_text(
        GOOD + f'[iris]\nschema_package = "{IRIS_PACKAGE}"\nsoftware_id = ["25ABCDEFGH", "26ABCDEFGH"]\n'
    )
    settings = load_settings(cfg)
    assert settings.iris_schema_package == str(IRIS_PACKAGE.resolve())
    assert settings.software_id(2026) == "26ABCDEFGH" and settings.software_id(2027) is None
    assert dataclasses.replace(settings, software_ids=()).software_id(2026) == ""


@pytest.mark.parametrize(
    ("table", "words"),
    [('schema_package = "/nowhere"', "iris.schema_package is not a folder"),
     ('schema_package = "."', "holds no IRIS transmission schema"),
     ('software_id = "ABC"', "iris.software_id must be"),
     ("software_id = 7", "iris.software_id must be")],
)  # fmt: skip
def test_a_bad_iris_table_is_one_line(tmp_path, table, words):
    cfg = tmp_path / "prorata.toml"
    cfg.write_text(GOOD + "[iris]\n" + table + "\n")
    with pytest.raises(ConfigError) as error:
        load_settings(cfg)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_an_iris_filing_whose_tax_year_has_none_of_the_configured_software_ids_is_refused(tmp_path):
    settings = dataclasses.replace(TransmitterSettings.placeholder(), software_ids=("26ABCDEFGH",))
    with pytest.raises(Exception, match="TMFST020"):
        write_irs_file(tmp_path, originals(), settings, 2025, _after_fire())


def test_a_run_whose_tax_year_has_none_of_the_configured_software_ids_is_refused_before_any_work(
    tmp_path, capsys
):
    """The settings are checked before the extract is read: one line naming prorata.toml, exit 2,
    and no OUT_DIR (not a failure at the end of the run, after the computation)."""
    from flows.cli.main import main
    from flows.sample import generate_extract

    generate_extract(tmp_path / "x", 50, seed=3, tax_year=2026)
    cfg = tmp_path / "prorata.toml"
    cfg.write_text(GOOD + '[iris]\nsoftware_id = ["25ABCDEFGH"]\n')
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "x"), "--out", str(out), "--config", str(cfg), "--no-prefect", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "prorata.toml" in err and "software_id" in err and "TMFST020" in err
    assert not out.exists()
    cfg.write_text(GOOD + '[iris]\nsoftware_id = ["25ABCDEFGH", "26ABCDEFGH"]\n')
    assert main(args) == 0


# --- tables transcribed from the package ---------------------------------------------------------


def _enumeration(name: str) -> dict[str, str]:
    simple = etree.parse(str(COMMON)).find(f".//xsd:simpleType[@name='{name}']", XS)
    return {
        e.get("value"): (e.findtext(".//xsd:documentation", namespaces=XS) or "").strip()
        for e in simple.findall(".//xsd:enumeration", XS)
    }


def test_every_irs_country_code_of_the_table_is_one_the_schema_lists():
    countries = _enumeration("CountryType")
    assert set(IRS_COUNTRY_CODE.values()) <= set(countries)
    source = (Path(iris_xml.__file__).parents[1] / "countries.py").read_text()
    for iso, code in IRS_COUNTRY_CODE.items():  # the name beside each code is the schema's
        assert re.search(rf'"{iso}": "{code}",  # {re.escape(countries[code])}\n', source), iso
    assert IRS_COUNTRY_CODE["GB"] == "UK" and countries["GB"] == "Gabon"


def test_the_states_are_the_schemas_state_type():
    assert set(_enumeration("StateType")) == STATES
