"""Every output of ``prorata run`` on the golden extracts has the hash committed in
``golden_hashes.json`` (``make_golden.py`` says how it is built and when to rebuild it)."""

import json

import pytest

from tests.golden import make_golden


@pytest.fixture(scope="module")
def actual(tmp_path_factory):
    return make_golden.compute(tmp_path_factory.mktemp("golden"))


def test_every_output_of_the_golden_runs_has_its_committed_hash(actual):
    expected = json.loads(make_golden.GOLDEN.read_text())
    assert make_golden.differences(expected, actual) == []


def test_an_extract_read_partition_by_partition_writes_the_bytes_of_a_whole_read(actual):
    whole, partitioned = actual["run/faulty-2025"], actual["run/faulty-2025-partitioned"]
    assert partitioned == whole


def test_the_golden_runs_cover_fire_iris_and_the_quarantine(actual):
    assert "irs/FIRE_1099R_2025.txt" in actual["run/sample-2025"]
    assert "irs/IRIS_1099R_2026_001.xml" in actual["run/sample-2026"]
    assert "quarantine.parquet" in actual["run/faulty-2025"]
