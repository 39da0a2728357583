"""The engine benchmark (issue 3, deliverable 10) measures what it says, on the sample extract."""

from __future__ import annotations

from pathlib import Path

from benchmarks.engine_bench import measure_engine

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "extract"


def test_the_engine_benchmark_reports_rows_seconds_and_peak_memory_of_the_engine():
    result = measure_engine(SAMPLE)
    assert result["rows"] == 5000  # every disbursement of the sample reaches the engine
    assert result["forms"] == 3829
    assert result["engine_s"] > 0 and result["engine_cpu_s"] > 0
    assert result["rows_per_s"] == result["rows"] / result["engine_s"]
    assert 0 < result["peak_rss_gb"] <= result["peak_rss_with_validation_gb"]
