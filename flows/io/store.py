"""The year-to-date store: every ingested extract's rows, per tax year, in Delta Lake tables.

Layout (docs/OPERATIONS.md)::

    STORE/ytd/TAX_YEAR/extracts/        the ledger (Delta): one row per ingested extract — the commit point
    STORE/ytd/TAX_YEAR/<table>/         plans, payees, participants, contracts, distributions (partitioned
                                        by plan_id), control_totals: the extract's canonical rows, append-only,
                                        each tagged with ``_extract_id``
    STORE/ytd/TAX_YEAR/filings/         what was transmitted (flows/season/filings.py): one row per filed record
    STORE/ytd/TAX_YEAR/acknowledgements/  what the IRS said of each transmission, submission, record (flows/season/acks.py)
    STORE/ytd/TAX_YEAR/events/          the year's history: who did what, when (flows/io/history.py)
    STORE/ytd/TAX_YEAR/nightly/         a digest of the forms of the last two builds (flows/season/review.py)
    STORE/outputs/TAX_YEAR/             the year's outputs (docs/spec/outputs.md), rebuilt by ``nightly``
    STORE/filings/TAX_YEAR/<filing_id>/ each prepared filing: its IRS transmissions, review, records
    STORE/.lock                         one writer at a time (flock)

Crash safety. Each Delta commit is atomic (delta-rs writes the data files, then the log entry by
atomic rename), but an ingest touches several tables, so the ledger row is the single commit point:
rows of an extract that is not in the ledger are ignored by every reader, and deleted before the
extract is ingested again. A process killed at any moment leaves the ledgered extracts whole.

The live year (:func:`live_tables`): rows of ledgered extracts, less the rows of a superseded
extract for the plans its successor covers (docs/spec/extract.md ``supersedes``), with the latest extract
(ledger order) winning on each key — an event's disbursements and contract rows come whole from the
latest extract that holds the event; then ``distribution_id``, ``plan_id``, ``payee_id``,
``participant_id`` and (``plan_id``, ``month``) are unique, latest first.

Nothing here logs or raises with personal data: messages name extracts, tables and counts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from contracts.extract import TABLES
from contracts.loading import ROW, Manifest, file_hashes, read_extract
from flows.errors import OperatorError, crash_point, on_disk
from flows.io.outputs import clean_stale, write_json, write_parquet

DATA_TABLES = ("plans", "payees", "participants", "contracts", "distributions", "control_totals")
EXTRACT_COL = "_extract_id"
PARTITION = {"distributions": ["plan_id"]}
LEDGER_SCHEMA = {
    "extract_id": pl.String,
    "tax_year": pl.Int64,
    "created_at": pl.String,
    "recordkeeper": pl.String,
    "supersedes": pl.String,
    "plan_ids": pl.List(pl.String),
    "file_hashes": pl.String,  # JSON {file: sha256}
    "rows": pl.String,  # JSON {table: count}
    "ingest_seq": pl.Int64,
    "ingested_at": pl.String,
}


class StoreError(OperatorError):
    """The store cannot do what was asked; ``str(err)`` is the one line for stderr."""


LEFTOVER = re.compile(r"^\.(?P<target>.+)\.(?:tmp|old)-[^/]+$")  # flows.io.outputs staging and old folders


@dataclass(frozen=True)
class Store:
    root: Path

    def year(self, tax_year: int) -> Path:
        return self.root / "ytd" / str(tax_year)

    def table(self, tax_year: int, name: str) -> Path:
        return self.year(tax_year) / name

    def outputs(self, tax_year: int) -> Path:
        return self.root / "outputs" / str(tax_year)

    def filings_dir(self, tax_year: int) -> Path:
        return self.root / "filings" / str(tax_year)

    def tmp(self) -> Path:
        return self.root / "tmp"

    def years(self) -> list[int]:
        base = self.root / "ytd"
        if not base.is_dir():
            return []
        return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit() and is_delta(p / "extracts"))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time: a second ``nightly`` (or ``file``) waits for none — it is refused."""
        with on_disk(self.root, "cannot open the store"):
            self.root.mkdir(parents=True, exist_ok=True)
            fh = (self.root / ".lock").open("a+")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"{self.root}: another prorata process is writing this store") from None
            yield
        finally:
            fh.close()

    def clean_tmp(self) -> None:
        """Leftovers of a killed run: the scratch folder, and the staging and old folders of the
        outputs and filings (:func:`flows.io.outputs.clean_stale`: a live one is left alone, an
        earlier result whose swap was cut short is put back)."""
        shutil.rmtree(self.tmp(), ignore_errors=True)
        for parent in (self.root / "outputs", self.root / "filings"):
            if parent.is_dir():
                for p in sorted(parent.rglob(".*-*")):
                    hit = LEFTOVER.match(p.name)
                    if hit and p.is_dir():
                        clean_stale(p.parent / hit["target"])


