"""IRIS A2A XML for Form 1099-R: structure, corrections, amounts, determinism, the project's XSD.

Uses the sample filing of ``test_irs_pub1220`` (three payers, a foreign payee, CF/SF and other
states, a Roth form, box 9a, corrections G and C, $1.5 billion).
"""

from __future__ import annotations

import hashlib
import re
import uuid

import polars as pl
import pytest
import xmlschema
from lxml import etree

from tests.test_irs_pub1220 import TAX_YEAR, TRANSMITTER, put, sample_filing, two_plans_of_one_payer
from transforms.irs.iris.iris_xml import (
    CODE,
    ELEMENT,
    NAMESPACE,
    XSD_PATH,
    dollars_expr,
    dollars_text,
    iter_iris_xml,
    write_iris_xml,
)
from transforms.irs.shared import FilingInputError

NS = {"ir": NAMESPACE}


def originals() -> pl.DataFrame:
    return sample_filing().filter(pl.col("corrected") == "")


def corrections() -> pl.DataFrame:
    # The original records' IRIS ids ("receipt id|submission id|record id") from the acknowledgement.
    return (
        sample_filing()
        .filter(pl.col("corrected") != "")
        .with_columns(
            prev_unique_record_id=pl.concat_str(
                pl.lit("2025-69211234-abc123|1|"), pl.col("form_id").str.slice(1)
            )
        )
    )


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


def test_the_originals_validate_against_the_project_xsd_with_xmlschema_and_lxml(original_xml):
    xmlschema.XMLSchema(str(XSD_PATH)).validate(original_xml.decode("utf-8"))
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    assert schema.validate(etree.fromstring(original_xml)), schema.error_log


def test_the_corrections_validate_against_the_project_xsd(correction_xml):
    xmlschema.XMLSchema(str(XSD_PATH)).validate(correction_xml.decode("utf-8"))


def test_the_root_is_irtransmission_in_the_irs_namespace_with_a_manifest_and_one_group_per_payer(
    original_xml,
):
    root = etree.fromstring(original_xml)
    assert root.tag == f"{{{NAMESPACE}}}IRTransmission"
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


def test_test_cd_is_t_for_a_test_file_and_p_for_production(original_xml, correction_xml):
    assert text(etree.fromstring(original_xml), "ir:IRTransmissionManifest/ir:TestCd") == "T"
    assert text(etree.fromstring(correction_xml), "ir:IRTransmissionManifest/ir:TestCd") == "P"


def test_corrections_carry_corrected_ind_and_the_original_records_unique_record_id(
    original_xml, correction_xml
):
    root = etree.fromstring(correction_xml)
    assert text(root, "ir:IRTransmissionManifest/ir:TransmissionTypeCd") == "C"
    forms = root.findall(".//ir:Form1099RDetail", NS)
    assert len(forms) == 3
    assert [text(f, "ir:CorrectedInd") for f in forms] == ["1", "1", "1"]
    assert [text(f, "ir:PrevSubmittedRecRecipientGrp/ir:UniqueRecordId") for f in forms] == [
        "2025-69211234-abc123|1|6", "2025-69211234-abc123|1|7", "2025-69211234-abc123|1|8",
    ]  # fmt: skip
    original = etree.fromstring(original_xml)
    assert text(original, "ir:IRTransmissionManifest/ir:TransmissionTypeCd") == "O"
    assert {text(f, "ir:CorrectedInd") for f in original.findall(".//ir:Form1099RDetail", NS)} == {"0"}
    assert original.find(".//ir:PrevSubmittedRecRecipientGrp", NS) is None


def test_a_transmission_mixing_originals_and_corrections_is_refused():
    mixed = pl.concat([originals(), corrections().drop("prev_unique_record_id")])
    with pytest.raises(FilingInputError, match="either originals or corrections"):
        write_iris_xml(mixed, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)


def test_a_correction_without_the_original_records_id_is_refused_naming_the_form_only():
    with pytest.raises(FilingInputError, match="prev_unique_record_id") as error:
        write_iris_xml(
            corrections().drop("prev_unique_record_id"), TRANSMITTER, tax_year=TAX_YEAR, test_file=True
        )
    assert "F6" in str(error.value) and "667788990" not in str(error.value)


def test_same_input_in_any_row_order_gives_identical_bytes(original_xml):
    again = write_iris_xml(
        originals().sample(fraction=1.0, shuffle=True, seed=3), TRANSMITTER, tax_year=TAX_YEAR, test_file=True
    )
    assert again == original_xml
    utid = text(etree.fromstring(original_xml), "ir:IRTransmissionManifest/ir:UniqueTransmissionId")
    assert re.fullmatch(r"[0-9a-f-]{36}:IRIS:ABC12::A", utid)
    given = write_iris_xml(
        originals(),
        TRANSMITTER,
        tax_year=TAX_YEAR,
        test_file=True,
        transmission_id="11111111-2222-4333-8444-555555555555:IRIS:ABC12::A",
    )
    assert b"11111111-2222-4333-8444-555555555555:IRIS:ABC12::A" in given


