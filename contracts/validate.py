"""Validate an extract: every input row ends in the clean tables or in quarantine, exactly once.

A row that breaks a rule takes its whole event into quarantine (``docs/spec/outputs.md``): the
offending row under the first rule it breaks, the other rows of the event under
``event_quarantined``. Faulty rows of plans, payees and participants take every event that depends
on them.

The cross-table rules hash each key column once: every disbursement is matched with the row number
of its participant, plan, payee and contract row (:func:`transforms.kernels.lookup.row_of`), and every event gets a number
(``_eid``, :func:`_dense_id`); the rules and the quarantine of whole events then work on those
integers.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce

import polars as pl

from contracts.extract import TABLES
from contracts.loading import ROW
from contracts.rules import RULE_RANK, message_for
from contracts.schemas import failures
from transforms.kernels.lookup import row_of
from transforms.kernels.runs import sum_over_runs
from transforms.law.params import TaxParameters

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
MIXED_COLUMNS = ("participant_id", "payee_id", "plan_id", "payment_date")


@dataclass(frozen=True)
class Validated:
    """Clean rows of every table, and the quarantine (``docs/spec/outputs.md`` layout)."""

    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame


def _key_expr(table: str) -> pl.Expr:
    key = TABLES[table].key
    return pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in key], separator="|")


def _failing(frame: pl.DataFrame, checks: dict[str, pl.Expr]) -> pl.DataFrame:
    """(_row, rule) for every row where a check expression is False."""
    flags = frame.select(ROW, *[(~e.fill_null(True)).alias(name) for name, e in checks.items()])
    flags = flags.filter(pl.any_horizontal(*checks))  # the rows that break a rule
    parts = [flags.filter(pl.col(name)).select(ROW, pl.lit(name).alias("rule")) for name in checks]
    return pl.concat(parts)


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


def _dense_id(values: pl.Series) -> pl.Series:
    """Integers 0, 1, ... numbering the distinct values of a column in order of first appearance
    (null counts as a value): one pass over a sorted column, one hash group-by otherwise."""
    if values.is_sorted():
        return values.rle_id()
    frame = values.to_frame("_k").with_row_index("_i")
    numbered = frame.group_by("_k", maintain_order=True).agg("_i").with_row_index("_id")
    return numbered.explode("_i").sort("_i").get_column("_id")


def _event_mixed(d: pl.DataFrame, eid: pl.Series) -> pl.Series:
    """Per disbursement: the rows of its event do not share one participant, payee, plan and payment
    date (null counts as a value). The event's rows are compared one after the other, in event
    order (each row with the one before, on zero-copy slices); rows without an event_id are never
    mixed."""
    order = None if eid.is_sorted() else eid.arg_sort()
    ids = eid if order is None else eid.gather(order)
    n = ids.len()
    if n == 0:
        return pl.Series("_mixed", [], pl.Boolean)
    same_event = ids.slice(1).eq(ids.slice(0, n - 1)).fill_null(False)
    steps = []
    for name in MIXED_COLUMNS:
        col = d.get_column(name) if order is None else d.get_column(name).gather(order)
        steps.append(col.slice(1).ne_missing(col.slice(0, n - 1)))
    differs = pl.Series("_d", [False], pl.Boolean).append(reduce(operator.or_, steps) & same_event)
    mixed = (
        pl.DataFrame({"_eid": ids, "_d": differs})
        .select(pl.col("_d").any().over(pl.col("_eid").set_sorted()))
        .to_series()
    )
    if order is not None:
        mixed = mixed.clone().scatter(order, mixed)
    return mixed & d.get_column("event_id").is_not_null()


@dataclass(frozen=True)
class _Keys:
    """Integer keys of the cross-table rules, kept for the quarantine of whole events."""

    d_event: pl.Series  # per disbursement, its event number (0 .. events - 1)
    c_event: pl.Series  # per contract row, the number of its event among the disbursements, or null
    events: int


def _cross_table(t: dict[str, pl.DataFrame], tax_year: int) -> tuple[dict[str, pl.DataFrame], _Keys]:
    """The cross-table rules of docs/spec/extract.md: (_row, rule) failures of distributions, contracts and
    participants."""
    d, c = t["distributions"], t["contracts"]
    parts, plans, payees, contract_rows = t["participants"], t["plans"], t["payees"], c
    part = row_of(d, parts, ["participant_id"])
    plan = row_of(d, plans, ["plan_id"])
    payee = row_of(d, payees, ["payee_id"])
    crow = row_of(d, c, ["event_id", "contract"])
    own = row_of(parts, payees, ["payee_id"])

    facts = pl.DataFrame(
        {
            "_p_plan": parts.get_column("plan_id").gather(part),
            "_p_roth": parts.get_column("roth_first_year").gather(part),
            "_p_dob": payees.get_column("date_of_birth").gather(own).gather(part),
            "_plan_type": plans.get_column("plan_type").gather(plan),
            "_sep": plans.get_column("after_tax_separately_accounted").gather(plan),
            "_known_payee": payee.is_not_null(),
            "_value": contract_rows.get_column("value_cents").gather(crow),
            "_c_basis": contract_rows.get_column("basis_cents").gather(crow),
            "_crow": crow,
        }
    )
    eid = _dense_id(d.get_column("event_id")).cast(pl.UInt32)
    eid = pl.select(pl.when(d.get_column("event_id").is_not_null()).then(eid)).to_series().alias("_eid")
    # Int128: two legs of 6·10^18 cents add up beyond Int64 and would wrap negative (and pass).
    draw = pl.col("amount_cents").cast(pl.Int128)
    if not crow.null_count() and crow.is_sorted():  # each contract row's disbursements are one run
        draw = sum_over_runs(draw, pl.col("_crow").rle_id())
    else:
        draw = draw.sum().over("_crow")
    dx = pl.concat([d, facts, eid.to_frame()], how="horizontal").with_columns(
        draw.alias("_draw"),
        pl.col("_p_plan").is_not_null().alias("_known_part"),
        _event_mixed(d, eid).alias("_mixed"),
    )
    dest, contract, reason = pl.col("destination"), pl.col("contract"), pl.col("reason")
    corrective = reason == "corrective"
    alone = (
        pl.len().over("_eid") == 1  # one window, only when the extract has corrective legs
        if d.get_column("reason").eq("corrective").any()
        else pl.lit(True)
    )
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
        "corrective_not_alone": ~corrective | pl.col("_eid").is_null() | alone,
        "corrective_basis_above_contract_basis": ~corrective
        | pl.col("_c_basis").is_null()
        | (pl.col("corrective_basis_cents") <= pl.col("_c_basis")),
        "participant_birth_date_missing": ~pl.col("_known_part") | pl.col("_p_dob").is_not_null(),
    }

    # The event facts the contract rows read: those of the event's first disbursement.
    first = dx.select("event_id", "_plan_type", "_sep", "_p_roth").filter(eid.is_first_distinct())
    # event numbers follow first appearance, so row k of ``first`` is event k (the null event, if
    # any, has its own row and no number)
    c_event = row_of(c, first, ["event_id"])
    cx = c.with_columns(
        first.get_column(name).gather(c_event) for name in ("_plan_type", "_sep", "_p_roth")
    ).with_columns(c_event.is_not_null().alias("_has_event"))
    # a contract row of no disbursement's event is an orphan, and only that: the other rules read
    # its event's facts (an empty distributions table leaves every contract row an orphan)
    orphan = ~pl.col("_has_event").fill_null(False)
    c_checks = {
        "orphan_contract_row": ~orphan,
        "after_tax_not_separately_accounted": orphan
        | (pl.col("contract") != "after_tax")
        | pl.col("_sep").fill_null(True),
        "govt_457b_after_tax": orphan
        | (pl.col("_plan_type") != "457b_governmental")
        | ((pl.col("contract") == "roth") | (pl.col("basis_cents") == 0))
        & (pl.col("contract") != "after_tax"),
        "roth_without_first_year": orphan | (pl.col("contract") != "roth") | pl.col("_p_roth").is_not_null(),
    }

    p_checks = {
        "unknown_plan": pl.col("plan_id").is_in(t["plans"]["plan_id"].implode()),
        "unknown_payee": (pl.when(pl.col("payee_id").is_not_null()).then(own.is_not_null())),
        "roth_first_year_invalid": pl.col("roth_first_year").is_between(
            TaxParameters.for_year(tax_year).designated_roth_first_year, tax_year
        ),
    }
    fails = {
        "distributions": _failing(dx, d_checks),
        "contracts": _failing(cx, c_checks),
        "participants": _failing(t["participants"], p_checks),
    }
    return fails, _Keys(eid, c_event.cast(pl.UInt32), first.height)


def validate(tables: dict[str, pl.DataFrame], tax_year: int, keep_row: bool = False) -> Validated:
    """Split every table into clean rows and quarantine rows (``keep_row``: the quarantine keeps
    ``_row``, the input row, for merging the quarantines of partitions, :mod:`flows.io.extract`)."""
    faults: dict[str, pl.DataFrame] = {}
    cross, keys = _cross_table(tables, tax_year)
    for name in ROW_TABLES:
        parts = [failures(name, tables[name])]
        if name in cross:
            parts.append(cross[name].with_columns(pl.lit(None, pl.String).alias("column")))
        faults[name] = _first(pl.concat(parts))

    d, c = tables["distributions"], tables["contracts"]
    d = d.with_columns(keys.d_event.alias("_eid"))
    c = c.with_columns(keys.c_event.alias("_eid"))
    framed = {**tables, "distributions": d, "contracts": c}

    def rows_matching(frame: pl.DataFrame, ref: pl.DataFrame, on: str) -> pl.DataFrame:
        """``frame.join(ref, on=on)`` for a small ``ref``: the few matching rows first, then the join."""
        return frame.filter(pl.col(on).is_in(ref.get_column(on).implode())).join(ref, on=on, how="inner")

    bad = {name: rows_matching(framed[name], faults[name], ROW) for name in ROW_TABLES}
    bad_payees = bad["payees"]
    own_payee_bad = tables["participants"].filter(pl.col("payee_id").is_in(bad_payees["payee_id"].implode()))

    def cause(frame: pl.DataFrame, table: str) -> pl.DataFrame:
        return frame.select(
            "_eid",
            pl.lit(table).alias("_c_table"),
            _key_expr(table).alias("_c_key"),
            pl.col("rule").alias("_c_rule"),
        )

    def events_via(column: str, bad_rows: pl.DataFrame, table: str, key_col: str) -> pl.DataFrame:
        ref = bad_rows.select(
            pl.col(key_col).alias(column), _key_expr(table).alias("_c_key"), pl.col("rule").alias("_c_rule")
        )
        return rows_matching(d, ref, column).select(
            "_eid", pl.lit(table).alias("_c_table"), "_c_key", "_c_rule"
        )

    own = own_payee_bad.join(bad_payees.select("payee_id", "rule"), on="payee_id").select(
        "participant_id",
        pl.lit("payees").alias("_c_table"),
        pl.col("payee_id").alias("_c_key"),
        pl.col("rule").alias("_c_rule"),
    )
    causes = pl.concat(
        [
            cause(bad["distributions"].filter(pl.col("event_id").is_not_null()), "distributions"),
            cause(bad["contracts"].filter(pl.col("rule") != "orphan_contract_row"), "contracts"),
            events_via("payee_id", bad_payees, "payees", "payee_id"),
            events_via("plan_id", bad["plans"], "plans", "plan_id"),
            events_via("participant_id", bad["participants"], "participants", "participant_id"),
            rows_matching(d, own, "participant_id").select("_eid", "_c_table", "_c_key", "_c_rule"),
        ]
    ).filter(pl.col("_eid").is_not_null())
    event_cause = (
        causes.with_columns(
            pl.col("_c_rule").replace_strict(RULE_RANK, default=len(RULE_RANK)).alias("_rank")
        )
        .sort("_eid", "_rank", "_c_table", "_c_key")
        .unique("_eid", keep="first", maintain_order=True)
        .drop("_rank")
    )
    bad_event = (
        pl.Series("_bad", [False], pl.Boolean)
        .extend_constant(False, keys.events - 1)
        .scatter(event_cause.get_column("_eid"), True)
        if keys.events
        else pl.Series("_bad", [], pl.Boolean)
    )

    def faulty(frame: pl.DataFrame, name: str) -> pl.Series:
        return frame.get_column(ROW).is_in(faults[name].get_column(ROW).implode())

    quarantine_parts: list[pl.DataFrame] = []
    for name in ROW_TABLES:
        rows = bad[name]
        if rows.height == 0:
            continue
        msgs = {
            (r, col): message_for(name, r, col)
            for r, col in rows.select("rule", "column").unique().iter_rows()
        }
        message_table = pl.DataFrame(
            {"rule": [k[0] for k in msgs], "column": [k[1] for k in msgs], "message": list(msgs.values())},
            schema={"rule": pl.String, "column": pl.String, "message": pl.String},
        )
        quarantine_parts.append(
            rows.join(message_table, on=["rule", "column"], how="left", nulls_equal=True).select(
                pl.lit(name).alias("table"),
                _key_expr(name).alias("key"),
                (pl.col("event_id") if "event_id" in rows.columns else pl.lit(None, pl.String)).alias(
                    "event_id"
                ),
                "rule",
                "message",
                ROW,
            )
        )
    faulty_rows: dict[str, pl.Series] = {}
    for name, frame in (("distributions", d), ("contracts", c)):
        faulty_rows[name] = faulty(frame, name)
        in_bad_event = bad_event.gather(frame.get_column("_eid")).fill_null(False)
        held = frame.filter(in_bad_event & ~faulty_rows[name]).join(event_cause, on="_eid", how="inner")
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
        .select(*QUARANTINE_SCHEMA, *([ROW] if keep_row else []))
        if quarantine_parts
        else pl.DataFrame(schema={**QUARANTINE_SCHEMA, **({ROW: pl.UInt32} if keep_row else {})})
    )

    clean = dict(tables)
    keep_d = ~faulty_rows["distributions"] & ~bad_event.gather(keys.d_event).fill_null(True)
    clean["distributions"] = (
        tables["distributions"] if keep_d.all() else tables["distributions"].filter(keep_d)
    )
    clean_event = (
        pl.Series("_clean", [False], pl.Boolean)
        .extend_constant(False, keys.events - 1)
        .scatter(keys.d_event.filter(keep_d), True)
        if keys.events
        else pl.Series("_clean", [], pl.Boolean)
    )
    keep_c = clean_event.gather(keys.c_event).fill_null(False)
    clean["contracts"] = tables["contracts"] if keep_c.all() else tables["contracts"].filter(keep_c)
    for name in ("plans", "payees", "participants"):
        if faults[name].height:
            clean[name] = tables[name].join(
                faults[name].select(ROW), on=ROW, how="anti", maintain_order="left"
            )
    return Validated(tables=clean, quarantine=quarantine)
