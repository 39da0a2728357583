"""`make bench`: ``prorata run`` end to end on generated extracts; writes docs/BENCHMARKS.md.

    python -m benchmarks.run_bench [--sizes 1000000,10000000,20000000] [--fire-sizes ...]
                                   [--data bench_data] [--no-prefect] [--no-prefect-cost]

The path users file from now on: tax year 2026, IRIS, every transmission validated against the
IRS's schema package (the vendored one, ``PRORATA_IRIS_SCHEMA_PACKAGE``), at every size of
``--sizes`` (``BENCH_SIZES``; ``make bench-100m`` runs 100,000,000 alone); tax year 2025, FIRE, as a
second row at the sizes of ``--fire-sizes`` (``BENCH_FIRE_SIZES``, by default the same sizes). Each
extract is generated once (``prorata sample --seed 1 --tax-year Y``) and cached under ``--data``.
Every measurement is a fresh process (:mod:`benchmarks.one_run`): the run end to end with each
stage's time and peak memory, then the I/O floor on the same input and outputs of the same size.
Prefect's fixed cost per command is measured apart (:mod:`benchmarks.prefect_cost`). Results are
kept per size and tax year in ``benchmarks/results.json`` (``--results``), so a later run of one
size (the 100 M run) adds its row to the same report. The disk: each size's outputs are deleted
before its run and after its floor, and the floor deletes the run's IRS files as it copies them
(a 20 M IRIS filing is ~30 GB; it and a copy would not fit beside the extracts on 56 GB). Recipient PDFs are measured apart, in pages per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES_MARKER = "<!-- analysis: written by hand, kept by make bench; check it against the new figures -->"
ENGINE_MAX_ROWS = 10_000_000  # the engine alone is measured up to this size (issue 3: 1 M and 10 M)
IRIS_YEAR, FIRE_YEAR = 2026, 2025
SCHEMA_PACKAGE = ROOT / "tests" / "data" / "iris-a2a-ty2025-v1.2"


def sh(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"benchmark step failed: {' '.join(args[:4])}...\n{proc.stderr[-2000:]}")
    return proc.stdout


def ensure_extract(data: Path, n: int, tax_year: int) -> tuple[Path, float]:
    folder = data / f"extract-{n}-ty{tax_year}"
    if (folder / "manifest.json").is_file():
        return folder, float("nan")
    t0 = time.perf_counter()
    sh(
        [
            sys.executable,
            "-m",
            "flows.cli.main",
            "sample",
            "--disbursements",
            str(n),
            "--seed",
            "1",
            "--tax-year",
            str(tax_year),
            "--out",
            str(folder),
        ]
    )
    return folder, time.perf_counter() - t0


def one_run(mode: str, folder: Path, out: Path, *extra: str) -> dict:
    line = sh([sys.executable, "-m", "benchmarks.one_run", mode, str(folder), str(out), *extra])
    return json.loads(line.strip().splitlines()[-1])


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=ROOT
        )
        return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


COMMIT = "unknown"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({model or 'unknown CPU'}), "
        f"{mem_kb / 2**20:.0f} GB RAM, Python {platform.python_version()}"
    )


def measure_size(data: Path, n: int, no_prefect: bool, tax_year: int = IRIS_YEAR) -> dict:
    folder, gen_s = ensure_extract(data, n, tax_year)
    print(f"size {n:,}, tax year {tax_year}: extract ready", flush=True)
    out = data / f"out-{n}"
    shutil.rmtree(out, ignore_errors=True)  # the disk: no earlier outputs beside the run's
    run = one_run("run", folder, out, *(["--no-prefect"] if no_prefect else []))
    if run["returncode"] != 0:
        raise SystemExit(f"prorata run failed at {n:,}: {run['stderr_tail']}")
    floor = one_run("floor", folder, out)  # deletes the run's IRS files as it copies them
    shutil.rmtree(out.with_name(out.name + "-floor"), ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    engine = None
    if n <= ENGINE_MAX_ROWS and tax_year == IRIS_YEAR:  # issue 3: the engine alone at 1 M and 10 M
        line = sh([sys.executable, "-m", "benchmarks.engine_bench", "--one", str(folder)])
        engine = json.loads(line.strip().splitlines()[-1])
    return {
        "n": n,
        "generate_s": gen_s,
        "engine_alone": engine,
        **{k: v for k, v in run.items() if not k.endswith("_tail")},
        **floor,
        "commit": COMMIT,
        "measured_at": _now(),
        "machine": machine(),
    }


VALIDATION_SIZE = 1_000_000  # the two validations of an IRIS transmission compared at this size


def measure_validations(data: Path) -> dict:
    """``prorata run --no-prefect`` on the 1 M tax-year-2026 extract twice, the transmissions
    validated by their records' shape and values (what ``prorata run`` does) and whole
    (``PRORATA_IRIS_VALIDATION=full``: what a filing's transmissions always get); each run's IRS
    file stage, end to end and peak memory."""
    folder, _ = ensure_extract(data, VALIDATION_SIZE, IRIS_YEAR)
    out = data / "out-validation"
    rows = {}
    for name, value in (("records by shape and value", None), ("whole file", "full")):
        shutil.rmtree(out, ignore_errors=True)
        if value:
            os.environ["PRORATA_IRIS_VALIDATION"] = value
        try:
            run = one_run("run", folder, out, "--no-prefect")
        finally:
            os.environ.pop("PRORATA_IRIS_VALIDATION", None)
        if run["returncode"] != 0:
            raise SystemExit(f"prorata run ({name}) failed: {run['stderr_tail']}")
        rows[name] = {
            "schema_validation": run["schema_validation"],
            "irs_file_s": run["stages"]["irs_file"],
            "wall_s": run["wall_s"],
            "peak_tree_rss_mb": run["peak_tree_rss_mb"],
            "irs_bytes": run["irs_bytes"],
            "load_min": run["load_min"],
            "load_max": run["load_max"],
        }
    shutil.rmtree(out, ignore_errors=True)
    return {"n": VALIDATION_SIZE, "runs": rows, "commit": COMMIT, "measured_at": _now()}


def measure_statements(data: Path) -> dict:
    """Recipient PDFs are measured apart: pages per second on the demo extract's forms."""
    out = data / "out-statements"
    sh(
        [
            sys.executable,
            "-m",
            "flows.cli.main",
            "run",
            "sample_data/extract",
            "--out",
            str(out),
            "--no-prefect",
            "--quiet",
        ]
    )
    code = (
        "import json, sys; from pathlib import Path; from flows.render.statements import write_statements; "
        "print(json.dumps(write_statements(Path(sys.argv[1]))))"
    )
    return json.loads(sh([sys.executable, "-c", code, str(out)]).strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1000000,10000000,20000000"))
    parser.add_argument("--fire-sizes", default=os.environ.get("BENCH_FIRE_SIZES"))
    parser.add_argument("--no-prefect-cost", action="store_true", help="leave out Prefect's fixed cost")
    parser.add_argument("--data", default="bench_data")
    parser.add_argument("--report", default="docs/BENCHMARKS.md")
    parser.add_argument(
        "--results", default="benchmarks/results.json", help="kept, committed beside the report"
    )
    parser.add_argument(
        "--no-prefect", action="store_true", help="time the stages without Prefect's start-up"
    )
    parser.add_argument("--no-statements", action="store_true")
    parser.add_argument(
        "--no-validations", action="store_true", help="leave out the two IRIS validations compared at 1 M"
    )
    args = parser.parse_args()
    global COMMIT
    COMMIT = commit()  # the code measured: the tree as the benchmark starts
    data = ROOT / args.data
    data.mkdir(exist_ok=True)
    store = ROOT / args.results
    results = json.loads(store.read_text()) if store.is_file() else {}
    results = {k: v for k, v in results.items() if not k.isdigit()}  # rows of before the tax years
    os.environ.setdefault("PRORATA_IRIS_SCHEMA_PACKAGE", str(SCHEMA_PACKAGE))  # every transmission validated
    sizes = [int(s) for s in args.sizes.split(",") if s]
    fire = [int(s) for s in (args.fire_sizes if args.fire_sizes is not None else args.sizes).split(",") if s]
    if not args.no_prefect_cost:
        from benchmarks.prefect_cost import measure

        results["prefect"] = {**measure(data, 5), "commit": COMMIT, "measured_at": _now()}
        store.write_text(json.dumps(results, indent=1))
        print(json.dumps(results["prefect"]), flush=True)
    for n in sizes:
        for year in (IRIS_YEAR, FIRE_YEAR) if n in fire else (IRIS_YEAR,):
            key = f"{n}-{year}"
            results[key] = measure_size(data, n, args.no_prefect, year)
            store.write_text(json.dumps(results, indent=1))
            print(json.dumps({k: v for k, v in results[key].items() if k != "rss_timeline_mb"}), flush=True)
    if not args.no_validations:
        results["validations"] = measure_validations(data)
        store.write_text(json.dumps(results, indent=1))
    if not args.no_statements:
        results["statements"] = {**measure_statements(data), "commit": COMMIT}
        store.write_text(json.dumps(results, indent=1))
    write_report(ROOT / args.report, results)


def _system(r: dict) -> str:
    return f"{r.get('tax_year', FIRE_YEAR)} {r.get('channel') or 'FIRE'}"


def _row(r: dict) -> str:
    s = r["stages"]
    total = r["wall_s"]
    read = s.get("read_validate", s.get("read", float("nan")) + s.get("validate", 0.0))
    return (
        f"| {r['n']:,} | {_system(r)} | {r['forms']:,} | {r.get('irs_bytes', 0) / 1e6:,.0f} MB | "
        f"{read:.1f} s | {s.get('engine', float('nan')):.1f} s | {s.get('edit_checks', float('nan')):.1f} s | "
        f"{s.get('outputs', float('nan')):.1f} s | {s.get('irs_file', float('nan')):.1f} s | "
        f"{s.get('write', float('nan')):.1f} s | {total:.1f} s | {r['floor_s']:.1f} s | "
        f"{total / r['floor_s']:.1f}× | {r['peak_tree_rss_mb'] / 1024:.2f} GB | "
        f"{r['load_min']:.1f}–{r['load_max']:.1f} | `{r['commit']}` |"
    )


STAGE_NAMES = ("start", "read + validate", "split", "read + validate + split", "outputs", "IRS file", "end")


def _memory_row(r: dict) -> str:
    peaks = r.get("stage_peak_rss_mb") or {}
    spans = r.get("stage_spans") or {}

    def cell(name: str) -> str:
        if name not in peaks:
            return "–"
        start, end = spans[name]
        return f"{peaks[name] / 1024:.2f} GB ({end - start:.0f} s)"

    return f"| {r['n']:,} | {_system(r)} | " + " | ".join(cell(n) for n in STAGE_NAMES) + " |"


PREFECT_ROWS = {
    "started": "temporary server started (no `PREFECT_API_URL`, none running in the home)",
    "reused": "temporary server reused (the next commands: the default)",
    "own": "the command's own temporary server (`PRORATA_PREFECT_SERVER_IDLE_MINUTES=0`)",
    "configured": "configured server (`PREFECT_API_URL`, `make prefect-server`: production)",
}
"""The rows of :func:`benchmarks.prefect_cost.measure`."""


def _prefect_lines(p: dict) -> list[str]:
    parts = "; ".join(f"{k} {v:.2f} s" for k, v in p["parts"].items())
    return [
        "## Prefect's fixed cost per command",
        "",
        f"`benchmarks/prefect_cost.py`: `prorata run` on a 200-disbursement extract (tax year 2026), warm "
        f"`PREFECT_HOME`, median of {p['repeat']} fresh processes, load average {p['load_min']:.1f}–"
        f"{p['load_max']:.1f}, `{p['commit']}`, {p['measured_at']}:",
        "",
        "| setting | `prorata run` | fixed cost (less `--no-prefect`) |",
        "|---|---:|---:|",
        f"| `--no-prefect` | {p['no_prefect_s']:.2f} s | – |",
        *(
            f"| {label} | {p[f'{row}_s']:.2f} s | **{p[f'fixed_cost_{row}_s']:.2f} s** |"
            for row, label in PREFECT_ROWS.items()
        ),
        "",
        f"Where the seconds go (each measured on its own): {parts}.",
    ]


def _validation_lines(v: dict) -> list[str]:
    runs = v["runs"]
    return [
        "## The two validations of an IRIS transmission",
        "",
        f"`prorata run --no-prefect` on the {v['n']:,}-disbursement tax-year-2026 extract "
        f"({next(iter(runs.values()))['irs_bytes'] / 1e9:.2f} GB of transmissions), `{v['commit']}`, "
        f"{v['measured_at']}: by records' shape and value (`prorata run`) and whole "
        "(`PRORATA_IRIS_VALIDATION=full`; every filing's transmissions: `prorata file`, `corrections`, "
        "`replace`, docs/OPERATIONS.md).",
        "",
        "| validation | IRS file stage (written and validated) | end to end | peak RSS (tree) | load avg |",
        "|---|---:|---:|---:|---|",
        *[
            f"| {name} | {r['irs_file_s']:.1f} s | {r['wall_s']:.1f} s | {r['peak_tree_rss_mb'] / 1024:.2f} GB "
            f"| {r['load_min']:.1f}–{r['load_max']:.1f} |"
            for name, r in runs.items()
        ],
    ]


def _engine_row(e: dict) -> str:
    """One row of the engine table; results measured before the split was timed apart show n/a."""
    load = e.get("load_average") or [float("nan")]

    def part(name: str) -> str:
        if e.get(f"{name}_s") is None:
            return "n/a | n/a | n/a"
        return f"{e[f'{name}_s']:.2f} s | {e[f'{name}_rows_per_s']:,.0f} | {e[f'{name}_cpu_s']:.2f} s"

    return (
        f"| {e['rows']:,} | {e['batches']} | {part('split_codes')} | {part('forms')} | "
        f"{e['engine_s']:.2f} s | {e['rows_per_s']:,.0f} | "
        f"{e['engine_cpu_s']:.2f} s | {e['peak_rss_gb']:.2f} GB | "
        f"{e['peak_rss_with_validation_gb']:.2f} GB | {load[0]:.1f} |"
    )


def write_report(path: Path, results: dict) -> None:
    sizes = sorted(
        (r for k, r in results.items() if k[:1].isdigit()),
        key=lambda r: (r["n"], -r.get("tax_year", FIRE_YEAR)),
    )
    lines = [
        "# Benchmarks",
        "",
        "`make bench` (`benchmarks/run_bench.py`) runs `prorata run EXTRACT --out OUT` end to end on extracts "
        "from `prorata sample --seed 1 --tax-year Y`, each in a fresh process, through its Prefect flow, and "
        "measures it from outside: wall time, peak resident memory of the whole process tree (GB here are "
        "GiB, 2^30 bytes; sampled every 0.1 s), the 1-minute load average while it ran. The path users file from now on is the first row of "
        "each size: tax year 2026, IRIS, every transmission validated against the IRS's schema package (the "
        "vendored TY2025 v1.2); tax year 2025, FIRE (read back by our checker), is the second. Stage times "
        "are the run's own (`manifest.json` `stage_seconds`): *read + validate* (above 10 M disbursements the "
        "extract is read in partitions of plans, `flows/io/extract.py`, and this includes the first pass "
        "over the ids), *engine* (split, box 7 codes and forms), *edit checks*, *outputs* (every Parquet "
        "output), *IRS file* (written and checked), *write* (outputs and IRS file). The I/O floor is polars "
        "reading the same inputs and writing outputs of the same size (the IRS file as the same number of "
        "bytes), nothing else, a file at a time in slices of 10 M rows, in the same `make bench`. "
        "`make bench-100m` adds the 100 M row.",
        "",
        "| disbursements | tax year | forms | IRS file size | read + validate | engine | edit checks | outputs "
        "| IRS file | write | end to end | I/O floor | ÷ floor | peak RSS (tree) | load avg | commit |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        *[_row(r) for r in sizes],
    ]
    if sizes:
        lines += [
            "",
            f"Machine: {sizes[-1]['machine']}. Measured: "
            + ", ".join(f"{r['n']:,} ({_system(r)}) at {r['measured_at']}" for r in sizes)
            + ".",
            "",
            "Peak resident memory of the process tree during each stage (and how long the stage ran): "
            "*start* is the command until its first stage (imports, Prefect's temporary server), *end* "
            "what follows the IRS file (manifest, the folder swapped into place, Prefect's teardown). "
            "The spans come from the run's progress lines and its stage times.",
            "",
            "| disbursements | tax year | " + " | ".join(STAGE_NAMES) + " |",
            "|---:|---|" + "---:|" * len(STAGE_NAMES),
            *[_memory_row(r) for r in sizes if r.get("stage_peak_rss_mb")],
        ]
    by_n = {(r["n"], r.get("tax_year", FIRE_YEAR)): r for r in sizes}
    for year in (IRIS_YEAR, FIRE_YEAR):
        if (1_000_000, year) in by_n and (10_000_000, year) in by_n:
            ratio = by_n[(10_000_000, year)]["wall_s"] / by_n[(1_000_000, year)]["wall_s"]
            lines.append(
                f"\nScaling, tax year {year}: 10 M took {ratio:.1f}× the time of 1 M (target ≤ 11×)."
            )
    if "prefect" in results:
        lines += ["", *_prefect_lines(results["prefect"])]
    if "validations" in results:
        lines += ["", *_validation_lines(results["validations"])]
    engine = [r for r in sizes if r.get("engine_alone")]
    if engine:
        lines += [
            "",
            "## The engine alone (issue 3)",
            "",
            "`benchmarks/engine_bench.py`, a fresh process per size: the extract is read and validated "
            "(not timed), then `transforms.engine.compute` runs over the plan batches of `prorata run` "
            "(split, box 7 codes, boxes and forms). Peak RSS is the process's high-water mark from the "
            "start of the engine (the batches it reads plus what it builds); *with validation* is the "
            "whole process's. *Split + codes* is `transforms.engine.split_and_code` (row lookups, box 7, "
            "the split, boxes 2a, 5, 10), *forms* the rest of `compute` (`with_forms`: the forms and their "
            "ids); *engine* is both. Rates are input disbursements per second. Targets: ≥ 1,000,000 "
            "disbursements/s for the split and codes, ≤ 8 GB at 10 M, 10 M ≤ 11× 1 M.",
            "",
            "| disbursements | batches | split + codes | rows/s | CPU | forms | rows/s | CPU "
            "| engine | rows/s | engine CPU | peak RSS (engine) | peak RSS with validation | load avg |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        lines += [_engine_row(r["engine_alone"]) for r in engine]
        by_e = {r["n"]: r["engine_alone"] for r in engine}
        if 1_000_000 in by_e and 10_000_000 in by_e:
            ratio = by_e[10_000_000]["engine_s"] / by_e[1_000_000]["engine_s"]
            lines.append(f"\nEngine scaling: 10 M took {ratio:.1f}× the engine time of 1 M (target ≤ 11×).")
    if "statements" in results:
        st = results["statements"]
        lines.append(f"\nRecipient PDFs (apart): {json.dumps({k: v for k, v in st.items()})}")
    raw = [
        json.dumps({k: v for k, v in r.items() if k not in ("rss_timeline_mb", "stage_spans")}) for r in sizes
    ]
    lines += ["", "Raw measurements (JSON; RSS timelines in the results file):", "", "```", *raw, "```", ""]
    kept = ""  # the hand-written analysis below the marker survives a new measurement
    if path.is_file() and NOTES_MARKER in path.read_text():
        kept = path.read_text().split(NOTES_MARKER, 1)[1]
    path.write_text("\n".join(lines) + "\n" + NOTES_MARKER + kept)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
