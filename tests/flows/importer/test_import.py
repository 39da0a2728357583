"""`prorata import`: a recordkeeper's CSV, Excel, Parquet and fixed-width files through a mapping
into the canonical extract; every problem at once, by file, line (or sheet and cell) and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.cli.main import main
from flows.importer import parse
from flows.importer.core import ImportProblems, import_extract
from flows.importer.mapping import MappingError, parse_mapping
from flows.importer.readers import column_letter
from flows.importer.template import template

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "sample_data" / "import"


def run(args, capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def outputs(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def test_the_csv_and_excel_examples_give_the_run_outputs_of_the_same_data_as_canonical_parquet(
    tmp_path, capsys
):
    runs = {}
    sources = {
        "keystone": (EXAMPLES / "keystone", EXAMPLES / "keystone.toml"),
        "harbor": (EXAMPLES / "harbor" / "harbor_2025.xlsx", EXAMPLES / "harbor.toml"),
    }
    for name, (source, mapping) in sources.items():
        code, out, err = run(
            ["import", str(source), "--mapping", str(mapping), "--out", str(tmp_path / f"x-{name}")], capsys
        )
        assert code == 0, err
        assert "distributions 150" in out
    for name, extract in {
        "canonical": EXAMPLES / "canonical",
        "keystone": tmp_path / "x-keystone",
        "harbor": tmp_path / "x-harbor",
    }.items():
        code, _, err = run(
            ["run", str(extract), "--out", str(tmp_path / name), "--no-prefect", "--quiet"], capsys
        )
        assert code == 0, err
        runs[name] = outputs(tmp_path / name)
    assert "forms.parquet" in runs["canonical"] and "irs/FIRE_1099R_2025.txt" in runs["canonical"]
    assert runs["keystone"] == runs["canonical"]
    assert runs["harbor"] == runs["canonical"]


def broken_keystone(tmp_path: Path) -> Path:
    """The Keystone files with a column gone, an unmapped code, '12.3.4' and a bad date."""
    src = tmp_path / "keystone"
    shutil.copytree(EXAMPLES / "keystone", src)
    disb = (src / "DISB.csv").read_text().splitlines()
    header = disb[0].split(";")
    gone = header.index("LOC_WH")
    rows = [line.split(";") for line in disb]
    for row in rows:
        del row[gone]
    rows[3][header.index("DISB_TYPE")] = "DR-XYZ"  # line 4
    rows[5][header.index("GROSS")] = "12.3.4"  # line 6
    rows[7][header.index("PAID_ON")] = "13/45/2025"  # line 8
    (src / "DISB.csv").write_text("\n".join(";".join(r) for r in rows) + "\n")
    return src


def test_a_broken_csv_is_refused_with_every_problem_by_file_line_and_column(tmp_path, capsys):
    src = broken_keystone(tmp_path)
    out = tmp_path / "extract"
    code, stdout, err = run(
        ["import", str(src), "--mapping", str(EXAMPLES / "keystone.toml"), "--out", str(out)], capsys
    )
    assert code == 2
    assert not out.exists() and stdout == ""
    lines = err.splitlines()
    assert "4 problem(s); nothing was written" in lines[0]
    assert any(
        "DISB.csv line 1: no column 'LOC_WH' (mapped to distributions.local_withholding_cents)" in x
        for x in lines
    )
    assert any(
        "DISB.csv line 4, column DISB_TYPE (distributions.destination): value not covered by the mapping's map: 'DR-XYZ'"
        in x
        for x in lines
    )
    assert any(
        "DISB.csv line 6, column GROSS (distributions.amount_cents): not an amount in dollars: '12.3.4'" in x
        for x in lines
    )
    assert any("DISB.csv line 8, column PAID_ON (distributions.payment_date): not a date" in x for x in lines)


def test_check_reports_without_writing_and_problems_never_quote_a_tin_name_or_birth_date(tmp_path, capsys):
    src = tmp_path / "keystone"
    shutil.copytree(EXAMPLES / "keystone", src)
    text = (src / "PAYEES.txt").read_text(encoding="cp1252").splitlines()
    fields = text[3].split("|")
    secret_dob, name = "02/31/1960", fields[4]
    fields[10] = secret_dob  # no 31 February
    fields[2] = "Q"  # a TIN kind the map does not cover
    text[3] = "|".join(fields)
    (src / "PAYEES.txt").write_text("\n".join(text) + "\n", encoding="cp1252")
    code, _, err = run(["import", str(src), "--mapping", str(EXAMPLES / "keystone.toml"), "--check"], capsys)
    assert code == 2
    assert "PAYEES.txt line 4, column DOB (payees.date_of_birth): not a date" in err
    assert (
        "PAYEES.txt line 4, column TIN_KIND (payees.tin_type): value not covered by the mapping's map: 'Q'"
        in err
    )
    assert secret_dob not in err and name not in err and fields[1] not in err
    code, out, _ = run(
        ["import", str(EXAMPLES / "keystone"), "--mapping", str(EXAMPLES / "keystone.toml"), "--check"],
        capsys,
    )
    assert code == 0 and "nothing written" in out


def test_an_import_that_fails_leaves_the_earlier_import_untouched_and_never_replaces_another_folder(
    tmp_path, capsys
):
    out = tmp_path / "extract"
    args = [
        "import",
        str(EXAMPLES / "keystone"),
        "--mapping",
        str(EXAMPLES / "keystone.toml"),
        "--out",
        str(out),
    ]
    assert run(args, capsys)[0] == 0
    before = outputs(out)
    src = broken_keystone(tmp_path)
    assert run(["import", str(src), *args[2:]], capsys)[0] == 2
    assert outputs(out) == before
    assert run(args, capsys)[0] == 0  # an earlier import is replaced whole
    code, _, err = run([*args[:-1], str(EXAMPLES / "canonical")], capsys)
    assert code == 2 and "is not a prorata output folder" in err and "choose another --out" in err
    code, _, err = run([*args[:-1], str(tmp_path / "no-such-folder" / "extract")], capsys)
    assert code == 2 and "no such folder" in err
    assert not (tmp_path / "no-such-folder").exists()


def test_a_mapping_with_faults_lists_every_one_of_them():
    text = """
