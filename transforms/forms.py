"""Forms 1099-R: disbursements grouped by the key ``shared/spec/outputs.md`` fixes.

One form per (tax_year, plan_id, payee_id, Roth or non-Roth money, destination,
distribution_codes, state) — a payee's payments of the year with the same key add up on one form
(tax-rules f.5: separate forms for rollover and non-rollover parts, for codes that do not combine,
for Roth and non-Roth money; a project convention for the rest).
"""

from __future__ import annotations

import polars as pl
import polars_hash as plh

FORM_KEY = ["tax_year", "plan_id", "payee_id", "roth", "destination", "distribution_codes", "state"]
FORM_ID_VERSION = "1099R-v1"


def form_key() -> pl.Expr:
    """The form key of outputs.md as one string (fields separated by the ASCII unit separator)."""
    return pl.concat_str(
        [
            pl.lit(FORM_ID_VERSION),
            pl.col("tax_year").cast(pl.String),
            pl.col("plan_id"),
            pl.col("payee_id"),
            pl.when(pl.col("roth")).then(pl.lit("roth")).otherwise(pl.lit("non_roth")),
            pl.col("destination"),
            pl.col("distribution_codes"),
            pl.col("state").fill_null(""),
        ],
        separator="\x1f",
    )


def form_id(key_column: str = "_form_key") -> pl.Expr:
    """A stable id derived from the form key only, never from amounts: the first 20 hex digits of
    SHA-256 over the key (outputs.md: "the same key always gives the same id"). SHA-256 through
    polars-hash is stable across versions, unlike ``Expr.hash``.
    """
    return plh.col(key_column).chash.sha2_256().str.slice(0, 20).alias("form_id")


def account_number() -> pl.Expr:
    """Account number (box "Account number", Pub 1220 B 21–40): at most 20 characters, unique per
    form within the payer and year, derived from the form key and never from the TIN; the form id
    in capitals, so that corrections match the original (Pub 1220: corrections are matched on it).
    """
    return pl.col("form_id").str.to_uppercase().alias("account_number")


def event_closes_account() -> pl.Expr:
    """Over one event's contract rows: every contract the payee holds is drawn down to zero — the
    event closes out the account (i1099r box 2b "Total distribution"; outputs.md).
    """
    return (pl.col("draw_cents") == pl.col("value_cents")).all()


def total_distribution(legs: pl.LazyFrame, event_closes: pl.LazyFrame) -> pl.LazyFrame:
    """Box 2b "Total distribution" per (tax_year, plan_id, payee_id): true when the payee's last
    event of the year draws every contract it holds down to zero (outputs.md; i1099r: one or more
    distributions within one year that pay out the whole balance). Several events on the last
    date must all close out.
    """
    events = (
        legs.select("event_id", "tax_year", "plan_id", "payee_id", "payment_date")
        .unique()
        .join(event_closes, on="event_id", how="left")
    )
    key = ["tax_year", "plan_id", "payee_id"]
    return (
        events.filter(pl.col("payment_date") == pl.col("payment_date").max().over(key))
        .group_by(key)
        .agg(pl.col("closes").all().alias("total_distribution"))
    )


