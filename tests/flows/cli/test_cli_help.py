"""Commands that explain themselves: help on every option, an example for every command, a
version, and a mistyped folder is an error, never a new folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from flows.cli.main import build_parser, main
from flows.run.pipeline import software_version

SEED = Path(__file__).parents[2] / "data" / "seed-cases" / "extract"


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_of_every_command_has_help_and_every_command_an_example():
    found = commands()
    assert {"run", "import", "explain", "statements", "reconcile", "nightly", "file", "corrections"} <= set(
        found
    )
    for name, p in found.items():
        for action in p._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            assert action.help, f"prorata {name} {action.option_strings or action.dest}: no help text"
        assert p.epilog and "examples:" in p.epilog and f"prorata {name}" in p.epilog, name


def test_version_prints_the_software_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"prorata {software_version()}"


@pytest.mark.parametrize(
    "args",
    [
        ["run", str(SEED), "--out", "{missing}/out", "--no-prefect", "--quiet"],
        ["reconcile", "--extract", str(SEED), "--run", "{tmp}/run", "--out", "{missing}/rec", "--no-prefect"],
        ["import", str(SEED), "--mapping", "{tmp}/m.toml", "--out", "{missing}/x"],
        ["statements", "--run", "{tmp}/run", "--dest", "{missing}/pdfs"],
        ["nightly", "--inbox", "{tmp}", "--store", "{missing}/store", "--no-prefect"],
        ["file", "--store", "{tmp}/no-store", "--tax-year", "2025"],
    ],
)
def test_a_mistyped_folder_is_an_error_not_a_new_folder(args, tmp_path, capsys):
    missing = tmp_path / "typo" / "deeper"
    filled = [a.format(missing=missing, tmp=tmp_path) for a in args]
    assert main(filled) == 2
    err = capsys.readouterr().err
    assert err.startswith("prorata: error: ") and len(err.strip().splitlines()) == 1
    assert "no such" in err
    assert not (tmp_path / "typo").exists() and not (tmp_path / "no-store").exists()