def is_delta(path: Path) -> bool:
    return (path / "_delta_log").is_dir() and any((path / "_delta_log").glob("*.json"))


def read_delta(path: Path, schema: dict | None = None) -> pl.DataFrame:
    if not is_delta(path):
        return pl.DataFrame(schema=schema or {})
    return pl.read_delta(str(path))


def append_delta(
    frame: pl.DataFrame, path: Path, partition_by: list[str] | None = None, *, merge_schema: bool = False
) -> None:
    """One atomic Delta commit appending ``frame`` (the table is created on first write);
    ``merge_schema``: columns the table lacks are added to it (earlier rows read them as null)."""
    options: dict = {"partition_by": partition_by} if partition_by and not is_delta(path) else {}
    if merge_schema and is_delta(path):
        options["schema_mode"] = "merge"
    with on_disk(path, "cannot write the store"):
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_delta(str(path), mode="append", delta_write_options=options or None)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# ---- the ledger ---------------------------------------------------------------------------------


def ledger(store: Store, tax_year: int) -> pl.DataFrame:
    return read_delta(store.table(tax_year, "extracts"), LEDGER_SCHEMA).sort("ingest_seq")


def all_ledgered(store: Store) -> pl.DataFrame:
    frames = [ledger(store, y) for y in store.years()]
    return pl.concat(frames) if frames else pl.DataFrame(schema=LEDGER_SCHEMA)


def ledger_id(led: pl.DataFrame, tax_year: int) -> str:
    """The id of the live year: a hash of the ledgered extracts in order (ids and file hashes)."""
    text = "|".join(
        f"{r['ingest_seq']}:{r['extract_id']}:{r['file_hashes']}" for r in led.iter_rows(named=True)
    )
    return f"ytd-{tax_year}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


# ---- ingest -------------------------------------------------------------------------------------


@dataclass
class Ingested:
    extract_id: str
    tax_year: int
    status: str  # "ingested", "already in store"
    rows: dict[str, int]
    warning: str | None = None


