"""``prorata run`` as a Prefect flow of coarse tasks: read + validate, one split per plan batch, write.

Tasks pass frames in memory and never persist results (a persisted frame of payees would write TINs
to disk); nothing is cached, so a corrected extract at the same path is always read again.

On one machine the batches run one after another, so memory follows the largest batch. With a Dask
cluster (``--dask-address`` or ``--workers N``) the batches are submitted to Prefect's
``DaskTaskRunner`` and run on the workers; reading and writing stay in the flow's own process, so
the extract and OUT_DIR are on this machine's disk. Batch results are combined in a fixed order:
the outputs are byte-identical to the single-process run.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import pipeline
from flows import progress as progress_view

TASK_OPTIONS = {"persist_result": False, "cache_policy": NO_CACHE}


@task(name="read-and-validate", **TASK_OPTIONS)
def read_and_validate(extract_dir: Path) -> pipeline.Loaded:
    return pipeline.load_and_validate(extract_dir)


@task(name="split-plan-batch", **TASK_OPTIONS)
def split_batch(batch: dict, tax_year: int) -> pipeline.BatchResult:
    return pipeline.compute_batch(batch, tax_year)


@task(name="write-outputs", **TASK_OPTIONS)
def write(
    out_dir: Path, loaded: pipeline.Loaded, computed: pipeline.Computed, timings: dict, settings=None
) -> dict:
    return pipeline.write_outputs(out_dir, loaded, computed, timings, settings)


@flow(name="prorata-run", persist_result=False, log_prints=False, validate_parameters=False)
def prorata_run(
    extract_dir: Path,
    out_dir: Path,
    progress=None,
    settings=None,
    batch_rows: int | None = None,
    distributed: bool = False,
) -> dict:
    """Read, validate, split and write one extract; returns the manifest (counts, totals, hashes)."""
    say = progress_view.for_flow(progress)  # terminal bar, Prefect progress artifact (flows/progress.py)
    local = (lambda t: t.fn) if distributed else (lambda t: t)  # I/O stays in this process on a cluster
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = local(read_and_validate)(extract_dir)
    timings["read_validate"] = time.perf_counter() - t0
    say(f"read and validated {loaded.rows_in.get('distributions', 0):,} disbursements")
    t0 = time.perf_counter()
    batches = pipeline.split_batches(loaded, batch_rows)
    tax_year = loaded.manifest.tax_year
    if distributed:
        futures = [split_batch.submit(batch, tax_year) for batch in batches]
        parts = [f.result() for f in futures]
    else:
        parts = []
        for i, batch in enumerate(batches, start=1):
            parts.append(split_batch(batch, tax_year))
            if len(batches) > 1:
                say(f"plan batch {i}/{len(batches)} done")
    computed = pipeline.combine(loaded, parts)
    timings["split"] = time.perf_counter() - t0
    say(f"split {computed.distributions.height:,} disbursements into {computed.forms.height:,} forms")
    manifest = local(write)(out_dir, loaded, computed, timings, settings)
    progress_view.finished(say, manifest)  # 100 % and the summary artifact
    return manifest


def run_on_dask(
    extract_dir: Path,
    out_dir: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    progress=None,
    settings=None,
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
        extract_dir, out_dir, progress=progress, settings=settings, batch_rows=batch_rows, distributed=True
    )
