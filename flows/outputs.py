"""Writing OUT_DIR atomically: everything goes to a temporary sibling folder first, and the folder
replaces OUT_DIR only once complete. A failed run leaves OUT_DIR as it was (a complete earlier result
or nothing); a folder that is not a prorata result is never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
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
