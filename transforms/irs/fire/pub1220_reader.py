"""Read a Publication 1220 file back into polars frames, and check it against the field rules.

Uses the record layouts of :mod:`transforms.irs.fire.pub1220` (declared once, as data). Records are
parsed with ``str.slice`` over frames of lines; cross-record checks (sequence numbers, counts,
control totals, K records, amount codes) are joins and group-bys, not loops over returns.

The file is read in chunks of about ``CHUNK_RECORDS`` records, so that reading and checking a file
of millions of returns holds one chunk of lines at a time (plus the parsed result, for
:func:`read_pub1220`). The checker does not slice every field of every B record: one regular
expression per B record (built from ``B_LAYOUT``) covers the field rules that only look at one
field's characters, and the few rules that compare fields or years are evaluated on their own
fields; all rules are evaluated, with their messages, on the records that fail either. The other
records (T, A, C, K, F: a few per payer) are checked all together at the end, with the B records'
counts and sums per payer.

Authority: Publication 1220 as transcribed in ``docs/reference/irs-filing-formats.md`` §§2-13
(transcribed); distribution codes from the one code table, :mod:`transforms.law.box7`.

Privacy: messages name records by record number and account number only, never by TIN or name.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import itertools
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import polars as pl
import pyarrow as pa

from contracts.rules import tin_is_valid
from transforms.irs.fire.pub1220 import (
    AMOUNT_CODES,
    B_LAYOUT,
    FILLER_KINDS,
    LAYOUTS,
    LINE_END,
    RECORD_LENGTH,
    ZERO_AMOUNT_CODES,
    Field,
    amount_field,
    total_field,
)
from transforms.irs.shared import cfsf_state_codes
from transforms.law.box7 import codes_in_use, valid_combinations

# ---------------------------------------------------------------------------------------------
# Distribution codes (docs/reference/tax-rules.md §f.1-f.3; docs/reference/irs-filing-formats.md §8)
# ---------------------------------------------------------------------------------------------

# The box 7 codes, their pairs and the codes that cannot stand alone, by payment year: the one code
# table, transforms/law/box7.py (i1099r Table 1 held to the IRIS enumeration of box 7; code Y from TY2025).


def distribution_codes(payment_year: int) -> frozenset[str]:
    """The box 7 codes valid in a B record of ``payment_year`` (transforms.law.box7)."""
    return frozenset(c.code for c in codes_in_use(payment_year))


def allowed_code_pairs(payment_year: int) -> frozenset[str]:
    """The allowed two-code combinations of ``payment_year`` as sorted strings ("18", "7B", ...)."""
    return frozenset("".join(sorted(e)) for e in valid_combinations(payment_year) if len(e) == 2)


def codes_never_alone(payment_year: int) -> frozenset[str]:
    """Codes that must be used with another code in ``payment_year`` (Y with 4, 7 or K)."""
    return frozenset(c.code for c in codes_in_use(payment_year) if not c.alone)


_DOMESTIC_ZIP = r"^([0-9]{5} {4}|[0-9]{9})$"
MAX_MESSAGES = 1000

#: Records per chunk: the reader and the checker hold the lines of one chunk at a time.
CHUNK_RECORDS = 100_000


@dataclass(frozen=True)
class Pub1220File:
    """A Publication 1220 file as frames, one per record type.

    Every frame has ``record_number`` (position in the file, 1-based) and one column per layout
    field (fillers dropped): alphanumeric fields stripped of padding, numbers and amounts Int64
    (amounts in cents), box 9a and 11 Int32 (null when blank), dates Date. A, B, C and K frames also
    have ``payer_group``: the 1-based number of the A record they belong to.
    """

    transmitter: pl.DataFrame
    payers: pl.DataFrame
    payees: pl.DataFrame
    end_of_payer: pl.DataFrame
    state_totals: pl.DataFrame
    end_of_transmission: pl.DataFrame


# ---------------------------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------------------------
#
# Records end with CR LF; a file without any CR LF is cut every 750 bytes so that it can still be
# checked. Bytes are read as Latin-1 so that one character is one byte (positions = bytes). The
# data is cut into segments of whole lines at a CR LF; each segment becomes a frame of lines:
# ``record_number`` (position in the file, 1-based), ``line`` (including its CR LF) and
# ``record_type`` (its first character).


class _Segment(NamedTuple):
    data: memoryview  # whole lines
    crlf: bool  # the file has CR LF (lines end at CR LF), else records are cut every 750 bytes


def _segments(
    data: bytes | bytearray, size: int, crlf: bool | None = None, stop: int | None = None
) -> Iterator[_Segment]:
    """``data[:stop]`` cut into segments of whole lines of about ``size`` bytes (without copying).

    ``crlf``: whether the file has CR LF; ``None``: look in ``data``.
    """
    stop = len(data) if stop is None else stop
    view = memoryview(data)[:stop]
    if crlf is None:
        crlf = data.find(b"\r\n", 0, stop) >= 0
    if not crlf:
        size = max(RECORD_LENGTH, size - size % RECORD_LENGTH)
        for start in range(0, stop, size):
            yield _Segment(view[start : start + size], False)
        return
    start = 0
    while start < stop:
        end = start + size
        if end >= stop:
            yield _Segment(view[start:], True)
            return
        cut = data.rfind(b"\r\n", start, end)  # the last CR LF within the segment
        if cut < 0:
            cut = data.find(b"\r\n", end - 1, stop)  # one line longer than a segment
            if cut < 0:
                yield _Segment(view[start:], True)
                return
        yield _Segment(view[start : cut + 2], True)
        start = cut + 2


def _piece_segments(pieces: Iterable[bytes], size: int) -> Iterator[_Segment]:
    """Segments of a file given as consecutive pieces. Whether it has CR LF at all is known at its
    first CR LF: until then (at worst, to its end) the pieces are held together."""
    parts: list[bytes] = []
    total = 0
    crlf = None
    for piece in pieces:
        parts.append(bytes(piece))
        total += len(piece)
        if total < size:
            continue
        joined = b"".join(parts)
        cut = joined.rfind(b"\r\n")
        if cut < 0:
            parts = [joined]
            continue
        crlf = True
        yield from _segments(joined, size, crlf=True, stop=cut + 2)
        rest = joined[cut + 2 :]
        parts, total = [rest], len(rest)
    yield from _segments(b"".join(parts), size, crlf=crlf)


def _fast_lines(segment: memoryview) -> pl.Series | None:
    """The lines of a segment of 750-byte ASCII records each ending in CR LF (and holding no other
    CR LF), without copying the bytes: an Arrow array over them; ``None`` when the segment is not
    like that (it is then read as Latin-1 and split, see _split_lines)."""
    count, rest = divmod(len(segment), RECORD_LENGTH)
    if rest or not count:
        return None
    if segment[RECORD_LENGTH - 2 :: RECORD_LENGTH] != b"\r" * count:
        return None
    if segment[RECORD_LENGTH - 1 :: RECORD_LENGTH] != b"\n" * count:
        return None
    offsets = pl.int_range(0, len(segment) + 1, RECORD_LENGTH, dtype=pl.Int64, eager=True).to_arrow()
    array = pa.Array.from_buffers(
        pa.large_binary(), count, [None, offsets.buffers()[1], pa.py_buffer(segment)]
    )
    # Not UTF-8, or UTF-8 with characters of more than one byte: not ASCII.
    try:
        lines = pl.Series("line", pl.from_arrow(array)).cast(pl.String)
    except pl.exceptions.ComputeError:
        return None
    line = pl.col("line")
    inner = line.str.slice(0, RECORD_LENGTH - 2).str.contains(LINE_END, literal=True)
    if pl.DataFrame(lines).select((line.str.len_chars() != RECORD_LENGTH).any() | inner.any()).item():
        return None
    return lines


def _split_lines(segment: memoryview | bytes, crlf: bool, last: bool) -> pl.Series:
    """The lines of a segment read as Latin-1: split at CR LF (each keeps its CR LF; the file's last
    line only when the file ends with one), or cut every 750 bytes."""
    text = codecs.latin_1_decode(segment)[0]
    if not crlf:
        chunks = [text[i : i + RECORD_LENGTH] for i in range(0, len(text), RECORD_LENGTH)]
        return pl.Series("line", chunks, dtype=pl.String)
    pieces = pl.Series("line", [text]).str.split(LINE_END).explode()
    ends_with_crlf = text.endswith(LINE_END)
    if pieces.len() and pieces[-1] == "":
        pieces = pieces.head(-1)
    if not ends_with_crlf and not last:  # pragma: no cover - segments end at a CR LF
        raise AssertionError("a segment must end with CR LF")
    count = pieces.len()
    return pl.select(
        pl.when((pl.int_range(1, count + 1) < count) | ends_with_crlf)
        .then(pieces + LINE_END)
        .otherwise(pieces)
        .alias("line")
    ).to_series()


def _line_frame(lines: pl.Series, first: int) -> pl.DataFrame:
    return pl.DataFrame(lines.alias("line")).select(
        pl.int_range(first, first + lines.len(), dtype=pl.Int64).alias("record_number"),
        "line",
        pl.col("line").str.slice(0, 1).alias("record_type"),
    )


class _Lines(NamedTuple):
    frame: pl.DataFrame  # record_number, line, record_type
    length: int  # bytes
    crlf: bool  # the file has CR LF
    ascii: bool  # 750-byte ASCII records only (then a byte is a character: fields are byte slices)


def _line_chunks(data: bytes | bytearray | Iterable[bytes], size: int) -> Iterator[_Lines]:
    """The file's lines, chunk by chunk, numbered across the file."""
    segments = _segments(data, size) if isinstance(data, (bytes, bytearray)) else _piece_segments(data, size)
    first = 1
    pending: _Segment | None = None
    for segment in segments:
        # Keep one segment back so that the last one is known.
        if pending is not None:
            chunk = _framed(pending, first, last=False)
            first += chunk.frame.height
            yield chunk
        pending = segment
    if pending is not None:
        yield _framed(pending, first, last=True)


