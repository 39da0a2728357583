"""Files holding TINs, names, addresses and birth dates are readable by their owner only (issue 18):
the year-to-date store, OUT_DIR and the statements' PDFs are created 0600 in 0700 folders whatever
the umask the command starts with — or group-readable (0640 / 0750) where
``PRORATA_GROUP_READABLE=1`` says so. Before, they were 0644 in 0755 folders under a usual umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flows.cli.main import main
from tests.ops_builders import year_inbox

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "tests" / "data" / "seed-cases" / "extract"


@pytest.fixture
def permissive_umask():
    """The most permissive umask: every file 0666 and folder 0777 unless prorata sets otherwise."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def modes(*roots: Path) -> dict[str, int]:
    """Permission bits of every file and folder under ``roots`` (the roots too)."""
    out = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            out[str(path)] = stat.S_IMODE(path.lstat().st_mode)
    return out


def readable_by_others(found: dict[str, int], allowed: int = 0) -> list[str]:
    return sorted(p for p, mode in found.items() if mode & 0o077 & ~allowed)


def test_the_store_outputs_and_statements_are_readable_by_their_owner_only_under_any_umask(
    tmp_path, capsys, permissive_umask
):
    out_dir, pdfs = tmp_path / "out", tmp_path / "pdfs"
    assert main(["run", str(SEED), "--out", str(out_dir), "--no-prefect", "--quiet"]) == 0
    assert main(["statements", str(out_dir), "--quiet"]) == 0  # OUT_DIR/statements
    assert main(["statements", str(out_dir), "--dest", str(pdfs), "--quiet"]) == 0
    inbox, store = year_inbox(tmp_path), tmp_path / "store"
    assert main(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]) == 0
    assert main(["file", "--store", str(store), "--tax-year", "2025"]) == 0
    capsys.readouterr()
    found = modes(out_dir, pdfs, store)
    files = [p for p in found if Path(p).is_file()]
    assert len(files) > 40 and any(p.endswith(".pdf") for p in files)
    assert any("/ytd/2025/payees/" in p for p in files) and any("/filings/2025/" in p for p in files)
    assert readable_by_others(found) == []
    assert all(found[p] == 0o600 for p in files) and all(found[p] == 0o700 for p in found if p not in files)


def test_a_group_readable_setting_opens_them_to_the_group_and_never_to_others(
    tmp_path, capsys, monkeypatch, permissive_umask
):
    monkeypatch.setenv("PRORATA_GROUP_READABLE", "1")
    out_dir = tmp_path / "out"
    assert main(["run", str(SEED), "--out", str(out_dir), "--no-prefect", "--quiet"]) == 0
    found = modes(out_dir)
    assert readable_by_others(found, allowed=0o050) == []
    assert found[str(out_dir)] == 0o750 and found[str(out_dir / "recipients.parquet")] == 0o640


def test_the_command_gives_back_the_umask_it_was_started_with(tmp_path, capsys):
    before = os.umask(0o022)
    try:
        assert main(["run", str(SEED), "--out", str(tmp_path / "out"), "--no-prefect", "--quiet"]) == 0
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)
