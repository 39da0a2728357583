"""Crash safety: ``prorata nightly`` (and ``prorata file``) killed with SIGKILL at several points —
named steps (``PRORATA_CRASH_AFTER``) and arbitrary moments — leave a store from which the next run
completes, with the same store and outputs as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from flows.io import history
from flows.io import store as st
from flows.season.filings import filings_table, pending_filings
from tests.ops_builders import year_extracts

pytestmark = [pytest.mark.kills, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def prorata(args: list[str], crash_after: str | None = None, kill_after_seconds: float | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PRORATA_CRASH_AFTER"}
    if crash_after:
        env["PRORATA_CRASH_AFTER"] = crash_after
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli.main", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if kill_after_seconds is not None:
        try:
            proc.wait(timeout=kill_after_seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=300)
    return proc.returncode


def nightly(inbox: Path, store: Path, **kw) -> int:
    return prorata(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"], **kw)


def snapshot(store_root: Path) -> dict:
    """The store and the outputs as data: ledger (without wall-clock times), live rows, output files
    (the manifest without stage timings), and whether any leftover of a killed run is visible."""
    store = st.Store(store_root)
    led = st.ledger(store, 2025).drop("ingested_at")
    live = {name: frame.to_dicts() for name, frame in st.live_tables(store, 2025).items()}
    out = store.outputs(2025)
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            if path.name == "manifest.json":
                manifest = json.loads(path.read_text())
                manifest.pop("stage_seconds")
                files[path.name] = manifest
            else:
                files[str(path.relative_to(out))] = path.read_bytes()
    leftovers = sorted(p.name for p in (store_root / "outputs").iterdir() if p.name.startswith("."))
    return {"ledger": led.to_dicts(), "live": live, "outputs": files, "leftovers": leftovers}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crash")
    src = year_extracts(root / "src")
    inbox = root / "inbox"
    inbox.mkdir()
    for name, folder in src.items():
        shutil.copytree(folder, inbox / name)
    return inbox


@pytest.fixture(scope="module")
def clean(inbox, tmp_path_factory) -> dict:
    store = tmp_path_factory.mktemp("clean") / "store"
    assert nightly(inbox, store) == 0
    return snapshot(store)


@pytest.mark.slow
@pytest.mark.parametrize(
    "step",
    [
        "ingest:plans",
        "ingest:distributions",
        "ingest:control_totals",
        "ingest:ledger",
        "rebuild:materialised",
        "rebuild:outputs",
    ],
)
def test_nightly_killed_after_a_step_completes_on_the_next_run_as_if_never_killed(
    inbox, clean, tmp_path, step
):
    store = tmp_path / "store"
    assert nightly(inbox, store, crash_after=step) == -signal.SIGKILL
    assert nightly(inbox, store) == 0
    assert snapshot(store) == clean


@pytest.mark.slow
def test_nightly_killed_at_arbitrary_moments_completes_on_the_next_run(inbox, clean, tmp_path):
    store = tmp_path / "store"
    kills = 0
    for delay in (0.8, 1.4, 2.0, 2.6, 3.2):
        code = nightly(inbox, store, kill_after_seconds=delay)
        kills += code == -signal.SIGKILL
    assert nightly(inbox, store) == 0
    assert snapshot(store) == clean
    assert kills >= 1  # at least one run was really killed part-way


@pytest.mark.slow
def test_file_and_approve_killed_part_way_record_one_filing_on_the_next_run(inbox, tmp_path):
    store = tmp_path / "store"
    assert nightly(inbox, store) == 0
    args = ["file", "--store", str(store), "--tax-year", "2025", "--user", "alice"]
    assert prorata(args, crash_after="file:written") == -signal.SIGKILL
    assert pending_filings(st.Store(store), 2025).height == 0  # the step was never recorded
    assert prorata(args) == 0
    pending = pending_filings(st.Store(store), 2025)
    assert pending.height == 1 and pending["by"][0] == "alice"
    filing_id = pending["filing_id"][0]
    assert [p.name for p in (store / "filings" / "2025").iterdir()] == [filing_id]
    assert filings_table(st.Store(store), 2025).height == 0  # prepared, not filed
    approve = [
        "approve",
        "--store",
        str(store),
        "--tax-year",
        "2025",
        "--filing-id",
        filing_id,
        "--user",
        "bob",
    ]
    # killed after the commit point (the filings appended) but before the step is in the history
    assert prorata(approve, crash_after="approve:recorded") == -signal.SIGKILL
    assert filings_table(st.Store(store), 2025).height == 8
    assert prorata(approve) == 0  # "already approved": the missing history step is recorded
    steps = history.events(st.Store(store), 2025).filter(pl.col("filing_id") == filing_id)
    assert steps.select("action", "actor").rows() == [("prepare", "alice"), ("approve", "bob")]
    assert prorata(args) == 0  # filing again: nothing changed, nothing prepared
    assert filings_table(st.Store(store), 2025).height == 8
    assert pl.read_delta(str(store / "ytd" / "2025" / "filings")).height == 8