@pytest.mark.parametrize(
    ("cents", "dollars"),
    [(0, "0.00"), (5, "0.05"), (50, "0.50"), (123_450, "1234.50"), (100_000_000_000, "1000000000.00"),
     (150_000_000_001, "1500000000.01"), (999_999_999_999, "9999999999.99")],
)  # fmt: skip
def test_amounts_are_decimal_dollars_with_two_decimals_from_integer_cents(cents, dollars):
    assert dollars_text(cents) == dollars
    assert pl.select(dollars_expr(pl.lit(cents, pl.Int64))).item() == dollars


def test_box_amounts_in_the_xml_match_the_cents_including_zero_and_one_and_a_half_billion(original_xml):
    rich = detail(original_xml, "ACCT-0009")
    assert text(rich, "ir:GrossDistributionAmt") == "1500000000.00"
    assert text(rich, "ir:FederalIncomeTaxWithheldAmt") == "300000000.00"
    assert text(rich, "ir:TotalEmployeeContributionsAmt") == "4000.00"
    assert text(rich, "ir:CapitalGainAmt") == "0.00"
    assert text(rich, "ir:StateLocalTaxGrp/ir:StateTaxGrp/ir:StateTaxWithheldAmt") == "90000000.00"
    first = detail(original_xml, "ACCT-0001")
    assert text(first, "ir:GrossDistributionAmt") == "12345.67"
    assert text(first, "ir:EmployeeContributionsAmt") == "2345.67"
    assert text(first, "ir:OtherDistributionAmt") == "123.00"
    header = etree.fromstring(original_xml).find(".//ir:IRSubmission1Header", NS)
    # 12 345.67 + 5 000.00 + 2 500.00 + 98 765.43 = 118 611.10
    assert (
        text(header, "ir:IRSubmission1FormTotals/ir:Form1099RTotalAmtGrp/ir:GrossDistributionAmt")
        == "118611.10"
    )


def test_the_roth_form_has_two_distribution_codes_and_its_first_roth_year(original_xml):
    roth = detail(original_xml, "ACCT-0002")
    assert [c.text for c in roth.findall("ir:F1099RDistributionCd", NS)] == ["7", "B"]
    assert text(roth, "ir:DesignatedROTHAcctFirstYr") == "2012"
    assert text(roth, "ir:StateLocalTaxGrp/ir:LocalTaxGrp/ir:LocalTaxWithheldAmt") == "25.00"
    assert text(roth, "ir:StateLocalTaxGrp/ir:LocalTaxGrp/ir:LocalityNm") == "NEWARK"


def test_box_9a_box_2b_and_cfsf_state_are_written_for_the_split_total_distribution(original_xml):
    first = detail(original_xml, "ACCT-0001")
    assert text(first, "ir:RcpntTotalDistributionPct") == "40"
    assert text(first, "ir:TotalDistributionInd") == "1"
    assert text(first, "ir:CFSFElectionStateCd") == "CA"
    assert text(first, "ir:StateLocalTaxGrp/ir:StateTaxGrp/ir:PayerStateIdNum") == "123-4567-8"
    ny = detail(original_xml, "ACCT-0004")
    assert text(ny, "ir:CFSFElectionStateCd") is None
    assert text(ny, "ir:RcpntTotalDistributionPct") is None


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


def test_the_foreign_payee_gets_a_foreign_address(original_xml):
    foreign = detail(original_xml, "ACCT-0003").find(
        "ir:RecipientDetail/ir:MailingAddressGrp/ir:ForeignAddress", NS
    )
    assert foreign is not None
    assert (
        text(foreign, "ir:CityNm"),
        text(foreign, "ir:CountryCd"),
        text(foreign, "ir:ForeignPostalCd"),
    ) == (
        "TORONTO ON",
        "CA",
        "M5V 3L9",
    )


def test_every_element_name_of_the_mapping_is_declared_in_the_projects_xsd(original_xml, correction_xml):
    declared = set(re.findall(r'<xs:element name="([A-Za-z0-9]+)"', XSD_PATH.read_text()))
    assert set(ELEMENT.values()) <= declared
    used = {
        etree.QName(e).localname
        for xml in (original_xml, correction_xml)
        for e in etree.fromstring(xml).iter()
    }
    assert used <= set(ELEMENT.values())
    assert CODE["form_type"] == "1099R"


# --- the document as text ----------------------------------------------------------------------
# The writer builds the document as text, chunk by chunk (no parse of the whole document: a
# transmission of millions of returns would not fit in memory). It must be exactly what lxml
# writes for the same tree, and its transmission id the hash of lxml's canonical form.


