"""Writing OUT_DIR atomically: everything goes to a temporary sibling folder first, and the folder
replaces OUT_DIR only once complete. A failed run leaves OUT_DIR as it was (a complete earlier result
or nothing); a folder that is not a prorata result is never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

MARKER = "manifest.json"


class OutputError(Exception):
    """OUT_DIR cannot be written; the message is the one line for stderr."""


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest.json, or None when it is missing or not a JSON object."""
    try:
        manifest = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def is_extract(folder: Path) -> bool:
    """The folder is a recordkeeper extract: its manifest.json has the extract keys (docs/spec/extract.md)."""
    manifest = read_manifest(folder)
    return manifest is not None and {"recordkeeper", "created_at"} <= manifest.keys()


def check_target(out_dir: Path) -> None:
    """Refuse early to overwrite a folder that holds something other than a prorata result
    (an extract has a manifest.json too: it is never replaced)."""
    if out_dir.exists() and (
        not out_dir.is_dir()
        or (any(out_dir.iterdir()) and not (out_dir / MARKER).is_file())
        or is_extract(out_dir)
    ):
        raise OutputError(f"{out_dir}: exists and is not a prorata output folder; choose another --out")


def check_parent(path: Path, option: str = "--out") -> None:
    """A folder named on the command line must be in a folder that exists: a mistyped parent is an
    error, never a new tree of folders."""
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise OutputError(f"{parent}: no such folder; create it first or check the {option} path")


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Deterministic Parquet: same frame, same bytes (no statistics timestamps, fixed compression)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(
        path, compression="zstd", compression_level=3, statistics=True, row_group_size=1_000_000
    )


def write_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


