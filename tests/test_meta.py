"""Conventions enforced by tests: every rule cites its authority, every parameter is dated and cited."""

import inspect
import re

import pytest

from transforms.engine import forms
from transforms.law import allocation, basis, boxes, codes, exceptions, money, roth
from transforms.law.box7 import BOX7_CODES, CODES
from transforms.params import TaxParameters, all_parameters, supported_tax_years

RULE_MODULES = [basis, allocation, boxes, codes, exceptions, roth, forms]
CITATION = re.compile(
    r"§|Notice \d{4}-\d+|Reg\.|i1099r|Instructions for Forms|Pub(lication)? \d+|outputs\.md|extract\.md|Table 1"
)


def rule_functions():
    for module in RULE_MODULES:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                yield f"{module.__name__}.{name}", fn


@pytest.mark.parametrize(("name", "fn"), list(rule_functions()))
def test_every_rule_function_cites_its_authority(name, fn):
    doc = inspect.getdoc(fn) or ""
    assert CITATION.search(doc), f"{name} has no citation in its docstring"


@pytest.mark.parametrize("fn", [money.mul_div_half_up, money.mul_div_floor])
def test_the_rounding_helpers_cite_the_convention_they_implement(fn):
    assert CITATION.search(inspect.getdoc(fn) or "")


def test_every_parameter_entry_has_a_value_a_unit_a_date_and_a_reference():
    for name, entries in all_parameters().items():
        for entry in entries:
            assert {"from", "value", "unit", "reference"} <= set(entry), name
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["from"]), name


@pytest.mark.parametrize("year", supported_tax_years())
def test_parameters_resolve_for_every_supported_tax_year(year):
    p = TaxParameters.for_year(year)
    assert p.age_59_half_months == 714 and p.roth_period_years == 5 and p.filing_threshold_cents == 1000


def test_every_parameter_in_the_file_is_declared_and_read_by_the_code():
    """parameters.toml holds no entry nobody reads: each is a field of TaxParameters, and each field
    is read somewhere outside transforms/params.py (``p.name``, or by name as a string)."""
    import pathlib

    fields = set(TaxParameters.__dataclass_fields__) - {"tax_year", "changes"}
    assert set(all_parameters()) == fields
    root = pathlib.Path(basis.__file__).parents[2]
    code = "\n".join(
        path.read_text()
        for folder in ("transforms", "contracts", "flows")
        for path in (root / folder).rglob("*.py")
        if path.name != "params.py"
    )
    unread = {name for name in fields if f".{name}" not in code and f'"{name}"' not in code}
    assert unread == set()


def test_the_box7_table_is_symmetric_in_what_it_allows_and_names_each_code_once():
    assert len(CODES) == len(BOX7_CODES) == len({c.code for c in BOX7_CODES})
    for code in BOX7_CODES:
        for other in code.used_with:
            assert other in CODES, (code.code, other)
            assert code.code in CODES[other].used_with, (
                f"{code.code} lists {other}, {other} does not list {code.code}"
            )


def test_transforms_do_no_io_and_no_orchestration():
    import pathlib

    root = pathlib.Path(basis.__file__).parents[1]
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "import prefect" not in text and "from prefect" not in text, path
        assert "map_elements" not in text and "iter_rows" not in text, path
        assert "os.environ" not in text and "getenv" not in text, path  # settings come from flows/
