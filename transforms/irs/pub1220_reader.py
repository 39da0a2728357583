"""Read a Publication 1220 file back into polars frames, and check it against the field rules.

Uses the record layouts of :mod:`transforms.irs.pub1220` (declared once, as data). Records are
parsed with ``str.slice`` over a frame of lines; cross-record checks (sequence numbers, counts,
control totals, K records, amount codes) are joins and group-bys, not loops over returns.

Authority: Publication 1220 as transcribed in ``shared/reference/irs-filing-formats.md`` §§2-13
(transcribed); distribution codes from ``shared/reference/tax-rules.md`` §f.1-f.3.

Privacy: messages name records by record number and account number only, never by TIN or name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import polars as pl

from transforms.box7 import BOX7_CODES
from transforms.irs.pub1220 import (
    AMOUNT_CODES,
    FILLER_KINDS,
    LAYOUTS,
    LINE_END,
    RECORD_LENGTH,
    Field,
    amount_field,
    cfsf_state_codes,
    total_field,
)

# ---------------------------------------------------------------------------------------------
# Distribution codes (tax-rules.md §f.1-f.3; irs-filing-formats.md §8)
# ---------------------------------------------------------------------------------------------

#: Box 7 codes valid in a B record (irs-filing-formats.md §8, TY2019-era list, transcribed).
DISTRIBUTION_CODES: frozenset[str] = frozenset("123456789ABCDEFGHJKLMNPQRSTUW")
#: Code Y (qualified charitable distribution, §408(d)(8)) exists from TY2025 (secondary).
CODE_Y_FIRST_TAX_YEAR = 2025

#: "May be used with" column of Table 1 of the Instructions for Forms 1099-R and 5498, copied from
#: tax-rules.md §f.3 (labels there: secondary / unconfirmed). The relation is symmetric: a pair is
#: allowed when either row lists the other code. "JS" (early Roth SIMPLE IRA distribution, 2025) is
#: included because a validator "must not reject it" (tax-rules.md §f.2). Re-check against every
#: year's i1099r Table 1; this table may move to a shared code-table module.
CODES_USED_WITH: dict[str, str] = {c.code: c.used_with for c in BOX7_CODES}  # the one code table

#: Allowed two-code combinations as sorted strings ("18", "7B", "BG", ...).
ALLOWED_CODE_PAIRS: frozenset[str] = frozenset(
    "".join(sorted(code + other)) for code, others in CODES_USED_WITH.items() for other in others
)
#: Codes that must be used with another code: A and D (tax-rules.md §f.1), Y with 4, 7 or K.
CODES_NEVER_ALONE: frozenset[str] = frozenset("ADY")

_SAME_DIGITS = "^(" + "|".join(d * 9 for d in "0123456789") + ")$"
_DOMESTIC_ZIP = r"^(\d{5} {4}|\d{9})$"
MAX_MESSAGES = 1000


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
# Lines and fields
# ---------------------------------------------------------------------------------------------


def _lines(data: bytes) -> pl.DataFrame:
    """Frame of records: ``record_number``, ``line`` (including its CR LF), ``record_type``.

    Records end with CR LF; a file without any CR LF is cut every 750 bytes so that it can still be
    checked. Bytes are decoded as Latin-1 so that one character is one byte (positions = bytes).
    """
    text = data.decode("latin-1")
    if LINE_END in text:
        pieces = pl.Series("line", [text]).str.split(LINE_END).explode()
        if pieces.len() and pieces[-1] == "":
            pieces = pieces.head(-1)
        last = pieces.len() - 1
        ends_with_crlf = text.endswith(LINE_END)
        lines = pl.DataFrame({"line": pieces}).with_row_index("record_number", offset=1)
        lines = lines.with_columns(
            pl.when((pl.col("record_number") <= last) | ends_with_crlf)
            .then(pl.col("line") + LINE_END)
            .otherwise(pl.col("line"))
            .alias("line")
        )
    else:
        chunks = [text[i : i + RECORD_LENGTH] for i in range(0, len(text), RECORD_LENGTH)]
        lines = pl.DataFrame({"line": pl.Series(chunks, dtype=pl.String)}).with_row_index(
            "record_number", offset=1
        )
    return lines.with_columns(
        pl.col("record_number").cast(pl.Int64),
        pl.col("line").str.slice(0, 1).alias("record_type"),
    )


def _raw_fields(lines: pl.DataFrame, layout: tuple[Field, ...]) -> pl.DataFrame:
    """Each field of ``layout`` as its raw text slice."""
    return lines.with_columns(pl.col("line").str.slice(f.start - 1, f.length).alias(f.name) for f in layout)


def _typed(field: Field) -> pl.Expr:
    raw = pl.col(field.name)
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


def _group_numbers(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.with_columns((pl.col("record_type") == "A").cast(pl.Int64).cum_sum().alias("payer_group"))


def _parsed(lines: pl.DataFrame, record_type: str) -> pl.DataFrame:
    layout = LAYOUTS[record_type]
    values = [f for f in layout if f.kind not in FILLER_KINDS or f.kind == "const"]
    keep = ["record_number"] + (["payer_group"] if record_type in "ABCK" else [])
    raw = _raw_fields(lines.filter(pl.col("record_type") == record_type), layout)
    return raw.select(*keep, *(_typed(f).alias(f.name) for f in values))


def read_pub1220(data: bytes) -> Pub1220File:
    """Parse a Publication 1220 file into one frame per record type.

    Raises ``ValueError`` when a record is not 750 bytes or of an unknown type; run
    :func:`check_pub1220` for the full list of rule violations.
    """
    lines = _group_numbers(_lines(data))
    bad = lines.filter(
        (pl.col("line").str.len_chars() != RECORD_LENGTH) | ~pl.col("record_type").is_in(list(LAYOUTS))
    )
    if bad.height:
        numbers = ", ".join(map(str, bad["record_number"].head(10)))
        raise ValueError(
            f"not a Publication 1220 file: records {numbers} are not 750-byte T/A/B/C/K/F records"
        )
    return Pub1220File(
        transmitter=_parsed(lines, "T"),
        payers=_parsed(lines, "A"),
        payees=_parsed(lines, "B"),
        end_of_payer=_parsed(lines, "C"),
        state_totals=_parsed(lines, "K"),
        end_of_transmission=_parsed(lines, "F"),
    )


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


class _Rule(NamedTuple):
    """A rule over the rows of one frame: the rows where ``mask`` holds (or is null) break it."""

    frame: pl.DataFrame
    mask: pl.Expr
    message: str | pl.Expr


def _hits(frame: pl.DataFrame, mask: pl.Expr, message: str | pl.Expr) -> _Rule:
    return _Rule(frame, mask, message)


def _evaluate(rules: list[_Rule]) -> list[pl.DataFrame]:
    """(record_number, message) frames of the rows that break each rule.

    The masks of all rules over one frame are computed in a single ``select`` (polars runs them in
    parallel); messages are only formatted for the rules that have hits.
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
                        ~col.str.contains(rf"^\d{{{f.length}}}$"),
                        f"{where} must be numeric, zero-filled",
                    )
                )
            case "opt_number" | "opt_digits":
                out.append(
                    _hits(
                        frame,
                        ~col.str.contains(rf"^(\d{{{f.length}}}| {{{f.length}}})$"),
                        f"{where} must be digits or blank",
                    )
                )
            case "date":
                bad_date = (col != " " * f.length) & col.str.strptime(
                    pl.Date, "%Y%m%d", strict=False
                ).is_null()
                out.append(_hits(frame, bad_date, f"{where} must be a date YYYYMMDD or blank"))
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
                        ~blank_ok & (~col.str.contains(r"^\d{9}$") | col.str.contains(_SAME_DIGITS)),
                        f"{where} must be 9 digits, not all the same",
                    )
                )
    return out


