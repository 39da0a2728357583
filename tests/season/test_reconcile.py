"""Plan-sponsor reconciliation: control totals, forms against disbursements, box 4 against the 945
tie-out; every break traced to its disbursements; determinism; no personal data."""

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.loading import read_extract
from flows.cli.main import main
from flows.run.pipeline import run_pipeline
from flows.run.reconcile import FILES, read_run_outputs, reconcile_run
from flows.sample import generate_extract
from transforms.season.reconcile import TRACE_COLUMNS, reconcile

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "extract"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> tuple[dict[str, pl.DataFrame], Path]:
    """The sample extract's tables and the OUT_DIR of its run."""
    out = tmp_path_factory.mktemp("run") / "out"
    run_pipeline(SAMPLE, out)
    return read_extract(SAMPLE)[1], out


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory) -> tuple[dict[str, pl.DataFrame], Path]:
    """A 3,000-disbursement sample with 3 % of its events corrupted (so quarantined), and its run."""
    base = tmp_path_factory.mktemp("faulty")
    generate_extract(base / "extract", 3000, 7, tax_year=2025, fault_fraction=0.03)
    run_pipeline(base / "extract", base / "out")
    return read_extract(base / "extract")[1], base / "out"


def bump(frame: pl.DataFrame, where: pl.Expr, column: str, by: int) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(where).then(pl.col(column) + by).otherwise(pl.col(column)).alias(column)
    )


def ids(frame: pl.DataFrame) -> set[str]:
    return set(frame["distribution_id"].to_list())


def test_a_clean_sample_extract_reconciles_with_no_break(sample_run, tmp_path):
    tables, out = sample_run
    summary = reconcile_run(tables, out, tmp_path / "rec")
    assert summary["breaks"] == 0 and summary["traced_disbursements"] == 0
    assert summary["control_totals"] is True and summary["plans"] == 8
    checks = pl.read_parquet(tmp_path / "rec" / "reconciliation.parquet")
    assert set(checks["status"]) == {"ok"}
    assert set(checks["check"]) == {
        "extract_vs_control",
        "extract_vs_outputs",
        "forms_vs_disbursements",
        "box4_vs_945",
    }
    # 8 plans × 12 months × 3 measures against the control totals
    assert checks.filter(pl.col("check") == "extract_vs_control").height == 8 * 12 * 3
    assert pl.read_parquet(tmp_path / "rec" / "reconciliation_breaks.parquet").height == 0
    assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == sorted(FILES)


def test_a_control_total_one_dollar_off_is_one_break_traced_to_that_plan_months_disbursements(sample_run):
    tables, out = sample_run
    c = tables["control_totals"]
    may = pl.col("month") == pl.date(2025, 5, 1)
    planted = {**tables, "control_totals": bump(c, (pl.col("plan_id") == "P03") & may, "gross_cents", 100)}
    rec = reconcile(planted, read_run_outputs(out))
    b = rec.breaks
    assert b.height == 1
    row = b.row(0, named=True)
    assert (row["check"], row["plan_id"], row["measure"]) == ("extract_vs_control", "P03", "gross_cents")
    assert row["difference"] == -100 and row["break_id"] == "extract_vs_control/P03/2025-05"
    behind = tables["distributions"].filter(
        (pl.col("plan_id") == "P03") & (pl.col("payment_date").dt.truncate("1mo") == pl.date(2025, 5, 1))
    )
    assert ids(rec.trace) == ids(behind) and rec.trace.height == behind.height
    assert set(rec.trace["break_id"]) == {row["break_id"]}
    assert rec.trace["amount_cents"].sum() == row["actual"]


def test_a_disbursement_whose_withholding_changed_after_the_run_is_traced_to_exactly_it(sample_run):
    tables, out = sample_run
    outputs = read_run_outputs(out)
    alone = outputs["distributions"].group_by("form_id").agg(pl.col("distribution_id").first(), pl.len())
    target = alone.filter(pl.col("len") == 1).sort("distribution_id")["distribution_id"][0]
    d = bump(tables["distributions"], pl.col("distribution_id") == target, "federal_withholding_cents", 1234)
    rec = reconcile({**tables, "distributions": d}, outputs)
    hit = d.filter(pl.col("distribution_id") == target).row(0, named=True)
    month = hit["payment_date"].strftime("%Y-%m")
    assert set(rec.breaks["break_id"]) == {
        f"extract_vs_control/{hit['plan_id']}/{month}",  # the trustee's deposits disagree now
        f"forms_vs_disbursements/{hit['plan_id']}/year",  # box 4 of its form no longer adds up
        f"box4_vs_945/{hit['plan_id']}/{month}",  # nor the 945 tie-out of that month
    }
    form_break = rec.trace.filter(pl.col("check") == "forms_vs_disbursements")
    assert form_break["distribution_id"].to_list() == [target]
    assert form_break["federal_withholding_cents"].to_list() == [hit["federal_withholding_cents"]]
    assert rec.breaks.filter(pl.col("check") == "forms_vs_disbursements")["difference"].to_list() == [-1234]
    for check in ("extract_vs_control", "box4_vs_945"):
        assert target in ids(rec.trace.filter(pl.col("check") == check))


