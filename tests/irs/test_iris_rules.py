"""The IRS's IRIS business rules: every rule for Form 1099-R has a decision, and every rule prorata
checks has a test that breaks it (transmission checks here, edit checks in test_edit_checks)."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from lxml import etree

from transforms.irs.iris.iris_rules import (
    DECISIONS,
    IMPLEMENTED,
    NOT_APPLICABLE,
    NOT_CHECKABLE,
    TRANSMISSION_CHECK,
    blocks,
    rejected,
    transmission_problems,
)

RULES_DIR = Path(__file__).parents[1] / "data" / "iris-a2a-ty2025-v1.2" / "IRIS Form Rules TY2025 v1.2"
DOC = Path(__file__).resolve().parents[2] / "docs" / "rules" / "iris-business-rules.md"

#: The sheets whose rules a Form 1099-R transmission meets; the form sheet only for its shared and
#: 1099-R rules (Submission 2 is Form 8809, Submission 3 Form 1042-S).
SHEETS = (
    "IRIS Business Rules Transmission TY2025 - v1.2.tsv",
    "IRIS Business Rules Shared Submission TY2025 - v1.2.tsv",
    "IRIS Business Rules Submission 1 TY2025 - v1.2.tsv",
    "IRIS Form Rules TY2025 - v1.2.tsv",
)


def package_rules() -> dict[str, tuple[str, str]]:
    """Rule number -> (severity, text) of every 1099-R rule in the package's rule files."""
    rules: dict[str, tuple[str, str]] = {}
    for sheet in SHEETS:
        with (RULES_DIR / sheet).open(encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        for row in rows[2:]:
            number, text, _, severity, status = (cell.strip() for cell in row[:5])
            if sheet.startswith("IRIS Form Rules") and not number.startswith(("SHAREDIRFORM", "F1099R")):
                continue
            if number == "SMD001" and "1099R" not in text:
                continue  # one SMD001 per form type: the 1099R line is ours
            assert status == "Active", number
            rules[number] = (severity, text)
    return rules


def test_every_form_1099_r_rule_of_the_package_has_exactly_one_decision():
    rules = package_rules()
    assert len(rules) == 104
    assert sorted(rules) == sorted(DECISIONS)


def test_each_decision_carries_the_packages_severity():
    for number, (severity, _) in package_rules().items():
        assert DECISIONS[number].severity.lower() == severity.lower(), number


def test_what_the_irs_rejects_blocks_and_what_it_only_reports_warns():
    for number, d in DECISIONS.items():
        if d.status != IMPLEMENTED:
            continue
        if d.severity == "Report Error":
            assert blocks(number) == d.stricter, number
        else:
            assert blocks(number), number
        assert d.where == TRANSMISSION_CHECK or d.where.startswith("edit_check:"), number


def test_every_decision_gives_a_reason_and_a_known_status():
    for number, d in DECISIONS.items():
        assert d.status in (IMPLEMENTED, NOT_APPLICABLE, NOT_CHECKABLE), number
        assert len(d.reason) > 10, number


def test_the_rules_page_lists_every_decision_as_the_code_has_it():
    text = DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\w+) \| (implemented|not applicable|not checkable) \|", text, re.M))
    assert rows == {n: d.status.replace("_", " ") for n, d in DECISIONS.items()}


# ---- transmission checks -------------------------------------------------------------------------

NS = "urn:us:gov:treasury:irs:ir"


def manifest(**values: str | None) -> etree._Element:
    """A manifest of a valid original test transmission; ``values`` replace or (None) drop an
    element, given by its path."""
    fields = {
        "UniqueTransmissionId": "11111111-2222-4333-8444-555555555555:IRIS:AB12C::A",
        "TaxYr": "2026",
        "PriorYearDataInd": "0",
        "TransmissionTypeCd": "O",
        "TestCd": "P",
        "OriginalReceiptId": None,
        "TransmitterGrp/TransmitterControlCd": "AB12C",
        "TransmitterGrp/ForeignEntityInd": "0",
        "TransmitterGrp/CompanyGrp/MailingAddressGrp/USAddress/CityNm": "Springfield",
        "VendorCd": "I",
        "SoftwareId": "26PRORATA1",
        "TotalIssuerFormCnt": "2",
        "TotalRecipientFormCnt": "3",
    }
    fields.update(values)
    root = etree.Element(f"{{{NS}}}IRTransmissionManifest", nsmap={None: NS})
    for path, text in fields.items():
        if text is None:
            continue
        node = root
        for name in path.split("/"):
            found = node.find(f"{{{NS}}}{name}")
            node = found if found is not None else etree.SubElement(node, f"{{{NS}}}{name}")
        node.text = text
    return root


