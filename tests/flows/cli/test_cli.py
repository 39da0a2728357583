"""`prorata run` end to end: exit status, one-line errors, atomic outputs, determinism."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from flows.cli.main import main


def digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def run(args, capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_run_on_the_seed_extract_writes_the_three_tables_and_a_manifest(seed_extract, tmp_path, capsys):
    code, out, _ = run(
        ["run", str(seed_extract), "--out", str(tmp_path / "out"), "--no-prefect", "--quiet"], capsys
    )
    assert code == 0
    for name in ("distributions.parquet", "forms.parquet", "quarantine.parquet", "manifest.json"):
        assert (tmp_path / "out" / name).is_file()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows"]["distributions"] == {"in": 8, "out": 8, "quarantined": 0}
    assert manifest["totals"]["box2a_cents"] == 4_400_000
    assert "disbursements  in 8" in out


def test_the_same_extract_gives_byte_identical_outputs(seed_extract, tmp_path, capsys):
    for name in ("a", "b"):
        assert (
            run(["run", str(seed_extract), "--out", str(tmp_path / name), "--no-prefect", "--quiet"], capsys)[
                0
            ]
            == 0
        )
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    a.pop("manifest.json"), b.pop("manifest.json")  # the manifest records stage timings
    assert a == b
    ma = json.loads((tmp_path / "a" / "manifest.json").read_text())
    mb = json.loads((tmp_path / "b" / "manifest.json").read_text())
    ma.pop("stage_seconds"), mb.pop("stage_seconds")
    assert ma == mb


def copy_extract(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / "payees.parquet").unlink(), "payees.parquet: file is missing"),
        (
            lambda d: (d / "plans.parquet").write_bytes(b"not parquet"),
            "plans.parquet: not a readable Parquet file",
        ),
        (
            lambda d: (
                pl.read_parquet(d / "contracts.parquet")
                .drop("basis_cents")
                .write_parquet(d / "contracts.parquet")
            ),
            "contracts.parquet: required column 'basis_cents' is missing",
        ),
        (
            lambda d: (
                pl.read_parquet(d / "distributions.parquet")
                .with_columns(pl.col("amount_cents").cast(pl.Float64))
                .write_parquet(d / "distributions.parquet")
            ),
            "distributions.parquet: column 'amount_cents' has type Float64; expected an integer",
        ),
        (lambda d: (d / "manifest.json").write_text("{"), "manifest.json: not readable as JSON"),
    ],
)
def test_a_table_level_fault_stops_with_one_line_and_leaves_earlier_outputs_intact(
    seed_extract, tmp_path, capsys, damage, expected
):
    out_dir = tmp_path / "out"
    assert run(["run", str(seed_extract), "--out", str(out_dir), "--no-prefect", "--quiet"], capsys)[0] == 0
    before = digest(out_dir)
    broken = copy_extract(seed_extract, tmp_path / "broken")
    damage(broken)
    code, out, err = run(["run", str(broken), "--out", str(out_dir), "--no-prefect", "--quiet"], capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert expected in err
    assert digest(out_dir) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "staging folder left behind"


def test_a_folder_that_is_not_a_prorata_result_is_never_replaced(seed_extract, tmp_path, capsys):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    code, _, err = run(["run", str(seed_extract), "--out", str(target), "--no-prefect"], capsys)
    assert code == 2 and "not a prorata output folder" in err
    assert (target / "notes.txt").read_text() == "keep me"


def test_an_extract_given_as_out_dir_is_refused_and_left_as_it_was(seed_extract, tmp_path, capsys):
    extract = copy_extract(seed_extract, tmp_path / "extract")
    before = digest(extract)
    code, out, err = run(["run", str(extract), "--out", str(extract), "--no-prefect", "--quiet"], capsys)
    assert code == 2 and out == "" and "not a prorata output folder" in err
    assert digest(extract) == before


def test_explain_prints_the_rule_trace_of_one_disbursement(seed_extract, tmp_path, capsys):
    out_dir = str(tmp_path / "out")
    run(["run", str(seed_extract), "--out", out_dir, "--no-prefect", "--quiet"], capsys)
    code, out, _ = run(["explain", "seed002-roth-nonqualified-a", "--out", out_dir], capsys)
    assert code == 0
    assert "§402A(d)(4)" in out and "$48,000.00" in out and "Box 7 code 7B" in out


def test_the_installed_console_script_runs_end_to_end(seed_extract, tmp_path):
    exe = Path(sys.executable).with_name("prorata")
    proc = subprocess.run(
        [str(exe), "run", str(seed_extract), "--out", str(tmp_path / "o"), "--no-prefect"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "forms 1099-R   8" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.prefect
def test_the_prefect_flow_writes_the_same_outputs_as_the_plain_pipeline(
    seed_extract, tmp_path, capsys, prefect_server
):
    from flows.prefect.run_flow import prorata_run

    manifest = prorata_run(seed_extract, tmp_path / "flow")
    assert manifest["rows"]["distributions"]["out"] == 8
    run(["run", str(seed_extract), "--out", str(tmp_path / "plain"), "--no-prefect", "--quiet"], capsys)
    a, b = digest(tmp_path / "flow"), digest(tmp_path / "plain")
    a.pop("manifest.json"), b.pop("manifest.json")
    assert a == b
