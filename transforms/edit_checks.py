"""Pre-filing edit checks per form: errors block filing, warnings do not.

Each check is a named boolean expression over a frame of forms joined with their filing details
(payee TIN type, Roth or not, destination, the reasons behind the form). The same frame feeds the
IRS writers: a form with an error, or under the $10 filing threshold, is not filed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from contracts.rules import tin_is_valid
from transforms.law.box7 import is_valid_combination
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
    born = p.ten_year_option_born_before
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
            ~is_valid_combination(c("distribution_codes"), p.tax_year),
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
            f"participant born before {born.day} {born:%b %Y}: code A and box 3 (capital gain) are not computed",
            c("born_before_1936"),
            "i1099r code A; Form 1099-R box 3; Tax Reform Act of 1986 §1122(h)(3), (5)",
        ),
    ]


def _eligible() -> pl.Expr:
    return ~pl.col("reason").is_in(NOT_ELIGIBLE_ROLLOVER) & ~pl.col("reason").is_in(
        ["loan_offset", "qualified_loan_offset"]
    )


def born_before_1936(p: TaxParameters) -> pl.Expr:
    """The participant may elect 10-year averaging or capital-gain treatment (code A, box 3):
    born before ``ten_year_option_born_before`` (parameters.toml; Tax Reform Act of 1986
    §1122(h)(3), (5))."""
    return pl.col("date_of_birth") < pl.lit(p.ten_year_option_born_before)


def form_details(legs: pl.LazyFrame, p: TaxParameters) -> pl.LazyFrame:
    """Per form, the facts the checks need beyond forms.parquet (from the engine's legs)."""
    eligible = _eligible()
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
        born_before_1936(p).any().fill_null(False).alias("born_before_1936"),
    )
    return forms.join(per_payee, on=["tax_year", "plan_id", "payee_id"], how="left").with_columns(
        pl.col("payee_eligible_rollover_cents").fill_null(0)
    )


DETAILS = ["roth", "destination", "eligible_rollover", "born_before_1936", "payee_eligible_rollover_cents"]


def _details_by_row(forms: pl.DataFrame, legs: pl.DataFrame, p: TaxParameters) -> pl.DataFrame | None:
    """:func:`form_details` in the order of ``forms``, when the engine's legs say which row of
    ``forms`` each leg is on (``_form_row``, checked against ``form_id``): integer group-bys, no
    join on form ids. ``None`` otherwise."""
    needed = {"_form_row", "_plan", "_payee", "form_id"}
    if not needed <= set(legs.columns) or legs.height == 0:
        return None
    row = legs.get_column("_form_row")
    if row.null_count() or row.max() >= forms.height:
        return None
    if not forms.get_column("form_id").gather(row).equals(legs.get_column("form_id")):
        return None
    eligible = _eligible()
    per_form = (
        legs.select(
            "_form_row",
            "tax_year",
            "_plan",
            "_payee",
            "roth",
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_first"),
            eligible.alias("_eligible"),
            born_before_1936(p).alias("_born"),
            pl.when(eligible).then(pl.col("amount_cents")).alias("_eligible_cents"),
        )
        .group_by("_form_row")
        .agg(
            pl.col("tax_year", "_plan", "_payee", "roth", "_first").first(),
            pl.col("_eligible").all().alias("eligible_rollover"),
            pl.col("_born").any().fill_null(False).alias("born_before_1936"),
            pl.col("_eligible_cents").sum(),
        )
        .sort("_form_row")
    )
    if per_form.height != forms.height:
        return None
    payee = ["tax_year", "_plan", "_payee"]
    return per_form.select(
        "roth",
        legs.get_column("destination").gather(per_form.get_column("_first")).alias("destination"),
        "eligible_rollover",
        "born_before_1936",
        pl.col("_eligible_cents").sum().over(payee).alias("payee_eligible_rollover_cents"),
    )


def run_edit_checks(forms: pl.DataFrame, legs: pl.DataFrame, p: TaxParameters) -> pl.DataFrame:
    """edit_checks.parquet: one row per (form, failed check), with plan and severity."""
    details = _details_by_row(forms, legs, p)
    if details is None:
        frame = forms.lazy().join(
            form_details(legs.lazy(), p).drop("tax_year", "plan_id", "payee_id"), on="form_id", how="left"
        )
    else:
        frame = pl.concat([forms, details], how="horizontal").lazy()
    checks = edit_checks(p)
    flags = frame.select(
        "plan_id",
        "form_id",
        "account_number",
        *[chk.failing.fill_null(False).alias(chk.name) for chk in checks],
    ).collect()
    failed = [
        flags.filter(pl.col(chk.name)).select(
            "plan_id",
            "form_id",
            "account_number",
            pl.lit(chk.severity).alias("severity"),
            pl.lit(chk.name).alias("check"),
            pl.lit(chk.message).alias("message"),
            pl.lit(chk.reference).alias("reference"),
            pl.lit(order, pl.Int64).alias("_order"),
        )
        for order, chk in enumerate(checks)
    ]
    return pl.concat(failed).sort("plan_id", "form_id", "_order").drop("_order")


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
