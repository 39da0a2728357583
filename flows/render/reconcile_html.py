"""reconciliation.html: a self-contained page — inline CSS and one inline SVG chart per plan, no
script, no network. Only plan ids, months, break ids and amounts appear (never a TIN, name,
address or birth date). Built from sorted frames with integer arithmetic: same input, same bytes.
"""

from __future__ import annotations

from html import escape

import polars as pl

from transforms.kernels.dollars import dollars_text
from transforms.season.reconcile import BREAK, CHECKS, Reconciliation

MAX_BREAK_ROWS = 50  # per plan in the page; the CSV and Parquet hold them all

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2430;max-width:980px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-top:1px solid #ccd;padding-top:16px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ccd;padding:3px 8px;text-align:right}th{background:#eef1f6}
td.l,th.l{text-align:left}.ok{color:#1a7f37}.break{color:#c62828;font-weight:600}
.muted{color:#667}svg{display:block;margin:8px 0}
""".strip()

COLORS = {"reported": "#4a6fa5", "quarantined": "#e0a030", "control": "#1d2430", "break": "#c62828"}


def money(cents: int | None) -> str:
    """An amount in the report: ``$1,234.56`` (:func:`transforms.kernels.dollars.dollars_text`), ``-``
    for none."""
    return dollars_text(cents, none="-")


CHECK_WORDS = {
    "extract_vs_control": "extract against the trustee's control totals",
    "extract_vs_outputs": "every disbursement reported or quarantined exactly once",
    "forms_vs_disbursements": "forms against the disbursements on them",
    "box4_vs_945": "box 4 against the Form 945 tie-out",
}
MEASURE_WORDS = {
    "gross_cents": "gross paid",
    "federal_withholding_cents": "federal income tax withheld",
    "disbursement_count": "number of disbursements",
    "box1_cents": "box 1 (gross distribution)",
    "box4_cents": "box 4 (federal income tax withheld)",
}


def value(measure: str, v: int | None) -> str:
    if v is None:
        return "-"
    return f"{v:,}" if measure == "disbursement_count" else money(v)


def short_money(cents: int) -> str:
    """Axis labels: $0, $250k, $1.5M (integer arithmetic, no float formatting)."""
    d = cents // 100
    if d >= 1_000_000:
        whole, tenth = divmod(d // 100_000, 10)
        return f"${whole}.{tenth}M" if tenth else f"${whole}M"
    if d >= 1000:
        return f"${d // 1000}k"
    return f"${d}"


def nice_ceiling(cents: int) -> int:
    """The smallest 1, 2 or 5 × 10^k dollars ≥ ``cents`` (the chart's top), at least $1."""
    top = max(cents, 100)
    step = 100
    while True:
        for m in (1, 2, 5):
            if m * step >= top:
                return m * step
        step *= 10


def plan_chart(plan_id: str, months: pl.DataFrame, has_control: bool) -> str:
    """One SVG per plan: per month a bar of the extract's gross (reported part blue, quarantined
    part amber), the trustee's control total as a black tick, a red mark on a month that breaks."""
    width, height, left, right, top, bottom = 760, 260, 70, 16, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    rows = months.rows(named=True)
    highest = max([0] + [max(r["extract"] or 0, r["control"] or 0) for r in rows])
    ymax = nice_ceiling(highest)
    n = max(len(rows), 1)
    slot = plot_w // n
    bar = max(slot * 3 // 5, 2)

    def y(cents: int) -> int:
        return top + plot_h - (max(cents, 0) * plot_h) // ymax

    title = f"Plan {plan_id}: gross disbursed by month, extract against control totals"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plan-chart" data-plan="{escape(plan_id)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    steps = 5 if str(ymax).startswith("5") else 4  # gridlines at round amounts: 1, 2 or 5 × 10^k
    for i in range(steps + 1):
        v = ymax * i // steps
        yy = y(v)
        out.append(
            f'<line x1="{left}" y1="{yy}" x2="{width - right}" y2="{yy}" stroke="#dde" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{yy + 4}" font-size="11" text-anchor="end" fill="#556">{short_money(v)}</text>'
        )
    for i, r in enumerate(rows):
        x = left + i * slot + (slot - bar) // 2
        rep, qua = max(r["reported"] or 0, 0), max(r["quarantined"] or 0, 0)
        y_rep = y(rep)
        out.append(
            f'<rect x="{x}" y="{y_rep}" width="{bar}" height="{top + plot_h - y_rep}" fill="{COLORS["reported"]}"/>'
        )
        if qua:
            y_q = y(rep + qua)
            out.append(
                f'<rect x="{x}" y="{y_q}" width="{bar}" height="{y_rep - y_q}" fill="{COLORS["quarantined"]}"/>'
            )
        if has_control and r["control"] is not None:
            yc = y(r["control"])
            out.append(
                f'<line x1="{x - 3}" y1="{yc}" x2="{x + bar + 3}" y2="{yc}" stroke="{COLORS["control"]}" stroke-width="2"/>'
            )
        if r["breaks"]:
            cx = x + bar // 2
            out.append(f'<circle cx="{cx}" cy="{top - 12}" r="6" fill="{COLORS["break"]}"/>')
            out.append(
                f'<text x="{cx}" y="{top - 8}" font-size="10" text-anchor="middle" fill="#fff">!</text>'
            )
        label = r["month"].strftime("%b") if r["month"] is not None else "?"
        out.append(
            f'<text x="{x + bar // 2}" y="{height - bottom + 16}" font-size="11" text-anchor="middle" fill="#334">{label}</text>'
        )
    lx = left
    legend = [("reported", "reported"), ("quarantined", "quarantined")]
    if has_control:
        legend.append(("control", "control total"))
    legend.append(("break", "break"))
    for key, text in legend:
        out.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{COLORS[key]}"/>'
            f'<text x="{lx + 14}" y="{height - 5}" font-size="11" fill="#334">{text}</text>'
        )
        lx += 24 + 7 * len(text)
    out.append("</svg>")
    return "\n".join(out)


def _month_frame(pc: pl.DataFrame) -> pl.DataFrame:
    """Per month of one plan (``pc``: the plan's check rows): extract, reported, quarantined and
    control gross, and whether any check breaks in that month (945 groups count for each plan)."""
    gross = pc.filter(
        (pl.col("check") == "extract_vs_control") & (pl.col("measure") == "gross_cents")
    ).select(
        "month",
        pl.col("actual").alias("extract"),
        "reported",
        "quarantined",
        pl.col("expected").alias("control"),
    )
    broken = (
        pc.filter((pl.col("status") == BREAK) & pl.col("month").is_not_null())
        .select("month")
        .unique()
        .with_columns(pl.lit(True).alias("breaks"))
    )
    return (
        gross.join(broken, on="month", how="full", coalesce=True)
        .with_columns(pl.col("breaks").fill_null(False))
        .sort("month", nulls_last=True)
    )


def _table(headers: list[str], rows: list[list[str]], left_cols: int = 1) -> str:
    th = "".join(
        f'<th class="{"l" if i < left_cols else ""}">{escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"l" if i < left_cols else ""}">{cell}</td>' for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render(rec: Reconciliation, heading: dict[str, str], plan_names: dict[str, str] | None = None) -> str:
    """The whole page. ``heading``: a few non-personal facts (extract id, run id, tax year);
    ``plan_names``: plan id → plan name, shown beside each plan."""
    s = rec.summary()
    c = rec.checks
    plans = sorted(c.filter(pl.col("check") != "box4_vs_945")["plan_id"].drop_nulls().unique().to_list())
    traced = rec.trace.group_by("break_id").len()
    traced_n = dict(traced.iter_rows())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>prorata reconciliation</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Plan-sponsor reconciliation</h1>",
        "<p>" + " · ".join(f"{escape(k)}: <b>{escape(str(v))}</b>" for k, v in heading.items()) + "</p>",
    ]
    if not rec.has_control_totals:
        parts.append(
            '<p class="muted">No control totals in the extract (control_totals.parquet is optional): '
            "the extract's monthly totals are shown without a trustee figure to compare.</p>"
        )
    verdict = (
        '<span class="ok">no break</span>'
        if s["breaks"] == 0
        else f'<span class="break">{s["breaks"]} break(s)</span>'
    )
    parts.append(f"<p>{s['plans']} plan(s), {s['check_rows']} check rows: {verdict}.</p>")
    parts.append(
        _table(
            ["check", "breaks"],
            [[escape(CHECK_WORDS.get(k, k)), str(s["breaks_by_check"][k])] for k in CHECKS],
        )
    )
    # each plan's rows, a 945 group's rows under each of its plans (plan ids joined with "+")
    by_plan = (
        c.with_row_index("_i")
        .with_columns(pl.col("plan_id").str.split("+").alias("_plan"))
        .explode("_plan")
        .partition_by("_plan", as_dict=True, include_key=False)
    )
    empty = c.clear()
    for plan_id in plans:
        pc = by_plan.get((plan_id,), empty.with_row_index("_i")).sort("_i").drop("_i")
        pb = pc.filter(pl.col("status") == BREAK)
        n_breaks = pb["break_id"].n_unique()
        status = (
            '<span class="ok">ok</span>'
            if n_breaks == 0
            else f'<span class="break">{n_breaks} break(s)</span>'
        )
        parts.append(f'<section class="plan" id="plan-{escape(plan_id)}">')
        name = f" {escape(plan_names[plan_id])}" if plan_id in (plan_names or {}) else ""
        parts.append(f"<h2>Plan {escape(plan_id)}{name} — {status}</h2>")
        parts.append(plan_chart(plan_id, _month_frame(pc), rec.has_control_totals))
        year = (
            pc.filter(pl.col("month").is_null())
            .select(
                "check", "plan_id", "measure", "expected", "actual", "difference", "quarantined", "status"
            )
            .rows()
        )
        parts.append(
            _table(
                ["check", "scope", "measure", "expected", "actual", "difference", "quarantined", "status"],
                [
                    [
                        escape(CHECK_WORDS.get(ch, ch)),
                        escape(sc),
                        escape(MEASURE_WORDS.get(m, m)),
                        value(m, e),
                        value(m, a),
                        value(m, d),
                        value(m, q),
                        f'<span class="{escape(st)}">{escape(st)}</span>',
                    ]
                    for ch, sc, m, e, a, d, q, st in year
                ],
                left_cols=3,
            )
        )
        if pb.height:
            rows = pb.head(MAX_BREAK_ROWS).rows(named=True)
            parts.append("<h3>Breaks</h3>")
            parts.append(
                _table(
                    ["break id", "measure", "expected", "actual", "difference", "disbursements traced"],
                    [
                        [
                            escape(r["break_id"]),
                            escape(MEASURE_WORDS.get(r["measure"], r["measure"])),
                            value(r["measure"], r["expected"]),
                            value(r["measure"], r["actual"]),
                            value(r["measure"], r["difference"]),
                            f"{traced_n.get(r['break_id'], 0):,}",
                        ]
                        for r in rows
                    ],
                    left_cols=2,
                )
            )
            if pb.height > MAX_BREAK_ROWS:
                parts.append(
                    f'<p class="muted">and {pb.height - MAX_BREAK_ROWS:,} more: see reconciliation.csv</p>'
                )
        parts.append("</section>")
    parts.append(
        '<p class="muted">Traced disbursements of every break: reconciliation_breaks.parquet '
        "(ids and amounts only).</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
