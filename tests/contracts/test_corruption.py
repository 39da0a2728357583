"""Silent corruption becomes a table-level fault (issue 18): a Parquet page that fails the checksum
it carries, or a file whose SHA-256 differs from the one the manifest's ``files`` gives
(docs/spec/extract.md), stops the run with one line naming the file (exit status 2) — before, 200 corrupted
bytes in a data page changed contract values and the run exited 0."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from contracts.loading import carries_page_checksums
from flows.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "extract"


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def rewrite(extract: Path, *, checksums: bool) -> None:
    """The extract's tables written again by pyarrow: uncompressed and without dictionaries (so a
    corrupted byte changes values instead of failing to decompress), with or without page CRCs."""
    for path in extract.glob("*.parquet"):
        table = pq.read_table(path)
        pq.write_table(table, path, compression="none", use_dictionary=False, write_page_checksum=checksums)


def corrupt_data_page(path: Path, column: str, nbytes: int = 200) -> None:
    """Overwrite ``nbytes`` in the middle of the first data page of ``column``."""
    metadata = pq.ParquetFile(path).metadata
    group = metadata.row_group(0)
    chunk = next(
        group.column(i) for i in range(group.num_columns) if group.column(i).path_in_schema == column
    )
    start = chunk.data_page_offset + chunk.total_compressed_size // 2 - nbytes // 2
    data = bytearray(path.read_bytes())
    data[start : start + nbytes] = bytes((b ^ 0x5A) for b in data[start : start + nbytes])
    path.write_bytes(bytes(data))


def with_files(extract: Path) -> None:
    """The manifest's optional ``files``: the SHA-256 of each Parquet file as it is now."""
    manifest = json.loads((extract / "manifest.json").read_text())
    manifest["files"] = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(extract.glob("*.parquet"))
    }
    (extract / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def extract(tmp_path) -> Path:
    return shutil.copytree(SAMPLE, tmp_path / "extract")


def test_200_corrupted_bytes_in_a_data_page_that_carries_a_checksum_stop_the_run_naming_the_file(
    extract, tmp_path, capsys
):
    rewrite(extract, checksums=True)
    target = extract / "contracts.parquet"
    assert carries_page_checksums(target)
    values = pl.read_parquet(target)["value_cents"]
    corrupt_data_page(target, "value_cents")
    assert (pl.read_parquet(target)["value_cents"] != values).sum() > 0  # values silently changed
    code, out, err = run(
        ["run", str(extract), "--out", str(tmp_path / "out"), "--no-prefect", "--quiet"], capsys
    )
    assert code == 2 and out == ""
    assert err == f"prorata: error: {target}: a Parquet page fails its checksum: the file is corrupted\n"
    assert not (tmp_path / "out").exists()


def test_a_corrupted_page_is_found_in_an_extract_read_partition_by_partition(
    extract, tmp_path, capsys, monkeypatch
):
    from flows.io import extract as partitioned

    rewrite(extract, checksums=True)
    corrupt_data_page(extract / "distributions.parquet", "amount_cents")
    monkeypatch.setattr(partitioned, "READ_WHOLE_ROWS", 1000)  # 5,000 disbursements: partitions
    code, _, err = run(
        ["run", str(extract), "--out", str(tmp_path / "out"), "--no-prefect", "--quiet"], capsys
    )
    assert code == 2 and "distributions.parquet: a Parquet page fails its checksum" in err


def test_a_file_whose_sha256_differs_from_the_manifests_files_stops_the_run_naming_it(
    extract, tmp_path, capsys
):
    rewrite(extract, checksums=False)
    with_files(extract)
    target = extract / "contracts.parquet"
    assert not carries_page_checksums(target)
    corrupt_data_page(target, "value_cents")  # no checksum in the file: only the manifest's hash sees it
    code, _, err = run(
        ["run", str(extract), "--out", str(tmp_path / "out"), "--no-prefect", "--quiet"], capsys
    )
    assert code == 2
    assert err == (
        f"prorata: error: {target}: SHA-256 differs from manifest.json 'files': "
        "the file was changed or corrupted\n"
    )


def test_an_extract_whose_files_match_the_manifests_hashes_runs(extract, tmp_path, capsys):
    rewrite(extract, checksums=True)
    with_files(extract)
    assert (
        run(["run", str(extract), "--out", str(tmp_path / "out"), "--no-prefect", "--quiet"], capsys)[0] == 0
    )


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"plans.parquet": "not-a-digest"}, "'files' must map file names to SHA-256 digests in hex"),
        ({"../plans.parquet": "0" * 64}, "'files' must name files of the extract folder, without a path"),
        ({"gone.parquet": "0" * 64}, "gone.parquet: listed in manifest.json 'files' but missing"),
    ],
)
def test_a_wrong_files_entry_in_the_manifest_is_a_table_level_fault(
    extract, tmp_path, capsys, files, problem
):
    manifest = json.loads((extract / "manifest.json").read_text())
    (extract / "manifest.json").write_text(json.dumps({**manifest, "files": files}))
    code, _, err = run(
        ["run", str(extract), "--out", str(tmp_path / "out"), "--no-prefect", "--quiet"], capsys
    )
    assert code == 2 and problem in err and err.count("\n") == 1
