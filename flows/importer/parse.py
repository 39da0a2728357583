"""Vectorized parsers for a recordkeeper's text values: money, whole numbers, dates, yes/no, value
maps, digits-only identifiers.

Each parser takes a String expression (already trimmed, empty as null) and returns a
:class:`Parsed` pair: the canonical value and a problem (null when the value is fine, else a short
text saying what is wrong, never quoting the value). Nulls stay null without a problem: a missing
value is the extract contract's business (rule ``missing_required_value``), not the importer's.

Money is parsed as text into integer cents, never through a float: ``"1,234.56"`` is the digits
``123456``. Excel stores numbers as binary floating point, and its reader writes them with up to
nine decimals (``10000000000.069999695`` for the cell ``10000000000.07``): with ``float_noise``
(Excel sources only) digits beyond the cent that are within ``FLOAT_NOISE`` of a whole cent are
read as that cent; anything further from it is a fraction of a cent, reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

FLOAT_NOISE = 10_000  # in 10^-9 dollars: |value − nearest cent| ≤ $0.00001 is the float's noise
NOISE_DIGITS = 9  # digits after the point that Excel's reader writes at most

TRUE_WORDS = ("true", "t", "yes", "y", "1", "x")
FALSE_WORDS = ("false", "f", "no", "n", "0")

# "1,234.56", "(12.00)", "$5", "-$5.10", "$ 1 234"? no: thousands separators are commas, in groups of
# three; a minus before or after the amount, or parentheses around it; at most one dollar sign.
_MONEY = (
    r"^(?<open>\()?\s*(?<lead>-)?\s*\$?\s*(?<lead2>-)?"
    r"(?<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.(?<frac>[0-9]*))?"
    r"\s*(?<trail>-)?\s*(?<close>\))?$"
)


@dataclass(frozen=True)
class Parsed:
    value: pl.Expr
    problem: pl.Expr


def _problem(bad: pl.Expr, text: str) -> pl.Expr:
    return pl.when(bad).then(pl.lit(text)).otherwise(pl.lit(None, pl.String))


def clean(raw: pl.Expr) -> pl.Expr:
    """Surrounding white space removed; an empty or all-blank value is null."""
    s = raw.cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(pl.lit(None, pl.String)).otherwise(s)


def money_dollars(s: pl.Expr, float_noise: bool = False) -> Parsed:
    """Dollars with up to two decimals (``"1,234.56"``, ``"(12.00)"``, ``"$5"``, ``"12.00-"``) as
    exact integer cents. With ``float_noise`` (an Excel cell) up to nine decimals, rounded to the
    cent when they are within :data:`FLOAT_NOISE` billionths of a dollar of it."""
    g = s.str.extract_groups(_MONEY)
    int_part = g.struct.field("int").str.replace_all(",", "", literal=True).fill_null("0")
    frac = g.struct.field("frac").fill_null("")
    has_digits = g.struct.field("int").is_not_null() | (frac.str.len_chars() > 0)
    signs = (
        g.struct.field("lead").is_not_null().cast(pl.Int8)
        + g.struct.field("lead2").is_not_null().cast(pl.Int8)
        + g.struct.field("trail").is_not_null().cast(pl.Int8)
    )
    paren = g.struct.field("open").is_not_null()
    balanced = paren == g.struct.field("close").is_not_null()
    shape_ok = s.str.contains(_MONEY) & has_digits & balanced & (signs + paren.cast(pl.Int8) <= 1)
    longest = NOISE_DIGITS if float_noise else 2
    frac_ok = frac.str.len_chars() <= longest
    padded = frac.str.pad_end(NOISE_DIGITS, "0").str.slice(0, NOISE_DIGITS)
    cents_digits = padded.str.slice(0, 2)
    rest = padded.str.slice(2).cast(pl.Int64, strict=False).fill_null(0)  # billionths beyond the cent
    up = rest >= 10_000_000 - FLOAT_NOISE
    exact = (rest == 0) | (pl.lit(float_noise) & ((rest <= FLOAT_NOISE) | up))
    whole = pl.concat_str([int_part, cents_digits]).cast(pl.Int64, strict=False)
    magnitude = whole + pl.when(up & pl.lit(float_noise)).then(1).otherwise(0)
    negative = (signs > 0) | paren
    value = pl.when(negative).then(-magnitude).otherwise(magnitude)
    problem = (
        pl.when(s.is_null())
        .then(pl.lit(None, pl.String))
        .when(~shape_ok.fill_null(False))
        .then(pl.lit("not an amount in dollars"))
        .when(~frac_ok | ~exact)
        .then(pl.lit("has a fraction of a cent"))
        .when(whole.is_null())
        .then(pl.lit("amount too large"))
        .otherwise(pl.lit(None, pl.String))
    )
    return Parsed(pl.when(s.is_not_null() & problem.is_null()).then(value).otherwise(None), problem)


def whole_number(s: pl.Expr, what: str = "not a whole number") -> Parsed:
    """An optionally signed whole number (``"2019"``, ``"-3"``; an Excel cell's ``"2019"``)."""
    ok = s.str.contains(r"^[+-]?[0-9]+$")
    value = s.str.strip_prefix("+").cast(pl.Int64, strict=False)
    problem = (
        pl.when(s.is_null())
        .then(pl.lit(None, pl.String))
        .when(~ok)
        .then(pl.lit(what))
        .when(value.is_null())
        .then(pl.lit("number too large"))
        .otherwise(pl.lit(None, pl.String))
    )
    return Parsed(pl.when(problem.is_null()).then(value).otherwise(None), problem)


def money_cents(s: pl.Expr) -> Parsed:
    """A whole number of cents (``"123456"``)."""
    return whole_number(s, "not a whole number of cents")


ISO_FORMATS = ("%Y-%m-%d",)
EXCEL_DATE_CELL = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]00:00:00(\.0+)?$"  # a date cell as Excel's reader writes it
)


