"""Read an extract folder safely: table-level faults stop the run with one precise message.

A table-level fault is one that makes a whole file unusable — a missing or unreadable file, a
missing required column, a column whose type cannot be the declared one, a file whose SHA-256
differs from the manifest's ``files`` or a Parquet page that fails its checksum (corrupted in
transit or on disk), a manifest whose ``tax_year`` none of the payment dates falls in. It raises
:class:`ExtractError`, whose message names the file and the problem and never quotes a value.
Row-level faults are left for the contracts (:mod:`contracts.validate`) to quarantine.

Extra columns (docs/spec/extract.md: allowed, carried through untouched) are renamed on reading with the
prefix :data:`EXTRA` (:func:`sheltered`), so that no extra column — ``_row`` or any other name —
can meet a column the pipeline adds; :func:`unsheltered` gives them their names back in the outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from contracts.extract import BOOL, DATE, INT, STR, TABLES, Table
from transforms.law.params import supported_tax_years

ROW = "_row"  # position of the row in its input file, carried for quarantine keys
EXTRA = "extra:"  # prefix of the extract's extra columns while the pipeline works (module docstring)
SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    files: tuple[tuple[str, str], ...] = ()  # (file name, SHA-256) from the optional ``files``

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
            files=_files(raw.get("files"), name),
        )


def _files(files: object, name: str) -> tuple[tuple[str, str], ...]:
    """The manifest's optional ``files``: ``{file name: SHA-256 in hex}`` (docs/spec/extract.md)."""
    if files is None:
        return ()
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and SHA256.match(v.lower()) for k, v in files.items()
    ):
        raise ExtractError(name, "'files' must map file names to SHA-256 digests in hex")
    if any(k != os.path.basename(k) or k in ("", ".", "..") for k in files):
        raise ExtractError(name, "'files' must name files of the extract folder, without a path")
    return tuple(sorted((k, v.lower()) for k, v in files.items()))


def file_hashes(folder: Path, names: list[str] | None = None) -> dict[str, str]:
    """SHA-256 of the extract's files (every file, or those ``names``), for the manifest's ``files``
    check, the run manifest and the run id."""
    out = {}
    paths = sorted(folder.iterdir()) if names is None else [folder / n for n in sorted(names)]
    for path in paths:
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            out[path.name] = digest.hexdigest()
    return out


