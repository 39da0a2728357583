"""Issue 5's "done when", whole, against a real self-hosted Prefect server: two nightly extracts, a
filing, a corrected extract changing three payees (one a TIN fix), corrections for exactly those, an
unchanged rerun with none, and a reconciliation of the store's year that finds a planted break.
Every command runs as its own process, as an operator would run it, pointed at the server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.flows.prefect.test_prefect_server import client_env
from tests.ops_builders import approve_pending, year_extracts
from transforms.irs import check_pub1220, read_pub1220

pytestmark = [pytest.mark.server]

PRORATA = [sys.executable, "-m", "flows.cli.main"]
SECRETS = ("400000002", "400000092", "Case2", "Case7", "Elm St", "Columbus", "1980-01-15")


def _control_totals(folder: Path, live: list[Path], planted_cents: int) -> None:
    """The trustee's totals for the months of the live year (every extract that is live once the
    corrected extract is in), with ``planted_cents`` too much in P1's gross of March."""
    dist = pl.concat([pl.read_parquet(f / "distributions.parquet") for f in live])
    totals = (
        dist.group_by("plan_id", pl.col("payment_date").dt.month_start().alias("month"))
        .agg(
            pl.col("amount_cents").sum().alias("gross_cents"),
            pl.col("federal_withholding_cents").sum(),
            pl.len().cast(pl.Int64).alias("disbursement_count"),
        )
        .with_columns(
            pl.when((pl.col("plan_id") == "P1") & (pl.col("month").dt.month() == 3))
            .then(pl.col("gross_cents") + planted_cents)
            .otherwise(pl.col("gross_cents"))
            .alias("gross_cents")
        )
        .sort("plan_id", "month")
    )
    totals.write_parquet(folder / "control_totals.parquet")


def _run(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([*PRORATA, *args], env=env, capture_output=True, text=True, timeout=600, cwd=cwd)
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr
    return done


@pytest.mark.prefect
def test_the_year_walks_from_nightly_runs_to_corrections_and_a_reconciliation_on_a_real_prefect_server(
    real_prefect_server, tmp_path
):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    env = client_env(real_prefect_server, tmp_path / "client-home")
    src = year_extracts(tmp_path / "src", 2025)
    # the corrected extract carries the trustee's control totals for the year, one dollar off in March
    _control_totals(src["fix"], [src["night1"], src["fix"]], planted_cents=100)
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    for night in ("night1", "night2"):
        shutil.copytree(src[night], inbox / night)

    done = _run(["nightly", "--inbox", str(inbox), "--store", str(store), "--quiet"], env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 extracts ingested" in done.stdout
    done = _run(["file", "--store", str(store), "--tax-year", "2025", "--user", "alice"], env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "8 returns" in done.stdout
    approve_pending(store, 2025)

    shutil.copytree(src["fix"], inbox / "fix")
    done = _run(["nightly", "--inbox", str(inbox), "--store", str(store), "--quiet"], env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 extracts ingested, 2 already in the store" in done.stdout

    corrections = tmp_path / "corrections"
    args = ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(corrections)]
    done = _run(args, env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Type 1 2, Type 2 1" in done.stdout
    data = (corrections / "irs" / "FIRE_1099R_2025_corrections.txt").read_bytes()
    assert check_pub1220(data) == []
    b = read_pub1220(data).payees
    # PY2's TIN: G (as filed, zeros) then C; PY6's amount and PY7's code: one G each
    assert sorted(b["corrected_return_indicator"].to_list()) == ["C", "G", "G", "G"]
    assert sorted(b.filter(pl.col("corrected_return_indicator") == "G")["amount_1"].to_list()) == [
        0,
        654_321,
        700_000,
    ]
    approve_pending(store, 2025)

    # the unchanged rerun: nothing ingested, no correction, no file
    done = _run(["nightly", "--inbox", str(inbox), "--store", str(store), "--quiet"], env, tmp_path)
    assert done.returncode == 0 and "0 extracts ingested, 3 already in the store" in done.stdout
    again = tmp_path / "again"
    done = _run(
        ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(again)], env, tmp_path
    )
    assert done.returncode == 0 and "nothing changed since the last filing" in done.stdout
    assert not again.exists()

    # the reconciliation of the store's year finds the planted dollar, traced to March's disbursements
    rec = tmp_path / "rec"
    done = _run(["reconcile", "--store", str(store), "--tax-year", "2025", "--out", str(rec)], env, tmp_path)
    assert done.returncode == 3, done.stderr[-3000:]  # 3: the report is written and it found breaks
    checks = pl.read_parquet(rec / "reconciliation.parquet")
    breaks = checks.filter(pl.col("status") == "break")
    assert breaks.select("break_id", "difference").rows() == [("extract_vs_control/P1/2025-03", -100)]
    trace = pl.read_parquet(rec / "reconciliation_breaks.parquet")
    assert sorted(trace["distribution_id"].to_list()) == [f"D{i}" for i in range(1, 9)]
    html = (rec / "reconciliation.html").read_text()
    for secret in SECRETS:
        assert secret not in html

    with SyncPrefectClient(real_prefect_server) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        runs = client.read_flow_runs()
        names = sorted(flows[r.flow_id] for r in runs)
        assert names.count("prorata-nightly") == 3 and "prorata-reconcile-year" in names
        assert all(r.state.type.value == "COMPLETED" for r in runs)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in runs]))
        )
    keys = {a.key for a in artifacts}
    assert "prorata-reconciliation" in keys
    text = "\n".join(f"{a.description}\n{a.data}" for a in artifacts)
    for secret in SECRETS:
        assert secret not in text