class StagedOutput:
    """A temporary folder beside OUT_DIR, swapped into place by :meth:`commit`."""

    def __init__(self, out_dir: Path, check: Callable[[Path], None] | None = None):
        self.out_dir = out_dir.resolve()
        (check or check_target)(self.out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.tmp-", dir=self.out_dir.parent))

    def commit(self) -> None:
        old = None
        if self.out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.old-", dir=self.out_dir.parent))
            os.rmdir(old)
            os.replace(self.out_dir, old)
        os.replace(self.path, self.out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> StagedOutput:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


ROW_GROUP_ROWS = 1_000_000  # every output file: row groups of exactly this many rows (the last fewer)
RUN_ROW_GROUP_ROWS = 65_536  # the temporary runs: small row groups, so a slice reads little


def _group_bounds(total: int, keep: pl.Series | None) -> Iterator[tuple[int, int]]:
    """Slices [start, end) of the merged rows that each hold :data:`ROW_GROUP_ROWS` kept rows (the
    last fewer): every row when ``keep`` is None."""
    if keep is None:
        yield from ((s, min(s + ROW_GROUP_ROWS, total)) for s in range(0, total, ROW_GROUP_ROWS))
        return
    kept = keep.cast(pl.UInt64).cum_sum()
    targets = pl.Series(range(ROW_GROUP_ROWS, int(kept[-1]) if total else 0, ROW_GROUP_ROWS), dtype=pl.UInt64)
    ends = [int(i) + 1 for i in kept.search_sorted(targets, side="left")] + [total]
    start = 0
    for end in ends:
        if end > start:
            yield start, end
        start = end


class SortedParquetSink:
    """One output Parquet file put together from runs, one run per plan partition.

    With ``key`` (a column, or columns), every run is sorted by ``key`` (sorted here if it is not)
    — with ``unique``, a row whose key an earlier row has is a copy and is dropped (the rows of one
    run must have distinct keys) — and the file holds the
    runs merged in ``key`` order (ties: earlier runs first); without, the runs one after the other.
    The file is written in row groups of exactly :data:`ROW_GROUP_ROWS` rows (the last fewer) whatever
    the runs' sizes, so the same rows give the same bytes however they were partitioned.

    While the runs come in order (always without ``key``), their rows go straight into the file,
    a row group at a time (memory: one run and one row group). The first run out of order turns what
    was written so far into the first sorted run on disk; from then on each run is written to a
    temporary file beside the output, and :meth:`close` merges them, holding the key column and one
    row group.
    """

    def __init__(self, path: Path, key: str | list[str] | None = None, unique: bool = False):
        self.path = path
        self.key = key
        self.unique = unique  # rows with the key of a row before them are dropped (they are equal)
        self.schema: pl.Schema | None = None
        self.dir = path.parent / f".runs-{path.name}"
        self.runs: list[Path] = []
        self.heights: list[int] = []
        self.ordered = True  # every row so far came in key order: written straight into the file
        self._last: object = None
        self._writer = None
        self._arrow_schema = None
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0
        self._direct = 0  # rows in the file's row groups written so far

    @property
    def _keys(self) -> list[str]:
        return [] if self.key is None else [self.key] if isinstance(self.key, str) else list(self.key)

    @property
    def rows(self) -> int:
        return sum(self.heights) + self._direct + self._buffered

    def add(self, frame: pl.DataFrame) -> None:
        if self.schema is None:
            self.schema = frame.schema
            self._arrow_schema = pl.DataFrame(schema=frame.schema).to_arrow().schema
        if frame.height == 0:
            return
        if self.key is not None:
            keys = self._keys
            if len(keys) > 1 or not frame.get_column(keys[0]).is_sorted():
                frame = frame.sort(keys, maintain_order=True)
            first, last = frame.select(keys).row(0), frame.select(keys).row(-1)
            if self.ordered and self._last is not None and not first > self._last:
                self._to_runs()
            self._last = last
        if not self.ordered:
            self._add_run(frame)
            return
        self._buffer.append(frame)
        self._buffered += frame.height
        while self._buffered >= ROW_GROUP_ROWS:
            rows = pl.concat(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
            self._write_group(rows.slice(0, ROW_GROUP_ROWS))
            rest = rows.slice(ROW_GROUP_ROWS)
            self._buffer, self._buffered = ([rest] if rest.height else []), rest.height

    def _write_group(self, rows: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(
                self.path, self._arrow_schema, compression="zstd", compression_level=3, write_statistics=True
            )
        table = rows.rechunk().to_arrow().cast(self._arrow_schema)
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self._direct += rows.height

    def _flush(self) -> None:
        if self._buffered:
            self._write_group(pl.concat(self._buffer))
            self._buffer, self._buffered = [], 0

    def _to_runs(self) -> None:
        """What was written straight into the file (and the buffer) becomes the first sorted run."""
        self._flush()
        self.ordered = False
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        self.dir.mkdir(parents=True, exist_ok=True)
        first = self.dir / f"{len(self.runs):06d}.parquet"
        os.replace(self.path, first)
        self.runs.append(first)
        self.heights.append(self._direct)
        self._direct = 0

    def _add_run(self, frame: pl.DataFrame) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        run = self.dir / f"{len(self.runs):06d}.parquet"
        frame.write_parquet(run, compression="lz4", statistics=False, row_group_size=RUN_ROW_GROUP_ROWS)
        self.runs.append(run)
        self.heights.append(frame.height)

    def _take(self, run: int, offset: int, n: int) -> pl.DataFrame:
        return pl.scan_parquet(self.runs[run]).slice(offset, n).collect()

    def _merged(self) -> Iterator[pl.DataFrame]:
        """The runs' rows in key order, :data:`ROW_GROUP_ROWS` at a time: which run each row of the
        file comes from is found on the key column alone; each row group then takes the next rows of
        every run it draws on (a run's rows stay in order) and sorts just those."""
        keys = pl.concat(
            [
                pl.scan_parquet(run).select(self._keys).with_columns(pl.lit(i, pl.UInt32).alias("_run"))
                for i, run in enumerate(self.runs)
            ]
        ).collect()
        keys = keys.sort(*self._keys, "_run")
        source = keys.get_column("_run")
        keep = None
        if self.unique:  # a row whose key is the key of the row before it: a copy, dropped
            same = pl.all_horizontal(pl.col(k) == pl.col(k).shift(1) for k in self._keys).fill_null(False)
            keep = keys.select(~same).to_series()
        del keys
        offsets = [0] * len(self.runs)
        for start, end in _group_bounds(source.len(), keep):
            pieces = []
            for i, k in source.slice(start, end - start).value_counts().sort("_run").rows():
                pieces.append(self._take(i, offsets[i], k))
                offsets[i] += k
            rows = pl.concat(pieces).sort(self._keys, maintain_order=True)
            yield rows if keep is None else rows.filter(keep.slice(start, end - start))

    def close(self) -> int:
        """Finish the file, remove the runs; the number of rows."""
        if self._arrow_schema is None:
            self._arrow_schema = pl.DataFrame(schema=self.schema or {}).to_arrow().schema
        if not self.ordered:
            for rows in self._merged():
                self._write_group(rows)
        else:
            self._flush()
        if self._writer is None:  # no rows: an empty file with the columns
            self._write_group(pl.DataFrame(schema=self.schema or {}))
        self._writer.close()
        self._writer = None
        shutil.rmtree(self.dir, ignore_errors=True)
        return self._direct

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        shutil.rmtree(self.dir, ignore_errors=True)