def check_files(folder: Path, manifest: Manifest, hashes: dict[str, str] | None = None) -> None:
    """Each file the manifest's ``files`` lists is there with that SHA-256 (``hashes``: already
    computed, else computed here for those files)."""
    if not manifest.files:
        return
    hashes = hashes if hashes is not None else file_hashes(folder, [n for n, _ in manifest.files])
    for name, digest in manifest.files:
        path = folder / name
        if not path.is_file():
            raise ExtractError(str(path), "listed in manifest.json 'files' but missing")
        if hashes.get(name) != digest:
            raise ExtractError(
                str(path), "SHA-256 differs from manifest.json 'files': the file was changed or corrupted"
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
    check_page_checksums(path)
    try:
        pq.read_schema(path)
        frame = pl.read_parquet(path)
    except Exception as exc:  # any reader failure means the file cannot be used
        raise ExtractError(str(path), f"not a readable Parquet file ({_why(exc)})") from None

    return conform(frame, table, str(path))


def _why(exc: Exception) -> str:
    """The reason a file could not be read: the file system's words, else the error's type only."""
    code = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    return os.strerror(code) if code else type(exc).__name__


def _first_page_has_crc(header: bytes) -> bool:
    """Whether a Parquet page header (Thrift compact protocol) carries ``crc`` (field 4, after the
    i32 fields 1-3: type, uncompressed and compressed size)."""
    pos, field = 0, 0
    while pos < len(header):
        byte = header[pos]
        pos += 1
        delta, kind = byte >> 4, byte & 0x0F
        if byte == 0 or delta == 0:
            return False
        field += delta
        if field == 4:
            return kind == 5  # i32
        if field > 4 or kind != 5:
            return False
        while pos < len(header) and header[pos] & 0x80:  # the field's varint
            pos += 1
        pos += 1
    return False


def carries_page_checksums(path: Path) -> bool:
    """The file's pages carry CRC checksums (a writer option, e.g. pyarrow's
    ``write_page_checksum``): looked up in the first page header of each column chunk."""
    metadata = pq.ParquetFile(path).metadata
    with path.open("rb") as fh:
        for rg in range(metadata.num_row_groups):
            group = metadata.row_group(rg)
            for c in range(group.num_columns):
                chunk = group.column(c)
                offset = chunk.dictionary_page_offset if chunk.has_dictionary_page else None
                fh.seek(offset or chunk.data_page_offset)
                if _first_page_has_crc(fh.read(32)):
                    return True
    return False


def check_page_checksums(path: Path) -> None:
    """Verify every page checksum the file carries (pyarrow's ``page_checksum_verification``), row
    group by row group: a corrupted page is a table-level fault, never silently changed values.
    Files written without checksums are not read twice."""
    try:
        if not carries_page_checksums(path):
            return
        reader = pq.ParquetFile(path, page_checksum_verification=True)
        for rg in range(reader.num_row_groups):
            reader.read_row_group(rg)
    except Exception as exc:
        if "checksum" in str(exc).lower() or "crc" in str(exc).lower():
            raise ExtractError(
                str(path), "a Parquet page fails its checksum: the file is corrupted"
            ) from None
        raise ExtractError(str(path), f"not a readable Parquet file ({_why(exc)})") from None


def sheltered(columns: list[str], table: Table) -> dict[str, str]:
    """The renaming of ``columns``' extra columns (not declared by ``table``) to ``EXTRA + name``."""
    declared = set(table.names)
    return {c: EXTRA + c for c in columns if c not in declared}


def unsheltered(frame: pl.DataFrame, taken: list[str]) -> pl.DataFrame:
    """The extra columns of ``frame`` under their own names again; one whose name is ``taken`` (a
    column of the output, which docs/spec/outputs.md defines) cannot be carried and is dropped."""
    extras = {c: c.removeprefix(EXTRA) for c in frame.columns if c.startswith(EXTRA)}
    if not extras:
        return frame
    dropped = [c for c, name in extras.items() if name in taken]
    return frame.drop(dropped).rename({c: n for c, n in extras.items() if c not in dropped})


def conform(
    frame: pl.DataFrame, table: Table, file: str | None = None, *, numbered: bool = False
) -> pl.DataFrame:
    """Check required columns, cast to the declared types, apply defaults, shelter the extra columns
    (:func:`sheltered`) and add ``_row``, the row's number in the file — or, ``numbered``, keep the
    ``_row`` the frame has (rows read from part of a file, whose extra columns are sheltered already)."""
    file = file or table.file
    if not numbered:
        frame = frame.rename(sheltered(frame.columns, table))
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
    if numbered:  # rows read from part of the file keep their number in the whole file
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


def read_extract(
    folder: Path, hashes: dict[str, str] | None = None
) -> tuple[Manifest, dict[str, pl.DataFrame]]:
    """The manifest and every table of the extract, cast to the declared types; the files checked
    against the manifest's ``files`` (``hashes``: the files' SHA-256, when already computed) and the
    payment dates against its ``tax_year``."""
    if not folder.is_dir():
        raise ExtractError(str(folder), "extract folder does not exist")
    manifest = Manifest.read(folder)
    check_files(folder, manifest, hashes)
    frames: dict[str, pl.DataFrame] = {}
    for name, table in TABLES.items():
        frame = read_table(folder, table)
        if frame is not None:
            frames[name] = frame
    check_tax_year(folder, manifest, frames["distributions"].lazy())
    return manifest, frames


def check_tax_year(folder: Path, manifest: Manifest, distributions: pl.LazyFrame) -> None:
    """docs/spec/extract.md, "Rules that cross tables": an extract none of whose payment dates falls in the
    manifest's ``tax_year`` has a wrong manifest — refused whole, not quarantined row by row. (Some
    dates outside the year are row faults: ``payment_outside_tax_year``.)"""
    years = (
        distributions.select(
            pl.col("payment_date").cast(pl.Date).dt.year().drop_nulls().unique().sort().alias("y")
        )
        .collect()
        .get_column("y")
    )
    if years.len() and manifest.tax_year not in years.to_list():
        shown = ", ".join(str(y) for y in years.head(3).to_list()) + (", ..." if years.len() > 3 else "")
        raise ExtractError(
            str(folder / "manifest.json"),
            f"tax_year {manifest.tax_year} matches none of the payment dates in distributions.parquet "
            f"(they fall in {shown}); the manifest is wrong",
        )


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
            raise ExtractError(str(path), f"not a readable Parquet file ({_why(exc)})") from None
        missing = [c.name for c in table.columns if c.required and c.name not in names]
        if missing:
            raise ExtractError(str(path), f"required column '{missing[0]}' is missing")
    return manifest
