"""The engine alone: split, box 7 codes and forms for every disbursement (issue 3, deliverable 10).

    python -m benchmarks.engine_bench EXTRACT_DIR [EXTRACT_DIR ...]

Each extract is measured in a fresh process (one JSON line each). The extract is read and validated
first (not timed); then :func:`transforms.engine.compute` runs over the validated tables, in the
plan batches ``prorata run`` uses (:func:`flows.run.pipeline.split_batches`), and only that is timed.

Issue 3's target is worded on "the split and codes": ``split_codes_s`` (and ``split_codes_rows_per_s``,
``split_codes_cpu_s``) times :func:`transforms.engine.split_and_code` — the row lookups, box 7, the
§72 and Notice 2014-54 split and boxes 2a, 5, 10 —, ``forms_s`` (``forms_rows_per_s``,
``forms_cpu_s``) the rest of ``compute``, :func:`transforms.engine.with_forms` (the forms and their
ids). ``engine_s`` and ``rows_per_s`` are the whole of ``compute``, their sum. Every rate is input
disbursements per second. The engine does its own row lookups: nothing is carried over from the
validation, so no engine work is hidden in the untimed part.

Peak RSS: ``peak_rss_gb`` is the process's peak while the engine runs — the high-water mark is reset
(``/proc/self/clear_refs``) once the validated tables are in memory, so it counts the batches the
engine reads plus everything the engine builds, not the validation before it;
``peak_rss_with_validation_gb`` is the whole process's peak; ``rss_before_engine_gb`` what the
process holds when the engine starts (the batches and the interpreter). ``engine_cpu_s`` is the
CPU time of all the process's threads during the engine: on a shared machine it varies less than
the wall time.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _status_kb(field: str) -> int | None:
    """A memory figure of the process from /proc/self/status (``VmHWM``: peak resident set,
    ``VmRSS``: current) in kB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    """Set the peak resident set back to the current one (Linux: ``clear_refs`` value 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure_engine(extract_dir: Path) -> dict:
    """Rows, seconds of the engine alone, rows/s and peak RSS (GB) for one extract."""
    from flows.run.pipeline import engine_threads, load_and_validate
    from transforms.engine import split_and_code, with_forms
    from transforms.law.params import TaxParameters

    loaded = load_and_validate(Path(extract_dir))
    try:
        from flows.run.pipeline import split_batches

        batches = split_batches(loaded)
    except ImportError:  # the flow's batching is not there: one batch
        batches = [loaded.validated.tables]
    params = TaxParameters.for_year(loaded.manifest.tax_year)
    del loaded  # the engine reads the batches only (a single batch holds the validated tables)
    rows = sum(b["distributions"].height for b in batches)
    with_validation = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    gc.collect()
    before = _status_kb("VmRSS")
    reset = _reset_hwm()
    split_s = split_cpu = forms_s = forms_cpu = 0.0
    forms = 0
    for batch in batches:  # compute(batch) is with_forms(split_and_code(batch)): each half timed
        t0, c0 = time.perf_counter(), time.process_time()
        coded = split_and_code(batch, params, engine_threads())
        t1, c1 = time.perf_counter(), time.process_time()
        result = with_forms(coded)
        forms_s += time.perf_counter() - t1
        forms_cpu += time.process_time() - c1
        split_s += t1 - t0
        split_cpu += c1 - c0
        forms += result.forms.height
        del result, coded
    seconds, cpu = split_s + forms_s, split_cpu + forms_cpu
    hwm = _status_kb("VmHWM")
    peak = (
        hwm / 1e6 if reset and hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    )
    return {
        "extract": str(extract_dir),
        "rows": rows,
        "forms": forms,
        "batches": len(batches),
        "engine_s": seconds,
        "rows_per_s": rows / seconds if seconds else None,
        "engine_cpu_s": cpu,
        "split_codes_s": split_s,
        "split_codes_rows_per_s": rows / split_s if split_s else None,
        "split_codes_cpu_s": split_cpu,
        "forms_s": forms_s,
        "forms_rows_per_s": rows / forms_s if forms_s else None,
        "forms_cpu_s": forms_cpu,
        "peak_rss_gb": peak,
        "peak_rss_with_validation_gb": max(with_validation, peak),
        "rss_before_engine_gb": before / 1e6 if before is not None else None,
        "load_average": os.getloadavg(),
    }


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--one":
        print(json.dumps(measure_engine(Path(argv[1]))), flush=True)
        return 0
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    status = 0
    for extract in argv:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.engine_bench", "--one", extract],
            stdout=subprocess.PIPE,
            text=True,
        )
        if done.returncode:
            status = done.returncode
        sys.stdout.write(done.stdout)
        sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