def awkward() -> pl.DataFrame:
    """Originals whose free-text values need escaping, have CR LF, are empty or not ASCII."""
    frame = put(originals(), "state_payer_id", "F1", 'A&B <C> "d"\r\ne\rf\tg')
    frame = put(frame, "last_name", "F2", "Smith & Sons (Ünïcode) Ltd")
    frame = put(frame, "city", "F2", "...")  # nothing left after cleaning: an empty element
    frame = put(frame, "state_code", "F3", "Québec & <Ontario>")
    return put(frame, "account_number", "F4", "acct <&> 4")


def lxml_document(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), xml_declaration=True, encoding="UTF-8", pretty_print=True)


@pytest.mark.parametrize("frame", [originals, corrections, awkward])
def test_the_document_is_what_lxml_writes_for_it_and_its_id_the_hash_of_its_canonical_form(frame):
    xml = write_iris_xml(frame(), TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert lxml_document(xml) == xml
    # The id is derived from the document without the indentation, and without the id.
    root = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
    utid = root.find("ir:IRTransmissionManifest/ir:UniqueTransmissionId", NS)
    given = utid.text
    utid.text = None
    digest = hashlib.sha256(etree.tostring(root, method="c14n")).digest()
    assert given == f"{uuid.UUID(bytes=digest[:16], version=4)}:IRIS:ABC12::A"


def test_escaped_and_empty_values_are_written_as_lxml_reads_them():
    root = etree.fromstring(write_iris_xml(awkward(), TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
    first = root.xpath("//ir:Form1099RDetail[ir:RecipientAccountNum='ACCT-0001']", namespaces=NS)[0]
    assert text(first, ".//ir:PayerStateIdNum") == 'A&B <C> "d"\ne\nf\tg'
    assert root.xpath("//ir:Form1099RDetail[ir:RecipientAccountNum='ACCT <&> 4']", namespaces=NS)
    second = root.xpath("//ir:Form1099RDetail[ir:RecipientAccountNum='ACCT-0002']", namespaces=NS)[0]
    assert text(second, ".//ir:PersonLastNm") == "SMITH & SONS UNICODE LTD"
    assert text(second, ".//ir:USAddress/ir:CityNm") is None


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_the_document_in_pieces_is_the_same_document(original_xml, chunk_rows):
    pieces = iter_iris_xml(originals(), TRANSMITTER, tax_year=TAX_YEAR, test_file=True, chunk_rows=chunk_rows)
    assert b"".join(pieces) == original_xml
    given = "11111111-2222-4333-8444-555555555555:IRIS:ABC12::A"
    pieces = iter_iris_xml(
        originals(),
        TRANSMITTER,
        tax_year=TAX_YEAR,
        test_file=True,
        chunk_rows=chunk_rows,
        transmission_id=given,
    )
    assert b"".join(pieces) == write_iris_xml(
        originals(), TRANSMITTER, tax_year=TAX_YEAR, test_file=True, transmission_id=given
    )


def test_a_character_xml_does_not_allow_is_refused_when_it_would_be_written():
    bad = put(originals(), "state_payer_id", "F1", "12\x0034")
    with pytest.raises(etree.XMLSyntaxError):
        write_iris_xml(bad, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    # F3 has no state: its state payer id is not written, so it does not matter.
    unused = put(originals(), "state_payer_id", "F3", "12\x0034")
    assert write_iris_xml(unused, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)


def test_two_plans_whose_payer_ein_is_written_two_ways_give_one_issuer_group_with_both_plans_returns(
    original_xml,
):
    two = two_plans_of_one_payer(originals())
    assert two["payer_tin"].n_unique() == originals()["payer_tin"].n_unique() + 1
    xml = write_iris_xml(two, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert xml == original_xml  # the document of the same returns with the EIN written as 9 digits
    root = etree.fromstring(xml)
    groups = root.findall("ir:IRSubmission1Grp", NS)
    assert [text(g, "ir:IRSubmission1Header/ir:IssuerDetail/ir:TIN") for g in groups] == [
        "123456780", "234567891", "345678902",
    ]  # fmt: skip
    accounts = [
        text(d, "ir:RecipientAccountNum")
        for d in groups[0].findall("ir:IRSubmission1Detail/ir:Form1099RDetail", NS)
    ]
    assert accounts == ["ACCT-0001", "ACCT-0002", "ACCT-0003", "ACCT-0004"]


def test_an_account_number_repeated_under_the_payer_ein_written_another_way_is_refused_in_iris_too():
    two = put(two_plans_of_one_payer(originals()), "account_number", "F2", "acct-0001")
    with pytest.raises(FilingInputError, match="account_number not unique within a payer"):
        write_iris_xml(two, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
