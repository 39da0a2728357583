"""Plan-sponsor reconciliation: the extract against the trustee's control totals, the forms against
the disbursements, box 4 against the Form 945 tie-out — and every break traced to the
disbursements behind it.

Pure polars, no I/O. :func:`reconcile` takes the extract's tables (as read, quarantined rows
included) and a run's outputs (``distributions``, ``forms``, ``quarantine``, ``tieout_945``) and
returns two frames:

- ``checks`` (``reconciliation.parquet``): one row per check, scope (plan, month) and measure, with
  the expected and actual values and their difference, the part of the extract that was reported
  and the part quarantined, a status (``ok``, ``break``, ``no_control_totals``) and a break id;
- ``trace`` (``reconciliation_breaks.parquet``): break id → the disbursements behind it (ids and
  amounts only: no TIN, name, address or birth date is ever selected).

The checks (``difference = actual − expected``):

``extract_vs_control``  per plan and month of ``payment_date`` (docs/spec/extract.md, control_totals): the
    extract's gross, federal withholding and count (every row, quarantined ones included: they
    left the trust all the same) against what the trustee reports. Without control totals the rows
    say ``no_control_totals`` and nothing breaks.
``extract_vs_outputs``  per plan: every extract disbursement is in the output or in quarantine
    exactly once (docs/spec/outputs.md) — extract gross = reported + quarantined. Traced to the
    disbursements missing, doubled, unknown to the extract, or reported with another amount.
``forms_vs_disbursements``  per plan: Σ box 1 and Σ box 4 of ``forms.parquet`` against the
    reported disbursements on those forms (box 1 from the output amounts, box 4 from the extract's
    ``federal_withholding_cents``: the output has no withholding column). Compared form by form,
    so a break is traced to the disbursements of the forms that differ.
``box4_vs_945``  per payer EIN and month: the 945 tie-out (``tieout_945.parquet``: box 4 per
    payer and month, IRC §3405, Form 945 instructions) against the withholding of the reported
    disbursements; and for the year, Σ box 4 of the forms against Σ of the tie-out. Plans that share
    a payer EIN are reconciled together; their ``plan_id`` is the plans joined with ``+`` (the EIN
    itself is never written).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

CHECKS = ("extract_vs_control", "extract_vs_outputs", "forms_vs_disbursements", "box4_vs_945")
MEASURES = ("gross_cents", "federal_withholding_cents", "disbursement_count", "box1_cents", "box4_cents")

CHECK_SCHEMA: dict[str, pl.DataType] = {
    "check": pl.String,
    "plan_id": pl.String,
    "month": pl.Date,
    "measure": pl.String,
    "expected": pl.Int64,
    "actual": pl.Int64,
    "difference": pl.Int64,
    "reported": pl.Int64,
    "quarantined": pl.Int64,
    "explained_by_quarantine": pl.Boolean,
    "status": pl.String,
    "break_id": pl.String,
}
TRACE_SCHEMA: dict[str, pl.DataType] = {
    "break_id": pl.String,
    "check": pl.String,
    "plan_id": pl.String,
    "month": pl.Date,
    "distribution_id": pl.String,
    "event_id": pl.String,
    "form_id": pl.String,
    "disposition": pl.String,
    "amount_cents": pl.Int64,
    "federal_withholding_cents": pl.Int64,
    "reported_amount_cents": pl.Int64,
}
# What the trace may carry: ids and amounts. A test checks that no other column appears.
TRACE_COLUMNS = tuple(TRACE_SCHEMA)

OK, BREAK, NO_CONTROL = "ok", "break", "no_control_totals"


@dataclass
class Reconciliation:
    checks: pl.DataFrame
    trace: pl.DataFrame
    has_control_totals: bool

    @property
    def breaks(self) -> pl.DataFrame:
        return self.checks.filter(pl.col("status") == BREAK)

    def summary(self) -> dict:
        """Counts only: plans, checks, breaks by check, traced disbursements."""
        b = self.breaks
        counts = b.group_by("check").agg(pl.col("break_id").n_unique().alias("n"))
        by_check = dict.fromkeys(CHECKS, 0)
        by_check.update(zip(counts["check"].to_list(), counts["n"].to_list(), strict=True))
        plans = self.checks.filter(pl.col("check") != "box4_vs_945")["plan_id"].drop_nulls().unique()
        return {
            "control_totals": self.has_control_totals,
            "plans": plans.len(),
            "check_rows": self.checks.height,
            "breaks": int(b["break_id"].n_unique()),
            "break_rows": b.height,
            "breaks_by_check": by_check,
            "traced_disbursements": self.trace.height,
        }


# ---- the extract side --------------------------------------------------------------------------


def month_of(date: pl.Expr) -> pl.Expr:
    """The month a disbursement counts in: the first day of its ``payment_date``'s month
    (docs/spec/extract.md, control_totals ``month``; Form 945 deposits are by payment date)."""
    return date.dt.truncate("1mo")


def extract_disbursements(distributions: pl.DataFrame) -> pl.DataFrame:
    """The extract's disbursements reduced to ids, plan, month and amounts, in input order."""
    d = distributions
    if "_row" not in d.columns:
        d = d.with_row_index("_row")
    return d.select(
        pl.col("_row").cast(pl.Int64),
        pl.col("distribution_id").cast(pl.String),
        pl.col("event_id").cast(pl.String),
        pl.col("plan_id").cast(pl.String),
        month_of(pl.col("payment_date")).alias("month"),
        pl.col("amount_cents").cast(pl.Int64),
        pl.col("federal_withholding_cents").cast(pl.Int64),
    )


