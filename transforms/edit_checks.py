"""Pre-filing edit checks per form: errors block filing, warnings do not.

Each check is a named boolean expression over a frame of forms joined with their filing details
(payee TIN type, Roth or not, destination, the reasons behind the form). The same frame feeds the
IRS writers: a form with an error, or under the $10 filing threshold, is not filed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from contracts.rules import tin_is_valid
from transforms.box7 import is_valid_combination
from transforms.params import TaxParameters

NOT_ELIGIBLE_ROLLOVER = ("hardship", "required_minimum", "corrective", "deemed_loan")


@dataclass(frozen=True)
class EditCheck:
    name: str
    severity: str  # "error" blocks filing; "warning" does not
    message: str
    failing: pl.Expr  # true on a form the check flags
    reference: str


def edit_checks(p: TaxParameters) -> list[EditCheck]:
    """The checks, in report order."""
    c = pl.col
    rate = p.eligible_rollover_withholding_rate_pct
    return [
        EditCheck(
            "payee_tin_invalid",
            "error",
            "payee TIN is missing or not 9 valid digits",
            ~tin_is_valid(c("payee_tin")).fill_null(False),
            "Publication 1220, B record 12-20; General Instructions, TIN rules",
        ),
        EditCheck(
            "payer_tin_invalid",
            "error",
            "payer EIN is missing or not 9 valid digits",
            ~tin_is_valid(c("payer_tin")).fill_null(False),
            "Publication 1220, A record 12-20",
        ),
        EditCheck(
            "invalid_code_pair",
            "error",
            "box 7 holds codes that Table 1 does not allow together",
            ~is_valid_combination(c("distribution_codes")),
            "i1099r, Table 1 (tax-rules f.3)",
        ),
        EditCheck(
            "box2a_above_box1",
            "error",
            "box 2a (taxable amount) is larger than box 1 (gross)",
            c("box2a_cents") > c("box1_cents"),
            "i1099r, boxes 1 and 2a",
        ),
        EditCheck(
            "box5_above_box1",
            "error",
            "box 5 (employee contributions) is larger than box 1",
            c("box5_cents") > c("box1_cents"),
            "i1099r, box 5",
        ),
        EditCheck(
            "box4_above_box1",
            "error",
            "federal withholding (box 4) is larger than the gross distribution",
            c("box4_cents") > c("box1_cents"),
            "IRC §3405; i1099r, box 4",
        ),
        EditCheck(
            "roth_without_box11",
            "error",
            "a designated Roth account form has no box 11 first year",
            c("roth") & c("box11_year").is_null(),
            "i1099r (2023), box 11",
        ),
        EditCheck(
            "codes_missing",
            "error",
            "box 7 is empty",
            c("distribution_codes").fill_null("").str.len_chars() == 0,
            "Publication 1220, B record 545-546",
        ),
        EditCheck(
            "under_filing_threshold",
            "warning",
            "box 1 is under $10: kept in forms.parquet but not filed",
            c("box1_cents") < p.filing_threshold_cents,
            "i1099r (2023): file for distributions of $10 or more",
        ),
        EditCheck(
            "withholding_below_20_percent",
            "warning",
            f"cash part of an eligible rollover distribution with less than {rate} % of box 2a withheld",
            (c("destination") == "cash")
            & c("eligible_rollover")
            & (c("box2a_cents") > 0)
            & (c("payee_eligible_rollover_cents") >= p.withholding_de_minimis_cents)
            & (100 * c("box4_cents") < rate * c("box2a_cents")),
            "IRC §3405(c)(1); Form W-4R; Reg. §31.3405(c)-1 Q&A-14 ($200 de minimis)",
        ),
        EditCheck(
            "ten_year_option_not_modeled",
            "warning",
            "participant born before 2 Jan 1936: code A and box 3 (capital gain) are not computed",
            c("born_before_1936"),
            "i1099r code A; Form 1099-R box 3",
        ),
    ]


def form_details(legs: pl.LazyFrame) -> pl.LazyFrame:
    """Per form, the facts the checks need beyond forms.parquet (from the engine's legs)."""
    eligible = ~pl.col("reason").is_in(NOT_ELIGIBLE_ROLLOVER) & ~pl.col("reason").is_in(
        ["loan_offset", "qualified_loan_offset"]
    )
    per_payee = (
        legs.filter(eligible)
        .group_by("tax_year", "plan_id", "payee_id")
        .agg(pl.col("amount_cents").sum().alias("payee_eligible_rollover_cents"))
    )
    forms = legs.group_by("form_id").agg(
        pl.col("tax_year").first(),
        pl.col("plan_id").first(),
        pl.col("payee_id").first(),
        pl.col("roth").first(),
        pl.col("destination").first(),
        eligible.all().alias("eligible_rollover"),
        (pl.col("date_of_birth") < pl.date(1936, 1, 2)).any().fill_null(False).alias("born_before_1936"),
    )
    return forms.join(per_payee, on=["tax_year", "plan_id", "payee_id"], how="left").with_columns(
        pl.col("payee_eligible_rollover_cents").fill_null(0)
    )


def run_edit_checks(forms: pl.DataFrame, legs: pl.DataFrame, p: TaxParameters) -> pl.DataFrame:
    """edit_checks.parquet: one row per (form, failed check), with plan and severity."""
    details = form_details(legs.lazy()).drop("tax_year", "plan_id", "payee_id")
    frame = forms.lazy().join(details, on="form_id", how="left")
    checks = edit_checks(p)
    flagged = frame.select(
        "plan_id",
        "form_id",
        "account_number",
        *[chk.failing.fill_null(False).alias(chk.name) for chk in checks],
    ).unpivot(index=["plan_id", "form_id", "account_number"], variable_name="check", value_name="failed")
    meta = pl.LazyFrame(
        {
            "check": [chk.name for chk in checks],
            "severity": [chk.severity for chk in checks],
            "message": [chk.message for chk in checks],
            "reference": [chk.reference for chk in checks],
            "_order": list(range(len(checks))),
        }
    )
    return (
        flagged.filter(pl.col("failed"))
        .join(meta, on="check")
        .sort("plan_id", "form_id", "_order")
        .select("plan_id", "form_id", "account_number", "severity", "check", "message", "reference")
        .collect()
    )


def filable(forms: pl.DataFrame, checks: pl.DataFrame) -> pl.DataFrame:
    """Forms that go into the IRS file: no blocking error and box 1 at the $10 threshold or above."""
    blocked = checks.filter((pl.col("severity") == "error") | (pl.col("check") == "under_filing_threshold"))
    return forms.join(blocked.select("form_id").unique(), on="form_id", how="anti")


def tieout_945(legs: pl.DataFrame) -> pl.DataFrame:
    """Form 945 tie-out: federal income tax withheld (box 4) per payer EIN and month of payment,
    ready to compare with the deposits reported on Form 945 (IRC §3405; Form 945 instructions)."""
    return (
        legs.lazy()
        .group_by("payer_tin", pl.col("payment_date").dt.truncate("1mo").alias("month"))
        .agg(
            pl.col("federal_withholding_cents").sum().alias("box4_cents"),
            pl.col("amount_cents").sum().alias("gross_cents"),
            pl.len().cast(pl.Int64).alias("disbursements"),
        )
        .sort("payer_tin", "month")
        .collect()
    )
