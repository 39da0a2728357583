"""The run streamed plan partition by plan partition: the same outputs as the in-memory path, one
partition in memory at a time, the IRS file written in pieces equal to the file written at once."""

from __future__ import annotations

import json
import weakref
from pathlib import Path

import polars as pl
import pytest

from flows.io.outputs import SortedParquetSink
from flows.irs.files import filing_frame, write_irs_file
from flows.run import pipeline
from flows.sample import generate_extract
from flows.settings import TransmitterSettings
from transforms.engine.edit_checks import filable
from transforms.irs import check_pub1220, write_iris_xml, write_pub1220

pytestmark = pytest.mark.slow  # alternative execution paths (batches, streaming) give the same bytes

PARQUETS = (
    "distributions",
    "forms",
    "explain",
    "quarantine",
    "edit_checks",
    "tieout_945",
    "recipients",
    "payers",
)


@pytest.fixture(scope="module")
def faulty_extract(tmp_path_factory) -> Path:
    """A generated extract of 8 plans with about 8 % of its events corrupted."""
    folder = tmp_path_factory.mktemp("faulty") / "extract"
    counts = generate_extract(folder, 12_000, seed=5, fault_fraction=0.08)
    assert counts["faulty_events"] > 100 and counts["plans"] == 8
    return folder


def folder_contents(out: Path) -> tuple[dict[str, pl.DataFrame], dict[str, bytes], dict]:
    frames = {name: pl.read_parquet(out / f"{name}.parquet") for name in PARQUETS}
    irs = {p.name: p.read_bytes() for p in sorted((out / "irs").iterdir())}
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("stage_seconds")
    return frames, irs, manifest


