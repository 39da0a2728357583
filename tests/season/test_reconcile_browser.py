"""reconciliation.html rendered in headless Chromium: one chart per plan, no console error, no network.

Chromium is Debian's ``chromium`` package (``/usr/bin/chromium``; ``.ci/run`` installs it when
missing). Without it the test is skipped on a developer's machine, but FAILS under CI (``CI`` set
to anything but ``0``/``false``) or when ``PRORATA_REQUIRE_CHROMIUM=1``: there a missing browser
is a broken set-up, never a reason to pass.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from contracts.loading import read_extract
from flows.run.pipeline import run_pipeline
from flows.run.reconcile import reconcile_run

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "extract"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    # no name resolves: a page that needed the network would show it
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def chromium_or_fail() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = "chromium is not installed (Debian package 'chromium'; .ci/run installs it)"
    if _truthy("CI") or _truthy("PRORATA_REQUIRE_CHROMIUM"):
        pytest.fail(message + ": required under CI")
    pytest.skip(message)


def chromium(binary: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[str]]:
    """The sample's reconciliation with one planted break (P03, May: control total $1.00 over)."""
    base = tmp_path_factory.mktemp("browser")
    run_pipeline(SAMPLE, base / "run")
    tables = read_extract(SAMPLE)[1]
    c = tables["control_totals"]
    where = (pl.col("plan_id") == "P03") & (pl.col("month") == pl.date(2025, 5, 1))
    c = c.with_columns(pl.when(where).then(pl.col("gross_cents") + 100).otherwise(pl.col("gross_cents")))
    summary = reconcile_run({**tables, "control_totals": c}, base / "run", base / "rec")
    assert summary["breaks"] == 1
    return base / "rec" / "reconciliation.html", sorted(tables["plans"]["plan_id"].to_list())


def test_the_html_report_is_self_contained(report):
    html = report[0].read_text()
    assert "<script" not in html.lower()
    # no resource from anywhere: the only URL is the SVG namespace
    assert re.findall(r"https?://[^\s\"'<>]+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg")


@pytest.mark.browser
def test_the_report_renders_one_chart_per_plan_in_headless_chromium(report, tmp_path):
    binary = chromium_or_fail()
    html, plans = report
    done = chromium(binary, tmp_path, "--dump-dom", html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    charts = re.findall(r'<svg[^>]*class="plan-chart"[^>]*data-plan="([^"]+)"', dom)
    assert charts == plans  # one chart per plan, in plan order
    assert dom.count("<svg") == len(plans)
    assert dom.count('<section class="plan"') == len(plans)
    # one break: one red marker, on P03's chart
    p03 = dom.split('data-plan="P03"')[1].split("</svg>")[0]
    assert p03.count("<circle") == 1 and dom.count("<circle") == 1
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []


@pytest.mark.browser
def test_a_screenshot_shows_the_charts_with_the_break_in_red(report, tmp_path):
    binary = chromium_or_fail()
    from PIL import Image

    html, _plans = report
    shot = tmp_path / "report.png"
    done = chromium(binary, tmp_path, "--window-size=1000,3000", f"--screenshot={shot}", html.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 3000)
    colors = {rgb for _n, rgb in image.getcolors(maxcolors=1 << 20)}
    assert (0x4A, 0x6F, 0xA5) in colors  # the blue bars of reported gross were painted
    assert (0xC6, 0x28, 0x28) in colors  # and the red of the break
