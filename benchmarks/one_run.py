"""One benchmark measurement in a fresh process; prints one JSON line.

    python -m benchmarks.one_run run EXTRACT_DIR OUT_DIR [--no-prefect] [--prorata PATH]
    python -m benchmarks.one_run floor EXTRACT_DIR OUT_DIR

``run``: ``prorata run EXTRACT_DIR --out OUT_DIR`` end to end as a child process (with Prefect
unless ``--no-prefect``; ``--prorata`` picks another installation, e.g. an older checkout's, for
an old-against-new comparison). Measured from outside: wall time, the peak resident memory of the
whole process tree (the sum over the command and its children, sampled every 0.1 s) and of its
largest process (exact, from the kernel), the load average while it ran; the stage times are the
run's own (manifest.json ``stage_seconds``).

``floor``: the I/O floor the run is compared with — polars reading the same input files (one at a
time) and writing files of the same size as the run's outputs (the same frames, read back untimed
one at a time; the IRS file as the same number of bytes), nothing else. It deletes the run's IRS
files as it goes (each one just before writing its copy): a 20 M IRIS filing and its copy would
not fit the disk together. A run whose IRS file was
streamed through the checker and not kept (``PRORATA_IRS_FILE_SINK=discard``, the 100 M run: the
file does not fit the disk) has no IRS file to copy, and its floor writes none either.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(stat[1]), []).append(int(entry))
    return tree


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants."""
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def load_1min() -> float:
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def monitored(args: list[str], env: dict | None = None) -> dict:
    """Run ``args``; wall time, CPU time, peak tree RSS (sampled), largest process's peak RSS, load average,
    and every sample (``samples``: seconds since the start, tree RSS in bytes) for :func:`stage_peaks`."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = usage.ru_maxrss
    cpu_before = usage.ru_utime + usage.ru_stime
    loads = [load_1min()]
    peak = 0
    timeline: list[tuple[float, float]] = []  # (seconds since start, tree RSS in MB) every 2 s
    samples: list[tuple[float, int]] = []  # every sample
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        ticks = 0
        while not stop.is_set():
            rss = tree_rss_bytes(proc.pid)
            peak = max(peak, rss)
            samples.append((time.perf_counter() - t0, rss))
            if ticks % 20 == 0:
                timeline.append((round(time.perf_counter() - t0, 1), round(rss / 2**20)))
            if ticks % 50 == 0:
                loads.append(load_1min())
            ticks += 1
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    loads.append(load_1min())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    largest = usage.ru_maxrss
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        # CPU seconds (user + system) of the command (not of a server it left running)
        "cpu_s": usage.ru_utime + usage.ru_stime - cpu_before,
        "peak_tree_rss_mb": peak / 2**20,
        "peak_process_rss_mb": (largest if largest > before else float("nan")) / 1024,
        "load_min": min(loads),
        "load_max": max(loads),
        "load_mean": sum(loads) / len(loads),
        "rss_timeline_mb": timeline,
        "samples": samples,
        "stdout_tail": out.decode(errors="replace")[-400:],
        "stderr_tail": err.decode(errors="replace")[-400:],
        "stderr_full": err.decode(errors="replace"),
    }


PROGRESS = re.compile(r"^\s*\[\s*([0-9.]+) s\] (.*)$")


def progress_marks(stderr: str) -> list[tuple[float, str]]:
    """The run's progress lines (``[  12.3 s] message``): seconds since the command started, text."""
    return [(float(m[1]), m[2]) for m in map(PROGRESS.match, stderr.splitlines()) if m]


def stage_spans(marks: list[tuple[float, str]], stages: dict, wall: float) -> dict[str, tuple[float, float]]:
    """When each stage ran, from the progress lines and the run's own stage times: *read + validate*
    until "read and validated" (a partitioned run reads, validates and splits partition by
    partition: one span until "split …"), *split* until "split … into … forms", then *outputs* and
    *IRS file* for their ``stage_seconds``, one after the other; *start* is everything before the
    first stage (imports, Prefect's server); *end* what follows the IRS file (the manifest, the
    swap into place, Prefect's teardown)."""
    read = next((t for t, m in marks if m.startswith("read and validated")), None)
    split = next((t for t, m in marks if m.startswith("split ") and " forms" in m), None)
    if split is None:
        return {}
    begin = max(0.0, (read if read is not None else split) - stages.get("read_validate", 0.0))
    if read is None:  # partitioned: begin is where the first pass started
        begin = max(0.0, split - stages.get("read_validate", 0.0) - stages.get("split", 0.0))
    spans = {"start": (0.0, begin)}
    if read is not None:
        spans["read + validate"] = (begin, read)
        spans["split"] = (read, split)
    else:
        spans["read + validate + split"] = (begin, split)
    outputs_end = split + stages.get("outputs", 0.0)
    irs_end = outputs_end + stages.get("irs_file", 0.0)
    spans["outputs"] = (split, outputs_end)
    spans["IRS file"] = (outputs_end, irs_end)
    spans["end"] = (irs_end, wall)
    return spans


