"""The mapping file of ``prorata import`` (TOML): where each canonical column comes from.

    [extract]                      # the extract's manifest (docs/spec/extract.md)
    recordkeeper = "Keystone Retirement Services"
    tax_year = 2025                # optional: else --tax-year, else the year of the payment dates

    [defaults]                     # optional: what a column says when it does not say otherwise
    money = "dollars"              # "dollars" ("1,234.56", "(12.00)", "$5") or "cents"
    dates = ["%m/%d/%Y"]           # strftime formats tried in order; ISO YYYY-MM-DD always

    [sources.disb]                 # a file of the recordkeeper, by a name of our choosing
    file = "DISB.csv"              # relative to SOURCE; format from the extension unless given
    delimiter = "|"                # csv: any one character (default ",")
    encoding = "cp1252"            # csv and fixed: any Python codec (default utf-8)
    header_row = 3                 # csv and xlsx: the line / sheet row of the column names (default 1)
    # sheet = "Payments"           # xlsx: the sheet (default the first)
    # fields = { ID = [1, 10] }    # fixed: each field's first position (1-based) and length
    # first_line = 2               # fixed: the first line with data (default 1)
    # footer_rows = 1              # rows at the end that are not data (a trailer)

    [tables.distributions]
    source = "disb"
    # filter = "REC_TYPE = 'D'"    # a SQL condition on the source's columns: which rows make this table
    # distinct = true              # keep one row per distinct mapped row (a table drawn from a flat file)
    [tables.distributions.columns]
    distribution_id = "DISB_NO"                                   # a source column
    amount_cents = { column = "GROSS", money = "dollars" }
    payment_date = { column = "PAID_ON", dates = ["%m/%d/%Y"] }
    destination = { column = "TYPE", map = { CASH = "cash", "DR-IRA" = "rollover_ira" } }
    plan_id = { constant = "KRS-001" }
    event_id = { expr = "concat_ws('-', PLAN_NO, BATCH_NO)" }     # a small SQL expression
    [tables.distributions.extra]   # extra columns, carried through untouched
    branch = "BRANCH"

:func:`load_mapping` checks the file against the canonical tables (:mod:`contracts.extract`) and
returns every problem at once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.extract import TABLES

FORMATS = ("csv", "xlsx", "parquet", "fixed")
EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".dat": "fixed",
}
MONEY_UNITS = ("dollars", "cents")
SOURCE_KEYS = {"file", "format", "delimiter", "quote", "encoding", "header_row", "sheet", "fields"}
SOURCE_KEYS |= {"first_line", "footer_rows"}
COLUMN_KEYS = {"column", "constant", "expr", "money", "dates", "map", "pad"}
TABLE_KEYS = {"source", "filter", "distinct", "columns", "extra"}


class MappingError(Exception):
    """The mapping file itself is wrong; ``problems`` lists every fault, one line each."""

    def __init__(self, path: str, problems: list[str]):
        super().__init__(f"{path}: {len(problems)} problem(s) in the mapping")
        self.path = path
        self.problems = problems


@dataclass(frozen=True)
class Source:
    name: str
    file: str | None
    format: str  # "" for a source without a file: the extension of SOURCE decides
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    header_row: int = 1
    sheet: str | None = None
    fields: dict[str, tuple[int, int]] = field(default_factory=dict)
    first_line: int = 1
    footer_rows: int = 0


@dataclass(frozen=True)
class ColumnSpec:
    """Where one canonical column comes from: a source ``column``, a ``constant`` or an ``expr``;
    ``money`` (dollars or cents), ``dates`` (formats), ``map`` (value map) and ``pad`` (zeros on the
    left to that many digits) say how its text is read."""

    name: str
    column: str | None = None
    constant: Any = None
    expr: str | None = None
    money: str | None = None
    dates: tuple[str, ...] = ()
    map: dict[str, Any] | None = None
    pad: int | None = None

    @property
    def label(self) -> str:
        return self.column if self.column is not None else f"({self.name})"


@dataclass(frozen=True)
class TableSpec:
    name: str
    source: str
    columns: dict[str, ColumnSpec]
    extra: dict[str, ColumnSpec] = field(default_factory=dict)
    filter: str | None = None
    distinct: bool = False


@dataclass(frozen=True)
class Mapping:
    path: str
    recordkeeper: str | None
    tax_year: int | None
    extract_id: str | None
    money: str
    dates: tuple[str, ...]
    sources: dict[str, Source]
    tables: dict[str, TableSpec]


def _format_of(name: str, given: str | None) -> str | None:
    if given:
        return given
    return EXTENSIONS.get(Path(name).suffix.lower()) if name else None


def _settings(where: str, raw: Any, known: set[str], problems: list[str]) -> bool:
    """``raw`` is a TOML table whose keys are all ``known``; each fault is added to ``problems``."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a table of settings")
        return False
    for key in sorted(set(raw) - known):
        problems.append(f"{where}: unknown setting '{key}' (known: {', '.join(sorted(known))})")
    return True


