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

**The temporary server** (:func:`ephemeral`). Without ``PREFECT_API_URL``, Prefect would start its
own server process as a child that outlives a command killed with SIGKILL or SIGTERM (and keeps the
command's stdout open, so a supervisor reading it hangs), and that shares the terminal's process
group, so Ctrl-C kills it before the flow run can report its end. The command starts one instead, in
a session of its own (Ctrl-C reaches only the command, which reports the run's end) with no handle
on the command's stdin, stdout or stderr. Its start-up (``import prefect.server.api.server``, about
3 s) is most of Prefect's cost per command, so by default it is shared, like Gradle's daemon:

- **Shared** (:class:`Shared`, ``python -m flows.prefect.server shared``; the default). The server
  outlives the command that started it and serves the next commands of the same ``PREFECT_HOME``.
  ``PREFECT_HOME/temporary-server.json`` records it (pid and start time, API URL, the prefect and
  prorata versions, the database); a command uses it when it runs, answers and matches, else ends
  it and starts another; finding or starting it happens under ``temporary-server.lock`` (``flock``),
  so commands started together share one. Each command holds a lease while it runs
  (``temporary-server.leases/PID``, gone when it ends; a lease whose process is dead — SIGKILL — has
  expired). The server ends itself once it has had no live lease for
  ``PRORATA_PREFECT_SERVER_IDLE_MINUTES`` (10), or when its home or state file is gone; its output
  goes to ``temporary-server.log``. ``python -m flows.prefect.server stop --home PREFECT_HOME`` ends it now.
  A flow run of ours runs inside a command, so a lease covers it; a run whose command was killed
  stays Running in the database and does not keep the server up.
- **The command's own** (:class:`Early`, ``python -m flows.prefect.server child``;
  ``PRORATA_PREFECT_SERVER_IDLE_MINUTES=0``). A child bound to the command's life: the kernel kills it
  when the command dies (``PR_SET_PDEATHSIG``), and a watchdog thread ends it if its parent pid changes
  (any platform, and a parent that died before the child armed itself); the command stops it on the
  way out.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]  # the folder of the flows package (the shared server imports it)


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
    """Whether ``pid`` runs (a zombie, ended and not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
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
    return pid is not None and _end_group(pid, timeout)


def _end_group(pid: int, timeout: float = 30.0) -> bool:
    """End the process group of ``pid`` (a server started in its own session): SIGTERM, then SIGKILL
    after ``timeout``; True if it ran."""
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


def _api_config(port: int):
    import uvicorn

    return uvicorn.Config(
        "prefect.server.api.server:create_app",
        factory=True,
        host=HOST,
        port=port,
        log_level="error",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


def serve_child(parent: int, port: int) -> None:
    """``python -m flows.prefect.server child``: Prefect's API on 127.0.0.1:``port`` (the app Prefect's own
    temporary server runs), for as long as ``parent`` lives."""
    die_with_parent(parent)
    import uvicorn

    uvicorn.Server(_api_config(port)).run()


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


def _server_command(action: str, port: int, *options: str) -> list[str]:
    return [sys.executable, "-m", "flows.prefect.server", action, "--port", str(port), *options]


def _spawn(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The child server process on a free port (not waited for)."""
    port = free_port()
    process = subprocess.Popen(
        _server_command("child", port, "--parent", str(os.getpid())),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process, f"http://{HOST}:{port}/api"


def _wait_healthy(alive: Callable[[], bool], api_url: str, timeout: float) -> bool:
    """Poll ``api_url`` until it answers (True), its process ends or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while alive() and time.monotonic() < deadline:
        if healthy(api_url, timeout=1.0):
            return True
        time.sleep(0.05)
    return False


NOT_STARTED = "the temporary Prefect server did not start; set PREFECT_API_URL to a running server"


class Early:
    """The temporary server of one command (``PRORATA_PREFECT_SERVER_IDLE_MINUTES=0``), a child bound to
    its life (module docstring). Started by :func:`start_early` at the very start of a command, before
    the command imports Prefect and checks its inputs, so that the server's start-up (about 3 s of
    imports in the child) runs beside the command's own; :func:`ephemeral` then waits for it, or
    ends it when a server is configured after all (a profile's ``PREFECT_API_URL``). Ended at the
    latest when the command's ``with`` block ends."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen | None
        self.process, self.api_url = _spawn(env)

    def wait(self, timeout: float) -> str:
        for attempt in range(3):  # the port may be taken between free_port() and the bind: try another
            if attempt:
                self.process, self.api_url = _spawn(self.env)
            if _wait_healthy(self._alive, self.api_url, timeout):
                return self.api_url
            self.end()
        raise RuntimeError(NOT_STARTED)

    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def end(self, grace: float = 10.0) -> None:
        if self.process is not None:
            _end(self.process, grace=grace)
            self.process = None

    def discard(self) -> None:
        """A server is configured after all: this one is not needed."""
        self.end(grace=2.0)

    def __enter__(self) -> Early:
        return self

    def __exit__(self, *_: object) -> None:
        self.end(grace=2.0)


# ---- the temporary server shared by the commands of a PREFECT_HOME ------------------------------

STATE = "temporary-server.json"
"""Beside the database: the shared server's pid, API URL and what it serves (:func:`_identity`)."""
LOCK = "temporary-server.lock"
LEASES = "temporary-server.leases"
"""One file per command using the server, named by its pid: the server's reason to stay up."""
LOG = "temporary-server.log"
START_SECONDS = 120.0
"""How long a server recorded but not yet healthy is taken as starting (commands wait for it)."""

_DETACHED: list[subprocess.Popen] = []  # the servers this process started: never reaped, never ended


def prefect_home(env: Mapping[str, str]) -> Path:
    """The ``PREFECT_HOME`` of ``env`` (Prefect's default ``~/.prefect``)."""
    return Path(env.get("PREFECT_HOME") or "~/.prefect").expanduser().resolve()


def _identity(home: Path, env: Mapping[str, str]) -> dict[str, str]:
    """What a command checks before it uses a running server: the versions and the database."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("prefect", "prorata"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:  # prorata run from its source folder, not installed
            versions[name] = ""
    url = env.get("PREFECT_SERVER_DATABASE_CONNECTION_URL") or env.get("PREFECT_API_DATABASE_CONNECTION_URL")
    database = f"sha256:{hashlib.sha256(url.encode()).hexdigest()}" if url else str(home / "prefect.db")
    return {**versions, "database": database}


def _birth(pid: int) -> str:
    """The start time of process ``pid`` (Linux: /proc; "" elsewhere or when it is gone): with the
    pid, a process's identity even after the pid is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _same_process(pid: int, birth: str) -> bool:
    return _pid_alive(pid) and (not birth or _birth(pid) == birth)


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """The home's lock (``flock``): finding or starting the server, taking a lease, ending for idleness."""
    import fcntl

    fd = os.open(home / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_state(home: Path) -> dict | None:
    try:
        state = json.loads((home / STATE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("pid"), int) else None


def _write_state(home: Path, state: dict) -> None:
    part = home / f"{STATE}.{os.getpid()}"
    part.write_text(json.dumps(state, indent=1) + "\n")
    os.replace(part, home / STATE)


def live_leases(home: Path) -> list[int]:
    """The pids of the commands holding a lease on the server; the leases of dead commands
    (killed with SIGKILL) are removed."""
    live = []
    for lease in (home / LEASES).glob("*"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(lease.name)
            if _same_process(pid, lease.read_text().strip()):
                live.append(pid)
            else:
                lease.unlink(missing_ok=True)
    return sorted(live)


class Shared:
    """The temporary server of a ``PREFECT_HOME``, found or started by a command and leased by it while
    it runs (module docstring). Started detached: in a session of its own, with no handle on the
    command's stdin, stdout or stderr, its output in ``PREFECT_HOME/temporary-server.log``; it ends
    itself after ``idle`` seconds without a lease (:func:`serve_shared`)."""

    def __init__(self, env: dict[str, str], idle: float) -> None:
        self.env, self.idle = env, idle
        self.home = prefect_home(env)
        self.home.mkdir(parents=True, exist_ok=True)
        self.lease: Path | None = self.home / LEASES / str(os.getpid())
        self.process: subprocess.Popen | None = None  # when this command started it
        with _locked(self.home):
            self.lease.parent.mkdir(exist_ok=True)
            self.lease.write_text(_birth(os.getpid()))
            self.pid, self.api_url = self._find_or_start()

    def _find_or_start(self) -> tuple[int, str]:
        """Under the lock: the recorded server if it is this one's to use, else a new one."""
        state = read_state(self.home)
        if state is not None and _same_process(state["pid"], state.get("birth", "")):
            identity = _identity(self.home, self.env)
            fits = all(state.get(key) == value for key, value in identity.items())
            starting = time.time() - float(state.get("since", 0)) < START_SECONDS
            if fits and (starting or healthy(state["api_url"], timeout=1.0)):
                return state["pid"], state["api_url"]
            _end_group(state["pid"])  # another version, another database, or not answering
        return self._start()

    def _start(self) -> tuple[int, str]:
        port = free_port()
        env = {
            **self.env,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), self.env.get("PYTHONPATH")])),
        }
        with (self.home / LOG).open("ab") as log:
            self.process = subprocess.Popen(
                _server_command("shared", port, "--home", str(self.home), "--idle", str(self.idle)),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )
        _DETACHED.append(self.process)
        api_url = f"http://{HOST}:{port}/api"
        _write_state(
            self.home,
            {
                "pid": self.process.pid,
                "birth": _birth(self.process.pid),
                "api_url": api_url,
                "since": time.time(),
                "idle_seconds": self.idle,
                **_identity(self.home, self.env),
            },
        )
        return self.process.pid, api_url

    def _alive(self) -> bool:
        if self.process is not None:  # our child: a zombie once it ends
            return self.process.poll() is None
        return _pid_alive(self.pid)

    def wait(self, timeout: float) -> str:
        for _ in range(3):  # the port may be taken between free_port() and the bind: another server
            if _wait_healthy(self._alive, self.api_url, timeout):
                return self.api_url
            with _locked(self.home):
                state = read_state(self.home)
                if state is not None and state["pid"] == self.pid:
                    _end_group(self.pid)
                    (self.home / STATE).unlink(missing_ok=True)
                self.process = None
                self.pid, self.api_url = self._find_or_start()
        raise RuntimeError(f"{NOT_STARTED} (see {self.home / LOG})")

    def end(self, grace: float = 0.0) -> None:
        """The command is done with the server: its lease goes; the server stays up for the next."""
        if self.lease is not None:
            self.lease.unlink(missing_ok=True)
            self.lease = None

    def discard(self) -> None:
        """A server is configured after all: the lease goes, and the server too if this command
        started it."""
        self.end()
        if self.process is not None:
            stop_shared(self.home)

    def __enter__(self) -> Shared:
        return self

    def __exit__(self, *_: object) -> None:
        self.end()


