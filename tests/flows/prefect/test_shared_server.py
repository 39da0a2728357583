"""The temporary Prefect server shared by the commands of a PREFECT_HOME (flows/prefect/server.py):
a command with no PREFECT_API_URL reuses the server an earlier one left, leases it while it runs,
and the server ends itself once no command has leased it for PRORATA_PREFECT_SERVER_IDLE_MINUTES —
a command killed with SIGKILL included; Ctrl-C and SIGTERM still end a command's flow run; ``stop``
ends the server now. (Every other test runs with the idle time 0: tests/conftest.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from flows.prefect import server
from tests.flows.prefect.test_prefect_truth import PRORATA, ROOT, SAMPLE, client_env, with_id

pytestmark = [pytest.mark.prefect, pytest.mark.server]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*PRORATA, *args], env=env, capture_output=True, text=True, timeout=300)


def _start(extract: Path, out_dir: Path, env: dict[str, str]) -> subprocess.Popen:
    """``prorata run`` started, returned once it writes its plan batches (well under way)."""
    proc = subprocess.Popen(
        [*PRORATA, "run", str(extract), "--out", str(out_dir), "--batch-rows", "300"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "plan batch 1/" in line:
            return proc
    raise AssertionError(f"the run ended before its plan batches: {proc.wait()}")


def _flow_states(api_url: str) -> dict[str, str]:
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(api_url) as client:
        return {run.name: run.state.type.value for run in client.read_flow_runs()}


def _recorded(home: Path) -> dict:
    state = server.read_state(home)
    assert state is not None and server._pid_alive(state["pid"])
    return state


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while server._pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not server._pid_alive(pid)


@pytest.fixture
def home(tmp_path):
    """A PREFECT_HOME of its own; the server recorded in it (only that one) ended afterwards."""
    folder = tmp_path / "prefect-home"
    yield folder
    server.stop_shared(folder, timeout=5)


def test_the_next_command_reuses_the_server_and_it_ends_after_its_idle_time_a_killed_command_included(
    home, tmp_path
):
    env = client_env(None, home, PRORATA_PREFECT_SERVER_IDLE_MINUTES="0.2")  # 12 s
    first = _run(["run", str(SAMPLE), "--out", str(tmp_path / "out1"), "--quiet"], env)
    assert first.returncode == 0, first.stderr
    started = _recorded(home)  # the server outlived the command that started it
    assert server.healthy(started["api_url"]) and server.live_leases(home) == []

    killed = _start(with_id(tmp_path / "k", SAMPLE, "killed-run"), tmp_path / "out2", env)
    assert server.live_leases(home) == [killed.pid] and _recorded(home)["pid"] == started["pid"]
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)

    third = _run(
        ["run", str(with_id(tmp_path / "t", SAMPLE, "third-run")), "--out", str(tmp_path / "out3")], env
    )
    assert third.returncode == 0, third.stderr
    assert _recorded(home)["pid"] == started["pid"]  # no new server: the same one, still healthy
    states = _flow_states(started["api_url"])
    # the killed command could not report its end; the third command found its process gone
    assert states["run third-run"] == "COMPLETED" and states["run killed-run"] == "CRASHED"

    # the killed command's lease has expired: the server ends after 12 idle seconds
    assert _gone(started["pid"], within=12 + 30)
    assert server.read_state(home) is None and server.live_leases(home) == []
    assert "Traceback" not in (home / server.LOG).read_text()


def test_ctrl_c_and_sigterm_end_the_flow_runs_on_a_shared_server_and_stop_ends_it_now(home, tmp_path):
    env = client_env(None, home, PRORATA_PREFECT_SERVER_IDLE_MINUTES="10")
    outcomes = {}
    for how, extract_id in ((signal.SIGINT, "interrupted-run"), (signal.SIGTERM, "terminated-run")):
        proc = _start(with_id(tmp_path / extract_id, SAMPLE, extract_id), tmp_path / extract_id / "out", env)
        proc.send_signal(how)
        _, err = proc.communicate(timeout=120)
        assert "the outputs were left as they were" in err and "Traceback" not in err, err
        outcomes[extract_id] = (proc.returncode, _recorded(home)["pid"])
    pid, api_url = _recorded(home)["pid"], _recorded(home)["api_url"]
    assert outcomes == {"interrupted-run": (130, pid), "terminated-run": (143, pid)}  # one server, kept
    states = _flow_states(api_url)
    assert states["run interrupted-run"] == states["run terminated-run"] == "CRASHED"

    status = subprocess.run(
        [*PRORATA[:1], "-m", "flows.prefect.server", "status", "--home", str(home)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0 and f"temporary Prefect server running: pid {pid}" in status.stdout
    stop = subprocess.run(
        [*PRORATA[:1], "-m", "flows.prefect.server", "stop", "--home", str(home)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert stop.stdout == f"temporary Prefect server stopped (pid {pid})\n"
    assert not server._pid_alive(pid) and server.read_state(home) is None


def test_a_server_of_another_prefect_version_is_replaced_not_reused(home, tmp_path):
    env = client_env(None, home, PRORATA_PREFECT_SERVER_IDLE_MINUTES="10")
    assert _run(["run", str(SAMPLE), "--out", str(tmp_path / "out1"), "--quiet"], env).returncode == 0
    old = _recorded(home)
    server._write_state(home, {**old, "prefect": "0.0.1"})  # as a server of an older install records it
    assert _run(["run", str(SAMPLE), "--out", str(tmp_path / "out2"), "--quiet"], env).returncode == 0
    new = _recorded(home)
    assert new["pid"] != old["pid"] and not server._pid_alive(old["pid"])
    assert new["prefect"] != "0.0.1"


def test_stop_refuses_while_a_command_uses_the_server_unless_forced(home, tmp_path):
    env = client_env(None, home, PRORATA_PREFECT_SERVER_IDLE_MINUTES="10")
    assert _run(["run", str(SAMPLE), "--out", str(tmp_path / "out"), "--quiet"], env).returncode == 0
    pid = _recorded(home)["pid"]
    me = os.getpid()  # a command holding a lease, as a running `prorata run` does
    (home / server.LEASES).mkdir(exist_ok=True)
    (home / server.LEASES / str(me)).write_text(server._birth(me))

    def stop(*extra: str) -> subprocess.CompletedProcess:
        command = [*PRORATA[:1], "-m", "flows.prefect.server", "stop", "--home", str(home), *extra]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)

    refused = stop()
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"1 running command(s) use it (pid {me})" in refused.stderr and "--force" in refused.stderr
    assert server._pid_alive(pid) and _recorded(home)["pid"] == pid  # still serving
    forced = stop("--force")
    assert forced.returncode == 0 and forced.stdout == f"temporary Prefect server stopped (pid {pid})\n"
    assert _gone(pid, within=10) and server.read_state(home) is None
