"""``prorata nightly`` and ``prorata serve``: the inbox into the year-to-date store, then the year's outputs.

Every extract folder of the inbox that is not in the store yet is ingested, oldest first (manifest
``created_at``, then ``extract_id``). An extract with a table-level fault (contracts.loading
``ExtractError``) is reported and skipped — nothing of it is committed — and the run ends non-zero
after the other extracts. Then every tax year that changed, or whose outputs are not those of its
ledger (a run killed after an ingest), is rebuilt under ``STORE/outputs/TAX_YEAR/`` by the
``prorata run`` pipeline over the live year materialised as one canonical extract.

As a Prefect flow (``prorata-nightly``) each ingest and each rebuild is a task; a task is retried
only for transient I/O errors (:func:`transient_io`), never for a bad extract or a bug.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contracts.loading import ExtractError
from flows import history
from flows import store as st

Progress = Callable[[str], None]
NOT_TRANSIENT = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def transient_io(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry on an OSError that may pass (a full or busy disk, a
    network share), not on a missing file, a bad extract or a programming error."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # pragma: no cover - a state without a readable result
        return False
    return isinstance(exc, OSError) and not isinstance(exc, NOT_TRANSIENT)


@dataclass
class NightlyReport:
    ingested: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already in the store
    faults: list[str] = field(default_factory=list)  # one line each, no personal data
    warnings: list[str] = field(default_factory=list)
    rebuilt: dict[int, dict] = field(default_factory=dict)  # tax year -> outputs manifest

    @property
    def ok(self) -> bool:
        return not self.faults

    def text(self) -> str:
        lines = [
            f"prorata nightly: {len(self.ingested)} extracts ingested, {len(self.skipped)} already in the store, "
            f"{len(self.faults)} refused"
        ]
        lines += [f"  refused  {f}" for f in self.faults]
        lines += [f"  warning  {w}" for w in self.warnings]
        for year, m in sorted(self.rebuilt.items()):
            rows = m["rows"]["distributions"]
            lines.append(
                f"  tax year {year}: outputs rebuilt ({m['extract_id']}): disbursements {rows['out']:,} out, "
                f"{rows['quarantined']:,} quarantined; forms {m['forms']['count']:,}, to file {m['forms']['to_file']:,}"
            )
        return "\n".join(lines)


def run_nightly(
    inbox: Path,
    store_root: Path,
    *,
    settings=None,
    progress: Progress | None = None,
    ingest: Callable = st.ingest_extract,
    rebuild: Callable = st.rebuild_year,
) -> NightlyReport:
    """The nightly steps; ``ingest`` and ``rebuild`` are the plain functions or their Prefect tasks."""
    say = progress or (lambda _m: None)
    store = st.Store(store_root)
    report = NightlyReport()
    if not inbox.is_dir():
        raise st.StoreError(f"{inbox}: inbox folder does not exist")
    who = history.actor()
    with store.lock():
        store.clean_tmp()
        ledgered = st.all_ledgered(store)
        known = dict(zip(ledgered["extract_id"].to_list(), ledgered["file_hashes"].to_list(), strict=True))
        touched: set[int] = set()
        for folder, manifest in st.inbox_extracts(inbox):
            if manifest is not None and manifest.extract_id in known:
                if json.loads(known[manifest.extract_id]) != st.file_hashes(folder):
                    report.faults.append(
                        f"{folder}: extract_id {manifest.extract_id} is already in the store with other file contents"
                    )
                else:
                    report.skipped.append(manifest.extract_id)
                continue
            try:
                result = ingest(store, folder)
            except (ExtractError, st.StoreError) as exc:
                report.faults.append(str(exc))
                say(f"refused {folder.name}")
                continue
            if result.status == "ingested":
                history.record(
                    store,
                    result.tax_year,
                    "ingest",
                    who,
                    extract_id=result.extract_id,
                    detail={"folder": folder.name, **result.rows},
                )
                report.ingested.append(result.extract_id)
                touched.add(result.tax_year)
                known[result.extract_id] = json.dumps(st.file_hashes(folder), sort_keys=True)
                say(f"ingested {result.extract_id}: {result.rows.get('distributions', 0):,} disbursements")
            else:
                report.skipped.append(result.extract_id)
            if result.warning:
                report.warnings.append(f"{result.extract_id}: {result.warning}")
        stale = {y for y in store.years() if not st.outputs_current(store, y)}
        for year in sorted(touched | stale):
            say(f"rebuilding the outputs of tax year {year}")
            report.rebuilt[year] = rebuild(store, year, settings)
    return report


def _flow():
    """The Prefect flow, built on first use (importing Prefect costs a second)."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    options = {
        "persist_result": False,
        "cache_policy": NO_CACHE,
        "retries": 2,
        "retry_delay_seconds": 2,
        "retry_condition_fn": transient_io,
    }
    ingest_task = task(name="ingest-extract", **options)(st.ingest_extract)
    rebuild_task = task(name="rebuild-year-outputs", **options)(st.rebuild_year)

    @flow(name="prorata-nightly", persist_result=False, log_prints=False, validate_parameters=False)
    def prorata_nightly(inbox: str, store: str, config: str | None = None) -> dict:
        """Ingest every new extract of the inbox into the store, oldest first; rebuild the touched years."""
        from flows.config import load_settings

        settings = load_settings(Path(config) if config else None)
        report = run_nightly(
            Path(inbox), Path(store), settings=settings, ingest=ingest_task, rebuild=rebuild_task
        )
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(  # ids and counts only
            "```\n" + report.text() + "\n```", key="prorata-nightly-summary", description="nightly summary"
        )
        return summary(report)

    return prorata_nightly


_FLOW = None


def nightly_flow():
    global _FLOW
    if _FLOW is None:
        _FLOW = _flow()
    return _FLOW


def summary(report: NightlyReport) -> dict:
    """What the flow returns: ids and counts only."""
    return {
        "ingested": report.ingested,
        "skipped": report.skipped,
        "faults": report.faults,
        "warnings": report.warnings,
        "rebuilt": {str(y): m["extract_id"] for y, m in report.rebuilt.items()},
    }


DEPLOYMENT_NAME = "prorata-nightly"


def serve_arguments(inbox: Path, store: Path, cron: str, config: Path | None = None) -> dict:
    """The keyword arguments of ``flow.serve`` / ``flow.to_deployment`` for the nightly schedule."""
    from prefect.schedules import Cron

    Cron(cron)  # a bad expression is refused here, before anything is registered
    params = {"inbox": str(inbox.resolve()), "store": str(store.resolve())}
    if config:
        params["config"] = str(config.resolve())
    return {"name": DEPLOYMENT_NAME, "cron": cron, "parameters": params}
