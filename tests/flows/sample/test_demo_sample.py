"""The committed demo extract: reproducible by `prorata sample`, and processed cleanly end to end."""

import hashlib
import json
from pathlib import Path

import polars as pl

from flows.cli.main import main
from flows.sample import generate_extract

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data" / "extract"


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_the_committed_sample_is_exactly_what_make_demo_regenerates(tmp_path):
    generate_extract(tmp_path / "x", 5000, 2025)
    assert digests(tmp_path / "x") == digests(SAMPLE)


def test_the_demo_run_accounts_for_every_disbursement_and_files_without_errors(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(SAMPLE), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    rows = manifest["rows"]["distributions"]
    assert rows["in"] == 5000 and rows["out"] + rows["quarantined"] == 5000
    d = pl.read_parquet(out / "distributions.parquet")
    assert (d["pretax_cents"] + d["basis_cents"] == d["amount_cents"]).all()
    assert manifest["edit_checks"]["error"] == {}
    forms = pl.read_parquet(out / "forms.parquet")
    assert forms["box1_cents"].sum() == d["amount_cents"].sum()
    assert set(d["form_id"]) == set(forms["form_id"])
    assert (out / "irs" / "FIRE_1099R_2025.txt").is_file()