def box9a_percent(legs: pl.LazyFrame, totals: pl.LazyFrame) -> pl.LazyFrame:
    """Box 9a per (tax_year, plan_id, participant_id, payee_id): the payee's box 1 over the box 1 of
    all the participant's payees who closed out their shares in the year, a whole number rounded
    half-up (i1099r box 9a; Pub 1220 B 550–551: 10.5 % → 11); null for a single payee and at 100 %.
    """
    key = ["tax_year", "plan_id", "participant_id"]
    per_payee = (
        legs.group_by([*key, "payee_id"])
        .agg(pl.col("amount_cents").sum().alias("_box1"))
        .join(totals, on=["tax_year", "plan_id", "payee_id"], how="left")
        .filter(pl.col("total_distribution"))
    )
    wide = pl.Int128
    return (
        per_payee.with_columns(pl.col("_box1").sum().over(key).alias("_all"), pl.len().over(key).alias("_n"))
        .select(
            *key,
            "payee_id",
            pl.when(pl.col("_n") > 1)
            .then((200 * pl.col("_box1").cast(wide) + pl.col("_all")) // (2 * pl.col("_all").cast(wide)))
            .cast(pl.Int32)
            .alias("_pct"),
        )
        .with_columns(pl.when(pl.col("_pct") < 100).then(pl.col("_pct")).alias("_pct"))
    )


def build_forms(legs: pl.LazyFrame, event_closes: pl.LazyFrame) -> pl.LazyFrame:
    """Aggregate disbursements into forms (outputs.md, forms.parquet), sorted by form_id."""
    totals = total_distribution(legs, event_closes)
    pct = box9a_percent(legs, totals)
    with_pct = legs.join(pct, on=["tax_year", "plan_id", "participant_id", "payee_id"], how="left")
    zero = pl.lit(0, pl.Int64)
    forms = with_pct.group_by("form_id").agg(
        pl.col("tax_year").first(),
        pl.col("plan_id").first(),
        pl.col("payer_tin").first(),
        pl.col("payee_id").first(),
        pl.col("payee_tin").first(),
        pl.col("amount_cents").sum().alias("box1_cents"),
        pl.col("box2a_cents").sum(),
        zero.alias("box3_cents"),
        pl.col("federal_withholding_cents").sum().alias("box4_cents"),
        pl.col("box5_cents").sum(),
        zero.alias("box6_cents"),
        zero.alias("box8_cents"),
        zero.alias("box9b_cents"),
        pl.col("box10_cents").sum(),
        pl.col("distribution_codes").first(),
        pl.col("destination").first(),
        pl.col("roth").first(),
        pl.when(pl.col("participant_id").min() == pl.col("participant_id").max())
        .then(pl.col("_pct").first())
        .alias("box9a_percent"),
        pl.when(pl.col("roth")).then(pl.col("roth_first_year")).max().cast(pl.Int32).alias("box11_year"),
        pl.col("state").first(),
        pl.col("state_payer_id").min(),
        pl.col("state_withholding_cents").sum(),
        pl.col("locality").min(),
        pl.col("local_withholding_cents").sum(),
    )
    return (
        forms.join(totals, on=["tax_year", "plan_id", "payee_id"], how="left")
        .with_columns(
            account_number(),
            pl.lit(False).alias("taxable_not_determined"),
            pl.col("total_distribution").fill_null(False),
            pl.lit(False).alias("ira_sep_simple"),
            pl.when(pl.col("destination") == "cash").then(pl.col("box9a_percent")).alias("box9a_percent"),
            pl.lit(None, pl.Date).alias("box13_date"),
            pl.when(pl.col("state").is_not_null())
            .then(pl.col("box1_cents"))
            .otherwise(0)
            .alias("state_distribution_cents"),
            pl.when(pl.col("locality").is_not_null())
            .then(pl.col("box1_cents"))
            .otherwise(0)
            .alias("local_distribution_cents"),
        )
        .with_columns(
            pl.when(pl.col("total_distribution")).then(pl.col("box9a_percent")).alias("box9a_percent")
        )
        .select(FORM_COLUMNS)
        .sort("form_id")
    )


FORM_COLUMNS = [
    "form_id",
    "tax_year",
    "plan_id",
    "payer_tin",
    "payee_id",
    "payee_tin",
    "account_number",
    "box1_cents",
    "box2a_cents",
    "box3_cents",
    "box4_cents",
    "box5_cents",
    "box6_cents",
    "box8_cents",
    "box9b_cents",
    "box10_cents",
    "taxable_not_determined",
    "total_distribution",
    "distribution_codes",
    "ira_sep_simple",
    "box9a_percent",
    "box11_year",
    "box13_date",
    "state",
    "state_payer_id",
    "state_withholding_cents",
    "state_distribution_cents",
    "locality",
    "local_withholding_cents",
    "local_distribution_cents",
]
