"""Beyond one machine: plan batches on a Dask LocalCluster give byte-identical outputs."""

import hashlib
from pathlib import Path

import pytest

from flows.cli.main import main

pytestmark = [pytest.mark.dask]

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data" / "extract"


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


@pytest.mark.prefect
def test_a_two_worker_local_dask_cluster_gives_the_single_process_bytes(tmp_path, capsys, prefect_server):
    from flows.prefect.run_flow import run_on_dask

    assert main(["run", str(SAMPLE), "--out", str(tmp_path / "single"), "--no-prefect", "--quiet"]) == 0
    manifest = run_on_dask(SAMPLE, tmp_path / "dask", workers=2, batch_rows=700)  # 8 plans → 8 batches
    assert manifest["rows"]["distributions"]["out"] + manifest["rows"]["distributions"]["quarantined"] == 5000
    assert digests(tmp_path / "dask") == digests(tmp_path / "single")
