"""``prorata run`` as a Prefect flow of three coarse tasks: read + validate, split, write.

Tasks pass frames in memory and never persist results (a persisted frame of payees would write TINs
to disk); nothing is cached, so a corrected extract at the same path is always read again.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import pipeline

TASK_OPTIONS = {"persist_result": False, "cache_policy": NO_CACHE}


@task(name="read-and-validate", **TASK_OPTIONS)
def read_and_validate(extract_dir: Path) -> pipeline.Loaded:
    return pipeline.load_and_validate(extract_dir)


@task(name="split", **TASK_OPTIONS)
def split(loaded: pipeline.Loaded) -> pipeline.Computed:
    return pipeline.compute_split(loaded)


@task(name="write-outputs", **TASK_OPTIONS)
def write(
    out_dir: Path, loaded: pipeline.Loaded, computed: pipeline.Computed, timings: dict, settings=None
) -> dict:
    return pipeline.write_outputs(out_dir, loaded, computed, timings, settings)


@flow(name="prorata-run", persist_result=False, log_prints=False, validate_parameters=False)
def prorata_run(extract_dir: Path, out_dir: Path, progress=None, settings=None) -> dict:
    """Read, validate, split and write one extract; returns the manifest (counts, totals, hashes)."""
    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = read_and_validate(extract_dir)
    timings["read_validate"] = time.perf_counter() - t0
    say(f"read and validated {loaded.rows_in.get('distributions', 0):,} disbursements")
    t0 = time.perf_counter()
    computed = split(loaded)
    timings["split"] = time.perf_counter() - t0
    say(f"split {computed.distributions.height:,} disbursements into {computed.forms.height:,} forms")
    return write(out_dir, loaded, computed, timings, settings)