def _framed(segment: _Segment, first: int, *, last: bool) -> _Lines:
    lines = _fast_lines(segment.data) if segment.crlf else None
    if lines is None:
        lines = _split_lines(segment.data, segment.crlf, last)
        return _Lines(_line_frame(lines, first), len(segment.data), segment.crlf, False)
    return _Lines(_line_frame(lines, first), len(segment.data), True, True)


def _raw_fields(lines: pl.DataFrame, layout: tuple[Field, ...]) -> pl.DataFrame:
    """Each field of ``layout`` as its raw text slice."""
    return lines.with_columns(pl.col("line").str.slice(f.start - 1, f.length).alias(f.name) for f in layout)


def _typed(field: Field, raw: pl.Expr | None = None) -> pl.Expr:
    raw = pl.col(field.name) if raw is None else raw
    blank = raw.str.strip_chars(" ") == ""
    match field.kind:
        case "number" | "money":
            return raw.cast(pl.Int64, strict=False)
        case "opt_number":
            return pl.when(blank).then(None).otherwise(raw.cast(pl.Int32, strict=False))
        case "date":
            return pl.when(blank).then(None).otherwise(raw.str.strptime(pl.Date, "%Y%m%d", strict=False))
        case "opt_digits":
            return pl.when(blank).then(None).otherwise(raw)
        case "const":
            return raw
        case _:
            return raw.str.strip_chars(" ")


def _raw(f: Field, *, ascii_only: bool = False) -> pl.Expr:
    """The raw text of field ``f`` of the lines (byte slices when the lines are all ASCII: the same
    text, cheaper than character slices)."""
    if ascii_only:
        return pl.col("line").cast(pl.Binary).bin.slice(f.start - 1, f.length).cast(pl.String)
    return pl.col("line").str.slice(f.start - 1, f.length)


def _parsed(lines: pl.DataFrame, record_type: str, *, ascii_only: bool = False) -> pl.DataFrame:
    layout = LAYOUTS[record_type]
    values = [f for f in layout if f.kind not in FILLER_KINDS or f.kind == "const"]
    keep = ["record_number"] + (["payer_group"] if record_type in "ABCK" else [])
    return lines.filter(pl.col("record_type") == record_type).select(
        *keep, *(_typed(f, _raw(f, ascii_only=ascii_only)).alias(f.name) for f in values)
    )


def _with_groups(frame: pl.DataFrame, before: int) -> pl.DataFrame:
    """``payer_group``: A records up to each line, ``before`` of them in earlier chunks."""
    return frame.with_columns(
        ((pl.col("record_type") == "A").cast(pl.Int64).cum_sum() + before).alias("payer_group")
    )


def read_pub1220(data: bytes | Iterable[bytes]) -> Pub1220File:
    """Parse a Publication 1220 file into one frame per record type.

    ``data``: the file, or its consecutive pieces (any sizes). Raises ``ValueError`` when a record
    is not 750 bytes or of an unknown type; run :func:`check_pub1220` for the full list of rule
    violations.
    """
    parts: dict[str, list[pl.DataFrame]] = {rt: [] for rt in LAYOUTS}
    bad: list[int] = []
    groups = 0
    for chunk in _line_chunks(data, CHUNK_RECORDS * RECORD_LENGTH):
        lines = _with_groups(chunk.frame, groups)
        groups += int((lines["record_type"] == "A").sum())
        if len(bad) < 10:
            bad += (
                lines.filter(
                    (pl.col("line").str.len_chars() != RECORD_LENGTH)
                    | ~pl.col("record_type").is_in(list(LAYOUTS))
                )["record_number"]
                .head(10 - len(bad))
                .to_list()
            )
        if bad:
            continue  # the file is refused: parse no more
        for rt in LAYOUTS:
            parts[rt].append(_parsed(lines, rt, ascii_only=chunk.ascii))
    if bad:
        numbers = ", ".join(map(str, bad))
        raise ValueError(
            f"not a Publication 1220 file: records {numbers} are not 750-byte T/A/B/C/K/F records"
        )
    empty = pl.DataFrame(
        {"record_number": [], "line": [], "record_type": [], "payer_group": []},
        schema={
            "record_number": pl.Int64,
            "line": pl.String,
            "record_type": pl.String,
            "payer_group": pl.Int64,
        },
    )
    frames = {rt: pl.concat(p) if p else _parsed(empty, rt) for rt, p in parts.items()}
    return Pub1220File(
        transmitter=frames["T"],
        payers=frames["A"],
        payees=frames["B"],
        end_of_payer=frames["C"],
        state_totals=frames["K"],
        end_of_transmission=frames["F"],
    )


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


class _Rule(NamedTuple):
    """A rule over the rows of one frame: the rows where ``mask`` holds (or is null) break it.

    ``key``: for a B-record rule that needs more than one field's characters (it compares fields,
    or with the T record's year, or its valid values are few), what it checks; see _b_clean.
    """

    frame: pl.DataFrame
    mask: pl.Expr
    message: str | pl.Expr
    key: str | None = None


def _hits(frame: pl.DataFrame, mask: pl.Expr, message: str | pl.Expr, *, key: str | None = None) -> _Rule:
    return _Rule(frame, mask, message, key)