def submissions(**changes) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "SubmissionId": ["1", "2"],
            "OriginalUniqueSubmissionId": [None, None],
            "TaxYr": [2026, 2026],
            "FormTypeCd": ["1099R", "1099R"],
            "CFSFElectionInd": ["1", "0"],
            "TotalReportedRcpntFormCnt": [2, 1],
            "TotalAmtGrp": [True, True],
            "TotalByStateCds": [["CA"], []],
            "IssuerTIN": ["123456780", "223456780"],
            "IssuerForeignEntityInd": ["0", "0"],
            "IssuerForeignAddress": [False, False],
            "IssuerPhoneNum": ["2175550100", "2175550101"],
            "payer": ["P1", "P2, P3"],
        },
        schema_overrides={"OriginalUniqueSubmissionId": pl.String, "TotalByStateCds": pl.List(pl.String)},
    )
    return _changed(frame, changes)


def records(**changes) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "SubmissionId": ["1", "1", "2"],
            "RecordId": ["1", "2", "1"],
            "form_id": ["F1", "F2", "F3"],
            "TaxYr": [2026, 2026, 2026],
            "CorrectedInd": ["0", "0", "0"],
            "UniqueRecordId": [None, None, None],
            "PrevSubmittedRecRecipientGrp": [False, False, False],
            "CFSFElectionStateCd": ["CA", None, None],
            "RecipientTIN": ["400000001", "400000001", "400000002"],
            "RecipientAccountNum": ["A1", "A2", "A3"],
        },
        schema_overrides={"UniqueRecordId": pl.String},
    )
    return _changed(frame, changes)


def _changed(frame: pl.DataFrame, changes: dict) -> pl.DataFrame:
    """``changes``: column -> {row: value}."""
    for column, rows in changes.items():
        values = frame.get_column(column).to_list()
        for i, v in rows.items():
            values[i] = v
        frame = frame.with_columns(pl.Series(column, values, dtype=frame.schema[column]))
    return frame


def correction(kind: str = "C"):
    """A valid correction transmission of the same shape."""
    ids = {
        0: "2026-00000000001-abcdefghi|1|1",
        1: "2026-00000000001-abcdefghi|1|2",
        2: "2026-00000000001-abcdefghi|2|1",
    }
    return (
        manifest(TransmissionTypeCd=kind),
        submissions(),
        records(CorrectedInd={0: "1", 1: "1", 2: "1"}, UniqueRecordId=ids),
    )


def problems(m, s, r, *, approved=frozenset({"123456780"}), prepared=True):
    return transmission_problems(
        m, s, r, cfsf_approved_payers=approved, cfsf_states=["CA", "NY"][:1], prepared_for_irs=prepared
    )


def original(m=None, s=None, r=None):
    return (
        m if m is not None else manifest(),
        s if s is not None else submissions(),
        r if r is not None else records(),
    )