def ingest_extract(store: Store, folder: Path) -> Ingested:
    """Add one extract folder to the store (contracts.loading.ExtractError on a table-level fault:
    nothing is committed). An extract already in the ledger is skipped; one whose id is known with
    other file contents is refused."""
    hashes = file_hashes(folder)
    manifest, frames = read_extract(folder, hashes)
    known = all_ledgered(store).filter(pl.col("extract_id") == manifest.extract_id)
    if known.height:
        if json.loads(known["file_hashes"][0]) != hashes:
            raise StoreError(
                f"{folder}: extract_id {manifest.extract_id} is already in the store with other file contents"
            )
        return Ingested(manifest.extract_id, manifest.tax_year, "already in store", {})
    year = manifest.tax_year
    led = ledger(store, year)
    warning = None
    if manifest.supersedes:
        all_led = all_ledgered(store)
        prior = all_led.filter(pl.col("extract_id") == manifest.supersedes)
        if prior.height == 0:
            warning = f"supersedes {manifest.supersedes}, which is not in the store: nothing replaced"
        elif int(prior["tax_year"][0]) != year:
            raise StoreError(
                f"{folder}: supersedes {manifest.supersedes} of tax year {prior['tax_year'][0]}, not {year}"
            )
    _refuse_id_clashes(store, year, folder, frames["distributions"])
    rows: dict[str, int] = {}
    for name in DATA_TABLES:
        path = store.table(year, name)
        if is_delta(path):  # leftovers of an earlier, killed attempt: never ledgered, so never read
            stale = pl.scan_delta(str(path)).filter(pl.col(EXTRACT_COL) == manifest.extract_id)
            if stale.select(pl.len()).collect().item():
                from deltalake import DeltaTable

                DeltaTable(str(path)).delete(f"{EXTRACT_COL} = {_sql_text(manifest.extract_id)}")
        frame = frames.get(name)
        if frame is None:
            frame = pl.DataFrame(schema={c.name: c.dtype for c in TABLES[name].columns})
        frame = frame.select(TABLES[name].names).with_columns(pl.lit(manifest.extract_id).alias(EXTRACT_COL))
        rows[name] = frame.height
        if frame.height or not is_delta(path):
            append_delta(frame, path, PARTITION.get(name))
        crash_point(f"ingest:{name}")
    plan_ids = sorted(
        set(frames["plans"]["plan_id"].to_list()) | set(frames["distributions"]["plan_id"].unique().to_list())
    )
    entry = pl.DataFrame(
        {
            "extract_id": [manifest.extract_id],
            "tax_year": [year],
            "created_at": [manifest.created_at],
            "recordkeeper": [manifest.recordkeeper],
            "supersedes": [manifest.supersedes],
            "plan_ids": [plan_ids],
            "file_hashes": [json.dumps(hashes, sort_keys=True)],
            "rows": [json.dumps(rows, sort_keys=True)],
            "ingest_seq": [int(led["ingest_seq"].max() or 0) + 1 if led.height else 1],
            "ingested_at": [datetime.now(UTC).isoformat(timespec="seconds")],
        },
        schema=LEDGER_SCHEMA,
    )
    append_delta(entry, store.table(year, "extracts"))  # the commit point
    crash_point("ingest:ledger")
    return Ingested(manifest.extract_id, year, "ingested", rows, warning)


def _refuse_id_clashes(store: Store, year: int, folder: Path, distributions: pl.DataFrame) -> None:
    """The store is keyed by ``distribution_id`` and its year is run as one extract, whose events
    and disbursements must have unique ids (docs/spec/extract.md): an ``event_id`` or ``distribution_id``
    already live under another plan (another recordkeeper's numbering, say) is refused, with the
    ids and plans only, rather than one event silently replacing the other."""
    path = store.table(year, "distributions")
    led = ledger(store, year)
    if not is_delta(path) or led.height == 0:
        return
    live = (
        pl.scan_delta(str(path))
        .select(EXTRACT_COL, "plan_id", "event_id", "distribution_id")
        .filter(pl.col(EXTRACT_COL).is_in(led["extract_id"].implode()))
        .join(_superseded(led).lazy(), on=[EXTRACT_COL, "plan_id"], how="anti")
    )
    new = distributions.lazy().select("plan_id", "event_id", "distribution_id")
    for key in ("event_id", "distribution_id"):
        clash = (
            new.join(live.select(key, pl.col("plan_id").alias("_live_plan")), on=key, how="inner")
            .filter(pl.col("plan_id") != pl.col("_live_plan"))
            .select(key, "plan_id", "_live_plan")
            .unique()
            .sort(key, "plan_id", "_live_plan")
            .collect()
        )
        if clash.height:
            first = clash.row(0, named=True)
            more = f" (+{clash.height - 1} more)" if clash.height > 1 else ""
            raise StoreError(
                f"{folder}: {key} {first[key]} of plan {first['plan_id']} is already in the store under "
                f"plan {first['_live_plan']}{more}; ids must be unique across the plans of a tax year"
            )


# ---- the live year ------------------------------------------------------------------------------

KEYS = {
    "plans": ["plan_id"],
    "payees": ["payee_id"],
    "participants": ["participant_id"],
    "control_totals": ["plan_id", "month"],
}


