"""The IRS's IRIS business rules for Form 1099-R, checked before a transmission is sent.

The rules are those of the IRS's IRIS A2A package, TY2025 v1.2 (``IRIS Form Rules TY2025 v1.2/``:
transmission rules TMFST*, FTMFST*; shared submission rules SMF*; submission rules S1H*, SMD*,
FS1H*; form rules SHAREDIRFORM*, F1099R*). :data:`DECISIONS` says, for every one of them, whether
prorata checks it and where, or why not: ``implemented`` (an edit check on the form, in
:mod:`transforms.engine.edit_checks`, or a check over a whole transmission, here), ``not_applicable`` (it
concerns something prorata never writes) or ``not_checkable`` (it needs what only the IRS has: its
database of TINs, TCCs, software ids, earlier submissions). docs/rules/iris-business-rules.md is the
same table in words; a test keeps the two and the package's rule files in step.

What the IRS rejects blocks (an edit check ``error``, a ``reject`` problem here); what it only
reports warns (``warning``, ``report``). A rule the IRS reports on the form and rejects the
submission for once too many forms break it ("Report Error and Reject if Over Threshold", whose
threshold the IRS does not publish: ``ThresholdRule``) blocks the form (CONVENTIONS.md).

The transmission checks (:func:`transmission_problems`) read what the IRIS writer is about to
write: the manifest (an lxml element), one row per ``IRSubmission1Grp`` (:data:`SUBMISSION_COLUMNS`)
and one row per ``Form1099RDetail`` (:data:`RECORD_COLUMNS`), columns named after the schema's
elements. Problems name the rule, the form ids and the payer (as the writer labels it: its plans),
never a TIN or a name. Polars expressions over the frames; no loop over returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import polars as pl

IMPLEMENTED = "implemented"
NOT_APPLICABLE = "not_applicable"
NOT_CHECKABLE = "not_checkable"

#: The IRS's severities (the package's "Severity" column) and what prorata does with them.
IRS_REJECT = "Reject"
IRS_REPORT = "Report Error"
IRS_REJECT_OVER_THRESHOLD = "Report Error and Reject if Over Threshold"
BLOCKING = {IRS_REJECT: True, IRS_REJECT_OVER_THRESHOLD: True, IRS_REPORT: False}

#: Where a transmission check lives (``Decision.where``).
TRANSMISSION_CHECK = "transforms.irs.iris.iris_rules.transmission_problems"


@dataclass(frozen=True)
class Decision:
    """What prorata does with one IRIS business rule.

    ``severity``: the IRS's, as the package gives it. ``where``: for an implemented rule, the edit
    check (``edit_check:<name>``) or :data:`TRANSMISSION_CHECK`. ``reason``: why, in a sentence.
    ``stricter``: an implemented rule prorata blocks although the IRS only reports it (the reason
    says why)."""

    status: str
    severity: str
    reason: str
    where: str = ""
    stricter: bool = False


def _impl(severity: str, reason: str, where: str = TRANSMISSION_CHECK, stricter: bool = False) -> Decision:
    return Decision(IMPLEMENTED, severity, reason, where, stricter)


def _edit(check: str, severity: str, reason: str, stricter: bool = False) -> Decision:
    return Decision(IMPLEMENTED, severity, reason, f"edit_check:{check}", stricter)


def _na(severity: str, reason: str) -> Decision:
    return Decision(NOT_APPLICABLE, severity, reason)


def _nc(severity: str, reason: str) -> Decision:
    return Decision(NOT_CHECKABLE, severity, reason)


_IRS_DATABASE = "needs the IRS's database"
_REPLACEMENT = (
    "needs the IRS's record of the original transmission or submission (rejected, accepted, already "
    "replaced): prorata knows only what an acknowledgement it was given said, which may be out of date"
)

#: S1H rules that ask for another form type's totals group (one per form type; 1099-R's is S1H022).
_OTHER_FORM_TOTALS = {
    "S1H004": "1099A", "S1H005": "1099B", "S1H006": "1099CAP", "S1H007": "1099C", "S1H008": "1099DIV",
    "S1H009": "1099G", "S1H011": "1099INT", "S1H013": "1099K", "S1H014": "1099LS", "S1H015": "1099LTC",
    "S1H016": "1099MISC", "S1H017": "1099NEC", "S1H018": "1099OID", "S1H019": "1099PATR",
    "S1H020": "1099Q", "S1H021": "1099QA", "S1H023": "1099S", "S1H024": "1099SA", "S1H025": "1099SB",
    "S1H034": "1097BTC", "S1H035": "1098", "S1H036": "1098C", "S1H037": "1098F", "S1H038": "1098E",
    "S1H039": "1098Q", "S1H040": "1098T", "S1H041": "3921", "S1H042": "3922", "S1H043": "5498",
    "S1H044": "5498ESA", "S1H045": "5498SA", "S1H046": "W2G", "S1H051": "1099DA", "S1H052": "5498QA",
}  # fmt: skip

#: Every IRIS business rule of the TY2025 v1.2 package that a Form 1099-R transmission meets, and
#: what prorata does with it (docs/rules/iris-business-rules.md).
DECISIONS: dict[str, Decision] = {
    # ---- Transmission (manifest) rules ----------------------------------------------------------
    "TMFST002_001": _nc(IRS_REJECT, f"the TCC's validity {_IRS_DATABASE} of TCCs"),
    "TMFST012": _nc(IRS_REJECT, _REPLACEMENT),
    "TMFST013": _nc(IRS_REJECT, _REPLACEMENT),
    "TMFST017": _impl(IRS_REJECT, "transmitter ForeignEntityInd is 1 when its company address is foreign"),
    "TMFST018": _nc(IRS_REJECT, f"whether the SoftwareId exists {_IRS_DATABASE} of software ids"),
    "TMFST019": _nc(IRS_REJECT, f"whether the SoftwareId passed testing for production {_IRS_DATABASE}"),
    "TMFST020": _impl(
        IRS_REJECT,
        "the SoftwareId's first two digits are the tax year's last two; a file without a SoftwareId "
        "cannot be sent, so there the rule is reported (CONVENTIONS.md)",
    ),
    "TMFST022": _impl(IRS_REPORT, "VendorGrp is present when VendorCd is V"),
    "TMFST023": _impl(IRS_REJECT, "vendor ForeignEntityInd is 1 when the vendor's address is foreign"),
    "TMFST024": _impl(IRS_REPORT, "a VendorGrp has a ContactNameGrp"),
    "TMFST025": _impl(IRS_REPORT, "a VendorGrp has a ContactPhoneNum"),
    "TMFST026": _impl(
        IRS_REJECT, "TotalIssuerFormCnt equals the number of issuers (payer TINs) in the transmission"
    ),
    "TMFST032": _impl(IRS_REJECT, "the UniqueTransmissionId ends with the A2A channel's A"),
    "TMFST038": _impl(IRS_REJECT, "PriorYearDataInd is 0"),
    "TMFST039": _impl(IRS_REJECT, "the TCC in the UniqueTransmissionId is the TransmitterControlCd"),
    "TMFST041": _impl(IRS_REJECT, "an original transmission (O) has no OriginalReceiptId"),
    "FTMFST001_001": _impl(IRS_REJECT, "an original or replacement transmission holds only CorrectedInd 0"),
    "FTMFST003_001": _impl(IRS_REJECT, "a correction transmission (C) holds only CorrectedInd 1"),
    "FTMFST004_001": _impl(
        IRS_REJECT,
        "a replacement (R) names what it replaces: OriginalReceiptId or every OriginalUniqueSubmissionId",
    ),
    "FTMFST006_001": _impl(
        IRS_REJECT, "a replacement names OriginalReceiptId or OriginalUniqueSubmissionId, not both"
    ),
    "FTMFST007_001": _impl(IRS_REJECT, "no OriginalUniqueSubmissionId twice in a transmission"),
    "FTMFST008": _impl(
        IRS_REJECT, "no UniqueRecordId twice in a transmission (one correction per original record)"
    ),
    "FTMFST009": _impl(IRS_REJECT, "TotalRecipientFormCnt equals the number of forms in the transmission"),
    "FTMFST010": _impl(IRS_REJECT, "no SubmissionId twice in a transmission"),
    "FTMFST013": _impl(
        IRS_REJECT, "no PrevSubmittedRecRecipientGrp in an original or replacement transmission"
    ),
    "FTMFST014": _impl(IRS_REJECT, "every record of a correction transmission has a UniqueRecordId"),
    "SVSR001": _nc(IRS_REJECT, f"whether the TCC is in test or production status {_IRS_DATABASE}"),
    # ---- Shared submission rules ----------------------------------------------------------------
    "SMF007": _impl(IRS_REJECT, "each submission's TaxYr is the manifest's"),
    "SMF017": _nc(IRS_REJECT, f"matching the issuer's TIN and person name {_IRS_DATABASE}"),
    "SMF018": _nc(IRS_REJECT, f"matching the issuer's TIN and business name {_IRS_DATABASE}"),
    "SMF019": _impl(IRS_REPORT, "issuer ForeignEntityInd is 1 when the issuer's address is foreign"),
    "SMF027": _impl(
        IRS_REJECT,
        "a test transmission (TestCd T) prepared for the IRS (settings with a TCC and a SoftwareId) "
        "carries issuer TINs beginning 000; a file that cannot be sent (no settings, no SoftwareId) "
        "gets the rule reported (CONVENTIONS.md)",
    ),
    "SMF029": _nc(IRS_REJECT, f"which form types the TCC may send {_IRS_DATABASE}"),
    "SMF030": _na(IRS_REJECT, "prorata writes no IRSubmission2Grp (Form 8809 extension request)"),
    "SMF031": _nc(IRS_REJECT, f"whether the SoftwareId passed testing {_IRS_DATABASE}"),
    # ---- Submission rules (IRSubmission1Grp) ----------------------------------------------------
    "S1H001": _impl(IRS_REPORT, "IssuerDetail has a PhoneNum"),
    "S1H002": _impl(
        IRS_REPORT,
        "CFSFElectionInd is 1 only for a payer the settings list as approved for CF/SF "
        "(prorata.toml [cfsf] approved_payers); the writers code no other payer",
    ),
    "S1H003_001": _impl(IRS_REPORT, "CF/SF is elected only for a form type of the program (1099R is one)"),
    **{
        rule: _na(IRS_REJECT, f"the totals group of Form {form}: prorata files Form 1099-R only")
        for rule, form in _OTHER_FORM_TOTALS.items()
    },
    "S1H012": _na(IRS_REJECT, "Form 1099-INT totals: prorata files Form 1099-R only"),
    "S1H022": _impl(IRS_REJECT, "a 1099R submission has its Form1099RTotalAmtGrp"),
    "S1H027": _nc(IRS_REJECT, _REPLACEMENT),
    "S1H028": _nc(IRS_REJECT, _REPLACEMENT),
    "S1H029": _impl(
        IRS_REJECT, "an OriginalUniqueSubmissionId appears only in a replacement transmission (R)"
    ),
    "S1H048": _nc(IRS_REJECT, f"whether the TCC's role is Issuer {_IRS_DATABASE} of TCCs"),
    "S1H050": _nc(
        IRS_REJECT,
        "needs the original submission's form type; prorata writes only 1099R, so a replacement "
        "of a prorata original has the same form type",
    ),
    "SMD001": _impl(IRS_REJECT, "a 1099R submission holds at least one Form1099RDetail"),
    "ThresholdRule": _nc(
        IRS_REJECT,
        "the IRS's configurable share of forms breaking a rule; prorata blocks every form that "
        "breaks a threshold rule instead, so the share is 0",
    ),
    "FS1H001": _impl(
        IRS_REPORT,
        "records of one recipient TIN in a submission each have a RecipientAccountNum, all different",
    ),
    "FS1H002": _impl(IRS_REJECT, "no RecordId twice in a submission"),
    "FS1H003": _impl(IRS_REJECT, "TotalReportedRcpntFormCnt equals the number of forms in the submission"),
    # ---- Shared form rules ----------------------------------------------------------------------
    "SHAREDIRFORM002_001": _impl(IRS_REJECT, "each form's TaxYr is its submission's"),
    "SHAREDIRFORM006_002": _impl(
        IRS_REJECT, "a corrected form (CorrectedInd 1) has the UniqueRecordId of the record it corrects"
    ),
    "SHAREDIRFORM007_002": _impl(
        IRS_REJECT,
        "an original form (CorrectedInd 0) has no UniqueRecordId and no PrevSubmittedRecRecipientGrp",
    ),
    "SHAREDIRFORM009_001": _nc(
        IRS_REJECT, "whether the submission a UniqueRecordId names was accepted: " + _REPLACEMENT
    ),
    "SHAREDIRFORM010_001": _nc(
        IRS_REJECT,
        "the UniqueRecordId does not carry the original's tax year; prorata's corrections come from "
        "the same tax year's filed returns (flows/season/filings.py)",
    ),
    "SHAREDIRFORM014": _nc(IRS_REPORT, f"matching the recipient's TIN and person name {_IRS_DATABASE}"),
    "SHAREDIRFORM015": _nc(IRS_REPORT, f"matching the recipient's TIN and business name {_IRS_DATABASE}"),
    "SHAREDIRFORM016": _edit(
        "payee_address_missing",
        IRS_REJECT_OVER_THRESHOLD,
        "a payee whose street address or city is empty once normalised has no MailingAddressGrp the IRS takes",
    ),
    "SHAREDIRFORM018": _na(
        IRS_REJECT,
        "prorata never sets FATCAFilingRequirementInd (box 12 is not modelled); every form has an account number",
    ),
    "SHAREDIRFORM019_002": _impl(
        IRS_REPORT,
        "CFSFElectionStateCd is a state of the IRS's list (parameter cfsf_state_codes); the writers code no other",
    ),
    "SHAREDIRFORM020": _impl(
        IRS_REPORT, "a form coded for a CF/SF state is in a submission with CFSFElectionInd 1"
    ),
    "SHAREDIRFORM021": _impl(
        IRS_REJECT,
        "a test transmission prepared for the IRS carries recipient TINs beginning 000 (as SMF027; "
        "CONVENTIONS.md)",
    ),
    "SHAREDIRFORM022": _impl(
        IRS_REPORT, "a submission with forms coded for CF/SF has a Form1099RTotalByStateGrp for their states"
    ),
    "SHAREDIRFORM023": _edit(
        "payee_tin_invalid",
        IRS_REPORT,
        "the payee TIN is 9 valid digits; prorata blocks (the IRS only reports) because the extract "
        "requires it and a TIN of another shape fails the schema's TIN type",
        stricter=True,
    ),
    "SHAREDIRFORM026": _nc(
        IRS_REJECT, "needs the original record's form type; prorata corrects only the 1099-R records it filed"
    ),
    # ---- Form 1099-R rules ----------------------------------------------------------------------
    "F1099R001": _edit(
        "box4_above_box1",
        IRS_REJECT_OVER_THRESHOLD,
        "federal withholding above the gross distribution is excessive by any measure; the IRS's own "
        "measure is not published (CONVENTIONS.md)",
    ),
    "F1099R002": _edit("box2a_above_box1", IRS_REJECT_OVER_THRESHOLD, "box 2a is not above box 1"),
    "F1099R003": _edit("box3_above_box1", IRS_REJECT_OVER_THRESHOLD, "box 3 is not above box 1"),
    "F1099R005_001": _edit("box6_above_box1", IRS_REJECT_OVER_THRESHOLD, "box 6 is not above box 1"),
    "F1099R006": _edit(
        "taxable_amount_not_determined_with_box2a",
        IRS_REJECT_OVER_THRESHOLD,
        "box 2a is not above zero when box 2b 'taxable amount not determined' is checked (no IRA/SEP/SIMPLE)",
    ),
}


def blocks(rule: str) -> bool:
    """Whether prorata blocks on ``rule`` (an edit check error, a ``reject`` problem)."""
    d = DECISIONS[rule]
    return d.stricter or BLOCKING[d.severity]


# ---------------------------------------------------------------------------------------------
# Transmission checks
# ---------------------------------------------------------------------------------------------

#: One row per IRSubmission1Grp: what its header says, and how messages name its payer (``payer``:
#: the writer's label, its plan ids; never the TIN). ``TotalByStateCds``: the states of its
#: Form1099RTotalByStateGrp elements. ``IssuerTIN`` is compared, never quoted.
SUBMISSION_COLUMNS: dict[str, pl.DataType] = {
    "SubmissionId": pl.String,
    "OriginalUniqueSubmissionId": pl.String,
    "TaxYr": pl.Int64,
    "FormTypeCd": pl.String,
    "CFSFElectionInd": pl.String,
    "TotalReportedRcpntFormCnt": pl.Int64,
    "TotalAmtGrp": pl.Boolean,
    "TotalByStateCds": pl.List(pl.String),
    "IssuerTIN": pl.String,
    "IssuerForeignEntityInd": pl.String,
    "IssuerForeignAddress": pl.Boolean,
    "IssuerPhoneNum": pl.String,
    "payer": pl.String,
}

#: One row per Form1099RDetail: its submission, record id, form id and the fields the rules read.
#: ``UniqueRecordId``: the one the record carries (in PrevSubmittedRecRecipientGrp);
#: ``PrevSubmittedRecRecipientGrp``: whether that group is present. ``RecipientTIN`` is compared,
#: never quoted.
RECORD_COLUMNS: dict[str, pl.DataType] = {
    "SubmissionId": pl.String,
    "RecordId": pl.String,
    "form_id": pl.String,
    "TaxYr": pl.Int64,
    "CorrectedInd": pl.String,
    "UniqueRecordId": pl.String,
    "PrevSubmittedRecRecipientGrp": pl.Boolean,
    "CFSFElectionStateCd": pl.String,
    "RecipientTIN": pl.String,
    "RecipientAccountNum": pl.String,
}

#: Form types the Combined Federal/State Filing Program takes (rule S1H003_001).
CFSF_FORM_TYPES = ("1099B", "1099DIV", "1099G", "1099INT", "1099K", "1099MISC", "1099NEC", "1099OID", "1099PATR", "1099R", "5498")  # fmt: skip

#: Examples of forms or payers named in a problem's message.
_EXAMPLES = 5


class RuleProblem(NamedTuple):
    """One IRIS business rule a transmission breaks: its number, whether it blocks (``reject``) or
    warns (``report``), what is wrong (no personal data), the first form ids and payers concerned
    and how many records (or submissions, for a header rule; 1 for the manifest) break it."""

    rule: str
    severity: str  # "reject" or "report"
    message: str
    form_ids: list[str]
    payers: list[str]
    count: int

    def text(self) -> str:
        where = []
        if self.form_ids:
            more = self.count - len(self.form_ids)
            where.append("form_id " + ", ".join(self.form_ids) + (f" (+{more} more)" if more > 0 else ""))
        if self.payers:
            where.append("payer " + ", ".join(self.payers))
        return f"IRIS rule {self.rule}: {self.message}" + (f" ({'; '.join(where)})" if where else "")


def _problem(
    rule: str, message: str, *, form_ids: Iterable[str] = (), payers: Iterable[str] = (), count: int = 1
) -> RuleProblem:
    severity = "reject" if blocks(rule) else "report"
    return RuleProblem(
        rule, severity, message, list(form_ids)[:_EXAMPLES], sorted(set(payers))[:_EXAMPLES], count
    )


def _from_records(rule: str, message: str, hits: pl.DataFrame) -> RuleProblem | None:
    """A problem naming the records of ``hits`` (records with their submission's ``payer``)."""
    if hits.height == 0:
        return None
    ids = hits.get_column("form_id").head(_EXAMPLES).to_list()
    return _problem(
        rule, message, form_ids=ids, payers=hits.get_column("payer").unique().to_list(), count=hits.height
    )


def _from_submissions(rule: str, message: str, hits: pl.DataFrame) -> RuleProblem | None:
    if hits.height == 0:
        return None
    return _problem(rule, message, payers=hits.get_column("payer").to_list(), count=hits.height)


def _text(manifest, path: str) -> str:
    """Text of the manifest element at ``path`` (element names, "/"-separated), "" when absent."""
    node = manifest
    for name in path.split("/"):
        node = None if node is None else node.find(f"{{*}}{name}")
    return "" if node is None or node.text is None else node.text.strip()


def _has(manifest, path: str) -> bool:
    node = manifest
    for name in path.split("/"):
        node = None if node is None else node.find(f"{{*}}{name}")
    return node is not None


def manifest_problems(manifest, *, issuers: int, records: int) -> list[RuleProblem]:
    """The transmission (manifest) rules; ``issuers`` (distinct issuer TINs) and ``records``: how
    many the transmission holds."""
    m = lambda path: _text(manifest, path)  # noqa: E731
    out: list[RuleProblem] = []

    def rule(name: str, broken: bool, message: str) -> None:
        if broken:
            out.append(_problem(name, message))

    kind, utid, tax_year = m("TransmissionTypeCd"), m("UniqueTransmissionId"), m("TaxYr")
    tcc = m("TransmitterGrp/TransmitterControlCd")
    rule(
        "TMFST017",
        _has(manifest, "TransmitterGrp/CompanyGrp/MailingAddressGrp/ForeignAddress")
        and m("TransmitterGrp/ForeignEntityInd") != "1",
        "the transmitter's company address is foreign but ForeignEntityInd is not 1",
    )
    software = m("SoftwareId")
    rule(
        "TMFST020",
        software[:2] != tax_year[-2:],
        "the first two digits of SoftwareId must be the last two of TaxYr",
    )
    vendor = _has(manifest, "VendorGrp")
    rule("TMFST022", m("VendorCd") == "V" and not vendor, "VendorCd is V but there is no VendorGrp")
    rule(
        "TMFST023",
        vendor
        and _has(manifest, "VendorGrp/MailingAddressGrp/ForeignAddress")
        and m("VendorGrp/ForeignEntityInd") != "1",
        "the vendor's address is foreign but its ForeignEntityInd is not 1",
    )
    rule(
        "TMFST024",
        vendor and not _has(manifest, "VendorGrp/ContactNameGrp"),
        "VendorGrp has no ContactNameGrp",
    )
    rule("TMFST025", vendor and not m("VendorGrp/ContactPhoneNum"), "VendorGrp has no ContactPhoneNum")
    rule(
        "TMFST026",
        m("TotalIssuerFormCnt") != str(issuers),
        f"TotalIssuerFormCnt must be {issuers}, the number of issuers",
    )
    rule("TMFST032", not utid.endswith("A"), "UniqueTransmissionId must end with A (the A2A channel)")
    parts = utid.split(":")
    rule(
        "TMFST039",
        len(parts) < 3 or parts[2] != tcc,
        "the TCC in UniqueTransmissionId differs from TransmitterControlCd",
    )
    rule("TMFST038", m("PriorYearDataInd") != "0", "PriorYearDataInd must be 0")
    rule(
        "TMFST041",
        kind == "O" and bool(m("OriginalReceiptId")),
        "an original transmission has an OriginalReceiptId",
    )
    rule(
        "FTMFST009",
        m("TotalRecipientFormCnt") != str(records),
        f"TotalRecipientFormCnt must be {records}, the number of forms",
    )
    return out


def transmission_problems(
    manifest,
    submissions: pl.DataFrame,
    records: pl.DataFrame,
    *,
    cfsf_approved_payers: frozenset[str],
    cfsf_states: Iterable[str],
    prepared_for_irs: bool,
) -> list[RuleProblem]:
    """Every IRIS transmission, submission and form rule that ``manifest`` (the lxml
    IRTransmissionManifest element), ``submissions`` (:data:`SUBMISSION_COLUMNS`) and ``records``
    (:data:`RECORD_COLUMNS`) break, in rule-number order.

    ``cfsf_approved_payers``: payer EINs (9 digits) approved for CF/SF (S1H002); ``cfsf_states``:
    the CF/SF states of the tax year (SHAREDIRFORM019_002); ``prepared_for_irs``: the transmission
    is meant for the IRS (settings with a TCC and a SoftwareId), so the rules of
    :data:`SETTINGS_RULES` block; a file that cannot be sent (placeholder settings, no SoftwareId)
    gets them as ``report``.
    """
    s = submissions.select(pl.col(c).cast(t) for c, t in SUBMISSION_COLUMNS.items())
    r = records.select(pl.col(c).cast(t) for c, t in RECORD_COLUMNS.items())
    kind, test = _text(manifest, "TransmissionTypeCd"), _text(manifest, "TestCd")
    tax_year = _text(manifest, "TaxYr")
    issuers = s.get_column("IssuerTIN").n_unique()
    out = manifest_problems(manifest, issuers=issuers, records=r.height)
    c = pl.col
    # Each record with its submission's header values (one join: a few submissions).
    first = s.unique("SubmissionId", keep="first", maintain_order=True)  # a repeated id is FTMFST010's
    per = r.join(
        first.select(
            "SubmissionId",
            "payer",
            c("TaxYr").alias("_header_year"),
            "CFSFElectionInd",
            "TotalByStateCds",
        ),
        on="SubmissionId",
        how="left",
    )
    counts = r.group_by("SubmissionId").len("_records")
    sx = s.join(counts, on="SubmissionId", how="left").with_columns(c("_records").fill_null(0))
    corrected, original = c("CorrectedInd") == "1", c("CorrectedInd") == "0"
    ref = c("UniqueRecordId").fill_null("") != ""
    checks: list[RuleProblem | None] = [
        # transmission-wide, over the records and submissions
        _from_records(
            "FTMFST001_001",
            "an original or replacement transmission holds a corrected form (CorrectedInd 1)",
            per.filter(pl.lit(kind in ("O", "R")) & ~original),
        ),
        _from_records(
            "FTMFST003_001",
            "a correction transmission holds a form that is not corrected (CorrectedInd 0)",
            per.filter(pl.lit(kind == "C") & ~corrected),
        ),
        _from_submissions(
            "FTMFST004_001",
            "a replacement transmission must name what it replaces (OriginalReceiptId or OriginalUniqueSubmissionId)",
            sx.filter(
                pl.lit(kind == "R" and not _text(manifest, "OriginalReceiptId"))
                & (c("OriginalUniqueSubmissionId").fill_null("") == "")
            ),
        ),
        _from_submissions(
            "FTMFST006_001",
            "a replacement transmission names both OriginalReceiptId and OriginalUniqueSubmissionId",
            sx.filter(
                pl.lit(kind == "R" and bool(_text(manifest, "OriginalReceiptId")))
                & (c("OriginalUniqueSubmissionId").fill_null("") != "")
            ),
        ),
        _from_submissions(
            "FTMFST007_001",
            "an OriginalUniqueSubmissionId appears twice in the transmission",
            sx.filter(
                c("OriginalUniqueSubmissionId").is_not_null()
                & c("OriginalUniqueSubmissionId").is_duplicated()
            ),
        ),
        _from_records(
            "FTMFST008",
            "a UniqueRecordId appears twice in the transmission (two corrections of one record)",
            per.filter(ref & c("UniqueRecordId").is_duplicated()),
        ),
        _from_submissions(
            "FTMFST010",
            "a SubmissionId appears twice in the transmission",
            sx.filter(c("SubmissionId").is_duplicated()),
        ),
        _from_records(
            "FTMFST013",
            "an original or replacement transmission holds a PrevSubmittedRecRecipientGrp",
            per.filter(pl.lit(kind in ("O", "R")) & c("PrevSubmittedRecRecipientGrp").fill_null(False)),
        ),
        _from_records(
            "FTMFST014",
            "a record of a correction transmission has no UniqueRecordId",
            per.filter(pl.lit(kind == "C") & ~ref),
        ),
        # submissions
        _from_submissions(
            "SMF007",
            f"the submission's TaxYr differs from the manifest's ({tax_year})",
            sx.filter(c("TaxYr").cast(pl.String) != tax_year),
        ),
        _from_submissions(
            "SMF019",
            "the issuer's address is foreign but its ForeignEntityInd is not 1",
            sx.filter(c("IssuerForeignAddress").fill_null(False) & (c("IssuerForeignEntityInd") != "1")),
        ),
        _from_submissions(
            "SMF027",
            "a test transmission (TestCd T) must carry issuer TINs beginning 000",
            sx.filter(pl.lit(test == "T") & ~c("IssuerTIN").fill_null("").str.starts_with("000")),
        ),
        _from_submissions(
            "S1H001", "IssuerDetail has no PhoneNum", sx.filter(c("IssuerPhoneNum").fill_null("") == "")
        ),
        _from_submissions(
            "S1H002",
            "CFSFElectionInd is 1 for a payer not approved for CF/SF (prorata.toml [cfsf] approved_payers)",
            sx.filter((c("CFSFElectionInd") == "1") & ~c("IssuerTIN").is_in(sorted(cfsf_approved_payers))),
        ),
        _from_submissions(
            "S1H003_001",
            "CF/SF is elected for a form type outside the program",
            sx.filter((c("CFSFElectionInd") == "1") & ~c("FormTypeCd").is_in(CFSF_FORM_TYPES)),
        ),
        _from_submissions(
            "S1H022",
            "a 1099R submission has no Form1099RTotalAmtGrp",
            sx.filter((c("FormTypeCd") == "1099R") & ~c("TotalAmtGrp").fill_null(False)),
        ),
        _from_submissions(
            "S1H029",
            "an OriginalUniqueSubmissionId in a transmission that is not a replacement (R)",
            sx.filter(pl.lit(kind != "R") & (c("OriginalUniqueSubmissionId").fill_null("") != "")),
        ),
        _from_submissions(
            "SMD001",
            "a 1099R submission holds no Form1099RDetail",
            sx.filter((c("FormTypeCd") == "1099R") & (c("_records") == 0)),
        ),
        _from_records(
            "FS1H001",
            "records of one recipient TIN in a submission need a RecipientAccountNum each, all different",
            per.filter(
                pl.struct("SubmissionId", "RecipientTIN").is_duplicated()
                & (
                    (c("RecipientAccountNum").fill_null("") == "")
                    | pl.struct("SubmissionId", "RecipientTIN", "RecipientAccountNum").is_duplicated()
                )
            ),
        ),
        _from_records(
            "FS1H002",
            "a RecordId appears twice in a submission",
            per.filter(pl.struct("SubmissionId", "RecordId").is_duplicated()),
        ),
        _from_submissions(
            "FS1H003",
            "TotalReportedRcpntFormCnt differs from the number of forms in the submission",
            sx.filter(c("TotalReportedRcpntFormCnt") != c("_records")),
        ),
        # forms
        _from_records(
            "SHAREDIRFORM002_001",
            "the form's TaxYr differs from its submission's",
            per.filter(c("TaxYr") != c("_header_year")),
        ),
        _from_records(
            "SHAREDIRFORM006_002",
            "a corrected form has no UniqueRecordId (the record it corrects)",
            per.filter(corrected & ~ref),
        ),
        _from_records(
            "SHAREDIRFORM007_002",
            "an original form has a UniqueRecordId or a PrevSubmittedRecRecipientGrp",
            per.filter(original & (ref | c("PrevSubmittedRecRecipientGrp").fill_null(False))),
        ),
        _from_records(
            "SHAREDIRFORM019_002",
            "CFSFElectionStateCd is not a state of the CF/SF program",
            per.filter(
                c("CFSFElectionStateCd").is_not_null() & ~c("CFSFElectionStateCd").is_in(sorted(cfsf_states))
            ),
        ),
        _from_records(
            "SHAREDIRFORM020",
            "a form coded for a CF/SF state is in a submission without CFSFElectionInd 1",
            per.filter(c("CFSFElectionStateCd").is_not_null() & (c("CFSFElectionInd") != "1")),
        ),
        _from_records(
            "SHAREDIRFORM021",
            "a test transmission (TestCd T) must carry recipient TINs beginning 000",
            per.filter(pl.lit(test == "T") & ~c("RecipientTIN").fill_null("").str.starts_with("000")),
        ),
        _from_records(
            "SHAREDIRFORM022",
            "a form coded for a CF/SF state has no Form1099RTotalByStateGrp for that state in its submission",
            per.filter(
                c("CFSFElectionStateCd").is_not_null()
                & ~c("TotalByStateCds").fill_null([]).list.contains(c("CFSFElectionStateCd"))
            ),
        ),
    ]
    out += [p for p in checks if p is not None]
    if not prepared_for_irs:  # not to be sent: what only the settings can mend is reported
        out = [p._replace(severity="report") if p.rule in SETTINGS_RULES else p for p in out]
    return sorted(out, key=lambda p: p.rule)


#: Rules only the transmitter's settings can mend (the SoftwareId; test TINs in a test
#: transmission): blocking for a transmission prepared for the IRS, reported otherwise (see
#: :func:`transmission_problems`).
SETTINGS_RULES = ("TMFST020", "SMF027", "SHAREDIRFORM021")


def rejected(problems: list[RuleProblem]) -> list[RuleProblem]:
    """The problems that block the transmission."""
    return [p for p in problems if p.severity == "reject"]