def test_a_disbursement_in_neither_output_nor_quarantine_is_a_break_traced_to_it(sample_run):
    tables, out = sample_run
    d = tables["distributions"]
    extra = (
        d.filter(pl.col("federal_withholding_cents") > 0)
        .head(1)
        .with_columns(pl.lit("D_NEW_0001").alias("distribution_id"), pl.lit(10**9, pl.UInt32).alias("_row"))
    )
    rec = reconcile({**tables, "distributions": pl.concat([d, extra])}, read_run_outputs(out))
    b = rec.breaks.filter(pl.col("check") == "extract_vs_outputs")
    assert set(b["measure"]) == {"gross_cents", "federal_withholding_cents", "disbursement_count"}
    t = rec.trace.filter(pl.col("check") == "extract_vs_outputs")
    assert t["distribution_id"].to_list() == ["D_NEW_0001"] and t["disposition"].to_list() == ["unaccounted"]


def test_quarantined_rows_are_accounted_for_so_extract_equals_reported_plus_quarantined(faulty_run, tmp_path):
    tables, out = faulty_run
    q = pl.read_parquet(out / "quarantine.parquet").filter(pl.col("table") == "distributions")
    assert q.height > 0
    summary = reconcile_run(tables, out, tmp_path / "rec")
    checks = pl.read_parquet(tmp_path / "rec" / "reconciliation.parquet")
    for check in ("extract_vs_outputs", "forms_vs_disbursements", "box4_vs_945"):
        assert summary["breaks_by_check"][check] == 0, check
    gross = checks.filter((pl.col("check") == "extract_vs_outputs") & (pl.col("measure") == "gross_cents"))
    assert (gross["expected"] == gross["reported"] + gross["quarantined"]).all()
    d = tables["distributions"]
    quarantined = d.filter(pl.col("distribution_id").is_in(q["key"].implode()))
    assert gross["quarantined"].sum() == quarantined["amount_cents"].sum()
    assert gross["expected"].sum() == d["amount_cents"].sum()
    count = checks.filter(
        (pl.col("check") == "extract_vs_outputs") & (pl.col("measure") == "disbursement_count")
    )
    assert count["quarantined"].sum() == quarantined.height
    # the sample's control totals leave out its corrupted events: those breaks are the quarantine's
    control = checks.filter((pl.col("check") == "extract_vs_control") & (pl.col("status") == "break"))
    assert control.height > 0
    assert control.filter(pl.col("measure") == "gross_cents")["explained_by_quarantine"].any()


def test_no_control_totals_is_said_rather_than_failed(sample_run, tmp_path):
    tables, out = sample_run
    without = {k: v for k, v in tables.items() if k != "control_totals"}
    summary = reconcile_run(without, out, tmp_path / "rec")
    assert summary["control_totals"] is False and summary["breaks"] == 0
    checks = pl.read_parquet(tmp_path / "rec" / "reconciliation.parquet")
    control = checks.filter(pl.col("check") == "extract_vs_control")
    assert (
        set(control["status"]) == {"no_control_totals"} and control["expected"].null_count() == control.height
    )
    assert "No control totals" in (tmp_path / "rec" / "reconciliation.html").read_text()


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_the_reconciliation_is_byte_identical_on_a_rerun(faulty_run, tmp_path):
    tables, out = faulty_run
    reconcile_run(tables, out, tmp_path / "a")
    reconcile_run(tables, out, tmp_path / "b")
    reconcile_run(tables, out, tmp_path / "b")  # and replacing an earlier reconciliation in place
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert len(digest(tmp_path / "a")) == len(FILES)


def personal_values(tables: dict[str, pl.DataFrame]) -> set[str]:
    """Every TIN, name, address and birth date of the extract (payees and payers)."""
    p, plans = tables["payees"], tables["plans"]
    values: set[str] = set()
    for col in ("tin", "first_name", "last_name", "address"):
        values |= {v for v in p[col].drop_nulls().to_list() if len(v) >= 4}
    values |= {d.isoformat() for d in p["date_of_birth"].drop_nulls().to_list()}
    values |= set(plans["payer_tin"].to_list())
    return values


def all_text(folder: Path) -> str:
    """Everything written, as text: Parquet files decoded, the others as they are."""
    parts = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            parts.append(frame.cast({c: pl.String for c in frame.columns}).write_csv())
        else:
            parts.append(path.read_text())
    return "\n".join(parts)


