"""OUT_DIR is replaced only when it is prorata's, and atomically: the old or the new result at every
instant, whatever kills the run or fails where (issue 18). Kills are real SIGKILLs of the command
at named instants (``PRORATA_CRASH_AFTER``) and at arbitrary moments; failures are injected I/O
errors at the exchange and between the two renames of the fallback swap."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.cli.main import main
from flows.io import outputs

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "tests" / "data" / "seed-cases" / "extract"
SAMPLE = ROOT / "sample_data" / "extract"


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def prorata(args: list[str], *, crash_after: str | None = None, prelude: str = "", timeout=300):
    """The command in a process of its own (``prelude``: Python run first, to force a path)."""
    env = {k: v for k, v in os.environ.items() if k != "PRORATA_CRASH_AFTER"}
    env["PYTHONPATH"] = str(ROOT)
    if crash_after:
        env["PRORATA_CRASH_AFTER"] = crash_after
    code = f"{prelude}\nimport sys\nfrom flows.cli.main import main\nsys.exit(main({args!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def digest(folder: Path) -> dict[str, str]:
    """Every file of a folder by content (the manifest without its stage timings)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "manifest.json":
                manifest = json.loads(data)
                manifest.pop("stage_seconds", None)
                data = json.dumps(manifest, sort_keys=True).encode()
            out[str(path.relative_to(folder))] = hashlib.sha256(data).hexdigest()
    return out


def leftovers(out_dir: Path) -> list[str]:
    return sorted(p.name for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}."))


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    """The two results a folder can hold in these tests: the seed extract's and the sample's."""
    root = tmp_path_factory.mktemp("results")
    done = {}
    for name, extract in (("seed", SEED), ("sample", SAMPLE)):
        assert main(["run", str(extract), "--out", str(root / name), "--no-prefect", "--quiet"]) == 0
        done[name] = digest(root / name)
    return done


def no_prefect_run(extract: Path, out_dir: Path) -> list[str]:
    return ["run", str(extract), "--out", str(out_dir), "--no-prefect", "--quiet"]


# ---- whose folder -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "manifest",
    [
        {"name": "another program", "version": 3},  # any other program's manifest.json
        {"run_id": "x", "extract_id": "y", "rows": {}},  # some of a run's keys, not prorata's
        {"extract_id": "e", "recordkeeper": "r", "tax_year": 2025, "created_at": "2026-01-01"},  # an extract
    ],
)
def test_a_folder_with_a_manifest_of_another_program_is_never_replaced(tmp_path, capsys, manifest):
    target = tmp_path / "theirs"
    target.mkdir()
    (target / "manifest.json").write_text(json.dumps(manifest))
    (target / "precious.txt").write_text("not ours")
    code, _, err = run(no_prefect_run(SEED, target), capsys)
    assert code == 2
    assert err.count("\n") == 1 and "not a prorata output folder" in err and str(target) in err
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "precious.txt"]
    assert leftovers(target) == []


def test_a_prorata_result_holding_a_file_prorata_did_not_write_is_not_replaced(tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    (out_dir / "notes.docx").write_text("the analyst's notes")
    code, _, err = run(no_prefect_run(SEED, out_dir), capsys)
    assert code == 2 and "holds 'notes.docx', which prorata did not write" in err
    assert (out_dir / "notes.docx").read_text() == "the analyst's notes"


def test_a_result_written_before_the_software_field_is_still_prorata_s_and_replaced(tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["software"] == "prorata"
    del manifest["software"]  # as an earlier version wrote it
    (out_dir / "manifest.json").write_text(json.dumps(manifest))
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    assert json.loads((out_dir / "manifest.json").read_text())["software"] == "prorata"


def test_a_run_never_replaces_a_reconciliation_or_a_filing_folder(tmp_path, capsys):
    for kind in ({"kind": "prorata-reconciliation"}, {"kind": "original", "filing_id": "2025-001-o"}):
        target = tmp_path / kind["kind"]
        target.mkdir()
        (target / "manifest.json").write_text(json.dumps(kind))
        code, _, err = run(no_prefect_run(SEED, target), capsys)
        assert code == 2 and "not a prorata output folder" in err
        assert [p.name for p in target.iterdir()] == ["manifest.json"]


# ---- the swap: kills at the exact instants -------------------------------------------------------


@pytest.mark.kills
@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("swap:staged", "seed"),  # everything written and on disk, not yet swapped: the earlier result
        ("swap:exchanged", "sample"),  # swapped, the old result not yet removed: the new one
    ],
)
def test_a_run_killed_around_the_exchange_leaves_the_old_or_the_new_result_and_the_next_run_cleans_up(
    tmp_path, capsys, results, instant, expected
):
    out_dir = tmp_path / "out"
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    killed = prorata(no_prefect_run(SAMPLE, out_dir), crash_after=instant)
    assert killed.returncode == -signal.SIGKILL
    assert digest(out_dir) == results[expected]
    assert len(leftovers(out_dir)) == 1  # a staging folder (names and addresses), no longer locked
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    assert digest(out_dir) == results["seed"] and leftovers(out_dir) == []


FALLBACK = """
import errno, flows.io.outputs as o
def cannot(a, b):
    raise OSError(errno.EINVAL, "no RENAME_EXCHANGE here")
o.exchange = cannot
"""


def _no_exchange(a, b):
    raise OSError(errno.EINVAL, "no RENAME_EXCHANGE here")


