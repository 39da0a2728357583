"""The I/O floor of the benchmark reads every input and rewrites every output, a slice at a time."""

from __future__ import annotations

import time

import polars as pl
import pytest

from benchmarks import one_run
from flows.run.pipeline import run_pipeline
from flows.sample import generate_extract


def test_the_io_floor_reads_every_input_row_and_rewrites_every_output_in_slices(tmp_path, monkeypatch):
    extract, out = tmp_path / "extract", tmp_path / "out"
    generate_extract(extract, 2_000, seed=3)
    run_pipeline(extract, out)
    monkeypatch.setattr(one_run, "FLOOR_CHUNK_ROWS", 500)  # several slices per file
    irs_sizes = {p.name: p.stat().st_size for p in (out / "irs").iterdir()}
    started = time.perf_counter()
    floor = one_run.io_floor(extract, out)
    elapsed = time.perf_counter() - started
    inputs = sum(pl.read_parquet(p).height for p in extract.glob("*.parquet"))
    assert floor["floor_input_rows"] == inputs
    # both halves are measured, and together they are no more than the call took
    assert floor["floor_read_s"] > 0 and floor["floor_write_s"] > 0
    assert (
        floor["floor_s"] == pytest.approx(floor["floor_read_s"] + floor["floor_write_s"])
        and floor["floor_s"] <= elapsed
    )
    copies = tmp_path / "out-floor"
    for path in out.glob("*.parquet"):
        assert pl.read_parquet(copies / path.name).equals(pl.read_parquet(path)), path.name
    # the IRS file as the same number of bytes; the run's copy deleted (the disk at 20 M)
    assert irs_sizes and {name: (copies / name).stat().st_size for name in irs_sizes} == irs_sizes
    assert list((out / "irs").iterdir()) == []
