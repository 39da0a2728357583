"""Form 1099-R box 7 distribution codes: one cited table of codes, meanings and valid pairs.

Authority: Instructions for Forms 1099-R and 5498, "Guide to Distribution Codes" and Table 1
("Used with code (if applicable)"), transcribed with confidence labels in
``shared/reference/tax-rules.md`` §f.2–f.3. The relation "may be used with" is symmetric: a pair is
valid when either side lists the other. Re-check against Table 1 of each year's instructions.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Code:
    code: str
    meaning: str
    used_with: str  # codes this one may be paired with, per Table 1
    produced: bool  # whether prorata's engine can produce it for employer plans


# fmt: off
BOX7_CODES: tuple[Code, ...] = (
    Code("1", "Early distribution, no known exception", "8BDKLMP", True),
    Code("2", "Early distribution, exception applies", "8BDKLMP", True),
    Code("3", "Disability", "D", True),
    Code("4", "Death", "8ABDGHKLMP", True),
    Code("5", "Prohibited transaction", "", False),
    Code("6", "Section 1035 exchange", "W", False),
    Code("7", "Normal distribution", "ABDKLM", True),
    Code("8", "Excess contributions plus earnings/excess deferrals taxable in the current year", "124BJK", True),
    Code("9", "Cost of current life insurance protection", "", False),
    Code("A", "May be eligible for 10-year tax option", "47", False),
    Code("B", "Designated Roth account distribution", "12478GLMPU", True),
    Code("C", "Reportable death benefits under section 6050Y", "D", False),
    Code("D", "Annuity payments from nonqualified annuities that may be subject to section 1411", "12347C", False),
    Code("E", "Distributions under EPCRS", "", False),
    Code("F", "Charitable gift annuity", "", False),
    Code("G", "Direct rollover of a distribution to a qualified plan, 403(b), governmental 457(b) or IRA", "4BK", True),
    Code("H", "Direct rollover of a designated Roth account distribution to a Roth IRA", "4", True),
    Code("J", "Early distribution from a Roth IRA", "8PS", False),
    Code("K", "Distribution of traditional IRA assets not having a readily available FMV", "12478G", False),
    Code("L", "Loans treated as distributions", "1247B", True),
    Code("M", "Qualified plan loan offset", "1247B", True),
    Code("N", "Recharacterized IRA contribution made for the current year", "", False),
    Code("P", "Excess contributions plus earnings/excess deferrals taxable in the prior year", "124BJK", True),
    Code("Q", "Qualified distribution from a Roth IRA", "", False),
    Code("R", "Recharacterized IRA contribution made for the prior year", "", False),
    Code("S", "Early distribution from a SIMPLE IRA in the first 2 years", "J", False),
    Code("T", "Roth IRA distribution, exception applies", "", False),
    Code("U", "Dividend distribution from ESOP under section 404(k)", "B", False),
    Code("W", "Charges or payments for qualified long-term care insurance", "6", False),
    Code("Y", "Qualified charitable distribution under section 408(d)(8)", "47K", False),
)
# fmt: on

CODES: dict[str, Code] = {c.code: c for c in BOX7_CODES}


def canonical_order(codes: str) -> str:
    """Two codes as outputs.md writes them: a digit before a letter, otherwise ascending."""
    return "".join(sorted(codes, key=lambda ch: (not ch.isdigit(), ch)))


def valid_combinations() -> frozenset[str]:
    """Every valid box 7 entry: each single code, and each symmetric pair in canonical order."""
    singles = {c.code for c in BOX7_CODES}
    pairs = {canonical_order(a.code + b) for a in BOX7_CODES for b in a.used_with}
    return frozenset(singles | pairs)


VALID_COMBINATIONS = valid_combinations()


def is_valid_combination(codes: pl.Expr) -> pl.Expr:
    """True where a box 7 entry is one code or a pair Table 1 allows (i1099r, Table 1)."""
    return codes.is_in(sorted(VALID_COMBINATIONS))


def code_meanings() -> pl.DataFrame:
    """The table as a frame, for joins and documentation."""
    return pl.DataFrame(
        {
            "code": [c.code for c in BOX7_CODES],
            "meaning": [c.meaning for c in BOX7_CODES],
            "used_with": [c.used_with for c in BOX7_CODES],
            "produced": [c.produced for c in BOX7_CODES],
        }
    )
