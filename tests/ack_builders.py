"""IRIS status / acknowledgement responses for our own transmissions, shaped after the IRS's samples
(IRS-IR-TransStatusOrAckResponse.xsd, IRIS STATUS LIBRARY/XML/SampleAck_2_...For_UTID.xml): one
``ResultGrp`` per transmission, searched by its UniqueTransmissionId, with the receipt id, the
transmission's status and each submission's and record's status and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

NS = "urn:us:gov:treasury:irs:ir"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PACKAGE = Path(__file__).parent / "data" / "iris-a2a-ty2025-v1.2"
STATUS_LIBRARY = PACKAGE / "IRIS STATUS LIBRARY" / "XML"
RESPONSE_XSD = STATUS_LIBRARY / "IRS-IR-TransStatusOrAckResponse.xsd"
INTAKE_XSD = PACKAGE / "IRIS A2A INTAKE XML LIBRARY 2025" / "MSG" / "IRS-IRIntakeTransmissionMessage.xsd"

Error = tuple[str, str, str]  # ErrorMessageCd, ErrorMessageTxt, ElementPathTxt


@dataclass
class Submission:
    submission_id: int
    status: str
    errors: list[Error] = field(default_factory=list)
    records: dict[int, list[Error]] = field(default_factory=dict)


@dataclass
class Result:
    utid: str
    status: str
    receipt_id: str | None = None
    search_id: str | None = None  # default: the UTID
    errors: list[Error] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)


def _sub(parent, name: str, text: str | None = None):
    el = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        el.text = text
    return el


def _errors(parent, errors: list[Error], value: str = "String") -> None:
    for code, text, path in errors:
        grp = _sub(parent, "ErrorInformationGrp")
        _sub(grp, "ErrorMessageCd", code)
        _sub(grp, "ErrorMessageTxt", text)
        _sub(grp, "ErrorValueTxt", value)  # the value the IRS quotes back: prorata never keeps it
        _sub(grp, "ElementPathTxt", path)


def response(results: list[Result], *, error_value: str = "String") -> bytes:
    root = etree.Element(f"{{{NS}}}TransStatusOrAckResponse", nsmap={"n1": NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{NS} IRS-IR-TransStatusOrAckResponse.xsd")
    for r in results:
        grp = _sub(root, "ResultGrp")
        _sub(grp, "SearchId", r.search_id or r.utid)
        t = _sub(grp, "TransmissionResultGrp")
        _sub(t, "UniqueTransmissionId", r.utid)
        if r.receipt_id:
            _sub(t, "ReceiptId", r.receipt_id)
        _sub(t, "TransmissionStatusCd", r.status)
        _errors(t, r.errors, error_value)
        for s in r.submissions:
            sg = _sub(grp, "SubmissionResultGrp")
            _sub(sg, "SubmissionId", str(s.submission_id))
            _sub(sg, "SubmissionStatusCd", s.status)
            _errors(sg, s.errors, error_value)
            for rec, errs in s.records.items():
                rg = _sub(sg, "RecordResultGrp")
                _sub(rg, "RecordId", str(rec))
                _errors(rg, errs, error_value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_response(path: Path, results: list[Result], **kw) -> Path:
    """The response file, checked against the IRS's schema before a test uses it."""
    data = response(results, **kw)
    schema = etree.XMLSchema(etree.parse(str(RESPONSE_XSD)))
    schema.assertValid(etree.fromstring(data))
    path.write_bytes(data)
    return path
