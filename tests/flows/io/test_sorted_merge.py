"""A sorted output file put together from runs out of key order: the merge holds a window of each
run's keys, never all of them, and gives the rows, the row groups and the bytes of one stable sort."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.io import outputs
from flows.io.outputs import SortedParquetSink, _merge_order

# runs of (k1, k2, v): keys from a small alphabet so that ties across and within runs are common
_key = st.tuples(st.sampled_from("abcdef"), st.integers(0, 3))
_runs = st.lists(st.lists(_key, max_size=14), min_size=1, max_size=5)


def _frames(runs: list[list[tuple[str, int]]], unique: bool) -> list[pl.DataFrame]:
    frames, v = [], 0
    for rows in runs:
        rows = sorted(set(rows)) if unique else sorted(rows)  # a unique sink's run has distinct keys
        frames.append(
            pl.DataFrame(
                {"k1": [k for k, _ in rows], "k2": [n for _, n in rows], "v": list(range(v, v + len(rows)))},
                schema={"k1": pl.String, "k2": pl.Int64, "v": pl.Int64},
            )
        )
        v += len(rows)
    return frames


def _written(path: Path, frames: list[pl.DataFrame], unique: bool, keys: list[str]) -> SortedParquetSink:
    sink = SortedParquetSink(path, keys, unique=unique)
    for frame in frames:
        sink.add(frame)
    sink.close()
    return sink


@settings(max_examples=150, deadline=None)
@given(
    runs=_runs,
    unique=st.booleans(),
    two_keys=st.booleans(),
    window=st.integers(1, 12),
    run_group=st.integers(1, 4),
    group=st.integers(1, 9),
)
def test_a_merge_in_windows_writes_the_bytes_of_one_stable_sort_of_every_run(
    runs, unique, two_keys, window, run_group, group
):
    keys = ["k1", "k2"] if two_keys else ["k1"]
    if unique and not two_keys:
        runs = [[(k, 0) for k, _ in rows] for rows in runs]
    frames = _frames(runs, unique)
    expected = pl.concat(frames).sort(keys, maintain_order=True)
    if unique:
        expected = expected.unique(keys, keep="first", maintain_order=True)
    saved = outputs.MERGE_WINDOW_ROWS, outputs.RUN_ROW_GROUP_ROWS, outputs.ROW_GROUP_ROWS
    outputs.MERGE_WINDOW_ROWS, outputs.RUN_ROW_GROUP_ROWS, outputs.ROW_GROUP_ROWS = window, run_group, group
    try:
        with tempfile.TemporaryDirectory() as folder:
            merged = Path(folder) / "merged.parquet"
            _written(merged, frames, unique, keys)
            whole = Path(folder) / "whole.parquet"
            sink = _written(whole, [expected], unique, keys)
            assert sink.ordered  # one sorted piece: written straight, the reference bytes
            assert pl.read_parquet(merged).equals(expected)
            meta = pq.ParquetFile(merged).metadata
            sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
            if expected.height:
                full, rest = divmod(expected.height, group)
                assert sizes == [group] * full + ([rest] if rest else [])
            assert merged.read_bytes() == whole.read_bytes()
    finally:
        outputs.MERGE_WINDOW_ROWS, outputs.RUN_ROW_GROUP_ROWS, outputs.ROW_GROUP_ROWS = saved


def test_a_merge_never_reads_more_than_its_window_of_a_run_at_once(monkeypatch):
    monkeypatch.setattr(outputs, "MERGE_WINDOW_ROWS", 12)
    monkeypatch.setattr(outputs, "RUN_ROW_GROUP_ROWS", 2)
    runs = [
        pl.DataFrame({"k": [f"{i:03d}" for i in range(start, 300, 3)]}) for start in range(3)
    ]  # 100 rows each, interleaved: every window draws on all three
    reads: list[tuple[int, int, int]] = []

    def read(run: int, offset: int, n: int) -> pl.DataFrame:
        reads.append((run, offset, n))
        return runs[run].slice(offset, n)

    order = pl.concat([source for source, _ in _merge_order(read, [100, 100, 100], ["k"], unique=False)])
    assert order.to_list() == [i % 3 for i in range(300)]
    assert max(n for _, _, n in reads) == 4  # 12 keys shared by three runs
    assert len(reads) > 3 * 100 // 4  # read a window at a time, not the whole run
    assert [offset for run, offset, n in reads if run == 0 and n] == list(range(0, 100, 4))


def test_a_unique_merge_drops_a_copy_whose_first_is_in_an_earlier_window(monkeypatch):
    monkeypatch.setattr(outputs, "MERGE_WINDOW_ROWS", 2)
    monkeypatch.setattr(outputs, "RUN_ROW_GROUP_ROWS", 1)
    runs = [pl.DataFrame({"k": ["a", "b", "c"]}), pl.DataFrame({"k": ["b", "c", "d"]})]

    def read(run: int, offset: int, n: int) -> pl.DataFrame:
        return runs[run].slice(offset, n)

    pieces = list(_merge_order(read, [3, 3], ["k"], unique=True))
    assert len(pieces) > 1
    order = pl.concat([source for source, _ in pieces]).to_list()
    kept = pl.concat([keep for _, keep in pieces]).to_list()
    assert list(zip(order, kept, strict=True)) == [
        (0, True),  # a
        (0, True),  # b
        (1, False),  # b again
        (0, True),  # c
        (1, False),  # c again
        (1, True),  # d
    ]
