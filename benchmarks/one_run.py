"""One benchmark measurement in a fresh process: prints a JSON line with stage times and peak RSS.

    python -m benchmarks.one_run EXTRACT_DIR OUT_DIR
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import polars as pl


def io_floor(extract_dir: Path, out_dir: Path) -> float:
    """polars reading the same inputs and writing outputs of the same size, nothing else."""
    from flows.outputs import write_parquet

    t0 = time.perf_counter()
    frames = {p.stem: pl.read_parquet(p) for p in sorted(extract_dir.glob("*.parquet"))}
    d = frames["distributions"]
    floor_dir = out_dir.with_name(out_dir.name + "-floor")
    # outputs of the same shape: distributions (17 columns), forms (~0.8 rows per disbursement), explain
    write_parquet(d.select(d.columns[:17]), floor_dir / "distributions.parquet")
    write_parquet(d.head(int(d.height * 0.8)), floor_dir / "forms.parquet")
    write_parquet(d.select(d.columns[:14]), floor_dir / "explain.parquet")
    return time.perf_counter() - t0


def main() -> None:
    extract_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "run"
    if mode == "floor":
        seconds = io_floor(extract_dir, out_dir)
        print(json.dumps({"floor_s": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    from flows.pipeline import compute_split, load_and_validate, write_outputs

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = load_and_validate(extract_dir)
    t["read_validate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    computed = compute_split(loaded)
    t["split_forms_checks"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_outputs(out_dir, loaded, computed, dict(t))
    t["write"] = time.perf_counter() - t0
    rows = loaded.rows_in["distributions"]
    print(json.dumps({
        "rows": rows,
        "forms": computed.result.forms.height,
        **{f"{k}_s": v for k, v in t.items()},
        "total_s": sum(t.values()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