def dispositions(ext: pl.DataFrame, out: pl.DataFrame, quarantine: pl.DataFrame) -> pl.DataFrame:
    """Each extract disbursement's fate in the run (docs/spec/outputs.md: in the output or in quarantine,
    exactly once): ``reported``, ``quarantined``, ``unaccounted`` (neither) or ``ambiguous``
    (more than once, or both). Reported rows get their output ``form_id``, ``plan_id`` and amount."""
    id_ = "distribution_id"
    q = quarantine.filter(pl.col("table") == "distributions").select(pl.col("key").alias(id_))
    # one pass over every id of the three sides: how often each side has it
    src = pl.col("_src")
    counts = (
        pl.concat(
            [
                ext.select(id_, pl.lit(0, pl.Int8).alias("_src")),
                out.select(id_, pl.lit(1, pl.Int8).alias("_src")),
                q.select(id_, pl.lit(2, pl.Int8).alias("_src")),
            ]
        )
        .group_by(id_)
        .agg(
            (src == 0).sum().alias("n_ext"),
            (src == 1).sum().alias("n_out"),
            (src == 2).sum().alias("n_q"),
        )
        .filter(pl.col("n_ext") > 0)
    )
    disposition = (
        pl.when((pl.col("n_ext") == 1) & (pl.col("n_out") == 1) & (pl.col("n_q") == 0))
        .then(pl.lit("reported"))
        .when((pl.col("n_out") == 0) & (pl.col("n_q") == pl.col("n_ext")))
        .then(pl.lit("quarantined"))
        .when((pl.col("n_out") == 0) & (pl.col("n_q") == 0))
        .then(pl.lit("unaccounted"))
        .otherwise(pl.lit("ambiguous"))
    )
    # output columns only for ids reported exactly once (so the join below cannot add rows)
    reported = counts.filter(disposition == "reported").select(id_)
    one_out = out.join(reported, on=id_, how="semi").select(
        id_,
        pl.col("plan_id").alias("out_plan_id"),
        pl.col("form_id"),
        pl.col("amount_cents").alias("reported_amount_cents"),
    )
    return ext.join(
        counts.select(id_, disposition.alias("disposition")),
        on=id_,
        how="left",
        nulls_equal=True,
        maintain_order="left",
    ).join(one_out, on=id_, how="left", nulls_equal=True, maintain_order="left")


def outputs_not_in_extract(ext: pl.DataFrame, out: pl.DataFrame) -> pl.DataFrame:
    """Output disbursements whose id the extract does not have (a run of another extract)."""
    return out.join(ext, on="distribution_id", how="anti", nulls_equal=True).select(
        "distribution_id",
        "event_id",
        "plan_id",
        "form_id",
        pl.col("amount_cents").alias("reported_amount_cents"),
    )


# ---- helpers -------------------------------------------------------------------------------------