def serve_shared(home: Path, port: int, idle: float) -> None:
    """``python -m flows.prefect.server shared``: Prefect's API on 127.0.0.1:``port`` for the commands of
    ``home``, until it has had no lease for ``idle`` seconds, or ``home`` or its state file is gone,
    or the state names another server. It never ends between a command's look-up and its lease:
    both happen under the home's lock, and so does its last look at the leases."""
    import uvicorn

    server = uvicorn.Server(_api_config(port))

    def watch() -> None:
        me, step = os.getpid(), min(5.0, max(0.2, idle / 10))
        with contextlib.suppress(OSError), _locked(home):
            pass  # the command that started this process has recorded it
        last_used = time.monotonic()
        while not server.should_exit:
            time.sleep(step)
            state = read_state(home)
            if state is None or state["pid"] != me:
                break
            if live_leases(home):
                last_used = time.monotonic()
            if time.monotonic() - last_used < idle:
                continue
            with contextlib.suppress(OSError), _locked(home):
                if live_leases(home):
                    last_used = time.monotonic()
                    continue
                (home / STATE).unlink(missing_ok=True)
            break
        server.should_exit = True  # uvicorn's own graceful shutdown; the output goes to the log
        time.sleep(30)
        os._exit(0)

    threading.Thread(target=watch, name="idle-watch", daemon=True).start()
    server.run()


