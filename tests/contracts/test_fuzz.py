"""Fuzzed extracts (issue 18): a generated extract corrupted by hypothesis — column types, nulls,
extra columns (internal names among them), huge and control-character strings, overflowing
integers, missing columns, duplicated or emptied tables, a wrong manifest — is either run (exit 0,
every disbursement in the outputs or in quarantine exactly once) or refused with one line naming a
file (exit 2). Never exit 1, never a traceback, never a personal value on the terminal or in
Prefect's database or result storage.

``PRORATA_FUZZ_EXAMPLES`` sets the number of examples (default: a few dozen, derandomized, for CI;
set it to run a larger, random campaign).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.extract import TABLES
from flows.cli.main import main
from tests.builders import contract_row, dist_row, participant_row, payee_row
from tests.leaks import leaked
from tests.ops_builders import _person, write_extract

EXAMPLES = int(os.environ.get("PRORATA_FUZZ_EXAMPLES", "0"))
CAMPAIGN = EXAMPLES > 0
NAMES = ("Zyqvandt", "Oxbellow", "Quillfeather", "Marrowgate")


def base_extract(folder: Path) -> Path:
    """Six payees of one plan: cash, a split rollover event, a Roth leg, a beneficiary."""
    people = [_person(i, 2025, amount=100_000 * i, tin=f"4{i:02d}55{i:04d}") for i in range(1, 5)]
    for i, person in enumerate(people):
        person["payees"][0]["last_name"] = NAMES[i]
    roth = {
        "payees": [payee_row("PY9", tin="409551234", last_name="Vantablack", dob=date(1960, 5, 1))],
        "participants": [participant_row("PT9", "PY9", roth_first_year=2015)],
        "contracts": [
            contract_row("E9", "non_roth", 900_000, 0),
            contract_row("E9", "roth", 300_000, 100_000),
        ],
        "distributions": [
            dist_row("D9a", "E9", "non_roth", 400_000, "rollover_ira", participant_id="PT9", payee_id="PY9"),
            dist_row("D9b", "E9", "non_roth", 100_000, participant_id="PT9", payee_id="PY9"),
            dist_row("D9c", "E9", "roth", 50_000, "rollover_roth_ira", participant_id="PT9", payee_id="PY9"),
        ],
    }
    return write_extract(folder, [*people, roth], extract_id="fuzz", created_at="2026-01-05", tax_year=2025)


def personal_values(extract: Path) -> list[str]:
    """The TINs and names of the extract as written (before corruption): none may be quoted."""
    payees = pl.read_parquet(extract / "payees.parquet")
    return sorted(set(payees["tin"].to_list()) | set(payees["last_name"].to_list()) | {"2175550100"})


TABLE_NAMES = ("plans", "payees", "participants", "contracts", "distributions")
INTERNAL = ["_row", "_eid", "_draw", "_crow", "_value", "_extract_id", "_mixed", "extra:x", "pool", "form_id"]
HOSTILE_TEXT = [
    "x" * 100_000,
    "\x00\x1b[2J\x1b[31mred\r\n\t",
    "\u202eevil\u2028line",
    "",
    "   ",
    "A" * 40 + "\ud7ff",
    "😀" * 50,
]
HUGE_INTS = [2**63 - 1, -(2**63), 2**62, 10**15, -1, 0]


@st.composite
def mutation(draw):
    table = draw(st.sampled_from(TABLE_NAMES))
    columns = TABLES[table].names
    column = draw(st.sampled_from(columns))
    kind = draw(
        st.sampled_from(
            ["retype", "nulls", "extra", "text", "integer", "drop", "duplicate", "empty", "unsigned"]
        )
    )
    row = draw(st.integers(0, 8))
    if kind == "retype":
        return (kind, table, column, draw(st.sampled_from(["str", "int", "float", "bool", "date", "null"])))
    if kind == "extra":
        name = draw(st.sampled_from(INTERNAL) | st.text(min_size=1, max_size=12))
        return (kind, table, name, draw(st.sampled_from(["int", "text", "null"])))
    if kind == "text":
        return (kind, table, column, row, draw(st.sampled_from(HOSTILE_TEXT) | st.text(max_size=30)))
    if kind == "integer":
        return (kind, table, column, row, draw(st.sampled_from(HUGE_INTS) | st.integers(-(2**63), 2**63 - 1)))
    return (kind, table, column, row)


@st.composite
def manifest_change(draw):
    return draw(
        st.sampled_from(
            [
                None,
                None,
                {"tax_year": 2021},
                {"tax_year": "twenty"},
                {"extract_id": "id\x1b[31m\nforged"},
                {"files": {"plans.parquet": "0" * 64}},
                {"created_at": None},
            ]
        )
    )


def _series(frame: pl.DataFrame, column: str, to: str) -> pl.Series:
    s = frame[column]
    if to == "null":
        return pl.Series(column, [None] * frame.height, dtype=pl.Null)
    target = {"str": pl.String, "int": pl.Int32, "float": pl.Float64, "bool": pl.Boolean, "date": pl.Date}[to]
    try:
        return s.cast(target, strict=False)
    except Exception:
        return s.cast(pl.String).cast(target, strict=False)


def apply(frame: pl.DataFrame, change: tuple) -> pl.DataFrame:
    kind, _table, column = change[:3]
    if (frame.height == 0 and kind in ("text", "integer", "nulls")) or (
        kind != "extra" and column not in frame.columns  # dropped by an earlier change
    ):
        return frame
    row = change[3] % max(frame.height, 1) if len(change) > 3 and isinstance(change[3], int) else 0
    at = pl.int_range(pl.len()) == row
    if kind == "retype":
        return frame.with_columns(_series(frame, column, change[3]))
    if kind == "nulls":
        return frame.with_columns(pl.when(at).then(None).otherwise(pl.col(column)).alias(column))
    if kind == "extra":
        value = {"int": pl.int_range(pl.len()), "text": pl.lit("zz"), "null": pl.lit(None)}[change[3]]
        return (
            frame.drop(column, strict=False).with_columns(value.alias(column))
            if column not in TABLES[_table].names
            else frame
        )
    if kind == "text":
        return frame.with_columns(
            pl.when(at).then(pl.lit(change[4])).otherwise(pl.col(column).cast(pl.String)).alias(column)
        )
    if kind == "integer":
        return frame.with_columns(
            pl.when(at)
            .then(pl.lit(change[4], pl.Int64))
            .otherwise(pl.col(column).cast(pl.Int64, strict=False))
            .alias(column)
            if frame.schema[column].is_integer()
            else pl.col(column)
        )
    if kind == "unsigned":  # integers beyond Int64, in a UInt64 column
        if not frame.schema[column].is_integer():
            return frame
        return frame.with_columns(
            pl.when(at)
            .then(pl.lit(2**64 - 1, pl.UInt64))
            .otherwise(pl.col(column).cast(pl.UInt64, strict=False))
            .alias(column)
        )
    if kind == "drop":
        return frame.drop(column)
    if kind == "duplicate":
        return pl.concat([frame, frame.slice(row, 2)])
    if kind == "empty":
        return frame.head(0)
    raise AssertionError(kind)


def corrupted(base: Path, changes: list[tuple], manifest: dict | None) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-", dir=base.parent))
    shutil.copytree(base, folder, dirs_exist_ok=True)
    for change in changes:
        path = folder / f"{change[1]}.parquet"
        try:
            apply(pl.read_parquet(path), change).write_parquet(path)
        except pl.exceptions.PolarsError:  # a change polars cannot even write: skip it
            continue
    if manifest:
        raw = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**raw, **manifest}))
    return folder


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def check_one(extract: Path, out_dir: Path, secrets: list[str], flags: list[str]) -> str:
    """Run one fuzzed extract and check the contract; returns what happened ("run", "refused")."""
    code, out, err = run_cli(["run", str(extract), "--out", str(out_dir), "--quiet", *flags])
    assert code in (0, 2), (code, err)
    assert "Traceback" not in out + err
    assert [s for s in secrets if s in out + err] == []
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("prorata: error: "), err
        assert str(extract) in lines[0] or str(out_dir) in lines[0], lines[0]  # names a file
        return "refused"
    given_rows = pl.read_parquet(extract / "distributions.parquet").height
    done = pl.read_parquet(out_dir / "distributions.parquet")
    held = pl.read_parquet(out_dir / "quarantine.parquet").filter(pl.col("table") == "distributions")
    assert done.height + held.height == given_rows  # every disbursement accounted for once
    ids = pl.read_parquet(extract / "distributions.parquet")["distribution_id"]
    if ids.null_count() == 0 and ids.n_unique() == ids.len():
        assert sorted(done["distribution_id"].to_list() + held["key"].to_list()) == sorted(ids.to_list())
    return "run"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return base_extract(tmp_path_factory.mktemp("fuzz") / "base")


def _fuzz(base: Path, flags: list[str], examples: int, seen: dict):
    secrets = personal_values(base)

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=not CAMPAIGN,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(mutation(), min_size=1, max_size=3), manifest_change())
    def one(changes, manifest):
        extract = corrupted(base, changes, manifest)
        out_dir = extract.with_name(extract.name + "-out")
        try:
            outcome = check_one(extract, out_dir, secrets, flags)
            seen[outcome] = seen.get(outcome, 0) + 1
        finally:
            shutil.rmtree(extract, ignore_errors=True)
            shutil.rmtree(out_dir, ignore_errors=True)

    one()
    return secrets


def test_fuzzed_extracts_are_run_or_refused_in_one_line_never_crashed(base):
    seen: dict[str, int] = {}
    _fuzz(base, ["--no-prefect"], EXAMPLES or 24, seen)
    print(f"fuzzed extracts without Prefect: {seen}")
    assert seen.get("run", 0) and seen.get("refused", 0)  # both kinds of outcome were reached


@pytest.mark.prefect
def test_fuzzed_extracts_under_prefect_leave_no_value_in_prefects_store(base, prefect_test_api, tmp_path):
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    seen: dict[str, int] = {}
    storage = tmp_path / "storage"
    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: str(storage)}):
        secrets = _fuzz(base, [], max(EXAMPLES // 4, 6) if CAMPAIGN else 6, seen)
        APILogWorker.drain_all(timeout=30, at_exit=False)
        EventsWorker.drain_all(timeout=30, at_exit=False)
    print(f"fuzzed extracts under Prefect: {seen}")
    assert leaked([prefect_test_api.home, storage], secrets) == []
