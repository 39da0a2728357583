"""Progress of a run: the terminal bar (only on a terminal) and the Prefect progress artifact,
updated per plan batch and at 100 when the run is over; the summary artifact."""

import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from flows.prefect.progress import PROGRESS_KEY, SUMMARY_KEY, RunProgress, TerminalBar, percent_for
from flows.run.steps import READ, SPLIT, Step

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "sample_data" / "extract"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_steps_move_the_run_from_read_through_each_plan_batch_and_text_moves_nothing():
    assert percent_for(Step("read and validated 5,000 disbursements", READ)) == 20
    assert percent_for(Step("plan batch 1/4 done", SPLIT, 1, 4)) == pytest.approx(20 + 70 / 4)
    assert percent_for(Step("plan batch 4/4 done", SPLIT, 4, 4)) == 90
    assert percent_for(Step("split 4,995 disbursements into 3,829 forms", SPLIT)) == 90
    assert percent_for("starting the Prefect flow") is None
    assert percent_for("plan batch 1/4 done") is None  # a message is text: nothing parses it


def test_the_bar_draws_on_a_terminal_and_ends_at_100_percent():
    term, lines = Terminal(), []
    p = RunProgress(lines.append, TerminalBar(term))
    steps = [
        Step("read and validated 10 disbursements", READ),
        Step("plan batch 1/2 done", SPLIT, 1, 2),
        Step("plan batch 2/2 done", SPLIT, 2, 2),
    ]
    for step in steps:
        p(step)
    p.finish()
    out = term.getvalue()
    assert "[" + "#" * 28 + "] 100%" in out and out.endswith("\n")
    assert " 55%  plan batch 1/2 done" in out
    assert [str(line) for line in lines] == [
        "read and validated 10 disbursements",
        "plan batch 1/2 done",
        "plan batch 2/2 done",
    ]


def test_the_bar_is_silent_when_stderr_is_not_a_terminal_or_the_run_is_quiet():
    for bar in (TerminalBar(io.StringIO()), TerminalBar(Terminal(), quiet=True)):
        p = RunProgress(None, bar)
        p(Step("plan batch 1/1 done", SPLIT, 1, 1))
        p.finish()
        assert bar.stream.getvalue() == ""


def test_outside_a_flow_run_no_artifact_is_attempted():
    p = RunProgress()
    p(Step("plan batch 1/1 done", SPLIT, 1, 1))
    p.finish({"anything": 1})
    assert p.sent == [] and p.artifact_id is None and p.artifact_failed is None


@pytest.mark.prefect
def test_the_progress_artifact_reaches_100_on_a_run_updated_per_plan_batch(tmp_path, prefect_server):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from contracts.loading import read_extract
    from flows.prefect.run_flow import prorata_run

    p = RunProgress()
    manifest = prorata_run(SAMPLE, tmp_path / "out", progress=p, batch_rows=1500)
    assert p.artifact_failed is None
    plans = pl.read_parquet(SAMPLE / "distributions.parquet").group_by("plan_id").len()
    assert plans.height == 8
    # read 20, one step per plan batch (the last batch's step is the split's 90), then 100
    assert p.sent[0] == 20 and p.sent[-1] == 100 and p.sent == sorted(set(p.sent))
    batches = len(p.sent) - 2
    assert batches >= 3
    with get_client(sync_client=True) as client:
        progress = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[PROGRESS_KEY]))
        )
        summary = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SUMMARY_KEY]))
        )
    mine = [a for a in progress if a.id == p.artifact_id]
    assert len(mine) == 1 and mine[0].type == "progress" and float(mine[0].data) == 100.0
    text = "\n".join(str(a.data) for a in summary if a.flow_run_id == mine[0].flow_run_id)
    assert f"prorata run {manifest['run_id']}" in text
    payees = read_extract(SAMPLE)[1]["payees"]
    assert not [t for t in payees["tin"].to_list() if t in text]
    assert not [n for n in payees["last_name"].to_list() if len(n) > 3 and n in text]


def _run_with_stderr(stderr, tmp_path: Path):
    tmp_path.mkdir(parents=True, exist_ok=True)  # --out must be in a folder that exists
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli.main",
            "run",
            str(SAMPLE),
            "--out",
            str(tmp_path / "out"),
            "--no-prefect",
        ],
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PRORATA_PARTITION_ROWS": "1500"},
    )


@pytest.mark.prefect
def test_prorata_run_draws_the_bar_on_a_terminal_and_only_lines_into_a_pipe(tmp_path):
    master, slave = os.openpty()
    try:
        done = _run_with_stderr(slave, tmp_path / "tty")
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    assert done.returncode == 0
    tty = b"".join(chunks).decode()
    assert "] 100%" in tty and "plan batch" in tty and "\r" in tty
    piped = _run_with_stderr(subprocess.PIPE, tmp_path / "pipe")
    assert piped.returncode == 0
    err = piped.stderr.decode()
    assert "plan batch" in err and "%" not in err and "\r" not in err
