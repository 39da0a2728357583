"""Prefect servers: a self-hosted one, started in the background, waited for until healthy, stopped;
and the temporary one a command starts for itself when no server is configured (:func:`ephemeral`).

    python -m flows.prefect.server start --home .prefect-server --port 4200 [--database-url URL] [--no-ui]
    python -m flows.prefect.server stop  --home .prefect-server
    python -m flows.prefect.server status --home .prefect-server

``make prefect-server`` / ``make prefect-server-stop`` call it; ``tests/conftest.py`` starts one per
test session the same way (``real_prefect_server``). The server's state lives under ``--home``
(``PREFECT_HOME``): the SQLite database ``prefect.db`` by default, or PostgreSQL with
``--database-url postgresql+asyncpg://…`` (Prefect 3.8's setting
``PREFECT_SERVER_DATABASE_CONNECTION_URL``; ``asyncpg`` ships with prefect). Beside it:
``server.pid``, ``server.url`` and ``server.log``. It listens on 127.0.0.1 only.

The process is started in its own session, so :func:`stop` ends exactly its process group (the
server and the workers it spawned), found by the pid it recorded — never by name.

**The temporary server of a command** (:func:`ephemeral`). Without ``PREFECT_API_URL``, Prefect
would start its own server process as a child that outlives a command killed with SIGKILL or
SIGTERM (and keeps the command's stdout open, so a supervisor reading it hangs), and that shares
the terminal's process group, so Ctrl-C kills it before the flow run can report its end. The
command starts it instead (``python -m flows.prefect.server child``): in a session of its own (Ctrl-C
reaches only the command, which reports the run's end and then stops the server), with no handle
on the command's stdin, stdout or stderr, and bound to the command's life — the kernel kills it when
the command dies (``PR_SET_PDEATHSIG``), and a watchdog thread ends it if its parent pid changes
(any platform, and a parent that died before the child armed itself).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


@dataclass
class Server:
    pid: int
    api_url: str
    home: Path
    seconds_to_healthy: float
    process: subprocess.Popen | None = None

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def prefect_executable() -> str:
    """The ``prefect`` script beside this interpreter (the project's .venv)."""
    candidate = Path(sys.executable).with_name("prefect")
    return str(candidate) if candidate.exists() else "prefect"


def server_env(home: Path, port: int, database_url: str | None, ui: bool) -> dict[str, str]:
    """The server's environment: this one without any client-side Prefect setting, plus its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_API_HOST": HOST,
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_ENABLED": "true" if ui else "false",
            "PREFECT_UI_ENABLED": "true" if ui else "false",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        }
    )
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    return env


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as resp:
            return resp.status == 200 and resp.read().strip() == b"true"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(home: Path) -> int | None:
    path = home / "server.pid"
    if not path.is_file():
        return None
    try:
        pid = int(path.read_text().strip())
    except ValueError:
        return None
    return pid if _pid_alive(pid) else None


def start(
    home: Path,
    port: int | None = None,
    database_url: str | None = None,
    ui: bool = True,
    timeout: float = 180.0,
) -> Server:
    """Start ``prefect server start`` in the background and wait until ``/api/health`` answers."""
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    running = read_pid(home)
    if running is not None:
        url = (home / "server.url").read_text().strip()
        if healthy(url):
            return Server(running, url, home, 0.0)
        raise RuntimeError(
            f"a server recorded in {home}/server.pid (pid {running}) is not healthy; stop it first"
        )
    port = port or free_port()
    api_url = f"http://{HOST}:{port}/api"
    log = (home / "server.log").open("ab")
    t0 = time.perf_counter()
    process = subprocess.Popen(
        [prefect_executable(), "server", "start", "--host", HOST, "--port", str(port), "--no-background"],
        env=server_env(home, port, database_url, ui),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
        start_new_session=True,  # its own process group: stop() ends exactly it
    )
    log.close()
    (home / "server.pid").write_text(f"{process.pid}\n")
    (home / "server.url").write_text(api_url + "\n")
    deadline = time.monotonic() + timeout
    while not healthy(api_url):
        if process.poll() is not None:
            (home / "server.pid").unlink(missing_ok=True)
            raise RuntimeError(
                f"the Prefect server exited with status {process.returncode}; see {home}/server.log"
            )
        if time.monotonic() > deadline:
            stop(home)
            raise RuntimeError(
                f"the Prefect server was not healthy within {timeout:.0f} s; see {home}/server.log"
            )
        time.sleep(0.25)
    return Server(process.pid, api_url, home, time.perf_counter() - t0, process)


def stop(home: Path, timeout: float = 30.0) -> bool:
    """End the server recorded in ``home/server.pid`` (its process group); True if one ran."""
    home = Path(home).resolve()
    pid = read_pid(home)
    (home / "server.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        with contextlib.suppress(ChildProcessError):  # reap it when it is our child (the test fixture)
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


# ---- the temporary server of a command ----------------------------------------------------------

PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.5


def die_with_parent(parent: int) -> None:
    """In the server process: be killed when ``parent`` dies (module docstring)."""
    with contextlib.suppress(Exception):  # Linux; elsewhere the watchdog alone
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def serve_child(parent: int, port: int) -> None:
    """``python -m flows.prefect.server child``: Prefect's API on 127.0.0.1:``port`` (the app Prefect's own
    temporary server runs), for as long as ``parent`` lives."""
    die_with_parent(parent)
    import uvicorn

    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host=HOST,
        port=port,
        log_level="error",
        lifespan="on",
    )


def _configured_api() -> tuple[str | None, bool]:
    """The API URL Prefect's settings give (environment, profile, test harness), and whether
    Prefect may start a temporary server when there is none."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    return settings.api.url, settings.server.ephemeral.enabled


