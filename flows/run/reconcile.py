"""``prorata reconcile``: the plan-sponsor reconciliation of one extract against one run's outputs.

:func:`reconcile_run` is the entry point (the year-to-date store calls it with the live year's
tables); the checks themselves are pure polars in :mod:`transforms.season.reconcile`. Outputs, written
atomically into their own folder (staging folder + rename, :class:`flows.io.outputs.StagedOutput`),
with the same bytes for the same inputs:

- ``reconciliation.parquet`` and ``reconciliation.csv``: the checks (one row per check, scope and measure);
- ``reconciliation_breaks.parquet``: every break traced to its disbursements (ids and amounts);
- ``reconciliation.html``: one inline SVG chart per plan, no script, no network;
- ``manifest.json``: the counts, and the extract and run it reconciled.

Inside a Prefect flow run it also creates a markdown and a table artifact (key
``prorata-reconciliation``). No output carries a TIN, name, address or birth date: only plan,
event, distribution and form ids, months and amounts.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from flows.io.outputs import Kind, OutputError, StagedOutput, read_manifest, write_json, write_parquet
from flows.render.reconcile_html import money, render
from transforms.season.reconcile import BREAK, Reconciliation, reconcile

FILES = (
    "reconciliation.parquet",
    "reconciliation.csv",
    "reconciliation_breaks.parquet",
    "reconciliation.html",
    "manifest.json",
)
RECONCILIATION = Kind(
    "reconciliation", frozenset({*FILES, "export"}), lambda m: m.get("kind") == "prorata-reconciliation"
)  # what the reconciliation's folder may hold (flows.io.outputs.StagedOutput replaces nothing else)
ARTIFACT_KEY = "prorata-reconciliation"
OUTPUT_COLUMNS = {
    "distributions": ["distribution_id", "event_id", "plan_id", "form_id", "amount_cents"],
    # payer_tin only groups plans by payer for the 945 tie-out; it is never written
    "forms": ["form_id", "plan_id", "payer_tin", "box1_cents", "box4_cents"],
    "quarantine": ["table", "key"],
    "tieout_945": ["payer_tin", "month", "box4_cents"],
}


def read_run_outputs(outputs_dir: Path) -> dict[str, pl.DataFrame]:
    """The columns of a run's outputs that the checks use (no payee TIN is read)."""
    frames = {}
    for name, columns in OUTPUT_COLUMNS.items():
        path = outputs_dir / f"{name}.parquet"
        if not path.is_file():
            raise OutputError(f"{path}: not found; is {outputs_dir} the OUT_DIR of a prorata run?")
        frames[name] = pl.read_parquet(path, columns=columns)
    return frames


def _run_facts(outputs_dir: Path) -> dict[str, str]:
    path = outputs_dir / "manifest.json"
    if not path.is_file():
        return {}
    m = json.loads(path.read_text(encoding="utf-8"))
    return {k: str(m[k]) for k in ("extract_id", "run_id", "tax_year") if m.get(k) is not None}


def write_reconciliation(
    rec: Reconciliation, out_dir: Path, facts: dict[str, str], plans: pl.DataFrame | None = None
) -> dict:
    """Every output into a staging folder, swapped into place; returns the manifest.
    ``reconciliation.csv`` is the report for people: checks in words, amounts in dollars, plan
    names beside plan ids (``plans``: plan_id, plan_name); the Parquet files keep cents and names."""
    from flows.render.exports import checks_report

    summary = rec.summary()
    manifest = {"kind": "prorata-reconciliation", **facts, **summary, "files": list(FILES)}
    plans = (
        plans if plans is not None else pl.DataFrame(schema={"plan_id": pl.String, "plan_name": pl.String})
    )
    names = dict(plans.select("plan_id", "plan_name").iter_rows())
    with StagedOutput(out_dir, (RECONCILIATION,)) as staged:
        root = staged.path
        write_parquet(rec.checks, root / "reconciliation.parquet")
        checks_report(rec.checks, plans).write_csv(root / "reconciliation.csv")
        write_parquet(rec.trace, root / "reconciliation_breaks.parquet")
        (root / "reconciliation.html").write_text(render(rec, facts, names), encoding="utf-8")
        write_json(manifest, root / "manifest.json")
    return manifest


