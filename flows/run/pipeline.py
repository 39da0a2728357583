"""The stages of ``prorata run`` as plain functions: read + validate, split, write.

The Prefect flow (:mod:`flows.prefect.run_flow`) calls these same functions as tasks; tests call them
directly. Nothing here logs personal data: only ids, counts, totals and hashes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl

from contracts.extract import TABLES
from contracts.loading import Manifest, file_hashes, read_extract, unsheltered
from contracts.outputs import DISTRIBUTIONS_COLUMNS, PAYERS_COLUMNS, RECIPIENTS_COLUMNS
from contracts.validate import QUARANTINE_SCHEMA, Validated, validate
from flows.environment import environment
from flows.errors import on_disk
from flows.io import extract as partitioned
from flows.io.outputs import (
    RUN,
    SOFTWARE,
    SortedParquetSink,
    StagedOutput,
    close_all,
    keep_statements,
    write_json,
    write_parquet,
)
from flows.irs.files import filing_frame, write_irs_file, write_run_irs_file
from flows.run.steps import READ, SPLIT, Progress, Step
from flows.settings import TransmitterSettings
from transforms.engine import EngineResult, compute
from transforms.engine.edit_checks import (
    filable,
    form_rows,
    mark_payer_conflicts,
    run_edit_checks,
    tieout_945,
)
from transforms.irs.channel import filing_channel
from transforms.kernels.lookup import row_of
from transforms.law.params import TaxParameters

BOXES = ["box1", "box2a", "box3", "box4", "box5", "box6", "box8", "box9b", "box10"]


def software_version() -> str:
    try:
        return version("prorata")
    except PackageNotFoundError:  # running from a source tree
        return "0+source"


@dataclass
class Loaded:
    manifest: Manifest
    validated: Validated
    rows_in: dict[str, int]
    hashes: dict[str, str]
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # read, validate


@dataclass
class Computed:
    distributions: pl.DataFrame
    forms: pl.DataFrame
    explain: pl.DataFrame
    quarantine: pl.DataFrame
    edit_checks: pl.DataFrame
    tieout_945: pl.DataFrame
    filable: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class RunSummary:
    manifest: dict
    out_dir: Path


def load_and_validate(extract_dir: Path) -> Loaded:
    """Stage 1: read every table (table-level faults raise ExtractError) and split off quarantine."""
    t0 = time.perf_counter()
    hashes = file_hashes(extract_dir) if extract_dir.is_dir() else {}
    manifest, frames = read_extract(extract_dir, hashes)
    t1 = time.perf_counter()
    validated = validate(frames, manifest.tax_year)
    rows_in = {name: frame.height for name, frame in frames.items()}
    extras = {"control_totals": frames["control_totals"]} if "control_totals" in frames else {}
    seconds = {"read": t1 - t0, "validate": time.perf_counter() - t1}
    return Loaded(manifest, validated, rows_in, hashes, extras, seconds)


def _engine_quarantine(result: EngineResult, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Quarantine rows for events the engine cannot report (docs/spec/outputs.md: ``codes_over_two``)."""
    from contracts.rules import message_for

    if result.rejected.height == 0:
        return pl.DataFrame(schema={**QUARANTINE_SCHEMA, "_row": pl.UInt32})
    bad = result.rejected.select("distribution_id", "rule")
    events = result.rejected["event_id"].unique().implode()
    d = (
        tables["distributions"]
        .filter(pl.col("event_id").is_in(events))
        .join(bad, on="distribution_id", how="left")
    )
    first = (
        result.rejected.sort("distribution_id")
        .unique("event_id", keep="first", maintain_order=True)
        .select("event_id", pl.col("distribution_id").alias("_c_key"), pl.col("rule").alias("_c_rule"))
    )
    d = d.join(first, on="event_id")
    messages = {r: message_for("distributions", r) for r in bad["rule"].unique().to_list()}
    held = pl.format("held back with its event: distributions {} broke rule '{}'", "_c_key", "_c_rule")
    dist_rows = d.select(
        pl.lit("distributions").alias("table"),
        pl.col("distribution_id").alias("key"),
        "event_id",
        pl.col("rule").fill_null("event_quarantined"),
        pl.when(pl.col("rule").is_null())
        .then(held)
        .otherwise(pl.col("rule").replace_strict(messages, default=None))
        .alias("message"),
        "_row",
    )
    c = tables["contracts"].filter(pl.col("event_id").is_in(events)).join(first, on="event_id")
    contract_rows = c.select(
        pl.lit("contracts").alias("table"),
        pl.concat_str([pl.col("event_id"), pl.col("contract")], separator="|").alias("key"),
        "event_id",
        pl.lit("event_quarantined").alias("rule"),
        held.alias("message"),
        "_row",
    )
    return pl.concat([dist_rows, contract_rows])


