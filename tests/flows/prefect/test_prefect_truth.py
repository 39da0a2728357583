"""Prefect shows the truth and keeps no secret (issue 13 item 6, issue 18).

- A refused extract ends its flow run Failed with the reason — a nightly run that refused one, a
  run whose extract has a table-level fault — never Completed; runs are named after the extract
  (``run EXTRACT_ID``) or the nightly's inbox, ingest tasks after their extract.
- Ctrl-C during ``prorata run`` with Prefect stops it within seconds, exits 130 and leaves OUT_DIR
  as it was; the flow run ends Crashed.
- A command killed with SIGKILL or SIGTERM leaves no Prefect server behind.
- An unexpected error that quotes a value (a polars error quoting a TIN) reaches neither Prefect's
  database nor its result storage; nor do the transmitter settings (a flow parameter before).

The tests use the session's Prefect test server (``prefect_test_api``), except the one about the
server a command starts for itself when none is configured."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest

from tests.contracts.test_corruption import corrupt_data_page, rewrite
from tests.flows.io.test_output_swap import digest, leftovers
from tests.leaks import leaked
from tests.ops_builders import edit_manifest, year_inbox

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "tests" / "data" / "seed-cases" / "extract"
SAMPLE = ROOT / "sample_data" / "extract"
PRORATA = [sys.executable, "-m", "flows.cli.main"]

pytestmark = pytest.mark.prefect


def client_env(api_url: str | None, home: Path, **extra: str) -> dict[str, str]:
    """The command's environment: no Prefect setting of this test process; the server's URL if any."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(home), "PYTHONPATH": str(ROOT), **extra})
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def flow_run(api_url: str, name: str):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with SyncPrefectClient(api_url) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        assert len(runs) == 1, [r.name for r in runs]
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    return runs[0], tasks


def with_id(tmp_path: Path, source: Path, extract_id: str) -> Path:
    return edit_manifest(shutil.copytree(source, tmp_path / "extract"), extract_id=extract_id)


def prorata(args: list[str], capsys) -> subprocess.CompletedProcess:
    """The command in this process, against the session's test server (the harness's settings)."""
    from flows.cli.main import main

    code = main(args)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def test_a_nightly_flow_that_refuses_an_extract_ends_failed_with_the_reason(
    prefect_test_api, tmp_path, capsys
):
    tag = uuid.uuid4().hex[:8]
    inbox, store = year_inbox(tmp_path, ("night1", "night2"), f"inbox-{tag}"), tmp_path / f"store-{tag}"
    edit_manifest(inbox / "night2", tax_year=2021)
    proc = prorata(["nightly", "--inbox", str(inbox), "--store", str(store), "--quiet"], capsys)
    assert proc.returncode == 2 and "prorata: error: refused " in proc.stderr
    run, tasks = flow_run(prefect_test_api.api_url, f"nightly inbox-{tag} into store-{tag}")
    assert run.state.type.value == "FAILED"
    assert (
        run.state.message.startswith("1 extract(s) refused: ")
        and "tax_year 2021 matches none" in run.state.message
    )
    names = sorted(t.name for t in tasks)
    assert "ingest n1-2025" in names and "ingest n2-2025" in names and "rebuild tax year 2025" in names


def test_a_run_whose_extract_has_a_table_level_fault_ends_failed_named_after_the_extract(
    prefect_test_api, tmp_path, capsys
):
    extract_id = f"corrupt-{uuid.uuid4().hex[:8]}"
    extract = with_id(tmp_path, SAMPLE, extract_id)
    rewrite(extract, checksums=True)
    corrupt_data_page(extract / "contracts.parquet", "value_cents")
    config = tmp_path / "prorata.toml"
    config.write_text(
        '[transmitter]\ntin = "987654320"\ntcc = "ABC12"\nname = "Example RK LLC"\naddress = "1 Main St"\n'
        'city = "Springfield"\nstate = "IL"\nzip = "62701"\ncontact_name = "Quintessa Contactperson"\n'
        'contact_phone = "2175550100"\n'
    )
    proc = prorata(
        ["run", str(extract), "--out", str(tmp_path / "out"), "--config", str(config), "--quiet"], capsys
    )
    assert proc.returncode == 2 and "a Parquet page fails its checksum" in proc.stderr
    run, tasks = flow_run(prefect_test_api.api_url, f"run {extract_id}")
    assert run.state.type.value == "FAILED" and "a Parquet page fails its checksum" in run.state.message
    assert [t.state.type.value for t in tasks if t.name.startswith("read-and-validate")] == ["FAILED"]
    # the transmitter's settings are read inside the flow, not passed to Prefect as a parameter
    assert set(run.parameters) == {
        "extract_dir",
        "out_dir",
        "progress",
        "config",
        "batch_rows",
        "distributed",
    }
    assert leaked([prefect_test_api.home], ["Quintessa Contactperson", "987654320"]) == []