def test_no_output_carries_a_tin_name_address_or_birth_date(faulty_run, tmp_path):
    tables, out = faulty_run
    # plant breaks so the trace is not empty
    d = bump(tables["distributions"], pl.col("_row") % 97 == 0, "federal_withholding_cents", 1)
    summary = reconcile_run({**tables, "distributions": d}, out, tmp_path / "rec")
    assert summary["traced_disbursements"] > 0
    text = all_text(tmp_path / "rec")
    secrets = personal_values(tables)
    assert len(secrets) > 1000
    leaked = sorted(v for v in secrets if v in text)
    assert leaked == []
    trace = pl.read_parquet(tmp_path / "rec" / "reconciliation_breaks.parquet")
    assert tuple(trace.columns) == TRACE_COLUMNS


def test_prorata_reconcile_on_the_command_line_writes_the_reconciliation(sample_run, tmp_path, capsys):
    _tables, out = sample_run
    code = main(
        [
            "reconcile",
            "--extract",
            str(SAMPLE),
            "--run",
            str(out),
            "--out",
            str(tmp_path / "r"),
            "--no-prefect",
        ]
    )
    stdout, _ = capsys.readouterr()
    assert code == 0 and "8 plan(s), no break" in stdout
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["breaks"] == 0
    # the run's own folder is never the target
    assert (
        main(["reconcile", "--extract", str(SAMPLE), "--run", str(out), "--out", str(out), "--no-prefect"])
        == 2
    )
    assert "run's own OUT_DIR" in capsys.readouterr().err
    # nor the extract, nor any folder that is not an earlier reconciliation
    assert (
        main(["reconcile", "--extract", str(SAMPLE), "--run", str(out), "--out", str(SAMPLE), "--no-prefect"])
        == 2
    )
    assert "other than a reconciliation" in capsys.readouterr().err
    assert (SAMPLE / "distributions.parquet").is_file()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.sampled_from([f"P0{i}" for i in range(1, 9)]),
    month=st.integers(1, 12),
    measure=st.sampled_from(["gross_cents", "federal_withholding_cents", "disbursement_count"]),
    delta=st.integers(-(10**9), 10**9).filter(lambda v: v != 0),
)
def test_any_one_control_total_off_is_exactly_one_break_traced_to_its_plan_month(
    sample_run, plan, month, measure, delta
):
    tables, out = sample_run
    where = (pl.col("plan_id") == plan) & (pl.col("month") == pl.date(2025, month, 1))
    rec = reconcile(
        {**tables, "control_totals": bump(tables["control_totals"], where, measure, delta)}, OUTPUTS(out)
    )
    assert rec.breaks.select("plan_id", "measure", "difference").rows() == [(plan, measure, -delta)]
    behind = tables["distributions"].filter(
        (pl.col("plan_id") == plan) & (pl.col("payment_date").dt.month() == month)
    )
    assert ids(rec.trace) == ids(behind)


_outputs_cache: dict[Path, dict] = {}


def OUTPUTS(out: Path) -> dict[str, pl.DataFrame]:
    if out not in _outputs_cache:
        _outputs_cache[out] = read_run_outputs(out)
    return _outputs_cache[out]


def test_a_plan_without_any_control_totals_says_so_while_another_plans_are_checked():
    from datetime import date

    from transforms.season.reconcile import control_totals_check, dispositions, extract_disbursements

    dist = pl.DataFrame(
        {
            "distribution_id": ["D1", "D2"],
            "event_id": ["E1", "E2"],
            "plan_id": ["P1", "P2"],
            "payment_date": [date(2025, 3, 1), date(2025, 3, 2)],
            "amount_cents": [100_000, 200_000],
            "federal_withholding_cents": [10_000, 20_000],
        }
    )
    ext = extract_disbursements(dist)
    out = ext.select("distribution_id", "event_id", "plan_id", pl.lit("F").alias("form_id"), "amount_cents")
    disp = dispositions(ext, out, pl.DataFrame(schema={"table": pl.String, "key": pl.String}))
    control = pl.DataFrame(
        {
            "plan_id": ["P1"],
            "month": [date(2025, 3, 1)],
            "gross_cents": [100_001],
            "federal_withholding_cents": [10_000],
            "disbursement_count": [1],
        }
    )
    rows = control_totals_check(disp, control)
    assert rows.filter(pl.col("plan_id") == "P2")["status"].unique().to_list() == ["no_control_totals"]
    p1 = rows.filter(pl.col("plan_id") == "P1").sort("measure")
    assert p1.select("measure", "status").rows() == [
        ("disbursement_count", "ok"),
        ("federal_withholding_cents", "ok"),
        ("gross_cents", "break"),
    ]
