"""IRIS A2A XML for Form 1099-R against the IRS's own schema package (tests/data/iris-a2a-ty2025-v1.2):
structure, corrections as one record, replacements, names and addresses, amounts, determinism,
transmissions of at most a given size.

Uses the sample filing of ``test_irs_pub1220`` (three payers, a foreign payee, CF/SF and other
states, a Roth form, box 9a, corrections, $1.5 billion).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import replace

import polars as pl
import pytest
import xmlschema
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree
from polars.testing import assert_frame_equal

from flows.io.iris_package import load, message_xsd
from tests.conftest import IRIS_PACKAGE
from tests.irs.test_irs_pub1220 import TAX_YEAR, TRANSMITTER, put, sample_filing, two_plans_of_one_payer
from transforms.irs.grouped import GroupedFiling, outline
from transforms.irs.iris.iris_xml import (
    DISTRIBUTION_CODES,
    NAMESPACE,
    IrisOptions,
    _normalised_columns,
    dollars_expr,
    dollars_text,
    iris_transmissions,
    iter_iris_xml,
    ratio_expr,
    write_iris_xml,
)
from transforms.irs.iris.schema_check import validate
from transforms.irs.shared import (
    CITY_LENGTH,
    FOREIGN_CITY_LENGTH,
    FilingInputError,
    alpha_text,
    city_name,
    is_foreign_address,
    name_lines,
    street_lines,
)
from transforms.season.corrections import iris_corrections

NS = {"ir": NAMESPACE}
RECEIPT = "2026-12345678901-abc123def"


def originals() -> pl.DataFrame:
    return sample_filing().filter(pl.col("corrected") == "")


def corrections() -> pl.DataFrame:
    """The sample's corrections as IRIS takes them: F6 (a Type 1) and F8 (a Type 2: its TIN and name
    changed; the zeroed F7 is not sent, its TIN and name ride on F8), naming the originals' records."""
    plan = sample_filing().filter(pl.col("corrected") != "")
    plan = plan.with_columns(
        pl.col("account_number").str.to_uppercase().alias("lineage_account"),
        pl.when(pl.col("form_id") == "F7")
        .then(pl.lit("type2_void"))
        .when(pl.col("form_id") == "F8")
        .then(pl.lit("type2_correct"))
        .otherwise(pl.lit("type1"))
        .alias("role"),
    )
    return iris_corrections(plan).with_columns(
        prev_unique_record_id=pl.concat_str(pl.lit(f"{RECEIPT}|1|"), pl.col("form_id").str.slice(1))
    )


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return load(IRIS_PACKAGE).schema


@pytest.fixture(scope="module")
def original_xml() -> bytes:
    return write_iris_xml(originals(), TRANSMITTER, tax_year=TAX_YEAR, test_file=True)


@pytest.fixture(scope="module")
def correction_xml() -> bytes:
    return write_iris_xml(corrections(), TRANSMITTER, tax_year=TAX_YEAR, test_file=False)


def detail(xml: bytes, account: str) -> etree._Element:
    root = etree.fromstring(xml)
    (found,) = root.xpath(f"//ir:Form1099RDetail[ir:RecipientAccountNum='{account}']", namespaces=NS)
    return found


def text(element: etree._Element, path: str) -> str | None:
    found = element.find(path, NS)
    return None if found is None else found.text


def test_the_originals_and_the_corrections_validate_against_the_irs_schema_with_lxml_and_xmlschema(
    schema, original_xml, correction_xml
):
    full = xmlschema.XMLSchema(str(message_xsd(IRIS_PACKAGE)))
    for xml in (original_xml, correction_xml):
        assert validate(schema, [xml]) == []
        assert schema.validate(etree.fromstring(xml)), schema.error_log
        assert list(full.iter_errors(xml.decode("utf-8"))) == []