def _source(name: str, raw: dict, problems: list[str]) -> Source | None:
    where = f"[sources.{name}]"
    if not _settings(where, raw, SOURCE_KEYS, problems):
        return None
    file = raw.get("file")
    fmt = _format_of(file or "", raw.get("format"))
    if fmt is None and file is None:
        fmt = ""  # the single file given as SOURCE: its extension decides (flows.importer.readers)
    elif fmt not in FORMATS:
        problems.append(f"{where}: format must be one of {', '.join(FORMATS)} (give format = ...)")
        return None
    fields: dict[str, tuple[int, int]] = {}
    for key, pos in (raw.get("fields") or {}).items():
        if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(p, int) and p > 0 for p in pos)):
            problems.append(f"{where}: field '{key}' needs [first position, length], both positive")
        else:
            fields[key] = (pos[0], pos[1])
    if fmt == "fixed" and not fields:
        problems.append(f"{where}: a fixed-width source needs fields = {{ NAME = [first position, length] }}")
    delimiter = raw.get("delimiter", ",")
    if fmt == "csv" and (not isinstance(delimiter, str) or len(delimiter) != 1):
        problems.append(f"{where}: delimiter must be one character")
    for key in ("header_row", "first_line"):
        if key in raw and (not isinstance(raw[key], int) or raw[key] < 1):
            problems.append(f"{where}: {key} must be a line number, 1 or more")
    if "footer_rows" in raw and (not isinstance(raw["footer_rows"], int) or raw["footer_rows"] < 0):
        problems.append(f"{where}: footer_rows must be 0 or more")
    encoding = raw.get("encoding", "utf-8")
    try:
        "".encode(encoding)
    except (LookupError, TypeError):
        problems.append(f"{where}: unknown encoding '{encoding}'")
    return Source(
        name=name,
        file=file,
        format=fmt,
        delimiter=delimiter,
        quote=raw.get("quote", '"'),
        encoding=encoding,
        header_row=raw.get("header_row", 1),
        sheet=raw.get("sheet"),
        fields=fields,
        first_line=raw.get("first_line", 1),
        footer_rows=raw.get("footer_rows", 0),
    )


def _column(where: str, name: str, raw: Any, problems: list[str]) -> ColumnSpec | None:
    if isinstance(raw, str):
        return ColumnSpec(name, column=raw)
    if not isinstance(raw, dict):
        problems.append(f"{where}.{name}: give a source column name or {{ column | constant | expr = ... }}")
        return None
    _settings(f"{where}.{name}", raw, COLUMN_KEYS, problems)
    given = [k for k in ("column", "constant", "expr") if k in raw]
    if len(given) != 1:
        problems.append(f"{where}.{name}: give exactly one of column, constant, expr")
        return None
    if raw.get("money") not in (None, *MONEY_UNITS):
        problems.append(f"{where}.{name}: money must be 'dollars' or 'cents'")
    dates = raw.get("dates", [])
    if isinstance(dates, str):
        dates = [dates]
    if not isinstance(dates, list) or not all(isinstance(d, str) for d in dates):
        problems.append(f"{where}.{name}: dates must be a list of formats such as ['%m/%d/%Y']")
        dates = []
    if "map" in raw and not (isinstance(raw["map"], dict) and raw["map"]):
        problems.append(f"{where}.{name}: map must be a table of source value = canonical value")
    if "pad" in raw and (not isinstance(raw["pad"], int) or not 1 <= raw["pad"] <= 20):
        problems.append(f"{where}.{name}: pad must be a number of digits from 1 to 20")
    if "expr" in raw:
        import polars as pl

        try:
            pl.sql_expr(raw["expr"])
        except Exception as exc:  # the SQL parser's own words
            problems.append(f"{where}.{name}: expr is not a SQL expression ({type(exc).__name__})")
    return ColumnSpec(
        name,
        column=raw.get("column"),
        constant=raw.get("constant"),
        expr=raw.get("expr"),
        money=raw.get("money"),
        dates=tuple(dates),
        map=raw.get("map") if isinstance(raw.get("map"), dict) else None,
        pad=raw.get("pad") if isinstance(raw.get("pad"), int) else None,
    )


