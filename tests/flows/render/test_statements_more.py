"""Recipient statements people can mail and find: a PDF per recipient as well as per plan, found by
account number, the recordkeeper's own account number in the account-number box, corrected
statements from a corrections run, kept across reruns; plan ids that share a file name never
overwrite each other, and a huge name costs no more than a short one (issue 18)."""

from __future__ import annotations

import csv
import re
import shutil
import time
from pathlib import Path

import polars as pl
import pytest
from pypdf import PdfReader

from flows.cli.main import main
from flows.render.statements import file_names, write_statements
from tests.ops_builders import approve_pending, year_extracts

ROOT = Path(__file__).resolve().parents[3]
SEED = Path(__file__).parents[2] / "data" / "seed-cases" / "extract"
CANONICAL = ROOT / "sample_data" / "import" / "canonical"


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stmt2") / "out"
    assert main(["run", str(SEED), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    return out


def pages(pdf: Path) -> list[str]:
    return [p.extract_text() for p in PdfReader(pdf).pages]


def copy_run(run_dir: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in ("forms", "recipients", "payers", "manifest"):
        suffix = ".json" if name == "manifest" else ".parquet"
        shutil.copy(run_dir / f"{name}{suffix}", dst / f"{name}{suffix}")
    return dst


def test_plan_ids_that_map_to_one_file_name_get_a_pdf_each_and_no_page_is_lost(seed_run, tmp_path):
    out = copy_run(seed_run, tmp_path / "out")
    forms = pl.read_parquet(out / "forms.parquet")
    half = pl.int_range(pl.len()) % 2 == 0
    forms = forms.with_columns(pl.when(half).then(pl.lit("P/01")).otherwise(pl.lit("P_01")).alias("plan_id"))
    forms.write_parquet(out / "forms.parquet")
    payers = pl.read_parquet(out / "payers.parquet").head(1)
    pl.concat([payers.with_columns(pl.lit(p).alias("plan_id")) for p in ("P/01", "P_01")]).write_parquet(
        out / "payers.parquet"
    )
    result = write_statements(out, by="plan")
    pdfs = sorted((out / "statements").glob("*.pdf"))
    assert len(pdfs) == 2 and result["plans"] == 2
    assert sum(len(PdfReader(p).pages) for p in pdfs) == forms.height
    names = file_names(["P/01", "P_01", "p_01", "a" * 100], "plan")
    assert len(set(names.values())) == 4 and names["P/01"] != "P_01"


def test_a_32000_character_name_takes_no_longer_than_a_short_one(seed_run, tmp_path):
    def timed(last_name: str, where: Path) -> float:
        out = copy_run(seed_run, where)
        rec = pl.read_parquet(out / "recipients.parquet").with_columns(
            pl.lit(last_name).alias("last_name"), pl.lit(last_name).alias("address")
        )
        rec.write_parquet(out / "recipients.parquet")
        start = time.perf_counter()
        assert write_statements(out, by="plan")["forms"] == 8
        return time.perf_counter() - start

    short = timed("Ng", tmp_path / "short")
    huge = timed("Abcdefghij" * 3_200, tmp_path / "huge")  # 32,000 characters: 48.6 s and 1 GB before
    assert huge < max(5 * short, 3.0)
    text = "\n".join(pages(tmp_path / "huge" / "statements" / "P401.pdf"))
    assert "Abcdefghij" in text and "..." in text  # cut to what the box shows


def test_each_recipient_gets_one_pdf_found_by_the_recordkeepers_account_number(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(CANONICAL), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    assert main(["statements", "--run", str(out), "--quiet"]) == 0
    folder = out / "statements"
    index = list(csv.DictReader((folder / "index.csv").open()))
    forms = pl.read_parquet(out / "forms.parquet")
    assert len(index) == forms.height
    assert {r["payee_id"] for r in index} == set(forms["payee_id"])
    assert len(list((folder / "recipients").glob("*.pdf"))) == forms["payee_id"].n_unique()
    with_rk = [r for r in index if r["recordkeeper_account"]]
    assert with_rk and len(with_rk) < len(index)  # one participant in five has no account number
    row = with_rk[0]
    first = pages(folder / row["recipient_file"])
    assert any(row["recordkeeper_account"] in t and f"Statement {row['form_id']}" in t for t in first)
    without = next(r for r in index if not r["recordkeeper_account"])
    assert any(without["account_number"] in t for t in pages(folder / without["file"]))
    capsys.readouterr()
    assert main(["statements", "--run", str(out), "--account", row["recordkeeper_account"], "--quiet"]) == 0
    said = capsys.readouterr().out
    found = Path(said.split(": ")[-1].strip())
    assert found.is_file() and found.read_bytes() == (folder / row["recipient_file"]).read_bytes()
    assert main(["statements", "--run", str(out), "--account", "NO-SUCH-ACCOUNT"]) == 2


def test_a_later_run_into_the_same_folder_keeps_the_statements(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(SEED), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    assert main(["statements", "--run", str(out), "--quiet"]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in (out / "statements").rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["run", str(SEED), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    assert "kept from run" not in capsys.readouterr().out  # the same run: the statements are current
    after = {p.relative_to(out): p.read_bytes() for p in (out / "statements").rglob("*") if p.is_file()}
    assert after == before
    assert main(["run", str(CANONICAL), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "statements" in said and "kept from run" in said and "rerun prorata statements" in said
    assert (out / "statements" / "P401.pdf").is_file()


def test_a_corrections_run_gives_corrected_statements(tmp_path, capsys):
    ex = year_extracts(tmp_path / "extracts")
    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    for name in ("night1", "night2"):
        shutil.copytree(ex[name], inbox / name)
    assert main(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]) == 0
    assert (
        main(["file", "--store", str(store), "--tax-year", "2025", "--transmission-date", "2026-01-12"]) == 0
    )
    approve_pending(store, 2025)
    shutil.copytree(ex["fix"], inbox / "fix")
    assert main(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"]) == 0
    corr = tmp_path / "corr"
    args = ["corrections", "--store", str(store), "--tax-year", "2025", "--out", str(corr)]
    assert main([*args, "--transmission-date", "2026-01-25", "--export", "csv"]) == 0
    approve_pending(store, 2025)
    exported = list(csv.DictReader((corr / "export" / "corrections.csv").open()))
    assert exported and all(r["Kind"] for r in exported)
    capsys.readouterr()
    assert main(["statements", "--store", str(store), "--corrections", str(corr), "--quiet"]) == 0
    folder = corr / "statements"
    index = list(csv.DictReader((folder / "index.csv").open()))
    roles = {r["role"] for r in index}
    assert {"type1", "type2_void", "type2_correct"} <= roles
    for r in index:
        assert (r["corrected"] == "true") == (r["role"] in ("type1", "type2_void", "void"))
    void = next(r for r in index if r["role"] == "type2_void")
    both = [t for t in pages(folder / void["file"]) if void["account_number"] in t]
    amounts = [set(re.findall(r"\$[0-9,]+\.[0-9]{2}", t)) for t in both]
    assert len(both) == 2 and {"$0.00"} in amounts  # the voided return: every amount zero
    assert any(a - {"$0.00"} for a in amounts)  # the new return: the amounts
    assert main(["statements", "--corrections", str(corr)]) == 2  # --store is needed