[extract]
recordkeeper = "R"
[sources.a]
file = "a.csv"
[tables.plans]
source = "a"
[tables.plans.columns]
plan_id = "ID"
plan_typo = "X"
plan_type = { column = "T", money = "euros" }
[tables.payees]
source = "nowhere"
"""
    with pytest.raises(MappingError) as err:
        parse_mapping(text)
    problems = "\n".join(err.value.problems)
    assert "plan_typo: not a column of plans" in problems
    assert "money must be 'dollars' or 'cents'" in problems
    assert "required column 'plan_name' is not mapped" in problems
    assert "[tables.payees]: source must name one of the [sources.*] (a)" in problems
    assert "[tables.distributions]: the table is not mapped" in problems


def test_the_template_lists_every_canonical_column_and_parses_once_filled_in(tmp_path):
    from contracts.extract import TABLES

    text = template()
    for table in TABLES.values():
        for col in table.columns:
            assert f"{col.name} = " in text
    m = parse_mapping(text.replace('"?"', '"X"'))
    assert set(m.tables) == {"plans", "payees", "participants", "contracts", "distributions"}


MONEY_CASES = {
    "1,234.56": 123456,
    "(12.00)": -1200,
    "$5": 500,
    "-$5.10": -510,
    "12.00-": -1200,
    ".5": 50,
    "0": 0,
    "92,233,720,368,547,758.07": 9223372036854775807,
}


@pytest.mark.parametrize(("text", "cents"), MONEY_CASES.items())
def test_dollars_with_decimals_become_exact_integer_cents(text, cents):
    p = parse.money_dollars(pl.col("s"))
    got = pl.DataFrame({"s": [text]}).select(p.value, p.problem.alias("p")).row(0)
    assert got == (cents, None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("12.3.4", "not an amount in dollars"),
        ("1,23", "not an amount in dollars"),
        ("(-5)", "not an amount in dollars"),
        ("$", "not an amount in dollars"),
        ("12.345", "has a fraction of a cent"),
        ("92,233,720,368,547,758.08", "amount too large"),
    ],
)
def test_amounts_that_are_not_dollars_and_cents_are_problems(text, problem):
    p = parse.money_dollars(pl.col("s"))
    assert pl.DataFrame({"s": [text]}).select(p.value, p.problem.alias("p")).row(0) == (None, problem)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_any_amount_written_in_dollars_reads_back_as_the_same_cents(cents):
    whole, frac = divmod(abs(cents), 100)
    text = f"{'-' if cents < 0 else ''}${whole:,}.{frac:02d}"
    p = parse.money_dollars(pl.col("s"))
    assert pl.DataFrame({"s": [text]}).select(p.value).item() == cents


def test_an_excel_number_cell_is_read_to_the_nearest_cent_only_within_float_noise():
    p = parse.money_dollars(pl.col("s"), float_noise=True)
    frame = pl.DataFrame({"s": ["10000000000.069999695", "0.300000000", "5.999999999", "12.345"]})
    assert frame.select(p.value).to_series().to_list() == [1_000_000_000_007, 30, 600, None]


def test_dates_tins_and_yes_no_are_read_as_the_mapping_says():
    frame = pl.DataFrame({"s": ["12/05/2025", "2025-12-05", "2025-12-05 00:00:00", "13/05/2025"]})
    d = parse.date(pl.col("s"), ("%m/%d/%Y",))
    assert frame.select(d.value).to_series().cast(pl.String).to_list() == ["2025-12-05"] * 3 + [None]
    tins = pl.DataFrame({"s": ["123-45-6789", "12-3456789", "12345678", "(614) 555-0197"]})
    assert tins.select(parse.digits_only(pl.col("s"), 9)).to_series().to_list() == [
        "123456789",
        "123456789",
        "012345678",
        "6145550197",
    ]
    yn = parse.yes_no(pl.col("s"))
    assert pl.DataFrame({"s": ["Y", "no", "TRUE", "0", "maybe"]}).select(yn.value).to_series().to_list() == [
        True,
        False,
        True,
        False,
        None,
    ]


def _one_file_mapping(source: str, columns: str) -> str:
    return f"""
