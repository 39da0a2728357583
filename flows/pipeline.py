"""The stages of ``prorata run`` as plain functions: read + validate, split, write.

The Prefect flow (:mod:`flows.run_flow`) calls these same functions as tasks; tests call them
directly. Nothing here logs personal data: only ids, counts, totals and hashes.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import polars as pl

from contracts.loading import Manifest, read_extract
from contracts.validate import QUARANTINE_SCHEMA, Validated, validate
from flows.config import TransmitterSettings
from flows.filing import filing_frame, write_irs_file
from flows.outputs import StagedOutput, write_json, write_parquet
from transforms.edit_checks import filable, run_edit_checks, tieout_945
from transforms.engine import EngineResult, compute
from transforms.params import TaxParameters

Progress = Callable[[str], None]
BOXES = ["box1", "box2a", "box3", "box4", "box5", "box6", "box8", "box9b", "box10"]


def software_version() -> str:
    try:
        return version("prorata")
    except PackageNotFoundError:  # running from a source tree
        return "0+source"


def file_hashes(extract_dir: Path) -> dict[str, str]:
    """SHA-256 of every file of the extract, for the manifest and the run id."""
    out = {}
    for path in sorted(extract_dir.iterdir()):
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            out[path.name] = digest.hexdigest()
    return out


@dataclass
class Loaded:
    manifest: Manifest
    validated: Validated
    rows_in: dict[str, int]
    hashes: dict[str, str]
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)


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
    hashes = file_hashes(extract_dir) if extract_dir.is_dir() else {}
    manifest, frames = read_extract(extract_dir)
    validated = validate(frames, manifest.tax_year)
    rows_in = {name: frame.height for name, frame in frames.items()}
    extras = {"control_totals": frames["control_totals"]} if "control_totals" in frames else {}
    return Loaded(manifest, validated, rows_in, hashes, extras)


def _engine_quarantine(result: EngineResult, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Quarantine rows for events the engine cannot report (outputs.md: ``codes_over_two``)."""
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


PARTITION_ROWS = int(os.environ.get("PRORATA_PARTITION_ROWS", "2000000"))


def plan_partitions(distributions: pl.DataFrame, max_rows: int = PARTITION_ROWS) -> list[list[str]]:
    """Plans packed, in plan_id order, into batches of at most ``max_rows`` disbursements (a larger
    plan is a batch of its own). Every rule works within one plan — an event, a form, a payee's
    total distribution, a participant's box 9a — so batches are computed independently."""
    sizes = distributions.group_by("plan_id").len().sort("plan_id").rows()
    batches: list[list[str]] = []
    current: list[str] = []
    rows = 0
    for plan_id, n in sizes:
        if current and rows + n > max_rows:
            batches.append(current)
            current, rows = [], 0
        current.append(plan_id)
        rows += n
    if current:
        batches.append(current)
    return batches


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


def split_batches(loaded: Loaded, max_rows: int | None = None) -> list[dict[str, pl.DataFrame]]:
    """The validated tables cut into independent plan batches (a single batch when small)."""
    tables = loaded.validated.tables
    batches = plan_partitions(tables["distributions"], max_rows or PARTITION_ROWS)
    if len(batches) <= 1:
        return [tables]
    event_plan = tables["distributions"].select("event_id", "plan_id").unique("event_id")
    return [_partition(tables, plans, event_plan) for plans in batches]