WRITING = "cannot write the outputs (OUT_DIR is left as it was)"


def engine_threads() -> int | None:
    """How many runs of events the engine splits and codes at once (``PRORATA_ENGINE_THREADS``;
    unset: polars' thread pool size, :func:`transforms.engine.split_and_code`). The outputs do not
    depend on it."""
    return environment().engine_threads


def plan_partitions(distributions: pl.DataFrame, max_rows: int | None = None) -> list[list[str]]:
    """Plans packed, in plan_id order, into batches of at most ``max_rows`` disbursements (a larger
    plan is a batch of its own). Every rule works within one plan — an event, a form, a payee's
    total distribution, a participant's box 9a — so batches are computed independently."""
    max_rows = max_rows or environment().partition_rows
    return partitioned.pack(distributions.group_by("plan_id").len().sort("plan_id").rows(), max_rows)


def _partition(
    tables: dict[str, pl.DataFrame], plans: list[str], event_plan: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    keep = pl.Series(plans).implode()
    d = tables["distributions"].filter(pl.col("plan_id").is_in(keep))
    events = event_plan.filter(pl.col("plan_id").is_in(keep)).select("event_id")
    return {
        "distributions": d,
        "contracts": tables["contracts"].join(events, on="event_id", how="semi"),
        "participants": tables["participants"].filter(pl.col("plan_id").is_in(keep)),
        "payees": tables["payees"],
        "plans": tables["plans"].filter(pl.col("plan_id").is_in(keep)),
    }


@dataclass
class BatchResult:
    """What one plan batch leaves once its working frame is gone."""

    distributions: pl.DataFrame
    forms: pl.DataFrame
    explain: pl.DataFrame
    quarantine: pl.DataFrame  # engine quarantine rows, with ``_row``
    checks: pl.DataFrame
    tieout: pl.DataFrame
    seconds: dict[str, float]
    parties: dict[str, pl.DataFrame] = field(default_factory=dict)  # recipients, payers of its forms

    def release(self) -> None:
        """Its frames dropped once written (:meth:`StreamedRun.add`): the object itself may outlive
        the batch — Prefect keeps a task's last result referenced — but not the rows."""
        for name in ("distributions", "forms", "explain", "quarantine", "checks", "tieout"):
            setattr(self, name, getattr(self, name).clear())
        self.parties = {}


def split_batches(loaded: Loaded, max_rows: int | None = None) -> list[dict[str, pl.DataFrame]]:
    """The validated tables cut into independent plan batches (a single batch when small)."""
    return list(iter_batches(loaded, max_rows))


def iter_batches(loaded: Loaded, max_rows: int | None = None) -> Iterator[dict[str, pl.DataFrame]]:
    """:func:`split_batches` one batch at a time: a batch is cut from the tables only when asked
    for, so at most one batch's copy of the rows exists beside the tables. ``len`` is not known in
    advance: :func:`plan_partitions` tells how many there will be."""
    tables = loaded.validated.tables
    # plans of one payer EIN may fall in different batches: their conflicts are marked on all plans
    tables = {**tables, "plans": mark_payer_conflicts(tables["plans"])}
    batches = plan_partitions(tables["distributions"], max_rows or environment().partition_rows)
    if len(batches) <= 1:
        yield tables
        return
    event_plan = tables["distributions"].select("event_id", "plan_id").unique("event_id")
    for plans in batches:
        yield _partition(tables, plans, event_plan)


def compute_batch(batch: dict[str, pl.DataFrame], tax_year: int) -> BatchResult:
    """The engine, the edit checks and the 945 tie-out over one plan batch (pure)."""
    params = TaxParameters.for_year(tax_year)
    t0 = time.perf_counter()
    result = compute(batch, params, engine_threads())
    engine_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = form_rows(result.forms, result.legs)  # each form's plan, payee and participant rows in ``batch``
    out = BatchResult(
        unsheltered(result.distributions, DISTRIBUTIONS_COLUMNS),  # the extract's extra columns
        result.forms,
        result.explain,
        _engine_quarantine(result, batch),
        run_edit_checks(result.forms, result.legs, params, batch, rows),
        tieout_945(result.legs),
        {},
        {
            **parties_of(
                batch, result.forms.get_column("payee_id"), result.forms.get_column("plan_id"), rows
            ),
            "accounts": accounts_of(batch, result.distributions, result.forms, rows),
        },
    )
    out.seconds = {"engine": engine_s, "edit_checks": time.perf_counter() - t0}
    return out


def combine(loaded: Loaded, parts: list[BatchResult]) -> Computed:
    """Batch results put together in a fixed order: the same bytes whatever the batching."""
    one = len(parts) == 1

    def cat(name: str, key: str) -> pl.DataFrame:
        frames = [getattr(p, name) for p in parts]
        return frames[0] if one else pl.concat(frames).sort(key)

    forms = cat("forms", "form_id")
    checks = pl.concat([p.checks for p in parts]).sort("plan_id", "form_id", maintain_order=True)
    engine_rows = engine_quarantine([p.quarantine for p in parts])
    seconds = {k: sum(p.seconds[k] for p in parts) for k in ("engine", "edit_checks")}
    return Computed(
        cat("distributions", "distribution_id"),
        forms,
        cat("explain", "distribution_id"),
        pl.concat([loaded.validated.quarantine, engine_rows]),
        checks,
        tieout_945_merge(pl.concat([p.tieout for p in parts])),
        filable(forms, checks),
        seconds,
    )


def compute_split(loaded: Loaded, progress: Progress | None = None, max_rows: int | None = None) -> Computed:
    """Stage 2: the tax engine over the clean rows (pure polars), plan batch by plan batch.

    Each batch's working frame (the legs) is reduced to the outputs and the edit checks before the
    next batch starts, so memory follows the largest batch, not the extract."""
    say = progress or (lambda _msg: None)
    batches = split_batches(loaded, max_rows)
    parts = []
    for i, batch in enumerate(batches, start=1):
        parts.append(compute_batch(batch, loaded.manifest.tax_year))
        if len(batches) > 1:
            say(Step(f"plan batch {i}/{len(batches)} done", SPLIT, i, len(batches)))
    return combine(loaded, parts)


def tieout_945_merge(tieout: pl.DataFrame) -> pl.DataFrame:
    """Batches may share a payer EIN: add their monthly totals up again."""
    return (
        tieout.group_by("payer_tin", "month")
        .agg(pl.col("box4_cents").sum(), pl.col("gross_cents").sum(), pl.col("disbursements").sum())
        .sort("payer_tin", "month")
    )


def _totals(forms: pl.DataFrame) -> dict[str, int]:
    return {f"{b}_cents": int(forms[f"{b}_cents"].sum()) for b in BOXES}


def parties(tables: dict[str, pl.DataFrame], forms: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The payee and payer blocks of the forms (recipients.parquet, payers.parquet), for the IRS
    file and the recipient statements; only parties that appear on a form."""
    return parties_of(tables, forms["payee_id"], forms["plan_id"])


def parties_of(
    tables: dict[str, pl.DataFrame],
    payee_ids: pl.Series,
    plan_ids: pl.Series,
    rows: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """:func:`parties` from ``rows``, the rows of the forms' payees and plans in ``tables`` as the
    engine matched them (:func:`transforms.engine.edit_checks.form_rows`); without them, from the
    payee and plan ids on the forms, each found at the first row with it
    (:func:`transforms.kernels.lookup.row_of`, as the engine finds them: validated tables have
    one row per id)."""
    if rows is None:
        rows = pl.DataFrame(
            {
                "_payee": _rows_of(payee_ids, tables["payees"], "payee_id"),
                "_plan": _rows_of(plan_ids, tables["plans"], "plan_id"),
            }
        )
    return {
        "recipients": _rows_by_key(
            tables["payees"], rows.get_column("_payee"), "payee_id", RECIPIENTS_COLUMNS
        ),
        "payers": _rows_by_key(tables["plans"], rows.get_column("_plan"), "plan_id", PAYERS_COLUMNS),
    }


def _rows_of(ids: pl.Series, table: pl.DataFrame, key: str) -> pl.Series:
    """For each of ``ids``, the first row of ``table`` whose ``key`` it is (null where none is)."""
    return row_of(pl.DataFrame({key: ids}), table, [key])


def _rows_by_key(table: pl.DataFrame, rows: pl.Series, key: str, columns: list[str]) -> pl.DataFrame:
    """The ``columns`` of the rows of ``table`` that ``rows`` name (nulls name none), once each,
    sorted by ``key``."""
    out = table.select(columns)[rows.drop_nulls().unique().sort()]
    return out if out.get_column(key).is_sorted() else out.sort(key)


ACCOUNT_SCHEMA = {"form_id": pl.String, "recordkeeper_account": pl.String}


def accounts_of(
    tables: dict[str, pl.DataFrame],
    distributions: pl.DataFrame,
    forms: pl.DataFrame | None = None,
    rows: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``accounts.parquet``: form_id → the recordkeeper's own account number of the participant
    whose account the form reports (``participants.account_number``, an extension of the extract:
    docs/spec/extract.md), where the extract gives one. The statements print it in the
    account-number box; ``prorata explain`` and ``statements --account`` find forms by it. The
    participant is read at each form's participant row: ``rows`` (:func:`transforms.engine.edit_checks.form_rows`)
    of the ``forms``, when given; otherwise the first row of the participant of the form's first
    disbursement (:func:`transforms.kernels.lookup.row_of`, as the engine finds it)."""
    p = tables["participants"]
    if "account_number" not in p.columns or distributions.height == 0:
        return pl.DataFrame(schema=ACCOUNT_SCHEMA)
    if forms is None or rows is None:
        forms = (
            distributions.select("form_id", "participant_id", "distribution_id")
            .sort("form_id", "distribution_id")
            .unique("form_id", keep="first", maintain_order=True)
        )
        rows = pl.DataFrame({"_part": _rows_of(forms.get_column("participant_id"), p, "participant_id")})
    accounts = forms.select(
        "form_id",
        p.get_column("account_number").gather(rows.get_column("_part")).alias("recordkeeper_account"),
    ).filter(pl.col("recordkeeper_account").is_not_null())
    return accounts if accounts.get_column("form_id").is_sorted() else accounts.sort("form_id")


@dataclass
class Counts:
    """What manifest.json says about the outputs: counts and totals, added up partition by partition."""

    quarantine: pl.DataFrame
    distributions: int = 0
    forms: int = 0
    below_filing_threshold: int = 0
    to_file: int = 0
    totals: dict[str, int] = field(default_factory=lambda: {f"{b}_cents": 0 for b in BOXES})
    checks: dict[str, dict[str, int]] = field(default_factory=lambda: {"error": {}, "warning": {}})

    def add(self, distributions: int, forms: pl.DataFrame, filed: int, checks: pl.DataFrame, threshold: int):
        self.distributions += distributions
        self.forms += forms.height
        self.below_filing_threshold += int((forms["box1_cents"] < threshold).sum())
        self.to_file += filed
        for k, v in _totals(forms).items():
            self.totals[k] += v
        for sev, check, n in checks.group_by("severity", "check").len().iter_rows():
            if sev in self.checks:
                self.checks[sev][check] = self.checks[sev].get(check, 0) + n

    @classmethod
    def of(cls, computed: Computed, tax_year: int) -> Counts:
        counts = cls(computed.quarantine)
        params = TaxParameters.for_year(tax_year)
        counts.add(
            computed.distributions.height,
            computed.forms,
            computed.filable.height,
            computed.edit_checks,
            params.filing_threshold_cents,
        )
        return counts


def build_manifest(loaded: Loaded, computed: Computed | Counts, timings: dict[str, float]) -> dict:
    """manifest.json (docs/spec/outputs.md): ids, hashes, counts, totals, version, timings — no personal data."""
    counts = computed if isinstance(computed, Counts) else Counts.of(computed, loaded.manifest.tax_year)
    q = counts.quarantine
    q_counts = dict(q.group_by("table").len().iter_rows()) if q.height else {}
    tables = {}
    for name in ("plans", "payees", "participants", "contracts", "distributions"):
        rows_in = loaded.rows_in.get(name, 0)
        quarantined = int(q_counts.get(name, 0))
        tables[name] = {"in": rows_in, "quarantined": quarantined, "out": rows_in - quarantined}
    tables["distributions"]["out"] = counts.distributions
    rules = dict(q.group_by("rule").len().sort("rule").iter_rows()) if q.height else {}
    run_key = "|".join([software_version(), *(f"{k}={v}" for k, v in sorted(loaded.hashes.items()))])
    return {
        "run_id": hashlib.sha256(run_key.encode()).hexdigest()[:16],
        "extract_id": loaded.manifest.extract_id,
        "recordkeeper": loaded.manifest.recordkeeper,
        "tax_year": loaded.manifest.tax_year,
        "supersedes": loaded.manifest.supersedes,
        "input_sha256": loaded.hashes,
        "rows": tables,
        "quarantine_by_rule": {k: int(v) for k, v in rules.items()},
        "forms": {
            "count": counts.forms,
            "below_filing_threshold": counts.below_filing_threshold,
            "to_file": counts.to_file,
        },
        "edit_checks": {sev: dict(sorted(counts.checks[sev].items())) for sev in ("error", "warning")},
        "totals": dict(counts.totals),
        "software": SOFTWARE,  # flows.io.outputs: the folder is prorata's own, to be replaced by the next run
        "software_version": software_version(),
        "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def write_outputs(
    out_dir: Path,
    loaded: Loaded,
    computed: Computed,
    timings: dict[str, float],
    settings: TransmitterSettings | None = None,
) -> dict:
    """Stage 3: write every output into a staging folder and swap it into place."""
    settings = settings or TransmitterSettings.placeholder()
    started = time.perf_counter()
    with on_disk(out_dir, WRITING), StagedOutput(out_dir, (RUN,)) as staged:
        root = staged.path
        write_parquet(computed.distributions, root / "distributions.parquet")
        write_parquet(computed.forms, root / "forms.parquet")
        write_parquet(computed.quarantine, root / "quarantine.parquet")
        write_parquet(computed.explain, root / "explain.parquet")
        write_parquet(computed.edit_checks, root / "edit_checks.parquet")
        write_parquet(computed.tieout_945, root / "tieout_945.parquet")
        for name, frame in parties(loaded.validated.tables, computed.forms).items():
            write_parquet(frame, root / f"{name}.parquet")
        write_parquet(accounts_of(loaded.validated.tables, computed.distributions), root / "accounts.parquet")
        t0 = time.perf_counter()
        filing = filing_frame(computed.filable, loaded.validated.tables)
        irs = write_irs_file(root, filing, settings, loaded.manifest.tax_year)
        timings["irs_file"] = time.perf_counter() - t0
        timings["write"] = time.perf_counter() - started
        manifest = build_manifest(loaded, computed, timings)
        manifest["irs_filing"] = irs
        write_json(manifest, root / "manifest.json")
        keep_statements(staged.out_dir, root)
    return manifest


def engine_quarantine(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The engine's quarantine rows of every batch, in input order (distributions, then contracts)."""
    return (
        pl.concat(parts)
        .sort(pl.col("table") != "distributions", "_row")  # distributions first, then contracts; input order
        .drop("_row")
    )


class StreamedRun:
    """Stages 2 and 3 partition by partition: each plan batch's outputs go to the staging folder as
    soon as the batch is computed, and only counts, totals, the 945 tie-out, the quarantine and the
    ids of the parties stay in memory. :meth:`finish` puts the files together — in the order and
    with the bytes of the in-memory path (:func:`compute_split` + :func:`write_outputs`) — writes
    the IRS file from the forms to file, the manifest, and swaps the folder into place. ``loaded``
    is consumed: :meth:`finish` drops its distributions, contracts, participants and payees to make
    room for the IRS file.

    Orders: ``distributions`` and ``explain`` by distribution_id and ``forms`` by form_id (merged
    across batches, :class:`flows.io.outputs.SortedParquetSink`); ``edit_checks`` by plan, then form id —
    batches hold whole plans in plan_id order, so one batch after the other is that order already.
    """

    SORTED = {"distributions": "distribution_id", "forms": "form_id", "explain": "distribution_id"}

    def __init__(
        self,
        out_dir: Path,
        loaded: Loaded,
        settings: TransmitterSettings | None = None,
        irs_file: bool = True,
    ):
        self.irs_file = irs_file  # False: no irs/ (the store's rebuild: ``prorata file`` writes the filing)
        self.loaded = loaded
        self.settings = settings or TransmitterSettings.placeholder()
        self.params = TaxParameters.for_year(loaded.manifest.tax_year)
        self.out_dir = out_dir
        self.staged = StagedOutput(out_dir, (RUN,))
        root = self.staged.path
        self.sinks = {
            name: SortedParquetSink(root / f"{name}.parquet", key) for name, key in self.SORTED.items()
        }
        # by plan, then form: batches come in plan order, except where plans that share ids are
        # read together in one partition (flows/io/extract.py)
        self.sinks["edit_checks"] = SortedParquetSink(root / "edit_checks.parquet", ["plan_id", "form_id"])
        # a payee of two plans comes in two batches: written once
        self.sinks["recipients"] = SortedParquetSink(root / "recipients.parquet", "payee_id", unique=True)
        self.sinks["payers"] = SortedParquetSink(root / "payers.parquet", "plan_id")
        self.sinks["accounts"] = SortedParquetSink(root / "accounts.parquet", "form_id")
        self.not_filed: list[pl.DataFrame] = []  # form ids kept out of the IRS file
        self.quarantine: list[pl.DataFrame] = []
        self.tieouts: list[pl.DataFrame] = []
        self.counts = Counts(loaded.validated.quarantine)
        self.batches = 0
        self.seconds = {"engine": 0.0, "edit_checks": 0.0, "partition_write": 0.0}

    def add(self, part: BatchResult) -> None:
        """One plan batch's outputs: written out, counted, dropped."""
        with on_disk(self.out_dir, WRITING):
            self._add(part)

    def _add(self, part: BatchResult) -> None:
        t0 = time.perf_counter()
        checks = part.checks.sort("plan_id", "form_id", maintain_order=True)
        ids = part.forms.select("form_id")
        not_filed = ids.join(filable(part.forms, checks).select("form_id"), on="form_id", how="anti")
        self.counts.add(
            part.distributions.height,
            part.forms,
            part.forms.height - not_filed.height,
            checks,
            self.params.filing_threshold_cents,
        )
        for name in self.SORTED:
            self.sinks[name].add(getattr(part, name))
        self.sinks["edit_checks"].add(checks)
        self.not_filed.append(not_filed)
        self.quarantine.append(part.quarantine)
        self.tieouts.append(part.tieout)
        self._add_parties(part.parties)
        self.batches += 1
        for k in ("engine", "edit_checks"):
            self.seconds[k] += part.seconds.get(k, 0.0)
        self.seconds["partition_write"] += time.perf_counter() - t0

    def _add_parties(self, parties: dict[str, pl.DataFrame]) -> None:
        """A batch's recipients and payers (a payee of two batches is kept once by the sink;
        batches hold whole plans, so a payer comes in one batch)."""
        self.sinks["recipients"].add(parties["recipients"])
        self.sinks["payers"].add(parties["payers"])
        self.sinks["accounts"].add(parties.get("accounts", pl.DataFrame(schema=ACCOUNT_SCHEMA)))

    def finish(self, timings: dict[str, float]) -> dict:
        """Everything else written, the manifest last; the folder swapped into place."""
        with on_disk(self.out_dir, WRITING):
            return self._finish(timings)

    def _finish(self, timings: dict[str, float]) -> dict:
        started = time.perf_counter()
        root = self.staged.path
        self.loaded.validated.tables.clear()  # the batches are done: the outputs are read from here on
        self.counts.quarantine = pl.concat(
            [self.loaded.validated.quarantine, engine_quarantine(self.quarantine)]
        )
        close_all(self.sinks.values())
        write_parquet(self.counts.quarantine, root / "quarantine.parquet")
        write_parquet(tieout_945_merge(pl.concat(self.tieouts)), root / "tieout_945.parquet")
        timings["outputs"] = time.perf_counter() - started
        t0 = time.perf_counter()
        filed = pl.scan_parquet(root / "forms.parquet")
        if self.not_filed:
            filed = filed.join(pl.concat(self.not_filed).lazy(), on="form_id", how="anti")
        if self.irs_file:
            irs = write_run_irs_file(  # group by group from the staged forms, payers and recipients
                root,
                filed,
                pl.scan_parquet(root / "payers.parquet"),
                pl.scan_parquet(root / "recipients.parquet"),
                self.settings,
                self.loaded.manifest.tax_year,
            )
        else:
            irs = {
                "channel": filing_channel(self.loaded.manifest.tax_year, None),
                "file": None,
                "written": False,
            }
        timings["irs_file"] = time.perf_counter() - t0
        timings["write"] = time.perf_counter() - started + self.seconds["partition_write"]
        manifest = build_manifest(self.loaded, self.counts, timings)
        manifest["irs_filing"] = irs
        write_json(manifest, root / "manifest.json")
        keep_statements(self.staged.out_dir, root)
        self.staged.commit()
        return manifest

    def __enter__(self) -> StreamedRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            for sink in self.sinks.values():
                sink.discard()
            self.staged.discard()


Split = Callable[[dict[str, pl.DataFrame], int], BatchResult]
Submit = Callable[[dict[str, pl.DataFrame], int], Any]  # returns a future with ``.result()``


def loaded_shell(extract_dir: Path) -> Loaded:
    """What a run partitioned by :mod:`flows.io.extract` knows before it reads a row: the
    manifest, the files' hashes, the rows of every table (Parquet footers) and the control totals
    (small). Its quarantine is filled in once every partition is validated."""
    hashes = file_hashes(extract_dir)
    manifest = partitioned.check_tables(extract_dir, hashes)
    rows_in = {
        name: partitioned.row_count(extract_dir, name)
        for name, table in TABLES.items()
        if (extract_dir / table.file).is_file()
    }
    empty = Validated(tables={}, quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA))
    return Loaded(manifest, empty, rows_in, hashes, partitioned.control_totals(extract_dir))


def read_partition(extract_dir: Path, manifest: Manifest, parts: partitioned.Partitions, i: int) -> Loaded:
    """Partition ``i`` read and validated (:func:`flows.io.extract.read_partition`)."""
    read = partitioned.read_partition(extract_dir, manifest, parts, i)
    return Loaded(manifest, read.validated, {}, {}, {}, read.seconds)


def stream_extract(
    extract_dir: Path,
    out_dir: Path,
    timings: dict[str, float],
    progress: Progress | None = None,
    settings: TransmitterSettings | None = None,
    batch_rows: int | None = None,
    *,
    load: Callable[[Path], Loaded] | None = None,
    load_partition: Callable[..., Loaded] | None = None,
    split: Split | None = None,
    submit: Submit | None = None,
    finish: Callable[[StreamedRun, dict[str, float]], dict] | None = None,
    irs_file: bool = True,
) -> dict:
    """``prorata run`` streamed: read and validate, split plan batch by plan batch, write
    (:class:`StreamedRun`; ``irs_file=False``: without ``irs/``); returns the manifest. An extract of
    more than ``PRORATA_READ_WHOLE_ROWS`` (10 million) disbursements is read, validated and split
    partition by partition (:mod:`flows.io.extract`): the same outputs, memory bounded by a
    partition. ``load``, ``load_partition``, ``split`` and ``finish`` are the stages (the Prefect flow passes
    its tasks); with ``submit`` the batches of each partition are submitted together (Dask)."""
    say = progress or (lambda _msg: None)
    load, load_partition = load or load_and_validate, load_partition or read_partition
    split = split or compute_batch
    t0 = time.perf_counter()
    sources: Iterable[Loaded]
    if partitioned.needs_partitions(extract_dir):
        shell = loaded_shell(extract_dir)
        parts = partitioned.plan_partitions_of(extract_dir)
        count = len(parts)
        sources = (load_partition(extract_dir, shell.manifest, parts, i) for i in range(count))
        timings["partition"] = time.perf_counter() - t0
        say(f"{shell.rows_in.get('distributions', 0):,} disbursements: read in {count} partitions of plans")
    else:
        shell = load(extract_dir)
        count, parts = 0, None
        sources = [shell]
        timings["read_validate"] = time.perf_counter() - t0
        timings.update(shell.seconds)
        say(Step(f"read and validated {shell.rows_in.get('distributions', 0):,} disbursements", READ))
    t0 = time.perf_counter()
    tax_year = shell.manifest.tax_year
    quarantines: list[pl.DataFrame] = []
    read_s = {"read": 0.0, "validate": 0.0}
    with StreamedRun(out_dir, shell, settings, irs_file) as run:
        for n, source in enumerate(sources, start=1):
            if count:
                quarantines.append(source.validated.quarantine)
                for k in read_s:
                    read_s[k] += source.seconds.get(k, 0.0)
            batches = len(plan_partitions(source.validated.tables["distributions"], batch_rows))
            if submit is not None:
                for future in [submit(b, tax_year) for b in iter_batches(source, batch_rows)]:
                    run.add(future.result())
            else:
                for i, batch in enumerate(iter_batches(source, batch_rows), start=1):
                    part = split(batch, tax_year)
                    batch.clear()  # a task's arguments and result can outlive it (released)
                    del batch
                    run.add(part)
                    part.release()
                    del part
                    if batches > 1 and count:
                        say(f"partition {n}/{count}: plan batch {i}/{batches} split")
                    elif batches > 1:
                        say(Step(f"plan batch {i}/{batches} done", SPLIT, i, batches))
            source.validated.tables.clear()  # split: released, whoever still holds the Loaded
            del source
            if count:
                say(Step(f"partition {n}/{count} done", SPLIT, n, count))
        if parts is not None:  # the id hashes of the partitions: not needed to write
            parts.release()
        sources, parts = [], None
        if count:
            run.loaded = replace(
                shell, validated=Validated({}, partitioned.merge_quarantine(quarantines)), seconds=read_s
            )
            timings.update(read_s)
            timings["read_validate"] = timings["partition"] + read_s["read"] + read_s["validate"]
        timings["split"] = time.perf_counter() - t0 - (read_s["read"] + read_s["validate"])
        timings.update({k: v for k, v in run.seconds.items() if k != "partition_write"})
        say(Step(f"split {run.counts.distributions:,} disbursements into {run.counts.forms:,} forms", SPLIT))
        return finish(run, timings) if finish else run.finish(timings)


def run_pipeline(
    extract_dir: Path,
    out_dir: Path,
    progress: Progress | None = None,
    settings: TransmitterSettings | None = None,
    batch_rows: int | None = None,
    irs_file: bool = True,
) -> RunSummary:
    """``prorata run`` without Prefect (:func:`stream_extract`); ``irs_file=False``: the outputs
    without ``irs/`` (the store's nightly rebuild: nobody files it, ``prorata file`` writes the
    filing from these outputs)."""
    manifest = stream_extract(extract_dir, out_dir, {}, progress, settings, batch_rows, irs_file=irs_file)
    return RunSummary(manifest, out_dir)