#: Each transmission rule, and a transmission that breaks it (manifest, submissions, records).
BREAKERS: dict[str, Callable[[], tuple]] = {
    "TMFST017": lambda: original(
        manifest(**{"TransmitterGrp/CompanyGrp/MailingAddressGrp/ForeignAddress/CityNm": "Paris"})
    ),
    "TMFST020": lambda: original(manifest(SoftwareId="25PRORATA1")),
    "TMFST022": lambda: original(manifest(VendorCd="V")),
    "TMFST023": lambda: original(
        manifest(
            VendorCd="V",
            **{
                "VendorGrp/ForeignEntityInd": "0",
                "VendorGrp/MailingAddressGrp/ForeignAddress/CityNm": "Paris",
                "VendorGrp/ContactNameGrp/PersonNm": "Ann",
                "VendorGrp/ContactPhoneNum": "2175550100",
            },
        )
    ),
    "TMFST024": lambda: original(
        manifest(
            VendorCd="V", **{"VendorGrp/ForeignEntityInd": "0", "VendorGrp/ContactPhoneNum": "2175550100"}
        )
    ),
    "TMFST025": lambda: original(
        manifest(
            VendorCd="V", **{"VendorGrp/ForeignEntityInd": "0", "VendorGrp/ContactNameGrp/PersonNm": "Ann"}
        )
    ),
    "TMFST026": lambda: original(manifest(TotalIssuerFormCnt="1")),
    "TMFST032": lambda: original(
        manifest(UniqueTransmissionId="11111111-2222-4333-8444-555555555555:IRIS:AB12C::T")
    ),
    "TMFST038": lambda: original(manifest(PriorYearDataInd="1")),
    "TMFST039": lambda: original(
        manifest(UniqueTransmissionId="11111111-2222-4333-8444-555555555555:IRIS:ZZ99Z::A")
    ),
    "TMFST041": lambda: original(manifest(OriginalReceiptId="2026-00000000001-abcdefghi")),
    "FTMFST001_001": lambda: original(
        r=records(CorrectedInd={1: "1"}, UniqueRecordId={1: "2026-00000000001-abcdefghi|1|2"})
    ),
    "FTMFST003_001": lambda: (lambda m, s, r: (m, s, _changed(r, {"CorrectedInd": {2: "0"}})))(*correction()),
    "FTMFST004_001": lambda: (manifest(TransmissionTypeCd="R"), submissions(), records()),
    "FTMFST006_001": lambda: (
        manifest(TransmissionTypeCd="R", OriginalReceiptId="2026-00000000001-abcdefghi"),
        submissions(
            OriginalUniqueSubmissionId={0: "2026-00000000001-abcdefghi|1", 1: "2026-00000000001-abcdefghi|2"}
        ),
        records(),
    ),
    "FTMFST007_001": lambda: (
        manifest(TransmissionTypeCd="R"),
        submissions(
            OriginalUniqueSubmissionId={0: "2026-00000000001-abcdefghi|1", 1: "2026-00000000001-abcdefghi|1"}
        ),
        records(),
    ),
    "FTMFST008": lambda: (
        lambda m, s, r: (m, s, _changed(r, {"UniqueRecordId": {1: r["UniqueRecordId"][0]}}))
    )(*correction()),
    "FTMFST009": lambda: original(manifest(TotalRecipientFormCnt="4")),
    "FTMFST010": lambda: original(
        s=submissions(SubmissionId={1: "1"}, TotalReportedRcpntFormCnt={0: 3, 1: 3}),
        r=records(SubmissionId={2: "1"}, RecordId={2: "3"}),
    ),
    "FTMFST013": lambda: original(r=records(PrevSubmittedRecRecipientGrp={0: True})),
    "FTMFST014": lambda: (lambda m, s, r: (m, s, _changed(r, {"UniqueRecordId": {0: None}})))(*correction()),
    "SMF007": lambda: original(s=submissions(TaxYr={1: 2025}), r=records(TaxYr={2: 2025})),
    "SMF019": lambda: original(s=submissions(IssuerForeignAddress={1: True})),
    "SMF027": lambda: original(
        manifest(TestCd="T"), r=records(RecipientTIN={0: "000000001", 1: "000000001", 2: "000000002"})
    ),
    "S1H001": lambda: original(s=submissions(IssuerPhoneNum={0: None})),
    "S1H002": lambda: original(s=submissions(CFSFElectionInd={1: "1"})),
    "S1H003_001": lambda: original(s=submissions(FormTypeCd={0: "1099A"}, TotalAmtGrp={0: True})),
    "S1H022": lambda: original(s=submissions(TotalAmtGrp={1: False})),
    "S1H029": lambda: original(s=submissions(OriginalUniqueSubmissionId={0: "2026-00000000001-abcdefghi|1"})),
    "SMD001": lambda: original(
        manifest(TotalRecipientFormCnt="2"), submissions(TotalReportedRcpntFormCnt={1: 0}), records().head(2)
    ),
    "FS1H001": lambda: original(r=records(RecipientAccountNum={1: "A1"})),
    "FS1H002": lambda: original(r=records(RecordId={1: "1"})),
    "FS1H003": lambda: original(s=submissions(TotalReportedRcpntFormCnt={0: 3})),
    "SHAREDIRFORM002_001": lambda: original(r=records(TaxYr={2: 2025})),
    "SHAREDIRFORM006_002": lambda: (lambda m, s, r: (m, s, _changed(r, {"UniqueRecordId": {1: None}})))(
        *correction()
    ),
    "SHAREDIRFORM007_002": lambda: original(r=records(UniqueRecordId={0: "2026-00000000001-abcdefghi|1|1"})),
    "SHAREDIRFORM019_002": lambda: original(
        s=submissions(TotalByStateCds={0: ["MO"]}), r=records(CFSFElectionStateCd={0: "MO"})
    ),
    "SHAREDIRFORM020": lambda: original(
        s=submissions(TotalByStateCds={1: ["CA"]}), r=records(CFSFElectionStateCd={2: "CA"})
    ),
    "SHAREDIRFORM021": lambda: original(
        manifest(TestCd="T"),
        s=submissions(
            IssuerTIN={0: "000000001", 1: "000000002"}, CFSFElectionInd={0: "0"}, TotalByStateCds={0: []}
        ),
        r=records(RecipientTIN={1: "000000001", 2: "000000002"}, CFSFElectionStateCd={0: None}),
    ),
    "SHAREDIRFORM022": lambda: original(s=submissions(TotalByStateCds={0: []})),
}


