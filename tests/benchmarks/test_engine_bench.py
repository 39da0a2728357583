"""The engine benchmark (issue 3, deliverable 10) measures what it says, on the sample extract."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.engine_bench import measure_engine
from benchmarks.run_bench import write_report

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "extract"


@pytest.fixture(scope="module")
def result() -> dict:
    return measure_engine(SAMPLE)


def test_the_engine_benchmark_reports_rows_seconds_and_peak_memory_of_the_engine(result):
    from flows.run.pipeline import load_and_validate
    from transforms.engine import compute
    from transforms.law.params import TaxParameters

    loaded = load_and_validate(SAMPLE)
    forms = compute(loaded.validated.tables, TaxParameters.for_year(loaded.manifest.tax_year)).forms
    assert result["rows"] == 5000  # every disbursement of the sample reaches the engine
    assert result["forms"] == forms.height  # the forms prorata run writes, not a number of its own
    assert result["engine_s"] > 0 and result["engine_cpu_s"] > 0
    assert 0 < result["peak_rss_gb"] <= result["peak_rss_with_validation_gb"]


def _slowed(monkeypatch, split_s: float, forms_s: float) -> dict:
    """The benchmark of an engine whose two halves are made slower by known amounts."""
    import transforms.engine as engine

    split_and_code, with_forms = engine.split_and_code, engine.with_forms

    def slow_split(*args, **kwargs):
        time.sleep(split_s)
        return split_and_code(*args, **kwargs)

    def slow_forms(*args, **kwargs):
        time.sleep(forms_s)
        return with_forms(*args, **kwargs)

    monkeypatch.setattr(engine, "split_and_code", slow_split)
    monkeypatch.setattr(engine, "with_forms", slow_forms)
    return measure_engine(SAMPLE)


def test_the_split_and_codes_and_the_forms_are_timed_apart_and_add_up_to_the_engine(monkeypatch, result):
    # Half a second more in the split and codes, a quarter in the forms: each shows where it belongs.
    slowed = _slowed(monkeypatch, 0.5, 0.25)
    assert slowed["split_codes_s"] >= 0.5 and slowed["forms_s"] >= 0.25
    assert slowed["split_codes_s"] - result["split_codes_s"] > slowed["forms_s"] - result["forms_s"] > 0.1
    assert slowed["engine_s"] == pytest.approx(slowed["split_codes_s"] + slowed["forms_s"])
    # rates are disbursements per second of the timed part: bounded by the time added to it
    assert slowed["split_codes_rows_per_s"] <= 5000 / 0.5
    assert slowed["forms_rows_per_s"] <= 5000 / 0.25
    assert slowed["rows_per_s"] <= 5000 / 0.75 < result["rows_per_s"]
    # sleeping costs no CPU: the CPU time is the process's, not the wall time
    assert slowed["engine_cpu_s"] < result["engine_cpu_s"] + 0.5


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