def _structure(lines: pl.DataFrame) -> list[str]:
    """Record order: one T first, then (A, B..., C, K...) per payer, one F last (§2)."""
    types = "".join(lines["record_type"].fill_null("?").to_list())
    problems = []
    if not types.startswith("T"):
        problems.append("the first record must be the T record")
    if not types.endswith("F"):
        problems.append("the last record must be the F record")
    if types.count("T") != 1 or types.count("F") != 1:
        problems.append("the file must have exactly one T and one F record")
    if not problems and not re.fullmatch(r"T(AB+CK*)+F", types):
        prefix = re.match(r"T(?:AB+CK*)*", types)
        at = (prefix.end() + 1) if prefix else 1
        problems.append(
            f"record order must be T, then A, B..., C, K... per payer, then F (first break at record {at})"
        )
    unknown = set(types) - set(LAYOUTS)
    if unknown:
        problems.append(f"unknown record types: {', '.join(sorted(repr(u) for u in unknown))}")
    return problems


def _distribution_code_rules(b: pl.DataFrame, payment_year: int) -> list[_Rule]:
    codes = pl.col("distribution_codes")
    first, second = codes.str.slice(0, 1), codes.str.slice(1, 1)
    valid = sorted(DISTRIBUTION_CODES | ({"Y"} if payment_year >= CODE_Y_FIRST_TAX_YEAR else set()))
    pair = pl.when(first < second).then(pl.concat_str(first, second)).otherwise(pl.concat_str(second, first))
    where = "positions 545-546 distribution codes"
    return [
        _hits(b, ~first.is_in(valid), f"{where}: first code missing or not a valid code"),
        _hits(b, (second != " ") & ~second.is_in(valid), f"{where}: second code not a valid code"),
        _hits(b, (second != " ") & (first == second), f"{where}: the same code twice"),
        _hits(
            b,
            (second != " ")
            & first.is_in(valid)
            & second.is_in(valid)
            & (first != second)
            & ~pair.is_in(sorted(ALLOWED_CODE_PAIRS)),
            pl.format("{}: {} is not an allowed combination (tax-rules.md f.3)", pl.lit(where), codes),
        ),
        _hits(
            b,
            (second == " ") & first.is_in(sorted(CODES_NEVER_ALONE)),
            pl.format("{}: code {} must be used with another code", pl.lit(where), first),
        ),
    ]