def date(s: pl.Expr, formats: tuple[str, ...]) -> Parsed:
    """A date in one of ``formats`` (strftime codes) or ISO ``YYYY-MM-DD``; the first format that
    reads the value wins. A date cell of a workbook (``2025-03-01 00:00:00``) is read as its date."""
    text = pl.when(s.str.contains(EXCEL_DATE_CELL)).then(s.str.extract(EXCEL_DATE_CELL, 1)).otherwise(s)
    tries = [text.str.to_date(f, strict=False, exact=True) for f in dict.fromkeys((*formats, *ISO_FORMATS))]
    value = pl.coalesce(tries) if len(tries) > 1 else tries[0]
    shown = ", ".join(dict.fromkeys((*formats, *ISO_FORMATS)))
    problem = _problem(s.is_not_null() & value.is_null(), f"not a date in the formats {shown}")
    return Parsed(value, problem)


def mapped(s: pl.Expr, mapping: dict[str, object], dtype: pl.DataType) -> Parsed:
    """A value map (``"DR-IRA" → "rollover_ira"``), matched without regard to case or surrounding
    space; a value the map does not cover is a problem."""
    keys = {str(k).strip().upper(): v for k, v in mapping.items()}
    key = s.str.to_uppercase()
    value = key.replace_strict(keys, default=None, return_dtype=dtype)
    covered = key.is_in(list(keys))
    return Parsed(value, _problem(s.is_not_null() & ~covered, "value not covered by the mapping's map"))


def yes_no(s: pl.Expr) -> Parsed:
    """true/false, yes/no, y/n, 1/0, t/f, x (without regard to case)."""
    low = s.str.to_lowercase()
    value = pl.when(low.is_in(TRUE_WORDS)).then(True).when(low.is_in(FALSE_WORDS)).then(False)
    value = value.otherwise(pl.lit(None, pl.Boolean))
    return Parsed(value, _problem(s.is_not_null() & value.is_null(), "not yes/no (true/false, y/n, 1/0)"))


def one_of(s: pl.Expr, allowed: tuple[str, ...]) -> Parsed:
    """One of the canonical values (lower case); without a map, the value itself must be one."""
    low = s.str.to_lowercase()
    ok = low.is_in(list(allowed))
    return Parsed(
        pl.when(ok).then(low).otherwise(None),
        _problem(s.is_not_null() & ~ok, f"not one of {', '.join(allowed)} (give a map)"),
    )


def digits_only(s: pl.Expr, pad: int | None = None) -> pl.Expr:
    """An identifier written with dashes, spaces, dots or brackets (``"123-45-6789"``,
    ``"(614) 555-0197"``) as its digits; with ``pad``, left-padded with zeros to that many digits
    (a spreadsheet that read ``"012345678"`` as a number lost its first zero). Anything else is
    left as written, for the contract's rules to judge."""
    stripped = s.str.replace_all(r"[\s\-.()/]", "")
    out = pl.when(stripped.str.contains(r"^[0-9]+$")).then(stripped).otherwise(s)
    return padded(out, pad) if pad else out


def padded(s: pl.Expr, pad: int) -> pl.Expr:
    """All-digit values left-padded with zeros to ``pad`` digits; others unchanged."""
    return pl.when(s.str.contains(r"^[0-9]+$")).then(s.str.zfill(pad)).otherwise(s)
