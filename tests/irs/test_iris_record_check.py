"""Every IRIS transmission is validated against the IRS's schema before it is kept — by default its
records by shape and by value (``transforms.irs.iris.schema_check.RecordCheck``), not by parsing the
whole file. These tests hold that check to the whole-file validation (``PRORATA_IRIS_VALIDATION=full``):
same verdict, same form named, on filings that pass and on filings broken in a value, in a leaf's
escaping, or in a record's structure."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.environment import Environment
from flows.io import iris_package as iris_schema
from flows.irs import files as filing_module
from flows.irs.files import FilingCheckError, record_check, write_irs_file
from flows.settings import TransmitterSettings
from tests.conftest import IRIS_PACKAGE
from tests.irs.test_iris_xml import corrections, originals
from transforms.irs.iris import iris_xml
from transforms.irs.iris.schema_check import RECORD_PATH

AFTER_FIRE = date(2027, 2, 1)  # tax year 2025 through IRIS: the sample filing's tax year


def verdict(tmp_path, filing: pl.DataFrame, mode: str, monkeypatch) -> str:
    """``"valid"``, or the schema failure's text from the form named on (no value in it)."""
    if mode == "full":
        monkeypatch.setenv(Environment.variable("iris_validation"), "full")
    else:
        monkeypatch.delenv(Environment.variable("iris_validation"), raising=False)
    folder = tmp_path / mode
    try:
        info = write_irs_file(folder, filing, TransmitterSettings.placeholder(), 2025, AFTER_FIRE)
    except FilingCheckError as error:
        assert not any(p.is_file() for p in folder.rglob("*"))  # nothing kept
        text = str(error)
        return text[text.index("form_id") :].replace(" (submission 1)", "")
    expected = "whole file" if mode == "full" else "records by shape and value"
    assert info["schema_validation"] == expected
    return "valid"


def both(tmp_path, filing, monkeypatch) -> tuple[str, str]:
    return verdict(tmp_path, filing, "records", monkeypatch), verdict(tmp_path, filing, "full", monkeypatch)


def test_the_check_is_made_from_the_package_for_every_leaf_a_record_can_have():
    check = record_check(iris_schema.load(IRIS_PACKAGE.resolve()))
    assert check is not None and check.paths == iris_xml.record_paths()
    names = {path[-1] for path in check.paths}
    assert {"TIN", "CityNm", "ForeignPostalCd", "UniqueRecordId", "LocalityNm", "PaymentDt"} <= names
    assert all(path[0] == "Form1099RDetail" for path in check.paths)


@pytest.mark.parametrize("kind", ["originals", "corrections"])
def test_a_valid_filing_is_valid_by_both_checks_and_written_the_same(tmp_path, monkeypatch, kind):
    filing = originals() if kind == "originals" else corrections()
    assert both(tmp_path, filing, monkeypatch) == ("valid", "valid")
    for written in (tmp_path / "records" / "irs").iterdir():
        assert written.read_bytes() == (tmp_path / "full" / "irs" / written.name).read_bytes()


def _lenient_city(monkeypatch):
    """A normaliser that lets a city with digits through: the writer's own checks pass, the schema not."""
    strict = iris_xml.city_name
    monkeypatch.setattr(
        iris_xml,
        "city_name",
        lambda expr, width=40: strict(expr, width).fill_null(expr.cast(pl.String).str.to_uppercase()),
    )


def test_a_value_the_schema_refuses_fails_both_checks_naming_the_same_form_and_element(tmp_path, monkeypatch):
    _lenient_city(monkeypatch)
    filing = originals().with_columns(
        pl.when(pl.col("form_id") == "F4").then(pl.lit("29 Palms")).otherwise(pl.col("city")).alias("city")
    )
    fast, full = both(tmp_path, filing, monkeypatch)
    assert fast.startswith("form_id F4, element ") and full.startswith("form_id F4, element ")
    path = "IRTransmission/IRSubmission1Grp/IRSubmission1Detail/Form1099RDetail/RecipientDetail/"
    assert path in fast and "USAddress/CityNm" in fast and "pattern" in fast
    assert "29" not in fast and "PALMS" not in fast


def test_a_record_of_a_shape_the_schema_refuses_fails_both_checks_naming_the_form(tmp_path, monkeypatch):
    """The writer made to leave out a required element of one return only: a shape of its own."""
    plain = iris_xml._el

    def el(name, value, depth):
        nodes = plain(name, value, depth)
        return iris_xml._when(pl.col("form_id") != "F3", nodes) if name == "CorrectedInd" else nodes

    monkeypatch.setattr(iris_xml, "_el", el)
    fast, full = both(tmp_path, originals(), monkeypatch)
    assert fast.startswith("form_id F3") and full.startswith("form_id F3")
    assert "Form1099RDetail" in fast


def _injected(monkeypatch, column: str, form_id: str, text: str):
    """``recipient_values`` with one leaf's text of one return replaced by ``text`` as it is."""
    values = iris_xml.recipient_values

    def injected(*args, **kwargs):
        frame = values(*args, **kwargs)
        return frame.with_columns(
            pl.when(pl.col("form_id") == form_id).then(pl.lit(text)).otherwise(pl.col(column)).alias(column)
        )

    monkeypatch.setattr(iris_xml, "recipient_values", injected)


TEXTS = st.lists(
    st.sampled_from(list("AZaz09 -/&.#'\t\u00e9\u00a0\x01<") + ["]]>", "  ", "&amp;", "&#1;"]), max_size=20
).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    leaf=st.sampled_from(["account", "street_1", "city", "first_name", "payee_tin", "us_zip", "locality"]),
    text=TEXTS,
)
def test_any_text_in_a_leaf_gets_the_same_verdict_from_both_checks(tmp_path_factory, monkeypatch, leaf, text):
    """Texts written as they are (escaping bypassed where the writer would not escape them): control
    characters, markup, entities, blanks, non-ASCII, lengths past the facets."""
    with monkeypatch.context() as m:
        _injected(m, leaf, "F2", text)
        m.setattr(iris_xml, "value_problems", lambda values: [])  # the schema alone judges
        fast, full = both(tmp_path_factory.mktemp("t"), originals(), m)
    assert fast == full or (fast.startswith("form_id F2") and full.startswith("form_id F2")), (fast, full)
    assert (fast == "valid") == (full == "valid")


def test_a_package_whose_leaves_the_proof_does_not_cover_falls_back_to_the_whole_file(tmp_path, monkeypatch):
    """A record leaf the package does not declare (a newer writer, an older package): no proof, so the
    whole file is validated, and the manifest says which check ran."""
    monkeypatch.setattr(filing_module, "record_paths", lambda: (("Form1099RDetail", "NoSuchLeaf"),))
    assert record_check(iris_schema.load(IRIS_PACKAGE.resolve())) is None
    info = write_irs_file(tmp_path, originals(), TransmitterSettings.placeholder(), 2025, AFTER_FIRE)
    assert info["schema_validation"] == "whole file"
    assert RECORD_PATH == ("IRTransmission", "IRSubmission1Grp", "IRSubmission1Detail")
