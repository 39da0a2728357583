"""Read an extract folder safely: table-level faults stop the run with one precise message.

A table-level fault is one that makes a whole file unusable — a missing or unreadable file, a
missing required column, a column whose type cannot be the declared one. It raises
:class:`ExtractError`, whose message names the file and the problem and never quotes a value.
Row-level faults are left for the contracts (:mod:`contracts.validate`) to quarantine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from contracts.extract import BOOL, DATE, INT, STR, TABLES, Table
from transforms.params import supported_tax_years

ROW = "_row"  # position of the row in its input file, carried for quarantine keys


class ExtractError(Exception):
    """A fault that makes the extract unprocessable. ``str(err)`` is the one line for stderr."""

    def __init__(self, file: str, problem: str):
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


@dataclass(frozen=True)
class Manifest:
    extract_id: str
    recordkeeper: str
    tax_year: int
    created_at: str
    supersedes: str | None

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / "manifest.json"
        name = str(path)
        if not path.is_file():
            raise ExtractError(name, "file is missing")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ExtractError(name, f"not readable as JSON ({type(exc).__name__})") from None
        if not isinstance(raw, dict):
            raise ExtractError(name, "must be a JSON object")
        for key in ("extract_id", "recordkeeper", "tax_year", "created_at"):
            if key not in raw or raw[key] in (None, ""):
                raise ExtractError(name, f"required key '{key}' is missing")
        tax_year = raw["tax_year"]
        if isinstance(tax_year, str) and tax_year.isdigit():
            tax_year = int(tax_year)
        if not isinstance(tax_year, int) or isinstance(tax_year, bool):
            raise ExtractError(name, "'tax_year' must be a calendar year such as 2025")
        years = supported_tax_years()
        if tax_year not in years:
            raise ExtractError(
                name, f"'tax_year' {tax_year} is not a tax year prorata computes ({years[0]} to {years[-1]})"
            )
        return cls(
            extract_id=str(raw["extract_id"]),
            recordkeeper=str(raw["recordkeeper"]),
            tax_year=tax_year,
            created_at=str(raw["created_at"]),
            supersedes=(str(raw["supersedes"]) if raw.get("supersedes") else None),
        )


def _accepts(kind: str, dtype: pl.DataType) -> bool:
    if dtype == pl.Null:
        return True
    if kind == INT:
        return dtype.is_integer()
    if kind == STR:
        return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    if kind == DATE:
        return dtype == pl.Date
    if kind == BOOL:
        return dtype == pl.Boolean
    raise ValueError(kind)


_KIND_WORDS = {INT: "an integer", STR: "a string", DATE: "a Parquet DATE", BOOL: "a boolean"}


def read_table(folder: Path, table: Table) -> pl.DataFrame | None:
    """Read and cast one table; ``None`` for an optional file that is absent."""
    path = folder / table.file
    if not path.is_file():
        if table.optional_file:
            return None
        raise ExtractError(str(path), "file is missing")
    try:
        pq.read_schema(path)
        frame = pl.read_parquet(path)
    except Exception as exc:  # any reader failure means the file cannot be used
        raise ExtractError(str(path), f"not a readable Parquet file ({type(exc).__name__})") from None

    return conform(frame, table, str(path))


def conform(frame: pl.DataFrame, table: Table, file: str | None = None) -> pl.DataFrame:
    """Check required columns, cast to the declared types, apply defaults, add ``_row`` (the row's
    number in the file; kept when ``frame`` already has it)."""
    file = file or table.file
    missing = [c.name for c in table.columns if c.required and c.name not in frame.columns]
    if missing:
        raise ExtractError(file, f"required column '{missing[0]}' is missing")

    casts: list[pl.Expr] = []
    for col in table.columns:
        if col.name not in frame.columns:
            casts.append(pl.lit(col.default, dtype=col.dtype).alias(col.name))
            continue
        dtype = frame.schema[col.name]
        if not _accepts(col.kind, dtype):
            raise ExtractError(
                file, f"column '{col.name}' has type {dtype}; expected {_KIND_WORDS[col.kind]}"
            )
        expr = pl.col(col.name).cast(col.dtype, strict=True)
        if col.kind == STR and not col.required and col.default is None:
            # an optional code left empty (state, locality, state payer id) means "none"
            expr = pl.when(expr.str.strip_chars() == "").then(None).otherwise(expr).alias(col.name)
        if col.default is not None:
            expr = expr.fill_null(col.default)
        casts.append(expr)
    try:
        frame = frame.with_columns(casts)
    except pl.exceptions.PolarsError:
        bad = _first_uncastable(frame, table)
        raise ExtractError(file, f"column '{bad}' has values out of range for its type") from None
    declared = table.names
    extra = [c for c in frame.columns if c not in declared and c != ROW]
    if ROW in frame.columns:  # rows read from part of the file keep their number in the whole file
        return frame.select(ROW, *declared, *extra)
    return frame.select(declared + extra).with_row_index(ROW)


def _first_uncastable(frame: pl.DataFrame, table: Table) -> str:
    for col in table.columns:
        if col.name in frame.columns:
            try:
                frame.select(pl.col(col.name).cast(col.dtype, strict=True))
            except pl.exceptions.PolarsError:
                return col.name
    return "?"


def read_extract(folder: Path) -> tuple[Manifest, dict[str, pl.DataFrame]]:
    """The manifest and every table of the extract, cast to the declared types."""
    if not folder.is_dir():
        raise ExtractError(str(folder), "extract folder does not exist")
    manifest = Manifest.read(folder)
    frames: dict[str, pl.DataFrame] = {}
    for name, table in TABLES.items():
        frame = read_table(folder, table)
        if frame is not None:
            frames[name] = frame
    return manifest, frames


def precheck(folder: Path) -> Manifest:
    """The table-level checks that need no data: folder, manifest, files and required columns.

    Cheap (Parquet footers only), so a broken extract is refused before any orchestration starts.
    """
    if not folder.is_dir():
        raise ExtractError(str(folder), "extract folder does not exist")
    manifest = Manifest.read(folder)
    for table in TABLES.values():
        path = folder / table.file
        if not path.is_file():
            if table.optional_file:
                continue
            raise ExtractError(str(path), "file is missing")
        try:
            names = set(pq.read_schema(path).names)
        except Exception as exc:
            raise ExtractError(str(path), f"not a readable Parquet file ({type(exc).__name__})") from None
        missing = [c.name for c in table.columns if c.required and c.name not in names]
        if missing:
            raise ExtractError(str(path), f"required column '{missing[0]}' is missing")
    return manifest
