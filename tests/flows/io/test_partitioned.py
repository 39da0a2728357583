"""An extract read partition by partition (flows/io/extract.py) gives the bytes of the whole-extract
read: the same quarantine, forms, IRS file and manifest — also when ids cross plans, when rows
belong to no disbursement, and when a payee is shared by two plans."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from contracts.loading import ExtractError, Manifest
from flows.io import extract as partitioned
from flows.run import pipeline
from flows.sample import generate_extract


@pytest.fixture(scope="module")
def tangled_extract(tmp_path_factory) -> Path:
    """A generated extract of 8 plans with 8 % of its events corrupted, and ids that cross plans:
    an event whose legs are in two plans, a distribution id used in two plans, a participant of
    one plan paid in another, a payee who is payee in two plans, an orphan contract row and an
    unreferenced payee with a broken TIN."""
    folder = tmp_path_factory.mktemp("tangled") / "extract"
    generate_extract(folder, 12_000, seed=11, fault_fraction=0.08)
    d = pl.read_parquet(folder / "distributions.parquet")
    plans = sorted(d.get_column("plan_id").unique().to_list())
    a, b, c = plans[0], plans[3], plans[6]
    multi = (
        d.filter(pl.col("plan_id") == a)
        .group_by("event_id")
        .len()
        .filter(pl.col("len") > 1)
        .sort("event_id")
        .get_column("event_id")
    )
    split_event = multi[0]
    first_leg = d.filter(pl.col("event_id") == split_event).get_column("distribution_id").sort()[0]
    in_b = d.filter(pl.col("plan_id") == b).sort("distribution_id")
    reused_id = d.filter(pl.col("plan_id") == c).sort("distribution_id").get_column("distribution_id")[5]
    stranger = in_b.row(10, named=True)
    shared_payee = d.filter(pl.col("plan_id") == c).sort("distribution_id").get_column("payee_id")[20]
    d = d.with_columns(
        pl.when(pl.col("distribution_id") == first_leg)
        .then(pl.lit(b))
        .otherwise(pl.col("plan_id"))
        .alias("plan_id"),
        pl.when(pl.col("distribution_id") == in_b.get_column("distribution_id")[3])
        .then(pl.lit(reused_id))
        .otherwise(pl.col("distribution_id"))
        .alias("distribution_id"),
        pl.when(pl.col("distribution_id") == in_b.get_column("distribution_id")[30])
        .then(pl.lit(shared_payee))
        .otherwise(pl.col("payee_id"))
        .alias("payee_id"),
    )
    # a participant of plan c paid in plan b
    other = d.filter(pl.col("plan_id") == c).sort("distribution_id").get_column("participant_id")[40]
    d = d.with_columns(
        pl.when(pl.col("distribution_id") == stranger["distribution_id"])
        .then(pl.lit(other))
        .otherwise(pl.col("participant_id"))
        .alias("participant_id")
    )
    d.write_parquet(folder / "distributions.parquet")
    contracts = pl.read_parquet(folder / "contracts.parquet")
    orphan = contracts.head(1).with_columns(pl.lit("EV-NOBODY").alias("event_id"))
    pl.concat([contracts, orphan]).write_parquet(folder / "contracts.parquet")
    payees = pl.read_parquet(folder / "payees.parquet")
    lonely = payees.head(1).with_columns(pl.lit("PY-NOBODY").alias("payee_id"), pl.lit("12-34").alias("tin"))
    pl.concat([payees, lonely]).write_parquet(folder / "payees.parquet")
    return folder


def contents(out: Path) -> tuple[dict[str, bytes], dict]:
    files = {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("stage_seconds")
    return files, manifest


@pytest.fixture(scope="module")
def whole_run(tangled_extract, tmp_path_factory) -> tuple[dict[str, bytes], dict]:
    out = tmp_path_factory.mktemp("whole") / "out"
    assert not partitioned.needs_partitions(tangled_extract)
    pipeline.run_pipeline(tangled_extract, out)
    return contents(out)


def test_the_tangled_extract_quarantines_what_crosses_plans(whole_run):
    quarantine = pl.read_parquet(io.BytesIO(whole_run[0]["quarantine.parquet"]))
    rule_of = dict(quarantine.select("key", "rule").iter_rows())
    assert "PY-NOBODY" in rule_of  # the unreferenced payee with a broken TIN
    orphan = [k for k in rule_of if k.startswith("EV-NOBODY|")]
    assert len(orphan) == 1 and rule_of[orphan[0]] == "orphan_contract_row"
    assert {"event_mixed", "duplicate_id", "plan_mismatch"} <= set(rule_of.values())


@pytest.mark.slow
@pytest.mark.parametrize("partition_rows", [1_000, 2_500, 4_000])
def test_an_extract_read_in_partitions_gives_the_bytes_of_the_whole_read(
    tangled_extract, whole_run, tmp_path, monkeypatch, partition_rows
):
    monkeypatch.setenv("PRORATA_READ_WHOLE_ROWS", str(partition_rows))
    monkeypatch.setenv("PRORATA_READ_PARTITION_ROWS", str(partition_rows))
    monkeypatch.setattr(partitioned, "NARROW_CHUNK_ROWS", 700)  # the first pass in many chunks
    assert partitioned.needs_partitions(tangled_extract)
    parts = partitioned.plan_partitions_of(tangled_extract)
    assert len(parts) >= 2
    pipeline.run_pipeline(tangled_extract, tmp_path / "out", batch_rows=1_500)
    files, manifest = contents(tmp_path / "out")
    assert files.keys() == whole_run[0].keys()
    for name, data in files.items():
        assert data == whole_run[0][name], name
    assert manifest == whole_run[1]


def test_plans_that_share_an_event_or_a_distribution_id_are_read_in_one_partition(tangled_extract):
    d = pl.read_parquet(tangled_extract / "distributions.parquet")
    parts = partitioned.plan_partitions_of(tangled_extract, max_rows=1)
    partition_of = {plan: i for i, plans in enumerate(parts.plans) for plan in plans}
    for column in ("event_id", "distribution_id", "participant_id"):
        crossing = (
            d.filter(pl.col(column).is_not_null())  # a missing id links nothing
            .group_by(column)
            .agg(pl.col("plan_id").unique())
            .filter(pl.col("plan_id").list.len() > 1)
        )
        assert crossing.height > 0, column
        for plans in crossing.get_column("plan_id").to_list():
            assert len({partition_of[p] for p in plans}) == 1, (column, plans)
    assert parts.leftovers  # the orphan contract row and the unreferenced payee


def test_rows_nobody_refers_to_are_validated_in_a_last_partition_of_their_own(tangled_extract):
    parts = partitioned.plan_partitions_of(tangled_extract, max_rows=100_000)
    assert len(parts.plans) == 1 and len(parts) == 2
    last = partitioned.partition_tables(tangled_extract, parts, len(parts.plans))
    assert last["distributions"].height == 0
    assert last["contracts"].get_column("event_id").to_list() == ["EV-NOBODY"]
    lonely = last["payees"].get_column("payee_id")
    referred = pl.concat(
        [
            pl.read_parquet(tangled_extract / "distributions.parquet").get_column("payee_id"),
            pl.read_parquet(tangled_extract / "participants.parquet").get_column("payee_id"),
        ]
    )
    assert "PY-NOBODY" in lonely.to_list()
    assert not lonely.is_in(referred.implode()).any()
    quarantine = partitioned.read_partition(tangled_extract, Manifest.read(tangled_extract), parts, 1)
    q = quarantine.validated.quarantine
    assert q.filter(pl.col("table") == "contracts").get_column("rule").to_list() == ["orphan_contract_row"]
    assert "PY-NOBODY" in q.filter(pl.col("table") == "payees").get_column("key").to_list()


def test_a_missing_column_stops_a_partitioned_run_before_any_row_is_read(
    tangled_extract, tmp_path, monkeypatch
):
    broken = tmp_path / "broken"
    shutil.copytree(tangled_extract, broken)
    pl.read_parquet(broken / "contracts.parquet").drop("value_cents").write_parquet(
        broken / "contracts.parquet"
    )
    monkeypatch.setenv("PRORATA_READ_WHOLE_ROWS", str(1_000))
    with pytest.raises(ExtractError, match="required column 'value_cents' is missing"):
        pipeline.run_pipeline(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_partitioned_run_moves_the_bar_partition_by_partition(tangled_extract, tmp_path, monkeypatch):
    from flows.prefect.progress import percent_for
    from flows.run.steps import Step

    monkeypatch.setenv("PRORATA_READ_WHOLE_ROWS", str(1_000))
    monkeypatch.setenv("PRORATA_READ_PARTITION_ROWS", str(1_000))
    events: list = []
    pipeline.run_pipeline(tangled_extract, tmp_path / "out", progress=events.append)
    partitions = [e for e in events if isinstance(e, Step) and str(e).startswith("partition ")]
    assert len(partitions) > 1
    moves = [percent_for(e) for e in partitions]
    assert moves == sorted(moves) and moves[-1] == 90
    assert all(percent_for(e) is None for e in events if not isinstance(e, Step))


@pytest.mark.prefect
def test_the_prefect_flow_reads_a_large_extract_in_partitions_with_the_same_bytes(
    tangled_extract, whole_run, tmp_path, monkeypatch, prefect_server
):
    from flows.prefect.run_flow import prorata_run

    monkeypatch.setenv("PRORATA_READ_WHOLE_ROWS", str(2_500))
    monkeypatch.setenv("PRORATA_READ_PARTITION_ROWS", str(2_500))
    manifest = prorata_run(tangled_extract, tmp_path / "flow")
    assert "partition" in manifest["stage_seconds"]
    files, manifest = contents(tmp_path / "flow")
    assert files == whole_run[0]
    assert manifest == whole_run[1]


def test_a_partition_and_its_batches_are_released_once_split_whoever_keeps_them(
    tangled_extract, tmp_path, monkeypatch
):
    """The stages' arguments and results may be kept by their caller (Prefect keeps a task's last
    result): each partition's tables, each batch and each batch's results are emptied once used."""
    monkeypatch.setenv("PRORATA_READ_WHOLE_ROWS", str(2_500))
    monkeypatch.setenv("PRORATA_READ_PARTITION_ROWS", str(2_500))
    loads, batches, results, parts = [], [], [], []

    def load_partition(extract_dir, manifest, partitions, i):
        parts.append(partitions)
        loads.append(pipeline.read_partition(extract_dir, manifest, partitions, i))
        return loads[-1]

    def split(batch, tax_year):
        batches.append(batch)
        results.append(pipeline.compute_batch(batch, tax_year))
        return results[-1]

    pipeline.stream_extract(
        tangled_extract, tmp_path / "out", {}, batch_rows=1_500, load_partition=load_partition, split=split
    )
    assert len(loads) > 1 and len(batches) > len(loads) - 1
    assert all(not loaded.validated.tables for loaded in loads)
    assert all(not batch for batch in batches)
    assert parts and all(not p.events and not p.payees for p in parts)  # the first pass's id hashes
    frames = ("distributions", "forms", "explain", "quarantine", "checks", "tieout")
    assert all(getattr(r, f).height == 0 for r in results for f in frames)
    assert all(not r.parties for r in results)
    assert pl.read_parquet(tmp_path / "out" / "forms.parquet").height > 0