def test_ctrl_c_during_a_prefect_run_stops_it_within_seconds_and_leaves_out_dir_as_it_was(
    prefect_test_api, tmp_path
):
    extract_id = f"interrupted-{uuid.uuid4().hex[:8]}"
    extract = with_id(tmp_path, SAMPLE, extract_id)
    out_dir = tmp_path / "out"
    from flows.cli.main import main

    assert main(["run", str(SEED), "--out", str(out_dir), "--no-prefect", "--quiet"]) == 0
    before = digest(out_dir)
    proc = subprocess.Popen(
        [*PRORATA, "run", str(extract), "--out", str(out_dir), "--batch-rows", "300"],
        env=client_env(prefect_test_api.api_url, tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "plan batch 2/" in line:  # the run is well under way: batches are being written
            break
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, err = proc.communicate(timeout=120)
    took = time.monotonic() - started
    assert proc.returncode == 130 and took < 10, (took, err)
    assert "interrupted; the outputs were left as they were" in err and "Traceback" not in err
    assert digest(out_dir) == before and leftovers(out_dir) == []
    run, _ = flow_run(prefect_test_api.api_url, f"run {extract_id}")
    assert run.state.type.value == "CRASHED"


def _prefect_servers(token: str) -> list[int]:
    """Processes started with ``token`` in their environment (the command and what it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.kills
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find the processes")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_no_prefect_server_outlives_a_command_that_is_killed(tmp_path_factory, how):
    """Without PREFECT_API_URL the command starts a server for itself: killed with SIGKILL or SIGTERM
    mid-run, nothing of it stays alive (before: the ~210 MB server stayed, holding the command's
    stdout, so a supervisor reading it waited forever)."""
    home = tmp_path_factory.getbasetemp() / "ephemeral-prefect-home"  # one database for both runs
    token = f"prorata-test-{uuid.uuid4().hex}"
    out_dir = tmp_path_factory.mktemp("killed") / "out"
    proc = subprocess.Popen(
        [*PRORATA, "run", str(SAMPLE), "--out", str(out_dir), "--batch-rows", "300"],
        env=client_env(None, home, PRORATA_TEST_TOKEN=token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stderr:
            if "plan batch 1/" in line:
                break
        assert len(_prefect_servers(token)) == 2  # the command and its server
        proc.send_signal(how)
        proc.stdout.read()  # returns: nothing else holds the command's stdout open
        proc.wait(timeout=60)
        deadline = time.monotonic() + 5
        while _prefect_servers(token) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _prefect_servers(token) == []
        assert proc.returncode == (-signal.SIGKILL if how == signal.SIGKILL else 128 + signal.SIGTERM)
    finally:
        for pid in _prefect_servers(token):  # only what this test started
            os.kill(pid, signal.SIGKILL)


@pytest.mark.kills
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="a process's start time comes from /proc")
def test_a_run_whose_command_was_killed_is_set_crashed_by_the_next_command(
    prefect_test_api, tmp_path, capsys
):
    """SIGKILL leaves no code to report the end: the flow run stayed Running for ever. The next
    command on the machine finds its process gone and sets it Crashed, saying why."""
    extract_id = f"killed-{uuid.uuid4().hex[:8]}"
    extract = with_id(tmp_path, SAMPLE, extract_id)
    proc = subprocess.Popen(
        [*PRORATA, "run", str(extract), "--out", str(tmp_path / "out"), "--batch-rows", "300"],
        env=client_env(prefect_test_api.api_url, tmp_path / "home"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "plan batch 1/" in line:
            break
    proc.kill()
    proc.wait(timeout=60)
    run, _ = flow_run(prefect_test_api.api_url, f"run {extract_id}")
    assert run.state.type.value == "RUNNING"
    (tag,) = [t for t in run.tags if t.startswith("prorata-process:")]
    assert tag.startswith(f"prorata-process:{socket.gethostname()}:{proc.pid}:")
    next_id = f"after-{uuid.uuid4().hex[:8]}"
    assert (
        prorata(
            ["run", str(with_id(tmp_path / "next", SEED, next_id)), "--out", str(tmp_path / "o2"), "--quiet"],
            capsys,
        ).returncode
        == 0
    )
    run, _ = flow_run(prefect_test_api.api_url, f"run {extract_id}")
    assert run.state.type.value == "CRASHED"
    assert f"process {proc.pid} on {socket.gethostname()}" in run.state.message
    assert "killed (SIGKILL)" in run.state.message
    after, _ = flow_run(prefect_test_api.api_url, f"run {next_id}")
    assert after.state.type.value == "COMPLETED"  # its own run, from a live process, untouched


def test_only_a_gone_process_of_this_machine_orphans_its_runs(monkeypatch):
    from flows.prefect import server

    host, me = socket.gethostname(), os.getpid()
    mine = server.process_tag()
    assert mine.startswith(f"prorata-process:{host}:{me}:") and server._birth(me)
    assert server._orphaned(["nightly", mine], host) is None  # alive
    born = mine.rsplit(":", 1)[1]
    reused = f"prorata-process:{host}:{me}:{int(born) + 1}"  # the pid now names another process
    assert server._orphaned([reused], host) == me
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert server._orphaned([f"prorata-process:{host}:{gone.pid}:{born}"], host) == gone.pid
    assert (
        server._orphaned([f"prorata-process:elsewhere:{gone.pid}:{born}"], host) is None
    )  # not ours to judge
    assert server._orphaned(["prorata-process", "prorata-process:x", "other"], host) is None


def test_a_polars_error_quoting_a_tin_reaches_neither_prefects_database_nor_its_storage(
    prefect_test_api, tmp_path, monkeypatch
):
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from flows.errors import InternalError
    from flows.prefect.run_flow import prorata_run
    from flows.run import pipeline

    tins = pl.read_parquet(SEED / "payees.parquet")["tin"].to_list()

    def quoting(batch, tax_year):  # an unexpected polars failure whose text quotes a TIN
        pl.select(pl.lit(batch["payees"]["tin"][0]).cast(pl.Int8, strict=True))

    monkeypatch.setattr(pipeline, "compute_batch", quoting)
    with pytest.raises(pl.exceptions.InvalidOperationError) as quoted:
        quoting({"payees": pl.DataFrame({"tin": tins[:1]})}, 2025)
    assert tins[0] in str(quoted.value)  # the fault does quote the value
    storage = tmp_path / "storage"
    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: str(storage)}):
        with pytest.raises(InternalError) as caught:
            prorata_run(SEED, tmp_path / "out")
        APILogWorker.drain_all(timeout=30, at_exit=False)
        EventsWorker.drain_all(timeout=30, at_exit=False)
    assert str(caught.value) == "unexpected InvalidOperationError in split-plan-batch"
    assert storage.is_dir()  # Prefect did write the failed task's exception there
    assert leaked([prefect_test_api.home, storage], tins) == []


def test_a_scrubbed_body_raises_only_its_own_text_unless_debugging(monkeypatch):
    from flows.errors import DEBUG, InternalError, scrubbed
    from flows.io.store import StoreError

    def quoting():
        raise ValueError("TIN 400000001 is not a number")

    def ours():
        raise StoreError("tax year 2025: no extract in the store")

    with pytest.raises(InternalError) as caught:
        scrubbed("step")(quoting)()
    assert str(caught.value) == "unexpected ValueError in step"
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    with pytest.raises(StoreError, match="no extract in the store"):
        scrubbed("step")(ours)()
    monkeypatch.setenv(DEBUG, "1")  # prorata --debug: the whole traceback is the point
    with pytest.raises(ValueError, match="400000001"):
        scrubbed("step")(quoting)()
