"""IRIS A2A XML for Form 1099-R (tax year 2026 on, and corrections once FIRE has closed).

Structure (irs-filing-formats.md §15.3, **unconfirmed**: the official XSDs are only given to IRIS
TCC holders through the e-Services Secure Object Repository)::

    IRTransmission                      namespace urn:us:gov:treasury:irs:ir
      IRTransmissionManifest            transmitter, TCC, contact, totals
      IRSubmission1Grp                  one per payer (issuer)
        IRSubmission1Header             issuer, FormTypeCd 1099R, form count and totals
        IRSubmission1Detail
          Form1099RDetail               one per return

Every element name lives in ``ELEMENT`` and every fixed code value in ``CODE`` below: correct them
against the official schema there, without touching the logic. The box element names are those of
§15.3 (from the MeF Form 1099-R schema); the manifest and header names follow public IRIS A2A
implementations (unconfirmed). ``iris_1099r.xsd`` beside this module is the project's own description
of this structure, not the IRS schema.

Choices:

* one transmission is either all originals (TransmissionTypeCd "O") or all corrections ("C"):
  a mixed frame is refused; corrections (``corrected`` "G" or "C") carry ``CorrectedInd`` 1 and
  ``PrevSubmittedRecRecipientGrp/UniqueRecordId`` = the original record's IRIS id, taken from the
  ``prev_unique_record_id`` column ("receipt id|submission id|record id" from the IRIS
  acknowledgement), which is required for corrections;
* amounts are decimal dollars with two decimals made from integer cents by integer arithmetic;
* ``TaxableAmt`` is left out when the taxable amount is not determined (box 2b, first box);
* same input → same bytes: returns sorted (payer_tin, original/G/C, account_number); the unique
  transmission id, when not given, is derived from a hash of the content;
* no Python loop over returns: each ``Form1099RDetail`` and each payer's ``IRSubmission1Grp`` is
  XML text built with polars string expressions from ``ELEMENT``, chunk by chunk, exactly as lxml
  writes the document (``pretty_print``: two spaces per level, empty elements as ``<X/>``; values
  escaped as lxml reads and writes them); the manifest is built with lxml. The document is never
  parsed as a whole (millions of returns do not fit in memory as an lxml tree): tests compare the
  text with lxml's serialization, and a value with a character XML does not allow is parsed with
  lxml, which raises as it would for the whole document. :func:`iter_iris_xml` streams it.

Privacy: error messages name returns by ``form_id`` only.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import polars as pl
import pyarrow as pa
from lxml import etree

from transforms.irs.grouped import Findings, GroupedFiling, groups_of
from transforms.irs.shared import (
    CORRECTION_ORDER,
    STATE_LOCAL_MONEY_COLUMNS,
    FilingInputError,
    Transmitter,
    alpha_text,
    cfsf_state_codes,
    clean_text,
    digits_only,
    file_order,
    is_foreign_address,
    name_control,
    string_buffer,
    validate_filing,
)

NAMESPACE = "urn:us:gov:treasury:irs:ir"

#: Every XML element name, by the role it plays here. (unconfirmed: verify against the IRIS XSD.)
ELEMENT: dict[str, str] = {
    # Structure (irs-filing-formats.md §15.3).
    "transmission": "IRTransmission",
    "manifest": "IRTransmissionManifest",
    "submission_group": "IRSubmission1Grp",
    "submission_header": "IRSubmission1Header",
    "submission_detail": "IRSubmission1Detail",
    "form_detail": "Form1099RDetail",
    # Manifest.
    "unique_transmission_id": "UniqueTransmissionId",
    "tax_year": "TaxYr",
    "prior_year_data_ind": "PriorYearDataInd",
    "transmission_type_cd": "TransmissionTypeCd",
    "test_cd": "TestCd",
    "transmitter_grp": "TransmitterGrp",
    "tin": "TIN",
    "tin_submitted_type_cd": "TINSubmittedTypeCd",
    "transmitter_control_cd": "TransmitterControlCd",
    "foreign_entity_ind": "ForeignEntityInd",
    "company_grp": "CompanyGrp",
    "contact_name_grp": "ContactNameGrp",
    "person_nm": "PersonNm",
    "contact_email": "ContactEmailAddressTxt",
    "contact_phone": "ContactPhoneNum",
    "vendor_cd": "VendorCd",
    "total_issuer_form_cnt": "TotalIssuerFormCnt",
    "total_recipient_form_cnt": "TotalRecipientFormCnt",
    "paper_submission_ind": "PaperSubmissionInd",
    "submission_channel_cd": "SubmissionChannelCd",
    # Names and addresses.
    "business_name": "BusinessName",
    "business_name_line_1": "BusinessNameLine1Txt",
    "business_name_line_2": "BusinessNameLine2Txt",
    "business_name_control": "BusinessNameControlTxt",
    "person_name": "PersonName",
    "person_first_nm": "PersonFirstNm",
    "person_last_nm": "PersonLastNm",
    "person_name_control": "PersonNameControlTxt",
    "mailing_address_grp": "MailingAddressGrp",
    "us_address": "USAddress",
    "foreign_address": "ForeignAddress",
    "address_line_1": "AddressLine1Txt",
    "city_nm": "CityNm",
    "state_abbreviation_cd": "StateAbbreviationCd",
    "zip_cd": "ZIPCd",
    "province_or_state_nm": "ProvinceOrStateNm",
    "country_cd": "CountryCd",
    "foreign_postal_cd": "ForeignPostalCd",
    "phone_num": "PhoneNum",
    # Submission header.
    "submission_id": "SubmissionId",
    "issuer_detail": "IssuerDetail",
    "form_type_cd": "FormTypeCd",
    "parent_form_type_cd": "ParentFormTypeCd",
    "cfsf_election_ind": "CFSFElectionInd",
    "total_reported_rcpnt_form_cnt": "TotalReportedRcpntFormCnt",
    "form_totals": "IRSubmission1FormTotals",
    "form_total_amt_grp": "Form1099RTotalAmtGrp",
    # Form 1099-R record (irs-filing-formats.md §15.3 table).
    "record_id": "RecordId",
    "cfsf_election_state_cd": "CFSFElectionStateCd",
    "void_ind": "VoidInd",
    "corrected_ind": "CorrectedInd",
    "prev_submitted_grp": "PrevSubmittedRecRecipientGrp",
    "unique_record_id": "UniqueRecordId",
    "recipient_detail": "RecipientDetail",
    "recipient_account_num": "RecipientAccountNum",
    "gross_distribution_amt": "GrossDistributionAmt",  # box 1
    "taxable_amt": "TaxableAmt",  # box 2a
    "taxable_not_determined_ind": "TxblAmountNotDeterminedInd",  # box 2b first box
    "total_distribution_ind": "TotalDistributionInd",  # box 2b second box
    "capital_gain_amt": "CapitalGainAmt",  # box 3
    "federal_income_tax_withheld_amt": "FederalIncomeTaxWithheldAmt",  # box 4
    "employee_contributions_amt": "EmployeeContributionsAmt",  # box 5
    "net_unrealized_appreciation_amt": "NetUnrlzdSecuritiesApprcnAmt",  # box 6
    "distribution_cd": "F1099RDistributionCd",  # box 7
    "ira_sep_simple_ind": "IRASEPSIMPLEInd",  # box 7 checkbox
    "other_distribution_amt": "OtherDistributionAmt",  # box 8
    "total_distribution_pct": "RcpntTotalDistributionPct",  # box 9a
    "total_employee_contributions_amt": "TotalEmployeeContributionsAmt",  # box 9b
    "irr_allocated_amt": "IRRAllocatedAmt",  # box 10
    "roth_first_year": "DesignatedROTHAcctFirstYr",  # box 11
    "fatca_filing_requirement_ind": "FATCAFilingRequirementInd",  # box 12
    "payment_dt": "PaymentDt",  # box 13
    "state_local_tax_grp": "StateLocalTaxGrp",  # boxes 14-19
    "state_tax_grp": "StateTaxGrp",
    "state_tax_withheld_amt": "StateTaxWithheldAmt",  # box 14
    "payer_state_id_num": "PayerStateIdNum",  # box 15
    "state_distribution_amt": "StateDistributionAmt",  # box 16
    "local_tax_grp": "LocalTaxGrp",
    "local_tax_withheld_amt": "LocalTaxWithheldAmt",  # box 17
    "locality_nm": "LocalityNm",  # box 18
    "local_distribution_amt": "LocalDistributionAmt",  # box 19
}

#: Fixed code values. (unconfirmed: verify against the IRIS XSD and business rules.)
CODE: dict[str, str] = {
    "form_type": "1099R",
    "parent_form_type": "1096",
    "business_tin": "BUSINESS_TIN",
    "individual_tin": "INDIVIDUAL_TIN",
    "original": "O",
    "correction": "C",
    "test": "T",
    "production": "P",
    "channel": "A2A",
    "true": "1",
    "false": "0",
}

#: Unique transmission id: "{UUID}:IRIS:{TCC}::A" (A = A2A channel). (unconfirmed, Pub 5718)
UTID_FORMAT = "{uuid}:IRIS:{tcc}::A"

#: Box amounts in the order they appear in Form1099RDetail and in the header totals.
AMOUNT_ELEMENTS: tuple[tuple[str, str], ...] = (
    ("box1_cents", "gross_distribution_amt"),
    ("box2a_cents", "taxable_amt"),
    ("box3_cents", "capital_gain_amt"),
    ("box4_cents", "federal_income_tax_withheld_amt"),
    ("box5_cents", "employee_contributions_amt"),
    ("box6_cents", "net_unrealized_appreciation_amt"),
    ("box8_cents", "other_distribution_amt"),
    ("box9b_cents", "total_employee_contributions_amt"),
    ("box10_cents", "irr_allocated_amt"),
)

#: The project's XSD of this structure (not the IRS schema); transforms read no files, callers load it.
XSD_PATH = Path(__file__).with_name("iris_1099r.xsd")


def dollars_text(cents: int) -> str:
    """Integer cents as decimal dollars with two decimals: 123450 → "1234.50", 0 → "0.00"."""
    if cents < 0:
        raise FilingInputError("negative amounts are never reported on Form 1099-R")
    return f"{cents // 100}.{cents % 100:02d}"


def dollars_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorized :func:`dollars_text`, integer arithmetic only."""
    cents = expr.cast(pl.Int64)
    return pl.concat_str(
        (cents // 100).cast(pl.String), pl.lit("."), (cents % 100).cast(pl.String).str.pad_start(2, "0")
    )


def _q(role: str) -> str:
    return f"{{{NAMESPACE}}}{ELEMENT[role]}"


def _add(parent: etree._Element, role: str, text: object | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(role))
    if text is not None:
        element.text = str(text)
    return element


def _indicator(value: bool | None) -> str:
    return CODE["true"] if value else CODE["false"]


def _us_address(parent: etree._Element, line: str, city: str, state: str, zip_code: str) -> None:
    group = _add(_add(parent, "mailing_address_grp"), "us_address")
    _add(group, "address_line_1", line)
    _add(group, "city_nm", city)
    _add(group, "state_abbreviation_cd", state)
    _add(group, "zip_cd", zip_code)


# ---------------------------------------------------------------------------------------------
# XML text, built with polars expressions (no loop over returns). Every fragment exists in two
# styles: compact (depth None: no whitespace between tags, empty elements as <X></X>; the
# canonical form the transmission id is derived from) and indented (depth d: what lxml's
# pretty_print writes for the element at depth d: one element per line, two spaces per level,
# empty elements as <X/>). Values are escaped as lxml would write them after parsing them: CR LF
# and CR become LF, then & < > are escaped.
# ---------------------------------------------------------------------------------------------

Piece = str | pl.Expr
#: Characters XML 1.0 does not allow in a document.
_NOT_XML = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"


def _cat(pieces: list[Piece]) -> pl.Expr:
    """One ``concat_str`` of the pieces, runs of literal text merged."""
    parts: list[pl.Expr] = []
    text: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            text.append(piece)
            continue
        if text:
            parts.append(pl.lit("".join(text)))
            text = []
        parts.append(piece)
    if text:
        parts.append(pl.lit("".join(text)))
    return pl.concat_str(parts) if len(parts) > 1 else parts[0]


def _xml_text(text: str) -> str:
    return (
        text.replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _escaped(value: pl.Expr) -> pl.Expr:
    """Any text, as it is written in the document."""
    return (
        value.cast(pl.String)
        .str.replace_all("\r\n", "\n", literal=True)
        .str.replace_all("\r", "\n", literal=True)
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _alpha_escaped(value: pl.Expr) -> pl.Expr:
    """Text from alpha_text (A-Z 0-9 space & -), as it is written in the document."""
    return value.str.replace_all("&", "&amp;", literal=True)


def _plain(value: pl.Expr) -> pl.Expr:
    """Digits, amounts, codes, flags: written as they are."""
    return value.cast(pl.String)


def _indent(depth: int | None) -> str:
    return "" if depth is None else "  " * depth


def _el(role: str, value: Piece, depth: int | None, *, may_be_empty: bool = True) -> list[Piece]:
    """``<Name>value</Name>`` (value written already: see _escaped, _alpha_escaped, _plain)."""
    name = ELEMENT[role]
    if isinstance(value, str):
        value = _xml_text(value)
        if depth is not None and value == "":
            return [f"{_indent(depth)}<{name}/>\n"]
        may_be_empty = False
    if depth is None:
        return [f"<{name}>", value, f"</{name}>"]
    opened, closed = f"{_indent(depth)}<{name}>", f"</{name}>\n"
    if not may_be_empty:
        return [opened, value, closed]
    full = pl.concat_str(pl.lit(opened), value, pl.lit(closed))
    return [pl.when(value == "").then(pl.lit(f"{_indent(depth)}<{name}/>\n")).otherwise(full)]


def _group(role: str, depth: int | None, *children: list[Piece]) -> list[Piece]:
    name = ELEMENT[role]
    end = "" if depth is None else "\n"
    inner = [piece for child in children for piece in child]
    return [f"{_indent(depth)}<{name}>{end}", *inner, f"{_indent(depth)}</{name}>{end}"]


def _when(condition: pl.Expr, fragment: list[Piece]) -> list[Piece]:
    return [pl.when(condition).then(_cat(fragment)).otherwise(pl.lit(""))]


def _either(condition: pl.Expr, yes: list[Piece], no: list[Piece]) -> list[Piece]:
    return [pl.when(condition).then(_cat(yes)).otherwise(_cat(no))]


def _flag(condition: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(pl.lit(CODE["true"])).otherwise(pl.lit(CODE["false"]))


def _below(depth: int | None, levels: int = 1) -> int | None:
    return None if depth is None else depth + levels


def _us_address_fragment(
    line: pl.Expr, city: pl.Expr, state: pl.Expr, zip_code: pl.Expr, depth: int | None
) -> list[Piece]:
    inner = _below(depth)
    return _group(
        "us_address",
        depth,
        _el("address_line_1", line, inner),
        _el("city_nm", city, inner),
        _el("state_abbreviation_cd", state, inner),
        _el("zip_cd", zip_code, inner),
    )


#: Depths of the elements repeated per payer and per return.
_GROUP_DEPTH = 1
_DETAIL_DEPTH = 3


def _recipient_values(filing: pl.DataFrame, tax_year: int) -> pl.DataFrame:
    """Per-return values for the XML, cleaned and formatted (in ``filing``'s row order)."""
    cfsf = cfsf_state_codes(tax_year)
    is_entity = pl.col("tin_type").str.to_lowercase() == "ein"
    corrected = pl.col("corrected").cast(pl.String).fill_null("")
    state = pl.col("state").cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    prev = (
        pl.col("prev_unique_record_id")
        if "prev_unique_record_id" in filing.columns
        else pl.lit(None, pl.String)
    )
    text_columns = ("last_name", "first_name", "address", "city", "zip", "locality")
    filing = filing.with_columns(clean_text(filing[c]).alias(f"_clean_{c}") for c in text_columns)
    clean = {c: pl.col(f"_clean_{c}") for c in text_columns}
    return filing.select(
        pl.col("form_id").cast(pl.String),
        digits_only(pl.col("payer_tin")).alias("payer_tin"),
        corrected.alias("corrected"),
        prev.cast(pl.String).alias("prev_unique_record_id"),
        pl.col("account_number").cast(pl.String).str.strip_chars().str.to_uppercase().alias("account_number"),
        digits_only(pl.col("payee_tin")).alias("payee_tin"),
        is_entity.alias("is_entity"),
        clean["last_name"].alias("last_name"),
        clean["first_name"].alias("first_name"),
        pl.concat_str(clean["last_name"], clean["first_name"], separator=" ")
        .str.strip_chars(" ")
        .alias("entity_name"),
        clean["address"].alias("address"),
        clean["city"].alias("city"),
        pl.col("state_code")
        .cast(pl.String)
        .fill_null("")
        .str.strip_chars()
        .str.to_uppercase()
        .alias("state_code"),
        is_foreign_address(pl.col("country")).alias("foreign"),
        digits_only(pl.col("zip")).alias("us_zip"),
        clean["zip"].alias("foreign_postal"),
        pl.col("country")
        .cast(pl.String)
        .fill_null("US")
        .str.strip_chars()
        .str.to_uppercase()
        .alias("country"),
        *(pl.col(column).cast(pl.Int64) for column, _ in AMOUNT_ELEMENTS),
        pl.col("taxable_not_determined").fill_null(False),
        pl.col("total_distribution").fill_null(False),
        pl.col("ira_sep_simple").fill_null(False),
        pl.col("distribution_codes").cast(pl.String).str.to_uppercase(),
        pl.col("box9a_percent").cast(pl.Int64),
        pl.col("box11_year").cast(pl.Int64),
        pl.col("box13_date").cast(pl.Date).dt.strftime("%Y-%m-%d"),
        state.alias("state"),
        state.replace_strict(cfsf, default=None, return_dtype=pl.String).is_not_null().alias("cfsf"),
        pl.col("state_payer_id").cast(pl.String).fill_null("").str.strip_chars(),
        *(pl.col(c).fill_null(0).cast(pl.Int64) for c in STATE_LOCAL_MONEY_COLUMNS),
        clean["locality"].alias("locality"),
    ).with_columns(
        name_control(pl.col("last_name"), pl.col("is_entity"), clean_first=False).alias("name_control")
    )


#: Per-return values written as they come (not from alpha_text, digits or numbers): they may hold
#: any character, including ones XML does not allow.
_RAW_VALUES = ("prev_unique_record_id", "account_number", "state_code", "country", "state", "state_payer_id")


def _recipient_detail_fragment(depth: int | None) -> list[Piece]:
    c = pl.col
    inner, name_depth = _below(depth), _below(depth, 2)
    entity_name = c("entity_name")
    business = [
        *_when(
            c("name_control") != "",
            _el("business_name_control", _alpha_escaped(c("name_control")), inner, may_be_empty=False),
        ),
        *_group(
            "business_name",
            inner,
            _el(
                "business_name_line_1",
                _alpha_escaped(entity_name.str.slice(0, 75).str.strip_chars(" ")),
                name_depth,
            ),
            _when(
                entity_name.str.len_chars() > 75,
                _el(
                    "business_name_line_2",
                    _alpha_escaped(entity_name.str.slice(75, 75).str.strip_chars(" ")),
                    name_depth,
                ),
            ),
        ),
    ]
    person = [
        *_when(
            c("name_control") != "",
            _el("person_name_control", _alpha_escaped(c("name_control")), inner, may_be_empty=False),
        ),
        *_group(
            "person_name",
            inner,
            _when(
                c("first_name") != "",
                _el("person_first_nm", _alpha_escaped(c("first_name")), name_depth, may_be_empty=False),
            ),
            _el("person_last_nm", _alpha_escaped(c("last_name")), name_depth),
        ),
    ]
    address_depth = _below(depth, 2)
    field_depth = _below(depth, 3)
    foreign = _group(
        "foreign_address",
        address_depth,
        _el("address_line_1", _alpha_escaped(c("address")), field_depth),
        _el("city_nm", _alpha_escaped(c("city")), field_depth),
        _when(
            c("state_code") != "",
            _el("province_or_state_nm", _escaped(c("state_code")), field_depth, may_be_empty=False),
        ),
        _el("country_cd", _escaped(c("country")), field_depth),
        _when(
            c("foreign_postal") != "",
            _el("foreign_postal_cd", _alpha_escaped(c("foreign_postal")), field_depth, may_be_empty=False),
        ),
    )
    domestic = _us_address_fragment(
        _alpha_escaped(c("address")),
        _alpha_escaped(c("city")),
        _escaped(c("state_code")),
        c("us_zip"),
        address_depth,
    )
    return _group(
        "recipient_detail",
        depth,
        _when(c("payee_tin") != "", _el("tin", c("payee_tin"), inner, may_be_empty=False)),
        _el(
            "tin_submitted_type_cd",
            pl.when(c("is_entity"))
            .then(pl.lit(CODE["business_tin"]))
            .otherwise(pl.lit(CODE["individual_tin"])),
            inner,
            may_be_empty=False,
        ),
        _either(c("is_entity"), business, person),
        _group("mailing_address_grp", inner, _either(c("foreign"), foreign, domestic)),
    )


def _form_detail_fragment(tax_year: int, depth: int | None) -> list[Piece]:
    """One ``Form1099RDetail`` per return (boxes 1-19, irs-filing-formats.md §15.3)."""
    c = pl.col
    d1, d2, d3 = _below(depth), _below(depth, 2), _below(depth, 3)
    amount = {role: dollars_expr(c(column)) for column, role in AMOUNT_ELEMENTS}

    def money(role: str, value: pl.Expr, at: int | None) -> list[Piece]:
        return _el(role, value, at, may_be_empty=False)

    codes = c("distribution_codes")
    corrected = c("corrected") != ""
    state_local = _group(
        "state_local_tax_grp",
        d1,
        _el("state_abbreviation_cd", _escaped(c("state")), d2, may_be_empty=False),
        _group(
            "state_tax_grp",
            d2,
            money("state_tax_withheld_amt", dollars_expr(c("state_withholding_cents")), d3),
            _when(
                c("state_payer_id") != "",
                _el("payer_state_id_num", _escaped(c("state_payer_id")), d3, may_be_empty=False),
            ),
            money("state_distribution_amt", dollars_expr(c("state_distribution_cents")), d3),
        ),
        _when(
            (c("locality") != "") | (c("local_withholding_cents") + c("local_distribution_cents") > 0),
            _group(
                "local_tax_grp",
                d2,
                money("local_tax_withheld_amt", dollars_expr(c("local_withholding_cents")), d3),
                _when(
                    c("locality") != "",
                    _el("locality_nm", _alpha_escaped(c("locality")), d3, may_be_empty=False),
                ),
                money("local_distribution_amt", dollars_expr(c("local_distribution_cents")), d3),
            ),
        ),
    )
    return _group(
        "form_detail",
        depth,
        _el("tax_year", str(tax_year), d1),
        _el("record_id", _plain(c("record_id")), d1, may_be_empty=False),
        _when(c("cfsf"), _el("cfsf_election_state_cd", _escaped(c("state")), d1, may_be_empty=False)),
        _el("void_ind", CODE["false"], d1),
        _el("corrected_ind", _flag(corrected), d1, may_be_empty=False),
        _when(
            corrected,
            _group(
                "prev_submitted_grp",
                d1,
                _el("unique_record_id", _escaped(c("prev_unique_record_id").fill_null("")), d2),
            ),
        ),
        _recipient_detail_fragment(d1),
        _el("recipient_account_num", _escaped(c("account_number")), d1),
        money("gross_distribution_amt", amount["gross_distribution_amt"], d1),
        # Box 2a is left blank when the taxable amount is not determined (box 2b, first box).
        _when(~c("taxable_not_determined"), money("taxable_amt", amount["taxable_amt"], d1)),
        _el("taxable_not_determined_ind", _flag(c("taxable_not_determined")), d1, may_be_empty=False),
        _el("total_distribution_ind", _flag(c("total_distribution")), d1, may_be_empty=False),
        money("capital_gain_amt", amount["capital_gain_amt"], d1),
        money("federal_income_tax_withheld_amt", amount["federal_income_tax_withheld_amt"], d1),
        money("employee_contributions_amt", amount["employee_contributions_amt"], d1),
        money("net_unrealized_appreciation_amt", amount["net_unrealized_appreciation_amt"], d1),
        _el("distribution_cd", _plain(codes.str.slice(0, 1)), d1),
        _when(codes.str.len_chars() > 1, _el("distribution_cd", _plain(codes.str.slice(1, 1)), d1)),
        _el("ira_sep_simple_ind", _flag(c("ira_sep_simple")), d1, may_be_empty=False),
        money("other_distribution_amt", amount["other_distribution_amt"], d1),
        # Box 9a: blank at 100 % or when not applicable, as in the FIRE record.
        _when(
            c("box9a_percent").is_not_null() & (c("box9a_percent") != 100),
            _el("total_distribution_pct", _plain(c("box9a_percent").fill_null(0)), d1, may_be_empty=False),
        ),
        money("total_employee_contributions_amt", amount["total_employee_contributions_amt"], d1),
        money("irr_allocated_amt", amount["irr_allocated_amt"], d1),
        _when(
            c("box11_year").is_not_null(),
            _el("roth_first_year", _plain(c("box11_year").fill_null(0)), d1, may_be_empty=False),
        ),
        _el("fatca_filing_requirement_ind", CODE["false"], d1),
        _when(
            c("box13_date").is_not_null(),
            _el("payment_dt", _plain(c("box13_date").fill_null("")), d1, may_be_empty=False),
        ),
        _when(c("state") != "", state_local),
    )


def _payer_frame(filing: pl.DataFrame, tax_year: int, first_submission: int = 1) -> pl.DataFrame:
    """One row per payer in file order: its returns' count and totals, issuer details and the XML
    before and after its returns (IRSubmission1Grp, header, IRSubmission1Detail) in both styles."""
    c = pl.col
    cfsf = cfsf_state_codes(tax_year)
    state = c("state").cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    totals = (
        filing.lazy()
        .select(
            digits_only(c("payer_tin")).alias("payer_tin"),
            state.replace_strict(cfsf, default=None, return_dtype=pl.String).is_not_null().alias("cfsf"),
            *(c(column).cast(pl.Int64) for column, _ in AMOUNT_ELEMENTS),
            c("taxable_not_determined").fill_null(False),
        )
        .group_by("payer_tin")
        .agg(
            pl.len().alias("count"),
            c("cfsf").any().alias("cfsf"),
            *(c(column).sum() for column, _ in AMOUNT_ELEMENTS if column != "box2a_cents"),
            # TaxableAmt is left out of the returns whose taxable amount is not determined.
            c("box2a_cents").filter(~c("taxable_not_determined")).sum().alias("box2a_cents"),
        )
        .collect()
    )
    payers = (
        filing.filter(pl.col("payer_tin").is_first_distinct())
        .select(
            digits_only(c("payer_tin")).alias("payer_tin"),
            alpha_text(c("payer_name")).alias("payer_name"),
            alpha_text(c("payer_address")).alias("payer_address"),
            alpha_text(c("payer_city")).alias("payer_city"),
            c("payer_state").cast(pl.String).str.to_uppercase().alias("payer_state"),
            digits_only(c("payer_zip")).alias("payer_zip"),
            digits_only(c("payer_phone")).alias("payer_phone"),
        )
        .unique("payer_tin", keep="first", maintain_order=True)
    )
    frame = (
        totals.join(payers, on="payer_tin", how="left")
        .sort("payer_tin")
        .with_columns(
            pl.int_range(first_submission, first_submission + pl.len(), dtype=pl.Int64).alias("submission_id")
        )
    )

    def header(depth: int | None) -> list[Piece]:
        d1, d2, d3 = _below(depth), _below(depth, 2), _below(depth, 3)
        return _group(
            "submission_header",
            depth,
            _el("submission_id", _plain(c("submission_id")), d1, may_be_empty=False),
            _el("tax_year", str(tax_year), d1),
            _group(
                "issuer_detail",
                d1,
                _el("foreign_entity_ind", CODE["false"], d2),
                _el("tin", c("payer_tin"), d2),
                _el("tin_submitted_type_cd", CODE["business_tin"], d2),
                _group(
                    "business_name",
                    d2,
                    _el(
                        "business_name_line_1",
                        _alpha_escaped(c("payer_name").str.slice(0, 75).str.strip_chars(" ")),
                        d3,
                    ),
                    _when(
                        c("payer_name").str.len_chars() > 75,
                        _el(
                            "business_name_line_2",
                            _alpha_escaped(c("payer_name").str.slice(75, 75).str.strip_chars(" ")),
                            d3,
                        ),
                    ),
                ),
                _group(
                    "mailing_address_grp",
                    d2,
                    _us_address_fragment(
                        _alpha_escaped(c("payer_address")),
                        _alpha_escaped(c("payer_city")),
                        _escaped(c("payer_state")),
                        c("payer_zip"),
                        d3,
                    ),
                ),
                _when(c("payer_phone") != "", _el("phone_num", c("payer_phone"), d2, may_be_empty=False)),
            ),
            _el("form_type_cd", CODE["form_type"], d1),
            _el("parent_form_type_cd", CODE["parent_form_type"], d1),
            _el("cfsf_election_ind", _flag(c("cfsf")), d1, may_be_empty=False),
            _el("total_reported_rcpnt_form_cnt", _plain(c("count")), d1, may_be_empty=False),
            _group(
                "form_totals",
                d1,
                _group(
                    "form_total_amt_grp",
                    d2,
                    *(
                        _el(role, dollars_expr(c(column)), d3, may_be_empty=False)
                        for column, role in AMOUNT_ELEMENTS
                    ),
                ),
            ),
        )

    def opening(depth: int | None) -> pl.Expr:
        group, detail = ELEMENT["submission_group"], ELEMENT["submission_detail"]
        end = "" if depth is None else "\n"
        return _cat(
            [
                f"{_indent(depth)}<{group}>{end}",
                *header(_below(depth)),
                f"{_indent(_below(depth))}<{detail}>{end}",
            ]
        )

    return frame.with_columns(
        opening(None).alias("opening"),
        opening(_GROUP_DEPTH).alias("opening_indented"),
        (pl.col("count").cast(pl.Int64).cum_sum()).alias("end"),
    )


def _closing(depth: int | None) -> str:
    group, detail = ELEMENT["submission_group"], ELEMENT["submission_detail"]
    end = "" if depth is None else "\n"
    return f"{_indent(_below(depth))}</{detail}>{end}{_indent(depth)}</{group}>{end}"


#: Returns per chunk: the writer holds the values and XML text of one chunk at a time.
CHUNK_ROWS = 25_000
#: Chunks built at the same time (polars releases the GIL).
_WORKERS = 2


@dataclass(frozen=True)
class _Document:
    """The transmission but its returns: the manifest, the payers' XML and the returns' order."""

    filing: pl.DataFrame
    tax_year: int
    head_canonical: bytes  # canonical XML of the root and manifest, transmission id empty
    payers: pl.DataFrame  # see _payer_frame
    order: pl.Series  # row numbers of ``filing`` in file order (payer_tin, original/G/C, account)
    manifest: etree._Element
    root: etree._Element

    def head(self, transmission_id: str) -> bytes:
        """XML declaration, root start tag and the indented manifest."""
        return head_text(self.manifest, self.root, transmission_id)

    def pieces(self, styles: tuple[bool, ...], chunk_rows: int) -> Iterator[list[pa.Buffer]]:
        """The returns (and their payers' XML) chunk by chunk, in each style (indented or not)."""
        starts = iter(range(0, self.order.len(), chunk_rows))
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            pending = deque(
                pool.submit(self._chunk, start, chunk_rows, styles) for start in islice(starts, _WORKERS)
            )
            while pending:
                pieces = pending.popleft().result()
                for start in islice(starts, 1):
                    pending.append(pool.submit(self._chunk, start, chunk_rows, styles))
                yield pieces

    def _chunk(self, start: int, chunk_rows: int, styles: tuple[bool, ...]) -> list[pa.Buffer]:
        rows = self.order.slice(start, chunk_rows)
        part = self.filing.select(pl.all().gather(rows))
        values = _recipient_values(part, self.tax_year)
        del part  # memory: one chunk's values, then its text
        position = pl.int_range(start, start + rows.len(), dtype=pl.Int64, eager=True)
        payer = self.payers["end"].search_sorted(position, side="right")
        first = self.payers["end"].gather(payer) - self.payers["count"].cast(pl.Int64).gather(payer)
        values = values.with_columns(
            (position - first + 1).alias("record_id"),
            (position == first).alias("_first"),
            (position == self.payers["end"].gather(payer) - 1).alias("_last"),
            self.payers["opening"].gather(payer).alias("_opening"),
            self.payers["opening_indented"].gather(payer).alias("_opening_indented"),
        )
        bad = values.select(
            pl.any_horizontal(pl.col(c).str.contains(_NOT_XML) for c in _RAW_VALUES)
        ).to_series()
        if bad.any():
            _raise_if_not_xml(values.filter(bad), self.tax_year)
        # Lazy: the values both styles share are computed once (common subexpressions).
        texts = (
            values.lazy()
            .select(
                pl.concat_str(
                    pl.when(pl.col("_first"))
                    .then(pl.col("_opening_indented" if indented else "_opening"))
                    .otherwise(pl.lit("")),
                    _cat(_form_detail_fragment(self.tax_year, _DETAIL_DEPTH if indented else None)).fill_null(
                        ""
                    ),
                    pl.when(pl.col("_last"))
                    .then(pl.lit(_closing(_GROUP_DEPTH if indented else None)))
                    .otherwise(pl.lit("")),
                ).alias(str(i))
                for i, indented in enumerate(styles)
            )
            .collect()
        )
        del values
        return [string_buffer(texts[str(i)]) for i in range(len(styles))]


def head_text(manifest: etree._Element, root: etree._Element, transmission_id: str) -> bytes:
    """XML declaration, root start tag and the indented manifest (``root`` holds ``manifest``)."""
    manifest.find(_q("unique_transmission_id")).text = transmission_id
    text = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    closing = f"</{ELEMENT['transmission']}>\n".encode()
    if not text.endswith(closing):  # pragma: no cover - lxml always closes the root
        raise AssertionError("unexpected serialization of the manifest")
    return text[: -len(closing)]


def _raise_if_not_xml(values: pl.DataFrame, tax_year: int) -> None:
    """Parse the compact XML of returns whose values hold characters XML does not allow: raises
    lxml's XMLSyntaxError when one of them is written in the document (as a whole parse would)."""
    details = values.select(_cat(_form_detail_fragment(tax_year, None))).to_series().drop_nulls()
    name = ELEMENT["transmission"]
    etree.fromstring(f'<{name} xmlns="{NAMESPACE}">{"".join(details)}</{name}>'.encode())


def _document(
    filing: pl.DataFrame, transmitter: Transmitter, *, tax_year: int, test_file: bool, prior_year: bool
) -> _Document:
    validate_filing(filing, tax_year)
    check_transmitter(transmitter)
    corrected = pl.col("corrected").cast(pl.String).fill_null("")
    is_correction = transmission_kind(filing.select(corrected.unique()).to_series().to_list())
    missing = missing_references(filing)
    if missing:
        raise references_error(missing)
    order, payers = _body(filing, tax_year)
    head = _manifest(
        transmitter,
        tax_year=tax_year,
        test_file=test_file,
        prior_year=prior_year,
        is_correction=is_correction,
        issuers=payers.height,
        returns=filing.height,
    )
    return _Document(filing, tax_year, head[0], payers, order, head[1], head[2])


def record_ids(filing: pl.DataFrame) -> pl.DataFrame:
    """``filing`` in file order with the ``submission_id`` (its payer's IRSubmission1Grp, payers in
    TIN order from 1) and ``record_id`` (its place within its payer, from 1) this writer gives each
    return of one transmission of ``filing``: the numbers the IRS's acknowledgement refers to."""
    tin = digits_only(pl.col("payer_tin"))
    return filing.select(pl.all().gather(file_order(filing))).with_columns(
        tin.rank("dense").cast(pl.Int64).alias("submission_id"),
        (pl.int_range(pl.len()).over(tin) + 1).cast(pl.Int64).alias("record_id"),
    )


def check_transmitter(transmitter: Transmitter) -> None:
    tin = "".join(ch for ch in transmitter.tin if ch.isdigit())
    if len(tin) != 9 or len(set(tin)) == 1 or len(transmitter.tcc) != 5:
        raise FilingInputError("transmitter settings: TIN must be 9 valid digits and the TCC 5 characters")


def transmission_kind(kinds: list[str | None]) -> bool:
    """Whether a transmission whose returns have these ``corrected`` values is one of corrections."""
    kinds = {kind or "" for kind in kinds}
    if "" in kinds and len(kinds) > 1:
        raise FilingInputError(
            "an IRIS transmission holds either originals or corrections: split the filing by `corrected`"
        )
    return "" not in kinds


def missing_references(filing: pl.DataFrame) -> list[str]:
    """Form ids (the first five in file order) of corrections without ``prev_unique_record_id``."""
    keys = [
        digits_only(pl.col("payer_tin")),
        pl.col("corrected")
        .cast(pl.String)
        .fill_null("")
        .replace_strict(CORRECTION_ORDER, return_dtype=pl.Int8),
        pl.col("account_number").cast(pl.String).str.strip_chars().str.to_uppercase(),
    ]
    corrected = pl.col("corrected").cast(pl.String).fill_null("")
    prev = (
        pl.col("prev_unique_record_id").cast(pl.String)
        if "prev_unique_record_id" in filing.columns
        else pl.lit(None, pl.String)
    )
    missing_ref = filing.filter((corrected != "") & (prev.fill_null("") == ""))
    if not missing_ref.height:
        return []
    first = missing_ref.select(
        pl.col("form_id").cast(pl.String), *(k.alias(f"_k{i}") for i, k in enumerate(keys))
    )
    return first.sort("_k0", "_k1", "_k2", maintain_order=True)["form_id"].head(5).to_list()


def references_error(ids: list[str]) -> FilingInputError:
    return FilingInputError(
        "corrections need prev_unique_record_id (the original record's IRIS UniqueRecordId): form_id "
        + ", ".join(ids[:5])
    )


def _body(filing: pl.DataFrame, tax_year: int, first_submission: int = 1) -> tuple[pl.Series, pl.DataFrame]:
    """The returns' file order and the payers' frame (:func:`_payer_frame`)."""
    order = file_order(filing)
    payers = _payer_frame(filing, tax_year, first_submission)
    bad = payers.select(pl.col("payer_state").str.contains(_NOT_XML)).to_series()
    if bad.any():  # as _raise_if_not_xml, for the payers' headers
        name = ELEMENT["transmission"]
        etree.fromstring(f'<{name} xmlns="{NAMESPACE}">{"".join(payers["opening"])}</{name}>'.encode())
    return order, payers


def _manifest(
    transmitter: Transmitter,
    *,
    tax_year: int,
    test_file: bool,
    prior_year: bool,
    is_correction: bool,
    issuers: int,
    returns: int,
) -> tuple[bytes, etree._Element, etree._Element]:
    """The manifest: its canonical XML (root start tag and manifest, transmission id empty), the
    manifest element and the root."""
    tin = "".join(ch for ch in transmitter.tin if ch.isdigit())
    root = etree.Element(_q("transmission"), nsmap={None: NAMESPACE})
    manifest = _add(root, "manifest")
    _add(manifest, "unique_transmission_id")
    _add(manifest, "tax_year", tax_year)
    _add(manifest, "prior_year_data_ind", _indicator(prior_year))
    _add(manifest, "transmission_type_cd", CODE["correction"] if is_correction else CODE["original"])
    _add(manifest, "test_cd", CODE["test"] if test_file else CODE["production"])
    group = _add(manifest, "transmitter_grp")
    _add(group, "tin", tin)
    _add(group, "tin_submitted_type_cd", CODE["business_tin"])
    _add(group, "transmitter_control_cd", transmitter.tcc.upper())
    _add(group, "foreign_entity_ind", CODE["false"])
    _add(_add(group, "business_name"), "business_name_line_1", _clean(transmitter.name))
    company = _add(group, "company_grp")
    _add(_add(company, "business_name"), "business_name_line_1", _clean(transmitter.company_name))
    _us_address(
        company,
        _clean(transmitter.address),
        _clean(transmitter.city),
        transmitter.state.upper(),
        "".join(ch for ch in transmitter.zip if ch.isdigit()),
    )
    _add(_add(group, "contact_name_grp"), "person_nm", _clean(transmitter.contact_name))
    if transmitter.contact_email:
        _add(group, "contact_email", transmitter.contact_email.strip())
    _add(group, "contact_phone", "".join(ch for ch in transmitter.contact_phone if ch.isdigit()))
    _add(manifest, "vendor_cd", transmitter.vendor_indicator)
    _add(manifest, "total_issuer_form_cnt", issuers)
    _add(manifest, "total_recipient_form_cnt", returns)
    _add(manifest, "paper_submission_ind", CODE["false"])
    _add(manifest, "submission_channel_cd", CODE["channel"])
    canonical = etree.tostring(root, method="c14n")
    closing = f"</{ELEMENT['transmission']}>".encode()
    if not canonical.endswith(closing):  # pragma: no cover - c14n always closes the root
        raise AssertionError("unexpected canonical form of the manifest")
    return canonical[: -len(closing)], manifest, root


def _transmission_id(digest: bytes, tcc: str) -> str:
    return UTID_FORMAT.format(uuid=_uuid(digest), tcc=tcc.upper())


def _uuid(digest: bytes) -> str:
    return str(uuid.UUID(bytes=digest[:16], version=4))


def write_iris_xml(
    filing: pl.DataFrame,
    transmitter: Transmitter,
    *,
    tax_year: int,
    test_file: bool,
    prior_year: bool = False,
    transmission_id: str | None = None,
) -> bytes:
    """IRIS A2A XML (UTF-8) of the returns in ``filing``: one IRSubmission1Grp per payer.

    ``filing`` has the columns of :data:`transforms.irs.shared.REQUIRED_COLUMNS`, plus ``prev_unique_record_id`` for corrections. ``test_file`` sets
    ``TestCd`` T (else P). ``transmission_id`` defaults to an id derived from the content (the
    SHA-256 of the canonical XML with an empty UniqueTransmissionId).

    One pass over the returns: the document is written with a placeholder id of the same length,
    replaced at the end. Memory: the document plus one chunk of returns; :func:`iter_iris_xml`
    streams it instead.
    """
    document = _document(filing, transmitter, tax_year=tax_year, test_file=test_file, prior_year=prior_year)
    placeholder = _uuid(bytes(16))
    head = document.head(transmission_id or _transmission_id(bytes(16), transmitter.tcc))
    buffer = io.BytesIO()
    buffer.write(head)
    closing = f"</{ELEMENT['transmission']}>"
    digest = hashlib.sha256(document.head_canonical)
    for pieces in document.pieces((True,) if transmission_id else (True, False), CHUNK_ROWS):
        buffer.write(pieces[0])
        if not transmission_id:
            digest.update(pieces[1])
    if not transmission_id:
        digest.update(closing.encode())
        buffer.seek(head.find(placeholder.encode()))  # the first one: the id comes first
        buffer.write(_uuid(digest.digest()).encode())
        buffer.seek(0, io.SEEK_END)
    buffer.write(f"{closing}\n".encode())
    return buffer.getvalue()


def iter_iris_xml(
    filing: pl.DataFrame,
    transmitter: Transmitter,
    *,
    tax_year: int,
    test_file: bool,
    prior_year: bool = False,
    transmission_id: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """:func:`write_iris_xml`'s document in consecutive pieces, ``chunk_rows`` returns at a time,
    for a transmission too large to hold in memory. Without ``transmission_id`` the returns are
    gone through twice: once for the id (it comes first in the document), once to write them."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    document = _document(filing, transmitter, tax_year=tax_year, test_file=test_file, prior_year=prior_year)
    closing = f"</{ELEMENT['transmission']}>"
    if transmission_id is None:
        digest = hashlib.sha256(document.head_canonical)
        for (canonical,) in document.pieces((False,), chunk_rows):
            digest.update(canonical)
        digest.update(closing.encode())
        transmission_id = _transmission_id(digest.digest(), transmitter.tcc)

    def pieces() -> Iterator[bytes]:
        yield document.head(transmission_id)
        for (piece,) in document.pieces((True,), chunk_rows):
            yield piece.to_pybytes()
        yield f"{closing}\n".encode()

    return pieces()


def _clean(text: str) -> str:
    return pl.select(alpha_text(pl.lit(text))).item()


def iter_iris_xml_groups(
    filing: GroupedFiling, transmission_id: str | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """:func:`iter_iris_xml`'s document, payer group by payer group. The
    first pass (checks, and the transmission id when not given) runs before this returns."""
    returns, load, transmitter, tax_year, test_file, prior_year, group_rows = filing.parts()
    groups = groups_of(returns, group_rows, chunk_rows)
    early: FilingInputError | None = None  # raised after the checks of the returns, as _document does
    try:
        check_transmitter(transmitter)
        is_correction = transmission_kind(returns.kinds)
    except FilingInputError as error:
        early = error
        is_correction = False
    canonical, manifest, root = _manifest(
        transmitter,
        tax_year=tax_year,
        test_file=test_file,
        prior_year=prior_year,
        is_correction=is_correction,
        issuers=returns.payers.height,
        returns=returns.returns,
    )
    closing = f"</{ELEMENT['transmission']}>"

    def document(group: dict, filing: pl.DataFrame) -> _Document:
        order, payers = _body(filing, tax_year, group["first_submission"])
        return _Document(filing, tax_year, canonical, payers, order, manifest, root)

    found = Findings(early=early)
    missing: list[str] = []  # corrections without their IRIS record id
    digest = hashlib.sha256(canonical)

    def first_pass(group: dict) -> None:
        filing = load(group["raw_tins"])
        if not found.check(filing, tax_year, group["group"] == 0):
            return
        missing.extend(missing_references(filing)[: 5 - len(missing)])
        if missing or transmission_id is not None:
            return
        for (piece,) in document(group, filing).pieces((False,), chunk_rows):
            digest.update(piece)

    def group_pieces(group: dict) -> Iterator[bytes]:
        filing = load(group["raw_tins"])
        for (piece,) in document(group, filing).pieces((True,), chunk_rows):
            yield piece.to_pybytes()

    for group in groups.to_dicts():
        first_pass(group)
    found.raise_first()
    if missing:
        raise references_error(missing)
    if transmission_id is None:
        digest.update(closing.encode())
        transmission_id = _transmission_id(digest.digest(), transmitter.tcc)

    def pieces() -> Iterator[bytes]:
        yield head_text(manifest, root, transmission_id)
        for group in groups.to_dicts():
            yield from group_pieces(group)
        yield f"{closing}\n".encode()

    return pieces()
