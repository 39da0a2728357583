"""Form 1099-R box 7 distribution codes: one cited table of codes, meanings and valid pairs.

Authority: Instructions for Forms 1099-R and 5498, "Guide to Distribution Codes" and Table 1
("Used with code (if applicable)"), transcribed with confidence labels in
``docs/reference/tax-rules.md`` §f.2–f.3; for what the IRS accepts, the IRIS A2A schema's
enumeration of box 7 (``Form1099RDistributionCd``, TY2025 v1.2: 29 single codes and 47 pairs,
``tests/law/test_box7_table.py`` compares this table with it). The relation "may be used with" is
symmetric: each row lists every code it pairs with, both ways. Code M exists from tax year
``code_m_first_tax_year`` (2018), code Y from ``code_y_first_tax_year`` (parameters.toml), and Y
never stands alone.

This is the one copy of the codes and their meanings: the IRS writers' checker
(:mod:`transforms.irs.fire.pub1220_reader`), the rule trace (:mod:`transforms.engine.explain`) and the
recipient statements (``flows/render/statements.py``) read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import polars as pl

from transforms.law.params import TaxParameters, parameter


@dataclass(frozen=True)
class Code:
    code: str
    meaning: str  # the code's title in the i1099r Guide to Distribution Codes
    used_with: str  # codes this one may be paired with, per Table 1 and the IRIS enumeration
    produced: bool  # whether prorata's engine can produce it for employer plans
    alone: bool = True  # valid as the only code in box 7
    recipient_note: str = ""  # plain words for the payee's statement (Copy B); "" = see the IRS


# fmt: off
BOX7_CODES: tuple[Code, ...] = (
    Code("1", "Early distribution, no known exception", "8BDKLMP", True,
         recipient_note="Early distribution with no known exception: you were under age 59\u00bd. An "
         "additional {early_distribution_tax_rate_pct}% tax may apply unless you qualify for an "
         "exception (see Form 5329)."),
    Code("2", "Early distribution, exception applies", "8BDKLMP", True,
         recipient_note="Early distribution, but an exception to the additional "
         "{early_distribution_tax_rate_pct}% tax applies (for example, you left your job in or after "
         "the year you turned 55)."),
    Code("3", "Disability", "D", True,
         recipient_note="Paid because of disability; the additional {early_distribution_tax_rate_pct}% "
         "tax does not apply."),
    Code("4", "Death", "8ABDGHKLMPY", True,
         recipient_note="Paid to you as a beneficiary after the participant's death; the additional "
         "{early_distribution_tax_rate_pct}% tax does not apply."),
    Code("5", "Prohibited transaction", "", False),
    Code("6", "Section 1035 exchange", "W", False),
    Code("7", "Normal distribution", "ABDKLMY", True,
         recipient_note="Normal distribution: you were 59\u00bd or older; no additional "
         "{early_distribution_tax_rate_pct}% tax."),
    Code("8", "Excess contributions plus earnings/excess deferrals taxable in the current year", "124BJK", True,
         recipient_note="Corrective distribution of excess contributions or deferrals (and their "
         "earnings), taxable in the year of this statement."),
    Code("9", "Cost of current life insurance protection", "", False),
    Code("A", "May be eligible for 10-year tax option", "47", False),
    Code("B", "Designated Roth account distribution", "12478GLMPU", True,
         recipient_note="Paid from a designated Roth account. Only the amount in box 2a, if any, is "
         "taxable."),
    Code("C", "Reportable death benefits under section 6050Y", "D", False),
    Code("D", "Annuity payments from nonqualified annuities that may be subject to section 1411", "12347C", False),
    Code("E", "Distributions under EPCRS", "", False),
    Code("F", "Charitable gift annuity", "", False),
    Code("G", "Direct rollover of a distribution to a qualified plan, 403(b), governmental 457(b) or IRA", "4BK", True,
         recipient_note="Direct rollover to another employer plan or to a traditional IRA. Generally "
         "not taxable now."),
    Code("H", "Direct rollover of a designated Roth account distribution to a Roth IRA", "4", True,
         recipient_note="Direct rollover from a designated Roth account to a Roth IRA. Not taxable now."),
    Code("J", "Early distribution from a Roth IRA", "8PS", False),
    Code("K", "Distribution of traditional IRA assets not having a readily available FMV", "12478GY", False),
    Code("L", "Loans treated as distributions", "1247B", True,
         recipient_note="A plan loan treated as paid out (a deemed distribution) because it broke the "
         "loan rules; the taxable part is in box 2a."),
    Code("M", "Qualified plan loan offset", "1247B", True,
         recipient_note="Qualified plan loan offset: your unpaid loan was subtracted from your account "
         "when you left the plan or it ended. You can avoid tax on it by rolling the same amount into "
         "an IRA or plan by your tax return due date, including extensions."),
    Code("N", "Recharacterized IRA contribution made for the current year", "", False),
    Code("P", "Excess contributions plus earnings/excess deferrals taxable in the prior year", "124BJ", True,
         recipient_note="Corrective distribution taxable in the year before the year of this statement; "
         "you may need to amend that year's return."),
    Code("Q", "Qualified distribution from a Roth IRA", "", False),
    Code("R", "Recharacterized IRA contribution made for the prior year", "", False),
    Code("S", "Early distribution from a SIMPLE IRA in the first 2 years", "J", False),
    Code("T", "Roth IRA distribution, exception applies", "", False),
    Code("U", "Dividend distribution from ESOP under section 404(k)", "B", False),
    Code("W", "Charges or payments for qualified long-term care insurance", "6", False),
    Code("Y", "Qualified charitable distribution under section 408(d)(8)", "47K", False, alone=False),
)
# fmt: on

CODES: dict[str, Code] = {c.code: c for c in BOX7_CODES}
INTRODUCED = {"M": "code_m_first_tax_year", "Y": "code_y_first_tax_year"}
"""Codes that exist only from a tax year, and the parameter (parameters.toml) that names it."""


def canonical_order(codes: str) -> str:
    """Two codes as docs/spec/outputs.md writes them: a digit before a letter, otherwise ascending."""
    return "".join(sorted(codes, key=lambda ch: (not ch.isdigit(), ch)))


def _introduced_by(code: str, tax_year: int) -> bool:
    """``code`` exists in ``tax_year``: it is always in the table, or its first year (parameters.toml)
    is ``tax_year`` or earlier; a year the parameters do not cover has none of the new codes."""
    if code not in INTRODUCED:
        return True
    try:
        first = parameter(INTRODUCED[code], tax_year)
    except (KeyError, ValueError):
        return False
    return first is not None and tax_year >= first


def codes_in_use(tax_year: int | None = None) -> tuple[Code, ...]:
    """The codes of the table that exist in ``tax_year`` (every code when ``None``): code M from
    ``code_m_first_tax_year`` (Form 1099-R 2018, TCJA §13613), code Y from ``code_y_first_tax_year``
    (i1099r 2025, What's New)."""
    if tax_year is None:
        return BOX7_CODES
    return tuple(c for c in BOX7_CODES if _introduced_by(c.code, tax_year))


@cache
def valid_combinations(tax_year: int | None = None) -> frozenset[str]:
    """Every valid box 7 entry (i1099r Table 1; IRIS ``Form1099RDistributionCd``): each code that
    may stand alone, and each pair either row allows, in canonical order (:func:`canonical_order`);
    for ``tax_year``, only the codes in use that year (:func:`codes_in_use`)."""
    table = codes_in_use(tax_year)
    present = {c.code for c in table}
    singles = {c.code for c in table if c.alone}
    pairs = {canonical_order(a.code + b) for a in table for b in a.used_with if b in present}
    return frozenset(singles | pairs)


VALID_COMBINATIONS = valid_combinations()


def is_valid_combination(codes: pl.Expr, tax_year: int | None = None) -> pl.Expr:
    """True where a box 7 entry is one code or a pair Table 1 allows (i1099r, Table 1), in either
    order; for ``tax_year``, among the codes in use that year."""
    valid = valid_combinations(tax_year)
    either_order = sorted(valid | {entry[::-1] for entry in valid})
    return codes.is_in(either_order)


def recipient_note(code: str, p: TaxParameters) -> str:
    """What ``code`` means for the payee, in plain words (the table's ``recipient_note``, with the
    year's parameters: IRC §72(t)(1)'s rate), or a pointer to the i1099r when the table has none."""
    note = CODES[code].recipient_note if code in CODES else ""
    if not note:
        return "See the IRS Instructions for Forms 1099-R and 5498 for this code."
    return note.format(early_distribution_tax_rate_pct=p.early_distribution_tax_rate_pct)


def code_meanings() -> pl.DataFrame:
    """The table as a frame, for joins and documentation."""
    return pl.DataFrame(
        {
            "code": [c.code for c in BOX7_CODES],
            "meaning": [c.meaning for c in BOX7_CODES],
            "used_with": [c.used_with for c in BOX7_CODES],
            "produced": [c.produced for c in BOX7_CODES],
            "alone": [c.alone for c in BOX7_CODES],
        }
    )
