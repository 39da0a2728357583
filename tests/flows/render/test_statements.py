"""Recipient statements (Form 1099-R Copy B as PDF): one PDF per plan, one page per form, the boxes
as dollars, a truncated recipient TIN, deterministic bytes, and the CLI hook's errors."""

import argparse
import contextlib
import shutil
import zlib
from pathlib import Path

import polars as pl
import pytest
from pypdf import PdfReader

from flows.cli.main import main
from flows.cli.statements import cmd_statements
from flows.render import statements
from flows.render.statements import pdf_safe, truncated_tin, write_statements
from transforms.kernels.dollars import dollars_text as dollars

SEED = Path(__file__).parents[2] / "data" / "seed-cases" / "extract"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stmt") / "out"
    assert main(["run", str(SEED), "--out", str(out), "--no-prefect", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def written(run_dir, tmp_path_factory) -> tuple[Path, dict]:
    dest = tmp_path_factory.mktemp("pdfs")
    return dest, write_statements(run_dir, dest=dest)


def copy_run(run_dir: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in ("forms", "recipients", "payers"):
        shutil.copy(run_dir / f"{name}.parquet", dst / f"{name}.parquet")
    return dst


def pages_text(pdf: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(pdf).pages]


def raw_text(pdf: Path) -> str:
    """Every byte of the file with its Flate streams inflated: what a determined reader could find."""
    data = pdf.read_bytes()
    parts = [data.decode("latin-1")]
    for chunk in data.split(b"stream")[1:]:
        body = chunk.split(b"endstream")[0].strip(b"\r\n")
        with contextlib.suppress(zlib.error):
            parts.append(zlib.decompress(body).decode("latin-1"))
    return "\n".join(parts)


def test_one_pdf_is_written_per_plan_with_one_page_per_form(run_dir, written):
    dest, result = written
    forms = pl.read_parquet(run_dir / "forms.parquet")
    per_plan = dict(forms.group_by("plan_id").len().iter_rows())
    assert sorted(p.name for p in dest.glob("*.pdf")) == sorted(f"{plan}.pdf" for plan in per_plan)
    for plan, n in per_plan.items():
        assert len(PdfReader(dest / f"{plan}.pdf").pages) == n
    assert result["plans"] == len(per_plan)
    assert result["forms"] == forms.height == 8
    assert result["pages"] == 2 * 8  # each form once in its plan's PDF and once in its recipient's
    assert result["seconds"] > 0 and result["pages_per_second"] > 0


def test_without_dest_the_pdfs_go_to_the_statements_folder_of_out_dir(run_dir, tmp_path):
    out = copy_run(run_dir, tmp_path / "out")
    write_statements(out)
    assert sorted(p.name for p in (out / "statements").glob("*.pdf")) == ["P401.pdf", "P401S.pdf"]


def test_each_page_shows_its_forms_box_1_2a_5_amounts_as_dollars_and_its_box_7_code(run_dir, written):
    dest, _ = written
    forms = pl.read_parquet(run_dir / "forms.parquet")
    seen = 0
    for row in forms.iter_rows(named=True):
        texts = [t for t in pages_text(dest / f"{row['plan_id']}.pdf") if f"Statement {row['form_id']}" in t]
        assert len(texts) == 1, row["form_id"]
        text = texts[0]
        for box in ("box1_cents", "box2a_cents", "box5_cents"):
            assert dollars(row[box]) in text, (row["form_id"], box)
        assert row["distribution_codes"] in text.split()
        assert row["account_number"] in text
        assert "Copy B" in text and "For Recipient" in text and f"Tax year {row['tax_year']}" in text
        assert "Instructions for Recipient" in text
        seen += 1
    assert seen == 8
    # the seed run has box 1 amounts of five figures: commas and cents, from integer cents
    assert "$40,000.00" in "".join(pages_text(dest / "P401.pdf"))


def test_pages_are_sorted_by_payee_last_name_then_form_id(run_dir, written):
    dest, _ = written
    forms = pl.read_parquet(run_dir / "forms.parquet").join(
        pl.read_parquet(run_dir / "recipients.parquet"), on="payee_id"
    )
    for plan in ("P401", "P401S"):
        expected = (
            forms.filter(pl.col("plan_id") == plan)
            .sort([pl.col("last_name").str.to_lowercase(), "form_id"])["form_id"]
            .to_list()
        )
        shown = [
            next(line.split()[1] for line in t.splitlines() if line.startswith("Statement "))
            for t in pages_text(dest / f"{plan}.pdf")
        ]
        assert shown == expected


def test_the_recipient_tin_is_truncated_and_the_full_tin_never_appears(run_dir, written):
    dest, _ = written
    forms = pl.read_parquet(run_dir / "forms.parquet")
    for plan in ("P401", "P401S"):
        pdf = dest / f"{plan}.pdf"
        raw = raw_text(pdf)
        assert "Gross distribution" in raw  # the page streams were inflated
        everything = "\n".join(pages_text(pdf)) + raw
        for tin in forms.filter(pl.col("plan_id") == plan)["payee_tin"].unique():
            assert f"***-**-{tin[-4:]}" in everything
            assert tin not in everything
            assert f"{tin[:3]}-{tin[3:5]}-{tin[5:]}" not in everything


def test_the_payer_name_and_payer_tin_appear_on_every_page(run_dir, written):
    dest, _ = written
    payers = pl.read_parquet(run_dir / "payers.parquet")
    for payer in payers.iter_rows(named=True):
        for text in pages_text(dest / f"{payer['plan_id']}.pdf"):
            assert payer["payer_name"] in text
            assert f"{payer['payer_tin'][:2]}-{payer['payer_tin'][2:]}" in text
            assert "(217) 555-0100" in text


def test_the_same_inputs_give_byte_identical_pdfs(run_dir, written, tmp_path):
    dest, _ = written
    again = tmp_path / "again"
    write_statements(run_dir, dest=again)
    files = sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())
    assert len(files) == 2 + 6 + 2  # two plan PDFs, six recipients' PDFs, index.csv, manifest.json
    for name in files:
        assert (again / name).read_bytes() == (dest / name).read_bytes()
    assert b"/CreationDate (D:20260101" in (dest / "P401.pdf").read_bytes()


def test_names_outside_latin_1_are_transliterated_and_never_crash(run_dir, tmp_path):
    out = copy_run(run_dir, tmp_path / "out")
    rec = pl.read_parquet(out / "recipients.parquet")
    rec = rec.with_columns(
        first_name=pl.Series(["Łukasz", "Женя", "", "Zoë", "李", "Nguyễn"]),
        last_name=pl.Series(["Wałęsa", "Иванов", "Şahin Holdings LLC", "Brønsted", "小明", "Văn 🙂"]),
        tin_type=pl.Series(["ssn", "itin", "ein", "ssn", "atin", "ssn"]),
        address=pl.Series(
            ["ul. Długa 5", "Leopoldstraße 1", "1 Bay St\tSuite 2", "2 Elm St", "2 Elm St", "x\x00y"]
        ),
    )
    rec.write_parquet(out / "recipients.parquet")
    result = write_statements(out)
    assert result["forms"] == 8
    text = "\n".join(
        pages_text(out / "statements" / "P401.pdf") + pages_text(out / "statements" / "P401S.pdf")
    )
    for name in ("Lukasz Walesa", "Zhenia Ivanov", "Şahin Holdings LLC".replace("Ş", "S"), "Zoë Brønsted"):
        assert name in text
    assert "**-***0002" in text  # the EIN payee's TIN is truncated the EIN way


def test_a_foreign_address_shows_the_postal_code_and_the_country(run_dir, tmp_path):
    out = copy_run(run_dir, tmp_path / "out")
    rec = pl.read_parquet(out / "recipients.parquet").with_columns(
        city=pl.when(pl.col("payee_id") == "PY000").then(pl.lit("Toronto ON")).otherwise(pl.col("city")),
        state=pl.when(pl.col("payee_id") == "PY000").then(pl.lit("")).otherwise(pl.col("state")),
        zip=pl.when(pl.col("payee_id") == "PY000").then(pl.lit("M5V 2T6")).otherwise(pl.col("zip")),
        country=pl.when(pl.col("payee_id") == "PY000").then(pl.lit("CA")).otherwise(pl.col("country")),
    )
    rec = rec.with_columns(  # a US address in another state than the form's box 14 state
        city=pl.when(pl.col("payee_id") == "PY002").then(pl.lit("Louisville")).otherwise(pl.col("city")),
        state=pl.when(pl.col("payee_id") == "PY002").then(pl.lit("KY")).otherwise(pl.col("state")),
        zip=pl.when(pl.col("payee_id") == "PY002").then(pl.lit("402021234")).otherwise(pl.col("zip")),
    )
    rec.write_parquet(out / "recipients.parquet")
    write_statements(out)
    pages = pages_text(out / "statements" / "P401.pdf")
    text = "\n".join(pages)
    assert "Toronto ON M5V 2T6" in text and "Canada" in text
    assert "Columbus, OH 43004" in text  # the other payees keep their US address line
    louisville = next(t for t in pages if "Louisville" in t)
    assert "Louisville, KY 40202-1234" in louisville
    assert "OH OH123" in louisville.replace("  ", " ")  # box 15 keeps the form's state


def test_a_corrected_column_is_accepted(run_dir, tmp_path):
    out = copy_run(run_dir, tmp_path / "out")
    forms = pl.read_parquet(out / "forms.parquet").with_columns(corrected=pl.lit(True))
    forms.write_parquet(out / "forms.parquet")
    assert write_statements(out)["forms"] == 8
    assert "CORRECTED" in pages_text(out / "statements" / "P401.pdf")[0]


def test_the_instructions_explain_only_the_distribution_codes_on_the_page(run_dir, written):
    dest, _ = written
    forms = pl.read_parquet(run_dir / "forms.parquet")
    for row in forms.iter_rows(named=True):
        text = next(
            t for t in pages_text(dest / f"{row['plan_id']}.pdf") if f"Statement {row['form_id']}" in t
        )
        explained = {line.split()[1] for line in text.splitlines() if line.startswith("Code ")}
        assert explained == set(row["distribution_codes"])


def test_progress_is_reported_by_page_count_without_personal_data(run_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(statements, "PROGRESS_EVERY", 3)
    said: list[str] = []
    write_statements(run_dir, dest=tmp_path / "pdfs", progress=said.append)
    assert said[:2] == ["statements: 3 of 16 pages", "statements: 6 of 16 pages"]
    recipients = pl.read_parquet(run_dir / "recipients.parquet")
    for message in said:
        assert not any(tin in message for tin in recipients["tin"])
        assert not any(name in message for name in recipients["last_name"])


def test_dollars_are_formatted_from_integer_cents_without_floats():
    assert dollars(0) == "$0.00"
    assert dollars(5) == "$0.05"
    assert dollars(-5) == "-$0.05"
    assert dollars(4_000_000) == "$40,000.00"
    assert dollars(123_456_789_012_345_678_9) == "$12,345,678,901,234,567.89"  # beyond float precision


def test_the_tin_is_masked_in_the_ssn_or_the_ein_pattern():
    assert truncated_tin("400000123", "ssn") == "***-**-0123"
    assert truncated_tin("400000123", "itin") == "***-**-0123"
    assert truncated_tin("12-3456789", "ein") == "**-***6789"
    assert truncated_tin(None, "ssn") == "***-**-****"


def test_pdf_safe_keeps_windows_1252_and_replaces_the_rest():
    assert pdf_safe("Zoë O’Brien — Jr") == "Zoë O’Brien — Jr"
    assert pdf_safe("Wałęsa") == "Walesa"
    assert pdf_safe("🙂") == "?"
    assert pdf_safe(None) == ""


def test_cmd_statements_prints_one_summary_line(run_dir, tmp_path, capsys):
    dest = tmp_path / "pdfs"
    code = cmd_statements(argparse.Namespace(out_dir=str(run_dir), dest=str(dest), quiet=True))
    out, err = capsys.readouterr()
    assert code == 0
    assert len(out.strip().splitlines()) == 1 and "8 forms: 2 plan PDFs" in out
    assert err == ""
    assert sorted(p.name for p in dest.glob("*.pdf")) == ["P401.pdf", "P401S.pdf"]


def test_a_missing_forms_parquet_exits_2_with_one_line_on_stderr(tmp_path, capsys):
    code = cmd_statements(argparse.Namespace(out_dir=str(tmp_path), dest=None))
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == f"prorata: error: {tmp_path}/forms.parquet: not found; run 'prorata run' first\n"
    assert not (tmp_path / "statements").exists()