def _long(
    wide: pl.DataFrame,
    check: str,
    keys: list[str],
    measures: dict[str, tuple[str, str, str | None, str | None]],
) -> pl.DataFrame:
    """Wide per-scope sums → one row per measure: ``measures[name] = (expected, actual, reported,
    quarantined)`` column names (None → null)."""
    parts = []
    for measure, (exp, act, rep, qua) in measures.items():
        parts.append(
            wide.select(
                pl.lit(check).alias("check"),
                pl.col("plan_id") if "plan_id" in keys else pl.lit(None, pl.String).alias("plan_id"),
                pl.col("month") if "month" in keys else pl.lit(None, pl.Date).alias("month"),
                pl.lit(measure).alias("measure"),
                pl.col(exp).cast(pl.Int64).alias("expected"),
                pl.col(act).cast(pl.Int64).alias("actual"),
                (pl.col(rep).cast(pl.Int64) if rep else pl.lit(None, pl.Int64)).alias("reported"),
                (pl.col(qua).cast(pl.Int64) if qua else pl.lit(None, pl.Int64)).alias("quarantined"),
            )
        )
    frame = pl.concat(parts)
    diff = pl.col("actual") - pl.col("expected")
    return frame.with_columns(
        diff.alias("difference"),
        pl.when(diff != 0)
        .then(pl.col("quarantined").fill_null(0) == diff)
        .otherwise(False)
        .alias("explained_by_quarantine"),
        pl.when(pl.col("expected").is_null())
        .then(pl.lit(NO_CONTROL))
        .when(diff != 0)
        .then(pl.lit(BREAK))
        .otherwise(pl.lit(OK))
        .alias("status"),
    )


def break_id(check: pl.Expr, plan: pl.Expr, month: pl.Expr) -> pl.Expr:
    """A readable, stable break id: ``check/plan/YYYY-MM`` — ``year`` for a whole-year scope,
    ``no-date`` for extract rows without a payment date; ``?`` for rows without a plan."""
    no_month = pl.when(check == "extract_vs_control").then(pl.lit("no-date")).otherwise(pl.lit("year"))
    return pl.concat_str(
        [check, plan.fill_null("?"), month.dt.strftime("%Y-%m").fill_null(no_month)],
        separator="/",
    )


def _with_break_ids(rows: pl.DataFrame) -> pl.DataFrame:
    """Every row of a scope that has at least one breaking measure shares that scope's break id."""
    scope_breaks = pl.col("status").eq(BREAK).any().over("check", "plan_id", "month")
    return rows.with_columns(
        pl.when(scope_breaks)
        .then(break_id(pl.col("check"), pl.col("plan_id"), pl.col("month")))
        .otherwise(None)
        .alias("break_id")
    )


def _trace_rows(frame: pl.DataFrame, check: str) -> pl.DataFrame:
    """Trace rows in the trace schema (missing columns null)."""
    cols = []
    for name, dtype in TRACE_SCHEMA.items():
        if name == "check":
            cols.append(pl.lit(check).alias("check"))
        elif name in frame.columns:
            cols.append(pl.col(name).cast(dtype))
        else:
            cols.append(pl.lit(None, dtype).alias(name))
    return frame.select(cols)


# ---- the checks ----------------------------------------------------------------------------------


