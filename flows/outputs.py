"""Writing OUT_DIR atomically: everything goes to a temporary sibling folder first, and the folder
replaces OUT_DIR only once complete. A failed run leaves OUT_DIR as it was (a complete earlier result
or nothing); a folder that is not a prorata result is never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl

MARKER = "manifest.json"


class OutputError(Exception):
    """OUT_DIR cannot be written; the message is the one line for stderr."""


def check_target(out_dir: Path) -> None:
    """Refuse early to overwrite a folder that holds something other than a prorata result."""
    if out_dir.exists() and (
        not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER).is_file())
    ):
        raise OutputError(f"{out_dir}: exists and is not a prorata output folder; choose another --out")


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

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir.resolve()
        check_target(self.out_dir)
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


class SortedParquetSink:
    """One output Parquet file put together from runs, one run per plan partition.

    Each run is written to a temporary file beside the output as it comes (memory: one run). With
    ``key``, every run must be sorted by ``key`` and the file is the runs merged in ``key`` order
    (ties: earlier runs first); without, the file is the runs one after the other. The file is written
    in row groups of :data:`ROW_GROUP_ROWS` rows whatever the runs' sizes, so the same rows give the
    same bytes however they were partitioned. Merging holds the key column and one row group.
    """

    def __init__(self, path: Path, key: str | None = None, schema: pl.Schema | None = None):
        self.path = path
        self.key = key
        self.schema = schema
        self.dir = path.parent / f".runs-{path.name}"
        self.runs: list[Path] = []
        self.heights: list[int] = []
        self.ordered = True  # the runs, one after the other, are already in key order
        self._last: object = None

    @property
    def rows(self) -> int:
        return sum(self.heights)

    def add(self, frame: pl.DataFrame) -> None:
        if self.schema is None:
            self.schema = frame.schema
        if frame.height == 0:
            return
        if self.key is not None:
            if not frame.get_column(self.key).is_sorted():
                frame = frame.sort(self.key, maintain_order=True)
            keys = frame.get_column(self.key)
            if self._last is not None and not keys[0] > self._last:
                self.ordered = False
            self._last = keys[-1]
        self.dir.mkdir(parents=True, exist_ok=True)
        run = self.dir / f"{len(self.runs):06d}.parquet"
        frame.write_parquet(run, compression="lz4", statistics=False, row_group_size=RUN_ROW_GROUP_ROWS)
        self.runs.append(run)
        self.heights.append(frame.height)

    def _take(self, run: int, offset: int, n: int) -> pl.DataFrame:
        return pl.scan_parquet(self.runs[run]).slice(offset, n).collect()

    def _chunks(self) -> Iterator[pl.DataFrame]:
        """The file's rows, :data:`ROW_GROUP_ROWS` at a time, in order."""
        total = self.rows
        if self.key is None or self.ordered:
            counts = None
        else:  # which run each row of the merged file comes from
            keys = pl.concat(
                [
                    pl.scan_parquet(run).select(self.key).with_columns(pl.lit(i, pl.UInt32).alias("_run"))
                    for i, run in enumerate(self.runs)
                ]
            ).collect()
            counts = keys.sort(self.key, "_run").get_column("_run")
            del keys
        offsets = [0] * len(self.runs)
        run, within = 0, 0  # the concatenation's position
        for start in range(0, total, ROW_GROUP_ROWS):
            n = min(ROW_GROUP_ROWS, total - start)
            pieces = []
            if counts is None:
                while n:
                    take = min(n, self.heights[run] - within)
                    pieces.append(self._take(run, within, take))
                    n -= take
                    within += take
                    if within == self.heights[run]:
                        run, within = run + 1, 0
                yield pl.concat(pieces)
                continue
            per_run = counts.slice(start, n).value_counts().sort("_run").rows()
            for i, k in per_run:
                pieces.append(self._take(i, offsets[i], k))
                offsets[i] += k
            yield pl.concat(pieces).sort(self.key, maintain_order=True)

    def close(self) -> int:
        """Write the file, remove the runs; the number of rows."""
        import pyarrow.parquet as pq

        empty = pl.DataFrame(schema=self.schema or {}).to_arrow()
        schema = empty.schema
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(
            self.path, schema, compression="zstd", compression_level=3, write_statistics=True
        ) as writer:
            wrote = False
            for chunk in self._chunks():
                writer.write_table(chunk.rechunk().to_arrow().cast(schema), row_group_size=ROW_GROUP_ROWS)
                wrote = True
            if not wrote:
                writer.write_table(empty)
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.rows

    def frame(self) -> pl.DataFrame:
        """The runs one after the other, in memory (for a temporary sink)."""
        if not self.runs:
            return pl.DataFrame(schema=self.schema or {})
        return pl.concat([pl.read_parquet(run) for run in self.runs])

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.runs, self.heights = [], []