#: Rules that the fault of a breaker necessarily breaks too (a record of a correction transmission
#: that is not corrected either has a UniqueRecordId or it has none, ...).
ALSO: dict[str, set[str]] = {
    "FTMFST003_001": {"SHAREDIRFORM007_002"},
    "FTMFST013": {"SHAREDIRFORM007_002"},
    "FTMFST014": {"SHAREDIRFORM006_002"},
    "SHAREDIRFORM006_002": {"FTMFST014"},
}


def test_a_valid_original_and_a_valid_correction_break_no_rule():
    assert problems(*original()) == []
    assert problems(*correction()) == []


def test_every_transmission_rule_prorata_checks_has_a_test_that_breaks_it():
    implemented = {
        n for n, d in DECISIONS.items() if d.status == IMPLEMENTED and d.where == TRANSMISSION_CHECK
    }
    assert set(BREAKERS) == implemented


@pytest.mark.parametrize("rule", sorted(BREAKERS))
def test_a_transmission_that_breaks_a_rule_is_flagged_under_that_rule(rule):
    found = {p.rule: p for p in problems(*BREAKERS[rule]())}
    assert set(found) == {rule} | ALSO.get(rule, set())
    assert found[rule].severity == ("reject" if blocks(rule) else "report")


def test_problems_name_the_forms_and_the_payer_never_a_tin():
    found = problems(*BREAKERS["FS1H001"]())
    (p,) = found
    assert p.form_ids == ["F1", "F2"] and p.payers == ["P1"] and p.count == 2
    text = p.text()
    assert "FS1H001" in text and "F1" in text and "P1" in text
    assert "400000001" not in text and "123456780" not in text


def test_a_file_that_cannot_be_sent_reports_the_settings_rules_instead_of_blocking():
    m, s, r = original(manifest(TestCd="T", SoftwareId=""))
    prepared = problems(m, s, r, prepared=True)
    placeholder = problems(m, s, r, prepared=False)
    settings_rules = {"TMFST020", "SMF027", "SHAREDIRFORM021"}
    assert {p.rule for p in rejected(prepared)} == settings_rules
    assert rejected(placeholder) == [] and {p.rule for p in placeholder} == settings_rules