def control_totals_check(disp: pl.DataFrame, control: pl.DataFrame | None) -> pl.DataFrame:
    """``extract_vs_control``: per plan and month, the extract's gross, federal withholding and
    count against ``control_totals.parquet`` (docs/spec/extract.md: what the trustee says left the trust).
    Every extract row counts — quarantined ones were paid all the same; the reported and
    quarantined parts are shown beside it. A plan-month on one side only compares with 0; a plan
    without any control total (another recordkeeper's, say) is ``no_control_totals``."""
    keys = ["plan_id", "month"]
    is_q = pl.col("disposition") == "quarantined"
    is_r = pl.col("disposition") == "reported"
    ext = disp.group_by(keys).agg(
        pl.col("amount_cents").sum().alias("x_gross"),
        pl.col("federal_withholding_cents").sum().alias("x_fwh"),
        pl.len().cast(pl.Int64).alias("x_n"),
        pl.col("amount_cents").filter(is_r).sum().alias("r_gross"),
        pl.col("federal_withholding_cents").filter(is_r).sum().alias("r_fwh"),
        is_r.sum().cast(pl.Int64).alias("r_n"),
        pl.col("amount_cents").filter(is_q).sum().alias("q_gross"),
        pl.col("federal_withholding_cents").filter(is_q).sum().alias("q_fwh"),
        is_q.sum().cast(pl.Int64).alias("q_n"),
    )
    if control is None:
        wide = ext.with_columns(pl.lit(None, pl.Int64).alias(c) for c in ("c_gross", "c_fwh", "c_n"))
    else:
        c = (
            control.select(
                pl.col("plan_id").cast(pl.String),
                pl.col("month").dt.truncate("1mo"),
                pl.col("gross_cents").cast(pl.Int64),
                pl.col("federal_withholding_cents").cast(pl.Int64),
                pl.col("disbursement_count").cast(pl.Int64),
            )
            .group_by(keys)
            .agg(
                pl.col("gross_cents").sum().alias("c_gross"),
                pl.col("federal_withholding_cents").sum().alias("c_fwh"),
                pl.col("disbursement_count").sum().alias("c_n"),
            )
        )
        control_cols = ["c_gross", "c_fwh", "c_n"]
        covered = c.select("plan_id").unique().with_columns(pl.lit(True).alias("_covered"))
        wide = (
            ext.join(c, on=keys, how="full", coalesce=True, nulls_equal=True)
            .join(covered, on="plan_id", how="left")
            .with_columns(
                pl.exclude(*keys, *control_cols, "_covered").fill_null(0),
                # a plan with no control total at all says so; a missing month of a plan that has
                # control totals compares with 0
                *(pl.when(pl.col("_covered")).then(pl.col(cc).fill_null(0)).alias(cc) for cc in control_cols),
            )
            .drop("_covered")
        )
    return _long(
        wide,
        "extract_vs_control",
        keys,
        {
            "gross_cents": ("c_gross", "x_gross", "r_gross", "q_gross"),
            "federal_withholding_cents": ("c_fwh", "x_fwh", "r_fwh", "q_fwh"),
            "disbursement_count": ("c_n", "x_n", "r_n", "q_n"),
        },
    )