def _evaluate(rules: list[_Rule]) -> list[pl.DataFrame]:
    """(record_number, message) frames of the rows that break each rule.

    The masks of all rules over one frame are computed in a single ``select`` (polars runs them in
    parallel); messages are only formatted for the rules that have hits. Frames come in the order
    of the rules: by frame (first rule first), then by rule.
    """
    by_frame: dict[int, tuple[pl.DataFrame, list[_Rule]]] = {}
    for rule in rules:
        by_frame.setdefault(id(rule.frame), (rule.frame, []))[1].append(rule)
    out = []
    for frame, frame_rules in by_frame.values():
        if frame.height == 0:
            continue
        masks = frame.select(
            pl.col("record_number"),
            *(rule.mask.fill_null(True).alias(f"rule_{i}") for i, rule in enumerate(frame_rules)),
        )
        for i, rule in enumerate(frame_rules):
            hit = masks[f"rule_{i}"]
            if hit.any():
                text = pl.lit(rule.message) if isinstance(rule.message, str) else rule.message
                out.append(frame.filter(hit).select("record_number", text.cast(pl.String).alias("message")))
    return out


#: TIN fields that may be blank ("blanks if applied for and not yet received", §6).
_TIN_MAY_BE_BLANK = frozenset({"payee_tin"})


def _field_rules(frame: pl.DataFrame, layout: tuple[Field, ...]) -> list[_Rule]:
    """Generic per-field rules of a raw record frame (one column per field)."""
    out = []
    for f in layout:
        col = pl.col(f.name)
        where = f"positions {f.start}-{f.end} {f.name}"
        match f.kind:
            case "const":
                out.append(
                    _hits(frame, col != f.fixed.ljust(f.length), f"{where} must be {f.fixed.strip()!r}")
                )
            case "blank":
                out.append(_hits(frame, col != " " * f.length, f"{where} must be blank"))
            case "zeros":
                out.append(_hits(frame, col != "0" * f.length, f"{where} must be zeros"))
            case "eol":
                out.append(_hits(frame, col != LINE_END, f"{where} must be CR LF"))
            case "number" | "money":
                out.append(
                    _hits(
                        frame,
                        ~col.str.contains(rf"^[0-9]{{{f.length}}}$"),
                        f"{where} must be numeric, zero-filled",
                    )
                )
            case "opt_number" | "opt_digits":
                out.append(
                    _hits(
                        frame,
                        ~col.str.contains(rf"^([0-9]{{{f.length}}}| {{{f.length}}})$"),
                        f"{where} must be digits or blank",
                    )
                )
            case "date":
                bad_date = (col != " " * f.length) & col.str.strptime(
                    pl.Date, "%Y%m%d", strict=False
                ).is_null()
                out.append(_hits(frame, bad_date, f"{where} must be a date YYYYMMDD or blank", key="date"))
            case "alpha":
                out.append(_hits(frame, col.str.contains(r"[a-z]"), f"{where} must be upper case"))
                out.append(
                    _hits(
                        frame,
                        col.str.starts_with(" ") & (col.str.strip_chars(" ") != ""),
                        f"{where} must be left-justified",
                    )
                )
            case "name":
                out.append(
                    _hits(
                        frame,
                        ~col.str.contains(r"^[A-Z0-9&\- ]*$"),
                        f"{where} must be upper case letters, digits, blanks, hyphen or ampersand",
                    )
                )
                out.append(
                    _hits(
                        frame,
                        col.str.starts_with(" ") & (col.str.strip_chars(" ") != ""),
                        f"{where} must be left-justified",
                    )
                )
            case "tin":
                blank_ok = (col == " " * 9) if f.name in _TIN_MAY_BE_BLANK else pl.lit(False)
                out.append(
                    _hits(
                        frame,
                        ~blank_ok & ~tin_is_valid(col),
                        f"{where} must be 9 digits, not all the same",
                        key="tin",
                    )
                )
    return out


# One regular expression per B record (_b_clean) covers every field rule above and every B rule
# that looks at one field's characters (fixed codes, indicators, zero amounts, TINs, CF/SF and
# distribution codes, the payment and first Roth years), and the U.S. state and ZIP rules (they
# depend on position 287, which comes before them): a record it matches breaks none of them.
# Character classes are printable ASCII (0x20-0x7E) only. The other B rules (the date, amount
# codes A and 2 against positions 547-548) are evaluated on their own fields; all rules, with
# their messages, on the records that fail either.
_ALPHA_FIRST = r"[!-`{-~]"  # printable, not blank, not lower case
_ALPHA = r"[ -`{-~]"  # printable, not lower case
_NAME_FIRST = r"[A-Z0-9&\-]"
_NAME = r"[A-Z0-9&\- ]"

#: B fields whose B rules (docs/reference/irs-filing-formats.md §6, §7) narrow the field rule of their kind.
_B_CLEAN_FIELDS: dict[str, str] = {
    "corrected_return_indicator": "[ GC]",
    "type_of_tin": "[12 ]",
    "payee_name_control": "(?:" + "|".join(f"{_NAME_FIRST}{{{n}}} {{{4 - n}}}" for n in range(5)) + ")",
    "account_number": f"{_ALPHA_FIRST}{_ALPHA}{{19}}",
    "payee_name_line_1": f"{_NAME_FIRST}{_NAME}{{39}}",
    **{amount_field(code): "0{12}" for code in ZERO_AMOUNT_CODES},
    **{
        name: "[1 ]"
        for name in (
            "foreign_country_indicator",
            "taxable_amount_not_determined_indicator",
            "ira_sep_simple_indicator",
            "total_distribution_indicator",
            "fatca_filing_requirement_indicator",
        )
    },
}


def _literal(text: str) -> str:
    """``text`` as a regular expression matching itself."""
    return "".join(ch if ch.isascii() and ch.isalnum() else f"\\x{{{ord(ch):X}}}" for ch in text)


def _clean_pattern(f: Field) -> str:
    """A regular expression for the field's text that breaks none of its rules without a key."""
    n = f.length
    if f.name in _B_CLEAN_FIELDS:
        return _B_CLEAN_FIELDS[f.name]
    match f.kind:
        case "const":
            return _literal(f.fixed.ljust(n))
        case "blank":
            return f" {{{n}}}"
        case "zeros":
            return f"0{{{n}}}"
        case "eol":
            return r"\r\n"
        case "number" | "money":
            return f"[0-9]{{{n}}}"
        case "opt_number" | "opt_digits":
            return f"(?:[0-9]{{{n}}}| {{{n}}})"
        case "alpha":
            return _ALPHA if n == 1 else f"(?: {{{n}}}|{_ALPHA_FIRST}{_ALPHA}{{{n - 1}}})"
        case "name":
            return f"(?: {{{n}}}|{_NAME_FIRST}{_NAME}{{{n - 1}}})"
        case "tin":
            return f"(?:[0-9]{{{n}}}| {{{n}}})" if f.name in _TIN_MAY_BE_BLANK else f"[0-9]{{{n}}}"
        case _:  # text, date (a rule with a key checks dates)
            return f"[ -~]{{{n}}}"


def _not_all(digit: str, count: int) -> str:
    """``count`` digits, not all of them ``digit``."""
    others = "[" + "".join(d for d in "0123456789" if d != digit) + "]"
    if count == 1:
        return others
    return f"(?:{others}[0-9]{{{count - 1}}}|{digit}{_not_all(digit, count - 1)})"


#: Nine digits, not all the same (the TIN rule).
_TIN_DIGITS = "(?:" + "|".join(d + _not_all(d, 8) for d in "0123456789") + ")"


