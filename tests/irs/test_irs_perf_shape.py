"""The shape of the IRS writers' and checker's costs: memory bounded by one chunk of returns (plus
the file itself), not by all the returns' fields at once.

Each measurement runs in a fresh process (peak RSS is per process). The bounds are generous (the
old writer and checker needed about 4 GB and 7 GB per million returns; see the report in
transforms/irs/fire/pub1220.py's docstring); times are not asserted (shared machines).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

RETURNS = 120_000

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import polars as pl
    from tests.irs.test_irs_pub1220 import TRANSMITTER, many_returns
    from transforms.irs import check_pub1220, read_pub1220, write_iris_xml, write_pub1220

    step, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if step in ("check", "read"):
        data = open(path, "rb").read()
    else:
        filing = many_returns(count)
        if step == "iris":
            filing = filing.with_columns(pl.lit(2026, pl.Int32).alias("tax_year"))

    def status(key):  # this process's memory (ru_maxrss would count the parent's, forked)
        with open("/proc/self/status") as lines:
            return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(key))

    def peak():
        return status("VmHWM:")

    before, start = status("VmRSS:"), time.perf_counter()
    if step == "write":
        size = len(write_pub1220(filing, TRANSMITTER, tax_year=2025, test_file=True))
    elif step == "check":
        size = len(data)
        assert check_pub1220(data) == []
    elif step == "read":
        size = len(data)
        assert read_pub1220(data).payees.height == count
    else:
        size = len(write_iris_xml(filing, TRANSMITTER, tax_year=2026, test_file=True))
    print(json.dumps({"extra": peak() - before, "size": size, "seconds": time.perf_counter() - start}))
    """
)


def measure(step: str, path: str, count: int = RETURNS) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, step, str(count), path], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fire_file(tmp_path_factory) -> str:
    from tests.irs.test_irs_pub1220 import TRANSMITTER, many_returns
    from transforms.irs import write_pub1220

    path = tmp_path_factory.mktemp("fire") / "fire.txt"
    path.write_bytes(write_pub1220(many_returns(RETURNS), TRANSMITTER, tax_year=2025, test_file=True))
    return str(path)


@pytest.mark.parametrize(
    ("step", "bound"),
    [
        # The file (750 bytes a return) plus a few chunks of returns and their lines.
        ("write", 1.5),
        # The file is there already: a few chunks of lines and per-payer sums.
        ("check", 0.5),
        # The parsed frames (typed columns) plus a few chunks of lines.
        ("read", 2.5),
        # The document (about 1.9 KB a return) plus a few chunks of returns.
        ("iris", 1.5),
    ],
)
def test_extra_memory_is_about_the_output_plus_a_few_chunks(fire_file, step, bound):
    result = measure(step, fire_file)
    assert result["extra"] < 250 * 2**20 + bound * result["size"], result
