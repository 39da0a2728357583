"""Publication 1220 (FIRE) file for Form 1099-R: T, A, B, C, K and F records of 750 bytes.

Authority: Publication 1220, *Specifications for Electronic Filing of Forms 1097, 1098, 1099, 3921,
3922, 5498, and W-2G* (Rev. 9-2025, tax year 2025), as transcribed in
``docs/reference/irs-filing-formats.md`` §§2-14. Every position below is **(transcribed)**: verify
it against Publication 1220 before a production filing (open question 1 of that document).

Choices made here (docs/reference/irs-filing-formats.md §17):

* positions 749-750 of every record hold CR LF, inside the 750 bytes (never appended after them);
* one A record per (payer TIN, correction kind): originals, "G" and "C" returns under separate A
  records (§2, §13), sorted original, G, C; B records sorted by account number inside each A;
* Combined Federal/State Filing (§12) is used only for the payers the settings approve
  (``Transmitter.cfsf_approved_payers``: Pub 1220 Part A, approval through a CF/SF test file) and
  only for the returns whose box 15 state is on the tax year's list (parameter
  ``cfsf_state_codes``; Missouri is not from 2025): A position 6 = "1", B 747-748 = the numeric
  code, one K record per state after the C record (``transforms.irs.shared.cfsf_code``);
* a foreign payee's free-format address ends with the country's name, never its ISO code
  (:func:`_foreign_address`); the first payee name line ends with a full word (:func:`_name_lines`);
* the payee name control is blank for an estate or a trust (``transforms.irs.shared.name_control``:
  the IRS's rules for them need a person's surname the extract does not give).

The record layouts are declared once, as data (``LAYOUTS``); the writer here and the reader and
checker in :mod:`transforms.irs.fire.pub1220_reader` both use them. Every record is one polars
``concat_str`` per layout (``line_expr``: runs of fixed text merged into one literal). A, C and K
records come from group-bys of the returns' amounts, T and F from one-row frames; B records are
rendered in chunks of ``CHUNK_ROWS`` returns in file order (two chunks at a time, on two threads)
and written out as they come, so memory holds the file and one chunk of returns, not all the
returns' fields at once (:func:`iter_pub1220` streams the file itself). No Python loop over
returns or payers.

Cost, measured on a 2-core machine with a generated extract (785 k returns, idle machine): the
writer went from 6.6 s and 2.9 GB above its input to 3.5 s and 1.1 GB (0.6 GB of which is the
file), the checker from 16 s and 4.0 GB to 2.2 s and 0.24 GB; byte for byte the same output and
the same findings.

Privacy: error messages name returns by ``form_id`` / ``account_number`` only, never by TIN or name.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

import polars as pl
import pyarrow as pa

from transforms.irs.grouped import Findings, GroupedFiling, groups_of
from transforms.irs.shared import (
    EXAMPLES,
    MONEY_COLUMNS,
    RETURN_PAYEE_COLUMNS,
    TYPE_OF_TIN,
    FilingInputError,
    Transmitter,
    account_key,
    alpha_text,
    cfsf_code,
    clean_text,
    correction_rank,
    country_name_of,
    digits_only,
    file_order,
    fit_words,
    is_foreign_address,
    name_control,
    payer_digits,
    rest_after,
    string_buffer,
    validate_filing,
)

RECORD_LENGTH = 750
LINE_END = "\r\n"


class Field(NamedTuple):
    """One field of a record: 1-based ``start``, ``length``, ``name`` and ``kind``.

    kinds: ``const`` (the text in ``fixed``), ``blank``, ``zeros``, ``eol`` (CR LF), ``alpha``
    (upper case, left-justified, blank-filled), ``name`` (as alpha, only A-Z 0-9 space & -),
    ``text`` (mixed case allowed: the contact e-mail), ``tin`` (9 digits, or blanks),
    ``number`` (right-justified, zero-filled integer), ``money`` (same, in cents),
    ``opt_number`` (number or blanks), ``date`` (YYYYMMDD or blanks), ``opt_digits`` (digit
    code or blanks).
    """

    start: int
    length: int
    name: str
    kind: str
    fixed: str = ""

    @property
    def end(self) -> int:
        return self.start + self.length - 1


#: Amount codes in Publication 1220 order: the 18 payment-amount slots of the B record and the 18
#: control totals of the C and K records (docs/reference/irs-filing-formats.md §6, §9).
AMOUNT_CODES: tuple[str, ...] = (
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F", "G", "H", "J",
)  # fmt: skip

#: Form 1099-R box behind each amount code (docs/reference/irs-filing-formats.md §5.1). Code 7 and C-J are unused
#: (zeros). Code A (traditional IRA/SEP/SIMPLE or Roth conversion) repeats box 1 when the
#: IRA/SEP/SIMPLE indicator is set, which never happens for employer plans (§17 rule 3).
BOX_BY_AMOUNT_CODE: dict[str, str] = {
    "1": "box1_cents",
    "2": "box2a_cents",
    "3": "box3_cents",
    "4": "box4_cents",
    "5": "box5_cents",
    "6": "box6_cents",
    "8": "box8_cents",
    "9": "box9b_cents",
    "B": "box10_cents",
}


def amount_field(code: str) -> str:
    """Name of the B-record payment field of an amount code (``amount_1`` ... ``amount_j``)."""
    return f"amount_{code.lower()}"


def total_field(code: str) -> str:
    """Name of the C/K-record control-total field of an amount code (``total_1`` ... ``total_j``)."""
    return f"total_{code.lower()}"


def _amount_slots(first: int, width: int, *, totals: bool) -> list[Field]:
    namer = total_field if totals else amount_field
    return [Field(first + i * width, width, namer(code), "money") for i, code in enumerate(AMOUNT_CODES)]


# ---------------------------------------------------------------------------------------------
# Record layouts (docs/reference/irs-filing-formats.md §4-§11, transcribed from Publication 1220)
# ---------------------------------------------------------------------------------------------

T_LAYOUT: tuple[Field, ...] = (
    Field(1, 1, "record_type", "const", "T"),
    Field(2, 4, "payment_year", "number"),
    Field(6, 1, "prior_year_indicator", "alpha"),
    Field(7, 9, "transmitter_tin", "tin"),
    Field(16, 5, "transmitter_control_code", "alpha"),
    Field(21, 7, "blank_21", "blank"),
    Field(28, 1, "test_file_indicator", "alpha"),
    Field(29, 1, "foreign_entity_indicator", "alpha"),
    Field(30, 40, "transmitter_name", "alpha"),
    Field(70, 40, "transmitter_name_continuation", "alpha"),
    Field(110, 40, "company_name", "alpha"),
    Field(150, 40, "company_name_continuation", "alpha"),
    Field(190, 40, "company_mailing_address", "alpha"),
    Field(230, 40, "company_city", "alpha"),
    Field(270, 2, "company_state", "alpha"),
    Field(272, 9, "company_zip", "alpha"),
    Field(281, 15, "blank_281", "blank"),
    Field(296, 8, "total_number_of_payees", "number"),
    Field(304, 40, "contact_name", "alpha"),
    Field(344, 15, "contact_phone", "alpha"),
    Field(359, 50, "contact_email", "text"),
    Field(409, 91, "blank_409", "blank"),
    Field(500, 8, "record_sequence_number", "number"),
    Field(508, 10, "blank_508", "blank"),
    Field(518, 1, "vendor_indicator", "alpha"),
    Field(519, 40, "vendor_name", "alpha"),
    Field(559, 40, "vendor_mailing_address", "alpha"),
    Field(599, 40, "vendor_city", "alpha"),
    Field(639, 2, "vendor_state", "alpha"),
    Field(641, 9, "vendor_zip", "alpha"),
    Field(650, 40, "vendor_contact_name", "alpha"),
    Field(690, 15, "vendor_contact_phone", "alpha"),
    Field(705, 35, "blank_705", "blank"),
    Field(740, 1, "vendor_foreign_entity_indicator", "alpha"),
    Field(741, 8, "blank_741", "blank"),
    Field(749, 2, "line_end", "eol"),
)

A_LAYOUT: tuple[Field, ...] = (
    Field(1, 1, "record_type", "const", "A"),
    Field(2, 4, "payment_year", "number"),
    Field(6, 1, "cfsf_indicator", "alpha"),
    Field(7, 5, "blank_7", "blank"),
    Field(12, 9, "payer_tin", "tin"),
    Field(21, 4, "payer_name_control", "alpha"),
    Field(25, 1, "last_filing_indicator", "alpha"),
    Field(26, 2, "type_of_return", "const", "9 "),
    # 18 positions since TY2021 (16 before): open question 2 of docs/reference/irs-filing-formats.md.
    Field(28, 18, "amount_codes", "alpha"),
    Field(46, 6, "blank_46", "blank"),
    Field(52, 1, "foreign_entity_indicator", "alpha"),
    Field(53, 40, "payer_name", "alpha"),
    Field(93, 40, "payer_name_2", "alpha"),
    Field(133, 1, "transfer_agent_indicator", "alpha"),
    Field(134, 40, "payer_shipping_address", "alpha"),
    Field(174, 40, "payer_city", "alpha"),
    Field(214, 2, "payer_state", "alpha"),
    Field(216, 9, "payer_zip", "alpha"),
    Field(225, 15, "payer_phone", "alpha"),
    Field(240, 260, "blank_240", "blank"),
    Field(500, 8, "record_sequence_number", "number"),
    Field(508, 241, "blank_508", "blank"),
    Field(749, 2, "line_end", "eol"),
)

B_LAYOUT: tuple[Field, ...] = (
    Field(1, 1, "record_type", "const", "B"),
    Field(2, 4, "payment_year", "number"),
    Field(6, 1, "corrected_return_indicator", "alpha"),
    Field(7, 4, "payee_name_control", "alpha"),
    Field(11, 1, "type_of_tin", "alpha"),
    Field(12, 9, "payee_tin", "tin"),
    Field(21, 20, "account_number", "alpha"),
    Field(41, 4, "payer_office_code", "alpha"),
    Field(45, 10, "blank_45", "blank"),
    *_amount_slots(55, 12, totals=False),
    Field(271, 16, "blank_271", "blank"),
    Field(287, 1, "foreign_country_indicator", "alpha"),
    Field(288, 40, "payee_name_line_1", "name"),
    Field(328, 40, "payee_name_line_2", "name"),
    Field(368, 40, "payee_mailing_address", "alpha"),
    Field(408, 40, "blank_408", "blank"),
    Field(448, 40, "payee_city", "alpha"),
    Field(488, 2, "payee_state", "alpha"),
    Field(490, 9, "payee_zip", "alpha"),
    Field(499, 1, "blank_499", "blank"),
    Field(500, 8, "record_sequence_number", "number"),
    Field(508, 37, "blank_508", "blank"),
    Field(545, 2, "distribution_codes", "alpha"),
    Field(547, 1, "taxable_amount_not_determined_indicator", "alpha"),
    Field(548, 1, "ira_sep_simple_indicator", "alpha"),
    Field(549, 1, "total_distribution_indicator", "alpha"),
    Field(550, 2, "percentage_of_total_distribution", "opt_number"),
    Field(552, 4, "first_year_of_designated_roth_contribution", "opt_number"),
    Field(556, 1, "fatca_filing_requirement_indicator", "alpha"),
    Field(557, 8, "date_of_payment", "date"),
    Field(565, 98, "blank_565", "blank"),
    Field(663, 60, "special_data_entries", "alpha"),
    Field(723, 12, "state_income_tax_withheld", "money"),
    Field(735, 12, "local_income_tax_withheld", "money"),
    Field(747, 2, "combined_federal_state_code", "opt_digits"),
    Field(749, 2, "line_end", "eol"),
)

C_LAYOUT: tuple[Field, ...] = (
    Field(1, 1, "record_type", "const", "C"),
    Field(2, 8, "number_of_payees", "number"),
    Field(10, 6, "blank_10", "blank"),
    *_amount_slots(16, 18, totals=True),
    Field(340, 160, "blank_340", "blank"),
    Field(500, 8, "record_sequence_number", "number"),
    Field(508, 241, "blank_508", "blank"),
    Field(749, 2, "line_end", "eol"),
)

K_LAYOUT: tuple[Field, ...] = (
    Field(1, 1, "record_type", "const", "K"),
    Field(2, 8, "number_of_payees", "number"),
    Field(10, 6, "blank_10", "blank"),
    *_amount_slots(16, 18, totals=True),
    Field(340, 160, "blank_340", "blank"),
    Field(500, 8, "record_sequence_number", "number"),
    Field(508, 199, "blank_508", "blank"),
    Field(707, 18, "state_income_tax_withheld_total", "money"),
    Field(725, 18, "local_income_tax_withheld_total", "money"),
    Field(743, 4, "blank_743", "blank"),
    Field(747, 2, "combined_federal_state_code", "opt_digits"),
    Field(749, 2, "line_end", "eol"),
)

F_LAYOUT: tuple[Field, ...] = (
    Field(1, 1, "record_type", "const", "F"),
    Field(2, 8, "number_of_a_records", "number"),
    Field(10, 21, "zeros_10", "zeros"),
    Field(31, 19, "blank_31", "blank"),
    Field(50, 8, "total_number_of_payees", "number"),
    Field(58, 442, "blank_58", "blank"),
    Field(500, 8, "record_sequence_number", "number"),
    Field(508, 241, "blank_508", "blank"),
    Field(749, 2, "line_end", "eol"),
)

LAYOUTS: dict[str, tuple[Field, ...]] = {
    "T": T_LAYOUT,
    "A": A_LAYOUT,
    "B": B_LAYOUT,
    "C": C_LAYOUT,
    "K": K_LAYOUT,
    "F": F_LAYOUT,
}

#: Kinds that carry no input value.
FILLER_KINDS = frozenset({"const", "blank", "zeros", "eol"})

# ---------------------------------------------------------------------------------------------
# Rendering: one expression per layout
# ---------------------------------------------------------------------------------------------


def _field_expr(field: Field, columns: list[str], *, upper_case: bool = False) -> pl.Expr:
    """The expression rendering ``field``; ``upper_case``: its values are upper case already."""
    width = field.length
    # A value column the frame lacks renders as blanks (alpha) or nulls the line (numbers).
    col = pl.col(field.name) if field.name in columns else pl.lit(None, pl.String)
    match field.kind:
        case "const":
            return pl.lit(field.fixed.ljust(width))
        case "blank":
            return pl.lit(" " * width)
        case "zeros":
            return pl.lit("0" * width)
        case "eol":
            return pl.lit(LINE_END)
        case "alpha" | "name":
            text = col.cast(pl.String).fill_null("")
            text = text if upper_case else text.str.to_uppercase()
            return text.str.pad_end(width).str.slice(0, width)
        case "text" | "tin":
            return col.cast(pl.String).fill_null("").str.pad_end(width).str.slice(0, width)
        case "number" | "money":
            # No fill_null: a missing count or amount makes the line null, caught by render_records.
            return col.cast(pl.Int64).cast(pl.String).str.pad_start(width, "0")
        case "opt_number":
            return col.cast(pl.Int64).cast(pl.String).str.pad_start(width, "0").fill_null(" " * width)
        case "date":
            return col.cast(pl.Date).dt.strftime("%Y%m%d").fill_null(" " * width)
        case "opt_digits":
            return col.cast(pl.String).fill_null("").str.pad_end(width)
    raise AssertionError(f"unknown field kind {field.kind!r}")


def _fixed_text(field: Field, columns: list[str]) -> str | None:
    """The text ``field`` renders to on every row, or ``None`` when it depends on the row."""
    match field.kind:
        case "const":
            return field.fixed.ljust(field.length)
        case "blank":
            return " " * field.length
        case "zeros":
            return "0" * field.length
        case "eol":
            return LINE_END
    if field.name not in columns and field.kind not in ("number", "money"):
        return " " * field.length  # what _field_expr renders for a value column the frame lacks
    return None


def rendered_constant(field: Field, value: object) -> str | None:
    """What ``field`` renders to when its value is ``value`` on every row (``None``: a null line)."""
    schema = _value_schema((field,))
    return pl.DataFrame({field.name: [value]}, schema=schema).select(_field_expr(field, [field.name])).item()


def uniform_constants(layout: tuple[Field, ...], frame: pl.DataFrame) -> dict[str, str]:
    """The rendered text of the value fields whose value is the same in every row of ``frame``
    (zero amounts, blank indicators, ...): one literal instead of one column in :func:`line_expr`."""
    fields = [f for f in layout if f.kind not in FILLER_KINDS and f.name in frame.columns]
    if frame.height == 0 or not fields:
        return {}
    same = frame.select(pl.col(f.name).eq_missing(pl.col(f.name).first()).all() for f in fields).row(0)
    first = frame.head(1)
    return {
        f.name: text
        for f, uniform in zip(fields, same, strict=True)
        if uniform
        for text in [first.select(_field_expr(f, first.columns)).item()]
        if text is not None
    }


def line_expr(
    layout: tuple[Field, ...],
    columns: list[str],
    constants: dict[str, str] | None = None,
    upper_case: frozenset[str] = frozenset(),
) -> pl.Expr:
    """One ``concat_str`` building whole records: runs of fixed text are merged into one literal.

    ``constants`` maps a field name to its rendered text when the value is the same on every row
    (see :func:`rendered_constant`); ``upper_case`` names the alphanumeric fields whose values are
    upper case already. Either way the lines are the same as without them.
    """
    constants = constants or {}
    parts: list[pl.Expr] = []
    fixed: list[str] = []
    for f in layout:
        text = constants[f.name] if f.name in constants else _fixed_text(f, columns)
        if text is None:
            if fixed:
                parts.append(pl.lit("".join(fixed)))
                fixed = []
            parts.append(_field_expr(f, columns, upper_case=f.name in upper_case))
        else:
            fixed.append(text)
    if fixed:
        parts.append(pl.lit("".join(fixed)))
    return pl.concat_str(parts)


def _bad_lines(lines: pl.Series) -> pl.Series:
    return lines.is_null() | (lines.str.len_bytes() != RECORD_LENGTH)


def _render_error(kind: str, count: int, accounts: list[str] | None) -> FilingInputError:
    where = "" if accounts is None else ", accounts " + ", ".join(map(str, accounts))
    return FilingInputError(
        f"{count} {kind} record(s) would not be {RECORD_LENGTH} ASCII bytes "
        f"(a value too long for its field or missing){where}"
    )


def render_records(layout: tuple[Field, ...], frame: pl.DataFrame) -> pl.Series:
    """One record line per row of ``frame`` (columns named after the layout's value fields).

    Raises :class:`FilingInputError` when a line would not be 750 ASCII bytes: a value too long for
    its field, a non-ASCII character, or a missing number or amount.
    """
    lines, error = _render(layout, frame)
    if error is not None:
        raise error
    return lines


def _render(
    layout: tuple[Field, ...], frame: pl.DataFrame, constants: dict[str, str] | None = None
) -> tuple[pl.Series, FilingInputError | None]:
    """:func:`render_records`, returning its error instead of raising it."""
    lines = frame.select(line_expr(layout, frame.columns, constants).alias("line"))["line"]
    bad = _bad_lines(lines)
    if not bad.any():
        return lines, None
    accounts = None
    if "account_number" in frame.columns:
        accounts = frame.filter(bad)["account_number"].head(5).to_list()
    return lines, _render_error(layout[0].fixed, int(bad.sum()), accounts)


def _value_schema(layout: tuple[Field, ...]) -> dict[str, pl.DataType]:
    dtypes = {"number": pl.Int64, "money": pl.Int64, "opt_number": pl.Int64, "date": pl.Date}
    return {f.name: dtypes.get(f.kind, pl.String) for f in layout if f.kind not in FILLER_KINDS}


def validate_transmitter(t: Transmitter) -> None:
    problems = []
    tin = "".join(ch for ch in t.tin if ch.isdigit())
    if len(tin) != 9 or len(set(tin)) == 1:
        problems.append("transmitter TIN not 9 valid digits")
    if not (len(t.tcc) == 5 and t.tcc.isascii() and t.tcc.isalnum()):
        problems.append("TCC not 5 alphanumeric characters")
    if t.vendor_indicator != "I":
        problems.append('vendor_indicator must be "I" (vendor details are not modelled)')
    if t.contact_email and not (
        t.contact_email.isascii() and "@" in t.contact_email and " " not in t.contact_email
    ):
        problems.append("contact e-mail not a plain ASCII address")
    if len(t.contact_email) > 50:
        problems.append("contact e-mail longer than 50 characters")
    if problems:
        raise FilingInputError("transmitter settings: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------
# Record frames
# ---------------------------------------------------------------------------------------------

#: Amount codes no Form 1099-R box feeds (docs/reference/irs-filing-formats.md §5.1): zeros in every B record.
ZERO_AMOUNT_CODES: tuple[str, ...] = tuple(
    c for c in AMOUNT_CODES if c not in BOX_BY_AMOUNT_CODE and c != "A"
)

#: B-record fields whose value is the same in every return of a file (rendered once per file).
_B_CONSTANT_FIELDS: tuple[str, ...] = (
    "payment_year", "payer_office_code", "fatca_filing_requirement_indicator", "special_data_entries",
    *(amount_field(code) for code in ZERO_AMOUNT_CODES),
)  # fmt: skip

#: B-record alphanumeric fields that :func:`_payee_values` upper-cases itself (alpha_text, digits,
#: codes and indicators; ``corrected`` is "", "G" or "C" after validate_filing).
_B_UPPER_CASE_FIELDS = frozenset(f.name for f in B_LAYOUT if f.kind in ("alpha", "name"))

#: Returns per chunk of B records: the writer holds the values, lines and bytes of a few chunks only
#: (two being rendered, one being written out; about 19 MB of records each). 100,000 made "a few
#: chunks" most of a 120,000-return file several times over (lines, their Arrow copy, the bytes),
#: for no measurable gain in speed.
CHUNK_ROWS = 25_000

_GROUP_KEYS = ["payer_tin", "correction_rank"]


def _amount_exprs() -> dict[str, pl.Expr]:
    """The 18 B-record amounts (``amount_1`` ... ``amount_j``) from the box columns, in cents."""
    tnd = pl.col("taxable_not_determined").fill_null(False)
    ira = pl.col("ira_sep_simple").fill_null(False)
    amounts = {amount_field(code): pl.lit(0, dtype=pl.Int64) for code in AMOUNT_CODES}
    for code, column in BOX_BY_AMOUNT_CODE.items():
        amounts[amount_field(code)] = pl.col(column).cast(pl.Int64)
    # Amount code 2 is zeros when the Taxable Amount Not Determined Indicator is set (§5.1, §7).
    amounts[amount_field("2")] = pl.when(tnd).then(0).otherwise(pl.col("box2a_cents")).cast(pl.Int64)
    amounts[amount_field("A")] = pl.when(ira).then(pl.col("box1_cents")).otherwise(0).cast(pl.Int64)
    return amounts


def _payee_values(
    filing: pl.DataFrame,
    *,
    tax_year: int,
    skip: tuple[str, ...] = (),
    foreign_rows: bool = True,
    entity_rows: bool = True,
    cfsf_payers: frozenset[str] = frozenset(),
) -> pl.DataFrame:
    """The B-record values of ``filing``'s returns in its row order (see :func:`payee_records_frame`).

    ``cfsf_payers``: payer EINs approved for CF/SF (``Transmitter.cfsf_approved_payers``; B
    747-748 is blank for every other payer's returns). ``skip``: fields left out (rendered as
    constants by the caller, or not rendered).
    ``foreign_rows=False`` when no return has a foreign address, ``entity_rows=False`` when no
    payee has an EIN: the free-format address or the entity name control are then not built (the
    values are the same).
    """
    # Each text column is cleaned once (alpha_text is the costly part of the writer).
    text_columns = ("last_name", "first_name", "address", "city")
    if foreign_rows:
        text_columns += ("state_code", "zip")
    filing = filing.with_columns(clean_text(filing[c]).alias(f"_clean_{c}") for c in text_columns)
    clean = {c: pl.col(f"_clean_{c}") for c in text_columns}
    is_entity = pl.col("tin_type").str.to_lowercase() == "ein"
    foreign = is_foreign_address(pl.col("country"))
    full_name = pl.concat_str([clean["last_name"], clean["first_name"]], separator=" ").str.strip_chars(" ")
    domestic_state = pl.col("state_code").cast(pl.String).str.to_uppercase()
    domestic_zip = digits_only(pl.col("zip"))
    if foreign_rows:
        # Foreign address: city, province/state, postal code and the country's name as one
        # 51-position free-format field over the city (40), state (2) and ZIP (9) fields (§5, §6).
        free_format = _foreign_address(clean["city"], clean["state_code"], clean["zip"], pl.col("country"))
        city = pl.when(foreign).then(free_format.str.slice(0, 40)).otherwise(clean["city"])
        state = pl.when(foreign).then(free_format.str.slice(40, 2)).otherwise(domestic_state)
        zip_code = pl.when(foreign).then(free_format.str.slice(42, 9)).otherwise(domestic_zip)
    else:
        city, state, zip_code = clean["city"], domestic_state, domestic_zip
    tnd = pl.col("taxable_not_determined").fill_null(False)
    ira = pl.col("ira_sep_simple").fill_null(False)
    percent = pl.col("box9a_percent")

    def flag(expr: pl.Expr) -> pl.Expr:
        return pl.when(expr.fill_null(False)).then(pl.lit("1")).otherwise(pl.lit(" "))

    corrected = pl.col("corrected").cast(pl.String).fill_null("")
    values = [
        pl.col("form_id").cast(pl.String),
        digits_only(pl.col("payer_tin")).alias("payer_tin"),
        correction_rank().alias("correction_rank"),
        pl.lit(tax_year, dtype=pl.Int64).alias("payment_year"),
        corrected.alias("corrected_return_indicator"),
        name_control(clean["last_name"], is_entity, clean_first=False, entities=entity_rows).alias(
            "payee_name_control"
        ),
        pl.col("tin_type").str.to_lowercase().replace_strict(TYPE_OF_TIN).alias("type_of_tin"),
        digits_only(pl.col("payee_tin")).alias("payee_tin"),
        account_key().alias("account_number"),
        pl.lit("").alias("payer_office_code"),
        *(expr.alias(name) for name, expr in _amount_exprs().items()),
        flag(foreign).alias("foreign_country_indicator"),
        *(line.alias(name) for line, name in zip(_name_lines(full_name), _NAME_LINES, strict=True)),
        clean["address"].alias("payee_mailing_address"),
        city.alias("payee_city"),
        state.alias("payee_state"),
        zip_code.alias("payee_zip"),
        pl.col("distribution_codes").cast(pl.String).str.to_uppercase().alias("distribution_codes"),
        flag(tnd).alias("taxable_amount_not_determined_indicator"),
        flag(ira).alias("ira_sep_simple_indicator"),
        flag(pl.col("total_distribution")).alias("total_distribution_indicator"),
        # Box 9a: whole percent, blank when 100 % or not applicable (§7).
        pl.when(percent == 100)
        .then(None)
        .otherwise(percent)
        .cast(pl.Int64)
        .alias("percentage_of_total_distribution"),
        pl.col("box11_year").cast(pl.Int64).alias("first_year_of_designated_roth_contribution"),
        pl.lit("").alias("fatca_filing_requirement_indicator"),
        pl.col("box13_date").cast(pl.Date).alias("date_of_payment"),
        pl.lit("").alias("special_data_entries"),
        pl.col("state_withholding_cents").fill_null(0).cast(pl.Int64).alias("state_income_tax_withheld"),
        pl.col("local_withholding_cents").fill_null(0).cast(pl.Int64).alias("local_income_tax_withheld"),
        cfsf_code(tax_year, cfsf_payers).alias("combined_federal_state_code"),
    ]
    return filing.select(v for v in values if v.meta.output_name() not in skip)


#: Positions of the free-format foreign address (B 448-498: city 40, state 2, ZIP 9).
FOREIGN_ADDRESS_WIDTH = 51


def _foreign_address(city: pl.Expr, province: pl.Expr, postal: pl.Expr, country: pl.Expr) -> pl.Expr:
    """A foreign payee's city, province or state, postal code and country as one free-format field
    of 51 positions (Publication 1220, B record 287 and 448-498: "city, province or state, postal
    code, and the name of the country"), the country by its name (``country_name_of``: "GB" ->
    UNITED KINGDOM), not its ISO code; a code the IRS's list does not name stays as it is. The
    postal code and the country are kept whole: a city and province too long for what is left are
    cut after their last word that fits. Text already :func:`alpha_text` (but ``country``, the extract's code)."""

    def words(*parts: pl.Expr) -> pl.Expr:
        return pl.concat_str(parts, separator=" ").str.replace_all(r" {2,}", " ").str.strip_chars(" ")

    name = alpha_text(country_name_of(country))
    tail = words(postal, pl.when(name != "").then(name).otherwise(alpha_text(country)))
    room = (FOREIGN_ADDRESS_WIDTH - 1 - tail.str.len_chars()).clip(0)
    head = words(city, province)
    head = fit_words(head, room).fill_null(head.str.slice(0, room))  # room: per row
    return words(head, tail).str.slice(0, FOREIGN_ADDRESS_WIDTH).str.pad_end(FOREIGN_ADDRESS_WIDTH)


_NAME_LINES = ("payee_name_line_1", "payee_name_line_2")


def _name_lines(name: pl.Expr, width: int = 40) -> tuple[pl.Expr, pl.Expr]:
    """A payee name (already :func:`alpha_text`) on the two payee name lines (B 288-327, 328-367):
    line 1 ends with a full word (Publication 1220: "the first payee name line", never a word cut in
    two), the rest goes on the second line (cut at its 40th character). A first word longer than
    the line is cut: it cannot be put otherwise."""
    line_1 = fit_words(name, width).fill_null(name.str.slice(0, width))
    return line_1, rest_after(name, line_1).str.slice(0, width).str.strip_chars(" ")


def payee_records_frame(
    filing: pl.DataFrame, *, tax_year: int, cfsf_payers: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """The B-record values of every return, columns named after ``B_LAYOUT`` fields.

    Also carries ``form_id``, ``payer_tin`` and ``correction_rank`` for grouping. Rows are sorted
    (payer_tin, original/G/C, account_number). Vectorized: no Python loop over returns.
    """
    values = _payee_values(filing, tax_year=tax_year, cfsf_payers=cfsf_payers)
    return values.sort("payer_tin", "correction_rank", "account_number")


#: ``filing`` columns :func:`_payee_values` reads.
_PAYEE_INPUT_COLUMNS: tuple[str, ...] = (
    "form_id", "payer_tin", "corrected", "payee_tin", "account_number", *MONEY_COLUMNS,
    "taxable_not_determined", "ira_sep_simple", "total_distribution", "distribution_codes",
    "box9a_percent", "box11_year", "box13_date", "state", "state_withholding_cents",
    "local_withholding_cents", *RETURN_PAYEE_COLUMNS,
)  # fmt: skip


def write_pub1220(
    filing: pl.DataFrame,
    transmitter: Transmitter,
    *,
    tax_year: int,
    test_file: bool,
    prior_year: bool = False,
) -> bytes:
    """The Publication 1220 file (T, A, B..., C, K..., F) for the returns in ``filing``.

    ``filing``: one row per return, the forms.parquet columns plus payer and payee details and
    ``corrected`` ("" original, "G", "C"); see ``REQUIRED_COLUMNS``. Returns are grouped under one A
    record per (payer_tin, correction kind). ``test_file`` sets T position 28 = "T"; ``prior_year``
    sets T position 6 = "P". Same input, same bytes.

    The file is :func:`iter_pub1220`'s pieces gathered in one buffer (memory: the file plus a few
    chunks of returns). Each piece goes from the Arrow buffer it was rendered into straight into
    the file's buffer (no ``bytes`` copy of it in between), and the file's buffer grows in place
    and is handed over as it is (``BytesIO.getvalue`` after writes: no copy of the file).
    """
    buffer = io.BytesIO()
    for piece in _pub1220_buffers(
        filing, transmitter, tax_year=tax_year, test_file=test_file, prior_year=prior_year
    ):
        buffer.write(piece)
        del piece  # memory: the piece's Arrow buffer goes before the next chunk is rendered
    return buffer.getvalue()


def iter_pub1220(
    filing: pl.DataFrame,
    transmitter: Transmitter,
    *,
    tax_year: int,
    test_file: bool,
    prior_year: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """:func:`write_pub1220`'s file as consecutive pieces of whole records, ``chunk_rows`` B records
    at a time (for writing a file of many millions of returns without holding it in memory).

    The filing and transmitter are checked, and the T, A, C, K and F records built, before this
    returns; a B record that cannot be rendered raises :class:`FilingInputError` during the
    iteration, after the pieces before it: discard a partial output.

    Every record is built from frames (B from the returns, chunk by chunk in file order; A/C/K from
    group-bys of the B values); sequence numbers come from cumulative sums of the group sizes.
    """
    pieces = _pub1220_buffers(
        filing,
        transmitter,
        tax_year=tax_year,
        test_file=test_file,
        prior_year=prior_year,
        chunk_rows=chunk_rows,
    )
    return (piece.to_pybytes() for piece in pieces)


def _pub1220_buffers(
    filing: pl.DataFrame,
    transmitter: Transmitter,
    *,
    tax_year: int,
    test_file: bool,
    prior_year: bool,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pa.Buffer]:
    """:func:`iter_pub1220`'s pieces as the Arrow buffers they are rendered into (checks and plan
    before this returns)."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    validate_transmitter(transmitter)
    validate_filing(filing, tax_year)
    plan = _FilePlan.build(filing, transmitter, tax_year=tax_year, test_file=test_file, prior_year=prior_year)
    return plan.pieces(filing, chunk_rows)


@dataclass(frozen=True)
class _FilePlan:
    """Everything of a file but its B records: the other records' lines and the B sequence numbers."""

    tax_year: int
    cfsf_payers: frozenset[str]  # payer EINs approved for CF/SF
    others: pl.DataFrame  # seq, line: the T, A, C, K and F records, sorted
    deferred_error: FilingInputError | None  # a C, K or F record that cannot be rendered
    group_ends: pl.Series  # per A record (in file order): B records up to and including its own
    group_b_start: pl.Series  # per A record: B records before it
    group_a_sequence: pl.Series  # per A record: its sequence number
    order: pl.Series  # row numbers of ``filing`` in file order (payer_tin, original/G/C, account)
    first: int  # sequence number of the first record (the T record's, or the first A record's)
    last: int  # sequence number of the last record (the F record's, or the last C or K record's)

    @staticmethod
    def build(
        filing: pl.DataFrame,
        transmitter: Transmitter,
        *,
        tax_year: int,
        test_file: bool,
        prior_year: bool,
        first_sequence: int = 2,
        ends: bool = True,
    ) -> _FilePlan:
        """The plan of the file of ``filing``; ``ends=False``: of the payers' part of a larger file
        (no T and F records), its first A record numbered ``first_sequence``."""
        amounts = _amount_exprs()
        valued = [code for code in AMOUNT_CODES if code not in ZERO_AMOUNT_CODES]
        cfsf = pl.col("combined_federal_state_code")
        base = filing.lazy().select(
            digits_only(pl.col("payer_tin")).alias("payer_tin"),
            correction_rank().alias("correction_rank"),
            *(amounts[amount_field(code)].alias(amount_field(code)) for code in valued),
            pl.col("state_withholding_cents").fill_null(0).cast(pl.Int64).alias("state_income_tax_withheld"),
            pl.col("local_withholding_cents").fill_null(0).cast(pl.Int64).alias("local_income_tax_withheld"),
            cfsf_code(tax_year, transmitter.cfsf_approved_payers).alias("combined_federal_state_code"),
        )
        sums = [pl.col(amount_field(code)).sum().alias(total_field(code)) for code in valued]
        zero_totals = [pl.lit(0, pl.Int64).alias(total_field(code)) for code in ZERO_AMOUNT_CODES]
        total_order = [total_field(code) for code in AMOUNT_CODES]
        group_query = base.group_by(_GROUP_KEYS).agg(
            pl.len().alias("number_of_payees"), cfsf.is_not_null().any().alias("cfsf"), *sums
        )
        state_query = (
            base.filter(cfsf.is_not_null())
            .group_by(*_GROUP_KEYS, "combined_federal_state_code")
            .agg(
                pl.len().alias("number_of_payees"),
                *sums,
                pl.col("state_income_tax_withheld").sum().alias("state_income_tax_withheld_total"),
                pl.col("local_income_tax_withheld").sum().alias("local_income_tax_withheld_total"),
            )
        )
        by_group, by_state = pl.collect_all([group_query, state_query], engine="streaming")
        order = file_order(filing)
        by_group = (
            by_group.sort(_GROUP_KEYS)
            .with_row_index("group_no", offset=1)
            .with_columns(pl.col("group_no").cast(pl.Int64), *zero_totals)
        )
        state_totals = (
            by_state.join(by_group.select(*_GROUP_KEYS, "group_no"), on=_GROUP_KEYS)
            .with_columns(*zero_totals)
            .select(
                "group_no",
                "combined_federal_state_code",
                "number_of_payees",
                *total_order,
                "state_income_tax_withheld_total",
                "local_income_tax_withheld_total",
            )
            .sort("group_no", "combined_federal_state_code")
            .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over("group_no").alias("index_in_group"))
        )
        groups = (
            by_group.select("group_no", "number_of_payees", "payer_tin", "cfsf", *total_order)
            .join(
                state_totals.group_by("group_no").agg(pl.len().alias("number_of_k")),
                on="group_no",
                how="left",
            )
            .sort("group_no")
            .with_columns(pl.col("number_of_k").fill_null(0).cast(pl.Int64))
            # Sequence numbers across the whole file (§2): T = 1; per group A, B..., C, K...; F last.
            .with_columns((2 + pl.col("number_of_payees") + pl.col("number_of_k")).alias("size"))
            .with_columns((first_sequence + pl.col("size").cum_sum() - pl.col("size")).alias("a_sequence"))
            .with_columns((pl.col("a_sequence") + 1 + pl.col("number_of_payees")).alias("c_sequence"))
            .with_columns(pl.col("number_of_payees").cast(pl.Int64).cum_sum().alias("b_end"))
        )
        # One row per payer: by its TIN's 9 digits, however the TIN is written ("12-3456789" and
        # "123456789" are one payer, one A record; filing_problems checks its details are the same).
        payers = filing.filter(payer_digits(filing).is_first_distinct()).select(
            digits_only(pl.col("payer_tin")).alias("payer_tin"),
            alpha_text(pl.col("payer_name")).alias("payer_name"),
            alpha_text(pl.col("payer_address")).alias("payer_shipping_address"),
            alpha_text(pl.col("payer_city")).alias("payer_city"),
            pl.col("payer_state").cast(pl.String).fill_null("").str.to_uppercase().alias("payer_state"),
            digits_only(pl.col("payer_zip")).alias("payer_zip"),
            digits_only(pl.col("payer_phone")).alias("payer_phone"),
        )
        # A positions 28-45: the amount codes with money in the group, in Pub 1220 order, at least "1".
        amount_codes = pl.concat_str(
            [
                pl.when(pl.col(total_field(code)) != 0).then(pl.lit(code)).otherwise(pl.lit(""))
                for code in AMOUNT_CODES
            ]
        )
        a_records = groups.join(payers, on="payer_tin", how="left").select(
            pl.col("a_sequence").alias("record_sequence_number"),
            pl.lit(tax_year, pl.Int64).alias("payment_year"),
            pl.when(pl.col("cfsf")).then(pl.lit("1")).otherwise(pl.lit("")).alias("cfsf_indicator"),
            "payer_tin",
            pl.when(amount_codes == "").then(pl.lit("1")).otherwise(amount_codes).alias("amount_codes"),
            pl.col("payer_name").str.slice(0, 40).alias("payer_name"),
            pl.col("payer_name").str.slice(40, 40).str.strip_chars(" ").alias("payer_name_2"),
            pl.lit("0").alias("transfer_agent_indicator"),
            "payer_shipping_address",
            "payer_city",
            "payer_state",
            "payer_zip",
            "payer_phone",
        )
        c_records = groups.select(
            pl.col("c_sequence").alias("record_sequence_number"),
            "number_of_payees",
            *total_order,
        )
        k_records = state_totals.join(groups.select("group_no", "c_sequence"), on="group_no").select(
            (pl.col("c_sequence") + 1 + pl.col("index_in_group")).alias("record_sequence_number"),
            pl.exclude("group_no", "c_sequence", "index_in_group"),
        )
        number_of_b = filing.height
        last = first_sequence + int(groups["size"].sum()) - (0 if ends else 1)
        # Rendering order (T, A, B, C, K, F) decides which error is raised first: T and A now, C, K
        # and F after the B records.
        numbered: list[pl.DataFrame] = []
        deferred: FilingInputError | None = None
        t_record = _t_values(transmitter, tax_year, test_file, prior_year, number_of_b)
        f_record = _f_values(last, groups.height, number_of_b)
        for layout, frame in (
            *([(T_LAYOUT, _value_frame(T_LAYOUT, t_record))] if ends else []),
            (A_LAYOUT, a_records),
            (C_LAYOUT, c_records),
            (K_LAYOUT, k_records),
            *([(F_LAYOUT, _value_frame(F_LAYOUT, f_record))] if ends else []),
        ):
            lines, error = _render(layout, frame)
            if error is not None:
                if layout in (T_LAYOUT, A_LAYOUT):
                    raise error
                deferred = deferred or error
            numbered.append(
                pl.DataFrame({"seq": frame["record_sequence_number"].cast(pl.Int64), "line": lines})
            )
        return _FilePlan(
            tax_year=tax_year,
            cfsf_payers=transmitter.cfsf_approved_payers,
            others=pl.concat(numbered).sort("seq"),
            deferred_error=deferred,
            group_ends=groups["b_end"],
            group_b_start=groups["b_end"] - groups["number_of_payees"].cast(pl.Int64),
            group_a_sequence=groups["a_sequence"],
            order=order,
            first=1 if ends else first_sequence,
            last=last,
        )

    def pieces(
        self, filing: pl.DataFrame, chunk_rows: int, failures: RenderFailures | None = None
    ) -> Iterator[pa.Buffer]:
        """The file in pieces of whole records, ``chunk_rows`` B records per piece (two pieces are
        built at a time, on two threads: polars releases the GIL). With ``failures``, B, C, K and F
        records that cannot be rendered are added to it (nothing more is yielded after the first)
        instead of raised at the end."""
        constants = {
            f.name: rendered_constant(f, value)
            for f in B_LAYOUT
            if f.name in _B_CONSTANT_FIELDS
            for value in [self.tax_year if f.name == "payment_year" else 0 if f.kind == "money" else ""]
        }
        source = filing.select(_PAYEE_INPUT_COLUMNS)
        starts = iter(range(0, self.order.len(), chunk_rows))
        failed = 0
        examples: list[str] = []
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            pending = deque(
                pool.submit(self._chunk, source, start, chunk_rows, constants)
                for start in islice(starts, _WORKERS)
            )
            while pending:
                chunk = pending.popleft().result()
                for start in islice(starts, 1):
                    pending.append(pool.submit(self._chunk, source, start, chunk_rows, constants))
                if failed or chunk.failed or (failures is not None and failures.any()):
                    # Go on through the returns: the error counts every B record that fails.
                    failed += chunk.failed
                    examples += chunk.examples[: 5 - len(examples)]
                    continue
                data = chunk.data
                del chunk  # memory: nothing of this chunk is kept but what is yielded
                yield data
                del data
        if failures is not None:
            failures.add(failed, examples, self.deferred_error)
            if failures.any():
                return
        if failed:
            raise _render_error("B", failed, examples)
        if self.deferred_error is not None:
            raise self.deferred_error
        last_b = self._b_sequence(pl.Series([self.order.len() - 1], dtype=pl.Int64))[0]
        rest = self.others.filter(pl.col("seq") > last_b)
        _check_sequence(rest["seq"], last_b + 1, self.last)
        yield string_buffer(rest["line"])

    def _b_sequence(self, position: pl.Series) -> pl.Series:
        """Sequence numbers of the B records at ``position`` (0-based, file order): the group's A
        record + 1 + the return's place in its group."""
        group = self.group_ends.search_sorted(position, side="right")
        return self.group_a_sequence.gather(group) + 1 + position - self.group_b_start.gather(group)

    def _chunk(self, source: pl.DataFrame, start: int, chunk_rows: int, constants: dict[str, str]) -> _Chunk:
        """B records ``start`` ... ``start + chunk_rows - 1`` (file order) and the other records
        between the previous chunk's last B record and this chunk's last one."""
        rows = self.order.slice(start, chunk_rows)
        part = source.select(pl.all().gather(rows))
        foreign_rows, entity_rows = part.select(
            is_foreign_address(pl.col("country")).any(),
            (pl.col("tin_type").str.to_lowercase() == "ein").any(),
        ).row(0)
        values = _payee_values(
            part,
            tax_year=self.tax_year,
            skip=(*_B_CONSTANT_FIELDS, "form_id", "payer_tin", "correction_rank"),
            foreign_rows=foreign_rows,
            entity_rows=entity_rows,
            cfsf_payers=self.cfsf_payers,
        )
        del part  # memory: one chunk's values, then its lines, then its bytes
        position = pl.int_range(start - 1, start + rows.len(), dtype=pl.Int64, eager=True)
        sequence = self._b_sequence(position.clip(0))
        after = int(sequence[0]) if start else self.first - 1  # the previous chunk's last B record
        sequence = sequence.slice(1)
        values = values.with_columns(sequence.alias("record_sequence_number"))
        constants = constants | uniform_constants(B_LAYOUT, values)
        lines = values.select(
            line_expr(B_LAYOUT, values.columns, constants, _B_UPPER_CASE_FIELDS).alias("line")
        )["line"]
        bad = _bad_lines(lines)
        if bad.any():
            return _Chunk(None, int(bad.sum()), values.filter(bad)["account_number"].head(5).to_list())
        del values
        others = self.others.filter(pl.col("seq").is_between(after, sequence[-1], closed="none"))
        if others.height:
            chunk = pl.concat([others, pl.DataFrame({"seq": sequence, "line": lines})]).sort("seq")
            sequence, lines = chunk["seq"], chunk["line"]
            del chunk
        _check_sequence(sequence, after + 1, int(sequence[-1]))
        return _Chunk(string_buffer(lines), 0, [])


@dataclass
class RenderFailures:
    """Records of a file's parts that cannot be rendered, added up part by part (in file order)."""

    failed: int = 0  # B records
    examples: list[str] = field(default_factory=list)  # their first account numbers
    deferred: FilingInputError | None = None  # the first C, K or F record error

    def add(self, failed: int, examples: list[str], deferred: FilingInputError | None) -> None:
        self.failed += failed
        self.examples += examples[: EXAMPLES - len(self.examples)]
        self.deferred = self.deferred or deferred

    def any(self) -> bool:
        return bool(self.failed) or self.deferred is not None

    def raise_if_any(self) -> None:
        if self.failed:
            raise _render_error("B", self.failed, self.examples)
        if self.deferred is not None:
            raise self.deferred


class _Chunk(NamedTuple):
    data: pa.Buffer | None  # the records, or None when some B records cannot be rendered
    failed: int  # B records that cannot be rendered
    examples: list[str]  # their first account numbers


#: Chunks of the file built at the same time.
_WORKERS = 2


def _check_sequence(seq: pl.Series, first: int, last: int) -> None:
    """Sequence numbers must run ``first``, ``first + 1``, ..., ``last``."""
    expected = pl.int_range(first, last + 1, eager=True, dtype=pl.Int64)
    if not seq.cast(pl.Int64).equals(expected.alias(seq.name)):
        raise AssertionError("record sequence numbers are not 1..n")  # pragma: no cover - internal


def _t_values(
    transmitter: Transmitter, tax_year: int, test_file: bool, prior_year: bool, returns: int
) -> dict[str, object]:
    """The T record's values (docs/reference/irs-filing-formats.md §4)."""
    return {
        "record_sequence_number": 1,
        "payment_year": tax_year,
        "prior_year_indicator": "P" if prior_year else "",
        "transmitter_tin": "".join(ch for ch in transmitter.tin if ch.isdigit()),
        "transmitter_control_code": transmitter.tcc.upper(),
        "test_file_indicator": "T" if test_file else "",
        "transmitter_name": _first_line(transmitter.name),
        "transmitter_name_continuation": _second_line(transmitter.name),
        "company_name": _first_line(transmitter.company_name),
        "company_name_continuation": _second_line(transmitter.company_name),
        "company_mailing_address": _alpha(transmitter.address),
        "company_city": _alpha(transmitter.city),
        "company_state": _alpha(transmitter.state),
        "company_zip": "".join(ch for ch in transmitter.zip if ch.isdigit()),
        "total_number_of_payees": returns,
        "contact_name": _alpha(transmitter.contact_name),
        "contact_phone": "".join(ch for ch in transmitter.contact_phone if ch.isdigit()),
        "contact_email": transmitter.contact_email.strip(),
        "vendor_indicator": transmitter.vendor_indicator,
    }


def _f_values(last: int, a_records: int, returns: int) -> dict[str, object]:
    """The F record's values (docs/reference/irs-filing-formats.md §10)."""
    return {
        "record_sequence_number": last,
        "number_of_a_records": a_records,
        "total_number_of_payees": returns,
    }


def _value_frame(layout: tuple[Field, ...], values: dict[str, object]) -> pl.DataFrame:
    """A one-record frame for :func:`render_records` (unset fields are null → blank)."""
    schema = _value_schema(layout)
    return pl.DataFrame([{name: values.get(name) for name in schema}], schema=schema)


def _alpha(text: str) -> str:
    return pl.select(alpha_text(pl.lit(text))).item()


def _first_line(text: str) -> str:
    return _alpha(text)[:40]


def _second_line(text: str) -> str:
    return _alpha(text)[40:80].strip()


def iter_pub1220_groups(filing: GroupedFiling, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """:func:`iter_pub1220`'s file, payer group by payer group."""
    returns, load, transmitter, tax_year, test_file, prior_year, group_rows = filing.parts()
    validate_transmitter(transmitter)
    groups = groups_of(returns, group_rows, chunk_rows)
    t_line, t_error = _render(
        T_LAYOUT,
        _value_frame(T_LAYOUT, _t_values(transmitter, tax_year, test_file, prior_year, returns.returns)),
    )
    last = 2 + int(returns.payers["records"].sum())
    f_frame = _value_frame(F_LAYOUT, _f_values(last, int(returns.payers["a_records"].sum()), returns.returns))

    found = Findings(early=t_error)  # the T record's error: raised before the B records'
    failures = RenderFailures()

    def group_pieces(group: dict) -> Iterator[bytes]:
        filing = load(group["raw_tins"])
        if not found.check(filing, tax_year, group["group"] == 0):
            return  # the checks go on; nothing more is rendered
        try:
            plan = _FilePlan.build(
                filing,
                transmitter,
                tax_year=tax_year,
                test_file=test_file,
                prior_year=prior_year,
                first_sequence=group["first_sequence"],
                ends=False,
            )
        except FilingInputError as error:  # an A record
            found.early = error
            return
        if group["group"] == 0:
            yield string_buffer(t_line).to_pybytes()
        for piece in plan.pieces(filing, chunk_rows, failures):
            yield piece.to_pybytes()

    def pieces() -> Iterator[bytes]:
        for group in groups.to_dicts():
            yield from group_pieces(group)  # its frame is released before the next group's is loaded
        found.raise_first()
        f_line, f_error = _render(F_LAYOUT, f_frame)
        failures.add(0, [], f_error)
        failures.raise_if_any()
        yield string_buffer(f_line).to_pybytes()

    return pieces()