def stop_shared(home: Path, timeout: float = 30.0) -> int | None:
    """End the temporary server shared by the commands of ``home`` now; its pid, or None if none ran."""
    home = Path(home).resolve()
    if not home.is_dir():
        return None
    with _locked(home):
        state = read_state(home)
        (home / STATE).unlink(missing_ok=True)
    if state is None or not _same_process(state["pid"], state.get("birth", "")):
        return None
    _end_group(state["pid"], timeout)
    return state["pid"]


def temporary_server(env: dict[str, str]) -> Early | Shared:
    """The server a command starts or reuses when none is configured, after
    ``PRORATA_PREFECT_SERVER_IDLE_MINUTES``: shared by the home's commands, or (0) its own child."""
    from flows.environment import environment

    idle = environment().prefect_server_idle_minutes * 60
    return Shared(env, idle) if idle > 0 else Early(env)


def start_early(enabled: bool = True) -> contextlib.AbstractContextManager[Early | Shared | None]:
    """The temporary server, found or started now when a command will need it and none is set in the
    environment (``PREFECT_API_URL``): pass it to :func:`ephemeral`. Its environment is this
    process's (Prefect's settings come from the same variables, profile and files as here)."""
    if not enabled or os.environ.get("PREFECT_API_URL"):
        return contextlib.nullcontext()
    return temporary_server({**os.environ, **_CHILD_FIXED})


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


