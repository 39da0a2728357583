"""One benchmark measurement in a fresh process; prints one JSON line.

    python -m benchmarks.one_run EXTRACT_DIR OUT_DIR [run|floor]

``run``: the stages of ``prorata run`` (without Prefect's fixed start-up cost), each timed, and the
peak RSS of the process. ``floor``: polars reading the same inputs and writing outputs of the same
size, nothing else — the I/O floor the run is compared with.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import polars as pl


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def io_floor(extract_dir: Path, out_dir: Path) -> dict:
    from flows.outputs import write_parquet

    t0 = time.perf_counter()
    frames = {p.stem: pl.read_parquet(p) for p in sorted(extract_dir.glob("*.parquet"))}
    d = frames["distributions"]
    read_s = time.perf_counter() - t0
    sizes = json.loads((out_dir / "_sizes.json").read_text()) if (out_dir / "_sizes.json").is_file() else {}
    t0 = time.perf_counter()
    floor_dir = out_dir.with_name(out_dir.name + "-floor")
    # outputs of the same row counts: a row per disbursement (distributions, explain facts), a row per form
    write_parquet(d, floor_dir / "distributions.parquet")
    write_parquet(d.head(sizes.get("forms", int(d.height * 0.8))), floor_dir / "forms.parquet")
    write_parquet(d, floor_dir / "explain.parquet")
    write_s = time.perf_counter() - t0
    return {
        "floor_read_s": read_s,
        "floor_write_s": write_s,
        "floor_s": read_s + write_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def run(extract_dir: Path, out_dir: Path) -> dict:
    from contracts.loading import read_extract
    from contracts.validate import validate
    from flows.pipeline import Loaded, compute_split, file_hashes, write_outputs

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    manifest, frames = read_extract(extract_dir)
    t["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    validated = validate(frames, manifest.tax_year)
    t["validate"] = time.perf_counter() - t0
    loaded = Loaded(manifest, validated, {k: v.height for k, v in frames.items()}, file_hashes(extract_dir))
    del frames
    t0 = time.perf_counter()
    computed = compute_split(loaded)
    t["split_codes_forms"] = computed.seconds["engine"]
    t["edit_checks_945"] = time.perf_counter() - t0 - computed.seconds["engine"]
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    write_outputs(out_dir, loaded, computed, timings)
    t["write_with_irs_file"] = time.perf_counter() - t0
    t["irs_file"] = timings.get("irs_file", 0.0)
    rows = loaded.rows_in["distributions"]
    (out_dir / "_sizes.json").write_text(json.dumps({"forms": computed.forms.height}))
    return {
        "rows": rows,
        "forms": computed.forms.height,
        **{f"{k}_s": v for k, v in t.items()},
        "total_s": sum(v for k, v in t.items() if k != "irs_file"),
        "engine_rows_per_s": rows / t["split_codes_forms"],
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    extract_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "run"
    result = io_floor(extract_dir, out_dir) if mode == "floor" else run(extract_dir, out_dir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