# ---- the IRIS writer calls the checks --------------------------------------------------------------


def writer_transmissions(filing, transmitter, *, test_file, options):
    from transforms.irs.grouped import GroupedFiling, outline
    from transforms.irs.iris.iris_xml import iris_transmissions

    grouped = GroupedFiling(
        outline(filing.lazy(), 2025, transmitter.cfsf_approved_payers),
        lambda _: filing,
        transmitter,
        2025,
        test_file,
        group_rows=2**62,
    )
    return list(iris_transmissions(grouped, options))


def test_what_the_iris_writer_writes_breaks_no_business_rule():
    from tests.irs.test_iris_xml import corrections, originals
    from tests.irs.test_irs_pub1220 import TRANSMITTER
    from transforms.irs.iris.iris_xml import IrisOptions

    prepared = IrisOptions(software_id="25PRORATA1", prepared_for_irs=True)
    for filing in (originals(), corrections()):
        (transmission,) = writer_transmissions(filing, TRANSMITTER, test_file=False, options=prepared)
        assert transmission.rule_reports == []


def test_the_iris_writer_refuses_a_test_transmission_for_the_irs_with_real_tins_and_names_no_tin():
    from tests.irs.test_iris_xml import originals
    from tests.irs.test_irs_pub1220 import TRANSMITTER
    from transforms.irs.iris.iris_xml import IrisOptions
    from transforms.irs.shared import FilingInputError

    prepared = IrisOptions(software_id="25PRORATA1", prepared_for_irs=True)
    with pytest.raises(FilingInputError, match="SHAREDIRFORM021.*SMF027|SMF027.*SHAREDIRFORM021") as raised:
        writer_transmissions(originals(), TRANSMITTER, test_file=True, options=prepared)
    message = str(raised.value)
    assert "form_id F1" in message and not re.search(r"\b[0-9]{9}\b", message)
    placeholder = IrisOptions()  # no settings: the file cannot be sent, the rules are reported
    (transmission,) = writer_transmissions(originals(), TRANSMITTER, test_file=True, options=placeholder)
    assert {p.rule for p in transmission.rule_reports} == {"TMFST020", "SMF027", "SHAREDIRFORM021"}
    assert {p.severity for p in transmission.rule_reports} == {"report"}


def test_the_iris_writer_codes_cfsf_only_for_approved_payers_and_states_on_the_irs_list():
    from dataclasses import replace

    from lxml import etree

    from tests.irs.test_iris_xml import originals
    from tests.irs.test_irs_pub1220 import TRANSMITTER, put
    from transforms.irs.iris.iris_xml import NAMESPACE, IrisOptions

    options = IrisOptions(software_id="25PRORATA1", prepared_for_irs=True)
    filing = put(put(originals(), "state", "F4", "MO"), "state_code", "F4", "MO")  # payer 1, Missouri

    def coded(transmitter):
        (t,) = writer_transmissions(filing, transmitter, test_file=False, options=options)
        assert t.rule_reports == []
        root = etree.fromstring(t.data())
        ns = {"ir": NAMESPACE}
        states = {
            d.findtext("ir:RecipientAccountNum", namespaces=ns): d.findtext(
                "ir:CFSFElectionStateCd", namespaces=ns
            )
            for d in root.iterfind(".//ir:Form1099RDetail", ns)
        }
        elected = {
            h.findtext("ir:IssuerDetail/ir:TIN", namespaces=ns): h.findtext(
                "ir:CFSFElectionInd", namespaces=ns
            )
            for h in root.iterfind(".//ir:IRSubmission1Header", ns)
        }
        return states, elected

    states, elected = coded(TRANSMITTER)  # every payer approved
    assert states["ACCT-0001"] == "CA" and states["ACCT-0004"] is None  # Missouri is not on the 2025 list
    assert elected["123456780"] == "1"
    states, elected = coded(replace(TRANSMITTER, cfsf_approved_payers=frozenset({"345678902"})))
    assert states["ACCT-0001"] is None and states["ACCT-0009"] == "WI"
    assert elected == {"123456780": "0", "234567891": "0", "345678902": "1"}
