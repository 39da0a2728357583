"""`make bench`: prorata on generated extracts of several sizes; writes docs/BENCHMARKS.md.

    python -m benchmarks.run_bench [--sizes 1000000,10000000] [--data bench_data]

Each size is generated once (``prorata sample``, seed 1) and cached under ``--data``; every
measurement runs in a fresh process so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sh(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"benchmark step failed: {' '.join(args[:4])}...\n{proc.stderr[-2000:]}")
    return proc.stdout


def ensure_extract(data: Path, n: int) -> tuple[Path, float]:
    folder = data / f"extract-{n}"
    if (folder / "manifest.json").is_file():
        return folder, float("nan")
    t0 = time.perf_counter()
    sh(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "sample",
            "--disbursements",
            str(n),
            "--seed",
            "1",
            "--out",
            str(folder),
        ]
    )
    return folder, time.perf_counter() - t0


def measure(folder: Path, out: Path, mode: str) -> dict:
    line = (
        sh([sys.executable, "-m", "benchmarks.one_run", str(folder), str(out), mode]).strip().splitlines()[-1]
    )
    return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1000000,10000000"))
    parser.add_argument("--data", default="bench_data")
    parser.add_argument("--report", default="docs/BENCHMARKS.md")
    args = parser.parse_args()
    data = ROOT / args.data
    data.mkdir(exist_ok=True)
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        folder, gen_s = ensure_extract(data, n)
        print(f"size {n:,}: extract ready", flush=True)
        run = measure(folder, data / f"out-{n}", "run")
        floor = measure(folder, data / f"out-{n}", "floor")
        results.append(
            {
                "n": n,
                "generate_s": gen_s,
                **run,
                **{k: v for k, v in floor.items() if k != "peak_rss_mb"},
                "floor_peak_rss_mb": floor["peak_rss_mb"],
            }
        )
        print(json.dumps(results[-1]), flush=True)
    statements = measure_statements(data)
    print(json.dumps(statements), flush=True)
    write_report(ROOT / args.report, results, statements)


def measure_statements(data: Path) -> dict:
    """Recipient PDFs are measured apart: pages per second on the demo extract's forms."""
    out = data / "out-statements"
    sh(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "sample_data/extract",
            "--out",
            str(out),
            "--no-prefect",
            "--quiet",
        ]
    )
    code = (
        "import json, sys; from pathlib import Path; from flows.statements import write_statements; "
        "print(json.dumps(write_statements(Path(sys.argv[1]))))"
    )
    return json.loads(sh([sys.executable, "-c", code, str(out)]).strip().splitlines()[-1])


def write_report(path: Path, results: list[dict], statements: dict | None = None) -> None:
    cpu = os.cpu_count()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `make bench` (`benchmarks/run_bench.py`) on {platform.machine()}, "
        f"{cpu} cores, Python {platform.python_version()}; extracts from `prorata sample --seed 1`. Each measurement "
        "is a fresh process running the stages of `prorata run` in-process (Prefect's start-up, about 5–10 s per "
        "process, is not included); peak RSS is that process's maximum resident set.",
        "",
        "| disbursements | forms | read | validate | split + codes + forms | edit checks + 945 | write (incl. IRS file) | IRS file | total | engine rows/s | peak RSS | I/O floor | total ÷ floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {r['forms']:,} | {r['read_s']:.1f} s | {r['validate_s']:.1f} s | {r['split_codes_forms_s']:.1f} s | "
            f"{r['edit_checks_945_s']:.1f} s | {r['write_with_irs_file_s']:.1f} s | {r['irs_file_s']:.1f} s | {r['total_s']:.1f} s | "
            f"{r['engine_rows_per_s']:,.0f} | {r['peak_rss_mb'] / 1024:.2f} GB | {r['floor_s']:.1f} s | {r['total_s'] / r['floor_s']:.1f}× |"
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        lines += [
            "",
            f"Scaling: {large['n']:,} took {large['total_s'] / small['total_s']:.1f}× the time of {small['n']:,} "
            f"({large['n'] / small['n']:.0f}× the rows).",
        ]
    lines += (
        ["", "Raw measurements (JSON, one line per size):", "", "```"]
        + [json.dumps(r) for r in results]
        + ["```", ""]
    )
    path.write_text("\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