@functools.cache
def _b_clean(t_year: str | None, payment_year: int) -> tuple[str, frozenset[str]]:
    """The B-record expression for a file whose T record has payment year ``t_year`` (raw), and the
    keys of the rules it covers (see _Rule)."""
    fields = dict(_B_CLEAN_FIELDS)
    covered = {"tin", "cfsf", "distribution", "state_zip"}
    fields["payee_tin"] = f"(?: {{9}}|{_TIN_DIGITS})"
    codes = sorted(cfsf_state_codes(payment_year).values()) if payment_year else []
    fields["combined_federal_state_code"] = "(?:" + "|".join(_literal(c) for c in ["  ", *codes]) + ")"
    # Distribution codes: the two-character values that break none of their rules.
    candidates = pl.DataFrame(
        {"distribution_codes": [chr(a) + chr(b) for a in range(32, 127) for b in range(32, 127)]}
    )
    field = next(f for f in B_LAYOUT if f.name == "distribution_codes")
    rules = _field_rules(candidates, (field,)) + _distribution_code_rules(candidates, payment_year)
    fine = candidates.filter(~pl.any_horizontal(r.mask.fill_null(True) for r in rules))["distribution_codes"]
    fields["distribution_codes"] = "(?:" + "|".join(_literal(v) for v in fine.sort()) + ")"
    if t_year is not None and len(t_year) == 4 and t_year.isascii() and t_year.isdigit():
        # The payment year is the T record's; the first Roth year blank or from 1900 to it.
        fields["payment_year"] = t_year
        years = [f"{y:04d}" for y in range(1900, int(t_year) + 1)]
        fields["first_year_of_designated_roth_contribution"] = "(?:" + "|".join([" {4}", *years]) + ")"
        covered |= {"payment_year", "roth"}

    def pattern(f: Field, *, us: bool = False) -> str:
        if us and f.name == "payee_state":
            return "[A-Z]{2}"
        if us and f.name == "payee_zip":
            return "(?:[0-9]{5} {4}|[0-9]{9})"
        return fields[f.name] if f.name in fields else _clean_pattern(f)

    # Position 287 "1" (foreign address) or blank (U.S. address: state and ZIP rules).
    names = [f.name for f in B_LAYOUT]
    foreign, zip_code = names.index("foreign_country_indicator"), names.index("payee_zip")
    between = B_LAYOUT[foreign + 1 : zip_code + 1]
    return (
        "^"
        + "".join(pattern(f) for f in B_LAYOUT[:foreign])
        + "(?:1"
        + "".join(pattern(f) for f in between)
        + "| "
        + "".join(pattern(f, us=True) for f in between)
        + ")"
        + "".join(pattern(f) for f in B_LAYOUT[zip_code + 1 :])
        + "$"
    ), frozenset(covered)


def _structure(runs: list[tuple[str, int]]) -> list[str]:
    """Record order: one T first, then (A, B..., C, K...) per payer, one F last (§2).

    ``runs``: the record types of the file as (type, count) runs. Runs of B and of K records stand
    for one B or one K record in the pattern, other runs for at most two records: the pattern and
    the first break in it are the same as over the whole sequence of types.
    """
    problems = []
    count = {rt: sum(n for t, n in runs if t == rt) for rt in "TF"}
    if not runs or runs[0][0] != "T":
        problems.append("the first record must be the T record")
    if not runs or runs[-1][0] != "F":
        problems.append("the last record must be the F record")
    if count["T"] != 1 or count["F"] != 1:
        problems.append("the file must have exactly one T and one F record")
    if not problems:
        short: list[str] = []
        position: list[int] = []  # of each character of ``short`` in the sequence of types
        at = 0
        for rt, n in runs:
            keep = 1 if rt in "BK" else min(n, 2)
            short.append(rt * keep)
            position.extend(range(at, at + keep))
            at += n
        types = "".join(short)
        if not re.fullmatch(r"T(AB+CK*)+F", types):
            prefix = re.match(r"T(?:AB+CK*)*", types)
            end = prefix.end() if prefix else 0
            first_break = (position[end] if end < len(position) else at) + 1
            problems.append(
                "record order must be T, then A, B..., C, K... per payer, then F (first break at record "
                f"{first_break})"
            )
    unknown = {rt for rt, _ in runs} - set(LAYOUTS)
    if unknown:
        problems.append(f"unknown record types: {', '.join(sorted(repr(u) for u in unknown))}")
    return problems


def _runs(types: pl.Series) -> list[tuple[str, int]]:
    """Record types as (type, count) runs, lines without a type (empty lines) left out."""
    runs = types.filter(types != "").rle().struct.unnest()
    return list(zip(runs["value"].to_list(), runs["len"].to_list(), strict=True))


def _add_runs(runs: list[tuple[str, int]], more: list[tuple[str, int]]) -> None:
    for rt, n in more:
        if runs and runs[-1][0] == rt:
            runs[-1] = (rt, runs[-1][1] + n)
        else:
            runs.append((rt, n))


def _distribution_code_rules(b: pl.DataFrame, payment_year: int) -> list[_Rule]:
    codes = pl.col("distribution_codes")
    first, second = codes.str.slice(0, 1), codes.str.slice(1, 1)
    valid = sorted(distribution_codes(payment_year))
    pair = pl.when(first < second).then(pl.concat_str(first, second)).otherwise(pl.concat_str(second, first))
    where = "positions 545-546 distribution codes"
    return [
        _hits(b, ~first.is_in(valid), f"{where}: first code missing or not a valid code", key="distribution"),
        _hits(
            b,
            (second != " ") & ~second.is_in(valid),
            f"{where}: second code not a valid code",
            key="distribution",
        ),
        _hits(b, (second != " ") & (first == second), f"{where}: the same code twice", key="distribution"),
        _hits(
            b,
            (second != " ")
            & first.is_in(valid)
            & second.is_in(valid)
            & (first != second)
            & ~pair.is_in(sorted(allowed_code_pairs(payment_year))),
            pl.format(
                "{}: {} is not an allowed combination (docs/reference/tax-rules.md f.3)", pl.lit(where), codes
            ),
            key="distribution",
        ),
        _hits(
            b,
            (second == " ") & first.is_in(sorted(codes_never_alone(payment_year))),
            pl.format("{}: code {} must be used with another code", pl.lit(where), first),
            key="distribution",
        ),
    ]


def _payment_year_rule(frame: pl.DataFrame, t_year: str | None, *, key: str | None = None) -> _Rule:
    """Payment year on A and B records = the T record's (one tax year per file, §14)."""
    return _hits(
        frame,
        pl.col("payment_year") != t_year if t_year is not None else pl.lit(False),
        "positions 2-5 payment year differs from the T record",
        key=key,
    )