def test_the_manifest_carries_what_the_irs_schema_fixes_and_the_settings(original_xml):
    root = etree.fromstring(original_xml)
    manifest = root.find("ir:IRTransmissionManifest", NS)
    names = [etree.QName(e).localname for e in manifest]
    assert names == [
        "SchemaVersionNum", "UniqueTransmissionId", "TaxYr", "PriorYearDataInd", "TransmissionTypeCd",
        "TestCd", "TransmitterGrp", "VendorCd", "SoftwareId", "TotalIssuerFormCnt",
        "TotalRecipientFormCnt", "PaperSubmissionInd", "MediaSourceCd", "SubmissionChannelCd",
    ]  # fmt: skip
    assert text(manifest, "ir:SchemaVersionNum") == "2.0.3"
    assert text(manifest, "ir:PriorYearDataInd") == "0"  # TMFST038
    assert text(manifest, "ir:MediaSourceCd") == "M" and text(manifest, "ir:PaperSubmissionInd") == "0"
    given = write_iris_xml(
        originals(),
        TRANSMITTER,
        tax_year=TAX_YEAR,
        test_file=True,
        options=IrisOptions(software_id="25ABCDEFGH"),
    )
    assert text(etree.fromstring(given), "ir:IRTransmissionManifest/ir:SoftwareId") == "25ABCDEFGH"


def test_the_root_has_a_manifest_and_one_submission_per_payer_with_its_counts(original_xml):
    root = etree.fromstring(original_xml)
    assert [etree.QName(child).localname for child in root] == [
        "IRTransmissionManifest", "IRSubmission1Grp", "IRSubmission1Grp", "IRSubmission1Grp",
    ]  # fmt: skip
    counts = [
        len(g.findall("ir:IRSubmission1Detail/ir:Form1099RDetail", NS))
        for g in root.findall("ir:IRSubmission1Grp", NS)
    ]
    assert counts == [4, 1, 1]
    assert text(root, "ir:IRTransmissionManifest/ir:TotalRecipientFormCnt") == "6"
    assert text(root, "ir:IRTransmissionManifest/ir:TotalIssuerFormCnt") == "3"
    headers = root.findall("ir:IRSubmission1Grp/ir:IRSubmission1Header", NS)
    assert [text(h, "ir:FormTypeCd") for h in headers] == ["1099R"] * 3
    assert [text(h, "ir:TotalReportedRcpntFormCnt") for h in headers] == ["4", "1", "1"]
    assert [text(h, "ir:SubmissionId") for h in headers] == ["1", "2", "3"]
    ids = [d.findtext("ir:RecordId", namespaces=NS) for d in root.findall(".//ir:Form1099RDetail", NS)]
    assert ids == ["1", "2", "3", "4", "1", "1"]


def test_test_cd_is_t_for_a_test_file_and_p_for_production(original_xml, correction_xml):
    assert text(etree.fromstring(original_xml), "ir:IRTransmissionManifest/ir:TestCd") == "T"
    assert text(etree.fromstring(correction_xml), "ir:IRTransmissionManifest/ir:TestCd") == "P"


def test_a_correction_is_one_record_naming_the_original_and_the_previous_tin_and_name_where_they_changed(
    correction_xml,
):
    root = etree.fromstring(correction_xml)
    assert text(root, "ir:IRTransmissionManifest/ir:TransmissionTypeCd") == "C"
    forms = root.findall(".//ir:Form1099RDetail", NS)
    assert len(forms) == 2  # F6 and F8: the zeroed F7 is not sent
    assert [text(f, "ir:CorrectedInd") for f in forms] == ["1", "1"]
    assert [text(f, "ir:VoidInd") for f in forms] == ["0", "0"]
    ids = [text(f, "ir:PrevSubmittedRecRecipientGrp/ir:UniqueRecordId") for f in forms]
    assert ids == [f"{RECEIPT}|1|6", f"{RECEIPT}|1|8"] and len(set(ids)) == len(ids)  # FTMFST008
    type1 = forms[0].find("ir:PrevSubmittedRecRecipientGrp", NS)
    assert [etree.QName(e).localname for e in type1] == ["UniqueRecordId"]  # nothing else changed
    type2 = forms[1].find("ir:PrevSubmittedRecRecipientGrp", NS)
    assert text(type2, "ir:TIN") == "778899001"
    assert (text(type2, "ir:PersonName/ir:PersonFirstNm"), text(type2, "ir:PersonName/ir:PersonLastNm")) == (
        "BO",
        "WRONGNAME",
    )
    assert text(forms[1], "ir:RecipientDetail/ir:TIN") == "778899002"


