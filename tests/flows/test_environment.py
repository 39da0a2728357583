"""The ``PRORATA_*`` variables: one reader (flows.environment), one table (docs/OPERATIONS.md)."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from flows.cli.main import main
from flows.environment import BadVariable, Environment, environment

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"


def test_an_empty_environment_gives_the_documented_defaults():
    assert Environment.read({}) == Environment()
    assert Environment.read({"PRORATA_PARTITION_ROWS": " "}) == Environment()


def test_each_variable_is_read_into_its_field_with_its_type():
    env = Environment.read(
        {
            "PRORATA_PARTITION_ROWS": "1500",
            "PRORATA_ENGINE_THREADS": "3",
            "PRORATA_GROUP_READABLE": "yes",
            "PRORATA_IRS_FILE_SINK": "discard",
            "PRORATA_CRASH_AFTER": "swap:staged",
            "PRORATA_PREFECT_SERVER_IDLE_MINUTES": "0.25",
        }
    )
    assert env.prefect_server_idle_minutes == 0.25
    assert (env.partition_rows, env.engine_threads, env.group_readable) == (1500, 3, True)
    assert (env.irs_file_sink, env.crash_after, env.read_whole_rows) == ("discard", "swap:staged", 10_000_000)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PRORATA_PARTITION_ROWS", "0"),
        ("PRORATA_READ_WHOLE_ROWS", "1e6"),
        ("PRORATA_ENGINE_THREADS", "-2"),
        ("PRORATA_IRS_FILE_SINK", "s3"),
        ("PRORATA_PREFECT_SERVER_IDLE_MINUTES", "-1"),
        ("PRORATA_PREFECT_SERVER_IDLE_MINUTES", "nan"),
        ("PRORATA_PREFECT_SERVER_IDLE_MINUTES", "soon"),
    ],
)
def test_a_value_a_variable_cannot_mean_is_refused_naming_the_variable(variable, value):
    with pytest.raises(BadVariable, match=f"^{variable} must be"):
        Environment.read({variable: value})


def test_a_command_started_with_a_bad_variable_stops_before_any_work_with_one_line(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PRORATA_READ_PARTITION_ROWS", "lots")
    code = main(["run", str(tmp_path / "no-extract"), "--out", str(tmp_path / "out"), "--no-prefect"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "PRORATA_READ_PARTITION_ROWS must be a whole number, 1 or more (got 'lots')" in err
    assert not (tmp_path / "out").exists()


def test_the_environment_is_read_when_used_not_at_import(monkeypatch):
    monkeypatch.setenv("PRORATA_IRS_GROUP_ROWS", "7")
    assert environment().irs_group_rows == 7
    monkeypatch.delenv("PRORATA_IRS_GROUP_ROWS")
    assert environment().irs_group_rows is None


def test_the_operations_table_lists_exactly_the_variables_of_the_environment():
    text = OPERATIONS.read_text()
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(PRORATA_[A-Z_]+)` \|", section, flags=re.M)
    assert documented == [Environment.variable(f.name) for f in fields(Environment)]


def _environment_reads(tree: ast.AST) -> list[tuple[int, ast.expr]]:
    """The key of every ``os.environ.get(KEY)``, ``os.getenv(KEY)`` and ``os.environ[KEY]`` read."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            is_get = isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value)
            is_getenv = isinstance(func, ast.Attribute) and func.attr == "getenv"
            if is_get or is_getenv:
                found.append((node.lineno, node.args[0]))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            found.append((node.lineno, node.slice))
    return found


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def test_no_module_but_the_environment_reads_a_prorata_variable():
    """Other modules may read Prefect's variables (literals that are not PRORATA_*) and the --debug
    flag's saved value (DEBUG, restored when the command ends); nothing else."""
    readers = []
    for path in sorted(p for pkg in ("flows", "transforms", "contracts") for p in (ROOT / pkg).rglob("*.py")):
        if path == ROOT / "flows" / "environment.py":
            continue
        for line, key in _environment_reads(ast.parse(path.read_text())):
            literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
            if (literal and key.value.startswith("PRORATA_")) or (
                not literal and not (isinstance(key, ast.Name) and key.id == "DEBUG")
            ):
                readers.append(f"{path.relative_to(ROOT)}:{line}")
    assert readers == []