def _b_rules(b: pl.DataFrame, t_year: str | None, payment_year: int) -> list[_Rule]:
    """The B rules of one record each, in the order of the checker's messages: field rules,
    payment year, Form 1099-R rules (docs/reference/irs-filing-formats.md §5.1, §6, §7), distribution codes."""
    cfsf_codes = sorted(cfsf_state_codes(payment_year).values()) if payment_year else []
    account = pl.col("account_number")
    return [
        *_field_rules(b, B_LAYOUT),
        _payment_year_rule(b, t_year, key="payment_year"),
        _hits(
            b,
            ~pl.col("corrected_return_indicator").is_in([" ", "G", "C"]),
            'position 6 corrected return indicator must be blank, "G" or "C"',
        ),
        _hits(
            b,
            ~pl.col("type_of_tin").is_in(["1", "2", " "]),
            'position 11 type of TIN must be "1", "2" or blank',
        ),
        _hits(
            b,
            ~pl.col("payee_name_control").str.contains(r"^[A-Z0-9&\-]{0,4} *$"),
            "positions 7-10 payee name control must be up to 4 characters, left-justified",
        ),
        _hits(b, account.str.strip_chars(" ") == "", "positions 21-40 account number must be given"),
        _hits(
            b,
            pl.col("payee_name_line_1").str.strip_chars(" ") == "",
            "positions 288-327 first payee name line must be given",
        ),
        *(
            _hits(
                b, pl.col(amount_field(code)) != "0" * 12, f"amount code {code} must be zeros on Form 1099-R"
            )
            for code in ("7", "C", "D", "E", "F", "G", "H", "J")
        ),
        _hits(
            b,
            (pl.col("ira_sep_simple_indicator") != "1") & (pl.col(amount_field("A")) != "0" * 12),
            "amount code A must be zeros unless position 548 (IRA/SEP/SIMPLE) is 1",
            key="amount_a",
        ),
        _hits(
            b,
            (pl.col("taxable_amount_not_determined_indicator") == "1")
            & (pl.col(amount_field("2")) != "0" * 12),
            "amount code 2 must be zeros when position 547 (taxable amount not determined) is 1",
            key="amount_2",
        ),
        *(
            _hits(b, ~pl.col(name).is_in(["1", " "]), f"position {pos} {name} must be 1 or blank")
            for pos, name in (
                (287, "foreign_country_indicator"),
                (547, "taxable_amount_not_determined_indicator"),
                (548, "ira_sep_simple_indicator"),
                (549, "total_distribution_indicator"),
                (556, "fatca_filing_requirement_indicator"),
            )
        ),
        _hits(
            b,
            (pl.col("combined_federal_state_code") != "  ")
            & ~pl.col("combined_federal_state_code").is_in(cfsf_codes),
            "positions 747-748 must be blank or a CF/SF state code of the payment year",
            key="cfsf",
        ),
        _hits(
            b,
            (pl.col("foreign_country_indicator") == " ") & ~pl.col("payee_state").str.contains(r"^[A-Z]{2}$"),
            "positions 488-489 payee state must be a 2-letter abbreviation for a U.S. address",
            key="state_zip",
        ),
        _hits(
            b,
            (pl.col("foreign_country_indicator") == " ") & ~pl.col("payee_zip").str.contains(_DOMESTIC_ZIP),
            "positions 490-498 payee ZIP must be 5 digits (left-justified) or 9 digits for a U.S. address",
            key="state_zip",
        ),
        _hits(
            b,
            pl.col("first_year_of_designated_roth_contribution").str.contains(r"^[0-9]{4}$")
            & (
                (pl.col("first_year_of_designated_roth_contribution") > pl.col("payment_year"))
                | (pl.col("first_year_of_designated_roth_contribution") < "1900")
            ),
            "positions 552-555 first year of designated Roth contribution after the payment year",
            key="roth",
        ),
        *_distribution_code_rules(b, payment_year),
    ]


_N_UNIQUE_MESSAGE = "position 6: originals, G and C returns must be under separate A records"
_DUPLICATE_MESSAGE = "positions 21-40 account number repeated under the same A record"


