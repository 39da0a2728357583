"""Read and validate an extract larger than memory, one partition of plans at a time.

Up to ``PRORATA_READ_WHOLE_ROWS`` (10 million) disbursements the whole extract is read and validated at once
(:func:`flows.run.pipeline.load_and_validate`). Above it, a narrow first pass over the key columns
cuts the plans into partitions of at most ``PRORATA_READ_PARTITION_ROWS`` (5 million) disbursements, and each
partition's rows are read from the extract's files, validated and split before the next partition
is read: memory follows the partition, not the extract. The outputs are the same bytes as the whole-extract run.

Why a partition validates exactly as the whole extract would. Every rule of ``docs/spec/extract.md`` reads
rows that end up together in one partition:

- a partition holds whole plans, and with them every disbursement and participant row of those
  plans; plans that share an event id, a distribution id or a participant id are put in the same
  partition (the ids are compared through their 64-bit hashes: two ids that collide only put two
  plans together);
- the contract rows of a partition's events (an event's rows are in one plan, or its plans are
  together), every payee row a partition's disbursements and participants refer to, and the whole
  plans table;
- the rows nobody refers to — contract rows of no disbursement's event, payees of no disbursement
  or participant — are validated in a last partition of their own.

A payee row read by two partitions (a beneficiary of two plans), and every plans row, is validated
the same way in each: its quarantine record is kept once (:func:`merge_quarantine`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyarrow.parquet as pq

from contracts.extract import TABLES
from contracts.loading import (
    ROW,
    ExtractError,
    Manifest,
    check_files,
    check_page_checksums,
    check_tax_year,
    conform,
    precheck,
    read_table,
    sheltered,
)
from contracts.validate import QUARANTINE_SCHEMA, ROW_TABLES, Validated, validate
from flows.environment import environment

T = TypeVar("T")

NARROW_CHUNK_ROWS = 10_000_000  # rows of a table turned into integer ids at a time (first pass)
# Disbursements above which an extract is read partition by partition, and per partition:
# PRORATA_READ_WHOLE_ROWS, PRORATA_READ_PARTITION_ROWS (flows.environment; docs/BENCHMARKS.md: at
# 20 M, 5 M partitions peak at 7.7 GB, 10 M at 13.6).

_NULL_PLAN = "\x00null"  # the plan code of rows without a plan_id (never a real id: ids are printable)


def row_count(extract_dir: Path, table: str) -> int:
    """Rows of one table from its Parquet footer (0 when the optional file is absent)."""
    path = extract_dir / TABLES[table].file
    return pq.ParquetFile(path).metadata.num_rows if path.is_file() else 0


def needs_partitions(extract_dir: Path, max_rows: int | None = None) -> bool:
    """More disbursements than ``PRORATA_READ_WHOLE_ROWS``: read the extract partition by partition."""
    path = extract_dir / TABLES["distributions"].file
    if not path.is_file():
        return False
    try:
        return row_count(extract_dir, "distributions") > (max_rows or environment().read_whole_rows)
    except Exception:  # an unreadable file: the whole-extract reader says what is wrong with it
        return False


def _scan(extract_dir: Path, table: str) -> pl.LazyFrame:
    """The table's rows with ``_row`` (their number in the file) and its extra columns sheltered
    (:func:`contracts.loading.sheltered`: a file's own ``_row`` column is an extra like any other)."""
    path = extract_dir / TABLES[table].file
    names = pq.read_schema(path).names
    index = ROW
    while index in names:  # a name the file does not use, until the extras are out of the way
        index += "_"
    renames = sheltered(names, TABLES[table])
    return pl.scan_parquet(path, row_index_name=index).rename(renames).rename({index: ROW})


def _text(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String)


def _plan_key(column: str = "plan_id") -> pl.Expr:
    return _text(column).fill_null(_NULL_PLAN)


def _hash(column: str) -> pl.Expr:
    """A 64-bit hash of an id (nulls stay null: a row without the id links nothing)."""
    return pl.when(pl.col(column).is_not_null()).then(_text(column).hash())


@dataclass
class Partitions:
    """Which plans each partition reads, and the ids (64-bit hashes) of the other rows it reads."""

    plans: list[list[str]]  # per partition, its plan keys (plan_id, or _NULL_PLAN)
    events: list[pl.Series]  # per partition, the hashes of its event ids (its contract rows)
    payees: list[pl.Series]  # per partition, the hashes of the payee ids it refers to
    leftovers: bool = False  # contract or payee rows nobody refers to: a last partition of their own

    def __len__(self) -> int:
        return len(self.plans) + (1 if self.leftovers else 0)

    def all_events(self) -> pl.Series:
        return pl.concat(self.events) if self.events else pl.Series([], dtype=pl.UInt64)

    def all_payees(self) -> pl.Series:
        return pl.concat(self.payees) if self.payees else pl.Series([], dtype=pl.UInt64)

    def release(self) -> None:
        """Its id hashes dropped once every partition is read (about 1.2 GB at 100 M disbursements):
        the object may outlive the read — Prefect keeps a task's arguments, as it keeps its
        results — but not the hashes."""
        self.events.clear()
        self.payees.clear()


def pack(sizes: Iterable[tuple[T, int]], max_rows: int) -> list[list[T]]:
    """Items, in order, packed into consecutive bins of at most ``max_rows`` rows (an item larger
    than that is a bin of its own): plans into batches, groups of plans into partitions."""
    bins: list[list[T]] = []
    current: list[T] = []
    rows = 0
    for item, n in sizes:
        if current and rows + n > max_rows:
            bins.append(current)
            current, rows = [], 0
        current.append(item)
        rows += n
    if current:
        bins.append(current)
    return bins


def _linked_groups(keys: list[int], links: pl.DataFrame) -> dict[int, int]:
    """Union-find over plan codes: every plan mapped to the smallest plan of its group. ``links``:
    pairs (a, b) of plans that must be together (few: only where ids cross plans)."""
    parent = {k: k for k in keys}

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in links.iter_rows():
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {k: root(k) for k in keys}


def _cross_plan_links(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """(plan, other plan) for every id hash in ``column`` seen under more than one plan: the rows
    sorted by the hash (a sort of integers: cheaper than a hash group-by over 100 M rows), and each
    row whose hash is its predecessor's under another plan links the two plans."""
    ordered = frame.select(column, "_plan").filter(pl.col(column).is_not_null()).sort(column)
    return (
        ordered.select(
            pl.col("_plan").shift(1).alias("a"),
            pl.col("_plan").alias("b"),
            (pl.col(column) == pl.col(column).shift(1)).alias("_same"),
        )
        .filter(pl.col("_same") & (pl.col("a") != pl.col("b")))
        .select("a", "b")
        .unique()
    )


def _narrow(extract_dir: Path, table: str, columns: list[pl.Expr]) -> pl.DataFrame:
    """``columns`` over a whole table, read :data:`NARROW_CHUNK_ROWS` rows at a time (the text ids
    are turned into integers chunk by chunk: never all in memory at once)."""
    n = row_count(extract_dir, table)
    chunks = [
        _scan(extract_dir, table).slice(start, NARROW_CHUNK_ROWS).select(columns).collect()
        for start in range(0, n, NARROW_CHUNK_ROWS)
    ]
    return pl.concat(chunks) if chunks else _scan(extract_dir, table).select(columns).head(0).collect()


def plan_partitions_of(extract_dir: Path, max_rows: int | None = None) -> Partitions:
    """The narrow first pass: plans cut into partitions of at most ``max_rows`` disbursements (a
    group of linked plans larger than that is one partition), in plan_id order."""
    max_rows = max_rows or environment().read_partition_rows
    keys = sorted(
        set().union(
            *(
                _scan(extract_dir, table).select(_plan_key().unique()).collect().to_series().to_list()
                for table in ("plans", "distributions", "participants")
            )
        )
    )
    codes = {k: i for i, k in enumerate(keys)}
    plan = _plan_key().replace_strict(codes, return_dtype=pl.UInt32).alias("_plan")
    ids = ("event_id", "distribution_id", "participant_id", "payee_id")
    d = _narrow(extract_dir, "distributions", [plan, *(_hash(c).alias(c) for c in ids)])
    p = _narrow(
        extract_dir, "participants", [plan, *(_hash(c).alias(c) for c in ("participant_id", "payee_id"))]
    )
    people = pl.concat([d.select("_plan", "participant_id"), p.select("_plan", "participant_id")])
    links = pl.concat(
        [
            _cross_plan_links(d, "event_id"),
            _cross_plan_links(d, "distribution_id"),
            _cross_plan_links(people, "participant_id"),
        ]
    )
    del people
    group_of = _linked_groups(list(range(len(keys))), links)
    sizes = dict(d.group_by("_plan").len().iter_rows())
    groups: dict[int, list[int]] = {}
    for k in range(len(keys)):
        groups.setdefault(group_of[k], []).append(k)
    bins = pack(
        [(members, sum(sizes.get(k, 0) for k in members)) for _, members in sorted(groups.items())], max_rows
    )
    partitions = [[k for members in b for k in members] for b in bins]
    partition_of_plan = pl.Series("_p", [0] * len(keys), pl.UInt32).scatter(
        [k for ks in partitions for k in ks], [i for i, ks in enumerate(partitions) for _ in ks]
    )
    d_part = partition_of_plan.gather(d.get_column("_plan"))
    p_part = partition_of_plan.gather(p.get_column("_plan"))
    events, payees = [], []
    for i in range(len(partitions)):
        mine = d.filter(d_part == i)
        events.append(mine.get_column("event_id").drop_nulls().unique())
        refs = pl.concat([mine.get_column("payee_id"), p.filter(p_part == i).get_column("payee_id")])
        payees.append(refs.drop_nulls().unique())
    del d, p, d_part, p_part
    parts = Partitions(plans=[[keys[k] for k in ks] for ks in partitions], events=events, payees=payees)
    parts.leftovers = _has_leftovers(extract_dir, parts)
    return parts


def _orphans(extract_dir: Path, table: str, column: str, known: pl.Series) -> pl.LazyFrame:
    return _scan(extract_dir, table).filter(~_hash(column).is_in(known.implode()).fill_null(False))


def _has_leftovers(extract_dir: Path, parts: Partitions) -> bool:
    contracts = _orphans(extract_dir, "contracts", "event_id", parts.all_events()).select(pl.len()).collect()
    payees = _orphans(extract_dir, "payees", "payee_id", parts.all_payees()).select(pl.len()).collect()
    return bool(contracts.item() or payees.item())


def _read(lazy: pl.LazyFrame, extract_dir: Path, table: str) -> pl.DataFrame:
    """One table's rows of a partition, cast and defaulted like a whole-table read (``_row``: the
    row's number in the whole file)."""
    path = extract_dir / TABLES[table].file
    try:
        frame = lazy.collect()
    except Exception as exc:
        raise ExtractError(str(path), f"not a readable Parquet file ({type(exc).__name__})") from None
    return conform(frame, TABLES[table], str(path), numbered=True)


def partition_tables(extract_dir: Path, parts: Partitions, i: int) -> dict[str, pl.DataFrame]:
    """The rows partition ``i`` validates (``i == len(parts.plans)``: the leftovers)."""
    tables = {"plans": _read(_scan(extract_dir, "plans"), extract_dir, "plans")}
    if i < len(parts.plans):
        plans = pl.Series([k for k in parts.plans[i] if k != _NULL_PLAN], dtype=pl.String).implode()
        in_plans = pl.col("plan_id").cast(pl.String).is_in(plans)  # the plain column: pushed into the scan
        if _NULL_PLAN in parts.plans[i]:
            in_plans = in_plans | pl.col("plan_id").is_null()
        tables["distributions"] = _read(
            _scan(extract_dir, "distributions").filter(in_plans), extract_dir, "distributions"
        )
        tables["participants"] = _read(
            _scan(extract_dir, "participants").filter(in_plans), extract_dir, "participants"
        )
        events, payees = parts.events[i].implode(), parts.payees[i].implode()
        contracts = _scan(extract_dir, "contracts").filter(_hash("event_id").is_in(events).fill_null(False))
        payee_rows = _scan(extract_dir, "payees").filter(_hash("payee_id").is_in(payees).fill_null(False))
    else:
        tables["distributions"] = _read(
            _scan(extract_dir, "distributions").head(0), extract_dir, "distributions"
        )
        tables["participants"] = _read(
            _scan(extract_dir, "participants").head(0), extract_dir, "participants"
        )
        contracts = _orphans(extract_dir, "contracts", "event_id", parts.all_events())
        payee_rows = _orphans(extract_dir, "payees", "payee_id", parts.all_payees())
    tables["contracts"] = _read(contracts, extract_dir, "contracts")
    tables["payees"] = _read(payee_rows, extract_dir, "payees")
    return tables


def check_tables(extract_dir: Path, hashes: dict[str, str] | None = None) -> Manifest:
    """The table-level checks a whole read makes: folder, manifest, files, required columns
    (:func:`contracts.loading.precheck`), the files' SHA-256 against the manifest's ``files``
    (``hashes``: already computed), the pages' checksums, the columns' types (on no rows) and the
    payment dates against the manifest's tax year; the manifest."""
    manifest = precheck(extract_dir)
    check_files(extract_dir, manifest, hashes)
    for table in TABLES.values():
        path = extract_dir / table.file
        if path.is_file():
            check_page_checksums(path)
            conform(pl.read_parquet(path, n_rows=0), table, str(path))
    check_tax_year(extract_dir, manifest, _scan(extract_dir, "distributions").select("payment_date"))
    return manifest


def merge_quarantine(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The validation quarantine of every partition (with ``_row``) as one, in the whole run's order
    (table, then input row); a row validated by two partitions (a shared payee, a plans row) once."""
    if not parts:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    rank = {n: i for i, n in enumerate(ROW_TABLES)}
    return (
        pl.concat(parts)
        .unique(["table", ROW], keep="first", maintain_order=True)
        .with_columns(pl.col("table").replace_strict(rank).alias("_t"))
        .sort("_t", ROW)
        .select(list(QUARANTINE_SCHEMA))
    )


@dataclass
class PartitionRead:
    """One partition, read and validated: its clean tables, and its quarantine rows with ``_row``."""

    validated: Validated
    seconds: dict[str, float]


def read_partition(extract_dir: Path, manifest: Manifest, parts: Partitions, i: int) -> PartitionRead:
    """Partition ``i`` read and validated (its quarantine keeps ``_row`` for :func:`merge_quarantine`)."""
    t0 = time.perf_counter()
    tables = partition_tables(extract_dir, parts, i)
    t1 = time.perf_counter()
    validated = validate(tables, manifest.tax_year, keep_row=True)
    return PartitionRead(validated, {"read": t1 - t0, "validate": time.perf_counter() - t1})


def control_totals(extract_dir: Path) -> dict[str, pl.DataFrame]:
    """The control totals, when the extract has them (small: read whole)."""
    frame = read_table(extract_dir, TABLES["control_totals"])
    return {"control_totals": frame} if frame is not None else {}