[extract]
recordkeeper = "Test RK"
[sources.s]
{source}
[tables.plans]
source = "s"
[tables.plans.columns]
{columns}
"""


PLAN_COLUMNS = """plan_id = "ID"
plan_name = "NAME"
plan_type = { constant = "401k" }
payer_tin = { constant = "12-3456789" }
payer_name = "NAME"
payer_address = { constant = "1 Main St" }
payer_city = { constant = "Columbus" }
payer_state = { constant = "OH" }
payer_zip = { constant = "43215" }
payer_phone = { constant = "6145550100" }
after_tax_separately_accounted = { constant = false }
pre1987_recovery = { expr = "FLAG = 'P'" }
"""


def _tables_from(tmp_path: Path, mapping_text: str, source: Path) -> dict[str, pl.DataFrame]:
    """Only plans is mapped: the other tables come from the canonical example."""
    text = mapping_text
    for name in ("payees", "participants", "contracts", "distributions"):
        text += f'\n[sources.c_{name}]\nfile = "{name}.parquet"\n'
    mapping = tmp_path / "m.toml"
    canonical_mapping = _canonical_mapping()
    mapping.write_text(text + canonical_mapping)
    folder = source if source.is_dir() else source.parent
    for name in ("payees", "participants", "contracts", "distributions"):
        shutil.copy(EXAMPLES / "canonical" / f"{name}.parquet", folder / f"{name}.parquet")
    out = tmp_path / "out"
    import_extract(source, mapping, out, tax_year=2025)
    return {p.stem: pl.read_parquet(p) for p in out.glob("*.parquet")}


def _canonical_mapping() -> str:
    from contracts.extract import TABLES

    parts = []
    for name in ("payees", "participants", "contracts", "distributions"):
        cols = pl.read_parquet_schema(EXAMPLES / "canonical" / f"{name}.parquet")
        lines = []
        for c in cols:
            extra = ', money = "cents"' if c.endswith("_cents") else ""
            lines.append(f'{c} = {{ column = "{c}"{extra} }}')
        assert set(cols) <= set(TABLES[name].names)
        parts.append(f'\n[tables.{name}]\nsource = "c_{name}"\n[tables.{name}.columns]\n' + "\n".join(lines))
    return "\n".join(parts)


def test_a_fixed_width_file_is_read_by_positions_with_its_lines(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    rows = ["HEADER 2025", "P01  Ironwood 401(k)     P", "", "P02  Cedar 403(b)        N", "TRAILER 2"]
    (folder / "PLANS.DAT").write_text("\n".join(rows) + "\n", encoding="latin-1")
    source = (
        'file = "PLANS.DAT"\nencoding = "latin-1"\nfirst_line = 2\nfooter_rows = 1\n'
        "fields = { ID = [1, 5], NAME = [6, 20], FLAG = [26, 1] }"
    )
    tables = _tables_from(tmp_path, _one_file_mapping(source, PLAN_COLUMNS), folder)
    plans = tables["plans"]
    assert plans["plan_id"].to_list() == ["P01", "P02"]
    assert plans["plan_name"].to_list() == ["Ironwood 401(k)", "Cedar 403(b)"]
    assert plans["pre1987_recovery"].to_list() == [True, False]
    assert plans["payer_tin"].to_list() == ["123456789"] * 2


def test_a_parquet_source_with_its_own_column_names_is_mapped(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    pl.DataFrame({"ID": ["P01"], "NAME": ["Ironwood"], "FLAG": ["N"]}).write_parquet(
        folder / "rk_plans.parquet"
    )
    tables = _tables_from(tmp_path, _one_file_mapping('file = "rk_plans.parquet"', PLAN_COLUMNS), folder)
    assert tables["plans"].select("plan_id", "plan_name", "pre1987_recovery").row(0) == (
        "P01",
        "Ironwood",
        False,
    )


def test_csv_lines_count_blank_lines_and_values_that_span_lines(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    text = 'ID,NAME,FLAG,AMT\nP01,"Ironwood\nFoods",N,1\n\nP02,Cedar,N,maybe\n'  # P02 is on line 5
    (folder / "plans.csv").write_text(text)
    cols = PLAN_COLUMNS.replace(
        "after_tax_separately_accounted = { constant = false }", 'after_tax_separately_accounted = "AMT"'
    )
    with pytest.raises(ImportProblems) as err:
        _tables_from(tmp_path, _one_file_mapping('file = "plans.csv"', cols), folder)
    assert err.value.report.problems == [
        "plans.csv line 5, column AMT (plans.after_tax_separately_accounted): "
        "not yes/no (true/false, y/n, 1/0): 'maybe'"
    ]


def test_an_excel_problem_names_the_sheet_and_the_cell(tmp_path):
    import xlsxwriter

    folder = tmp_path / "src"
    folder.mkdir()
    book = xlsxwriter.Workbook(str(folder / "rk.xlsx"))
    ws = book.add_worksheet("Plan list")
    ws.write("B2", "Plans of 2025")
    ws.write_row("B4", ["ID", "NAME", "FLAG", "AMT"])
    ws.write_row("B5", ["P01", "Ironwood", "N", "Y"])
    ws.write_row("B6", ["P02", "Cedar", "N", "perhaps"])
    book.close()
    cols = PLAN_COLUMNS.replace(
        "after_tax_separately_accounted = { constant = false }", 'after_tax_separately_accounted = "AMT"'
    )
    source = 'file = "rk.xlsx"\nsheet = "Plan list"\nheader_row = 4'
    with pytest.raises(ImportProblems) as err:
        _tables_from(tmp_path, _one_file_mapping(source, cols), folder)
    assert err.value.report.problems == [
        "rk.xlsx sheet Plan list cell E6, column AMT (plans.after_tax_separately_accounted): "
        "not yes/no (true/false, y/n, 1/0): 'perhaps'"
    ]


def test_column_letters_go_past_z():
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]
