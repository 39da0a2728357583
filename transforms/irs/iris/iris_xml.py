"""IRIS A2A XML for Form 1099-R (tax year 2026 on, and any transmission once FIRE has closed),
element for element as the IRS's schema package says.

Authority: the IRS's IRIS A2A schema package (TY2025 v1.2: ``MSG/IRS-IRIntakeTransmissionMessage.xsd``,
``COMMON/IRS-IRefileTypes.xsd``, ``FORM_TYPES/IRS-Form1099RType.xsd``) and its business rules
(the ``.tsv`` files beside them; rule numbers cited below). ``tests/irs/test_iris_xml.py`` validates
what this module writes against that package::

    IRTransmission                      namespace urn:us:gov:treasury:irs:ir
      IRTransmissionManifest            SchemaVersionNum (fixed by the XSD), UniqueTransmissionId,
                                        TaxYr, PriorYearDataInd 0 (TMFST038), TransmissionTypeCd
                                        O/C/R, TestCd, [OriginalReceiptId], TransmitterGrp,
                                        VendorCd I, SoftwareId, counts, PaperSubmissionInd 0,
                                        MediaSourceCd M, SubmissionChannelCd A2A
      IRSubmission1Grp                  one per submission: a payer (a payer too large for one
                                        transmission is several submissions, in several)
        IRSubmission1Header             SubmissionId, [OriginalUniqueSubmissionId], TaxYr,
                                        IssuerDetail, FormTypeCd 1099R, ParentFormTypeCd 1096,
                                        CFSFElectionInd, TotalReportedRcpntFormCnt,
                                        Form1099RTotalAmtGrp (its own order: box 4 first),
                                        Form1099RTotalByStateGrp per CF/SF state (SHAREDIRFORM022)
        IRSubmission1Detail
          Form1099RDetail               one per return, in the XSD's order

Choices:

* a transmission holds originals (TransmissionTypeCd "O"), corrections ("C": ``corrected`` "G" or
  "C", CorrectedInd 1, FTMFST003) or replacements ("R"), never a mix (FTMFST001): a mixed frame
  is refused. A correction is ONE record per corrected return: CorrectedInd 1 and
  PrevSubmittedRecRecipientGrp with the original's UniqueRecordId (``prev_unique_record_id``:
  "receipt id|submission id|record id", required: SHAREDIRFORM006) and, where they changed, the
  previous TIN and name (``prev_payee_tin``, ``prev_first_name``, ``prev_last_name``,
  ``prev_tin_type``: :func:`transforms.season.corrections.iris_corrections` makes them). VoidInd is fixed
  at 0 for 1099-R: a return that should not have been filed is corrected to zero amounts;
* a replacement of a rejected transmission names it by ``original_receipt_id`` (manifest
  OriginalReceiptId); a replacement of rejected submissions by the returns' column
  ``original_unique_submission_id`` ("receipt id|submission id", each IRSubmission1Header's
  OriginalUniqueSubmissionId, one submission per value); never both (FTMFST006);
* names and addresses are normalised by ``transforms.irs.shared`` (case, accents, punctuation,
  a long street on two lines, a name cut at a word); what cannot be made valid is refused, naming
  the forms (the pre-filing checks report the same through ``unwritable_name_address``);
  countries are the IRS's codes (``transforms.irs.countries``), not ISO's;
* amounts are decimal dollars with two decimals made from integer cents by integer arithmetic;
  box 9a is a ratio 0.00000-1.00000 (RatioType) from the whole percent; ``TaxableAmt`` is left out
  when the taxable amount is not determined (box 2b, first box);
* at most ``max_bytes`` (100 MB) a transmission: submissions go into a transmission in file order
  while they fit, a payer that does not fit into what is left starts the next transmission, and a
  payer too large for one transmission is cut into submissions that fill transmissions (each
  submission has its own counts and totals; SubmissionIds restart at 1 in each transmission; a
  RecordId is the return's place in its payer, so unique in any submission cut from it: FS1H002). Every transmission has its own UniqueTransmissionId, derived from its content
  (the SHA-256 of the document with the id left empty);
* same input → same bytes, whatever the payer groups and chunks: returns in file order (payer,
  original/G/C, account number), every size decided from the text itself;
* no Python loop over returns: each ``Form1099RDetail`` is XML text built with polars string
  expressions, chunk by chunk (two chunks at a time, on two threads), indented as lxml's
  ``pretty_print`` would (two spaces per level); the manifest and the submission headers (a few per
  transmission) are built with lxml.

Memory: the returns of one payer group (``transforms.irs.grouped``), the text of the transmission
being filled (at most ``max_bytes``) and of the submission being cut; never the whole filing.

Privacy: error messages name returns by ``form_id`` only.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from itertools import islice

import polars as pl
from lxml import etree

from transforms.irs.grouped import Findings, GroupedFiling, groups_of, outline
from transforms.irs.iris.iris_rules import (
    RECORD_COLUMNS,
    SUBMISSION_COLUMNS,
    RuleProblem,
    rejected,
    transmission_problems,
)
from transforms.irs.iris.schema_check import RecordCheck, SchemaError
from transforms.irs.shared import (
    CITY_LENGTH,
    FOREIGN_CITY_LENGTH,
    PERSON_NAME_LENGTH,
    PLAIN_CITY,
    PLAIN_NAME,
    PLAIN_STREET,
    PLAIN_TEXT,
    RETURN_PAYER_COLUMNS,
    STATE_LOCAL_MONEY_COLUMNS,
    STREET_LENGTH,
    FilingInputError,
    Problem,
    Transmitter,
    account_key,
    alpha_text,
    cfsf_state,
    cfsf_state_codes,
    city_name,
    clean_text,
    digits_only,
    file_order,
    iris_country,
    iris_locality,
    iris_state_id,
    iris_text,
    is_foreign_address,
    name_control,
    name_lines,
    normalised,
    person_name,
    phone_number,
    problem,
    street_lines,
    string_pieces,
)
from transforms.kernels.runs import run_starts
from transforms.kernels.subset import computed_where, filled

NAMESPACE = "urn:us:gov:treasury:irs:ir"
#: ``SchemaVersionNum``: the value the package's IRTransmissionManifestType fixes (TY2025 v1.2).
#: A newer package fixes another: the caller passes it (``IrisOptions.schema_version``).
SCHEMA_VERSION = "2.0.3"
#: A transmission's size limit: at most 100 MB (docs/spec/outputs.md, "IRS files"; read as decimal
#: megabytes, the smaller reading; the figure was not checked against Pub 5718 here).
MAX_TRANSMISSION_BYTES = 100_000_000

#: Box 7 as IRIS takes it: the 120 values of ``Form1099RDistributionCd`` (FORM_TYPES/
#: IRS-Form1099RType.xsd, TY2025 v1.2), one code or a pair in the order listed there.
_DISTRIBUTION_CODES_LISTED = (
    "1 18 1B 1D 1K 1L 1M 1P 2 28 2B 2D 2K 2L 2M 2P 3 3D 4 48 4A 4B 4D 4G 4H 4K 4L 4M 4P 5 6 6W "
    "7 7A 7B 7D 7K 7L 7M 8 81 82 84 8B 8J 8K 9 A A4 A7 B B1 B2 B4 B7 B8 BG BL BM BP BU C CD D "
    "D1 D2 D3 D4 D7 DC E F G G4 GB GK H H4 J J8 JP JS K K1 K2 K4 K7 K8 KG L L1 L2 L4 L7 LB M "
    "M1 M2 M4 M7 MB N P P1 P2 P4 PB PJ Q R S SJ T U UB W W6 Y4 Y7 YK "
)
DISTRIBUTION_CODES: frozenset[str] = frozenset(_DISTRIBUTION_CODES_LISTED.split())
#: StateType of IRS-IRefileTypes.xsd: the states, DC, the possessions and the military "states".
_STATES_LISTED = (
    "AL AK AS AZ AR CA CO MP CT DE DC FM FL GA GU HI ID IL IN IA KS KY LA ME MH MD MA MI MN MS "
    "MO MT NE NV NH NJ NM NY NC ND OH OK OR PW PA PR RI SC SD TN TX VI UT VT VA WA WV WI WY AA "
    "AE AP "
)
STATES: frozenset[str] = frozenset(_STATES_LISTED.split())
#: UniqueRecordIdType, UniqueSubmissionIdType and the manifest's OriginalReceiptId.
RECEIPT_ID = r"[1-9][0-9]{3}-[0-9]{11}-[0-9a-zA-Z]{9}"
UNIQUE_SUBMISSION_ID = RECEIPT_ID + r"\|[1-9][0-9]{0,7}"
UNIQUE_RECORD_ID = UNIQUE_SUBMISSION_ID + r"\|[1-9][0-9]{0,7}"
#: EnterpriseBusCorrelationIdType: "{UUID}:IRIS:{TCC}::A" (A = the A2A channel, TMFST032).
UTID_FORMAT = "{uuid}:IRIS:{tcc}::A"

#: Box amounts of Form1099RDetail in its order, and the header totals in Form1099RTotalAmtGrp's.
DETAIL_AMOUNTS: tuple[tuple[str, str], ...] = (
    ("box1_cents", "GrossDistributionAmt"),
    ("box2a_cents", "TaxableAmt"),
    ("box3_cents", "CapitalGainAmt"),
    ("box4_cents", "FederalIncomeTaxWithheldAmt"),
    ("box5_cents", "EmployeeContributionsAmt"),
    ("box6_cents", "NetUnrlzdSecuritiesApprcnAmt"),
    ("box8_cents", "OtherDistributionAmt"),
    ("box9b_cents", "TotalEmployeeContributionsAmt"),
    ("box10_cents", "IRRAllocatedAmt"),
)
TOTAL_AMOUNTS: tuple[str, ...] = (
    "box4_cents", "box1_cents", "box2a_cents", "box3_cents", "box5_cents", "box6_cents", "box8_cents",
    "box9b_cents", "box10_cents",
)  # fmt: skip
AMOUNT_ELEMENT = dict(DETAIL_AMOUNTS)

#: Columns of the filing frame this writer reads besides ``REQUIRED_COLUMNS`` when they are there
#: (see the module docstring): corrections' previous record and identity, replaced submissions.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "prev_unique_record_id", "prev_payee_tin", "prev_first_name", "prev_last_name", "prev_tin_type",
    "original_unique_submission_id",
)  # fmt: skip

#: Returns per chunk: the writer renders one chunk's values and XML text at a time.
CHUNK_ROWS = 25_000
#: Chunks rendered at the same time (polars releases the GIL).
_WORKERS = 2


@dataclass(frozen=True)
class IrisOptions:
    """What a transmission needs beside its returns and transmitter.

    ``software_id``: the SoftwareId the IRS issued for the software and tax year (its first two
    digits are the tax year's last two: TMFST020); "" when none is configured (a test file).
    ``schema_version``: the SchemaVersionNum the schema package fixes. ``original_receipt_id``: a
    replacement of a rejected transmission (TransmissionTypeCd "R", manifest OriginalReceiptId).
    ``max_bytes``: a transmission's size limit (None: one transmission whatever its size).
    ``transmission_id``: the UniqueTransmissionId of a single transmission (None: from its content).
    """

    software_id: str = ""
    schema_version: str = SCHEMA_VERSION
    original_receipt_id: str | None = None
    max_bytes: int | None = MAX_TRANSMISSION_BYTES
    transmission_id: str | None = None
    #: the transmission is prepared for the IRS (settings with a TCC and a SoftwareId): the business
    #: rules only settings can mend block (``iris_rules.SETTINGS_RULES``); otherwise they report
    prepared_for_irs: bool = False
    #: every transmission validated against the IRS's schema as it is written, records by shape and
    #: by value (:class:`transforms.irs.iris.schema_check.RecordCheck`, made for
    #: :func:`record_paths`); a failure raises ``SchemaError``
    record_check: RecordCheck | None = None


@dataclass
class Transmission:
    """One transmission file: its bytes in pieces (manifest first), what the manifest and the
    per-return index record about it."""

    number: int  # 1, 2, ... in file order
    unique_transmission_id: str
    pieces: list  # bytes-like pieces, in order
    #: the IRIS business rules it breaks that the IRS only reports (those it rejects raise)
    rule_reports: list[RuleProblem]
    returns: int
    submissions: int
    issuers: int
    index: pl.DataFrame  # form_id, submission_id, record_id (file order)

    @property
    def size(self) -> int:
        return sum(len(memoryview(p)) for p in self.pieces)

    def data(self) -> bytes:
        return b"".join(bytes(memoryview(p)) for p in self.pieces)


def dollars_text(cents: int) -> str:
    """Integer cents as decimal dollars with two decimals: 123450 → "1234.50", 0 → "0.00"."""
    if cents < 0:
        raise FilingInputError("negative amounts are never reported on Form 1099-R")
    return f"{cents // 100}.{cents % 100:02d}"


def dollars_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorized :func:`dollars_text`, integer arithmetic only: the cents as a decimal of scale 2
    (the integer times 0.01, exact: no division, no rounding), which polars writes with its two
    decimals. (One cast and one multiplication: a third of the cost of building the text from the
    quotient and remainder by 100, for the same text.)"""
    return (expr.cast(pl.Int64).cast(pl.Decimal(38, 0)) * _HUNDREDTH).cast(pl.String)


def ratio_expr(percent: pl.Expr) -> pl.Expr:
    """A whole percent as the IRIS RatioType writes it (0.00000-1.00000, five decimals): 40 →
    "0.40000", 100 → "1.00000" (box 9a, RcpntTotalDistributionPct); exact, as :func:`dollars_expr`."""
    return (percent.cast(pl.Int64).cast(pl.Decimal(38, 0)) * _HUNDREDTH_5).cast(pl.String)


#: 0.01 as the decimals :func:`dollars_expr` and :func:`ratio_expr` multiply by (scale 2 and 5).
_HUNDREDTH = pl.lit(Decimal("0.01"), pl.Decimal(38, 2))
_HUNDREDTH_5 = pl.lit(Decimal("0.01000"), pl.Decimal(38, 5))


# ---------------------------------------------------------------------------------------------
# XML text with polars expressions: one element per line, two spaces per level (what lxml's
# pretty_print writes). Values are written escaped (& < >); normalised values hold no other
# character XML treats specially.
# ---------------------------------------------------------------------------------------------

Piece = str | pl.Expr


@dataclass(frozen=True)
class _Leaf:
    """``<name>value</name>`` on its own line (``value`` written already: escaped where it must be)."""

    name: str
    value: Piece
    depth: int


@dataclass(frozen=True)
class _Group:
    """An element of elements: its start tag, its children, its end tag, each on its own line."""

    name: str
    depth: int
    children: tuple


@dataclass(frozen=True)
class _Choice:
    """``yes`` where ``condition`` holds, else ``no`` (nothing for an optional part)."""

    condition: pl.Expr
    yes: tuple
    no: tuple = ()


Node = _Leaf | _Group | _Choice


def _pieces(nodes: tuple | list) -> list[Piece]:
    """The text of ``nodes`` as literal text and expressions, in order."""
    out: list[Piece] = []
    for node in nodes:
        if isinstance(node, _Leaf):
            out += [f"{'  ' * node.depth}<{node.name}>", node.value, f"</{node.name}>\n"]
        elif isinstance(node, _Group):
            indent = "  " * node.depth
            out += [f"{indent}<{node.name}>\n", *_pieces(node.children), f"{indent}</{node.name}>\n"]
        else:
            no = _cat(_pieces(node.no)) if node.no else pl.lit("")
            out.append(pl.when(node.condition).then(_cat(_pieces(node.yes))).otherwise(no))
    return out


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


def _escaped(value: pl.Expr) -> pl.Expr:
    return value.str.replace_many(["&", "<", ">"], ["&amp;", "&lt;", "&gt;"])  # one pass


def _el(name: str, value: Piece, depth: int) -> list[Node]:
    """``<Name>value</Name>`` on its own line (``value`` written already)."""
    return [_Leaf(name, value, depth)]


def _group(name: str, depth: int, *children: list[Node]) -> list[Node]:
    return [_Group(name, depth, tuple(n for child in children for n in child))]


def _when(condition: pl.Expr, fragment: list[Node]) -> list[Node]:
    return [_Choice(condition, tuple(fragment))]


def _either(condition: pl.Expr, yes: list[Node], no: list[Node]) -> list[Node]:
    return [_Choice(condition, tuple(yes), tuple(no))]


@dataclass(frozen=True)
class Template:
    """A record's text as one expression, and what makes a proof of it against the schema
    (:mod:`transforms.irs.iris.schema_check`, :class:`RecordCheck`): every leaf element's path
    below the record, the text written in it and when it is there; and every condition the text
    depends on. Records with the same conditions have the same elements, line for line: only the
    leaves' texts differ (the record's *shape*)."""

    text: pl.Expr
    leaves: tuple[tuple[tuple[str, ...], Piece, pl.Expr], ...]  # (path, text, present)
    conditions: tuple[pl.Expr, ...]

    @classmethod
    def of(cls, nodes: list[Node]) -> Template:
        leaves: list[tuple[tuple[str, ...], Piece, pl.Expr]] = []
        conditions: list[pl.Expr] = []

        def walk(nodes: tuple | list, path: tuple[str, ...], present: pl.Expr) -> None:
            for node in nodes:
                if isinstance(node, _Leaf):
                    leaves.append(((*path, node.name), node.value, present))
                elif isinstance(node, _Group):
                    walk(node.children, (*path, node.name), present)
                else:
                    held = node.condition.fill_null(False)
                    conditions.append(held)
                    walk(node.yes, path, present & held)
                    walk(node.no, path, present & ~held)

        walk(nodes, (), pl.lit(True))
        if len(conditions) > 63:
            raise AssertionError("a record's shape is kept in 63 bits")  # pragma: no cover - internal
        return cls(_cat(_pieces(nodes)), tuple(leaves), tuple(conditions))

    def shape(self) -> pl.Expr:
        """The record's shape as one integer: bit ``i`` is condition ``i``."""
        bits = [c.cast(pl.Int64) * (1 << i) for i, c in enumerate(self.conditions)]
        return pl.sum_horizontal(bits) if bits else pl.lit(0, pl.Int64)


def _flag(condition: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(pl.lit("1")).otherwise(pl.lit("0"))


#: Depth of Form1099RDetail: IRTransmission > IRSubmission1Grp > IRSubmission1Detail > here.
_DETAIL_DEPTH = 3

#: Name controls as IRIS takes them (PersonNameControlType, BusinessNameControlType).
_PERSON_NAME_CONTROL = r"^[A-Z][A-Z\- ]{0,3}$"
_BUSINESS_NAME_CONTROL = r"^[A-Z0-9\-&]{1,4}$"


def recipient_values(
    filing: pl.DataFrame, tax_year: int, cfsf_payers: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """Per return, the values of its Form1099RDetail as IRIS takes them (in ``filing``'s row
    order): normalised names and addresses (null where they cannot be made valid), IRS country
    codes, codes and amounts. ``cfsf_payers``: the payer EINs approved for CF/SF
    (``Transmitter.cfsf_approved_payers``): only their returns are coded (S1H002)."""
    c = pl.col
    is_entity = c("tin_type").cast(pl.String).fill_null("").str.to_lowercase() == "ein"
    foreign = is_foreign_address(c("country"))
    state = c("state").cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    filing = filing.with_columns(_normalised_columns(filing))
    business_1, business_2 = c("_business_1"), c("_business_2")
    street_1, street_2 = c("_street_1"), c("_street_2")
    names = filing.columns

    def optional(column: str, expr: pl.Expr) -> pl.Expr:
        return expr if column in names else pl.lit(None, pl.String)

    prev_entity = optional("prev_tin_type", c("prev_tin_type").cast(pl.String).str.to_lowercase() == "ein")
    prev_name = optional(
        "prev_last_name",
        pl.concat_str(
            alpha_text(c("prev_last_name")), alpha_text(c("prev_first_name")), separator=" "
        ).str.strip_chars(" "),
    )
    prev_business_1, prev_business_2 = name_lines(prev_name)
    values = filing.select(
        c("form_id").cast(pl.String),
        digits_only(c("payer_tin")).alias("payer_tin"),
        (c("corrected").cast(pl.String).fill_null("") != "").alias("corrected"),
        optional("prev_unique_record_id", c("prev_unique_record_id").cast(pl.String)).alias(
            "prev_unique_record_id"
        ),
        optional("prev_payee_tin", digits_only(c("prev_payee_tin"))).alias("prev_tin"),
        optional("prev_last_name", person_name(c("prev_first_name"))).alias("prev_first"),
        optional("prev_last_name", person_name(c("prev_last_name"))).alias("prev_last"),
        prev_entity.cast(pl.Boolean).fill_null(False).alias("prev_entity"),
        optional("prev_last_name", c("prev_last_name").is_not_null())
        .cast(pl.Boolean)
        .fill_null(False)
        .alias("prev_named"),
        prev_business_1.alias("prev_business_1"),
        prev_business_2.alias("prev_business_2"),
        optional("original_unique_submission_id", c("original_unique_submission_id").cast(pl.String)).alias(
            "original_submission"
        ),
        optional("plan_id", c("plan_id").cast(pl.String)).alias("plan_id"),
        c("_account_raw").alias("account_raw"),
        c("_account").alias("account"),
        digits_only(c("payee_tin")).alias("payee_tin"),
        is_entity.alias("is_entity"),
        c("_name_control").alias("name_control"),
        c("_first_name").alias("first_name"),
        c("_last_name").alias("last_name"),
        business_1.alias("business_1"),
        business_2.alias("business_2"),
        street_1.alias("street_1"),
        street_2.alias("street_2"),
        c("_city").alias("city"),
        foreign.alias("foreign"),
        c("state_code")
        .cast(pl.String)
        .fill_null("")
        .str.strip_chars()
        .str.to_uppercase()
        .alias("state_code"),
        pl.when(foreign).then(iris_text(c("state_code"), 17)).otherwise(pl.lit("")).alias("province"),
        digits_only(c("zip")).alias("us_zip"),
        pl.when(foreign).then(iris_text(c("zip"), 16)).otherwise(pl.lit("")).alias("postal_code"),
        iris_country(c("country")).alias("country"),
        *(c(column).cast(pl.Int64) for column, _ in DETAIL_AMOUNTS),
        c("taxable_not_determined").fill_null(False),
        c("total_distribution").fill_null(False),
        c("ira_sep_simple").fill_null(False),
        c("distribution_codes").cast(pl.String).fill_null("").str.to_uppercase().alias("distribution_codes"),
        c("box9a_percent").cast(pl.Int64),
        c("box11_year").cast(pl.Int64),
        c("box13_date").cast(pl.Date).dt.strftime("%Y-%m-%d"),
        state.alias("state"),
        cfsf_state(tax_year, cfsf_payers).is_not_null().alias("cfsf"),
        c("_state_payer_id").alias("state_payer_id"),
        *(c(column).fill_null(0).cast(pl.Int64) for column in STATE_LOCAL_MONEY_COLUMNS),
        c("_locality").alias("locality"),
    )
    return values.with_columns(
        pl.when(c("is_entity"))
        .then(pl.when(c("name_control").str.contains(_BUSINESS_NAME_CONTROL)).then(c("name_control")))
        .otherwise(pl.when(c("name_control").str.contains(_PERSON_NAME_CONTROL)).then(c("name_control")))
        .alias("name_control")
    )


def _normalised_columns(filing: pl.DataFrame) -> list[pl.Series]:
    """The payee's names and address, the account number, state id and locality as IRIS takes them
    (``transforms.irs.shared``'s functions, computed in full only on values that need more than
    upper-casing: :func:`transforms.irs.shared.normalised`)."""
    f = filing
    entity = f.select(
        pl.col("tin_type").cast(pl.String).fill_null("").str.to_lowercase() == "ein"
    ).to_series()
    foreign = f.select(is_foreign_address(pl.col("country"))).to_series()
    last = clean_text(f["last_name"])
    account = f.select(account_key()).to_series()
    columns = [
        normalised(f["first_name"], person_name, PLAIN_NAME, PERSON_NAME_LENGTH).alias("_first_name"),
        normalised(f["last_name"], person_name, PLAIN_NAME, PERSON_NAME_LENGTH).alias("_last_name"),
        normalised(f["address"], lambda e: street_lines(e)[0], PLAIN_STREET, STREET_LENGTH).alias(
            "_street_1"
        ),
        # a foreign city may be 50 letters long
        computed_where(
            foreign,
            f["city"],
            lambda abroad: pl.select(city_name(pl.lit(abroad), FOREIGN_CITY_LENGTH)).to_series(),
            lambda every: normalised(every, lambda e: city_name(e, CITY_LENGTH), PLAIN_CITY, CITY_LENGTH),
        ).alias("_city"),
        account.alias("_account_raw"),
        normalised(account, lambda e: iris_text(e, 30), PLAIN_TEXT, 30, upper=False).alias("_account"),
        iris_state_id(f["state_payer_id"]).alias("_state_payer_id"),
        iris_locality(f["locality"]).alias("_locality"),
    ]
    columns.append(
        computed_where(
            _street_may_go_on(f["address"], columns[2]),
            f["address"],
            lambda long: pl.select(street_lines(pl.lit(long))[1]).to_series(),
            filled(""),
        ).alias("_street_2")
    )
    # entities: their name on BusinessNameLine1Txt / 2Txt; persons: ""
    lines = computed_where(
        entity,
        pl.DataFrame([last.alias("last"), f["first_name"].alias("first")]),
        _business_lines,
        filled("", "_business_1", "_business_2"),
    ).get_columns()
    control = (
        pl.DataFrame({"last": last, "entity": entity})
        .select(
            name_control(pl.col("last"), pl.col("entity"), clean_first=False, entities=bool(entity.any()))
        )
        .to_series()
    )
    return [*columns, *lines, control.alias("_name_control")]


def _street_may_go_on(address: pl.Series, street_1: pl.Series) -> pl.Series:
    """True where the street ``address`` may have a second line (AddressLine2Txt) beyond its first,
    ``street_1`` (:func:`transforms.irs.shared.street_lines`): where the first line is shorter than
    the address, or the address has a character that :func:`transforms.irs.shared.street_text` may
    make longer ("&" → " AND ", ß → SS, Æ → AE: any non-ASCII one). Elsewhere the street text is at
    most as long as the address (ASCII characters are kept, dropped or made a space, one for one),
    so a first line at least as long is the whole street and the second line is ""."""
    text = address.cast(pl.String).fill_null("")
    return (
        (street_1.fill_null("").str.len_chars() < text.str.len_chars())
        | (text.str.len_bytes() > text.str.len_chars())
        | text.str.contains("&", literal=True)
    )


def _business_lines(entities: pl.DataFrame) -> pl.DataFrame:
    """An entity's name on BusinessNameLine1Txt and 2Txt (``_business_1``, ``_business_2``):
    its last name (``last``, :func:`transforms.irs.shared.clean_text` already) then its first name
    (``first``), on two lines of 75 (:func:`transforms.irs.shared.name_lines`)."""
    name = pl.concat_str(
        pl.lit(entities["last"]), pl.lit(clean_text(entities["first"])), separator=" "
    ).str.strip_chars(" ")
    return pl.select(e.alias(f"_business_{i}") for i, e in enumerate(name_lines(name), 1))


def _person_name(first: pl.Expr, last: pl.Expr, depth: int) -> list[Piece]:
    return _group(
        "PersonName", depth, _el("PersonFirstNm", first, depth + 1), _el("PersonLastNm", last, depth + 1)
    )


def _business_name(line_1: pl.Expr, line_2: pl.Expr, depth: int) -> list[Piece]:
    return _group(
        "BusinessName",
        depth,
        _el("BusinessNameLine1Txt", _escaped(line_1), depth + 1),
        _when(line_2 != "", _el("BusinessNameLine2Txt", _escaped(line_2), depth + 1)),
    )


def _recipient_detail(depth: int) -> list[Piece]:
    c = pl.col
    d1, d3 = depth + 1, depth + 3
    control = c("name_control").fill_null("")
    business = [
        *_when(control != "", _el("BusinessNameControlTxt", _escaped(control), d1)),
        *_business_name(c("business_1"), c("business_2"), d1),
    ]
    person = [
        *_when(control != "", _el("PersonNameControlTxt", control, d1)),
        *_person_name(c("first_name"), c("last_name"), d1),
    ]
    lines = [
        _el("AddressLine1Txt", c("street_1"), d3 + 1),
        _when(c("street_2") != "", _el("AddressLine2Txt", c("street_2"), d3 + 1)),
    ]
    domestic = _group(
        "USAddress",
        d3,
        *lines,
        _el("CityNm", c("city"), d3 + 1),
        _el("StateAbbreviationCd", c("state_code"), d3 + 1),
        _el("ZIPCd", c("us_zip"), d3 + 1),
    )
    foreign = _group(
        "ForeignAddress",
        d3,
        *lines,
        _when(c("city") != "", _el("CityNm", c("city"), d3 + 1)),
        _when(c("province") != "", _el("ProvinceOrStateNm", _escaped(c("province")), d3 + 1)),
        _el("CountryCd", c("country"), d3 + 1),
        _when(c("postal_code") != "", _el("ForeignPostalCd", _escaped(c("postal_code")), d3 + 1)),
    )
    return _group(
        "RecipientDetail",
        depth,
        _when(c("payee_tin") != "", _el("TIN", c("payee_tin"), d1)),
        _el(
            "TINSubmittedTypeCd",
            pl.when(c("is_entity")).then(pl.lit("BUSINESS_TIN")).otherwise(pl.lit("INDIVIDUAL_TIN")),
            d1,
        ),
        _either(c("is_entity"), business, person),
        _group("MailingAddressGrp", d1, _either(c("foreign"), foreign, domestic)),
    )


def _previous(depth: int) -> list[Piece]:
    """PrevSubmittedRecRecipientGrp: the original's UniqueRecordId, the previous TIN and name where
    they changed."""
    c = pl.col
    d1 = depth + 1
    return _group(
        "PrevSubmittedRecRecipientGrp",
        depth,
        _el("UniqueRecordId", _escaped(c("prev_unique_record_id").fill_null("")), d1),
        _when(c("prev_tin").fill_null("") != "", _el("TIN", c("prev_tin").fill_null(""), d1)),
        _when(
            c("prev_named"),
            _either(
                c("prev_entity"),
                _business_name(c("prev_business_1").fill_null(""), c("prev_business_2").fill_null(""), d1),
                _person_name(c("prev_first").fill_null(""), c("prev_last").fill_null(""), d1),
            ),
        ),
    )


def _form_detail(tax_year: int, depth: int = _DETAIL_DEPTH) -> list[Piece]:
    """One ``Form1099RDetail`` per return, in Form1099RDetailType's order."""
    c = pl.col
    d1, d2, d3 = depth + 1, depth + 2, depth + 3

    def money(element: str, column: str, at: int = d1) -> list[Piece]:
        return _el(element, dollars_expr(c(column)), at)

    local = (c("locality") != "") | (c("local_withholding_cents") + c("local_distribution_cents") > 0)
    state_local = _group(
        "StateLocalTaxGrp",
        d1,
        _el("StateAbbreviationCd", c("state"), d2),
        _group(
            "StateTaxGrp",
            d2,
            _when(c("state_payer_id") != "", _el("StateIdNum", _escaped(c("state_payer_id")), d3)),
            money("StateTaxWithheldAmt", "state_withholding_cents", d3),
            money("StateDistributionAmt", "state_distribution_cents", d3),
        ),
        _when(
            local,
            _group(
                "LocalTaxGrp",
                d2,
                money("LocalTaxWithheldAmt", "local_withholding_cents", d3),
                _when(c("locality") != "", _el("LocalityNm", _escaped(c("locality")), d3)),
                money("LocalDistributionAmt", "local_distribution_cents", d3),
            ),
        ),
    )
    return _group(
        "Form1099RDetail",
        depth,
        _el("TaxYr", str(tax_year), d1),
        _el("RecordId", c("record_id").cast(pl.String), d1),
        _when(c("cfsf"), _el("CFSFElectionStateCd", c("state"), d1)),
        _el("VoidInd", "0", d1),
        _el("CorrectedInd", _flag(c("corrected")), d1),
        _when(c("corrected"), _previous(d1)),
        _recipient_detail(d1),
        _el("RecipientAccountNum", _escaped(c("account")), d1),
        money("GrossDistributionAmt", "box1_cents"),
        # Box 2a is left out when the taxable amount is not determined (box 2b, first box; F1099R006).
        _when(~c("taxable_not_determined"), money("TaxableAmt", "box2a_cents")),
        _el("TxblAmountNotDeterminedInd", _flag(c("taxable_not_determined")), d1),
        _el("TotalDistributionInd", _flag(c("total_distribution")), d1),
        money("CapitalGainAmt", "box3_cents"),
        money("FederalIncomeTaxWithheldAmt", "box4_cents"),
        money("EmployeeContributionsAmt", "box5_cents"),
        money("NetUnrlzdSecuritiesApprcnAmt", "box6_cents"),
        _el("Form1099RDistributionCd", c("distribution_codes"), d1),
        _el("IRASEPSIMPLEInd", _flag(c("ira_sep_simple")), d1),
        money("OtherDistributionAmt", "box8_cents"),
        # Box 9a: left out at 100 % or when not applicable (as in the FIRE record).
        _when(
            c("box9a_percent").is_not_null() & (c("box9a_percent") != 100),
            _el("RcpntTotalDistributionPct", ratio_expr(c("box9a_percent").fill_null(0)), d1),
        ),
        money("TotalEmployeeContributionsAmt", "box9b_cents"),
        money("IRRAllocatedAmt", "box10_cents"),
        _when(
            c("box11_year").is_not_null(),
            _el("DesignatedROTHAcctFirstYr", c("box11_year").fill_null(0).cast(pl.String), d1),
        ),
        _el("FATCAFilingRequirementInd", "0", d1),
        _when(c("box13_date").is_not_null(), _el("PaymentDt", c("box13_date").fill_null(""), d1)),
        _when(c("state") != "", state_local),
    )


def record_template(tax_year: int) -> Template:
    """The template every Form1099RDetail is rendered from (:class:`Template`)."""
    return Template.of(_form_detail(tax_year))


def record_paths() -> tuple[tuple[str, ...], ...]:
    """The paths of a record's leaves below its submission's detail (the same for every tax year):
    what a :class:`RecordCheck` is made for."""
    return tuple(path for path, _, _ in record_template(2000).leaves)


#: A record's shape, kept with the values of its submission (:class:`Template`).
_SHAPE = "_shape"


# ---------------------------------------------------------------------------------------------
# Checks: what IRIS cannot take even after normalisation (ranked after shared.filing_problems)
# ---------------------------------------------------------------------------------------------


def _value_checks() -> list[tuple[str, pl.Expr]]:
    """What this writer refuses in a return (over :func:`recipient_values`), besides
    :func:`transforms.irs.shared.filing_problems`: a payee name or address IRIS cannot take even
    after normalisation (the masks ``transforms.irs.shared.unwritable_name_address`` gives the
    pre-filing checks), a box 7 value the schema does not enumerate, an account number, state id or
    locality IRIS cannot carry as it is, a correction without a valid UniqueRecordId."""
    c = pl.col
    blank = lambda column: c(column).fill_null("") == ""  # noqa: E731
    return [
        (
            "payee first or last name empty, or a word of it longer than 20 letters (IRIS PersonName) [iris_person_name]",
            ~c("is_entity") & (blank("first_name") | blank("last_name")),
        ),
        (
            "payee entity name longer than two lines of 75 (IRIS BusinessName) [iris_business_name]",
            c("is_entity") & c("business_1").is_null(),
        ),
        (
            "payee street empty or longer than two lines of 35 (IRIS AddressLine1Txt/2Txt) [iris_street]",
            blank("street_1"),
        ),
        (
            "payee city empty, with a digit, or too long (IRIS CityNm: letters only) [iris_city]",
            (~c("foreign") & blank("city")) | (c("foreign") & c("city").is_null()),
        ),
        (
            "payee country not on the IRS's country list (IRIS CountryCd) [iris_country]",
            c("foreign") & c("country").is_null(),
        ),
        (
            "distribution_codes not one of the values IRIS takes for box 7 (Form1099RDistributionCd)",
            ~c("distribution_codes").is_in(sorted(DISTRIBUTION_CODES)),
        ),
        (
            "account_number not IRIS text (visible characters, single spaces)",
            c("account").ne_missing(c("account_raw")),
        ),
        ("state_payer_id longer than 25 characters (IRIS StateIdNum)", c("state_payer_id").is_null()),
        ("locality longer than 20 characters (IRIS LocalityNm)", c("locality").is_null()),
        (
            "state not a state IRIS takes (StateAbbreviationCd)",
            (c("state") != "") & ~c("state").is_in(sorted(STATES)),
        ),
        (
            "U.S. payee state_code not a state IRIS takes (StateAbbreviationCd)",
            ~c("foreign") & ~c("state_code").is_in(sorted(STATES)),
        ),
        (
            "corrections need prev_unique_record_id, the original record's IRIS UniqueRecordId "
            '("receipt id|submission id|record id")',
            c("corrected") & ~c("prev_unique_record_id").fill_null("").str.contains(f"^{UNIQUE_RECORD_ID}$"),
        ),
        (
            'original_unique_submission_id not a UniqueSubmissionId ("receipt id|submission id")',
            c("original_submission").is_not_null()
            & ~c("original_submission").str.contains(f"^{UNIQUE_SUBMISSION_ID}$"),
        ),
    ]


#: Ranks of this writer's problems: after every rank of ``filing_problems``.
_RANK = 100


def value_problems(values: pl.DataFrame) -> list[Problem]:
    """The problems :func:`_value_checks` finds in ``values`` (returns named by form_id)."""
    checks = _value_checks()
    masks = values.select(m.fill_null(True).alias(str(i)) for i, (_, m) in enumerate(checks))
    return [
        problem(_RANK + i, message, values, masks[str(i)])
        for i, (message, _) in enumerate(checks)
        if masks[str(i)].any()
    ]


def payer_problems(filing: pl.DataFrame) -> list[Problem]:
    """Returns whose payer's name, street, city, state or phone IRIS cannot take (IssuerDetail)."""
    payers = _payer_values(filing)
    bad = payers.select(
        pl.col("name_1").is_null()
        | pl.col("street_1").fill_null("").eq("")
        | pl.col("city").fill_null("").eq("")
        | pl.col("phone").is_null()
        | ~pl.col("state").is_in(sorted(STATES))
    ).to_series()
    if not bad.any():
        return []
    tins = payers.filter(bad)["payer_tin"].implode()
    message = "payer name, street, city, state or phone that IRIS cannot take (IssuerDetail)"
    return [problem(_RANK + 50, message, filing, digits_only(pl.col("payer_tin")).is_in(tins))]


def _payer_values(filing: pl.DataFrame) -> pl.DataFrame:
    """One row per payer (TIN digits, first return's details): IssuerDetail's values."""
    c = pl.col
    name_1, name_2 = name_lines(alpha_text(c("payer_name")))
    street_1, street_2 = street_lines(c("payer_address"))
    return (
        filing.lazy()
        .select(digits_only(c("payer_tin")).alias("payer_tin"), *RETURN_PAYER_COLUMNS)
        .unique("payer_tin", keep="first", maintain_order=True)
        .select(
            "payer_tin",
            name_1.alias("name_1"),
            name_2.alias("name_2"),
            street_1.alias("street_1"),
            street_2.alias("street_2"),
            city_name(c("payer_city")).alias("city"),
            c("payer_state")
            .cast(pl.String)
            .fill_null("")
            .str.strip_chars()
            .str.to_uppercase()
            .alias("state"),
            digits_only(c("payer_zip")).alias("zip"),
            phone_number(c("payer_phone")).alias("phone"),
        )
        .collect()
    )


def check_transmitter(transmitter: Transmitter, options: IrisOptions) -> None:
    """Raise :class:`FilingInputError` when the manifest cannot carry the transmitter's settings
    (TransmitterGrp's types; SoftwareIdType; OriginalReceiptId's pattern)."""
    import re

    problems = []
    tin = "".join(ch for ch in transmitter.tin if ch.isdigit())
    if len(tin) != 9 or len(set(tin)) == 1:
        problems.append("TIN must be 9 valid digits")
    if not re.fullmatch(r"[A-Za-z0-9]{5}", transmitter.tcc):
        problems.append("the TCC must be 5 letters or digits")
    texts = pl.DataFrame(
        {
            "name": [transmitter.name],
            "company": [transmitter.company_name],
            "address": [transmitter.address],
            "city": [transmitter.city],
            "contact": [transmitter.contact_name],
            "phone": [transmitter.contact_phone],
        }
    ).select(
        name_lines(alpha_text(pl.col("name")))[0].alias("name"),
        name_lines(alpha_text(pl.col("company")))[0].alias("company"),
        street_lines(pl.col("address"))[0].alias("address"),
        city_name(pl.col("city")).alias("city"),
        _contact_name(pl.col("contact")).alias("contact"),
        phone_number(pl.col("phone")).alias("phone"),
    )
    for column, words in (
        ("name", "name"), ("company", "company name"), ("address", "address"), ("city", "city"),
        ("contact", "contact name"),
    ):  # fmt: skip
        if not texts[column][0]:
            problems.append(f"the {words} cannot be written in IRIS")
    if not texts["phone"][0]:
        problems.append("the contact phone must be 10 to 30 digits")
    if transmitter.state.upper() not in STATES or not re.fullmatch(r"[0-9]{5}([0-9]{4})?", transmitter.zip):
        problems.append("state and ZIP code must be a U.S. state and 5 or 9 digits")
    email = transmitter.contact_email.strip()
    if email and not (len(email) <= 75 and re.fullmatch(r"[\x21-\x7E]+@[\x21-\x7E]+", email)):
        problems.append("the contact e-mail is not an address IRIS takes")
    if not re.fullmatch(r"[A-Za-z0-9]{0,10}", options.software_id):
        problems.append("the software id must be at most 10 letters or digits")
    if options.original_receipt_id is not None and not re.fullmatch(RECEIPT_ID, options.original_receipt_id):
        problems.append("the original receipt id is not a receipt id (YYYY-99999999999-XXXXXXXXX)")
    if problems:
        raise FilingInputError("transmitter settings: " + "; ".join(problems))


def _contact_name(expr: pl.Expr) -> pl.Expr:
    """PersonNameType (ContactNameGrp/PersonNm): letters, digits, ' and -, single spaces, 35 long."""
    text = alpha_text(expr).str.replace_all("&", " ").str.replace_all(r" {2,}", " ").str.strip_chars(" ")
    return pl.when(text.str.len_chars() <= 35).then(text)


# ---------------------------------------------------------------------------------------------
# The manifest and the submission headers (lxml: a few per transmission)
# ---------------------------------------------------------------------------------------------


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _add(parent: etree._Element, name: str, text: object | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(name))
    if text is not None:
        element.text = str(text)
    return element


def _us_address(
    parent: etree._Element, line_1: str, line_2: str, city: str, state: str, zip_code: str
) -> None:
    address = _add(_add(parent, "MailingAddressGrp"), "USAddress")
    _add(address, "AddressLine1Txt", line_1)
    if line_2:
        _add(address, "AddressLine2Txt", line_2)
    _add(address, "CityNm", city)
    _add(address, "StateAbbreviationCd", state)
    _add(address, "ZIPCd", zip_code)


def _business(parent: etree._Element, line_1: str, line_2: str) -> None:
    name = _add(parent, "BusinessName")
    _add(name, "BusinessNameLine1Txt", line_1)
    if line_2:
        _add(name, "BusinessNameLine2Txt", line_2)


@dataclass(frozen=True)
class _Head:
    """A transmission's manifest, to be written with its counts and id."""

    transmitter: Transmitter
    tax_year: int
    test_file: bool
    kind: str  # O, C or R
    options: IrisOptions

    @cached_property
    def _texts(self) -> tuple:
        """The transmitter's names, street, city and contact as IRIS takes them (worked out once:
        the manifest is written twice per transmission)."""
        t = self.transmitter
        return (
            pl.DataFrame(
                {
                    "name": [t.name],
                    "company": [t.company_name],
                    "address": [t.address],
                    "city": [t.city],
                    "contact": [t.contact_name],
                }
            )
            .select(
                *(e.alias(f"name_{i}") for i, e in enumerate(name_lines(alpha_text(pl.col("name"))))),
                *(e.alias(f"company_{i}") for i, e in enumerate(name_lines(alpha_text(pl.col("company"))))),
                *(e.alias(f"street_{i}") for i, e in enumerate(street_lines(pl.col("address")))),
                city_name(pl.col("city")).alias("city"),
                _contact_name(pl.col("contact")).alias("contact"),
            )
            .row(0)
        )

    def text(self, issuers: int, returns: int, transmission_id: str) -> bytes:
        """XML declaration, root start tag and the indented manifest."""
        t, options = self.transmitter, self.options
        name_1, name_2, company_1, company_2, street_1, street_2, city, contact = self._texts
        root = etree.Element(_q("IRTransmission"), nsmap={None: NAMESPACE})
        manifest = _add(root, "IRTransmissionManifest")
        _add(manifest, "SchemaVersionNum", options.schema_version)
        _add(manifest, "UniqueTransmissionId", transmission_id)
        _add(manifest, "TaxYr", self.tax_year)
        _add(manifest, "PriorYearDataInd", "0")  # TMFST038
        _add(manifest, "TransmissionTypeCd", self.kind)
        _add(manifest, "TestCd", "T" if self.test_file else "P")
        if options.original_receipt_id is not None:
            _add(manifest, "OriginalReceiptId", options.original_receipt_id)
        group = _add(manifest, "TransmitterGrp")
        _add(group, "TIN", "".join(ch for ch in t.tin if ch.isdigit()))
        _add(group, "TINSubmittedTypeCd", "BUSINESS_TIN")
        _add(group, "TransmitterControlCd", t.tcc.upper())
        _add(group, "ForeignEntityInd", "0")
        _business(group, name_1, name_2)
        company = _add(group, "CompanyGrp")
        _business(company, company_1, company_2)
        _us_address(
            company, street_1, street_2, city, t.state.upper(), "".join(ch for ch in t.zip if ch.isdigit())
        )
        _add(_add(group, "ContactNameGrp"), "PersonNm", contact)
        if t.contact_email.strip():
            _add(group, "ContactEmailAddressTxt", t.contact_email.strip())
        _add(group, "ContactPhoneNum", "".join(ch for ch in t.contact_phone if ch.isdigit()))
        _add(manifest, "VendorCd", t.vendor_indicator)
        _add(manifest, "SoftwareId", options.software_id)
        _add(manifest, "TotalIssuerFormCnt", issuers)
        _add(manifest, "TotalRecipientFormCnt", returns)
        _add(manifest, "PaperSubmissionInd", "0")
        _add(manifest, "MediaSourceCd", "M")
        _add(manifest, "SubmissionChannelCd", "A2A")
        text = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        return text[: -len(_CLOSING)]


_CLOSING = b"</IRTransmission>\n"
#: The UniqueTransmissionId of a transmission while its id is derived (same length as any id).
_PLACEHOLDER_UUID = str(uuid.UUID(bytes=bytes(16), version=4))


def _header(
    payer: dict,
    totals: dict,
    states: list[dict],
    *,
    submission_id: int,
    tax_year: int,
    cfsf: bool,
    original: str | None,
) -> bytes:
    """An IRSubmission1Header, indented at depth 2 (inside IRSubmission1Grp)."""
    header = etree.Element(_q("IRSubmission1Header"), nsmap={None: NAMESPACE})
    _add(header, "SubmissionId", submission_id)
    if original is not None:
        _add(header, "OriginalUniqueSubmissionId", original)
    _add(header, "TaxYr", tax_year)
    issuer = _add(header, "IssuerDetail")
    _add(issuer, "ForeignEntityInd", "0")
    _add(issuer, "TIN", payer["payer_tin"])
    _add(issuer, "TINSubmittedTypeCd", "BUSINESS_TIN")
    _business(issuer, payer["name_1"], payer["name_2"])
    _us_address(issuer, payer["street_1"], payer["street_2"], payer["city"], payer["state"], payer["zip"])
    if payer["phone"]:
        _add(issuer, "PhoneNum", payer["phone"])
    _add(header, "FormTypeCd", "1099R")
    _add(header, "ParentFormTypeCd", "1096")
    _add(header, "CFSFElectionInd", "1" if cfsf else "0")
    _add(header, "TotalReportedRcpntFormCnt", totals["count"])
    form_totals = _add(header, "IRSubmission1FormTotals")
    amounts = _add(form_totals, "Form1099RTotalAmtGrp")
    for column in TOTAL_AMOUNTS:
        _add(amounts, AMOUNT_ELEMENT[column], dollars_text(totals[column]))
    for state in states:  # SHAREDIRFORM022: one per CF/SF state of the submission
        group = _add(form_totals, "Form1099RTotalByStateGrp")
        _add(group, "StateAbbreviationCd", state["state"])
        _add(group, "TotalReportedRcpntFormCnt", state["count"])
        _add(group, "FederalIncomeTaxWithheldAmt", dollars_text(state["box4_cents"]))
        _add(group, "StateTaxWithheldAmt", dollars_text(state["state_withholding_cents"]))
        _add(group, "LocalTaxWithheldAmt", dollars_text(state["local_withholding_cents"]))
        for column in TOTAL_AMOUNTS[1:]:
            _add(group, AMOUNT_ELEMENT[column], dollars_text(state[column]))
    text = etree.tostring(header, pretty_print=True).decode()
    text = text.replace(f' xmlns="{NAMESPACE}"', "", 1)
    return "".join(f"    {line}\n" for line in text.splitlines()).encode()


_GROUP_OPEN = b"  <IRSubmission1Grp>\n"
_DETAIL_OPEN = b"    <IRSubmission1Detail>\n"
_DETAIL_CLOSE = b"    </IRSubmission1Detail>\n  </IRSubmission1Grp>\n"


# ---------------------------------------------------------------------------------------------
# The writer: submissions into transmissions
# ---------------------------------------------------------------------------------------------


def transmission_kind(kinds: list[str | None]) -> bool:
    """Whether a transmission whose returns have these ``corrected`` values is one of corrections
    (FTMFST001 / FTMFST003: CorrectedInd is the same on every form of a transmission)."""
    kinds = {kind or "" for kind in kinds}
    if "" in kinds and len(kinds) > 1:
        raise FilingInputError(
            "an IRIS transmission holds either originals or corrections: split the filing by `corrected`"
        )
    return "" not in kinds


#: Values of a return kept until its submission's header is written (for the totals).
_TOTAL_COLUMNS = (
    "form_id", "record_id", "payer_tin", "original_submission", "taxable_not_determined", "cfsf", "state",
    *TOTAL_AMOUNTS, "state_withholding_cents", "local_withholding_cents",
    # for the business rules over the transmission (transforms.irs.iris.iris_rules)
    "plan_id", "corrected", "prev_unique_record_id", "payee_tin", "account",
)  # fmt: skip


@dataclass
class _Submission:
    """The records of one submission being filled (text pieces and their values, in file order)."""

    key: tuple[str, str | None]  # payer TIN digits, original unique submission id
    texts: list[pl.Series] = field(default_factory=list)
    values: list[pl.DataFrame] = field(default_factory=list)
    size: int = 0
    returns: int = 0

    def add(self, texts: pl.Series, values: pl.DataFrame, size: int) -> None:
        self.texts.append(texts)
        self.values.append(values)
        self.size += size
        self.returns += texts.len()

    def cut(self, room: int) -> _Submission:
        """The first records whose text fits in ``room`` bytes (at least one), taken out of this."""
        texts = pl.concat(self.texts)
        values = pl.concat(self.values)
        sizes = texts.str.len_bytes().cast(pl.Int64).cum_sum()
        take = max(1, int((sizes <= room).sum()))
        first = _Submission(self.key, [texts.head(take)], [values.head(take)], int(sizes[take - 1]), take)
        self.texts, self.values = [texts.slice(take)], [values.slice(take)]
        self.size -= first.size
        self.returns -= take
        return first


@dataclass
class _Packer:
    """Submissions into transmissions of at most ``max_bytes`` (see the module docstring)."""

    head: _Head
    payers: dict[str, dict]  # payer TIN digits → IssuerDetail values
    head_bound: int  # the largest manifest any transmission of the filing can have
    max_bytes: int | None
    done: list[Transmission] = field(default_factory=list)  # closed, not yet yielded
    closed: int = 0  # transmissions closed so far
    blocks: list[tuple[bytes, _Submission]] = field(default_factory=list)  # the open transmission
    body: int = 0

    def header(self, submission: _Submission, submission_id: int) -> bytes:
        values = pl.concat(submission.values)
        totals = values.select(
            pl.len().alias("count"),
            *(pl.col(c).sum() for c in TOTAL_AMOUNTS if c != "box2a_cents"),
            # TaxableAmt is left out of the returns whose taxable amount is not determined.
            pl.col("box2a_cents").filter(~pl.col("taxable_not_determined")).sum(),
        ).row(0, named=True)
        states = (
            values.filter(pl.col("cfsf"))
            .group_by("state")
            .agg(
                pl.len().alias("count"),
                *(pl.col(c).sum() for c in TOTAL_AMOUNTS if c != "box2a_cents"),
                pl.col("box2a_cents").filter(~pl.col("taxable_not_determined")).sum(),
                pl.col("state_withholding_cents").sum(),
                pl.col("local_withholding_cents").sum(),
            )
            .sort("state")
            .to_dicts()
        )
        return _header(
            self.payers[submission.key[0]],
            totals,
            states,
            submission_id=submission_id,
            tax_year=self.head.tax_year,
            cfsf=bool(states),
            original=submission.key[1],
        )

    def room(self) -> int | None:
        """Bytes of records and headers an empty transmission has room for."""
        if self.max_bytes is None:
            return None
        return self.max_bytes - self.head_bound - len(_CLOSING)

    def wrapped(self, header: bytes, submission: _Submission) -> int:
        return len(_GROUP_OPEN) + len(header) + len(_DETAIL_OPEN) + submission.size + len(_DETAIL_CLOSE)

    def add(self, submission: _Submission) -> None:
        """A whole submission: into the open transmission if it fits, else into the next."""
        header = self.header(submission, len(self.blocks) + 1)
        size = self.wrapped(header, submission)
        room = self.room()
        if self.blocks and room is not None and self.body + size > room:
            self.close()
            header = self.header(submission, 1)
            size = self.wrapped(header, submission)
        self.blocks.append((header, submission))
        self.body += size

    def overflow(self, pending: _Submission, header_bound: int) -> None:
        """``pending`` (one payer's records so far) is too large for one transmission: the open
        transmission is closed, and transmissions filled with submissions cut from ``pending``
        while the rest does not fit an empty one."""
        room = self.room()
        assert room is not None
        space = room - len(_GROUP_OPEN) - header_bound - len(_DETAIL_OPEN) - len(_DETAIL_CLOSE)
        if space < 1:
            raise FilingInputError("max_bytes leaves no room for a return in a transmission")
        while pending.size > space:
            if self.blocks:
                self.close()
            self.add(pending.cut(space))
            self.close()

    def close(self) -> None:
        """The open transmission, finished: its manifest, id and index."""
        if not self.blocks:
            return
        returns = sum(s.returns for _, s in self.blocks)
        issuers = len({s.key[0] for _, s in self.blocks})
        pieces: list = []
        index = []
        for number, (header, submission) in enumerate(self.blocks, start=1):
            pieces += [_GROUP_OPEN, header, _DETAIL_OPEN]
            pieces += [piece for t in submission.texts for piece in string_pieces(t)]
            pieces.append(_DETAIL_CLOSE)
            index.append(
                pl.concat(submission.values).select(
                    "form_id", pl.lit(number, pl.Int64).alias("submission_id"), "record_id"
                )
            )
        pieces.append(_CLOSING)
        transmission_id = self.head.options.transmission_id
        if transmission_id is None:
            digest = hashlib.sha256(self.head.text(issuers, returns, ""))
            for piece in pieces:
                digest.update(piece)
            transmission_id = UTID_FORMAT.format(
                uuid=uuid.UUID(bytes=digest.digest()[:16], version=4), tcc=self.head.transmitter.tcc.upper()
            )
        head = self.head.text(issuers, returns, transmission_id)
        number = self.closed + 1
        problems = _business_rules(self.head, head, self.blocks)
        if rejected(problems):
            raise FilingInputError(
                f"IRIS transmission {number} breaks the IRS's business rules: "
                + "; ".join(p.text() for p in rejected(problems))
            )
        if self.head.options.record_check is not None:
            self._check_skeleton(number, head)
        pieces.insert(0, head)
        self.done.append(
            Transmission(
                number=number,
                unique_transmission_id=transmission_id,
                pieces=pieces,
                rule_reports=problems,
                returns=returns,
                submissions=len(self.blocks),
                issuers=issuers,
                index=pl.concat(index),
            )
        )
        self.blocks, self.body = [], 0
        self.closed += 1

    def _check_skeleton(self, number: int, head: bytes) -> None:
        """The open transmission's manifest and headers as written, each submission with the first
        record of each of its shapes, validated against the schema (:class:`RecordCheck`)."""
        check = self.head.options.record_check
        assert check is not None
        document, index = [head], []
        for submission_id, (header, submission) in enumerate(self.blocks, start=1):
            values = pl.concat(submission.values).with_row_index("_at")
            first = values.unique(_SHAPE, keep="first", maintain_order=True)
            texts = pl.concat(submission.texts).gather(first.get_column("_at"))
            document += [_GROUP_OPEN, header, _DETAIL_OPEN, "".join(texts).encode(), _DETAIL_CLOSE]
            index.append(first.select("form_id", pl.lit(submission_id, pl.Int64).alias("submission_id")))
        document.append(_CLOSING)
        try:
            check.skeleton(b"".join(document), pl.concat(index))
        except SchemaError as error:
            raise SchemaError(f"transmission {number}: {error}") from None


def _business_rules(
    head: _Head, manifest_text: bytes, blocks: list[tuple[bytes, _Submission]]
) -> list[RuleProblem]:
    """The IRIS business rules a transmission about to be written breaks
    (:func:`transforms.irs.iris.iris_rules.transmission_problems`): its manifest and submission
    headers as written (parsed: a few small elements), its records from the values they were
    written from."""
    manifest = etree.fromstring(manifest_text + _CLOSING).find(_q("IRTransmissionManifest"))
    headers, records = [], []
    for number, (header, submission) in enumerate(blocks, start=1):
        h = etree.fromstring(f'<r xmlns="{NAMESPACE}">'.encode() + header + b"</r>")[0]
        values = pl.concat(submission.values)

        def text(path: str, h: etree._Element = h) -> str | None:
            node = h.find("/".join(_q(name) for name in path.split("/")))
            return None if node is None else (node.text or "")

        headers.append(
            {
                "SubmissionId": text("SubmissionId"),
                "OriginalUniqueSubmissionId": text("OriginalUniqueSubmissionId"),
                "TaxYr": int(text("TaxYr") or 0),
                "FormTypeCd": text("FormTypeCd"),
                "CFSFElectionInd": text("CFSFElectionInd"),
                "TotalReportedRcpntFormCnt": int(text("TotalReportedRcpntFormCnt") or -1),
                "TotalAmtGrp": text("IRSubmission1FormTotals/Form1099RTotalAmtGrp") is not None,
                "TotalByStateCds": [
                    g.findtext(_q("StateAbbreviationCd"))
                    for g in h.iterfind(f"{_q('IRSubmission1FormTotals')}/{_q('Form1099RTotalByStateGrp')}")
                ],
                "IssuerTIN": text("IssuerDetail/TIN"),
                "IssuerForeignEntityInd": text("IssuerDetail/ForeignEntityInd"),
                "IssuerForeignAddress": text("IssuerDetail/MailingAddressGrp/ForeignAddress") is not None,
                "IssuerPhoneNum": text("IssuerDetail/PhoneNum"),
                "payer": ", ".join(sorted(values.get_column("plan_id").drop_nulls().unique()))
                or f"submission {number}",
            }
        )
        records.append(
            values.select(
                pl.lit(text("SubmissionId")).alias("SubmissionId"),
                pl.col("record_id").cast(pl.String).alias("RecordId"),
                "form_id",
                pl.lit(head.tax_year, pl.Int64).alias("TaxYr"),
                pl.when(pl.col("corrected")).then(pl.lit("1")).otherwise(pl.lit("0")).alias("CorrectedInd"),
                pl.when(pl.col("corrected")).then(pl.col("prev_unique_record_id")).alias("UniqueRecordId"),
                pl.col("corrected").alias("PrevSubmittedRecRecipientGrp"),
                pl.when(pl.col("cfsf")).then(pl.col("state")).alias("CFSFElectionStateCd"),
                pl.col("payee_tin").alias("RecipientTIN"),
                pl.col("account").alias("RecipientAccountNum"),
            )
        )
    return transmission_problems(
        manifest,
        pl.DataFrame(headers, schema=SUBMISSION_COLUMNS),
        pl.concat(records) if records else pl.DataFrame(schema=RECORD_COLUMNS),
        cfsf_approved_payers=head.transmitter.cfsf_approved_payers,
        cfsf_states=cfsf_state_codes(head.tax_year),
        prepared_for_irs=head.options.prepared_for_irs,
    )


def iris_transmissions(
    filing: GroupedFiling, options: IrisOptions | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[Transmission]:
    """The IRIS transmissions of a filing (payer group by payer group: ``filing.load``), each as
    soon as it is complete. The returns are checked as they are rendered: a filing that cannot be
    written raises :class:`FilingInputError` after the checks of its last group (the problems of
    every group, as the whole-frame checks name them), and the transmissions yielded before the
    first problem are to be discarded."""
    options = options or IrisOptions()
    returns, load, transmitter, tax_year, test_file, _, group_rows = filing.parts()
    groups = groups_of(returns, group_rows, chunk_rows)
    is_correction = transmission_kind(returns.kinds)
    early: FilingInputError | None = None
    try:
        check_transmitter(transmitter, options)
    except FilingInputError as error:  # raised after the returns' problems
        early = error
    if options.max_bytes is not None and options.transmission_id is not None:
        raise FilingInputError("a transmission id is given for one transmission only: max_bytes must be None")

    def generate() -> Iterator[Transmission]:
        found = Findings(early=early)
        packer: _Packer | None = None
        for group in groups.to_dicts():
            frame = load(group["raw_tins"])
            if packer is None:
                packer = _Packer(
                    _head(frame, tax_year, transmitter, test_file, is_correction, options),
                    {},
                    0,
                    options.max_bytes,
                )
                packer.head_bound = len(packer.head.text(returns.payers.height, returns.returns, _UTID_BOUND))
            found.check(frame, tax_year, group["group"] == 0, payer_problems)
            packer.payers = _payer_rows(frame)
            for transmission in _pack_group(frame, tax_year, packer, chunk_rows, found):
                if found.clean:
                    yield transmission
            del frame
        found.raise_first()
        assert packer is not None
        packer.close()
        yield from packer.done
        packer.done.clear()

    return generate()


#: A UniqueTransmissionId's length (they all have it).
_UTID_BOUND = UTID_FORMAT.format(uuid=_PLACEHOLDER_UUID, tcc="XXXXX")


def _head(
    frame: pl.DataFrame,
    tax_year: int,
    transmitter: Transmitter,
    test_file: bool,
    is_correction: bool,
    options: IrisOptions,
) -> _Head:
    """The manifest's settings: the transmission type from the returns (O, C, or R for a
    replacement: FTMFST001, FTMFST004, FTMFST006)."""
    by_submission = "original_unique_submission_id" in frame.columns
    if by_submission and options.original_receipt_id is not None:
        raise FilingInputError(
            "a replacement names either the original receipt id or the original submissions, never both (FTMFST006)"
        )
    replacement = by_submission or options.original_receipt_id is not None
    if replacement and is_correction:
        raise FilingInputError("a replacement transmission holds originals (FTMFST001)")
    kind = "R" if replacement else "C" if is_correction else "O"
    return _Head(transmitter, tax_year, test_file, kind, options)


def _payer_rows(frame: pl.DataFrame) -> dict[str, dict]:
    """IssuerDetail's values per payer TIN (digits)."""
    rows = _payer_values(frame).to_dicts()
    return {row["payer_tin"]: row for row in rows}


def _pack_group(
    frame: pl.DataFrame, tax_year: int, packer: _Packer, chunk_rows: int, found: Findings
) -> Iterator[Transmission]:
    """The records of one payer group, rendered chunk by chunk (two at a time), into ``packer``:
    each transmission it closes is yielded. The problems of each chunk go to ``found``; once there
    are any, nothing more is packed (the checks go on)."""
    order = file_order(frame)
    unit = digits_only(pl.col("payer_tin"))
    if "original_unique_submission_id" in frame.columns:
        unit = pl.concat_str(
            unit, pl.lit("|"), pl.col("original_unique_submission_id").cast(pl.String).fill_null("")
        )
        keys = frame.select(unit.alias("k")).to_series().gather(order)
        order = order.gather(keys.arg_sort(descending=False, nulls_last=False))
    # RecordId: the return's place in its payer (or original submission), from 1 (unique within
    # any submission cut from it: FS1H002).
    units = frame.select(unit.alias("k")).to_series().gather(order).to_frame()
    record_ids = units.select(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("k")).to_series()
    pending: _Submission | None = None
    cfsf_payers = packer.head.transmitter.cfsf_approved_payers
    bounds: dict[tuple[str, str | None], int] = {}  # header bounds of the payers too large
    chunks = _chunks(
        frame, order, record_ids, tax_year, chunk_rows, cfsf_payers, packer.head.options.record_check
    )
    for texts, values, problems in chunks:
        found.add(problems)
        if not found.clean:
            continue
        keys = values.select(
            (pl.col("payer_tin") + pl.lit("|") + pl.col("original_submission").fill_null("")).alias("k")
        ).to_series()
        starts = pl.select(run_starts(pl.lit(keys))).to_series().arg_true().to_list() + [keys.len()]
        for start, end in zip(starts, starts[1:], strict=False):
            row = values.row(start, named=True)
            key = (row["payer_tin"], row["original_submission"])
            if pending is not None and pending.key != key:
                packer.add(pending)
                pending = None
            if pending is None:
                pending = _Submission(key)
            part = texts.slice(start, end - start)
            pending.add(part, values.slice(start, end - start), int(part.str.len_bytes().sum()))
            room = packer.room()
            if room is not None and pending.size > room - _HEADER_MARGIN:
                if key not in bounds:
                    bounds[key] = len(_header_bound(packer, frame, key))
                packer.overflow(pending, bounds[key])
            yield from packer.done
            packer.done.clear()
    if pending is not None and found.clean:
        packer.add(pending)
    yield from packer.done
    packer.done.clear()


#: More than any submission header takes (33 CF/SF state groups of about 1 KB, the issuer).
_HEADER_MARGIN = 65_536


def _header_bound(packer: _Packer, frame: pl.DataFrame, key: tuple[str, str | None]) -> bytes:
    """The header of the whole payer (or original submission) with the largest SubmissionId: no
    submission cut from it has a longer one (its totals and counts are no larger, its CF/SF states
    among the payer's). Only for a payer too large for one transmission."""
    rows = frame.filter(digits_only(pl.col("payer_tin")) == key[0])
    if key[1] is not None:
        rows = rows.filter(pl.col("original_unique_submission_id").cast(pl.String) == key[1])
    values = recipient_values(rows, packer.head.tax_year, packer.head.transmitter.cfsf_approved_payers)
    values = values.with_columns(pl.lit(1, pl.Int64).alias("record_id"))
    return packer.header(_Submission(key, [], [values.select(_TOTAL_COLUMNS)]), 99_999_999)


def _chunks(
    frame: pl.DataFrame,
    order: pl.Series,
    record_ids: pl.Series,
    tax_year: int,
    chunk_rows: int,
    cfsf_payers: frozenset[str] = frozenset(),
    check: RecordCheck | None = None,
) -> Iterator[tuple[pl.Series, pl.DataFrame, list[Problem]]]:
    """Per chunk of ``chunk_rows`` returns in ``order``: their Form1099RDetail texts, the values
    their submission's header totals need (and each record's shape) and the chunk's problems
    (:func:`value_problems`). With ``check``, every leaf's texts are validated against the schema
    as the chunk is rendered (:meth:`RecordCheck.values`)."""
    starts = iter(range(0, order.len(), chunk_rows))
    template = record_template(tax_year)
    columns = [template.text.alias("text"), template.shape().alias(_SHAPE)]
    if check is not None:
        columns += check.slots(template.leaves, lambda present: present)

    # the returns come in file order already (as flows.irs.files sorts them): a chunk is a slice of
    # the frame (no copy), not its rows gathered
    in_order = bool(order.len() == 0 or (order[0] == 0 and order.diff().drop_nulls().eq(1).all()))

    def render(start: int) -> tuple[pl.Series, pl.DataFrame, list[Problem]]:
        if in_order:
            returns = frame.slice(start, chunk_rows)
        else:
            returns = frame.select(pl.all().gather(order.slice(start, chunk_rows)))
        values = recipient_values(returns, tax_year, cfsf_payers).with_columns(
            record_ids.slice(start, chunk_rows).alias("record_id")
        )
        problems = value_problems(values)
        if problems:
            return pl.Series([], dtype=pl.String), values.clear(), problems
        rendered = values.lazy().select(columns).collect()
        if check is not None:  # every leaf's texts against the leaf's declaration (RecordCheck)
            check.values(rendered.drop("text", _SHAPE), values.get_column("form_id"))
        return rendered.get_column("text"), values.select(_TOTAL_COLUMNS).with_columns(rendered[_SHAPE]), []

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        pending = deque(pool.submit(render, start) for start in islice(starts, _WORKERS))
        while pending:
            texts, values, problems = pending.popleft().result()
            for start in islice(starts, 1):
                pending.append(pool.submit(render, start))
            yield texts, values, problems


# ---------------------------------------------------------------------------------------------
# One transmission from a frame in memory
# ---------------------------------------------------------------------------------------------


def _one(
    filing: pl.DataFrame,
    transmitter: Transmitter,
    tax_year: int,
    test_file: bool,
    options: IrisOptions,
    chunk_rows: int,
) -> Transmission:
    grouped = GroupedFiling(
        outline(filing.lazy(), tax_year), lambda _: filing, transmitter, tax_year, test_file, group_rows=2**62
    )
    (transmission,) = iris_transmissions(grouped, options, chunk_rows)
    return transmission


def write_iris_xml(
    filing: pl.DataFrame,
    transmitter: Transmitter,
    *,
    tax_year: int,
    test_file: bool,
    options: IrisOptions | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> bytes:
    """One IRIS transmission (UTF-8) of the returns in ``filing`` (:data:`REQUIRED_COLUMNS`
    of ``transforms.irs.shared``; see the module docstring for the optional columns), whatever its
    size: ``options.max_bytes`` is not applied (:func:`iris_transmissions` splits a filing)."""
    options = _single(options)
    transmission = _one(filing, transmitter, tax_year, test_file, options, chunk_rows)
    buffer = io.BytesIO()
    while transmission.pieces:  # each piece released once copied: the document is held once
        buffer.write(transmission.pieces.pop(0))
    return buffer.getvalue()


def iter_iris_xml(
    filing: pl.DataFrame,
    transmitter: Transmitter,
    *,
    tax_year: int,
    test_file: bool,
    options: IrisOptions | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """:func:`write_iris_xml`'s document in consecutive pieces."""
    options = _single(options)
    transmission = _one(filing, transmitter, tax_year, test_file, options, chunk_rows)
    return (bytes(memoryview(p)) for p in transmission.pieces)


def _single(options: IrisOptions | None) -> IrisOptions:
    from dataclasses import replace

    return replace(options or IrisOptions(), max_bytes=None)