@pytest.mark.kills
def test_killed_between_the_two_renames_of_the_fallback_swap_the_next_run_restores_the_old_result(
    tmp_path, capsys, monkeypatch, results
):
    """On a file system without RENAME_EXCHANGE the swap is two renames: killed between them, OUT_DIR
    is missing for a moment and the earlier result is in .OUT_DIR.old-*, which the next run puts back."""
    out_dir = tmp_path / "out"
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    killed = prorata(no_prefect_run(SAMPLE, out_dir), crash_after="swap:old-aside", prelude=FALLBACK)
    assert killed.returncode == -signal.SIGKILL
    assert not out_dir.exists()
    old = [name for name in leftovers(out_dir) if ".old-" in name]
    assert len(old) == 1 and digest(out_dir.parent / old[0]) == results["seed"]
    # the next run puts the earlier result back first, then swaps (two renames again)
    monkeypatch.setattr(outputs, "exchange", _no_exchange)
    done = outputs.clean_stale(out_dir.resolve())  # also removes the killed run's staging folder
    assert f"restored {old[0]}" in done and len(done) == 2
    assert digest(out_dir) == results["seed"]
    assert run(no_prefect_run(SAMPLE, out_dir), capsys)[0] == 0
    assert digest(out_dir) == results["sample"] and leftovers(out_dir) == []


# ---- the swap: injected failures -------------------------------------------------------------------


def test_an_io_error_at_the_exchange_leaves_the_earlier_result_and_no_staging_folder(
    tmp_path, capsys, monkeypatch, results
):
    out_dir = tmp_path / "out"
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0

    def broken(a, b):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(a))

    monkeypatch.setattr(outputs, "exchange", broken)
    code, _, err = run(no_prefect_run(SAMPLE, out_dir), capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"{out_dir}: cannot put the new outputs in place: Input/output error" in err
    assert digest(out_dir) == results["seed"] and leftovers(out_dir) == []


def test_a_failure_of_the_second_rename_of_the_fallback_swap_is_rolled_back(
    tmp_path, capsys, monkeypatch, results
):
    out_dir = tmp_path / "out"
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    monkeypatch.setattr(outputs, "exchange", _no_exchange)
    real_rename = os.rename

    def rename(src, dst):
        if Path(dst) == out_dir.resolve() and ".tmp-" in str(src):  # the new result into place
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return real_rename(src, dst)

    monkeypatch.setattr(outputs.os, "rename", rename)
    code, _, err = run(no_prefect_run(SAMPLE, out_dir), capsys)
    assert code == 2 and "No space left on device" in err
    assert digest(out_dir) == results["seed"] and leftovers(out_dir) == []


# ---- leftovers --------------------------------------------------------------------------------------


def test_the_next_run_removes_the_staging_folders_of_killed_runs_but_not_a_live_one(tmp_path, capsys):
    out_dir = tmp_path / "out"
    dead = [tmp_path / f".out.tmp-dead{i}" for i in range(3)] + [tmp_path / ".out.old-dead"]
    for folder in dead:
        folder.mkdir()
        (folder / "recipients.parquet").write_bytes(b"names and addresses")
    live = outputs.StagedOutput(out_dir)  # a run writing at the same moment: its folder is locked
    try:
        assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
        assert leftovers(out_dir) == [live.path.name]
    finally:
        live.discard()
    assert leftovers(out_dir) == []


@pytest.mark.kills
@pytest.mark.slow
def test_runs_killed_at_arbitrary_moments_always_leave_a_whole_result(tmp_path, capsys, results):
    """SIGKILL at moments spread over the work of a run (after its n-th progress line, and a little
    later): OUT_DIR is always one complete result, the earlier or the new one, and the next run
    cleans up whatever the killed ones left."""
    out_dir = tmp_path / "out"
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    killed = 0
    for line, pause in ((1, 0.0), (1, 0.5), (2, 0.0), (2, 0.4)):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows.cli.main",
                "run",
                str(SAMPLE),
                "--out",
                str(out_dir),
                "--no-prefect",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(line):  # progress lines: read and validated, split, (the run's end)
            proc.stderr.readline()
        time.sleep(pause)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        killed += proc.returncode == -signal.SIGKILL
        assert digest(out_dir) in (results["seed"], results["sample"])
    assert killed >= 3  # most of them really were killed part-way
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    assert digest(out_dir) == results["seed"] and leftovers(out_dir) == []


def test_a_ctrl_c_that_python_dropped_in_a_finaliser_still_stops_the_run_before_the_swap(
    tmp_path, capsys, monkeypatch, results
):
    """Python runs a signal handler between two bytecodes of the main thread; inside a finaliser its
    KeyboardInterrupt is printed as "Exception ignored" and dropped. The command remembers the
    signal: the run stops before its outputs are put in place, exit 130, the earlier result kept."""
    from flows.errors import forget_signals, on_signal
    from flows.run import pipeline

    out_dir = tmp_path / "out"
    assert run(no_prefect_run(SEED, out_dir), capsys)[0] == 0
    real = pipeline.run_edit_checks

    def dropped_ctrl_c(*args, **kwargs):
        with contextlib.suppress(KeyboardInterrupt):  # what a finaliser does with the handler's exception
            on_signal(signal.SIGINT, None)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run_edit_checks", dropped_ctrl_c)
    try:
        code, _, err = run(no_prefect_run(SAMPLE, out_dir), capsys)
    finally:
        forget_signals()  # the process goes on to run other tests' commands without main()
    assert (code, err) == (130, "prorata: error: interrupted; the outputs were left as they were\n")
    assert digest(out_dir) == results["seed"] and leftovers(out_dir) == []
