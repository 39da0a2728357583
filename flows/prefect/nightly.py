"""``prorata nightly`` and ``prorata serve``: the inbox into the year-to-date store, then the year's outputs.

Every extract folder of the inbox that is not in the store yet is ingested, oldest first (manifest
``created_at``, then ``extract_id``). An extract with a table-level fault (contracts.loading
``ExtractError``) is reported and skipped — nothing of it is committed — and the run ends non-zero
after the other extracts. Then every tax year that changed, or whose outputs are not those of its
ledger (a run killed after an ingest), is rebuilt under ``STORE/outputs/TAX_YEAR/`` by the
``prorata run`` pipeline over the live year materialised as one canonical extract.

As a Prefect flow (``prorata-nightly``, a run named after the inbox) each ingest (named after its
extract) and each rebuild is a task; a task is retried only for transient I/O errors
(:func:`transient_io`), never for a bad extract or a bug. A night that refused an extract ends
in a Failed state whose message names the refusals (its summary is the state's data), so Prefect
shows what the exit status says; tasks and flow raise only errors whose text is ours
(:func:`flows.errors.scrubbed`).
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contracts.loading import ExtractError, file_hashes
from flows.errors import printable, scrubbed
from flows.io import history
from flows.io import store as st
from flows.season.rebuild import rebuild_year

Progress = Callable[[str], None]
NOT_TRANSIENT = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
NOT_TRANSIENT_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS}


def transient_io(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry on an OSError that may pass (a full or busy disk, a
    network share), not on a missing file, a missing permission, a read-only folder, a bad extract
    or a programming error."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # pragma: no cover - a state without a readable result
        return False
    return (
        isinstance(exc, OSError)
        and not isinstance(exc, NOT_TRANSIENT)
        and exc.errno not in NOT_TRANSIENT_ERRNOS
    )


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
        """The night in a few lines: counts, the refusals and warnings (ids and paths escaped:
        :func:`flows.errors.printable`)."""
        lines = [
            f"prorata nightly: {len(self.ingested)} extracts ingested, {len(self.skipped)} already in the store, "
            f"{len(self.faults)} refused"
        ]
        lines += [f"  refused  {printable(f)}" for f in self.faults]
        lines += [f"  warning  {printable(w)}" for w in self.warnings]
        for year, m in sorted(self.rebuilt.items()):
            rows = m["rows"]["distributions"]
            lines.append(
                f"  tax year {year}: outputs rebuilt ({printable(m['extract_id'])}): disbursements {rows['out']:,} out, "
                f"{rows['quarantined']:,} quarantined; forms {m['forms']['count']:,}, to file {m['forms']['to_file']:,}"
            )
        return "\n".join(lines)

    def refusal(self) -> str:
        """One line for a Failed state: how many extracts were refused, and the first reason."""
        more = f" (+{len(self.faults) - 1} more)" if len(self.faults) > 1 else ""
        return f"{len(self.faults)} extract(s) refused: {printable(self.faults[0])}{more}"


def run_nightly(
    inbox: Path,
    store_root: Path,
    *,
    settings=None,
    progress: Progress | None = None,
    ingest: Callable = st.ingest_extract,
    rebuild: Callable = rebuild_year,
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
                if json.loads(known[manifest.extract_id]) != file_hashes(folder):
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
                known[result.extract_id] = json.dumps(file_hashes(folder), sort_keys=True)
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


def _ingest_name() -> str:
    from prefect.runtime import task_run

    from flows.prefect.run_flow import extract_label

    return f"ingest {extract_label(task_run.parameters.get('folder'))}"


def _rebuild_name() -> str:
    from prefect.runtime import task_run

    return f"rebuild tax year {task_run.parameters.get('tax_year')}"


def _nightly_name() -> str:
    from prefect.runtime import flow_run

    inbox, store = (Path(str(flow_run.parameters.get(k) or "?")) for k in ("inbox", "store"))
    return f"nightly {printable(inbox.name)} into {printable(store.name)}"


def _flow():
    """The Prefect flow, built on first use (importing Prefect costs a second)."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.states import Failed

    from flows.prefect.env import FLOW_OPTIONS

    options = {
        "persist_result": False,
        "cache_policy": NO_CACHE,
        "retries": 2,
        "retry_delay_seconds": 2,
        "retry_condition_fn": transient_io,
    }
    ingest_task = task(name="ingest-extract", task_run_name=_ingest_name, **options)(
        scrubbed("ingest-extract")(st.ingest_extract)
    )
    rebuild_task = task(name="rebuild-year-outputs", task_run_name=_rebuild_name, **options)(
        scrubbed("rebuild-year-outputs")(rebuild_year)
    )

    @flow(
        name="prorata-nightly",
        flow_run_name=_nightly_name,
        **FLOW_OPTIONS,
    )
    @scrubbed("prorata-nightly")
    def prorata_nightly(inbox: str, store: str, config: str | None = None):
        """Ingest every new extract of the inbox into the store, oldest first; rebuild the touched
        years. Returns the summary (:func:`summary`), as a Failed state when an extract was refused."""
        from flows.settings import load_settings

        settings = load_settings(Path(config) if config else None)
        report = run_nightly(
            Path(inbox), Path(store), settings=settings, ingest=ingest_task, rebuild=rebuild_task
        )
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(  # ids and counts only
            "```\n" + report.text() + "\n```", key="prorata-nightly-summary", description="nightly summary"
        )
        if not report.ok:
            return Failed(message=report.refusal(), data=summary(report))
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