PROCESS_TAG = "prorata-process"
"""The prefix of the tag every flow run a command starts carries: ``prorata-process:HOST:PID:START``."""

ORPHANS_READ = 200  # running flow runs looked at per command (a shared server has few at once)


def process_tag(pid: int | None = None) -> str:
    """The tag of the flow runs this process starts: its host, pid and start time (:func:`_birth`),
    so a later command can tell that the process is gone even if its pid was reused."""
    pid = os.getpid() if pid is None else pid
    return f"{PROCESS_TAG}:{socket.gethostname()}:{pid}:{_birth(pid)}"


def _orphaned(tags: list[str], host: str) -> int | None:
    """The pid of the gone process of this host that started a run with ``tags``, else None."""
    for tag in tags:
        parts = tag.split(":")
        if len(parts) == 4 and parts[0] == PROCESS_TAG and parts[1] == host and parts[2].isdigit():
            return None if _same_process(int(parts[2]), parts[3]) else int(parts[2])
    return None


def end_orphaned_runs() -> int:
    """Flow runs left Running or Pending by a command of this machine that is gone — killed with
    SIGKILL, or the machine stopped: no code of it ran to report the end — set Crashed, with a message
    saying so; the number set. Runs of other machines (a shared server) and of live processes are
    left alone. Called as each command starts (:func:`ephemeral`), so the UI stops showing a run
    that ended hours ago as running. Failures to reach the server are not the command's: ignored."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    host, ended = socket.gethostname(), 0
    states = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))
    # the server unreachable or refusing: the command goes on
    with contextlib.suppress(Exception), get_client(sync_client=True) as client:  # the settings' API
        for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(state=states), limit=ORPHANS_READ):
            pid = _orphaned(run.tags, host)
            if pid is None:
                continue
            message = (
                f"Crashed: the command that ran it (process {pid} on {host}) ended without reporting "
                "— killed (SIGKILL) or the machine stopped; found by a later command"
            )
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            ended += 1
    return ended


@contextlib.contextmanager
def _settled(api_url: str | None) -> Iterator[None]:
    """Orphaned runs ended (:func:`end_orphaned_runs`), then this command's flow runs tagged with
    :func:`process_tag` while the block runs."""
    if api_url is None:
        yield
        return
    from prefect import tags

    end_orphaned_runs()
    with tags(process_tag()):
        yield


@contextlib.contextmanager
def ephemeral(timeout: float = 120.0, early: Early | Shared | None = None) -> Iterator[str | None]:
    """The Prefect API for the length of a command: the configured server (``PREFECT_API_URL``,
    a profile, a test harness), else the temporary one (:func:`temporary_server`: the home's shared
    server, leased until the block ends, or a child of this process stopped on the way out) —
    however the block ends. Yields the API URL. ``early``: the server :func:`start_early` found or
    started, used (waited for) instead of one found now."""
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    url, allowed = _configured_api()
    if url or not allowed:
        if early is not None:
            early.discard()
        with _settled(url):
            yield url
        return
    server = early if early is not None else temporary_server(_child_env())
    before = os.environ.get("PREFECT_API_URL")
    # No flow run heartbeats: they tell a long-lived server that a run is alive; a run here ends
    # with its command. (Prefect's heartbeat thread sleeps in 1 s steps and is joined at the flow's end.)
    no_heartbeats = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    try:
        api_url = server.wait(timeout)
        os.environ["PREFECT_API_URL"] = api_url  # for the processes the flow starts (Dask workers)
        with temporary_settings(updates={PREFECT_API_URL: api_url, **no_heartbeats}):
            try:
                with _settled(api_url):
                    yield api_url
            finally:
                _drain_prefect_workers()
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before
        server.end()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.prefect.server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("action", choices=["start", "stop", "status", "child", "shared"])
    parser.add_argument("--parent", type=int, help="child: the pid of the command it serves")
    parser.add_argument("--idle", type=float, help="shared: seconds without a lease before it ends")
    parser.add_argument("--home", default=".prefect-server", help="PREFECT_HOME of the server")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument(
        "--database-url", help="postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB (default SQLite)"
    )
    parser.add_argument("--no-ui", action="store_true")
    parser.add_argument(
        "--force", action="store_true", help="stop: even while commands use the temporary server"
    )
    args = parser.parse_args(argv)
    if args.action == "child":
        serve_child(args.parent, args.port)
        return 0
    home = Path(args.home)
    if args.action == "shared":
        serve_shared(home.resolve(), args.port, args.idle)
        return 0
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
        using = live_leases(home.resolve()) if home.is_dir() else []
        if using and not args.force:
            print(
                f"temporary Prefect server not stopped: {len(using)} running command(s) use it "
                f"(pid {', '.join(map(str, sorted(using)))}); stopping it now would lose their flow "
                "runs' last states. Wait for them, or pass --force.",
                file=sys.stderr,
            )
            return 1
        stopped, shared = stop(home), stop_shared(home)
        if stopped:
            print("Prefect server stopped")
        if shared:
            print(f"temporary Prefect server stopped (pid {shared})")
        if not (stopped or shared):
            print("no Prefect server running")
        return 0
    return _status(home)


def _status(home: Path) -> int:
    pid = read_pid(home)
    url = (home / "server.url").read_text().strip() if (home / "server.url").is_file() else None
    state = read_state(home.resolve())
    code = 3
    if pid and url and healthy(url):
        print(f"Prefect server running: pid {pid}, {url}")
        code = 0
    if state and _same_process(state["pid"], state.get("birth", "")) and healthy(state["api_url"]):
        leases = live_leases(home.resolve())
        print(
            f"temporary Prefect server running: pid {state['pid']}, {state['api_url']}, "
            f"{len(leases)} command(s) using it, ends after {state['idle_seconds'] / 60:g} idle minute(s); "
            f"log {home.resolve() / LOG}"
        )
        code = 0
    if code:
        print("no Prefect server running")
    return code


if __name__ == "__main__":
    sys.exit(main())