_CHILD_FIXED = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


def _child_env() -> dict[str, str]:
    from prefect.settings import get_current_settings

    return {
        **os.environ,
        **get_current_settings().to_environment_variables(exclude_unset=True),
        **_CHILD_FIXED,
    }


def _spawn(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The child server process on a free port (not waited for)."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.prefect.server",
            "child",
            "--parent",
            str(os.getpid()),
            "--port",
            str(port),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process, f"http://{HOST}:{port}/api"


def _wait_healthy(process: subprocess.Popen, api_url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if healthy(api_url, timeout=1.0):
            return True
        time.sleep(0.05)
    _end(process)
    return False


def _start_child(timeout: float, early: Early | None = None) -> tuple[subprocess.Popen, str]:
    env = early.env if early is not None else _child_env()
    for attempt in range(3):  # the port may be taken between free_port() and the bind: try another
        process, api_url = early.take() if early is not None and attempt == 0 else _spawn(env)
        if _wait_healthy(process, api_url, timeout):
            return process, api_url
    raise RuntimeError("the temporary Prefect server did not start; set PREFECT_API_URL to a running server")


class Early:
    """The temporary server started at the very start of a command (:func:`start_early`), before
    the command imports Prefect and checks its inputs, so that the server's start-up (about 3 s of
    imports in the child) runs beside the command's own; :func:`ephemeral` then waits for it, or
    ends it when a server is configured after all (a profile's ``PREFECT_API_URL``). Ended at the
    latest when the command's ``with`` block ends — the same process, bound to the command's
    life the same way."""

    def __init__(self) -> None:
        self.env = {**os.environ, **_CHILD_FIXED}
        self.process: subprocess.Popen | None
        self.process, self.api_url = _spawn(self.env)

    def take(self) -> tuple[subprocess.Popen, str]:
        assert self.process is not None
        process, self.process = self.process, None
        return process, self.api_url

    def end(self) -> None:
        if self.process is not None:
            _end(self.process, grace=2.0)
            self.process = None

    def __enter__(self) -> Early:
        return self

    def __exit__(self, *_: object) -> None:
        self.end()


def start_early(enabled: bool = True) -> contextlib.AbstractContextManager[Early | None]:
    """The temporary server, started now when a command will need it and none is set in the
    environment (``PREFECT_API_URL``): pass it to :func:`ephemeral`. Its environment is this
    process's (Prefect's settings come from the same variables, profile and files as here)."""
    if not enabled or os.environ.get("PREFECT_API_URL"):
        return contextlib.nullcontext()
    return Early()


def _end(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the temporary server (its own process group): SIGTERM, then SIGKILL after ``grace``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _drain_prefect_workers(timeout: float = 10.0) -> None:
    """Send the flow run's last logs and events before the server goes."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout, at_exit=False)


@contextlib.contextmanager
def ephemeral(timeout: float = 120.0, early: Early | None = None) -> Iterator[str | None]:
    """The Prefect API for the length of a command: the configured server (``PREFECT_API_URL``,
    a profile, a test harness), else a temporary one bound to this process (module docstring),
    stopped on the way out — however the block ends. Yields the API URL. ``early``: the server
    :func:`start_early` started, used (waited for) instead of starting one now."""
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    url, allowed = _configured_api()
    if url or not allowed:
        if early is not None:
            early.end()
        yield url
        return
    process, api_url = _start_child(timeout, early)
    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # for the processes the flow starts (Dask workers)
    # No flow run heartbeats: they tell a long-lived server that a run is alive; this server dies
    # with the run. (Prefect's heartbeat thread sleeps in 1 s steps and is joined at the flow's end.)
    no_heartbeats = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url, **no_heartbeats}):
            try:
                yield api_url
            finally:
                _drain_prefect_workers()
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before
        _end(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.prefect.server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("action", choices=["start", "stop", "status", "child"])
    parser.add_argument("--parent", type=int, help="child: the pid of the command it serves")
    parser.add_argument("--home", default=".prefect-server", help="PREFECT_HOME of the server")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument(
        "--database-url", help="postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB (default SQLite)"
    )
    parser.add_argument("--no-ui", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "child":
        serve_child(args.parent, args.port)
        return 0
    home = Path(args.home)
    if args.action == "start":
        try:
            server = start(home, args.port, args.database_url, ui=not args.no_ui)
        except RuntimeError as exc:
            print(f"prefect server: {exc}", file=sys.stderr)
            return 1
        db = "PostgreSQL" if args.database_url else f"SQLite {server.home}/prefect.db"
        took = f" in {server.seconds_to_healthy:.1f} s" if server.seconds_to_healthy else " (already running)"
        print(f"Prefect server healthy{took} (pid {server.pid}, {db})")
        print(f"  API  {server.api_url}     export PREFECT_API_URL={server.api_url}")
        if not args.no_ui:
            print(f"  UI   {server.ui_url}")
        print(f"  log  {server.home}/server.log")
        return 0
    if args.action == "stop":
        print("Prefect server stopped" if stop(home) else "no Prefect server running")
        return 0
    pid = read_pid(home)
    url = (home / "server.url").read_text().strip() if (home / "server.url").is_file() else None
    if pid and url and healthy(url):
        print(f"Prefect server running: pid {pid}, {url}")
        return 0
    print("no Prefect server running")
    return 3


if __name__ == "__main__":
    sys.exit(main())