def _line_rules(lines: pl.DataFrame) -> list[_Rule]:
    """Rules of every record: its length, then (750-byte records) sequence number and characters."""
    ok = lines.filter(pl.col("line").str.len_chars() == RECORD_LENGTH)
    return [
        _hits(
            lines,
            pl.col("line").str.len_chars() != RECORD_LENGTH,
            pl.format(
                "record length {} must be 750 (positions 749-750 CR LF included)",
                pl.col("line").str.len_chars(),
            ),
        ),
        # Sequence numbers, positions 500-507 of every record: 1, 2, 3, ... across the file (§2).
        _hits(
            ok,
            pl.col("line").str.slice(499, 8) != pl.col("record_number").cast(pl.String).str.pad_start(8, "0"),
            "positions 500-507 record sequence number must equal the record's position in the file",
        ),
        _hits(
            ok,
            ~pl.col("line").str.slice(0, 748).str.contains(r"^[\x20-\x7E]*$"),
            "positions 1-748 must be printable ASCII",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------

_B_KEY_FIELDS = {f.name: f for f in B_LAYOUT}
_VALUED_CODES = tuple(code for code in AMOUNT_CODES if code not in ZERO_AMOUNT_CODES)
_HIT_SCHEMA = {
    "record_number": pl.Int64,
    "message": pl.String,
    "record_type": pl.String,
    "account": pl.String,
}
#: B fields the checker reads in every B record: for the sums and group rules.
_SUMMED_FIELDS = (
    *(amount_field(code) for code in _VALUED_CODES),
    "state_income_tax_withheld",
    "local_income_tax_withheld",
    "combined_federal_state_code",
    "account_number",
    "corrected_return_indicator",
    "record_sequence_number",
)
#: Chunks checked at the same time (polars releases the GIL).
_WORKERS = 2


def _slices(lines: pl.DataFrame, names: Iterable[str], *keep: str, ascii_only: bool) -> pl.DataFrame:
    """``keep`` columns and the raw text of the named B fields."""
    fields = [_B_KEY_FIELDS[name] for name in names]
    return lines.select(*keep, *(_raw(f, ascii_only=ascii_only).alias(f.name) for f in fields))


def _labels(hits: pl.DataFrame) -> list[str]:
    return (
        hits.select(
            pl.format(
                "record {} ({}{}): {}",
                pl.col("record_number"),
                pl.col("record_type"),
                pl.when(pl.col("account").is_not_null())
                .then(pl.format(", account {}", pl.col("account")))
                .otherwise(pl.lit("")),
                pl.col("message"),
            )
        )
        .to_series()
        .to_list()
    )


class _Chunk(NamedTuple):
    """What one chunk of lines tells the checker; payer groups counted from the chunk's start."""

    length: int
    crlf: bool
    not_printable: bool
    runs: list[tuple[str, int]]
    a_lines: int  # A records of any length: payer groups
    number_of_a: int
    number_of_b: int
    hits: pl.DataFrame | None  # record_number, message, record_type, account
    others: pl.DataFrame  # T, A, C, K, F records of 750 bytes
    group_sums: list[pl.DataFrame]
    state_sums: list[pl.DataFrame]
    accounts: pl.DataFrame  # record_number, payer_group, account (blanks at the end stripped)
    corrections: pl.DataFrame  # payer_group, corrected return indicator pairs


def _own(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """``frame`` with its text ``columns`` copied: kept from chunk to chunk, a slice or a filter of
    the lines would keep the chunk's whole buffer of lines alive with it."""
    return frame.with_columns(pl.col(c) + "" for c in columns)


def _check_chunk(chunk: _Lines, t_year: str | None, payment_year: int) -> _Chunk:
    """Line rules and B-record rules of one chunk of lines; counts and sums per payer group."""
    pattern, covered = _b_clean(t_year, payment_year)
    lines = _with_groups(chunk.frame, 0).with_columns(
        ((pl.col("record_type") == "B") & (pl.col("line").str.len_chars() == RECORD_LENGTH)).alias("_b")
    )
    lines = lines.with_columns((pl.col("_b") & pl.col("line").str.contains(pattern)).alias("_clean"))
    unclean = lines.filter(~pl.col("_clean"))
    not_printable = bool(unclean.select(pl.col("line").str.contains(r"[^\x20-\x7E\r\n]").any()).item())
    b = lines.filter("_b")
    rest = lines.filter(~pl.col("_b")).drop("_b", "_clean")
    ok_rest = rest.filter(pl.col("line").str.len_chars() == RECORD_LENGTH)

    # B records: the rules the expression does not cover, on their own fields.
    keyed = [r for r in _b_rules(pl.DataFrame(), t_year, payment_year) if r.key and r.key not in covered]
    needed = set().union(*(r.mask.meta.root_names() for r in keyed)) | set(_SUMMED_FIELDS)
    fields = _slices(b, sorted(needed), "record_number", "payer_group", "_clean", ascii_only=chunk.ascii)
    keyed = [r for r in _b_rules(fields, t_year, payment_year) if r.key and r.key not in covered]
    # Positions 500-507: 8 digits in a record the expression matches, so this is the line rule.
    sequence_ok = pl.col("record_sequence_number").cast(pl.Int64, strict=False) == pl.col("record_number")
    suspect = fields.select(
        ~pl.col("_clean")
        | ~sequence_ok.fill_null(False)
        | pl.any_horizontal(pl.lit(False), *(r.mask.fill_null(True) for r in keyed))
    ).to_series()
    doubtful = b.filter(suspect).drop("_b", "_clean")
    full = _raw_fields(doubtful, B_LAYOUT)
    checked = pl.concat([rest, doubtful])
    found = _evaluate(_line_rules(checked)) + _evaluate(_b_rules(full, t_year, payment_year))
    hits = None
    if found:
        accounts = full.select(
            "record_number", pl.col("account_number").str.strip_chars(" ").alias("account")
        )
        hits = (
            pl.concat(found)
            .join(
                checked.select("record_number", "record_type"),
                on="record_number",
                how="left",
                maintain_order="left",
            )
            .join(accounts, on="record_number", how="left", maintain_order="left")
            .unique(maintain_order=True)
        )

    # Per payer group: counts and sums (amount codes 7, C-J: zeros in every record but the
    # doubtful ones), CF/SF codes, correction kinds and account numbers.
    valued = [amount_field(code) for code in _VALUED_CODES]
    zero = [amount_field(code) for code in ZERO_AMOUNT_CODES]
    coded = pl.col("combined_federal_state_code") != "  "
    amounts = fields.select(
        "payer_group",
        "combined_federal_state_code",
        *(pl.col(name).cast(pl.Int64, strict=False) for name in valued),
        pl.col("state_income_tax_withheld").cast(pl.Int64, strict=False),
        pl.col("local_income_tax_withheld").cast(pl.Int64, strict=False),
    )
    group_sums = [
        amounts.group_by("payer_group").agg(
            pl.len().alias("b_count"), coded.any().alias("b_cfsf"), *(pl.col(n).sum() for n in valued)
        )
    ]
    state_sums = [
        amounts.filter(coded)
        .group_by("payer_group", "combined_federal_state_code")
        .agg(
            pl.len().alias("b_count"),
            *(pl.col(n).sum() for n in valued),
            pl.col("state_income_tax_withheld").sum().alias("b_state_tax"),
            pl.col("local_income_tax_withheld").sum().alias("b_local_tax"),
        )
    ]
    if full.height:
        zeros = full.select(
            "payer_group",
            "combined_federal_state_code",
            *(pl.col(name).cast(pl.Int64, strict=False) for name in zero),
        )
        group_sums.append(zeros.group_by("payer_group").agg(pl.col(n).sum() for n in zero))
        state_sums.append(
            zeros.filter(coded)
            .group_by("payer_group", "combined_federal_state_code")
            .agg(pl.col(n).sum() for n in zero)
        )
    return _Chunk(
        length=chunk.length,
        crlf=chunk.crlf,
        not_printable=not_printable,
        runs=_runs(lines["record_type"]),
        a_lines=int((lines["record_type"] == "A").sum()),
        number_of_a=int((ok_rest["record_type"] == "A").sum()),
        number_of_b=b.height,
        hits=hits,
        others=_own(ok_rest.filter(pl.col("record_type") != "B"), "line", "record_type"),
        group_sums=group_sums,
        state_sums=state_sums,
        accounts=_own(
            fields.select("record_number", "payer_group", pl.col("account_number").str.strip_chars_end(" ")),
            "account_number",
        ),
        corrections=_own(
            fields.select("payer_group", "corrected_return_indicator").unique(), "corrected_return_indicator"
        ),
    )


@dataclass
class _Check:
    """What the checker keeps while it reads the file chunk by chunk."""

    t_year: str | None  # the (first) T record's payment year, raw
    payment_year: int
    length: int = 0
    crlf: bool = False
    not_printable: bool = False
    a_lines: int = 0  # A records of any length so far: payer groups
    number_of_a: int = 0
    number_of_b: int = 0
    runs: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    others: list[pl.DataFrame] = dataclasses.field(default_factory=list)
    group_sums: list[pl.DataFrame] = dataclasses.field(default_factory=list)
    state_sums: list[pl.DataFrame] = dataclasses.field(default_factory=list)
    accounts: list[pl.DataFrame] = dataclasses.field(default_factory=list)
    corrections: list[pl.DataFrame] = dataclasses.field(default_factory=list)
    kept: list[pl.DataFrame] = dataclasses.field(default_factory=list)  # hits, see keep
    kept_rows: int = 0
    violations: int = 0

    def keep(self, hits: list[pl.DataFrame]) -> None:
        """Keep rule hits (record_number, message, record_type, account), counting them all; only
        the first MAX_MESSAGES by record number can be listed (later hits never come before them
        in their own record: chunks, then group rules, then T/A/C/K/F records)."""
        hits = [h for h in hits if h.height]
        if not hits:
            return
        new = pl.concat(hits).unique(maintain_order=True)
        self.violations += new.height
        self.kept.append(new)
        self.kept_rows += new.height
        if self.kept_rows > 20 * MAX_MESSAGES:
            self.kept = [self._ordered().head(MAX_MESSAGES)]
            self.kept_rows = self.kept[0].height

    def _ordered(self) -> pl.DataFrame:
        if not self.kept:
            return pl.DataFrame(schema=_HIT_SCHEMA)
        return pl.concat(self.kept).sort("record_number", maintain_order=True)

    def add(self, chunk: _Chunk) -> None:
        """Take in a chunk's results (its payer groups follow the A records before it)."""
        groups = pl.col("payer_group") + self.a_lines
        self.length += chunk.length
        self.crlf = self.crlf or chunk.crlf
        self.not_printable = self.not_printable or chunk.not_printable
        _add_runs(self.runs, chunk.runs)
        self.number_of_a += chunk.number_of_a
        self.number_of_b += chunk.number_of_b
        if chunk.hits is not None:
            self.keep([chunk.hits])
        self.others.append(chunk.others.with_columns(groups))
        self.group_sums += [frame.with_columns(groups) for frame in chunk.group_sums]
        self.state_sums += [frame.with_columns(groups) for frame in chunk.state_sums]
        self.accounts.append(chunk.accounts.with_columns(groups))
        self.corrections.append(chunk.corrections.with_columns(groups))
        self.a_lines += chunk.a_lines

    def finish(self) -> list[str]:
        problems = []
        if self.not_printable:
            problems.append("the file must be printable ASCII (bytes outside 0x20-0x7E besides CR LF found)")
        if not self.crlf:
            problems.append("records must end with CR LF in positions 749-750 (none found)")
        if self.length % RECORD_LENGTH:
            problems.append(f"file length {self.length} is not a multiple of {RECORD_LENGTH}")
        problems.extend(_structure(self.runs))

        # Group rules: one correction kind per A; unique account numbers per A.
        if self.number_of_b:
            accounts = pl.concat(self.accounts)
            kinds = (
                pl.concat(self.corrections)
                .group_by("payer_group")
                .agg(pl.col("corrected_return_indicator").n_unique().alias("kinds"))
            )
            mixed = kinds.filter(pl.col("kinds") > 1)["payer_group"]
            duplicated = pl.col("account_number").is_duplicated().over("payer_group")
            self.keep(
                [
                    accounts.filter(rows).select(
                        "record_number",
                        pl.lit(message).alias("message"),
                        pl.lit("B").alias("record_type"),
                        pl.col("account_number").str.strip_chars(" ").alias("account"),
                    )
                    for rows, message in (
                        (pl.col("payer_group").is_in(mixed.implode()), _N_UNIQUE_MESSAGE),
                        (duplicated & (pl.col("account_number") != ""), _DUPLICATE_MESSAGE),
                    )
                ]
            )
            del accounts

        # T, A, C, K and F records.
        others = pl.concat(self.others)
        frames = {rt: _raw_fields(others.filter(pl.col("record_type") == rt), LAYOUTS[rt]) for rt in "TACKF"}
        rules: list[_Rule] = []
        for rt in "TACKF":
            rules += _field_rules(frames[rt], LAYOUTS[rt])
        rules += _other_rules(frames, self.t_year, number_of_a=self.number_of_a, number_of_b=self.number_of_b)
        rules += _control_totals(frames["A"], self._per_group(), self._per_state(), frames["C"], frames["K"])
        found = _evaluate(rules)
        if found:
            self.keep(
                [
                    pl.concat(found)
                    .join(
                        others.select("record_number", "record_type"),
                        on="record_number",
                        how="left",
                        maintain_order="left",
                    )
                    .with_columns(pl.lit(None, pl.String).alias("account"))
                ]
            )
        ordered = self._ordered()
        problems.extend(_labels(ordered.head(MAX_MESSAGES)))
        if self.violations > MAX_MESSAGES:
            problems.append(f"... and {self.violations - MAX_MESSAGES} more violations")
        return problems

    def _per_group(self) -> pl.DataFrame:
        amounts = [amount_field(code) for code in AMOUNT_CODES]
        if not self.group_sums:
            return pl.DataFrame(
                schema={
                    "payer_group": pl.Int64,
                    "b_count": pl.UInt32,
                    **dict.fromkeys(amounts, pl.Int64),
                    "b_cfsf": pl.Boolean,
                }
            )
        return (
            _with_amounts(pl.concat(self.group_sums, how="diagonal"))
            .group_by("payer_group")
            .agg(pl.col("b_count").sum(), *(pl.col(name).sum() for name in amounts), pl.col("b_cfsf").any())
        )

    def _per_state(self) -> pl.DataFrame:
        amounts = [amount_field(code) for code in AMOUNT_CODES]
        keys = ["payer_group", "combined_federal_state_code"]
        if not self.state_sums:
            return pl.DataFrame(
                schema={
                    "payer_group": pl.Int64,
                    "combined_federal_state_code": pl.String,
                    "b_count": pl.UInt32,
                    **dict.fromkeys(amounts, pl.Int64),
                    "b_state_tax": pl.Int64,
                    "b_local_tax": pl.Int64,
                }
            )
        return (
            _with_amounts(pl.concat(self.state_sums, how="diagonal"))
            .group_by(keys)
            .agg(
                pl.col("b_count").sum(),
                *(pl.col(name).sum() for name in amounts),
                pl.col("b_state_tax").sum(),
                pl.col("b_local_tax").sum(),
            )
            .sort(keys)
        )


def _with_amounts(frame: pl.DataFrame) -> pl.DataFrame:
    """Amount columns the B records' sums lack are zeros (no doubtful record had them parsed)."""
    names = [amount_field(code) for code in AMOUNT_CODES]
    return frame.with_columns(pl.lit(0, pl.Int64).alias(name) for name in names if name not in frame.columns)


def _other_rules(
    frames: dict[str, pl.DataFrame], t_year: str | None, *, number_of_a: int, number_of_b: int
) -> list[_Rule]:
    """T, F and A record rules (after their field rules), in the checker's message order."""
    t, a, f = frames["T"], frames["A"], frames["F"]
    hits = [
        _hits(
            t,
            ~pl.col("prior_year_indicator").is_in(["P", " "]),
            'position 6 prior year indicator must be "P" or blank',
        ),
        _hits(
            t,
            ~pl.col("test_file_indicator").is_in(["T", " "]),
            'position 28 test file indicator must be "T" or blank',
        ),
        _hits(
            t,
            ~pl.col("transmitter_control_code").str.contains(r"^[A-Z0-9]{5}$"),
            "positions 16-20 TCC must be 5 characters",
        ),
        _hits(
            t,
            ~pl.col("vendor_indicator").is_in(["I", "V"]),
            'position 518 vendor indicator must be "I" or "V"',
        ),
        _hits(
            t,
            pl.col("total_number_of_payees").cast(pl.Int64, strict=False) != number_of_b,
            f"positions 296-303 total number of payees must be {number_of_b} (the number of B records)",
        ),
        # F record.
        _hits(
            f,
            pl.col("number_of_a_records").cast(pl.Int64, strict=False) != number_of_a,
            f"positions 2-9 number of A records must be {number_of_a}",
        ),
        _hits(
            f,
            pl.col("total_number_of_payees").cast(pl.Int64, strict=False) != number_of_b,
            f"positions 50-57 total number of payees must be {number_of_b} (the number of B records)",
        ),
        _payment_year_rule(a, t_year),
    ]
    # A records.
    code_order = "".join(AMOUNT_CODES)
    hits += [
        _hits(
            a, ~pl.col("cfsf_indicator").is_in(["1", " "]), 'position 6 CF/SF indicator must be "1" or blank'
        ),
        _hits(
            a,
            ~pl.col("last_filing_indicator").is_in(["1", " "]),
            'position 25 last filing indicator must be "1" or blank',
        ),
        _hits(
            a,
            ~pl.col("transfer_agent_indicator").is_in(["0", "1"]),
            'position 133 transfer agent indicator must be "0" or "1"',
        ),
        _hits(
            a,
            ~pl.col("foreign_entity_indicator").is_in(["1", " "]),
            'position 52 foreign entity indicator must be "1" or blank',
        ),
        _hits(
            a,
            (pl.col("foreign_entity_indicator") == " ")
            & ~(
                pl.col("payer_state").str.contains(r"^[A-Z]{2}$")
                & pl.col("payer_zip").str.contains(_DOMESTIC_ZIP)
            ),
            "positions 214-224 payer state and ZIP must be a 2-letter abbreviation and 5 or 9 digits",
        ),
        _hits(
            a,
            ~pl.col("amount_codes").str.contains(rf"^[{code_order}]+ *$"),
            "positions 28-45 amount codes must be at least one valid code, left-justified",
        ),
    ]
    listed = pl.col("amount_codes").str.strip_chars(" ")
    in_order = pl.concat_str(
        [
            pl.when(listed.str.contains(code, literal=True)).then(pl.lit(code)).otherwise(pl.lit(""))
            for code in code_order
        ]
    )
    hits.append(_hits(a, listed != in_order, "positions 28-45 amount codes must be ascending, each once"))
    return hits


def _first_t_year(chunk: pl.DataFrame) -> str | None | bool:
    """The raw payment year of the first 750-byte T record of ``chunk``; False when there is none."""
    t = chunk.filter((pl.col("record_type") == "T") & (pl.col("line").str.len_chars() == RECORD_LENGTH))
    return t["line"][0][1:5] if t.height else False


def _chunks_with_t_year(
    data: bytes | bytearray | Iterable[bytes],
) -> tuple[Iterator[_Lines], str | None] | bytes:
    """The file's chunks of lines and its T record's payment year (None: no T record); the whole
    data as bytes when it is given in pieces and its first chunk has no T record."""
    size = CHUNK_RECORDS * RECORD_LENGTH
    if isinstance(data, (bytes, bytearray)):
        chunks = _line_chunks(data, size)
        first = next(chunks, None)
        if first is None:
            return iter(()), None
        t_year = _first_t_year(first.frame)
        if t_year is False:  # look further: the T record is not where it belongs
            found = (_first_t_year(later.frame) for later in _line_chunks(data, size))
            t_year = next((year for year in found if year is not False), None)
        return itertools.chain([first], chunks), t_year
    seen: list[bytes] = []
    pieces = iter(data)

    def recorded() -> Iterator[bytes]:
        for piece in pieces:
            if seen is not None:
                seen.append(piece)
            yield piece

    chunks = _line_chunks(recorded(), size)
    first = next(chunks, None)
    if first is None:
        return iter(()), None
    t_year = _first_t_year(first.frame)
    if t_year is False:  # read the rest: the T record may come later
        return b"".join(seen) + b"".join(bytes(p) for p in pieces)
    seen = None  # stop recording
    return itertools.chain([first], chunks), t_year


def check_pub1220(data: bytes | Iterable[bytes]) -> list[str]:
    """Violations of the Publication 1220 field rules in ``data``; ``[]`` when none is found.

    ``data``: the file, or its consecutive pieces (any sizes: a file too large to hold in memory).
    Checks: ASCII; every record 750 bytes ending CR LF; record order; sequence numbers 1..n across
    the file; every field's kind (numeric fields numeric, blanks blank, upper case, name-line
    characters, TINs 9 digits not all the same, dates); T and F counts; C counts and control totals
    equal the sums of their B records; K records (one per CF/SF code used, counts and totals); A amount
    codes valid, ascending and covering the B amounts; A position 6 when B records are CF/SF coded;
    one correction kind and unique account numbers per A; payment year; Form 1099-R rules (amount 7
    and C-J zero, amount A only with the IRA indicator, amount 2 zero when the taxable amount is not
    determined, indicators, distribution codes and allowed pairs, U.S. state and ZIP).

    Chunks of ``CHUNK_RECORDS`` records are checked two at a time, on two threads.
    """
    if isinstance(data, (bytes, bytearray)) and not data:
        return ["the file is empty"]
    source = _chunks_with_t_year(data)
    if isinstance(source, bytes):
        return check_pub1220(source)
    chunks, t_year = source
    check = _Check(t_year, int(t_year) if t_year is not None and t_year.isdigit() else 0)
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        pending = deque(
            pool.submit(_check_chunk, chunk, check.t_year, check.payment_year)
            for chunk in itertools.islice(chunks, _WORKERS)
        )
        while pending:
            result = pending.popleft().result()
            for chunk in itertools.islice(chunks, 1):
                pending.append(pool.submit(_check_chunk, chunk, check.t_year, check.payment_year))
            check.add(result)
    if not check.length:
        return ["the file is empty"]
    return check.finish()


def _number_as_read(name: str) -> pl.Expr:
    """A numeric field for a message: its value, or the text as read when it is not a number."""
    return (
        pl.col(name)
        .cast(pl.Int64, strict=False)
        .cast(pl.String)
        .fill_null(pl.format("'{}' (not a number)", pl.col(name).str.strip_chars()))
    )


def _control_totals(
    a: pl.DataFrame, per_group: pl.DataFrame, state_sums: pl.DataFrame, c: pl.DataFrame, k: pl.DataFrame
) -> list[_Rule]:
    """C and K counts and totals, A amount codes and CF/SF coding, per payer group.

    ``per_group``: the B records' count, amount sums (``amount_1`` ...) and whether any is CF/SF
    coded (``b_cfsf``) per ``payer_group``; ``state_sums``: count, amount sums and state and local
    tax sums (``b_state_tax``, ``b_local_tax``) per payer group and CF/SF code.
    """
    if not a.height:
        return []
    out = []

    # C: one per group (the structure check reports a missing one); count and totals.
    cc = c.join(per_group, on="payer_group", how="left", maintain_order="left").with_columns(
        pl.col("b_count").fill_null(0)
    )
    out.append(
        _hits(
            cc,
            pl.col("number_of_payees").cast(pl.Int64, strict=False) != pl.col("b_count"),
            pl.format(
                "positions 2-9 number of payees must be {} (B records under the A record)", pl.col("b_count")
            ),
        )
    )
    for code in AMOUNT_CODES:
        total, amount = total_field(code), amount_field(code)
        field = next(fl for fl in LAYOUTS["C"] if fl.name == total)
        out.append(
            _hits(
                cc,
                pl.col(total).cast(pl.Int64, strict=False) != pl.col(amount).fill_null(0),
                pl.format(
                    "positions {}-{} control total {} is {} but its B records sum to {}",
                    pl.lit(field.start),
                    pl.lit(field.end),
                    pl.lit(code),
                    _number_as_read(total),
                    pl.col(amount).fill_null(0),
                ),
            )
        )

    # A: amount codes cover every amount code with money in its B records; CF/SF indicator.
    aa = a.join(per_group, on="payer_group", how="left", maintain_order="left")
    for code in AMOUNT_CODES:
        out.append(
            _hits(
                aa,
                (pl.col(amount_field(code)).fill_null(0) != 0)
                & ~pl.col("amount_codes").str.contains(code, literal=True),
                f"positions 28-45 amount codes must include {code} (used in its B records)",
            )
        )
    out.append(
        _hits(
            aa,
            pl.col("b_cfsf").fill_null(False) & (pl.col("cfsf_indicator") != "1"),
            'position 6 must be "1" when its B records carry CF/SF codes',
        )
    )

    # K: one per (group, CF/SF code) used in B records; counts and totals.
    kk = k.join(
        state_sums, on=["payer_group", "combined_federal_state_code"], how="left", maintain_order="left"
    )
    out.append(
        _hits(
            kk,
            pl.col("b_count").is_null(),
            "K record for a CF/SF code that no B record under its A record carries (positions 747-748)",
        )
    )
    out.append(
        _hits(
            kk,
            pl.col("combined_federal_state_code").is_duplicated().over("payer_group"),
            "positions 747-748 more than one K record for the same state under one A record",
        )
    )
    kk = kk.filter(pl.col("b_count").is_not_null())
    out.append(
        _hits(
            kk,
            pl.col("number_of_payees").cast(pl.Int64, strict=False) != pl.col("b_count"),
            pl.format(
                "positions 2-9 number of payees must be {} (B records coded for this state)",
                pl.col("b_count"),
            ),
        )
    )
    for code in AMOUNT_CODES:
        total, amount = total_field(code), amount_field(code)
        field = next(fl for fl in LAYOUTS["K"] if fl.name == total)
        out.append(
            _hits(
                kk,
                pl.col(total).cast(pl.Int64, strict=False) != pl.col(amount),
                pl.format(
                    "positions {}-{} state control total {} is {} but its B records sum to {}",
                    pl.lit(field.start),
                    pl.lit(field.end),
                    pl.lit(code),
                    _number_as_read(total),
                    pl.col(amount),
                ),
            )
        )
    for name, b_name, pos in (
        ("state_income_tax_withheld_total", "b_state_tax", "707-724"),
        ("local_income_tax_withheld_total", "b_local_tax", "725-742"),
    ):
        out.append(
            _hits(
                kk,
                (pl.col(name) != " " * 18) & (pl.col(name).cast(pl.Int64, strict=False) != pl.col(b_name)),
                pl.format("positions {} {} must be {}", pl.lit(pos), pl.lit(name), pl.col(b_name)),
            )
        )
    # Missing K records: attach to the group's C record.
    missing = state_sums.join(
        k, on=["payer_group", "combined_federal_state_code"], how="anti", maintain_order="left"
    ).join(c.select("record_number", "payer_group"), on="payer_group", maintain_order="left")
    out.append(
        _hits(
            missing,
            pl.lit(True),
            pl.format(
                "no K record for CF/SF code {} used by B records under this payer",
                pl.col("combined_federal_state_code"),
            ),
        )
    )
    return out


__all__ = [
    "CHUNK_RECORDS",
    "allowed_code_pairs",
    "distribution_codes",
    "Pub1220File",
    "check_pub1220",
    "read_pub1220",
]
