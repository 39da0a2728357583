"""Conventions enforced by tests: every rule cites its authority, every parameter is dated and cited."""

import ast
import inspect
import re
import textwrap

import pytest

from contracts.legs import LEG_INPUTS
from transforms.engine import forms
from transforms.engine.resolver import PARAMETERS, RULE_MODULES, inputs_of, law
from transforms.law import basis, money, scopes
from transforms.law.box7 import BOX7_CODES, CODES
from transforms.law.params import TaxParameters, all_parameters, supported_tax_years

CITED_MODULES = [*RULE_MODULES, scopes, forms]
CITATION = re.compile(
    r"§|Notice \d{4}-\d+|Reg\.|i1099r|Instructions for Forms|Pub(lication)? \d+|outputs\.md|extract\.md|Table 1"
)


def rule_functions():
    for module in CITED_MODULES:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                yield f"{module.__name__}.{name}", fn


@pytest.mark.parametrize(("name", "fn"), list(rule_functions()))
def test_every_rule_function_cites_its_authority(name, fn):
    doc = inspect.getdoc(fn) or ""
    assert CITATION.search(doc), f"{name} has no citation in its docstring"


@pytest.mark.parametrize("name", sorted(law()))
def test_every_rule_reads_only_columns_the_legs_declare_the_years_parameters_and_other_rules(name):
    """A rule's parameters name what it reads (transforms.engine.resolver): a column of the legs
    (contracts.legs), a parameter of the tax year, or another rule — so no rule takes a knob of how
    it is evaluated (a precision, a window, a column already computed): the engine decides those."""
    unknown = [
        m for m in inputs_of(law()[name]) if m not in LEG_INPUTS and m not in PARAMETERS and m not in law()
    ]
    assert unknown == [], f"{name} reads {unknown}: neither a declared column, a parameter nor a rule"


@pytest.mark.parametrize("name", sorted(law()))
def test_every_input_a_rule_declares_is_read_in_its_body(name):
    fn = law()[name]
    body = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0].body
    used = {node.id for stmt in body for node in ast.walk(stmt) if isinstance(node, ast.Name)}
    assert [m for m in inputs_of(fn) if m not in used] == [], name


def test_a_rule_is_named_after_the_column_it_gives_and_no_column_of_the_legs_is_a_rule():
    assert set(law()).isdisjoint(LEG_INPUTS)
    assert set(law()).isdisjoint(PARAMETERS)


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
    is read by a rule (an input of that name) or somewhere outside transforms/law/params.py (``p.name``,
    or by name as a string)."""
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
    by_rules = {m for rule in law().values() for m in inputs_of(rule)}
    unread = {name for name in fields - by_rules if f".{name}" not in code and f'"{name}"' not in code}
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