def stage_peaks(samples: list[tuple[float, int]], spans: dict[str, tuple[float, float]]) -> dict[str, float]:
    """The peak tree RSS (MB) sampled within each stage's span."""
    peaks = {}
    for name, (start, end) in spans.items():
        inside = [rss for t, rss in samples if start <= t <= end]
        peaks[name] = round(max(inside) / 2**20, 1) if inside else float("nan")
    return peaks


def run(extract_dir: Path, out_dir: Path, no_prefect: bool, prorata: str) -> dict:
    """``prorata run`` (progress on stderr: the stages' spans come from it); the manifest's figures,
    each stage's span and peak memory."""
    args = [prorata, "run", str(extract_dir), "--out", str(out_dir)]
    if no_prefect:
        args.append("--no-prefect")
    result = monitored(args)
    samples = result.pop("samples")
    if result["returncode"] == 0:
        manifest = json.loads((out_dir / "manifest.json").read_text())
        irs = manifest.get("irs_filing") or {}
        spans = stage_spans(
            progress_marks(result.pop("stderr_full")), manifest["stage_seconds"], result["wall_s"]
        )
        result.update(
            rows=manifest["rows"]["distributions"]["in"],
            forms=manifest["forms"]["count"],
            returns=irs.get("returns"),
            stages=manifest["stage_seconds"],
            tax_year=manifest["tax_year"],
            channel=irs.get("channel"),
            irs_bytes=sum(t["bytes"] for t in irs.get("transmissions", []))
            or irs.get("discarded_bytes")
            or sum(p.stat().st_size for p in (out_dir / "irs").glob("*") if p.suffix != ".parquet"),
            schema_validation=irs.get("schema_validation"),
            stage_spans=spans,
            stage_peak_rss_mb=stage_peaks(samples, spans),
            prefect=not no_prefect,
        )
    result.pop("stderr_full", None)
    return result


FLOOR_CHUNK_ROWS = 10_000_000  # the floor reads and writes a file this many rows at a time


def io_floor(extract_dir: Path, out_dir: Path) -> dict:
    """Polars reading every input file and writing every output file again, a slice of
    :data:`FLOOR_CHUNK_ROWS` rows at a time (a 100 M-row table does not fit in memory at once);
    only the reading of the inputs and the writing of the outputs are timed."""
    import polars as pl
    import pyarrow.parquet as pq

    read_s, rows = 0.0, 0
    for path in sorted(extract_dir.glob("*.parquet")):
        n = pq.ParquetFile(path).metadata.num_rows
        for start in range(0, max(n, 1), FLOOR_CHUNK_ROWS):
            t0 = time.perf_counter()
            frame = pl.scan_parquet(path).slice(start, FLOOR_CHUNK_ROWS).collect()
            read_s += time.perf_counter() - t0
            rows += frame.height
            del frame
    floor_dir = out_dir.with_name(out_dir.name + "-floor")
    floor_dir.mkdir(parents=True, exist_ok=True)
    write_s = 0.0
    for path in sorted(out_dir.glob("*.parquet")):
        n = pq.ParquetFile(path).metadata.num_rows
        writer = None
        for start in range(0, max(n, 1), FLOOR_CHUNK_ROWS):
            table = pl.scan_parquet(path).slice(start, FLOOR_CHUNK_ROWS).collect().to_arrow()  # untimed
            t0 = time.perf_counter()
            if writer is None:  # the settings of flows.io.outputs (zstd 3, statistics, 1 M-row groups)
                writer = pq.ParquetWriter(
                    floor_dir / path.name, table.schema, compression="zstd", compression_level=3
                )
            writer.write_table(table, row_group_size=1_000_000)
            write_s += time.perf_counter() - t0
            del table
        t0 = time.perf_counter()
        writer.close()
        write_s += time.perf_counter() - t0
    for path in sorted((out_dir / "irs").glob("*")):
        size, block = path.stat().st_size, b"0" * (1 << 24)
        path.unlink()  # the disk: a 20 M IRIS filing is ~30 GB; the run's copy is not needed again
        t0 = time.perf_counter()
        with (floor_dir / path.name).open("wb") as fh:
            for start in range(0, size, len(block)):
                fh.write(block[: min(len(block), size - start)])
        write_s += time.perf_counter() - t0
    return {
        "floor_read_s": read_s,
        "floor_write_s": write_s,
        "floor_s": read_s + write_s,
        "floor_input_rows": rows,
        "floor_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    mode, extract_dir, out_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    rest = sys.argv[4:]
    if mode == "floor":
        result = io_floor(extract_dir, out_dir)
    else:
        prorata = (
            rest[rest.index("--prorata") + 1]
            if "--prorata" in rest
            else str(Path(sys.executable).with_name("prorata"))
        )
        result = run(extract_dir, out_dir, "--no-prefect" in rest, prorata)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