def test_originals_carry_no_previous_record(original_xml):
    original = etree.fromstring(original_xml)
    assert text(original, "ir:IRTransmissionManifest/ir:TransmissionTypeCd") == "O"
    assert {text(f, "ir:CorrectedInd") for f in original.findall(".//ir:Form1099RDetail", NS)} == {"0"}
    assert original.find(".//ir:PrevSubmittedRecRecipientGrp", NS) is None


def test_a_transmission_mixing_originals_and_corrections_is_refused():
    mixed = pl.concat([originals(), corrections().select(originals().columns)])
    with pytest.raises(FilingInputError, match="either originals or corrections"):
        write_iris_xml(mixed, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)


@pytest.mark.parametrize("prev", [None, "R-1|1|6"])
def test_a_correction_without_a_valid_unique_record_id_is_refused_naming_the_form_only(prev):
    bad = put(corrections(), "prev_unique_record_id", "F6", pl.lit(prev, pl.String))
    with pytest.raises(FilingInputError, match="prev_unique_record_id") as error:
        write_iris_xml(bad, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert "F6" in str(error.value) and "667788990" not in str(error.value) and "R-1" not in str(error.value)


def test_same_input_in_any_row_order_gives_identical_bytes_and_the_id_is_the_hash_of_the_document(
    original_xml,
):
    again = write_iris_xml(
        originals().sample(fraction=1.0, shuffle=True, seed=3), TRANSMITTER, tax_year=TAX_YEAR, test_file=True
    )
    assert again == original_xml
    utid = text(etree.fromstring(original_xml), "ir:IRTransmissionManifest/ir:UniqueTransmissionId")
    assert re.fullmatch(r"[0-9a-f-]{36}:IRIS:ABC12::A", utid)
    empty = original_xml.replace(utid.encode(), b"", 1)
    assert utid == f"{uuid.UUID(bytes=hashlib.sha256(empty).digest()[:16], version=4)}:IRIS:ABC12::A"
    given = "11111111-2222-4333-8444-555555555555:IRIS:ABC12::A"
    named = write_iris_xml(
        originals(),
        TRANSMITTER,
        tax_year=TAX_YEAR,
        test_file=True,
        options=IrisOptions(transmission_id=given),
    )
    assert named == original_xml.replace(utid.encode(), given.encode())


@pytest.mark.parametrize(
    ("cents", "dollars"),
    [(0, "0.00"), (5, "0.05"), (50, "0.50"), (123_450, "1234.50"), (100_000_000_000, "1000000000.00"),
     (150_000_000_001, "1500000000.01"), (999_999_999_999, "9999999999.99")],
)  # fmt: skip
def test_amounts_are_decimal_dollars_with_two_decimals_from_integer_cents(cents, dollars):
    assert dollars_text(cents) == dollars
    assert pl.select(dollars_expr(pl.lit(cents, pl.Int64))).item() == dollars


@settings(max_examples=50, deadline=None)
@given(cents=st.lists(st.integers(min_value=0, max_value=2**63 - 1), min_size=1, max_size=40))
def test_the_vectorized_amounts_and_ratios_are_the_integer_texts_for_any_cents(cents):
    series = pl.Series(cents, dtype=pl.Int64)
    written = pl.select(dollars_expr(pl.lit(series)).alias("d"), ratio_expr(pl.lit(series)).alias("r"))
    assert written["d"].to_list() == [dollars_text(c) for c in cents]
    assert written["r"].to_list() == [f"{c // 100}.{c % 100:02d}000" for c in cents]


def test_box_amounts_and_the_header_totals_in_form1099r_total_amt_grps_own_order(original_xml):
    rich = detail(original_xml, "ACCT-0009")
    assert text(rich, "ir:GrossDistributionAmt") == "1500000000.00"
    assert text(rich, "ir:FederalIncomeTaxWithheldAmt") == "300000000.00"
    assert text(rich, "ir:TotalEmployeeContributionsAmt") == "4000.00"
    assert text(rich, "ir:StateLocalTaxGrp/ir:StateTaxGrp/ir:StateTaxWithheldAmt") == "90000000.00"
    header = etree.fromstring(original_xml).find(".//ir:IRSubmission1Header", NS)
    totals = header.find("ir:IRSubmission1FormTotals/ir:Form1099RTotalAmtGrp", NS)
    assert [etree.QName(e).localname for e in totals][:2] == [
        "FederalIncomeTaxWithheldAmt",
        "GrossDistributionAmt",
    ]
    # 12 345.67 + 5 000.00 + 2 500.00 + 98 765.43 = 118 611.10
    assert text(totals, "ir:GrossDistributionAmt") == "118611.10"
    assert text(totals, "ir:FederalIncomeTaxWithheldAmt") == "2250.00"


def test_box_7_is_one_combined_code_the_schema_enumerates(original_xml):
    roth = detail(original_xml, "ACCT-0002")
    assert [c.text for c in roth.findall("ir:Form1099RDistributionCd", NS)] == ["7B"]
    assert text(roth, "ir:DesignatedROTHAcctFirstYr") == "2012"
    assert text(roth, "ir:StateLocalTaxGrp/ir:LocalTaxGrp/ir:LocalTaxWithheldAmt") == "25.00"
    assert text(roth, "ir:StateLocalTaxGrp/ir:LocalTaxGrp/ir:LocalityNm") == "NEWARK"
    with pytest.raises(FilingInputError, match="Form1099RDistributionCd") as error:
        write_iris_xml(
            put(originals(), "distribution_codes", "F2", "9B"),
            TRANSMITTER,
            tax_year=TAX_YEAR,
            test_file=True,
        )
    assert "F2" in str(error.value)


def test_the_box_7_values_are_those_of_the_irs_schema():
    xsd = (message_xsd(IRIS_PACKAGE).parents[1] / "FORM_TYPES" / "IRS-Form1099RType.xsd").read_text()
    element = xsd[xsd.index('name="Form1099RDistributionCd"') :]
    element = element[: element.index("</xsd:element>")]
    assert set(re.findall(r'<xsd:enumeration value="([^"]+)"', element)) == DISTRIBUTION_CODES
    assert len(DISTRIBUTION_CODES) == 120


def test_box_9a_is_a_ratio_and_a_cfsf_state_gets_its_code_and_a_total_by_state_group(original_xml):
    first = detail(original_xml, "ACCT-0001")
    assert text(first, "ir:RcpntTotalDistributionPct") == "0.40000"
    assert text(first, "ir:TotalDistributionInd") == "1"
    assert text(first, "ir:CFSFElectionStateCd") == "CA"
    assert text(first, "ir:StateLocalTaxGrp/ir:StateTaxGrp/ir:StateIdNum") == "123-4567-8"
    ny = detail(original_xml, "ACCT-0004")
    assert text(ny, "ir:CFSFElectionStateCd") is None and text(ny, "ir:RcpntTotalDistributionPct") is None
    header = etree.fromstring(original_xml).find(".//ir:IRSubmission1Header", NS)
    assert text(header, "ir:CFSFElectionInd") == "1"
    states = header.findall("ir:IRSubmission1FormTotals/ir:Form1099RTotalByStateGrp", NS)
    assert [text(s, "ir:StateAbbreviationCd") for s in states] == ["CA", "NJ"]  # SHAREDIRFORM022
    assert [text(s, "ir:StateTaxWithheldAmt") for s in states] == ["500.00", "10.00"]


def test_the_taxable_amount_is_left_out_when_not_determined_and_the_entity_gets_a_business_name(original_xml):
    trust = detail(original_xml, "ACCT-0005")
    assert text(trust, "ir:TaxableAmt") is None
    assert text(trust, "ir:TxblAmountNotDeterminedInd") == "1"
    assert text(trust, "ir:PaymentDt") == "2025-06-30"
    assert text(trust, "ir:RecipientDetail/ir:TINSubmittedTypeCd") == "BUSINESS_TIN"
    assert text(trust, "ir:RecipientDetail/ir:BusinessNameControlTxt") is None  # a trust: left out (blank)
    assert (
        text(trust, "ir:RecipientDetail/ir:BusinessName/ir:BusinessNameLine1Txt") == "THE SMITH FAMILY TRUST"
    )


def test_the_foreign_payee_gets_a_foreign_address_with_the_irs_country_code():
    frame = put(originals(), "country", "F3", "GB")
    foreign = detail(write_iris_xml(frame, TRANSMITTER, tax_year=TAX_YEAR, test_file=True), "ACCT-0003").find(
        "ir:RecipientDetail/ir:MailingAddressGrp/ir:ForeignAddress", NS
    )
    assert (text(foreign, "ir:CityNm"), text(foreign, "ir:ForeignPostalCd")) == ("TORONTO ON", "M5V 3L9")
    assert text(foreign, "ir:CountryCd") == "UK"  # not GB: Gabon in the IRS's list
    germany = put(originals(), "country", "F3", "DE")
    assert b"<CountryCd>GM</CountryCd>" in write_iris_xml(
        germany, TRANSMITTER, tax_year=TAX_YEAR, test_file=True
    )
    with pytest.raises(FilingInputError, match="country list") as error:
        write_iris_xml(
            put(originals(), "country", "F3", "PS"), TRANSMITTER, tax_year=TAX_YEAR, test_file=True
        )
    assert "F3" in str(error.value)


def test_names_and_addresses_are_normalised_to_what_iris_takes(schema):
    frame = put(originals(), "city", "F1", "Winston-Salem")
    frame = put(frame, "address", "F1", "1234 Very Long Street Name That Goes On, Apt. #5B")
    frame = put(frame, "first_name", "F2", "Mary-Elizabeth Anne Louise")
    frame = put(frame, "last_name", "F2", "Ó'Brien-Smythe")
    xml = write_iris_xml(frame, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert validate(schema, [xml]) == []
    first = detail(xml, "ACCT-0001").find("ir:RecipientDetail", NS)
    assert text(first, ".//ir:CityNm") == "WINSTON SALEM"
    assert text(first, ".//ir:AddressLine1Txt") == "1234 VERY LONG STREET NAME THAT"
    assert text(first, ".//ir:AddressLine2Txt") == "GOES ON APT 5B"
    second = detail(xml, "ACCT-0002").find("ir:RecipientDetail/ir:PersonName", NS)
    assert text(second, "ir:PersonFirstNm") == "MARY-ELIZABETH ANNE"  # cut at a word: 20 at most
    assert text(second, "ir:PersonLastNm") == "OBRIEN-SMYTHE"


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [("city", "29 Palms", "iris_city"), ("last_name", "Wolfeschlegelsteinhausen", "iris_person_name"),
     ("address", "", "iris_street")],
)  # fmt: skip
def test_a_name_or_address_that_cannot_be_made_valid_is_refused_naming_the_form(column, value, rule):
    with pytest.raises(FilingInputError, match=rule) as error:
        write_iris_xml(put(originals(), column, "F4", value), TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert "F4" in str(error.value) and (not value or value not in str(error.value))


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_the_document_in_pieces_and_chunks_is_the_same_document(original_xml, chunk_rows):
    pieces = iter_iris_xml(originals(), TRANSMITTER, tax_year=TAX_YEAR, test_file=True, chunk_rows=chunk_rows)
    assert b"".join(pieces) == original_xml


def test_two_plans_whose_payer_ein_is_written_two_ways_give_one_issuer_group_with_both_plans_returns(
    original_xml,
):
    two = two_plans_of_one_payer(originals())
    assert two["payer_tin"].n_unique() == originals()["payer_tin"].n_unique() + 1
    xml = write_iris_xml(two, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert xml == original_xml
    groups = etree.fromstring(xml).findall("ir:IRSubmission1Grp", NS)
    assert [text(g, "ir:IRSubmission1Header/ir:IssuerDetail/ir:TIN") for g in groups] == [
        "123456780", "234567891", "345678902",
    ]  # fmt: skip


def test_an_account_number_repeated_under_the_payer_ein_written_another_way_is_refused_in_iris_too():
    two = put(two_plans_of_one_payer(originals()), "account_number", "F2", "acct-0001")
    with pytest.raises(FilingInputError, match="account_number not unique within a payer"):
        write_iris_xml(two, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)


# --- replacements -----------------------------------------------------------------------------


def test_a_replacement_of_a_rejected_transmission_names_its_receipt_in_the_manifest(schema):
    options = IrisOptions(original_receipt_id=RECEIPT)
    xml = write_iris_xml(originals(), TRANSMITTER, tax_year=TAX_YEAR, test_file=True, options=options)
    assert validate(schema, [xml]) == []
    manifest = etree.fromstring(xml).find("ir:IRTransmissionManifest", NS)
    assert (
        text(manifest, "ir:TransmissionTypeCd") == "R" and text(manifest, "ir:OriginalReceiptId") == RECEIPT
    )
    assert etree.fromstring(xml).find(".//ir:OriginalUniqueSubmissionId", NS) is None


def test_a_replacement_of_rejected_submissions_names_each_in_its_header_never_with_a_receipt(schema):
    frame = originals().with_columns(
        pl.concat_str(pl.lit(f"{RECEIPT}|"), pl.col("payer_tin").str.slice(0, 1)).alias(
            "original_unique_submission_id"
        )
    )
    xml = write_iris_xml(frame, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert validate(schema, [xml]) == []
    root = etree.fromstring(xml)
    assert text(root, "ir:IRTransmissionManifest/ir:TransmissionTypeCd") == "R"
    assert text(root, "ir:IRTransmissionManifest/ir:OriginalReceiptId") is None
    headers = root.findall(".//ir:IRSubmission1Header", NS)
    assert [text(h, "ir:OriginalUniqueSubmissionId") for h in headers] == [
        f"{RECEIPT}|{i}" for i in (1, 2, 3)
    ]
    with pytest.raises(FilingInputError, match="FTMFST006"):
        write_iris_xml(
            frame,
            TRANSMITTER,
            tax_year=TAX_YEAR,
            test_file=True,
            options=IrisOptions(original_receipt_id=RECEIPT),
        )
    with pytest.raises(FilingInputError, match="receipt id"):
        write_iris_xml(
            originals(),
            TRANSMITTER,
            tax_year=TAX_YEAR,
            test_file=True,
            options=IrisOptions(original_receipt_id="R-1"),
        )


# --- transmissions of at most max_bytes ---------------------------------------------------------


def many_payers(copies: int) -> pl.DataFrame:
    """The sample's originals for ``copies`` × 3 payers (new TINs, form ids and accounts)."""
    base = originals()
    return pl.concat(
        base.with_columns(
            pl.concat_str(pl.lit(f"{i:02d}"), pl.col("payer_tin").str.slice(2)).alias("payer_tin"),
            pl.concat_str(pl.col("form_id"), pl.lit(f"-{i}")).alias("form_id"),
        )
        for i in range(10, 10 + copies)
    )


def transmissions(filing: pl.DataFrame, max_bytes: int | None, group_rows: int = 10**9, chunk_rows: int = 3):
    grouped = GroupedFiling(
        outline(filing.lazy(), TAX_YEAR),
        lambda tins: filing.filter(pl.col("payer_tin").is_in(pl.Series(tins, dtype=pl.String).implode())),
        TRANSMITTER,
        TAX_YEAR,
        True,
        group_rows=group_rows,
    )
    return list(iris_transmissions(grouped, IrisOptions(max_bytes=max_bytes), chunk_rows))


@pytest.mark.parametrize("max_bytes", [20_000, 45_000])
def test_a_filing_larger_than_the_limit_is_split_into_transmissions_that_each_validate(schema, max_bytes):
    filing = many_payers(8)
    whole = transmissions(filing, None)
    assert len(whole) == 1 and whole[0].size > 2 * max_bytes
    parts = transmissions(filing, max_bytes)
    assert len(parts) > 2
    seen: list[str] = []
    ids = set()
    for part in parts:
        data = part.data()
        assert len(data) == part.size <= max_bytes
        assert validate(schema, [data]) == []
        root = etree.fromstring(data)
        forms = root.findall(".//ir:Form1099RDetail", NS)
        assert (
            text(root, "ir:IRTransmissionManifest/ir:TotalRecipientFormCnt")
            == str(len(forms))
            == str(part.returns)
        )
        assert text(root, "ir:IRTransmissionManifest/ir:TotalIssuerFormCnt") == str(part.issuers)
        for group in root.findall("ir:IRSubmission1Grp", NS):
            records = group.findall("ir:IRSubmission1Detail/ir:Form1099RDetail", NS)
            assert text(group, "ir:IRSubmission1Header/ir:TotalReportedRcpntFormCnt") == str(len(records))
            gross = sum(round(float(text(r, "ir:GrossDistributionAmt")) * 100) for r in records)
            header_gross = text(
                group, "ir:IRSubmission1Header//ir:Form1099RTotalAmtGrp/ir:GrossDistributionAmt"
            )
            assert round(float(header_gross) * 100) == gross
        seen += part.index["form_id"].to_list()
        ids.add(part.unique_transmission_id)
    assert sorted(seen) == sorted(filing["form_id"].to_list())  # every return exactly once
    assert len(ids) == len(parts) and [p.number for p in parts] == list(range(1, len(parts) + 1))
    # whole payers where they fit: each payer's returns in one transmission
    by_payer = pl.DataFrame({"form_id": seen, "t": [p.number for p in parts for _ in range(p.returns)]}).join(
        filing.select("form_id", "payer_tin"), on="form_id"
    )
    assert by_payer.group_by("payer_tin").agg(pl.col("t").n_unique()).get_column("t").max() == 1


def test_a_payer_too_large_for_one_transmission_is_cut_into_submissions_in_several(schema):
    big = pl.concat([originals().filter(pl.col("payer_tin") == "123456780")] * 12).with_columns(
        pl.format("F{}", pl.int_range(pl.len())).alias("form_id"),
        pl.format("ACCT-{}", pl.int_range(pl.len())).alias("account_number"),
    )
    parts = transmissions(big, 25_000)
    assert len(parts) > 2 and all(p.size <= 25_000 and p.submissions == 1 for p in parts)
    for part in parts:
        assert validate(schema, [part.data()]) == []
    assert sum(p.returns for p in parts) == big.height
    totals = sum(
        round(
            float(text(etree.fromstring(p.data()), ".//ir:Form1099RTotalAmtGrp/ir:GrossDistributionAmt"))
            * 100
        )
        for p in parts
    )
    assert totals == big["box1_cents"].sum()


@pytest.mark.slow
@pytest.mark.parametrize("group_rows", [1, 5, 10**9])
@pytest.mark.parametrize("chunk_rows", [1, 4, 1000])
def test_the_transmissions_are_the_same_bytes_whatever_the_payer_groups_and_chunks(group_rows, chunk_rows):
    filing = many_payers(4)
    expected = [p.data() for p in transmissions(filing, 30_000)]
    got = [p.data() for p in transmissions(filing, 30_000, group_rows, chunk_rows)]
    assert got == expected and len(got) > 1


def test_a_limit_with_no_room_for_a_return_is_refused():
    with pytest.raises(FilingInputError, match="no room"):
        transmissions(originals(), 3_000)


def test_a_transmission_id_can_be_given_only_for_a_single_transmission():
    with pytest.raises(FilingInputError, match="one transmission"):
        list(
            iris_transmissions(
                GroupedFiling(
                    outline(originals().lazy(), TAX_YEAR), lambda _: originals(), TRANSMITTER, TAX_YEAR, True
                ),
                replace(IrisOptions(), transmission_id="x"),
            )
        )


# ---------------------------------------------------------------------------------------------
# The payee columns worked out on some rows only (transforms.kernels.subset.computed_where) equal
# the IRS functions computed on every row
# ---------------------------------------------------------------------------------------------

PAYEE_TEXT = st.text(alphabet=st.sampled_from(list("abAB zZ09-/&'.#éÜßÆ")), max_size=90)
CITY_TEXT = st.text(alphabet=st.sampled_from(list("abAB zZ-'.éÜ")), min_size=30, max_size=60)
PAYEES = st.lists(
    st.tuples(
        st.sampled_from(["ssn", "ein", "EIN", "itin", None]),  # tin_type
        st.sampled_from(["US", "", " us ", "PR", "CA", "GB", None]),  # country
        st.one_of(st.none(), PAYEE_TEXT),  # first_name
        st.one_of(st.none(), PAYEE_TEXT),  # last_name
        st.one_of(st.none(), PAYEE_TEXT),  # address
        st.one_of(st.none(), PAYEE_TEXT, CITY_TEXT),  # city
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(PAYEES)
@example([("ssn", "CA", "Ann", "Lee", "1 Main St", "Saint-Jean-sur-Richelieu de la Vallee du Haut")])
@example([("ein", "US", "& Sons Holdings", "Ünited Wholesale " * 5, "", "Boston")])
@example([("ssn", "US", "Ann", "Lee", "A&B&C&D&E&F&G&H", "Boston")])  # "&" -> " AND ": 43 letters
@example([("ssn", "US", "Ann", "Lee", "ßßßßßßßßßßßßßßßß ßßß", "Boston")])  # ß -> SS: 39 letters
def test_the_payee_columns_worked_out_on_some_rows_are_the_full_functions_on_every_payee(rows):
    columns = ["tin_type", "country", "first_name", "last_name", "address", "city"]
    filing = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row").with_columns(
        account_number=pl.lit("A1"), state_payer_id=pl.lit(None, pl.String), locality=pl.lit(None, pl.String)
    )
    got = pl.DataFrame(_normalised_columns(filing))
    c = pl.col
    entity = c("tin_type").fill_null("").str.to_lowercase() == "ein"
    name = pl.concat_str(
        alpha_text(c("last_name")), alpha_text(c("first_name")), separator=" "
    ).str.strip_chars(" ")
    line_1, line_2 = name_lines(name)
    expected = filing.select(
        pl.when(is_foreign_address(c("country")))
        .then(city_name(c("city"), FOREIGN_CITY_LENGTH))
        .otherwise(city_name(c("city"), CITY_LENGTH))
        .alias("_city"),
        street_lines(c("address"))[1].alias("_street_2"),
        pl.when(entity).then(line_1).otherwise(pl.lit("")).alias("_business_1"),
        pl.when(entity).then(line_2).otherwise(pl.lit("")).alias("_business_2"),
    )
    assert_frame_equal(got.select(expected.columns), expected)
