"""Validate an extract: every input row ends in the clean tables or in quarantine, exactly once.

A row that breaks a rule takes its whole event into quarantine (``shared/spec/outputs.md``): the
offending row under the first rule it breaks, the other rows of the event under
``event_quarantined``. Faulty rows of plans, payees and participants take every event that depends
on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from contracts.extract import TABLES
from contracts.loading import ROW
from contracts.rules import RULE_RANK, message_for
from contracts.schemas import failures

ROW_TABLES = ("plans", "payees", "participants", "contracts", "distributions")
QUARANTINE_SCHEMA = {
    "table": pl.String,
    "key": pl.String,
    "event_id": pl.String,
    "rule": pl.String,
    "message": pl.String,
}
LOAN_REASONS = ("loan_offset", "qualified_loan_offset", "deemed_loan")
NOT_ROLLOVER_ELIGIBLE = ("hardship", "required_minimum", "corrective", "deemed_loan")
ROTH_DESTINATIONS = ("cash", "rollover_roth_ira", "rollover_roth_plan")


@dataclass(frozen=True)
class Validated:
    """Clean rows of every table, and the quarantine (``outputs.md`` layout)."""

    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame


def _key_expr(table: str) -> pl.Expr:
    key = TABLES[table].key
    return pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in key], separator="|")


def _failing(frame: pl.LazyFrame, checks: dict[str, pl.Expr]) -> pl.LazyFrame:
    """(_row, rule) for every row where a check expression is False."""
    flags = frame.select(ROW, *[(~e.fill_null(True)).alias(name) for name, e in checks.items()])
    return (
        flags.unpivot(index=ROW, variable_name="rule", value_name="broken")
        .filter(pl.col("broken"))
        .select(ROW, "rule")
    )


def _first(frame: pl.DataFrame) -> pl.DataFrame:
    if frame.height == 0:
        return pl.DataFrame(schema={ROW: pl.UInt32, "rule": pl.String, "column": pl.String})
    if "column" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("column"))
    return (
        frame.with_columns(pl.col("rule").replace_strict(RULE_RANK, default=len(RULE_RANK)).alias("_rank"))
        .sort(ROW, "_rank", "column", nulls_last=True)
        .unique(ROW, keep="first", maintain_order=True)
        .drop("_rank")
    )


def _cross_table(t: dict[str, pl.DataFrame], tax_year: int) -> dict[str, pl.DataFrame]:
    """The cross-table rules of extract.md, as one lazy plan per table collected together."""
    plans = t["plans"].lazy().unique("plan_id", keep="any").drop(ROW)
    payees = t["payees"].lazy().unique("payee_id", keep="any").drop(ROW)
    parts = t["participants"].lazy().unique("participant_id", keep="any").drop(ROW)
    d = t["distributions"].lazy()
    c = t["contracts"].lazy()

    dob = payees.select(pl.col("payee_id").alias("_p_payee"), pl.col("date_of_birth").alias("_p_dob"))
    part_cols = parts.select(
        "participant_id",
        pl.col("plan_id").alias("_p_plan"),
        pl.col("roth_first_year").alias("_p_roth"),
        pl.col("payee_id").alias("_p_payee"),
    ).join(dob, on="_p_payee", how="left")
    plan_cols = plans.select(
        "plan_id",
        pl.col("plan_type").alias("_plan_type"),
        pl.col("after_tax_separately_accounted").alias("_sep"),
    )
    contract_vals = c.unique(["event_id", "contract"], keep="any").select(
        "event_id", "contract", pl.col("value_cents").alias("_value")
    )
    payee_ids = payees.select("payee_id", pl.lit(True).alias("_known_payee"))
    # n_unique in a group-by: string min/max in windows is very slow in polars 2.1
    mixed = d.group_by("event_id").agg(
        pl.any_horizontal(
            [pl.col(col).n_unique() > 1 for col in ("participant_id", "payee_id", "plan_id", "payment_date")]
        ).alias("_mixed")
    )
    dx = (
        d.join(part_cols, on="participant_id", how="left")
        .join(plan_cols, on="plan_id", how="left")
        .join(payee_ids, on="payee_id", how="left")
        .join(contract_vals, on=["event_id", "contract"], how="left")
        .join(mixed, on="event_id", how="left")
        .with_columns(
            pl.col("amount_cents").sum().over(["event_id", "contract"]).alias("_draw"),
            pl.col("_p_plan").is_not_null().alias("_known_part"),
        )
    )
    dest, contract, reason = pl.col("destination"), pl.col("contract"), pl.col("reason")
    d_checks = {
        "unknown_plan": pl.col("_plan_type").is_not_null(),
        "unknown_participant": pl.col("_known_part"),
        "unknown_payee": pl.col("_known_payee").fill_null(False),
        "plan_mismatch": ~pl.col("_known_part") | (pl.col("_p_plan") == pl.col("plan_id")),
        "event_mixed": ~pl.col("_mixed"),
        "payment_outside_tax_year": pl.col("payment_date").dt.year() == tax_year,
        "missing_contract_row": pl.col("_value").is_not_null(),
        "amount_above_contract_value": pl.col("_value").is_null() | (pl.col("_draw") <= pl.col("_value")),
        "after_tax_not_separately_accounted": (contract != "after_tax") | pl.col("_sep").fill_null(True),
        "govt_457b_after_tax": (contract != "after_tax") | (pl.col("_plan_type") != "457b_governmental"),
        "roth_without_first_year": (contract != "roth")
        | ~pl.col("_known_part")
        | pl.col("_p_roth").is_not_null(),
        "non_roth_to_roth_plan": (contract == "roth") | (dest != "rollover_roth_plan"),
        "roth_destination_invalid": (contract != "roth") | dest.is_in(ROTH_DESTINATIONS),
        "loan_not_cash": ~reason.is_in(LOAN_REASONS) | (dest == "cash"),
        "not_rollover_eligible": ~reason.is_in(NOT_ROLLOVER_ELIGIBLE) | (dest == "cash"),
        "participant_birth_date_missing": ~pl.col("_known_part") | pl.col("_p_dob").is_not_null(),
    }

    event_facts = dx.group_by("event_id").agg(
        pl.col("_plan_type").first(),
        pl.col("_sep").first(),
        pl.col("_p_roth").first(),
        pl.lit(True).alias("_has_event"),
    )
    cx = c.join(event_facts, on="event_id", how="left")
    c_checks = {
        "orphan_contract_row": pl.col("_has_event").fill_null(False),
        "after_tax_not_separately_accounted": (pl.col("contract") != "after_tax")
        | pl.col("_sep").fill_null(True),
        "govt_457b_after_tax": (pl.col("_plan_type") != "457b_governmental")
        | ((pl.col("contract") == "roth") | (pl.col("basis_cents") == 0))
        & (pl.col("contract") != "after_tax"),
        "roth_without_first_year": (pl.col("contract") != "roth") | pl.col("_p_roth").is_not_null(),
    }

    p = t["participants"].lazy()
    p_checks = {
        "unknown_plan": pl.col("plan_id").is_in(t["plans"]["plan_id"].implode()),
        "unknown_payee": pl.col("payee_id").is_in(t["payees"]["payee_id"].implode()),
        "roth_first_year_invalid": pl.col("roth_first_year").is_between(2006, tax_year),
    }
    d_fail, c_fail, p_fail = pl.collect_all(
        [_failing(dx, d_checks), _failing(cx, c_checks), _failing(p, p_checks)]
    )
    return {"distributions": d_fail, "contracts": c_fail, "participants": p_fail}


def validate(tables: dict[str, pl.DataFrame], tax_year: int) -> Validated:
    """Split every table into clean rows and quarantine rows."""
    faults: dict[str, pl.DataFrame] = {}
    cross = _cross_table(tables, tax_year)
    for name in ROW_TABLES:
        parts = [failures(name, tables[name])]
        if name in cross:
            parts.append(cross[name].with_columns(pl.lit(None, pl.String).alias("column")))
        faults[name] = _first(pl.concat(parts))

    d, c = tables["distributions"], tables["contracts"]

    def faulty(name: str, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(faults[name], on=ROW, how="inner")

    bad_d, bad_c = faulty("distributions", d), faulty("contracts", c)
    bad_payees = faulty("payees", tables["payees"])
    bad_plans = faulty("plans", tables["plans"])
    bad_parts = faulty("participants", tables["participants"])
    own_payee_bad = tables["participants"].filter(pl.col("payee_id").is_in(bad_payees["payee_id"].implode()))

    def cause(frame: pl.DataFrame, table: str) -> pl.DataFrame:
        return frame.select(
            "event_id",
            pl.lit(table).alias("_c_table"),
            _key_expr(table).alias("_c_key"),
            pl.col("rule").alias("_c_rule"),
        )

    def events_via(column: str, bad: pl.DataFrame, table: str, key_col: str) -> pl.DataFrame:
        ref = bad.select(
            pl.col(key_col).alias(column), _key_expr(table).alias("_c_key"), pl.col("rule").alias("_c_rule")
        )
        return d.join(ref, on=column, how="inner").select(
            "event_id", pl.lit(table).alias("_c_table"), "_c_key", "_c_rule"
        )

    own = own_payee_bad.join(bad_payees.select("payee_id", "rule"), on="payee_id").select(
        "participant_id",
        pl.lit("payees").alias("_c_table"),
        pl.col("payee_id").alias("_c_key"),
        pl.col("rule").alias("_c_rule"),
    )
    causes = pl.concat(
        [
            cause(bad_d, "distributions"),
            cause(bad_c.filter(pl.col("rule") != "orphan_contract_row"), "contracts"),
            events_via("payee_id", bad_payees, "payees", "payee_id"),
            events_via("plan_id", bad_plans, "plans", "plan_id"),
            events_via("participant_id", bad_parts, "participants", "participant_id"),
            d.join(own, on="participant_id", how="inner").select("event_id", "_c_table", "_c_key", "_c_rule"),
        ]
    ).filter(pl.col("event_id").is_not_null())
    event_cause = (
        causes.with_columns(
            pl.col("_c_rule").replace_strict(RULE_RANK, default=len(RULE_RANK)).alias("_rank")
        )
        .sort("event_id", "_rank", "_c_table", "_c_key")
        .unique("event_id", keep="first", maintain_order=True)
        .drop("_rank")
    )
    bad_events = event_cause["event_id"].implode()

    quarantine_parts: list[pl.DataFrame] = []
    for name in ROW_TABLES:
        bad = faulty(name, tables[name])
        if bad.height == 0:
            continue
        msgs = {
            (r, col): message_for(name, r, col)
            for r, col in bad.select("rule", "column").unique().iter_rows()
        }
        message_table = pl.DataFrame(
            {"rule": [k[0] for k in msgs], "column": [k[1] for k in msgs], "message": list(msgs.values())},
            schema={"rule": pl.String, "column": pl.String, "message": pl.String},
        )
        quarantine_parts.append(
            bad.join(message_table, on=["rule", "column"], how="left", nulls_equal=True).select(
                pl.lit(name).alias("table"),
                _key_expr(name).alias("key"),
                (pl.col("event_id") if "event_id" in bad.columns else pl.lit(None, pl.String)).alias(
                    "event_id"
                ),
                "rule",
                "message",
                ROW,
            )
        )
    for name, frame in (("distributions", d), ("contracts", c)):
        held = frame.join(faults[name].select(ROW), on=ROW, how="anti").join(
            event_cause, on="event_id", how="inner"
        )
        quarantine_parts.append(
            held.select(
                pl.lit(name).alias("table"),
                _key_expr(name).alias("key"),
                "event_id",
                pl.lit("event_quarantined").alias("rule"),
                pl.format(
                    "held back with its event: {} {} broke rule '{}'", "_c_table", "_c_key", "_c_rule"
                ).alias("message"),
                ROW,
            )
        )
    table_rank = {n: i for i, n in enumerate(ROW_TABLES)}
    quarantine = (
        pl.concat(quarantine_parts)
        .with_columns(pl.col("table").replace_strict(table_rank).alias("_t"))
        .sort("_t", ROW)
        .select(list(QUARANTINE_SCHEMA))
        if quarantine_parts
        else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )

    clean = dict(tables)
    clean["distributions"] = d.join(faults["distributions"].select(ROW), on=ROW, how="anti").filter(
        ~pl.col("event_id").is_in(bad_events)
    )
    clean["contracts"] = c.filter(pl.col("event_id").is_in(clean["distributions"]["event_id"].implode()))
    for name in ("plans", "payees", "participants"):
        clean[name] = tables[name].join(faults[name].select(ROW), on=ROW, how="anti")
    return Validated(tables=clean, quarantine=quarantine)