def control_totals_trace(disp: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """A plan-month break → every extract disbursement of that plan and month."""
    b = rows.filter(pl.col("break_id").is_not_null()).select("plan_id", "month", "break_id").unique()
    return _trace_rows(disp.join(b, on=["plan_id", "month"], nulls_equal=True), "extract_vs_control")


def conservation_check(disp: pl.DataFrame, extra: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``extract_vs_outputs``: per plan, extract = reported + quarantined (docs/spec/outputs.md: every input
    disbursement in the output or in quarantine exactly once). Reported amounts are the output's,
    so a disbursement reported with another amount breaks too. Returns (rows, trace)."""
    rep = pl.col("disposition") == "reported"
    is_q = pl.col("disposition") == "quarantined"
    ext = disp.group_by("plan_id").agg(
        pl.col("amount_cents").sum().alias("x_gross"),
        pl.col("federal_withholding_cents").sum().alias("x_fwh"),
        pl.len().cast(pl.Int64).alias("x_n"),
        pl.col("amount_cents").filter(is_q).sum().alias("q_gross"),
        pl.col("federal_withholding_cents").filter(is_q).sum().alias("q_fwh"),
        is_q.sum().cast(pl.Int64).alias("q_n"),
    )
    # the output side, by the output's plan: reported rows plus ids the extract does not know
    reported = pl.concat(
        [
            disp.filter(rep).select(
                pl.col("out_plan_id").alias("plan_id"),
                "reported_amount_cents",
                "federal_withholding_cents",
            ),
            extra.select(
                "plan_id", "reported_amount_cents", pl.lit(0, pl.Int64).alias("federal_withholding_cents")
            ),
        ]
    )
    out = reported.group_by("plan_id").agg(
        pl.col("reported_amount_cents").sum().alias("r_gross"),
        pl.col("federal_withholding_cents").sum().alias("r_fwh"),
        pl.len().cast(pl.Int64).alias("r_n"),
    )
    wide = (
        ext.join(out, on="plan_id", how="full", coalesce=True, nulls_equal=True)
        .with_columns(pl.exclude("plan_id").fill_null(0))
        .with_columns(
            (pl.col("r_gross") + pl.col("q_gross")).alias("a_gross"),
            (pl.col("r_fwh") + pl.col("q_fwh")).alias("a_fwh"),
            (pl.col("r_n") + pl.col("q_n")).alias("a_n"),
        )
    )
    rows = _with_break_ids(
        _long(
            wide,
            "extract_vs_outputs",
            ["plan_id"],
            {
                "gross_cents": ("x_gross", "a_gross", "r_gross", "q_gross"),
                "federal_withholding_cents": ("x_fwh", "a_fwh", "r_fwh", "q_fwh"),
                "disbursement_count": ("x_n", "a_n", "r_n", "q_n"),
            },
        )
    )
    suspect = disp.filter(
        pl.col("disposition").is_in(["unaccounted", "ambiguous"])
        | (rep & (pl.col("reported_amount_cents") != pl.col("amount_cents")))
        | (rep & (pl.col("out_plan_id") != pl.col("plan_id")))
    )
    suspect = pl.concat(
        [
            _trace_rows(suspect, "extract_vs_outputs"),
            _trace_rows(
                extra.with_columns(pl.lit("not_in_extract").alias("disposition")), "extract_vs_outputs"
            ),
        ]
    )
    b = rows.filter(pl.col("break_id").is_not_null()).select("plan_id", "break_id").unique()
    trace = suspect.drop("break_id").join(b, on="plan_id", nulls_equal=True).select(TRACE_COLUMNS)
    return rows, trace


def forms_check(
    disp: pl.DataFrame, extra: pl.DataFrame, forms: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``forms_vs_disbursements``: per plan, Σ box 1 and Σ box 4 of the forms (docs/spec/outputs.md: sums
    over the form's disbursements) against the reported disbursements — box 1 from their output
    amounts, box 4 from their extract withholding. Compared form by form (a form without any
    disbursement breaks with nothing to trace); the plan's quarantined
    gross and withholding are shown beside (extract = reported + quarantined). Returns (rows, trace)."""
    on_forms = pl.concat(
        [
            disp.filter(pl.col("disposition") == "reported").select(
                "form_id",
                pl.col("out_plan_id").alias("plan_id"),
                "reported_amount_cents",
                "federal_withholding_cents",
            ),
            extra.select(
                "form_id",
                "plan_id",
                "reported_amount_cents",
                pl.lit(0, pl.Int64).alias("federal_withholding_cents"),
            ),
        ]
    )
    per_form = on_forms.group_by("form_id").agg(
        pl.col("plan_id").first(),
        pl.col("reported_amount_cents").sum().alias("d_box1"),
        pl.col("federal_withholding_cents").sum().alias("d_box4"),
    )
    f = forms.select(
        "form_id",
        pl.col("plan_id").alias("f_plan_id"),
        pl.col("box1_cents").cast(pl.Int64).alias("f_box1"),
        pl.col("box4_cents").cast(pl.Int64).alias("f_box4"),
    )
    both = (
        per_form.join(f, on="form_id", how="full", coalesce=True, nulls_equal=True)
        .with_columns(
            pl.coalesce("f_plan_id", "plan_id").alias("plan_id"),
            pl.col("d_box1", "d_box4", "f_box1", "f_box4").fill_null(0),
        )
        .with_columns(
            ((pl.col("d_box1") != pl.col("f_box1")) | (pl.col("d_box4") != pl.col("f_box4"))).alias("differs")
        )
    )
    is_q = pl.col("disposition") == "quarantined"
    q = (
        disp.filter(is_q)
        .group_by("plan_id")
        .agg(
            pl.col("amount_cents").sum().alias("q_gross"),
            pl.col("federal_withholding_cents").sum().alias("q_fwh"),
        )
    )
    wide = (
        both.group_by("plan_id")
        .agg(pl.col("d_box1", "d_box4", "f_box1", "f_box4").sum())
        .join(q, on="plan_id", how="full", coalesce=True, nulls_equal=True)
        .with_columns(pl.exclude("plan_id").fill_null(0))
    )
    rows = _with_break_ids(
        _long(
            wide,
            "forms_vs_disbursements",
            ["plan_id"],
            {
                "box1_cents": ("d_box1", "f_box1", "d_box1", "q_gross"),
                "box4_cents": ("d_box4", "f_box4", "d_box4", "q_fwh"),
            },
        )
    ).with_columns(pl.lit(False).alias("explained_by_quarantine"))
    bad_forms = both.filter("differs").select("form_id")
    behind = pl.concat(
        [
            disp.filter(pl.col("disposition") == "reported").with_columns(
                pl.col("out_plan_id").alias("plan_id")
            ),
            extra.with_columns(pl.lit("not_in_extract").alias("disposition")),
        ],
        how="diagonal_relaxed",
    ).join(bad_forms, on="form_id", how="semi")
    b = rows.filter(pl.col("break_id").is_not_null()).select("plan_id", "break_id").unique()
    trace = (
        _trace_rows(behind, "forms_vs_disbursements")
        .drop("break_id")
        .join(b, on="plan_id", nulls_equal=True)
        .select(TRACE_COLUMNS)
    )
    return rows, trace


def payer_groups(plans: pl.DataFrame) -> pl.DataFrame:
    """plan_id → the label of its payer EIN's group (the plans sharing the EIN joined with ``+``),
    so the 945 rows never carry the EIN itself."""
    p = plans.select(pl.col("plan_id").cast(pl.String), pl.col("payer_tin").cast(pl.String)).unique()
    label = p.group_by("payer_tin").agg(pl.col("plan_id").sort().str.join("+").alias("payer_group"))
    return p.join(label, on="payer_tin", nulls_equal=True)


def tieout_check(
    disp: pl.DataFrame, forms: pl.DataFrame, tieout: pl.DataFrame, plans: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``box4_vs_945``: per payer EIN and month, the Form 945 tie-out's box 4 (IRC §3405; Form 945
    instructions: deposits of withheld tax on nonpayroll payments) against the federal withholding
    of the disbursements reported in that month; for the year, Σ box 4 of the forms against Σ of
    the tie-out. Returns (rows, trace)."""
    groups = payer_groups(plans)
    rep = (
        disp.filter(pl.col("disposition") == "reported")
        .with_columns(pl.col("out_plan_id").alias("plan_id"))
        .join(
            groups.select("plan_id", "payer_tin", "payer_group"), on="plan_id", how="left", nulls_equal=True
        )
    )
    monthly_disb = rep.group_by("payer_tin", "month").agg(
        pl.col("federal_withholding_cents").sum().alias("d_box4"), pl.col("payer_group").first()
    )
    t = tieout.select(
        pl.col("payer_tin").cast(pl.String),
        pl.col("month").dt.truncate("1mo"),
        pl.col("box4_cents").cast(pl.Int64),
    )
    monthly = (
        monthly_disb.join(
            t.group_by("payer_tin", "month").agg(pl.col("box4_cents").sum().alias("t_box4")),
            on=["payer_tin", "month"],
            how="full",
            coalesce=True,
            nulls_equal=True,
        )
        .join(
            groups.select("payer_tin", pl.col("payer_group").alias("g2")).unique(), on="payer_tin", how="left"
        )
        .with_columns(
            pl.coalesce("payer_group", "g2").alias("plan_id"),
            pl.col("d_box4", "t_box4").fill_null(0),
        )
    )
    f = (
        forms.select(pl.col("payer_tin").cast(pl.String), pl.col("box4_cents").cast(pl.Int64))
        .group_by("payer_tin")
        .agg(pl.col("box4_cents").sum().alias("f_box4"))
    )
    yearly = (
        t.group_by("payer_tin")
        .agg(pl.col("box4_cents").sum().alias("t_box4"))
        .join(f, on="payer_tin", how="full", coalesce=True, nulls_equal=True)
        .join(
            groups.select("payer_tin", pl.col("payer_group").alias("plan_id")).unique(),
            on="payer_tin",
            how="left",
        )
        .with_columns(pl.col("t_box4", "f_box4").fill_null(0))
    )
    rows = _with_break_ids(
        pl.concat(
            [
                _long(
                    monthly,
                    "box4_vs_945",
                    ["plan_id", "month"],
                    {"box4_cents": ("t_box4", "d_box4", "d_box4", None)},
                ),
                _long(
                    yearly, "box4_vs_945", ["plan_id"], {"box4_cents": ("t_box4", "f_box4", "f_box4", None)}
                ),
            ]
        )
    )
    # monthly break → the reported disbursements of that payer and month;
    # year break → those of the payer's breaking months and of its forms whose box 4 differs
    mb = rows.filter(pl.col("break_id").is_not_null() & pl.col("month").is_not_null()).select(
        "plan_id", "month", "break_id"
    )
    monthly_trace = rep.drop("plan_id").rename({"payer_group": "plan_id"}).join(mb, on=["plan_id", "month"])
    yb = rows.filter(pl.col("break_id").is_not_null() & pl.col("month").is_null()).select(
        "plan_id", "break_id"
    )
    form_box4 = rep.group_by("form_id").agg(pl.col("federal_withholding_cents").sum().alias("d_box4"))
    bad_forms = (
        forms.select("form_id", pl.col("box4_cents").cast(pl.Int64))
        .join(form_box4, on="form_id", how="full", coalesce=True)
        .filter(pl.col("box4_cents").fill_null(0) != pl.col("d_box4").fill_null(0))
        .select("form_id")
    )
    in_bad = rep.join(bad_forms, on="form_id", how="semi")
    in_bad_month = rep.join(
        mb.select(pl.col("plan_id").alias("payer_group"), "month"), on=["payer_group", "month"], how="semi"
    )
    yearly_trace = (
        pl.concat([in_bad, in_bad_month])
        .unique("_row", keep="first")
        .drop("plan_id")
        .rename({"payer_group": "plan_id"})
        .join(yb, on="plan_id")
    )
    trace = pl.concat([_trace_rows(monthly_trace, "box4_vs_945"), _trace_rows(yearly_trace, "box4_vs_945")])
    return rows, trace


# ---- everything ----------------------------------------------------------------------------------


def reconcile(extract: dict[str, pl.DataFrame], outputs: dict[str, pl.DataFrame]) -> Reconciliation:
    """All four checks. ``extract``: the extract's tables as read (``distributions``, ``plans``,
    optional ``control_totals``); ``outputs``: a run's ``distributions``, ``forms``, ``quarantine``
    and ``tieout_945``. Rows sorted by check, plan, month, measure; the trace by break and
    disbursement — the same inputs give the same frames."""
    ext = extract_disbursements(extract["distributions"])
    out = outputs["distributions"].select(
        pl.col("distribution_id").cast(pl.String),
        pl.col("event_id").cast(pl.String),
        pl.col("plan_id").cast(pl.String),
        pl.col("form_id").cast(pl.String),
        pl.col("amount_cents").cast(pl.Int64),
    )
    disp = dispositions(ext, out, outputs["quarantine"])
    extra = outputs_not_in_extract(ext, out)
    control = extract.get("control_totals")
    plans = extract.get("plans")
    if plans is None or "payer_tin" not in plans.columns:  # the forms carry each plan's payer EIN too
        plans = outputs["forms"].select("plan_id", "payer_tin").unique()

    c_rows = _with_break_ids(control_totals_check(disp, control))
    c_trace = control_totals_trace(disp, c_rows)
    k_rows, k_trace = conservation_check(disp, extra)
    f_rows, f_trace = forms_check(disp, extra, outputs["forms"])
    t_rows, t_trace = tieout_check(disp, outputs["forms"], outputs["tieout_945"], plans)

    order = {name: i for i, name in enumerate(CHECKS)}
    checks = (
        pl.concat([r.select(list(CHECK_SCHEMA)) for r in (c_rows, k_rows, f_rows, t_rows)])
        .cast(CHECK_SCHEMA)
        .sort(
            pl.col("check").replace_strict(order, return_dtype=pl.Int32),
            "plan_id",
            "month",
            pl.col("measure").replace_strict({m: i for i, m in enumerate(MEASURES)}, return_dtype=pl.Int32),
            nulls_last=True,
        )
    )
    trace = (
        pl.concat([t.select(TRACE_COLUMNS).cast(TRACE_SCHEMA) for t in (c_trace, k_trace, f_trace, t_trace)])
        .unique(maintain_order=True)
        .sort("break_id", "distribution_id", "disposition", "amount_cents", nulls_last=True)
    )
    return Reconciliation(checks, trace, control is not None)