def check_pub1220(data: bytes) -> list[str]:
    """Violations of the Publication 1220 field rules in ``data``; ``[]`` when none is found.

    Checks: ASCII; every record 750 bytes ending CR LF; record order; sequence numbers 1..n across
    the file; every field's kind (numeric fields numeric, blanks blank, upper case, name-line
    characters, TINs 9 digits not all the same, dates); T and F counts; C counts and control totals
    equal the sums of their B records; K records (one per CF/SF code used, counts and totals); A amount
    codes valid, ascending and covering the B amounts; A position 6 when B records are CF/SF coded;
    one correction kind and unique account numbers per A; payment year; Form 1099-R rules (amount 7
    and C-J zero, amount A only with the IRA indicator, amount 2 zero when the taxable amount is not
    determined, indicators, distribution codes and allowed pairs, U.S. state and ZIP).
    """
    problems: list[str] = []
    if not data:
        return ["the file is empty"]
    if re.search(rb"[^\x20-\x7E\r\n]", data):
        problems.append("the file must be printable ASCII (bytes outside 0x20-0x7E besides CR LF found)")
    lines = _group_numbers(_lines(data))
    if LINE_END.encode("ascii") not in data:
        problems.append("records must end with CR LF in positions 749-750 (none found)")
    if len(data) % RECORD_LENGTH:
        problems.append(f"file length {len(data)} is not a multiple of {RECORD_LENGTH}")
    problems.extend(_structure(lines))

    hits: list[_Rule] = [
        _hits(
            lines,
            pl.col("line").str.len_chars() != RECORD_LENGTH,
            pl.format(
                "record length {} must be 750 (positions 749-750 CR LF included)",
                pl.col("line").str.len_chars(),
            ),
        ),
    ]
    ok = lines.filter(pl.col("line").str.len_chars() == RECORD_LENGTH)
    # Sequence numbers, positions 500-507 of every record: 1, 2, 3, ... across the file (§2).
    hits.append(
        _hits(
            ok,
            pl.col("line").str.slice(499, 8) != pl.col("record_number").cast(pl.String).str.pad_start(8, "0"),
            "positions 500-507 record sequence number must equal the record's position in the file",
        )
    )
    hits.append(
        _hits(
            ok,
            ~pl.col("line").str.slice(0, 748).str.contains(r"^[\x20-\x7E]*$"),
            "positions 1-748 must be printable ASCII",
        )
    )
    frames = {
        rt: _raw_fields(ok.filter(pl.col("record_type") == rt), layout) for rt, layout in LAYOUTS.items()
    }
    for rt, layout in LAYOUTS.items():
        hits.extend(_field_rules(frames[rt], layout))

    t, a, b, c, k, f = (frames[rt] for rt in "TABCKF")
    payment_year = int(t["payment_year"][0]) if t.height and t["payment_year"][0].isdigit() else 0
    number_of_b = b.height
    number_of_a = a.height

    # T record.
    hits += [
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
    ]
    # F record.
    hits += [
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
    ]
    # Payment year on A and B records = the T record's (one tax year per file, §14).
    for frame in (a, b):
        hits.append(
            _hits(
                frame,
                pl.col("payment_year") != t["payment_year"][0] if t.height else pl.lit(False),
                "positions 2-5 payment year differs from the T record",
            )
        )

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

    # B records: Form 1099-R rules (irs-filing-formats.md §5.1, §6, §7).
    cfsf_codes = sorted(cfsf_state_codes(payment_year).values()) if payment_year else []
    account = pl.col("account_number")
    hits += [
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
        ),
        _hits(
            b,
            (pl.col("taxable_amount_not_determined_indicator") == "1")
            & (pl.col(amount_field("2")) != "0" * 12),
            "amount code 2 must be zeros when position 547 (taxable amount not determined) is 1",
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
        ),
        _hits(
            b,
            (pl.col("foreign_country_indicator") == " ") & ~pl.col("payee_state").str.contains(r"^[A-Z]{2}$"),
            "positions 488-489 payee state must be a 2-letter abbreviation for a U.S. address",
        ),
        _hits(
            b,
            (pl.col("foreign_country_indicator") == " ") & ~pl.col("payee_zip").str.contains(_DOMESTIC_ZIP),
            "positions 490-498 payee ZIP must be 5 digits (left-justified) or 9 digits for a U.S. address",
        ),
        _hits(
            b,
            pl.col("first_year_of_designated_roth_contribution").str.contains(r"^\d{4}$")
            & (
                (pl.col("first_year_of_designated_roth_contribution") > pl.col("payment_year"))
                | (pl.col("first_year_of_designated_roth_contribution") < "1900")
            ),
            "positions 552-555 first year of designated Roth contribution after the payment year",
        ),
    ]
    hits += _distribution_code_rules(b, payment_year)

    # Group rules: one correction kind per A; unique account numbers per A.
    if b.height:
        hits.append(
            _hits(
                b,
                pl.col("corrected_return_indicator").n_unique().over("payer_group") > 1,
                "position 6: originals, G and C returns must be under separate A records",
            )
        )
        hits.append(
            _hits(
                b,
                pl.col("account_number").is_duplicated().over("payer_group")
                & (pl.col("account_number").str.strip_chars(" ") != ""),
                "positions 21-40 account number repeated under the same A record",
            )
        )

    hits += _control_totals(a, b, c, k)
    found = _evaluate(hits)
    if found:
        accounts = b.select("record_number", pl.col("account_number").str.strip_chars(" ").alias("account"))
        ordered = (
            pl.concat(found)
            .join(lines.select("record_number", "record_type"), on="record_number", how="left")
            .join(accounts, on="record_number", how="left")
            .unique(maintain_order=True)
            .sort("record_number", maintain_order=True)
        )
        labels = ordered.select(
            pl.format(
                "record {} ({}{}): {}",
                pl.col("record_number"),
                pl.col("record_type"),
                pl.when(pl.col("account").is_not_null())
                .then(pl.format(", account {}", pl.col("account")))
                .otherwise(pl.lit("")),
                pl.col("message"),
            )
        ).to_series()
        problems.extend(labels.head(MAX_MESSAGES).to_list())
        if labels.len() > MAX_MESSAGES:
            problems.append(f"... and {labels.len() - MAX_MESSAGES} more violations")
    return problems


