"""Extracts at the edges of the contract (issue 18): internal column names never leak into it, an
empty id is quarantined, a wrong manifest is refused, an empty distributions table says so, and
ids from the extract never reach a terminal raw."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from flows.cli.main import main
from tests.ops_builders import edit_manifest, year_inbox

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "data" / "seed-cases" / "extract"


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def edited(tmp_path: Path, table: str, change) -> Path:
    extract = shutil.copytree(SEED, tmp_path / "extract")
    path = extract / f"{table}.parquet"
    change(pl.read_parquet(path)).write_parquet(path)
    return extract


def manifest_edited(tmp_path: Path, **changes) -> Path:
    return edit_manifest(shutil.copytree(SEED, tmp_path / "extract"), **changes)


def no_prefect(extract: Path, out: Path) -> list[str]:
    return ["run", str(extract), "--out", str(out), "--no-prefect", "--quiet"]


# ---- internal names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["_row", "_eid", "_draw", "_crow", "extra:note", "_extract_id"])
@pytest.mark.parametrize("partitions", [False, True])
def test_an_extra_column_named_like_an_internal_one_is_carried_untouched(
    tmp_path, capsys, monkeypatch, name, partitions
):
    from flows.io import extract as partitioned

    if partitions:  # the reader of extracts larger than memory, with its own row numbers
        monkeypatch.setattr(partitioned, "READ_WHOLE_ROWS", 2)
    extract = edited(
        tmp_path, "distributions", lambda d: d.with_columns((pl.int_range(pl.len()) * 7).alias(name))
    )
    code, _, err = run(no_prefect(extract, tmp_path / "out"), capsys)
    assert code == 0, err
    out = pl.read_parquet(tmp_path / "out" / "distributions.parquet")
    given = pl.read_parquet(extract / "distributions.parquet").select("distribution_id", name)
    assert out.select("distribution_id", name).sort("distribution_id").equals(given.sort("distribution_id"))
    assert pl.read_parquet(tmp_path / "out" / "quarantine.parquet").height == 0


def test_extra_columns_in_every_table_change_nothing(tmp_path, capsys):
    assert run(no_prefect(SEED, tmp_path / "plain"), capsys)[0] == 0
    extract = shutil.copytree(SEED, tmp_path / "extract")
    for path in extract.glob("*.parquet"):
        pl.read_parquet(path).with_columns(pl.lit(1).alias("_row"), pl.lit("x").alias("_eid")).write_parquet(
            path
        )
    assert run(no_prefect(extract, tmp_path / "extra"), capsys)[0] == 0
    for name in ("forms", "quarantine", "edit_checks", "explain", "recipients", "payers"):
        a = pl.read_parquet(tmp_path / "plain" / f"{name}.parquet")
        assert a.equals(pl.read_parquet(tmp_path / "extra" / f"{name}.parquet")), name


def test_an_empty_distribution_id_is_quarantined_with_its_event(tmp_path, capsys):
    first = pl.int_range(pl.len()) == 0
    extract = edited(
        tmp_path,
        "distributions",
        lambda d: d.with_columns(
            pl.when(first).then(pl.lit("")).otherwise("distribution_id").alias("distribution_id")
        ),
    )
    event = pl.read_parquet(extract / "distributions.parquet")["event_id"][0]
    assert run(no_prefect(extract, tmp_path / "out"), capsys)[0] == 0
    q = pl.read_parquet(tmp_path / "out" / "quarantine.parquet")
    mine = q.filter(pl.col("key") == "")
    assert mine.select("table", "event_id", "rule").rows() == [("distributions", event, "empty_id")]
    assert "identifiers are non-empty strings" in mine["message"][0]
    assert set(q.filter(pl.col("key") != "")["rule"]) == {"event_quarantined"}  # the rest of its event
    out = pl.read_parquet(tmp_path / "out" / "distributions.parquet")
    assert "" not in out["distribution_id"].to_list() and event not in out["event_id"].to_list()


def test_a_blank_payee_id_is_quarantined_not_matched(tmp_path, capsys):
    extract = edited(tmp_path, "payees", lambda p: p.with_columns(pl.lit("  ").alias("payee_id")).head(1))
    assert run(no_prefect(extract, tmp_path / "out"), capsys)[0] == 0
    q = pl.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert q.filter(pl.col("table") == "payees")["rule"].to_list() == ["empty_id"]


# ---- a wrong manifest ---------------------------------------------------------------------------


def test_a_tax_year_matching_none_of_the_payment_dates_is_a_table_level_fault(tmp_path, capsys):
    extract = manifest_edited(tmp_path, tax_year=2023)
    code, out, err = run(no_prefect(extract, tmp_path / "out"), capsys)
    assert code == 2 and out == ""
    assert err == (
        f"prorata: error: {extract / 'manifest.json'}: tax_year 2023 matches none of the payment dates "
        "in distributions.parquet (they fall in 2025); the manifest is wrong\n"
    )
    assert not (tmp_path / "out").exists()


def test_an_empty_distributions_table_runs_says_so_and_quarantines_its_contract_rows_as_orphans(
    tmp_path, capsys
):
    extract = edited(tmp_path, "distributions", lambda d: d.head(0))
    code, out, _ = run(["run", str(extract), "--out", str(tmp_path / "out"), "--no-prefect"], capsys)
    assert code == 0
    assert "distributions.parquet has no rows: no disbursement, no form, nothing to file" in out
    q = pl.read_parquet(tmp_path / "out" / "quarantine.parquet")
    contracts = pl.read_parquet(extract / "contracts.parquet").height
    assert q["table"].to_list() == ["contracts"] * contracts
    assert set(q["rule"]) == {"orphan_contract_row"}  # not roth_without_first_year


# ---- ids on the terminal ------------------------------------------------------------------------

HOSTILE = "seed\x1b[31m RED\x1b[0m\nprorata run: extract forged\r\u202eid"


def test_an_extract_id_with_escape_codes_and_newlines_is_printed_escaped(tmp_path, capsys):
    extract = manifest_edited(tmp_path, extract_id=HOSTILE)
    code, out, _ = run(no_prefect(extract, tmp_path / "out"), capsys)
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith(
        "prorata run: extract seed\\e[31m RED\\e[0m\\nprorata run: extract forged\\r\\u202eid"
    )
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    assert out.splitlines()[1].startswith("  disbursements  in 8")  # no line forged by the id


def test_nightly_refusing_an_extract_exits_2_with_a_line_on_stderr_and_escapes_its_id(tmp_path, capsys):
    inbox = year_inbox(tmp_path, ("night1", "night2"))
    edit_manifest(inbox / "night2", extract_id=HOSTILE, tax_year=2021)
    code, out, err = run(
        ["nightly", "--inbox", str(inbox), "--store", str(tmp_path / "store"), "--no-prefect", "--quiet"],
        capsys,
    )
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("prorata: error: refused ")
    assert "tax_year 2021 matches none of the payment dates" in lines[0]
    assert "1 extracts ingested" in out and "\x1b" not in out + err and "\u202e" not in out + err
