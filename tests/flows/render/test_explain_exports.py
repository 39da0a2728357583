"""`prorata explain` a person can read, results a person opens (`--export csv|xlsx`), the run
summary's quarantine by rule, and `prorata reconcile` in dollars and plan names, with exit codes."""

from __future__ import annotations

import csv
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from flows.cli.main import main
from flows.sample import generate_extract

ROOT = Path(__file__).resolve().parents[3]
SEED = Path(__file__).parents[2] / "data" / "seed-cases" / "extract"
CANONICAL = ROOT / "sample_data" / "import" / "canonical"


def run(args, capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("explain") / "out"
    assert main(["run", str(SEED), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> tuple[Path, Path]:
    """A sample extract with row faults, run with --export csv."""
    root = tmp_path_factory.mktemp("faulty")
    extract, out = root / "extract", root / "out"
    generate_extract(extract, 600, 5, fault_fraction=0.08)
    assert main(["run", str(extract), "--out", str(out), "--no-prefect", "--quiet", "--export", "csv"]) == 0
    return extract, out


def test_a_form_coded_g_alone_names_no_numeric_code(seed_run, capsys):
    code, out, _ = run(["explain", "seed004-split-rollover-ira", "--run", str(seed_run)], capsys)
    assert code == 0
    assert "Box 7 code G" in out and "G: Direct rollover" in out
    assert "code 1" not in out and "why " not in out and "59½" not in out


def test_a_disbursement_without_direct_rollovers_has_no_notice_2014_54_block(seed_run, capsys):
    code, out, _ = run(["explain", "seed003-ex2-whole-account-a", "--run", str(seed_run)], capsys)
    assert code == 0
    assert "Notice 2014-54" not in out and "direct rollovers ($0.00 in all)" not in out
    assert "Designated Roth" not in out  # no Roth money here
    blocks = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert [b.split(" (")[0] for b in blocks[1:]] == [
        "Contract",
        "Pro rata split of this disbursement",
        "Box 7 code 1",
        "Boxes",
    ]
    assert "why 1: under 59½ with no known §72(t) exception" in out


def test_the_header_gives_box_1_box_4_reason_payee_role_and_account_number(seed_run, capsys):
    forms = pl.read_parquet(seed_run / "forms.parquet")
    legs = pl.read_parquet(seed_run / "distributions.parquet")
    form_id = legs.filter(pl.col("distribution_id") == "seed002-roth-nonqualified-a")["form_id"].item()
    form = forms.filter(pl.col("form_id") == form_id).row(0, named=True)
    code, out, _ = run(["explain", "seed002-roth-nonqualified-a", "--run", str(seed_run)], capsys)
    assert code == 0
    assert "reason: separation from service; payee PY004 (participant)" in out
    assert f"account number {form['account_number']}" in out
    assert "box 1 $60,000.00" in out and "box 4 $2,400.00" in out


def test_explain_finds_an_event_and_an_account_number(seed_run, capsys):
    code, out, _ = run(["explain", "seed004-split-rollover-E", "--run", str(seed_run)], capsys)
    assert code == 0 and out.count("(event seed004-split-rollover-E)") == 2
    legs = pl.read_parquet(seed_run / "distributions.parquet")
    forms = pl.read_parquet(seed_run / "forms.parquet")
    account = forms.filter(pl.col("form_id") == legs["form_id"][0])["account_number"].item()
    code, out, _ = run(["explain", account.lower(), "--run", str(seed_run)], capsys)
    assert code == 0 and f"account number {account.lower()}: 1 disbursement(s)" in out
    code, _, err = run(["explain", "nothing-like-this", "--run", str(seed_run)], capsys)
    assert code == 2 and "no disbursement, event or account number" in err


def test_a_beneficiary_is_named_as_such(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(CANONICAL), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    d = pl.read_parquet(CANONICAL / "distributions.parquet")
    death = d.filter(pl.col("reason") == "death")["distribution_id"][0]
    code, text, _ = run(["explain", death, "--out", str(out)], capsys)  # --out: the older spelling
    assert code == 0 and "(beneficiary)" in text and "reason: death of the participant" in text


def test_the_run_summary_lists_every_quarantine_rule_in_disbursements(faulty, capsys):
    extract, out = faulty
    q = pl.read_parquet(out / "quarantine.parquet")
    rules = q["rule"].unique().to_list()
    assert len(rules) > 6
    code, said, _ = run(
        ["run", str(extract), "--out", str(out), "--no-prefect", "--quiet", "--export", "csv"], capsys
    )
    assert code == 0
    for rule in rules:
        d = q.filter((pl.col("rule") == rule) & (pl.col("table") == "distributions")).height
        n = q.filter(pl.col("rule") == rule).height
        assert re.search(rf"^    {rule} +{d:,} disbursements +{n:,} rows$", said, re.M), rule


def test_the_csv_export_shows_the_quarantine_with_values_and_counts_without_personal_data(faulty):
    extract, out = faulty
    folder = out / "export"
    q = list(csv.DictReader((folder / "quarantine.csv").open()))
    assert len(q) == pl.read_parquet(out / "quarantine.parquet").height
    valued = [r for r in q if r["Value"]]
    assert valued and all(r["Column"] for r in valued)
    assert any(r["Amount"] and r["Plan name"] for r in q if r["Table"] == "distributions")
    by_rule = list(csv.DictReader((folder / "quarantine_by_rule.csv").open()))
    assert sum(int(r["Rows"]) for r in by_rule) == len(q)
    payees = pl.read_parquet(extract / "payees.parquet")
    text = "\n".join(p.read_text() for p in folder.glob("*.csv"))
    for tin in payees["tin"].drop_nulls().to_list():
        assert tin not in text
    for name in payees["last_name"].drop_nulls().unique().to_list():
        assert f",{name}," not in text
    checks = list(csv.DictReader((folder / "edit_checks_by_rule.csv").open()))
    assert sum(int(r["Findings"]) for r in checks) == pl.read_parquet(out / "edit_checks.parquet").height


def test_the_xlsx_export_gives_the_forms_in_dollars_with_plan_names(tmp_path, capsys):
    out = tmp_path / "run"
    code, said, _ = run(
        ["run", str(CANONICAL), "--out", str(out), "--no-prefect", "--quiet", "--export", "xlsx"], capsys
    )
    assert code == 0 and "results.xlsx" in said
    book = out / "export" / "results.xlsx"
    sheets = pl.read_excel(book, sheet_id=0, engine="calamine")
    assert set(sheets) == {
        "Summary",
        "Forms",
        "Quarantine",
        "Quarantine by rule",
        "Edit checks",
        "Edit checks by rule",
    }
    forms = sheets["Forms"]
    manifest = json.loads((out / "manifest.json").read_text())
    total = sum(
        Decimal(str(v)).quantize(Decimal("0.01")) for v in forms["Box 1 gross distribution"].to_list()
    )
    assert total * 100 == manifest["totals"]["box1_cents"]
    plans = pl.read_parquet(out / "payers.parquet")
    assert set(forms["Plan name"]) == set(plans["plan_name"])
    assert "Recipient TIN" not in forms.columns
    recipients = pl.read_parquet(out / "recipients.parquet")
    assert not set(recipients["tin"]) & set(
        forms.select(pl.all().cast(pl.String)).unpivot()["value"].drop_nulls()
    )
    # the same results give the same bytes
    first = book.read_bytes()
    assert (
        main(["run", str(CANONICAL), "--out", str(out), "--no-prefect", "--quiet", "--export", "xlsx"]) == 0
    )
    assert book.read_bytes() == first
    assert (
        main(
            [
                "run",
                str(CANONICAL),
                "--out",
                str(out),
                "--no-prefect",
                "--quiet",
                "--export",
                "xlsx",
                "--export-personal",
            ]
        )
        == 0
    )
    personal = pl.read_excel(book, sheet_name="Forms", engine="calamine")
    assert "Recipient TIN" in personal.columns


@pytest.fixture(scope="module")
def broken_totals(tmp_path_factory) -> tuple[Path, Path]:
    """The canonical example with one trustee total off by $1.00, run."""
    root = tmp_path_factory.mktemp("recon")
    extract = root / "extract"
    shutil.copytree(CANONICAL, extract)
    ct = pl.read_parquet(extract / "control_totals.parquet")
    ct.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("gross_cents") + 100)
        .otherwise(pl.col("gross_cents"))
    ).write_parquet(extract / "control_totals.parquet")
    out = root / "run"
    assert main(["run", str(extract), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    return extract, out


def test_reconcile_exits_3_on_breaks_and_reports_in_dollars_and_plan_names(broken_totals, tmp_path, capsys):
    extract, out = broken_totals
    rec = tmp_path / "rec"
    args = ["reconcile", "--extract", str(extract), "--run", str(out), "--out", str(rec), "--no-prefect"]
    code, said, _ = run([*args, "--export", "xlsx"], capsys)
    assert code == 3
    assert "extract against the trustee's control totals: 1 break(s)" in said
    rows = list(csv.DictReader((rec / "reconciliation.csv").open()))
    broken = [r for r in rows if r["Result"] == "BREAK"]
    plan_id = pl.read_parquet(extract / "control_totals.parquet")["plan_id"][0]
    name = pl.read_parquet(extract / "plans.parquet").filter(pl.col("plan_id") == plan_id)["plan_name"].item()
    assert broken and broken[0]["Plan name"] == name and broken[0]["What"] == "gross paid"
    assert broken[0]["Difference"] == "-$1.00"
    assert "gross_cents" not in (rec / "reconciliation.csv").read_text()
    breaks = pl.read_excel(rec / "export" / "reconciliation.xlsx", sheet_name="Breaks", engine="calamine")
    assert breaks.height > 0 and set(breaks["Plan name"]) == {name}


def test_reconcile_refuses_an_extract_that_is_not_the_one_the_run_read(broken_totals, tmp_path, capsys):
    extract, out = broken_totals
    changed = tmp_path / "changed"
    shutil.copytree(extract, changed)
    d = pl.read_parquet(changed / "distributions.parquet")
    d.with_columns(pl.col("amount_cents") + 1).write_parquet(changed / "distributions.parquet")
    code, said, err = run(
        [
            "reconcile",
            "--extract",
            str(changed),
            "--run",
            str(out),
            "--out",
            str(tmp_path / "r"),
            "--no-prefect",
        ],
        capsys,
    )
    assert code == 2 and said == ""
    assert "not the extract that" in err and "distributions.parquet" in err
    assert not (tmp_path / "r").exists()
    code, _, _ = run(
        [
            "reconcile",
            "--extract",
            str(CANONICAL),
            "--run",
            str(out),
            "--out",
            str(tmp_path / "r2"),
            "--no-prefect",
        ],
        capsys,
    )
    assert code == 2  # control_totals.parquet differs
