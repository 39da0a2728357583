"""`prorata run` and `prorata reconcile` as Prefect flows against a real, self-hosted Prefect
server (not the in-process test harness): the flow runs completed, their tasks ran, the artifacts
are there — and no TIN, name, address or birth date is in any artifact or log."""

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from contracts.loading import read_extract

pytestmark = [pytest.mark.server]

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "sample_data" / "extract"
PRORATA = [sys.executable, "-m", "flows.cli.main"]


def client_env(api_url: str, home: Path) -> dict[str, str]:
    """A clean client environment: no Prefect setting of this test process, only the server's URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": api_url, "PREFECT_HOME": str(home), "PYTHONPATH": str(ROOT)})
    return env


def personal_values() -> list[str]:
    tables = read_extract(SAMPLE)[1]
    p = tables["payees"]
    values = set(p["tin"].to_list()) | set(tables["plans"]["payer_tin"].to_list())
    for col in ("first_name", "last_name", "address"):
        values |= {v for v in p[col].drop_nulls().to_list() if len(v) >= 4}
    values |= {d.isoformat() for d in p["date_of_birth"].drop_nulls().to_list()}
    return sorted(values)


@pytest.mark.prefect
def test_prorata_run_and_reconcile_against_a_real_prefect_server(real_prefect_server, tmp_path):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    env = client_env(real_prefect_server, tmp_path / "client-home")
    out, rec = tmp_path / "out", tmp_path / "rec"
    run = subprocess.run(
        [*PRORATA, "run", str(SAMPLE), "--out", str(out), "--batch-rows", "1500"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    recon = subprocess.run(
        [*PRORATA, "reconcile", "--extract", str(SAMPLE), "--run", str(out), "--out", str(rec)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert recon.returncode == 0, recon.stderr[-3000:]
    assert "no break" in recon.stdout

    with SyncPrefectClient(real_prefect_server) as client:
        runs = {r.flow_id: r for r in client.read_flow_runs()}
        flows = {f.id: f.name for f in client.read_flows()}
        by_name = {flows[fid]: r for fid, r in runs.items()}
        assert set(by_name) == {"prorata-run", "prorata-reconcile"}
        for r in by_name.values():
            assert r.state.type.value == "COMPLETED"
        run_id = by_name["prorata-run"].id
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        names = sorted(t.name.rsplit("-", 1)[0] for t in tasks)  # "split-plan-batch-c97" → "split-plan-batch"
        assert all(t.state.type.value == "COMPLETED" for t in tasks)
        assert names.count("read-and-validate") == 1 and names.count("write-outputs") == 1
        assert names.count("split-plan-batch") >= 3  # --batch-rows 1500: several plan batches
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in by_name.values()])
            )
        )
        keys = {a.key: a for a in artifacts}
        assert {
            "prorata-run-progress",
            "prorata-run-summary",
            "prorata-reconciliation",
            "prorata-reconciliation-plans",
        } <= set(keys)
        assert float(keys["prorata-run-progress"].data) == 100.0
        assert keys["prorata-run-progress"].flow_run_id == run_id
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in by_name.values()]))
        )
    text = "\n".join([*(f"{a.description}\n{a.data}" for a in artifacts), *(log.message for log in logs)])
    forms = pl.read_parquet(out / "forms.parquet").height  # the summary's form count, as written
    assert len(logs) > 0 and f"{forms:,}" in text
    leaked = [v for v in personal_values() if v in text]
    assert leaked == []
    assert pl.read_parquet(rec / "reconciliation.parquet").height > 0


def _postgres_installed() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.skipif(
    not _postgres_installed(), reason="PostgreSQL (Debian package postgresql) is not installed"
)
def test_prorata_run_against_a_prefect_server_on_postgresql(tmp_path):
    """`make postgres` + `make prefect-server-postgres`, in a temporary folder: the flow run lands in
    PostgreSQL's tables, not in a SQLite file."""
    import shutil
    import tempfile

    from prefect.client.orchestration import SyncPrefectClient

    from flows.prefect import server

    # not under pytest's tmp_path: when run as root, the "postgres" user must reach the data folder
    base = Path(tempfile.mkdtemp(prefix="prorata-pg-"))
    base.chmod(0o755)
    pg_dir, port = base / "pg", server.free_port()
    script = ROOT / "scripts" / "postgres.sh"
    home = base / "prefect-home"
    try:
        up = subprocess.run(
            [str(script), "start", str(pg_dir), str(port)], capture_output=True, text=True, timeout=300
        )
        assert up.returncode == 0, up.stderr
        url = f"postgresql+asyncpg://prefect:prefect@127.0.0.1:{port}/prefect"
        assert url in up.stdout
        started = server.start(home, server.free_port(), database_url=url, ui=False, timeout=240)
        try:
            run = subprocess.run(
                [*PRORATA, "run", str(SAMPLE), "--out", str(tmp_path / "out"), "--quiet"],
                env=client_env(started.api_url, tmp_path / "client-home"),
                capture_output=True,
                text=True,
                timeout=600,
                cwd=tmp_path,
            )
            assert run.returncode == 0, run.stderr[-3000:]
            with SyncPrefectClient(started.api_url) as client:
                runs = client.read_flow_runs()
            assert [r.state.type.value for r in runs] == ["COMPLETED"]
        finally:
            server.stop(home)
        assert not (home / "prefect.db").exists()  # the state is in PostgreSQL
        psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))[-1]
        rows = subprocess.run(
            [
                str(psql),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "prefect",
                "-d",
                "prefect",
                "-tAc",
                "select count(*) from flow_run where state_type = 'COMPLETED'",
            ],
            env={**os.environ, "PGPASSWORD": "prefect"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rows.stdout.strip() == "1", rows.stderr
    finally:
        subprocess.run([str(script), "stop", str(pg_dir)], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
