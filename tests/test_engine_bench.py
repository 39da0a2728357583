"""The engine benchmark (issue 3, deliverable 10) measures what it says, on the sample extract."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.engine_bench import measure_engine
from benchmarks.run_bench import write_report

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "extract"


@pytest.fixture(scope="module")
def result() -> dict:
    return measure_engine(SAMPLE)


def test_the_engine_benchmark_reports_rows_seconds_and_peak_memory_of_the_engine(result):
    assert result["rows"] == 5000  # every disbursement of the sample reaches the engine
    assert result["forms"] == 3829
    assert result["engine_s"] > 0 and result["engine_cpu_s"] > 0
    assert result["rows_per_s"] == result["rows"] / result["engine_s"]
    assert 0 < result["peak_rss_gb"] <= result["peak_rss_with_validation_gb"]


def test_the_split_and_codes_and_the_forms_are_timed_apart_and_add_up_to_the_engine(result):
    assert result["split_codes_s"] > 0 and result["forms_s"] > 0
    assert result["split_codes_s"] + result["forms_s"] == pytest.approx(result["engine_s"])
    assert result["split_codes_cpu_s"] + result["forms_cpu_s"] == pytest.approx(result["engine_cpu_s"])
    assert result["split_codes_rows_per_s"] == result["rows"] / result["split_codes_s"]
    assert result["forms_rows_per_s"] == result["rows"] / result["forms_s"]
    assert result["split_codes_rows_per_s"] > result["rows_per_s"]


def test_the_benchmark_report_shows_the_split_and_codes_rate_beside_the_engine_rate(result, tmp_path):
    old = {k: v for k, v in result.items() if not k.startswith(("split_codes", "forms_"))}
    runs = {
        str(n): {
            "n": n,
            "forms": result["forms"],
            "stages": {},
            "wall_s": 1.0,
            "peak_tree_rss_mb": 100.0,
            "floor_s": 1.0,
            "load_min": 0.0,
            "load_max": 0.0,
            "commit": "abc",
            "machine": "test",
            "measured_at": "now",
            "engine_alone": engine,
        }
        for n, engine in ((1_000_000, result), (10_000_000, old))
    }
    report = tmp_path / "BENCHMARKS.md"
    write_report(report, runs)
    text = report.read_text()
    assert "| split + codes | rows/s | CPU | forms | rows/s | CPU | engine | rows/s |" in text
    new_row = next(line for line in text.splitlines() if line.startswith("| 5,000 |") and "n/a" not in line)
    assert f"{result['split_codes_rows_per_s']:,.0f}" in new_row
    assert f"{result['forms_rows_per_s']:,.0f}" in new_row
    assert f"{result['rows_per_s']:,.0f}" in new_row
    old_row = next(line for line in text.splitlines() if "n/a" in line)  # measured before the split
    assert old_row.count("n/a") == 6 and f"{result['rows_per_s']:,.0f}" in old_row