def _superseded(led: pl.DataFrame) -> pl.DataFrame:
    """(extract_id, plan_id) pairs removed by a later extract's ``supersedes`` (docs/spec/extract.md)."""
    return (
        led.filter(pl.col("supersedes").is_not_null())
        .select(pl.col("supersedes").alias(EXTRACT_COL), pl.col("plan_ids").alias("plan_id"))
        .explode("plan_id")
        .unique()
    )


def live_order(led: pl.DataFrame) -> pl.DataFrame:
    """(``_extract_id``, ``_seq``): the order in which extracts win on a key — by the manifest's
    ``created_at`` (docs/spec/extract.md: an ISO-8601 timestamp; a later extract replaces an earlier one's
    rows), then by the order they were ingested. An older extract delivered a night late does not
    override a newer one."""
    created = pl.col("created_at").str.to_datetime(time_zone="UTC", strict=False)
    return (
        led.with_columns(created.alias("_created"))
        .sort("_created", "ingest_seq", nulls_last=False)
        .select(pl.col("extract_id").alias(EXTRACT_COL), pl.int_range(1, pl.len() + 1).alias("_seq"))
    )


def _payee_rows_superseded(
    raw: dict[str, pl.LazyFrame], led: pl.DataFrame, gone: pl.DataFrame
) -> pl.LazyFrame:
    """(``_extract_id``, ``payee_id``, ``_gone``): a payee row of an extract is superseded when every
    plan the payee is paid from in that extract (or, for a payee with no payment in it, every plan
    the extract covers) has been replaced by a later extract (docs/spec/extract.md ``supersedes``: every row
    of the earlier extract for the same plan_ids is replaced). Payees carry no plan_id, so this is
    how their rows follow the supersede rule."""
    covered = led.select(
        pl.col("extract_id").alias(EXTRACT_COL), pl.col("plan_ids").alias("plan_id")
    ).explode("plan_id")
    paid = raw["distributions"].select(EXTRACT_COL, "payee_id", "plan_id").unique()
    unpaid = (
        raw["payees"]
        .select(EXTRACT_COL, "payee_id")
        .join(paid.select(EXTRACT_COL, "payee_id"), on=[EXTRACT_COL, "payee_id"], how="anti")
        .join(covered.lazy(), on=EXTRACT_COL, how="inner")
    )
    flagged = gone.lazy().with_columns(pl.lit(True).alias("_g"))
    return (
        pl.concat(
            [
                paid.select(EXTRACT_COL, "payee_id", "plan_id"),
                unpaid.select(EXTRACT_COL, "payee_id", "plan_id"),
            ]
        )
        .join(flagged, on=[EXTRACT_COL, "plan_id"], how="left")
        .group_by(EXTRACT_COL, "payee_id")
        .agg(pl.col("_g").fill_null(False).all().alias("_gone"))
    )