def _table(name: str, raw: Any, sources: dict[str, Source], known: set[str], problems: list[str]):
    where = f"[tables.{name}]"
    if name not in TABLES:
        problems.append(f"{where}: not a table of the canonical extract ({', '.join(TABLES)})")
        return None
    if not _settings(where, raw, TABLE_KEYS, problems):
        return None
    source = raw.get("source")
    if source not in known:
        problems.append(
            f"{where}: source must name one of the [sources.*] ({', '.join(sorted(known)) or 'none'})"
        )
    table = TABLES[name]
    columns: dict[str, ColumnSpec] = {}
    for col, spec in (raw.get("columns") or {}).items():
        if col not in table.names:
            problems.append(
                f"{where}.columns.{col}: not a column of {name} (put extra columns under [tables.{name}.extra])"
            )
            continue
        parsed = _column(f"tables.{name}.columns", col, spec, problems)
        if parsed is not None:
            columns[col] = parsed
    for col in table.names:
        if table.column(col).required and col not in columns:
            problems.append(f"{where}: required column '{col}' is not mapped")
    extra: dict[str, ColumnSpec] = {}
    for col, spec in (raw.get("extra") or {}).items():
        if col in table.names or col.startswith("_"):
            problems.append(f"{where}.extra.{col}: an extra column needs a name of its own (not '_…')")
            continue
        parsed = _column(f"tables.{name}.extra", col, spec, problems)
        if parsed is not None:
            extra[col] = parsed
    if "filter" in raw:
        import polars as pl

        try:
            pl.sql_expr(raw["filter"])
        except Exception as exc:
            problems.append(f"{where}: filter is not a SQL condition ({type(exc).__name__})")
    fixed = sources.get(source) if source else None
    if fixed is not None and fixed.format == "fixed":
        for spec in (*columns.values(), *extra.values()):
            if spec.column is not None and spec.column not in fixed.fields:
                problems.append(
                    f"{where}: column '{spec.column}' is not one of the fields of [sources.{source}]"
                )
    return TableSpec(name, source or "", columns, extra, raw.get("filter"), bool(raw.get("distinct", False)))


def parse_mapping(text: str, path: str = "mapping") -> Mapping:
    """The mapping in ``text``; :class:`MappingError` lists every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(path, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    for key in sorted(set(raw) - {"extract", "defaults", "sources", "tables"}):
        problems.append(f"[{key}]: unknown section (known: extract, defaults, sources, tables)")
    extract = raw.get("extract") or {}
    defaults = raw.get("defaults") or {}
    money = defaults.get("money", "dollars")
    if money not in MONEY_UNITS:
        problems.append("[defaults]: money must be 'dollars' or 'cents'")
    dates = defaults.get("dates", [])
    dates = [dates] if isinstance(dates, str) else dates
    tax_year = extract.get("tax_year")
    if tax_year is not None and (not isinstance(tax_year, int) or not 1987 <= tax_year <= 2100):
        problems.append("[extract]: tax_year must be a year such as 2025")
    sources = {}
    for name, spec in (raw.get("sources") or {}).items():
        src = _source(name, spec, problems)
        if src is not None:
            sources[name] = src
    known = set(raw.get("sources") or {})
    tables = {}
    for name, spec in (raw.get("tables") or {}).items():
        t = _table(name, spec, sources, known, problems)
        if t is not None:
            tables[name] = t
    for name, table in TABLES.items():
        if not table.optional_file and name not in tables:
            problems.append(f"[tables.{name}]: the table is not mapped (every extract needs it)")
    if problems:
        raise MappingError(path, problems)
    return Mapping(
        path=path,
        recordkeeper=extract.get("recordkeeper"),
        tax_year=tax_year,
        extract_id=extract.get("extract_id"),
        money=money,
        dates=tuple(dates),
        sources=sources,
        tables=tables,
    )


def load_mapping(path: Path) -> Mapping:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(str(path), [f"cannot be read ({type(exc).__name__})"]) from None
    return parse_mapping(text, str(path))