def compute_batch(batch: dict[str, pl.DataFrame], tax_year: int) -> BatchResult:
    """The engine, the edit checks and the 945 tie-out over one plan batch (pure)."""
    params = TaxParameters.for_year(tax_year)
    t0 = time.perf_counter()
    result = compute(batch, params)
    engine_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = BatchResult(
        result.distributions,
        result.forms,
        result.explain,
        _engine_quarantine(result, batch),
        run_edit_checks(result.forms, result.legs, params),
        tieout_945(result.legs),
        {},
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
    engine_rows = (
        pl.concat([p.quarantine for p in parts])
        .sort(pl.col("table") != "distributions", "_row")  # distributions first, then contracts; input order
        .drop("_row")
    )
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
            say(f"plan batch {i}/{len(batches)} done")
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


RECIPIENT_COLUMNS = [
    "payee_id",
    "tin",
    "tin_type",
    "first_name",
    "last_name",
    "address",
    "city",
    "state",
    "zip",
    "country",
]
PAYER_COLUMNS = [
    "plan_id",
    "plan_name",
    "plan_type",
    "payer_tin",
    "payer_name",
    "payer_address",
    "payer_city",
    "payer_state",
    "payer_zip",
    "payer_phone",
]


def parties(tables: dict[str, pl.DataFrame], forms: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The payee and payer blocks of the forms (recipients.parquet, payers.parquet), for the IRS
    file and the recipient statements; only parties that appear on a form."""
    payees = tables["payees"].filter(pl.col("payee_id").is_in(forms["payee_id"].implode()))
    plans = tables["plans"].filter(pl.col("plan_id").is_in(forms["plan_id"].implode()))
    return {
        "recipients": payees.select(RECIPIENT_COLUMNS).sort("payee_id"),
        "payers": plans.select(PAYER_COLUMNS).sort("plan_id"),
    }


def build_manifest(loaded: Loaded, computed: Computed, timings: dict[str, float]) -> dict:
    """manifest.json (outputs.md): ids, hashes, counts, totals, version, timings — no personal data."""
    q = computed.quarantine
    q_counts = dict(q.group_by("table").len().iter_rows()) if q.height else {}
    tables = {}
    for name in ("plans", "payees", "participants", "contracts", "distributions"):
        rows_in = loaded.rows_in.get(name, 0)
        quarantined = int(q_counts.get(name, 0))
        tables[name] = {"in": rows_in, "quarantined": quarantined, "out": rows_in - quarantined}
    tables["distributions"]["out"] = computed.distributions.height
    rules = dict(q.group_by("rule").len().sort("rule").iter_rows()) if q.height else {}
    forms = computed.forms
    params = TaxParameters.for_year(loaded.manifest.tax_year)
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
            "count": forms.height,
            "below_filing_threshold": int((forms["box1_cents"] < params.filing_threshold_cents).sum()),
            "to_file": computed.filable.height,
        },
        "edit_checks": {
            sev: dict(
                computed.edit_checks.filter(pl.col("severity") == sev)
                .group_by("check")
                .len()
                .sort("check")
                .iter_rows()
            )
            for sev in ("error", "warning")
        },
        "totals": _totals(forms),
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
    with StagedOutput(out_dir) as staged:
        root = staged.path
        write_parquet(computed.distributions, root / "distributions.parquet")
        write_parquet(computed.forms, root / "forms.parquet")
        write_parquet(computed.quarantine, root / "quarantine.parquet")
        write_parquet(computed.explain, root / "explain.parquet")
        write_parquet(computed.edit_checks, root / "edit_checks.parquet")
        write_parquet(computed.tieout_945, root / "tieout_945.parquet")
        for name, frame in parties(loaded.validated.tables, computed.forms).items():
            write_parquet(frame, root / f"{name}.parquet")
        t0 = time.perf_counter()
        filing = filing_frame(computed.filable, loaded.validated.tables)
        irs = write_irs_file(root, filing, settings, loaded.manifest.tax_year)
        timings["irs_file"] = time.perf_counter() - t0
        timings["write"] = time.perf_counter() - started
        manifest = build_manifest(loaded, computed, timings)
        manifest["irs_filing"] = irs
        write_json(manifest, root / "manifest.json")
    return manifest


def run_pipeline(
    extract_dir: Path,
    out_dir: Path,
    progress: Progress | None = None,
    settings: TransmitterSettings | None = None,
    batch_rows: int | None = None,
) -> RunSummary:
    """``prorata run`` without Prefect: the three stages in order."""
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = load_and_validate(extract_dir)
    timings["read_validate"] = time.perf_counter() - t0
    say(f"read and validated {loaded.rows_in.get('distributions', 0):,} disbursements")
    t0 = time.perf_counter()
    computed = compute_split(loaded, say, batch_rows)
    timings["split"] = time.perf_counter() - t0
    say(f"split {computed.distributions.height:,} disbursements into {computed.forms.height:,} forms")
    manifest = write_outputs(out_dir, loaded, computed, timings, settings)
    return RunSummary(manifest, out_dir)
