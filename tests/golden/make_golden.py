"""Golden hashes: the SHA-256 of every file ``prorata run`` writes, on fixed extracts.

A safety net for moves that must not change behaviour: the same inputs give byte-identical outputs
(standard 7), so a commit that only moves code keeps every hash. The cases:

- ``seed``: the seed articles' extract (``tests/data/seed-cases/extract``);
- ``sample-2025``: ``prorata sample`` (fixed seed), tax year 2025 — a FIRE file (Publication 1220);
- ``sample-2026``: the same generator for 2026 — IRIS XML, validated against the vendored IRS package;
- ``faulty-2025``: a generated extract with faults (``--fault-fraction``): the quarantine;
- ``faulty-2025-partitioned``: the faulty extract read and validated partition by partition and
  split in small plan batches (``PRORATA_READ_WHOLE_ROWS``, ``PRORATA_READ_PARTITION_ROWS``,
  ``PRORATA_PARTITION_ROWS``) — the same bytes as ``faulty-2025``, a check this file holds too.

Every run is ``prorata run EXTRACT --out OUT --no-prefect --quiet`` (:func:`flows.cli.main.main`, the
command's own entry point; the partitioned case in a process of its own, with its environment). The generated extracts' own files are hashed too (the generator is
code that moves). ``manifest.json`` is hashed without its timings (``stage_seconds``), the one
field that differs between two runs of the same extract.

    .venv/bin/python tests/golden/make_golden.py            # rewrite tests/golden/golden_hashes.json
    .venv/bin/python tests/golden/make_golden.py --check    # compare, print what differs

A commit that changes outputs on purpose regenerates the file in a commit of its own that says why.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
GOLDEN = Path(__file__).with_name("golden_hashes.json")
SEED_EXTRACT = ROOT / "tests" / "data" / "seed-cases" / "extract"
IRIS_PACKAGE = ROOT / "tests" / "data" / "iris-a2a-ty2025-v1.2"
TIMING_FIELDS = ("stage_seconds",)
"""Fields of manifest.json that measure the run rather than describe its outputs."""

SAMPLES = {
    "sample-2025": {"disbursements": 3000, "seed": 11, "tax_year": 2025, "fault_fraction": 0.0},
    "sample-2026": {"disbursements": 3000, "seed": 12, "tax_year": 2026, "fault_fraction": 0.0},
    "faulty-2025": {"disbursements": 3000, "seed": 13, "tax_year": 2025, "fault_fraction": 0.05},
}
PARTITIONED = {
    "PRORATA_READ_WHOLE_ROWS": "1000",
    "PRORATA_READ_PARTITION_ROWS": "1000",
    "PRORATA_PARTITION_ROWS": "700",
}
CASES = {
    "seed": ("seed", {}),
    "sample-2025": ("sample-2025", {}),
    "sample-2026": ("sample-2026", {}),
    "faulty-2025": ("faulty-2025", {}),
    "faulty-2025-partitioned": ("faulty-2025", PARTITIONED),
}
"""Case name → (the extract it runs on, the environment it adds)."""


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRORATA_")}
    env["PRORATA_IRIS_SCHEMA_PACKAGE"] = str(IRIS_PACKAGE)
    env.setdefault("PREFECT_HOME", str(Path(tempfile.gettempdir()) / "prorata-golden-prefect"))
    return {**env, **extra}


def _prorata(*args: str, env: dict[str, str] | None = None) -> None:
    """``prorata ARGS``: in this process through the command's entry point, or, given ``env``, in a
    process of its own with that environment."""
    if env is None:
        from flows.cli.main import main

        os.environ["PRORATA_IRIS_SCHEMA_PACKAGE"] = str(IRIS_PACKAGE)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            status = main(list(args))
        if status != 0:
            raise RuntimeError(f"prorata {' '.join(args)} failed ({status}): {err.getvalue().strip()}")
        return
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"prorata {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")


def file_hash(path: Path) -> str:
    """SHA-256 of a file; of ``manifest.json`` without its :data:`TIMING_FIELDS`."""
    if path.name == "manifest.json":
        manifest = json.loads(path.read_text())
        for field in TIMING_FIELDS:
            manifest.pop(field, None)
        return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path → :func:`file_hash`), in path order."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): file_hash(p) for p in files}


def compute(work: Path) -> dict[str, dict[str, str]]:
    """The hashes of every case, built under ``work``: ``extract/NAME`` for each generated extract
    and ``run/CASE`` for each run."""
    extracts = {"seed": SEED_EXTRACT}
    result: dict[str, dict[str, str]] = {}
    (work / "extract").mkdir(parents=True, exist_ok=True)
    (work / "run").mkdir(parents=True, exist_ok=True)
    for name, spec in SAMPLES.items():
        folder = work / "extract" / name
        _prorata(
            "sample",
            "--disbursements",
            str(spec["disbursements"]),
            "--seed",
            str(spec["seed"]),
            "--tax-year",
            str(spec["tax_year"]),
            "--fault-fraction",
            str(spec["fault_fraction"]),
            "--out",
            str(folder),
        )
        extracts[name] = folder
        result[f"extract/{name}"] = folder_hashes(folder)
    for case, (extract, extra) in CASES.items():
        out = work / "run" / case
        env = _env(extra) if extra else None
        _prorata("run", str(extracts[extract]), "--out", str(out), "--no-prefect", "--quiet", env=env)
        result[f"run/{case}"] = folder_hashes(out)
    return result


def differences(expected: dict, actual: dict) -> list[str]:
    """One line per file whose hash differs, is missing or is new."""
    lines = []
    for case in sorted(set(expected) | set(actual)):
        want, got = expected.get(case, {}), actual.get(case, {})
        for name in sorted(set(want) | set(got)):
            if name not in got:
                lines.append(f"{case}/{name}: missing")
            elif name not in want:
                lines.append(f"{case}/{name}: new file")
            elif want[name] != got[name]:
                lines.append(f"{case}/{name}: differs")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed hashes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="prorata-golden-") as work:
        actual = compute(Path(work))
    if args.check:
        lines = differences(json.loads(GOLDEN.read_text()), actual)
        print("\n".join(lines) or "golden hashes: unchanged")
        return 1 if lines else 0
    GOLDEN.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN.relative_to(ROOT)}: {sum(len(v) for v in actual.values())} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
