"""Prefect's fixed cost per command: ``prorata run`` on a 200-disbursement extract (tax year 2026),
with and without Prefect, on a warm ``PREFECT_HOME``; and where the seconds go.

    python -m benchmarks.prefect_cost [--data bench_data] [--repeat 5]

Rows (each the median of ``--repeat`` fresh processes, wall time, the rows measured in turn, with the
load average):

- ``--no-prefect``: the same stages without Prefect;
- *temporary server, started*: no ``PREFECT_API_URL``, no temporary server running in the home
  (stopped before each run): the command starts the home's shared server (``flows.prefect.server.Shared``,
  at the very start of the command: ``start_early``), which stays up after it;
- *temporary server, reused*: the next commands (the default, once a command has run in the last
  ``PRORATA_PREFECT_SERVER_IDLE_MINUTES``): the server left by the one before;
- *temporary server of the command* (``PRORATA_PREFECT_SERVER_IDLE_MINUTES=0``): the command starts
  Prefect's API as its child and stops it on the way out (the only way before the shared server);
- *configured server*: ``PREFECT_API_URL`` names a running server (``make prefect-server``), the
  production setting.

The fixed cost is each one's median less the ``--no-prefect`` median. The parts, each measured on
its own: the command's ``import prefect``; the temporary server's ``import prefect.server.api.server``
and its time until healthy (a child process started and polled as the command does); its first API
answer (the server's own first-request work); the flow of three tasks less its stages
(``flow overhead``), and the stop, from the command's own timeline (with its own server, and reusing one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRORATA = str(Path(sys.executable).with_name("prorata"))


def _timed(args: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, env=env, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t0


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def _load() -> float:
    return os.getloadavg()[0]


TIMELINE = r"""
import json, sys, time
T0 = time.perf_counter()
marks = {}
import flows.prefect.server as srv
from flows.cli import main as cli
def wrap(obj, name, key):
    orig = getattr(obj, name)
    def inner(*a, **k):
        marks[key + " start"] = time.perf_counter() - T0
        try:
            return orig(*a, **k)
        finally:
            marks[key + " end"] = time.perf_counter() - T0
    setattr(obj, name, inner)
wrap(srv, "_wait_healthy", "wait")
wrap(cli, "_run_flow", "flow")
rc = cli.main(sys.argv[1:])
marks["exit"] = time.perf_counter() - T0
print(json.dumps(marks))
"""


def _timeline(run: list[str], env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", TIMELINE, *run[1:]],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(data: Path, repeat: int) -> dict:
    extract = data / "extract-200-ty2026"
    if not (extract / "manifest.json").is_file():
        subprocess.run(
            [
                PRORATA,
                "sample",
                "--disbursements",
                "200",
                "--seed",
                "3",
                "--tax-year",
                "2026",
                "--out",
                str(extract),
            ],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
    out = data / "out-prefect-cost"
    home = data / "prefect-home"
    from flows.prefect import server

    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    shared_env = {**base, "PREFECT_HOME": str(home), "PRORATA_PREFECT_SERVER_IDLE_MINUTES": "10"}
    env = {**shared_env, "PRORATA_PREFECT_SERVER_IDLE_MINUTES": "0"}
    run = [PRORATA, "run", str(extract), "--out", str(out), "--quiet"]
    loads = [_load()]
    _timed(run, env)  # a warm home: the database created and migrated once
    # the production setting: a long-lived server (flows.prefect.server start), PREFECT_API_URL set
    served = server.start(data / "prefect-server-home", ui=False)
    configured_env = {**env, "PREFECT_API_URL": served.api_url}
    rows: dict[str, list[float]] = {
        "no_prefect": [],
        "started": [],
        "reused": [],
        "own": [],
        "configured": [],
    }
    try:
        _timed(run, configured_env)
        for _ in range(repeat):  # the rows in turn, so that the load of a shared machine weighs on each
            rows["no_prefect"].append(_timed([*run, "--no-prefect"], env))
            server.stop_shared(home)
            rows["started"].append(_timed(run, shared_env))
            rows["reused"].append(_timed(run, shared_env))
            rows["own"].append(_timed(run, env))
            rows["configured"].append(_timed(run, configured_env))
            loads.append(_load())
    finally:
        server.stop(data / "prefect-server-home")
    reused_timelines = [_timeline(run, shared_env) for _ in range(repeat)]
    server.stop_shared(home)
    stages = json.loads((out / "manifest.json").read_text())["stage_seconds"]
    timelines = [_timeline(run, env) for _ in range(repeat)]
    import_prefect = [_timed([sys.executable, "-c", "import prefect"], env) for _ in range(repeat)]
    import_server = [
        _timed([sys.executable, "-c", "import prefect.server.api.server"], env) for _ in range(repeat)
    ]
    child = [_child_start(env) for _ in range(repeat)]
    loads.append(_load())
    flow = [t["flow end"] - t["flow start"] for t in timelines]
    stage_s = sum(stages.get(k, 0.0) for k in ("read_validate", "split", "write"))
    no_prefect = rows.pop("no_prefect")
    return {
        "repeat": repeat,
        "no_prefect_s": _median(no_prefect),
        **{f"{name}_s": _median(times) for name, times in rows.items()},
        **{
            f"fixed_cost_{name}_s": round(_median(times) - _median(no_prefect), 2)
            for name, times in rows.items()
        },
        "parts": {
            "import prefect (command)": _median(import_prefect),
            "import prefect.server.api.server (server)": _median(import_server),
            "temporary server started until healthy (alone)": _median([c[0] for c in child]),
            "its first API answer": _median([c[1] for c in child]),
            "command: imports and checks before waiting for the server": _median(
                [t["wait start"] for t in timelines]
            ),
            "command: waiting for the server": _median([t["wait end"] - t["wait start"] for t in timelines]),
            "flow of three tasks": _median(flow),
            "flow overhead (flow less its stages)": round(_median(flow) - stage_s, 2),
            "stop (drain and end the server)": _median([t["exit"] - t["flow end"] for t in timelines]),
            "reused: waiting for the server": _median(
                [t["wait end"] - t["wait start"] for t in reused_timelines]
            ),
            "reused: flow of three tasks": _median(
                [t["flow end"] - t["flow start"] for t in reused_timelines]
            ),
            "reused: after the flow (drain, lease)": _median(
                [t["exit"] - t["flow end"] for t in reused_timelines]
            ),
        },
        "load_min": min(loads),
        "load_max": max(loads),
    }


def _child_start(env: dict) -> tuple[float, float]:
    """The temporary server alone: seconds until healthy, then its first API answer."""
    code = (
        "import json, os, time, urllib.request\n"
        "from flows.prefect import env; env.configure()\n"
        "from flows.prefect import server as s\n"
        "t = time.perf_counter(); e = s.Early(dict(os.environ, **s._CHILD_FIXED)); url = e.wait(120)\n"
        "h = time.perf_counter() - t; t = time.perf_counter()\n"
        "urllib.request.urlopen(url + '/admin/version').read(); v = time.perf_counter() - t\n"
        "e.end(); print(json.dumps([h, v]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="bench_data")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = ROOT / args.data
    data.mkdir(exist_ok=True)
    print(json.dumps(measure(data, args.repeat)))


if __name__ == "__main__":
    main()