def artifact_markdown(rec: Reconciliation, facts: dict[str, str], limit: int = 50) -> str:
    """The Prefect artifact: the verdict, breaks per check, and the first breaks (ids and amounts)."""
    s = rec.summary()
    lines = ["# Plan-sponsor reconciliation", ""]
    lines += [f"- {k}: `{v}`" for k, v in facts.items()]
    if not s["control_totals"]:
        lines.append("- no control totals in the extract")
    lines.append(
        f"- plans: {s['plans']}, breaks: **{s['breaks']}**, disbursements traced: {s['traced_disbursements']}"
    )
    lines += ["", "| check | breaks |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in s["breaks_by_check"].items()]
    b = rec.breaks
    if b.height:
        lines += ["", "| break id | measure | expected | actual | difference |", "|---|---|---:|---:|---:|"]
        for r in b.head(limit).iter_rows(named=True):
            fmt = (lambda v: f"{v:,}") if r["measure"] == "disbursement_count" else money
            lines.append(
                f"| {r['break_id']} | {r['measure']} | {fmt(r['expected'])} | {fmt(r['actual'])} | {fmt(r['difference'])} |"
            )
        if b.height > limit:
            lines.append(f"\n… and {b.height - limit:,} more rows in reconciliation.csv")
    return "\n".join(lines) + "\n"


def artifact_table(rec: Reconciliation) -> list[dict]:
    """Per plan: break count and the extract's gross, reported and quarantined (cents)."""
    c = rec.checks.filter((pl.col("check") == "extract_vs_outputs") & (pl.col("measure") == "gross_cents"))
    b = rec.breaks.with_columns(pl.col("plan_id").str.split("+")).explode("plan_id")
    n = dict(b.group_by("plan_id").agg(pl.col("break_id").n_unique()).iter_rows())
    return [
        {
            "plan_id": r["plan_id"],
            "breaks": int(n.get(r["plan_id"], 0)),
            "extract_gross_cents": r["expected"],
            "reported_gross_cents": r["reported"],
            "quarantined_gross_cents": r["quarantined"],
        }
        for r in c.sort("plan_id").iter_rows(named=True)
    ]


def publish_artifacts(rec: Reconciliation, facts: dict[str, str]) -> bool:
    """A markdown and a table artifact when running inside a Prefect flow run; else nothing."""
    try:
        from prefect.context import FlowRunContext
    except ImportError:  # pragma: no cover - prefect is a dependency
        return False
    if FlowRunContext.get() is None:
        return False
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(
        artifact_markdown(rec, facts), key=ARTIFACT_KEY, description="plan-sponsor reconciliation"
    )
    create_table_artifact(
        artifact_table(rec), key=f"{ARTIFACT_KEY}-plans", description="reconciliation per plan (cents)"
    )
    return True


def check_reconciliation_target(out_dir: Path, outputs_dir: Path) -> None:
    """The reconciliation replaces ``out_dir`` whole: never the run's folder, an extract or any
    folder other than an earlier reconciliation (or an empty or new one)."""
    if out_dir.resolve() == outputs_dir.resolve():
        raise OutputError(f"{out_dir}: is the run's own OUT_DIR; choose another --out for the reconciliation")
    marker_kind = (read_manifest(out_dir) or {}).get("kind")
    if (out_dir / "manifest.json").is_file() and marker_kind != "prorata-reconciliation":
        raise OutputError(f"{out_dir}: holds something other than a reconciliation; choose another --out")


def reconcile_run(extract_tables: dict[str, pl.DataFrame], outputs_dir: Path, out_dir: Path) -> dict:
    """Reconcile the extract's tables (as read: ``distributions``, ``plans``, optional
    ``control_totals``) against the run in ``outputs_dir``; write the reconciliation into
    ``out_dir`` (atomically) and, inside a flow run, the Prefect artifacts. Returns the summary
    (the manifest: counts only)."""
    outputs_dir, out_dir = Path(outputs_dir), Path(out_dir)
    check_reconciliation_target(out_dir, outputs_dir)
    rec = reconcile(extract_tables, read_run_outputs(outputs_dir))
    facts = _run_facts(outputs_dir)
    plans = extract_tables.get("plans")
    plans = plans.select("plan_id", "plan_name").unique("plan_id") if plans is not None else None
    manifest = write_reconciliation(rec, out_dir, facts, plans)
    manifest["artifacts"] = publish_artifacts(rec, facts)
    return manifest


def reconcile_extract(extract_dir: Path, outputs_dir: Path, out_dir: Path) -> dict:
    """``prorata reconcile --extract --run --out`` without Prefect: read the three tables the checks
    use (``distributions``, ``plans``, optional ``control_totals``), reconcile."""
    from contracts.extract import TABLES
    from contracts.loading import read_table

    tables = {}
    for name in ("distributions", "plans", "control_totals"):
        frame = read_table(Path(extract_dir), TABLES[name])
        if frame is not None:
            tables[name] = frame
    return reconcile_run(tables, outputs_dir, out_dir)


def reconcile_year(store_dir: Path, tax_year: int, out_dir: Path) -> dict:
    """``prorata reconcile --store --tax-year --out`` without Prefect: the store's live year (the rows
    of every ledgered extract, supersedes applied) against the year's outputs in
    ``STORE/outputs/TAX_YEAR``. Refuses outputs built from an older ledger (run ``nightly`` first)."""
    from flows.io.store import Store, StoreError, live_tables, outputs_current

    store = Store(Path(store_dir))
    if not outputs_current(store, tax_year):
        raise StoreError(
            f"{store.outputs(tax_year)}: the tax year {tax_year} outputs are missing or older than the "
            "store's extracts; run prorata nightly first"
        )
    tables = {
        name: frame.drop("_extract_id", strict=False)
        for name, frame in live_tables(store, tax_year).items()
        if name in ("distributions", "plans", "control_totals")
    }
    if "control_totals" in tables and tables["control_totals"].height == 0:
        del tables["control_totals"]  # no extract of the year carried control totals
    return reconcile_run(tables, store.outputs(tax_year), out_dir)


def summary_text(manifest: dict, out_dir: Path) -> str:
    s = manifest
    head = f"prorata reconcile: {s['plans']} plan(s), " + (
        "no break"
        if s["breaks"] == 0
        else f"{s['breaks']} break(s), {s['traced_disbursements']:,} disbursements traced"
    )
    lines = [head]
    if not s["control_totals"]:
        lines.append("  no control totals in the extract: monthly totals shown without a trustee figure")
    from flows.render.reconcile_html import CHECK_WORDS

    lines += [f"  {CHECK_WORDS.get(k, k)}: {v} break(s)" for k, v in s["breaks_by_check"].items()]
    lines.append(f"  outputs          {out_dir}/ ({', '.join(FILES)})")
    return "\n".join(lines)


__all__ = [
    "BREAK",
    "reconcile_run",
    "reconcile_extract",
    "reconcile_year",
    "summary_text",
]
