"""``prorata run`` as a Prefect flow of coarse tasks: read + validate, one split per plan batch, write.

Tasks pass frames in memory and never persist results (a persisted frame of payees would write TINs
to disk); nothing is cached, so a corrected extract at the same path is always read again. Every task
and the flow raise only errors whose text is ours (:func:`flows.errors.scrubbed`: an unexpected
error is reduced to its type), so no value reaches Prefect's logs, states or result storage; the
flow's parameters are paths and counts (the transmitter settings are read inside the flow from
``config``, never passed to Prefect). A flow run is named after its extract (``run EXTRACT_ID``).

On one machine the batches run one after another, so memory follows the largest batch. With a Dask
cluster (``--dask-address`` or ``--workers N``) the batches are submitted to Prefect's
``DaskTaskRunner`` and run on the workers; reading and writing stay in the flow's own process, so
the extract and OUT_DIR are on this machine's disk. Each batch's outputs are written as it comes
and put together in a fixed order: the outputs are byte-identical to the single-process run.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.errors import printable, scrubbed
from flows.prefect import progress as progress_view
from flows.prefect.env import FLOW_OPTIONS
from flows.run import pipeline

TASK_OPTIONS = {"persist_result": False, "cache_policy": NO_CACHE}


@task(name="read-and-validate", **TASK_OPTIONS)
@scrubbed("read-and-validate")
def read_and_validate(extract_dir: Path) -> pipeline.Loaded:
    return pipeline.load_and_validate(extract_dir)


@task(name="read-and-validate-partition", **TASK_OPTIONS)
@scrubbed("read-and-validate-partition")
def read_partition(extract_dir: Path, manifest, parts, i: int) -> pipeline.Loaded:
    return pipeline.read_partition(extract_dir, manifest, parts, i)


@task(name="split-plan-batch", **TASK_OPTIONS)
@scrubbed("split-plan-batch")
def split_batch(batch: dict, tax_year: int) -> pipeline.BatchResult:
    return pipeline.compute_batch(batch, tax_year)


@task(name="write-outputs", **TASK_OPTIONS)
@scrubbed("write-outputs")
def write(run: pipeline.StreamedRun, timings: dict) -> dict:
    return run.finish(timings)


def extract_label(extract_dir: Path | str | None) -> str:
    """What a flow or task run is named after: the extract's id (escaped; the folder's name when
    its manifest cannot be read)."""
    from contracts.loading import ExtractError, Manifest

    folder = Path(extract_dir or ".")
    try:
        name = Manifest.read(folder).extract_id
    except ExtractError:
        name = folder.name
    return printable(name)[:120]


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    return f"run {extract_label(flow_run.parameters.get('extract_dir'))}"


@flow(
    name="prorata-run",
    flow_run_name=_flow_run_name,
    **FLOW_OPTIONS,
)
@scrubbed("prorata-run")
def prorata_run(
    extract_dir: Path,
    out_dir: Path,
    progress=None,
    config: str | None = None,
    batch_rows: int | None = None,
    distributed: bool = False,
) -> dict:
    """Read, validate, split and write one extract; returns the manifest (counts, totals, hashes).
    ``config``: the transmitter settings file (flows.settings: default ./prorata.toml).

    Each plan batch's outputs are written to the staging folder as soon as the batch is done
    (:class:`flows.run.pipeline.StreamedRun`), so memory follows one batch."""
    from flows.settings import load_settings

    settings = load_settings(Path(config) if config else None)
    say = progress_view.for_flow(
        progress
    )  # terminal bar, Prefect progress artifact (flows/prefect/progress.py)
    local = (lambda t: t.fn) if distributed else (lambda t: t)  # I/O stays in this process on a cluster
    manifest = pipeline.stream_extract(
        extract_dir,
        out_dir,
        {},
        say,
        settings,
        batch_rows,
        load=local(read_and_validate),
        load_partition=local(read_partition),
        split=split_batch,
        submit=split_batch.submit if distributed else None,
        finish=local(write),
    )
    progress_view.finished(say, manifest)  # 100 % and the summary artifact
    return manifest


def run_on_dask(
    extract_dir: Path,
    out_dir: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    progress=None,
    config: str | None = None,
    batch_rows: int | None = None,
) -> dict:
    """The flow with its plan batches on a Dask cluster: an existing one at ``address``
    (``tcp://HOST:PORT``), or a local cluster of ``workers`` processes."""
    from prefect_dask import DaskTaskRunner

    if address:
        runner = DaskTaskRunner(address=address)
    else:
        runner = DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers or 2,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            }
        )
    return prorata_run.with_options(task_runner=runner)(
        extract_dir, out_dir, progress=progress, config=config, batch_rows=batch_rows, distributed=True
    )
