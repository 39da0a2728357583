"""Row-level rules of the extract, each with a stable name and a message an analyst understands.

Single-table rules become pandera checks (:mod:`contracts.schemas`); cross-table rules are polars
expressions evaluated in :mod:`contracts.validate`. Both quarantine the row's whole event. The order
of :data:`RULE_ORDER` decides which rule a row is reported under when it breaks several ("the first
rule the row breaks", ``docs/spec/outputs.md``). Messages never quote a value: a TIN, a name or a
birth date must not reach the quarantine file, logs or the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from contracts.extract import CONTRACTS, DESTINATIONS, PLAN_TYPES, REASONS, TABLES, TIN_TYPES, USPS_CODES

# [0-9], not \d: polars' (and Python's) \d also matches other scripts' digits ("١٢٣"), which no IRS
# record can carry (Publication 1220: numeric fields are ASCII 0-9).
TIN_PATTERN = r"^[0-9]{9}$"
ZIP_PATTERN = r"^[0-9]{5}([0-9]{4})?$"


TIN_TEXT_PATTERN = r"^(?!(.)\1{8}$)[0-9]{9}$"
"""The same rule as :func:`tin_is_valid` for one text (Python ``re``: a settings file's TIN)."""


def tin_is_valid(tin: pl.Expr) -> pl.Expr:
    """Nine ASCII digits, not all the same digit (Publication 1220: such TINs count as incorrect).
    The one definition of a valid TIN: the extract's rules, the edit checks, the IRS writers and
    the Publication 1220 reader use it (and :data:`TIN_TEXT_PATTERN` for one text)."""
    all_same = tin.str.slice(1) == tin.str.slice(0, 8)  # s[1:] == s[:-1] holds only for one repeated digit
    return tin.str.contains(TIN_PATTERN) & ~all_same


@dataclass(frozen=True)
class RowRule:
    """One row-level rule of one table.

    ``column``: the column a pandera column check attaches to, or ``None`` for a check over the
    row. ``valid``: builds the boolean expression that is true for a passing row (null counts as
    passing; missing values are the ``missing_required_value`` rule's business).
    """

    table: str
    name: str
    message: str
    column: str | None = None
    valid: Callable[[], pl.Expr] | None = None


def _in(col: str, values) -> Callable[[], pl.Expr]:
    return lambda: pl.col(col).is_in(list(values))


def _nonneg(col: str) -> Callable[[], pl.Expr]:
    return lambda: pl.col(col) >= 0


def _us_address(country: str = "country") -> pl.Expr:
    return pl.col(country).fill_null("US") == "US"


# ---- single-table rules (pandera checks) -------------------------------------------------------
SINGLE_TABLE_RULES: tuple[RowRule, ...] = (
    # distributions
    RowRule(
        "distributions",
        "unknown_contract",
        "contract must be non_roth, after_tax or roth",
        "contract",
        _in("contract", CONTRACTS),
    ),
    RowRule(
        "distributions",
        "amount_not_positive",
        "amount_cents must be greater than zero",
        "amount_cents",
        lambda: pl.col("amount_cents") > 0,
    ),
    RowRule(
        "distributions",
        "unknown_destination",
        "destination is not one of the values docs/spec/extract.md lists",
        "destination",
        _in("destination", DESTINATIONS),
    ),
    RowRule(
        "distributions",
        "unknown_reason",
        "reason is not one of the values docs/spec/extract.md lists",
        "reason",
        _in("reason", REASONS),
    ),
    RowRule(
        "distributions",
        "withholding_negative",
        "federal withholding cannot be negative",
        "federal_withholding_cents",
        _nonneg("federal_withholding_cents"),
    ),
    RowRule(
        "distributions",
        "withholding_negative",
        "state withholding cannot be negative",
        "state_withholding_cents",
        _nonneg("state_withholding_cents"),
    ),
    RowRule(
        "distributions",
        "withholding_negative",
        "local withholding cannot be negative",
        "local_withholding_cents",
        _nonneg("local_withholding_cents"),
    ),
    RowRule(
        "distributions",
        "state_code_invalid",
        "withholding state is not a USPS state code",
        "state",
        _in("state", USPS_CODES),
    ),
    RowRule(
        "distributions",
        "corrective_year_invalid",
        "a corrective distribution needs corrective_taxable_year equal to the payment year or the year before",
        None,
        lambda: (
            (pl.col("reason") != "corrective")
            | pl.col("corrective_taxable_year")
            .is_between(pl.col("payment_date").dt.year() - 1, pl.col("payment_date").dt.year())
            .fill_null(False)
        ),
    ),
    RowRule(
        "distributions",
        "corrective_basis_invalid",
        "corrective_basis_cents must be between 0 and amount_cents, and is given only on a corrective distribution",
        None,
        lambda: (
            pl.when(pl.col("reason") == "corrective")
            .then(pl.col("corrective_basis_cents").is_between(0, pl.col("amount_cents")))
            .otherwise(pl.col("corrective_basis_cents") == 0)
        ),
    ),
    # payees
    RowRule(
        "payees",
        "tin_format",
        "TIN must be 9 digits and not one digit repeated",
        "tin",
        lambda: tin_is_valid(pl.col("tin")),
    ),
    RowRule(
        "payees",
        "unknown_tin_type",
        "tin_type must be ssn, itin, atin or ein",
        "tin_type",
        _in("tin_type", TIN_TYPES),
    ),
    RowRule(
        "payees",
        "country_code_invalid",
        "country must be a two-letter ISO 3166 code",
        "country",
        lambda: pl.col("country").str.contains(r"^[A-Z]{2}$"),
    ),
    RowRule(
        "payees",
        "zip_format",
        "a US address needs a ZIP code of 5 or 9 digits",
        None,
        lambda: ~_us_address() | pl.col("zip").str.contains(ZIP_PATTERN).fill_null(False),
    ),
    RowRule(
        "payees",
        "state_code_invalid",
        "a US address needs a USPS state code",
        None,
        lambda: ~_us_address() | pl.col("state").is_in(USPS_CODES).fill_null(False),
    ),
    RowRule(
        "payees",
        "nonresident_alien",
        "payee is a nonresident alien (us_person = false): report on Form 1042-S, not Form 1099-R",
        "us_person",
        lambda: pl.col("us_person"),
    ),
    # plans
    RowRule(
        "plans",
        "unknown_plan_type",
        "plan_type must be 401k, 403b or 457b_governmental",
        "plan_type",
        _in("plan_type", PLAN_TYPES),
    ),
    RowRule(
        "plans",
        "tin_format",
        "payer EIN must be 9 digits and not one digit repeated",
        "payer_tin",
        lambda: tin_is_valid(pl.col("payer_tin")),
    ),
    RowRule(
        "plans",
        "zip_format",
        "payer ZIP code must have 5 or 9 digits",
        "payer_zip",
        lambda: pl.col("payer_zip").str.contains(ZIP_PATTERN),
    ),
    RowRule(
        "plans",
        "state_code_invalid",
        "payer state is not a USPS state code",
        "payer_state",
        _in("payer_state", USPS_CODES),
    ),
    RowRule(
        "plans",
        "phone_format",
        "payer phone must be digits only",
        "payer_phone",
        lambda: pl.col("payer_phone").str.contains(r"^[0-9]{7,15}$"),
    ),
    RowRule(
        "plans",
        "govt_457b_after_tax",
        "a governmental 457(b) plan holds no after-tax money: no separate after-tax accounting, no pre-1987 recovery",
        None,
        lambda: (
            (pl.col("plan_type") != "457b_governmental")
            | ~(pl.col("after_tax_separately_accounted") | pl.col("pre1987_recovery"))
        ),
    ),
    # contracts
    RowRule(
        "contracts",
        "unknown_contract",
        "contract must be non_roth, after_tax or roth",
        "contract",
        _in("contract", CONTRACTS),
    ),
    RowRule(
        "contracts",
        "negative_balance",
        "value_cents cannot be negative",
        "value_cents",
        _nonneg("value_cents"),
    ),
    RowRule(
        "contracts",
        "negative_balance",
        "basis_cents cannot be negative",
        "basis_cents",
        _nonneg("basis_cents"),
    ),
    RowRule(
        "contracts",
        "negative_balance",
        "pre1987_basis_cents cannot be negative",
        "pre1987_basis_cents",
        _nonneg("pre1987_basis_cents"),
    ),
    RowRule(
        "contracts",
        "negative_balance",
        "irr_recapture_cents cannot be negative",
        "irr_recapture_cents",
        _nonneg("irr_recapture_cents"),
    ),
    RowRule(
        "contracts",
        "negative_balance",
        "foreign_source_cents cannot be negative",
        "foreign_source_cents",
        _nonneg("foreign_source_cents"),
    ),
    RowRule(
        "contracts",
        "basis_below_pre1987_basis",
        "pre-1987 basis cannot exceed the contract's basis",
        None,
        lambda: pl.col("pre1987_basis_cents") <= pl.col("basis_cents"),
    ),
    RowRule(
        "contracts",
        "foreign_source_above_untaxed",
        "foreign-source amount cannot exceed the untaxed part of the contract (value minus basis)",
        None,
        lambda: (
            (pl.col("value_cents") <= pl.col("basis_cents"))
            | (pl.col("foreign_source_cents") <= pl.col("value_cents") - pl.col("basis_cents"))
        ),
    ),
    RowRule(
        "contracts",
        "roth_pre1987_basis",
        "a designated Roth account has no pre-1987 basis",
        None,
        lambda: (pl.col("contract") != "roth") | (pl.col("pre1987_basis_cents") == 0),
    ),
    RowRule(
        "contracts",
        "irr_recapture_outside_roth",
        "in-plan Roth rollover recapture amounts belong only to the roth contract",
        None,
        lambda: (pl.col("contract") == "roth") | (pl.col("irr_recapture_cents") == 0),
    ),
)


def _identifier_rules() -> tuple[RowRule, ...]:
    """docs/spec/extract.md, Conventions: "Identifiers are non-empty strings" — every required ``…_id`` column
    of the tables validated row by row (an empty id would be reported, or matched, as an id)."""
    return tuple(
        RowRule(
            table.name,
            "empty_id",
            f"{column.name} is empty: identifiers are non-empty strings",
            column.name,
            lambda c=column.name: pl.col(c).str.strip_chars() != "",
        )
        for table in TABLES.values()
        if not table.optional_file
        for column in table.columns
        if column.name.endswith("_id") and column.required and not column.nullable
    )


SINGLE_TABLE_RULES = _identifier_rules() + SINGLE_TABLE_RULES

# ---- cross-table rules (evaluated in contracts.validate) ---------------------------------------
CROSS_TABLE_MESSAGES: dict[str, str] = {
    "unknown_plan": "plan_id does not match any row of plans.parquet",
    "unknown_participant": "participant_id does not match any row of participants.parquet",
    "unknown_payee": "payee_id does not match any row of payees.parquet",
    "plan_mismatch": "plan_id differs from the participant's plan",
    "event_mixed": "the disbursements of this event do not share one participant, payee, plan and payment date",
    "payment_outside_tax_year": "payment_date is outside the manifest's tax year",
    "missing_contract_row": "contracts.parquet has no row for this event and contract",
    "amount_above_contract_value": "the event draws more from this contract than its value_cents",
    "after_tax_not_separately_accounted": "an after_tax contract exists only in plans that account for after-tax money separately",
    "govt_457b_after_tax": "a governmental 457(b) plan holds no after-tax money outside the Roth account",
    "roth_without_first_year": "Roth money needs the participant's roth_first_year",
    "non_roth_to_roth_plan": "non-Roth money cannot be rolled to another plan's designated Roth account",
    "roth_destination_invalid": "Roth money can go only to cash, a Roth IRA or another plan's Roth account",
    "loan_not_cash": "loan offsets and deemed loans are paid as cash, never rolled over",
    "not_rollover_eligible": "hardship, required minimum, corrective and deemed-loan amounts cannot be rolled over",
    "corrective_not_alone": "a corrective distribution must be an event of its own: this event has other disbursements",
    "corrective_basis_above_contract_basis": "the corrective distribution returns more after-tax or Roth contributions (corrective_basis_cents) than the contract's basis",
    "participant_birth_date_missing": "the participant's payee row has no date_of_birth, so age 59½ cannot be tested",
    "roth_first_year_invalid": "roth_first_year must be a year from 2006 to the tax year",
    "orphan_contract_row": "no disbursement in distributions.parquet belongs to this event",
    "codes_over_two": "the box 7 coding of this disbursement needs three codes; Form 1099-R allows two",
    "codes_invalid": "the box 7 codes of this disbursement are not a combination the IRS accepts",
}

BUILTIN_MESSAGES: dict[str, str] = {
    "missing_required_value": "a required value is missing",
    "duplicate_id": "the primary key appears on more than one row",
    "event_quarantined": "held back because another row of the same event broke a rule",
}

RULE_ORDER: tuple[str, ...] = (
    "missing_required_value",
    "duplicate_id",
    *dict.fromkeys(r.name for r in SINGLE_TABLE_RULES),
    *CROSS_TABLE_MESSAGES,
    "event_quarantined",
)
RULE_RANK: dict[str, int] = {name: i for i, name in enumerate(RULE_ORDER)}


def rules_for(table: str) -> list[RowRule]:
    return [r for r in SINGLE_TABLE_RULES if r.table == table]


def message_for(table: str, rule: str, column: str | None = None) -> str:
    """The analyst message of a rule, for one table (and column, where a rule spans several)."""
    for r in SINGLE_TABLE_RULES:
        if r.table == table and r.name == rule and (column is None or r.column in (None, column)):
            return r.message
    if rule in CROSS_TABLE_MESSAGES:
        return CROSS_TABLE_MESSAGES[rule]
    if rule == "missing_required_value" and column:
        return f"a required value is missing in column {column}"
    return BUILTIN_MESSAGES.get(rule, rule)
