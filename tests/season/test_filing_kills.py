"""A filing killed while it is prepared (issue 18): ``prorata file`` writes the IRS file into
``STORE/filings/TAX_YEAR/FILING_ID`` (staged, swapped into place) and records the step; nothing is
filed until ``prorata approve`` appends the filing's rows to the store's Delta table, the commit
point (tests/season/test_crash_safety.py kills that one). Killed at any instant of the preparation — around
the swap of the filing's folder, after it, at arbitrary moments — the store holds no filing, and the
next ``file`` (which prepares it, or finds it prepared) and its approval record exactly one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.cli.main import main
from flows.io import store as st
from flows.season.filings import filings_table
from tests.ops_builders import approve_pending, year_inbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nightly_store(tmp_path_factory) -> Path:
    """A store after one nightly, not yet filed (copied by each test)."""
    root = tmp_path_factory.mktemp("filing-kills")
    inbox, store = year_inbox(root), root / "store"
    assert main(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]) == 0
    return store


def file_command(store: Path) -> list[str]:
    return ["file", "--store", str(store), "--tax-year", "2025"]


def killed_file(store: Path, *, crash_after: str | None = None, after_seconds: float | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PRORATA_CRASH_AFTER", None)
    if crash_after:
        env["PRORATA_CRASH_AFTER"] = crash_after
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli.main", *file_command(store)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if after_seconds is not None:
        time.sleep(after_seconds)
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=300)


def whole_or_none(store: Path) -> int:
    """The filings recorded: every row of one filing, or none (5 returns in this store)."""
    filings = filings_table(st.Store(store), 2025)
    assert filings.height in (0, 5)
    return filings.height


def files_once_more(store: Path, capsys) -> None:
    assert main(file_command(store)) == 0  # prepared now, or already by the killed run
    capsys.readouterr()
    approve_pending(store, 2025)
    filings = filings_table(st.Store(store), 2025)
    assert filings.height == 5 and filings["filing_id"].n_unique() == 1
    folders = sorted(p.name for p in (store / "filings" / "2025").iterdir())
    assert folders == [filings["filing_id"][0]]  # the filing's folder, no staging or old folder


@pytest.mark.kills
@pytest.mark.store
@pytest.mark.slow
@pytest.mark.parametrize("instant", ["swap:staged", "swap:done", "file:written"])
def test_a_filing_killed_at_an_instant_of_its_commit_is_recorded_once_by_the_next_run(
    nightly_store, tmp_path, capsys, instant
):
    store = shutil.copytree(nightly_store, tmp_path / "store")
    assert killed_file(store, crash_after=instant) == -signal.SIGKILL
    assert whole_or_none(store) == 0  # not approved: not filed
    files_once_more(store, capsys)


@pytest.mark.kills
@pytest.mark.store
@pytest.mark.slow
def test_a_filing_killed_at_arbitrary_moments_is_whole_or_absent_and_recorded_once_after(
    nightly_store, tmp_path, capsys
):
    """Kills spread over the last part of a ``file`` command (its start is imports and reads), as
    measured on a run that was not killed."""
    timed = shutil.copytree(nightly_store, tmp_path / "timed")
    started = time.monotonic()
    assert killed_file(timed) == 0
    took = time.monotonic() - started
    kills = 0
    for fraction in (0.5, 0.85):
        store = shutil.copytree(nightly_store, tmp_path / f"store-{fraction}")
        code = killed_file(store, after_seconds=took * fraction)
        kills += code == -signal.SIGKILL
        assert whole_or_none(store) == 0  # preparing never files: only the approval does
        files_once_more(store, capsys)
    assert kills >= 1  # at least one was really killed part-way
