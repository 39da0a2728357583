"""File-system faults are one line naming the path and the problem, exit status 2, and leave the
data as it was (issue 18): a folder without write permission, a read-only file system, OUT_DIR a
mount point (both refused before the computation), a full disk while writing the outputs or the
store, an extract file that cannot be read.

The tests run as root here: a permission is taken away by dropping the capabilities that let root
ignore it (``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``) in the command's process; read-only and
full file systems are small tmpfs mounts, skipped with the reason where the test cannot mount."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli.main import main
from tests.flows.io.test_output_swap import digest, leftovers
from tests.ops_builders import year_inbox

pytestmark = pytest.mark.faults  # file-system faults, each in its own prorata run

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "tests" / "data" / "seed-cases" / "extract"
SAMPLE = ROOT / "sample_data" / "extract"
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _without_dac_override() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


def prorata(args: list[str], *, permissions: bool = False) -> subprocess.CompletedProcess:
    """The command in its own process; ``permissions``: subject to file permissions even as root."""
    return subprocess.run(
        [sys.executable, "-m", "flows.cli.main", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_without_dac_override if permissions else None,
    )


def here(args: list[str], capsys) -> subprocess.CompletedProcess:
    """The command in this process (where no permission has to be taken away)."""
    code = main(args)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("prorata: error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def permissions_apply() -> bool:
    probe = Path(f"/tmp/.prorata-perm-probe-{os.getpid()}")
    probe.mkdir(mode=0o555)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", f"import os; os.mkdir({str(probe / 'x')!r})"],
            preexec_fn=_without_dac_override,
            capture_output=True,
        )
        return proc.returncode != 0
    finally:
        shutil.rmtree(probe)


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *options: str):
    """A tmpfs of ``size`` mounted at ``path`` for the block (skipped where mount is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    opts = ",".join([f"size={size}", *options])
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("mounting a tmpfs needs root with CAP_SYS_ADMIN (not available here)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def no_work_done(proc: subprocess.CompletedProcess) -> None:
    """Refused before reading a row: no progress line of the computation."""
    assert "read and validated" not in proc.stderr and "split" not in proc.stderr


# ---- refused before the work ------------------------------------------------------------------------


def test_out_dir_in_a_folder_without_write_permission_is_refused_before_the_computation(tmp_path):
    if not permissions_apply():
        pytest.skip("file permissions cannot be made to apply to this process")
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    proc = prorata(["run", str(SAMPLE), "--out", str(parent / "out"), "--no-prefect"], permissions=True)
    line = one_line(proc)
    assert f"{parent}: cannot create OUT_DIR here (Permission denied)" in line
    no_work_done(proc)
    assert list(parent.iterdir()) == []


def test_out_dir_on_a_read_only_file_system_is_refused_before_the_computation(tmp_path):
    with tmpfs(tmp_path / "ro", "1m") as mount:
        assert (
            prorata(["run", str(SEED), "--out", str(mount / "out"), "--no-prefect", "--quiet"]).returncode
            == 0
        )
        before = digest(mount / "out")
        remount_read_only(mount)
        proc = prorata(["run", str(SAMPLE), "--out", str(mount / "out"), "--no-prefect"])
        assert f"{mount}: cannot create OUT_DIR here (Read-only file system)" in one_line(proc)
        no_work_done(proc)
        assert digest(mount / "out") == before


def test_an_out_dir_that_is_a_mount_point_is_refused_before_the_computation(tmp_path, capsys):
    with tmpfs(tmp_path / "mnt", "1m") as mount:
        proc = here(["run", str(SAMPLE), "--out", str(mount), "--no-prefect"], capsys)
        assert f"{mount}: is a mount point, which cannot be replaced" in one_line(proc)
        no_work_done(proc)
        assert list(mount.iterdir()) == []


def test_an_extract_file_without_read_permission_is_one_line_naming_it(tmp_path):
    if not permissions_apply():
        pytest.skip("file permissions cannot be made to apply to this process")
    extract = shutil.copytree(SEED, tmp_path / "extract")
    (extract / "payees.parquet").chmod(0o000)
    proc = prorata(["run", str(extract), "--out", str(tmp_path / "out"), "--no-prefect"], permissions=True)
    assert f"{extract / 'payees.parquet'}: not a readable Parquet file (Permission denied)" in one_line(proc)


# ---- a full disk while writing ----------------------------------------------------------------------


def test_a_full_disk_while_writing_the_outputs_is_one_line_and_leaves_the_earlier_result(tmp_path, capsys):
    with tmpfs(tmp_path / "small", "512k") as mount:
        out_dir = mount / "out"
        assert (
            here(["run", str(SEED), "--out", str(out_dir), "--no-prefect", "--quiet"], capsys).returncode == 0
        )
        before = digest(out_dir)
        proc = here(["run", str(SAMPLE), "--out", str(out_dir), "--no-prefect", "--quiet"], capsys)
        line = one_line(proc)
        assert f"{out_dir}: " in line and "No space left on device" in line
        assert digest(out_dir) == before and leftovers(out_dir) == []


def test_a_full_disk_under_the_store_stops_the_nightly_with_one_line_and_a_store_that_still_works(
    tmp_path, capsys
):
    inbox = year_inbox(tmp_path)
    with tmpfs(tmp_path / "small", "64k") as mount:
        store = mount / "store"
        proc = here(
            ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"], capsys
        )
        line = one_line(proc)
        assert str(store) in line and "No space left on device" in line
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        again = here(
            ["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"], capsys
        )
        assert again.returncode == 0, again.stderr
        assert "outputs rebuilt" in again.stdout  # the extract in (now or before the disk filled)
        assert "disbursements 5 out" in again.stdout


def test_a_full_disk_under_the_statements_folder_is_one_line_naming_it(tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert (
        here(["run", str(SAMPLE), "--out", str(out_dir), "--no-prefect", "--quiet"], capsys).returncode == 0
    )
    with tmpfs(tmp_path / "small", "64k") as mount:
        proc = here(["statements", str(out_dir), "--dest", str(mount / "pdf"), "--quiet"], capsys)
        assert one_line(proc) == f"prorata: error: {mount / 'pdf'}: No space left on device"
        # no half PDF: the statements are staged and swapped in whole, and the staging is removed
        assert [str(p.relative_to(mount)) for p in mount.rglob("*") if p.name.startswith(".")] == []