def test_streamed_outputs_equal_the_in_memory_result_on_a_faulty_extract_with_several_partitions(
    faulty_extract, tmp_path
):
    loaded = pipeline.load_and_validate(faulty_extract)
    assert loaded.validated.quarantine.height > 0
    pipeline.write_outputs(tmp_path / "memory", loaded, pipeline.compute_split(loaded), {})
    assert len(pipeline.plan_partitions(loaded.validated.tables["distributions"], 3_000)) >= 3
    pipeline.run_pipeline(faulty_extract, tmp_path / "streamed", batch_rows=3_000)

    memory, streamed = folder_contents(tmp_path / "memory"), folder_contents(tmp_path / "streamed")
    for name in PARQUETS:
        a, b = memory[0][name], streamed[0][name]
        assert a.schema == b.schema, name
        assert a.equals(b), name
    assert memory[1] == streamed[1]
    assert memory[2] == streamed[2]
    leftovers = [p.name for p in (tmp_path / "streamed").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_a_partitioned_run_writes_the_bytes_of_a_single_partition_run(faulty_extract, tmp_path):
    pipeline.run_pipeline(faulty_extract, tmp_path / "one", batch_rows=10_000_000)
    pipeline.run_pipeline(faulty_extract, tmp_path / "many", batch_rows=1_000)
    for name in PARQUETS:
        assert (tmp_path / "one" / f"{name}.parquet").read_bytes() == (
            tmp_path / "many" / f"{name}.parquet"
        ).read_bytes(), name


def test_the_pipeline_holds_one_partition_at_a_time_and_outputs_do_not_change(
    faulty_extract, tmp_path, monkeypatch
):
    monkeypatch.setenv("PRORATA_PARTITION_ROWS", str(1_500))
    loaded = pipeline.load_and_validate(faulty_extract)
    plans = pipeline.plan_partitions(loaded.validated.tables["distributions"])
    largest_plan = loaded.validated.tables["distributions"].group_by("plan_id").len()["len"].max()
    assert len(plans) == 8  # every plan is larger than 1,500 rows: one partition each

    seen: list[int] = []
    alive: list[weakref.ref] = []
    compute = pipeline.compute_batch

    def watched(batch, tax_year):
        # the previous partition's result is gone before the next one is computed
        assert all(ref() is None for ref in alive)
        seen.append(batch["distributions"].height)
        result = compute(batch, tax_year)
        alive.append(weakref.ref(result))
        return result

    monkeypatch.setattr(pipeline, "compute_batch", watched)
    pipeline.run_pipeline(faulty_extract, tmp_path / "tiny")
    assert len(seen) == len(plans)
    assert max(seen) <= largest_plan
    assert sum(seen) == loaded.validated.tables["distributions"].height

    monkeypatch.setattr(pipeline, "compute_batch", compute)
    monkeypatch.setenv("PRORATA_PARTITION_ROWS", str(10_000_000))
    pipeline.run_pipeline(faulty_extract, tmp_path / "whole")
    tiny, whole = folder_contents(tmp_path / "tiny"), folder_contents(tmp_path / "whole")
    for name in PARQUETS:
        assert tiny[0][name].equals(whole[0][name]), name
    assert tiny[1] == whole[1] and tiny[2] == whole[2]


@pytest.mark.parametrize("tax_year", [2025, 2026])
def test_the_irs_file_streamed_equals_the_file_written_in_one_piece(tmp_path, tax_year):
    folder = tmp_path / "extract"
    generate_extract(folder, 3_000, seed=9, tax_year=tax_year)
    loaded = pipeline.load_and_validate(folder)
    computed = pipeline.compute_split(loaded)
    filing = filing_frame(filable(computed.forms, computed.edit_checks), loaded.validated.tables)
    settings = TransmitterSettings.placeholder()
    info = write_irs_file(tmp_path, filing, settings, tax_year)
    streamed = (tmp_path / info["file"]).read_bytes()
    one_piece = (write_pub1220 if tax_year <= 2025 else write_iris_xml)(
        filing, settings.transmitter, tax_year=tax_year, test_file=True
    )
    assert streamed == one_piece
    names = [Path(info["file"]).name] + ([Path(info["index"]).name] if tax_year > 2025 else [])
    assert sorted(p.name for p in (tmp_path / "irs").iterdir()) == sorted(names)
    if tax_year <= 2025:
        assert check_pub1220(streamed) == []


def test_sorted_runs_out_of_order_merge_into_fixed_row_groups(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from flows.io import outputs

    monkeypatch.setattr(outputs, "ROW_GROUP_ROWS", 7)
    runs = [
        pl.DataFrame({"k": ["b", "e", "h", "k"], "v": [1, 2, 3, 4]}),
        pl.DataFrame({"k": ["a", "c", "d", "f", "g", "i", "j", "l", "m"], "v": list(range(5, 14))}),
        pl.DataFrame(schema={"k": pl.String, "v": pl.Int64}),
        pl.DataFrame({"k": ["n", "o"], "v": [14, 15]}),
    ]
    sink = SortedParquetSink(tmp_path / "out.parquet", "k")
    for run in runs:
        sink.add(run)
    assert not sink.ordered
    assert sink.close() == 15
    merged = pl.read_parquet(tmp_path / "out.parquet")
    assert merged.equals(pl.concat(runs).sort("k"))
    meta = pq.ParquetFile(tmp_path / "out.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [7, 7, 1]
    assert not (tmp_path / ".runs-out.parquet").exists()


def test_an_empty_sink_writes_an_empty_file_with_the_columns(tmp_path):
    sink = SortedParquetSink(tmp_path / "out.parquet", "k")
    sink.add(pl.DataFrame(schema={"k": pl.String, "n": pl.Int32}))
    sink.close()
    assert pl.read_parquet(tmp_path / "out.parquet").schema == pl.Schema({"k": pl.String, "n": pl.Int32})


def test_a_failing_run_leaves_no_staging_folder_and_no_earlier_output_changed(
    faulty_extract, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    pipeline.run_pipeline(faulty_extract, out, batch_rows=3_000)
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    calls = []
    compute = pipeline.compute_batch

    def breaks_on_the_second(batch, tax_year):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return compute(batch, tax_year)

    monkeypatch.setattr(pipeline, "compute_batch", breaks_on_the_second)
    with pytest.raises(RuntimeError):
        pipeline.run_pipeline(faulty_extract, out, batch_rows=3_000)
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_unique_sink_keeps_one_copy_of_a_row_that_comes_in_two_runs(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from flows.io import outputs

    monkeypatch.setattr(outputs, "ROW_GROUP_ROWS", 3)
    runs = [
        pl.DataFrame({"k": ["a", "c", "e", "g"], "v": [1, 3, 5, 7]}),
        pl.DataFrame({"k": ["b", "c", "d", "g", "h"], "v": [2, 3, 4, 7, 8]}),
        pl.DataFrame({"k": ["c", "i"], "v": [3, 9]}),
    ]
    sink = SortedParquetSink(tmp_path / "out.parquet", ["k"], unique=True)
    for run in runs:
        sink.add(run)
    sink.close()
    expected = pl.concat(runs).unique("k").sort("k")
    assert pl.read_parquet(tmp_path / "out.parquet").equals(expected)
    meta = pq.ParquetFile(tmp_path / "out.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [3, 3, 2]  # 8 keys
    one = SortedParquetSink(tmp_path / "one.parquet", "k", unique=True)
    one.add(expected)
    one.close()
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "out.parquet").read_bytes()


def _sinks_of_runs(folder: Path) -> list[SortedParquetSink]:
    """Three sinks, each fed three runs out of key order (merged at close)."""
    sinks = []
    for n, name in enumerate(("a", "b", "c")):
        sink = SortedParquetSink(folder / f"{name}.parquet", "k")
        for part in range(3):
            keys = [f"{i:04d}" for i in range(part, 30 + 10 * n, 3)]
            sink.add(pl.DataFrame({"k": keys, "v": [len(k) + part for k in keys]}))
        sinks.append(sink)
    return sinks


def test_sinks_closed_two_at_a_time_write_the_bytes_of_sinks_closed_one_by_one(tmp_path, monkeypatch):
    from flows.io import outputs

    monkeypatch.setattr(outputs, "ROW_GROUP_ROWS", 4)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    for sink in _sinks_of_runs(tmp_path / "one"):
        sink.close()
    outputs.close_all(_sinks_of_runs(tmp_path / "two"))
    for name in ("a", "b", "c"):
        assert (tmp_path / "two" / f"{name}.parquet").read_bytes() == (
            tmp_path / "one" / f"{name}.parquet"
        ).read_bytes()
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["a.parquet", "b.parquet", "c.parquet"]


def test_a_sink_that_fails_to_close_stops_close_all_with_its_error(tmp_path, monkeypatch):
    from flows.io import outputs

    sinks = _sinks_of_runs(tmp_path)

    def breaks() -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sinks[1], "close", breaks)
    with pytest.raises(OSError, match="No space left"):
        outputs.close_all(sinks)