def live_tables(store: Store, tax_year: int) -> dict[str, pl.DataFrame]:
    """The live rows of the year (module docstring), each with ``_extract_id``, sorted by key."""
    led = ledger(store, tax_year)
    order = live_order(led)
    gone = _superseded(led)
    raw: dict[str, pl.LazyFrame] = {}
    for name in DATA_TABLES:
        path = store.table(tax_year, name)
        schema = {c.name: c.dtype for c in TABLES[name].columns} | {EXTRACT_COL: pl.String}
        # read once, eagerly: each table is used by several of the steps below
        df = pl.read_delta(str(path)) if is_delta(path) else pl.DataFrame(schema=schema)
        raw[name] = df.join(order, on=EXTRACT_COL, how="inner").lazy()  # ledgered extracts only
    payee_gone = _payee_rows_superseded(raw, led, gone)
    # plans of an event: its disbursements' plan (contracts carry no plan_id)
    event_plan = raw["distributions"].select(EXTRACT_COL, "event_id", "plan_id").unique()
    contracts = raw["contracts"].join(event_plan, on=[EXTRACT_COL, "event_id"], how="left")
    planned = {**raw, "contracts": contracts}
    if gone.height:
        planned = {
            n: (lf if n == "payees" else lf.join(gone.lazy(), on=[EXTRACT_COL, "plan_id"], how="anti"))
            for n, lf in planned.items()
        }
    # an event comes whole from the latest extract that holds it (its disbursements and contract rows)
    planned = dict(zip(planned, pl.collect_all(planned.values()), strict=True))
    latest = planned["distributions"].group_by("event_id").agg(pl.col("_seq").max())
    planned = {n: df.lazy() for n, df in planned.items()}
    latest = latest.lazy()
    out: dict[str, pl.DataFrame] = {}
    for name in DATA_TABLES:
        lf = planned[name]
        if name == "distributions":
            lf = lf.join(latest, on=["event_id", "_seq"], how="semi")
            lf = lf.sort("_seq").unique("distribution_id", keep="last")
            key = ["distribution_id"]
        elif name == "contracts":
            lf = lf.join(latest, on=["event_id", "_seq"], how="semi").drop("plan_id")
            lf = lf.sort("_seq").unique(["event_id", "contract"], keep="last")
            key = ["event_id", "contract"]
        elif name == "payees":
            # a row of a superseded extract only stands in when no live extract has the payee
            key = KEYS[name]
            lf = (
                lf.join(payee_gone, on=[EXTRACT_COL, "payee_id"], how="left")
                .with_columns(pl.col("_gone").fill_null(False))
                .sort(pl.col("_gone").not_(), "_seq")
                .unique(key, keep="last")
                .drop("_gone")
            )
        else:
            key = KEYS[name]
            lf = lf.sort("_seq").unique(key, keep="last")
        out[name] = lf.drop("_seq").sort(key).collect()
    return out


def materialise(store: Store, tax_year: int, folder: Path) -> str:
    """Write the live year as a canonical extract (docs/spec/extract.md) into ``folder``; returns its id."""
    led = ledger(store, tax_year)
    if led.height == 0:
        raise StoreError(f"tax year {tax_year}: no extract in the store")
    tables = live_tables(store, tax_year)
    with on_disk(folder, "cannot write the year's extract"):
        _write_extract(folder, tables, led, tax_year)
    return ledger_id(led, tax_year)


def _write_extract(folder: Path, tables: dict[str, pl.DataFrame], led: pl.DataFrame, tax_year: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if name == "control_totals" and frame.height == 0:
            continue
        write_parquet(frame.drop(EXTRACT_COL), folder / f"{name}.parquet")
    extract_id = ledger_id(led, tax_year)
    write_json(
        {
            "extract_id": extract_id,
            "recordkeeper": ",".join(sorted(set(led["recordkeeper"].to_list()))),
            "tax_year": tax_year,
            "created_at": max(led["created_at"].to_list()),
            "ytd_extracts": led["extract_id"].to_list(),
        },
        folder / "manifest.json",
    )


def outputs_current(store: Store, tax_year: int) -> bool:
    """The year's outputs were built from the ledger as it is now."""
    manifest = store.outputs(tax_year) / "manifest.json"
    if not manifest.is_file():
        return False
    built = json.loads(manifest.read_text(encoding="utf-8")).get("extract_id")
    return built == ledger_id(ledger(store, tax_year), tax_year)


def filings_table(store: Store, tax_year: int) -> pl.DataFrame:
    """The filings of record (approved filings), one row per record sent."""
    return read_delta(store.table(tax_year, "filings"))


def inbox_extracts(inbox: Path) -> list[tuple[Path, Manifest | None]]:
    """Extract folders of the inbox, oldest first (manifest ``created_at``, then ``extract_id``);
    a folder whose manifest cannot be read comes first, with ``None``."""
    found: list[tuple[Path, Manifest | None]] = []
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            found.append((folder, Manifest.read(folder)))
        except Exception:
            found.append((folder, None))
    return sorted(
        found,
        key=lambda fm: ("", "", fm[0].name) if fm[1] is None else ("1", fm[1].created_at, fm[1].extract_id),
    )


def drop_row(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop(ROW) if ROW in frame.columns else frame
