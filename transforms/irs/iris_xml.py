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
* no Python loop over returns: each ``Form1099RDetail`` and each payer's ``IRSubmission1Grp`` is an
  XML fragment built with polars string expressions from ``ELEMENT`` (values escaped), and lxml
  parses the fragments into the document it serializes (a malformed fragment raises).

Privacy: error messages name returns by ``form_id`` only.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import polars as pl
from lxml import etree

from transforms.irs.pub1220 import (
    CORRECTION_ORDER,
    STATE_LOCAL_MONEY_COLUMNS,
    FilingInputError,
    Transmitter,
    alpha_text,
    cfsf_state_codes,
    digits_only,
    is_foreign_address,
    name_control,
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
# Per-return and per-payer XML fragments, built with polars expressions (no loop over returns);
# lxml parses them into the document, so a malformed fragment cannot go out.
# ---------------------------------------------------------------------------------------------


def _escaped(value: pl.Expr) -> pl.Expr:
    return (
        value.cast(pl.String)
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _el(role: str, value: pl.Expr) -> pl.Expr:
    """``<Name>value</Name>`` with the value escaped."""
    name = ELEMENT[role]
    return pl.concat_str(pl.lit(f"<{name}>"), _escaped(value), pl.lit(f"</{name}>"))


def _group(role: str, *children: pl.Expr) -> pl.Expr:
    name = ELEMENT[role]
    return pl.concat_str(pl.lit(f"<{name}>"), *children, pl.lit(f"</{name}>"))


def _when(condition: pl.Expr, fragment: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(fragment).otherwise(pl.lit(""))


def _flag(condition: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(pl.lit(CODE["true"])).otherwise(pl.lit(CODE["false"]))


def _us_address_fragment(line: pl.Expr, city: pl.Expr, state: pl.Expr, zip_code: pl.Expr) -> pl.Expr:
    return _group(
        "us_address",
        _el("address_line_1", line),
        _el("city_nm", city),
        _el("state_abbreviation_cd", state),
        _el("zip_cd", zip_code),
    )


def _recipient_frame(filing: pl.DataFrame, tax_year: int) -> pl.DataFrame:
    """Per-return values for the XML, cleaned and formatted; sorted deterministically."""
    cfsf = cfsf_state_codes(tax_year)
    is_entity = pl.col("tin_type").str.to_lowercase() == "ein"
    corrected = pl.col("corrected").cast(pl.String).fill_null("")
    state = pl.col("state").cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    prev = (
        pl.col("prev_unique_record_id")
        if "prev_unique_record_id" in filing.columns
        else pl.lit(None, pl.String)
    )
    last_name = alpha_text(pl.col("last_name"))
    first_name = alpha_text(pl.col("first_name"))
    return (
        filing.select(
            pl.col("form_id").cast(pl.String),
            digits_only(pl.col("payer_tin")).alias("payer_tin"),
            corrected.alias("corrected"),
            corrected.replace_strict(CORRECTION_ORDER, return_dtype=pl.Int8).alias("correction_rank"),
            prev.cast(pl.String).alias("prev_unique_record_id"),
            pl.col("account_number")
            .cast(pl.String)
            .str.strip_chars()
            .str.to_uppercase()
            .alias("account_number"),
            digits_only(pl.col("payee_tin")).alias("payee_tin"),
            is_entity.alias("is_entity"),
            last_name.alias("last_name"),
            first_name.alias("first_name"),
            pl.concat_str(last_name, first_name, separator=" ").str.strip_chars(" ").alias("entity_name"),
            alpha_text(pl.col("address")).alias("address"),
            alpha_text(pl.col("city")).alias("city"),
            pl.col("state_code")
            .cast(pl.String)
            .fill_null("")
            .str.strip_chars()
            .str.to_uppercase()
            .alias("state_code"),
            is_foreign_address(pl.col("country")).alias("foreign"),
            digits_only(pl.col("zip")).alias("us_zip"),
            alpha_text(pl.col("zip")).alias("foreign_postal"),
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
            alpha_text(pl.col("locality")).alias("locality"),
        )
        .with_columns(
            name_control(pl.col("last_name"), pl.col("is_entity"), clean_first=False).alias("name_control")
        )
        .sort("payer_tin", "correction_rank", "account_number")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("payer_tin").alias("record_id"))
    )


def _recipient_detail_fragment() -> pl.Expr:
    c = pl.col
    business = pl.concat_str(
        _when(c("name_control") != "", _el("business_name_control", c("name_control"))),
        _group(
            "business_name",
            _el("business_name_line_1", c("entity_name").str.slice(0, 75).str.strip_chars(" ")),
            _when(
                c("entity_name").str.len_chars() > 75,
                _el("business_name_line_2", c("entity_name").str.slice(75, 75).str.strip_chars(" ")),
            ),
        ),
    )
    person = pl.concat_str(
        _when(c("name_control") != "", _el("person_name_control", c("name_control"))),
        _group(
            "person_name",
            _when(c("first_name") != "", _el("person_first_nm", c("first_name"))),
            _el("person_last_nm", c("last_name")),
        ),
    )
    foreign = _group(
        "foreign_address",
        _el("address_line_1", c("address")),
        _el("city_nm", c("city")),
        _when(c("state_code") != "", _el("province_or_state_nm", c("state_code"))),
        _el("country_cd", c("country")),
        _when(c("foreign_postal") != "", _el("foreign_postal_cd", c("foreign_postal"))),
    )
    domestic = _us_address_fragment(c("address"), c("city"), c("state_code"), c("us_zip"))
    return _group(
        "recipient_detail",
        _when(c("payee_tin") != "", _el("tin", c("payee_tin"))),
        _el(
            "tin_submitted_type_cd",
            pl.when(c("is_entity"))
            .then(pl.lit(CODE["business_tin"]))
            .otherwise(pl.lit(CODE["individual_tin"])),
        ),
        pl.when(c("is_entity")).then(business).otherwise(person),
        _group("mailing_address_grp", pl.when(c("foreign")).then(foreign).otherwise(domestic)),
    )


def _form_detail_fragment(tax_year: int) -> pl.Expr:
    """One ``Form1099RDetail`` per return (boxes 1-19, irs-filing-formats.md §15.3)."""
    c = pl.col
    amount = {role: dollars_expr(c(column)) for column, role in AMOUNT_ELEMENTS}
    codes = c("distribution_codes")
    corrected = c("corrected") != ""
    state_local = _group(
        "state_local_tax_grp",
        _el("state_abbreviation_cd", c("state")),
        _group(
            "state_tax_grp",
            _el("state_tax_withheld_amt", dollars_expr(c("state_withholding_cents"))),
            _when(c("state_payer_id") != "", _el("payer_state_id_num", c("state_payer_id"))),
            _el("state_distribution_amt", dollars_expr(c("state_distribution_cents"))),
        ),
        _when(
            (c("locality") != "") | (c("local_withholding_cents") + c("local_distribution_cents") > 0),
            _group(
                "local_tax_grp",
                _el("local_tax_withheld_amt", dollars_expr(c("local_withholding_cents"))),
                _when(c("locality") != "", _el("locality_nm", c("locality"))),
                _el("local_distribution_amt", dollars_expr(c("local_distribution_cents"))),
            ),
        ),
    )
    return _group(
        "form_detail",
        _el("tax_year", pl.lit(str(tax_year))),
        _el("record_id", c("record_id")),
        _when(c("cfsf"), _el("cfsf_election_state_cd", c("state"))),
        _el("void_ind", pl.lit(CODE["false"])),
        _el("corrected_ind", _flag(corrected)),
        _when(
            corrected,
            _group("prev_submitted_grp", _el("unique_record_id", c("prev_unique_record_id").fill_null(""))),
        ),
        _recipient_detail_fragment(),
        _el("recipient_account_num", c("account_number")),
        _el("gross_distribution_amt", amount["gross_distribution_amt"]),
        # Box 2a is left blank when the taxable amount is not determined (box 2b, first box).
        _when(~c("taxable_not_determined"), _el("taxable_amt", amount["taxable_amt"])),
        _el("taxable_not_determined_ind", _flag(c("taxable_not_determined"))),
        _el("total_distribution_ind", _flag(c("total_distribution"))),
        _el("capital_gain_amt", amount["capital_gain_amt"]),
        _el("federal_income_tax_withheld_amt", amount["federal_income_tax_withheld_amt"]),
        _el("employee_contributions_amt", amount["employee_contributions_amt"]),
        _el("net_unrealized_appreciation_amt", amount["net_unrealized_appreciation_amt"]),
        _el("distribution_cd", codes.str.slice(0, 1)),
        _when(codes.str.len_chars() > 1, _el("distribution_cd", codes.str.slice(1, 1))),
        _el("ira_sep_simple_ind", _flag(c("ira_sep_simple"))),
        _el("other_distribution_amt", amount["other_distribution_amt"]),
        # Box 9a: blank at 100 % or when not applicable, as in the FIRE record.
        _when(
            c("box9a_percent").is_not_null() & (c("box9a_percent") != 100),
            _el("total_distribution_pct", c("box9a_percent").fill_null(0)),
        ),
        _el("total_employee_contributions_amt", amount["total_employee_contributions_amt"]),
        _el("irr_allocated_amt", amount["irr_allocated_amt"]),
        _when(c("box11_year").is_not_null(), _el("roth_first_year", c("box11_year").fill_null(0))),
        _el("fatca_filing_requirement_ind", pl.lit(CODE["false"])),
        _when(c("box13_date").is_not_null(), _el("payment_dt", c("box13_date").fill_null(""))),
        _when(c("state") != "", state_local),
    )


def _submission_fragments(filing: pl.DataFrame, rows: pl.DataFrame, tax_year: int) -> pl.Series:
    """One ``IRSubmission1Grp`` per payer: header (issuer, counts, totals) and the returns' details."""
    c = pl.col
    details = (
        rows.select("payer_tin", _form_detail_fragment(tax_year).alias("fragment"))
        .group_by("payer_tin", maintain_order=True)
        .agg(c("fragment").str.join(""))
    )
    totals = rows.group_by("payer_tin", maintain_order=True).agg(
        pl.len().alias("count"),
        c("cfsf").any().alias("cfsf"),
        *(c(column).sum() for column, _ in AMOUNT_ELEMENTS if column != "box2a_cents"),
        # TaxableAmt is left out of the returns whose taxable amount is not determined.
        c("box2a_cents").filter(~c("taxable_not_determined")).sum().alias("box2a_cents"),
    )
    payers = filing.unique("payer_tin", keep="first").select(
        digits_only(c("payer_tin")).alias("payer_tin"),
        alpha_text(c("payer_name")).alias("payer_name"),
        alpha_text(c("payer_address")).alias("payer_address"),
        alpha_text(c("payer_city")).alias("payer_city"),
        c("payer_state").cast(pl.String).str.to_uppercase().alias("payer_state"),
        digits_only(c("payer_zip")).alias("payer_zip"),
        digits_only(c("payer_phone")).alias("payer_phone"),
    )
    header = _group(
        "submission_header",
        _el("submission_id", c("submission_id")),
        _el("tax_year", pl.lit(str(tax_year))),
        _group(
            "issuer_detail",
            _el("foreign_entity_ind", pl.lit(CODE["false"])),
            _el("tin", c("payer_tin")),
            _el("tin_submitted_type_cd", pl.lit(CODE["business_tin"])),
            _group(
                "business_name",
                _el("business_name_line_1", c("payer_name").str.slice(0, 75).str.strip_chars(" ")),
                _when(
                    c("payer_name").str.len_chars() > 75,
                    _el("business_name_line_2", c("payer_name").str.slice(75, 75).str.strip_chars(" ")),
                ),
            ),
            _group(
                "mailing_address_grp",
                _us_address_fragment(c("payer_address"), c("payer_city"), c("payer_state"), c("payer_zip")),
            ),
            _when(c("payer_phone") != "", _el("phone_num", c("payer_phone"))),
        ),
        _el("form_type_cd", pl.lit(CODE["form_type"])),
        _el("parent_form_type_cd", pl.lit(CODE["parent_form_type"])),
        _el("cfsf_election_ind", _flag(c("cfsf"))),
        _el("total_reported_rcpnt_form_cnt", c("count")),
        _group(
            "form_totals",
            _group(
                "form_total_amt_grp",
                *(_el(role, dollars_expr(c(column))) for column, role in AMOUNT_ELEMENTS),
            ),
        ),
    )
    return (
        totals.join(details, on="payer_tin")
        .join(payers, on="payer_tin", how="left")
        .sort("payer_tin")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("submission_id"))
        .select(_group("submission_group", header, _group("submission_detail", c("fragment"))))
        .to_series()
    )


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

    ``filing`` has the columns of :func:`transforms.irs.pub1220.write_pub1220` (see
    ``REQUIRED_COLUMNS``), plus ``prev_unique_record_id`` for corrections. ``test_file`` sets
    ``TestCd`` T (else P). ``transmission_id`` defaults to an id derived from the content.
    """
    validate_filing(filing, tax_year)
    tin = "".join(ch for ch in transmitter.tin if ch.isdigit())
    if len(tin) != 9 or len(set(tin)) == 1 or len(transmitter.tcc) != 5:
        raise FilingInputError("transmitter settings: TIN must be 9 valid digits and the TCC 5 characters")
    rows = _recipient_frame(filing, tax_year)
    kinds = set(rows["corrected"].unique().to_list())
    if "" in kinds and len(kinds) > 1:
        raise FilingInputError(
            "an IRIS transmission holds either originals or corrections: split the filing by `corrected`"
        )
    is_correction = "" not in kinds
    missing_ref = rows.filter(
        (pl.col("corrected") != "") & (pl.col("prev_unique_record_id").fill_null("") == "")
    )
    if missing_ref.height:
        ids = ", ".join(missing_ref["form_id"].head(5).to_list())
        raise FilingInputError(
            "corrections need prev_unique_record_id (the original record's IRIS UniqueRecordId): form_id "
            + ids
        )

    root = etree.Element(_q("transmission"), nsmap={None: NAMESPACE})
    manifest = _add(root, "manifest")
    utid = _add(manifest, "unique_transmission_id")
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
    _add(manifest, "total_issuer_form_cnt", rows["payer_tin"].n_unique())
    _add(manifest, "total_recipient_form_cnt", rows.height)
    _add(manifest, "paper_submission_ind", CODE["false"])
    _add(manifest, "submission_channel_cd", CODE["channel"])

    # One parse of the whole document: the lxml-built manifest followed by the submission
    # fragments (moving large parsed subtrees between lxml documents is very slow).
    submissions = _submission_fragments(filing, rows, tax_year).str.join("").item()
    closing = f"</{ELEMENT['transmission']}>"
    head = etree.tostring(root, encoding="unicode")
    if not head.endswith(closing):  # pragma: no cover - lxml always closes a non-empty root
        raise AssertionError("unexpected serialization of the manifest")
    root = etree.fromstring((head[: -len(closing)] + submissions + closing).encode("utf-8"))
    utid = root.find(f"{_q('manifest')}/{_q('unique_transmission_id')}")

    if transmission_id is None:
        digest = hashlib.sha256(etree.tostring(root, method="c14n")).digest()
        transmission_id = UTID_FORMAT.format(
            uuid=uuid.UUID(bytes=digest[:16], version=4), tcc=transmitter.tcc.upper()
        )
    utid.text = transmission_id
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _clean(text: str) -> str:
    return pl.select(alpha_text(pl.lit(text))).item()