def _control_totals(a: pl.DataFrame, b: pl.DataFrame, c: pl.DataFrame, k: pl.DataFrame) -> list[_Rule]:
    """C and K counts and totals, A amount codes and CF/SF coding, per payer group."""
    if not a.height:
        return []
    amounts = [amount_field(code) for code in AMOUNT_CODES]
    b_sums = b.with_columns(pl.col(name).cast(pl.Int64, strict=False) for name in amounts).with_columns(
        pl.col("state_income_tax_withheld").cast(pl.Int64, strict=False),
        pl.col("local_income_tax_withheld").cast(pl.Int64, strict=False),
    )
    per_group = b_sums.group_by("payer_group").agg(
        pl.len().alias("b_count"),
        *(pl.col(name).sum() for name in amounts),
        (pl.col("combined_federal_state_code") != "  ").any().alias("b_cfsf"),
    )
    out = []

    # C: one per group (the structure check reports a missing one); count and totals.
    cc = c.join(per_group, on="payer_group", how="left").with_columns(pl.col("b_count").fill_null(0))
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
                    pl.col(total).cast(pl.Int64, strict=False),
                    pl.col(amount).fill_null(0),
                ),
            )
        )

    # A: amount codes cover every amount code with money in its B records; CF/SF indicator.
    aa = a.join(per_group, on="payer_group", how="left")
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
    coded = b_sums.filter(pl.col("combined_federal_state_code") != "  ")
    state_sums = coded.group_by("payer_group", "combined_federal_state_code").agg(
        pl.len().alias("b_count"),
        *(pl.col(name).sum() for name in amounts),
        pl.col("state_income_tax_withheld").sum().alias("b_state_tax"),
        pl.col("local_income_tax_withheld").sum().alias("b_local_tax"),
    )
    kk = k.join(state_sums, on=["payer_group", "combined_federal_state_code"], how="left")
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
                    pl.col(total).cast(pl.Int64, strict=False),
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
    missing = state_sums.join(k, on=["payer_group", "combined_federal_state_code"], how="anti").join(
        c.select("record_number", "payer_group"), on="payer_group"
    )
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
    "ALLOWED_CODE_PAIRS",
    "CODES_USED_WITH",
    "DISTRIBUTION_CODES",
    "Pub1220File",
    "check_pub1220",
    "read_pub1220",
]
