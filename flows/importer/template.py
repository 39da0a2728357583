"""``prorata import --template``: a commented mapping to start from, written from the canonical
tables themselves (:mod:`contracts.extract`), so it always lists every column the extract has."""

from __future__ import annotations

from contracts.extract import BOOL, DATE, INT, TABLES
from flows.importer.core import ENUMS

HEAD = """\
# prorata import mapping: a recordkeeper's files -> the canonical extract (docs/spec/extract.md).
#   prorata import SOURCE --mapping THIS.toml --out EXTRACT_DIR     (--check: report, write nothing)
# Each canonical column comes from a source column (NAME = "SOURCE COLUMN"), a constant
# ({ constant = ... }) or a small SQL expression over the source's columns ({ expr = "..." }).
# Options of a column: money = "dollars" | "cents", dates = ["%m/%d/%Y"], map = { "CODE" = "value" },
# pad = 9 (zeros on the left, for identifiers a spreadsheet read as numbers).
# Required columns must be mapped; optional ones (commented out below) take the default of docs/spec/extract.md.

[extract]
recordkeeper = "Your recordkeeper"
# tax_year = 2025                 # default: --tax-year, else the one year of the payment dates
# extract_id = "rk-2025-12"       # default: derived from the recordkeeper, the year and the data

[defaults]
money = "dollars"                 # "1,234.56", "(12.00)", "$5", "12.00-" -> exact cents; or "cents"
dates = ["%m/%d/%Y"]              # tried in order; ISO YYYY-MM-DD is always accepted

[sources.main]
file = "disbursements.csv"        # relative to SOURCE; the format follows the extension (.csv .txt
                                  # .xlsx .parquet .dat) unless format = "csv" | "xlsx" | "parquet" | "fixed"
# delimiter = ","                 # csv: any one character
# encoding = "utf-8"              # csv, fixed: any Python codec, e.g. "cp1252", "latin-1", "utf-16"
# header_row = 1                  # csv, xlsx: the line / sheet row that holds the column names
# sheet = "Sheet1"                # xlsx: the sheet (default the first)
# fields = { DISB_ID = [1, 12], AMOUNT = [13, 11] }   # fixed: first position (1-based), length
# first_line = 1                  # fixed: the first line of data
# footer_rows = 0                 # rows at the end that are not data (a trailer record)
"""


def _hint(table: str, name: str, kind: str) -> str:
    if (table, name) in ENUMS:
        values = ", ".join(ENUMS[(table, name)])
        return f'{{ column = "?", map = {{ "?" = "{ENUMS[(table, name)][0]}" }} }}   # {values}'
    if kind == INT and name.endswith("_cents"):
        return '{ column = "?", money = "dollars" }'
    if kind == DATE:
        return '{ column = "?", dates = ["%m/%d/%Y"] }'
    if kind == BOOL:
        return '"?"   # yes/no, y/n, true/false, 1/0; or map = { "A" = true }'
    return '"?"'


def template() -> str:
    """The text of a mapping template: every table, every column, required ones uncommented."""
    out = [HEAD]
    for name, table in TABLES.items():
        out.append("")
        note = "   # optional table" if table.optional_file else ""
        prefix = "# " if table.optional_file else ""
        out.append(f"{prefix}[tables.{name}]{note}")
        out.append(f'{prefix}source = "main"')
        out.append(
            "# filter = \"REC_TYPE = 'X'\"          # which source rows make this table (SQL condition)"
        )
        out.append(
            "# distinct = true                    # one row per distinct mapped row (from a flat file)"
        )
        out.append(f"{prefix}[tables.{name}.columns]")
        for col in table.columns:
            line = f"{col.name} = {_hint(name, col.name, col.kind)}"
            required = col.required and not table.optional_file
            default = (
                ""
                if required
                else f"   # optional{'' if col.default is None else f', default {col.default!r}'}"
            )
            out.append(("" if required else "# ") + line + default)
    out.append("")
    return "\n".join(out)
