"""``prorata import``: a recordkeeper's files, through a mapping, into a canonical extract.

:func:`import_extract` reads every source the mapping names, maps and parses every canonical column
on whole columns (:mod:`flows.importer.parse`: no per-row Python), and either reports every problem
at once — unmapped required columns, source columns missing from a header, values a map does not
cover, numbers and dates that cannot be read, each with its file, line (or sheet and cell) and
column — or writes the extract atomically (a staging folder swapped into place, so nothing
half-written is ever left). A value is quoted in a problem only when its column holds no personal
data (:data:`NOT_QUOTED`): never a TIN, a name, an address or a birth date.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from contracts.extract import (
    BOOL,
    CONTRACTS,
    DATE,
    DESTINATIONS,
    INT,
    PLAN_TYPES,
    REASONS,
    STR,
    TABLES,
    TIN_TYPES,
)
from flows.importer import parse
from flows.importer.mapping import ColumnSpec, Mapping, MappingError, TableSpec, load_mapping
from flows.importer.readers import LINE, SourceFrame, SourceProblem, read_source
from flows.io.outputs import (
    MARKER,
    Kind,
    StagedOutput,
    check_parent,
    check_target,
    write_json,
    write_parquet,
)

ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("plans", "plan_type"): PLAN_TYPES,
    ("payees", "tin_type"): TIN_TYPES,
    ("contracts", "contract"): CONTRACTS,
    ("distributions", "contract"): CONTRACTS,
    ("distributions", "destination"): DESTINATIONS,
    ("distributions", "reason"): REASONS,
}
DIGITS = {("payees", "tin"), ("plans", "payer_tin"), ("payees", "zip"), ("plans", "payer_zip")}
DIGITS |= {("plans", "payer_phone")}
# Columns whose values are personal data (or the payer's TIN): a problem names the place, never the value.
NOT_QUOTED = {
    "payees": {"tin", "first_name", "last_name", "address", "city", "zip", "date_of_birth"},
    "participants": {"date_of_death", "account_number"},
    "plans": {"payer_tin", "payer_name", "payer_address", "payer_phone"},
}
LIST_ALL_UP_TO = 200  # more problems than this: each kind shows its first LIST_PER_KIND places and a count
LIST_PER_KIND = 20


@dataclass(frozen=True)
class Problem:
    """One problem: where (file and line, or sheet and cell), which column, what."""

    where: str
    column: str  # the source column, or (canonical) for a constant or an expression
    target: str  # table.column of the extract
    problem: str
    value: str | None = None  # quoted only for columns without personal data

    def text(self) -> str:
        col = f", column {self.column}" if self.column else ""
        target = f" ({self.target})" if self.target else ""
        shown = f": {self.value!r}" if self.value is not None else ""
        return f"{self.where}{col}{target}: {self.problem}{shown}"


@dataclass
class ImportReport:
    ok: bool
    problems: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    manifest: dict | None = None
    written: Path | None = None
    problem_count: int = 0


class ImportProblems(Exception):
    """Problems found in the sources; ``report.problems`` holds the lines."""

    def __init__(self, report: ImportReport):
        super().__init__(f"{report.problem_count} problem(s)")
        self.report = report


def _canonical(table: str, col: str) -> str:
    return TABLES[table].column(col).kind


def _raw(spec: ColumnSpec, columns: list[str]) -> pl.Expr:
    if spec.column is not None:
        return parse.clean(pl.col(spec.column)) if spec.column in columns else pl.lit(None, pl.String)
    if spec.expr is not None:
        return parse.clean(pl.sql_expr(spec.expr).cast(pl.String))
    constant = spec.constant
    text = str(constant).lower() if isinstance(constant, bool) else str(constant)
    return parse.clean(pl.lit(text, pl.String))


def column_parser(table: str, spec: ColumnSpec, m: Mapping, excel: bool, s: pl.Expr) -> parse.Parsed:
    """How one canonical column is read from its text ``s``: the canonical type, and what the
    mapping says (money unit, date formats, value map, padding)."""
    kind = _canonical(table, spec.name) if spec.name in TABLES[table].names else STR
    dtype = {STR: pl.String, INT: pl.Int64, DATE: pl.Date, BOOL: pl.Boolean}[kind]
    if spec.map is not None:
        return parse.mapped(s, spec.map, dtype)
    if kind == INT and spec.name.endswith("_cents"):
        unit = spec.money or m.money
        return parse.money_dollars(s, float_noise=excel) if unit == "dollars" else parse.money_cents(s)
    if kind == INT:
        return parse.whole_number(s)
    if kind == DATE:
        return parse.date(s, spec.dates or m.dates)
    if kind == BOOL:
        return parse.yes_no(s)
    if (table, spec.name) in ENUMS:
        return parse.one_of(s, ENUMS[(table, spec.name)])
    if (table, spec.name) in DIGITS:
        return parse.Parsed(parse.digits_only(s, spec.pad), pl.lit(None, pl.String))
    return parse.Parsed(parse.padded(s, spec.pad) if spec.pad else s, pl.lit(None, pl.String))


def _map_problems(table: str, spec: ColumnSpec) -> list[str]:
    """A value map into an enumerated column must give canonical values."""
    allowed = ENUMS.get((table, spec.name))
    if spec.map is None or allowed is None:
        return []
    wrong = sorted({str(v) for v in spec.map.values()} - set(allowed))
    if not wrong:
        return []
    return [f"{table}.{spec.name}: the map gives {', '.join(wrong)}; allowed: {', '.join(allowed)}"]


@dataclass
class BuiltTable:
    frame: pl.DataFrame  # canonical columns, plus _line
    problems: pl.DataFrame  # _line, column, target, problem, value


PROBLEM_SCHEMA = {
    LINE: pl.Int64,
    "column": pl.String,
    "target": pl.String,
    "problem": pl.String,
    "value": pl.String,
    "_order": pl.Int64,
}


def build_table(spec: TableSpec, src: SourceFrame, m: Mapping) -> tuple[BuiltTable, list[str]]:
    """One canonical table from its source: every column parsed at once; the problems as a frame
    (one row per bad value) and as lines for the source-level ones (missing columns, filter)."""
    lines: list[str] = []
    frame = src.frame
    specs = [*spec.columns.values(), *spec.extra.values()]
    for s in specs:
        if s.column is not None and s.column not in src.columns:
            where = (
                f"{src.file} sheet {src.sheet} row {src.source.header_row}"
                if src.kind == "cell"
                else f"{src.file} line {src.source.header_row}"
                if src.kind == "line" and src.source.format == "csv"
                else src.file
            )
            lines.append(f"{where}: no column {s.column!r} (mapped to {spec.name}.{s.name}) in the header")
        lines.extend(_map_problems(spec.name, s))
    if spec.filter:
        try:
            frame = frame.filter(pl.sql_expr(spec.filter))
        except pl.exceptions.PolarsError:
            lines.append(f"[tables.{spec.name}]: the filter names a column that {src.file} does not have")
            frame = frame.clear()
    raws = []
    for i, s in enumerate(specs):
        raw = _raw(s, src.columns)
        try:
            frame.head(0).select(raw)
        except pl.exceptions.PolarsError:
            lines.append(f"{spec.name}.{s.name}: the expression names a column that {src.file} does not have")
            raw = pl.lit(None, pl.String)
        raws.append(raw.alias(f"_r{i}"))
    texts = frame.select(LINE, *raws)  # each column's text once; parsed from there
    excel = src.kind == "cell"
    parsed = [column_parser(spec.name, s, m, excel, pl.col(f"_r{i}")) for i, s in enumerate(specs)]
    values = [p.value.alias(s.name) for p, s in zip(parsed, specs, strict=True)]
    problems = [p.problem.alias(f"_p{i}") for i, p in enumerate(parsed)]
    out = texts.select(LINE, *values, *problems, *[f"_r{i}" for i in range(len(specs))])
    pieces = []
    for i, s in enumerate(specs):
        quoted = s.name not in NOT_QUOTED.get(spec.name, set())
        bad = out.filter(pl.col(f"_p{i}").is_not_null())
        if bad.height:
            pieces.append(
                bad.select(
                    LINE,
                    pl.lit(s.column or "", pl.String).alias("column"),
                    pl.lit(f"{spec.name}.{s.name}").alias("target"),
                    pl.col(f"_p{i}").alias("problem"),
                    (pl.col(f"_r{i}") if quoted else pl.lit(None, pl.String)).alias("value"),
                    pl.lit(i, pl.Int64).alias("_order"),
                )
            )
    problem_frame = pl.concat(pieces) if pieces else pl.DataFrame(schema=PROBLEM_SCHEMA)
    table = out.select(LINE, *[s.name for s in specs])
    if spec.distinct:
        table = table.unique(subset=[s.name for s in specs], keep="first", maintain_order=True)
    return BuiltTable(table, problem_frame), lines


def _problem_lines(problems: list[Problem], limit_all: int = LIST_ALL_UP_TO) -> list[str]:
    """Every problem, one line each; when there are more than ``limit_all``, each kind (target and
    problem) shows its first :data:`LIST_PER_KIND` places and how many more there are."""
    if len(problems) <= limit_all:
        return [p.text() for p in problems]
    out: list[str] = []
    kinds: dict[tuple[str, str, str], list[Problem]] = {}
    for p in problems:
        kinds.setdefault((p.where.split(" ")[0], p.target, p.problem), []).append(p)
    for group in kinds.values():
        out.extend(p.text() for p in group[:LIST_PER_KIND])
        if len(group) > LIST_PER_KIND:
            first = group[0]
            out.append(
                f"  … and {len(group) - LIST_PER_KIND:,} more in {first.target} ({first.problem}) in "
                f"{first.where.split(' ')[0]}"
            )
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "import"


#: What ``prorata import`` writes: an extract folder it may replace on a later import (its
#: manifest says ``imported``), never a recordkeeper's own extract or a run's outputs.
IMPORTED = Kind(
    "imported extract",
    frozenset({MARKER, *(f"{table}.parquet" for table in TABLES)}),
    lambda m: "imported" in m,
)


def check_import_target(out: Path) -> None:
    """The extract folder may be new, empty, or an earlier ``prorata import`` (replaced whole);
    never a recordkeeper's own extract, a run's outputs or any other folder. Its parent must exist."""
    check_parent(Path(out))
    check_target(Path(out), (IMPORTED,))


def import_extract(
    source: Path,
    mapping_path: Path,
    out: Path | None,
    *,
    tax_year: int | None = None,
    created_at: str | None = None,
    supersedes: str | None = None,
) -> ImportReport:
    """Import ``source`` (a folder of the recordkeeper's files, or one file) through the mapping
    into the canonical extract ``out`` (``None``: check only, write nothing). Raises
    :class:`ImportProblems` with every problem, :class:`MappingError` for a wrong mapping and
    :class:`flows.io.outputs.OutputError` for a target it must not replace."""
    source = Path(source)
    if out is not None:
        check_import_target(out)
    m = load_mapping(mapping_path)
    folder, single = (source, None) if source.is_dir() else (source.parent, source)
    if not source.exists():
        raise ImportProblems(ImportReport(False, [f"{source}: no such file or folder"], problem_count=1))
    lines: list[str] = []
    frames: dict[str, SourceFrame] = {}
    for name in dict.fromkeys(t.source for t in m.tables.values()):
        try:
            frames[name] = read_source(folder, m.sources[name], single)
        except SourceProblem as exc:
            lines.append(str(exc))
    built: dict[str, pl.DataFrame] = {}
    found: list[Problem] = []
    for name, spec in m.tables.items():
        if spec.source not in frames:
            continue
        src = frames[spec.source]
        table, table_lines = build_table(spec, src, m)
        lines.extend(table_lines)
        built[name] = table.frame
        problems = table.problems.sort(LINE, "_order")
        found.extend(
            Problem(src.where(line, col or None), col or "", target, problem, value)
            for line, col, target, problem, value in problems.select(
                LINE, "column", "target", "problem", "value"
            ).iter_rows()
        )
    year = tax_year or m.tax_year
    if year is None and "distributions" in built:
        years = built["distributions"].get_column("payment_date").dt.year().drop_nulls().unique()
        if years.len() == 1:
            year = int(years[0])
        else:
            lines.append(
                "the tax year is not stated and the payment dates fall in "
                f"{years.len()} years: give tax_year in [extract] or --tax-year"
            )
    if not m.recordkeeper:
        lines.append(f"{mapping_path}: [extract] recordkeeper is missing (who produced these files)")
    all_lines = lines + _problem_lines(found)
    if all_lines:
        raise ImportProblems(ImportReport(False, all_lines, problem_count=len(lines) + len(found)))
    rows = {name: frame.height for name, frame in built.items()}
    report = ImportReport(True, rows=rows)
    if out is None:
        return report
    sources = {
        frames[n].file: _sha256(folder / frames[n].file if single is None else single)
        for n in dict.fromkeys(t.source for t in m.tables.values())
    }
    report.manifest = write_extract(
        out,
        m,
        built,
        int(year),
        created_at,
        supersedes,
        sources,
        _sha256(Path(mapping_path)),
        Path(mapping_path).name,
    )
    report.written = out
    return report


def write_extract(
    out: Path,
    m: Mapping,
    built: dict[str, pl.DataFrame],
    tax_year: int,
    created_at: str | None,
    supersedes: str | None,
    sources: dict[str, str],
    mapping_sha: str,
    mapping_name: str,
) -> dict:
    """The canonical tables and manifest.json, written into a staging folder and swapped into
    place: a reader sees the earlier extract or the new one, never half of one."""
    with StagedOutput(Path(out), (IMPORTED,)) as staged:
        files = {}
        for name in TABLES:
            if name not in built:
                continue
            frame = built[name].drop(LINE)
            path = staged.path / TABLES[name].file
            write_parquet(frame, path)
            files[path.name] = _sha256(path)
        digest = hashlib.sha256("".join(f"{k}={v}" for k, v in sorted(files.items())).encode()).hexdigest()
        manifest = {
            "extract_id": m.extract_id or f"{_slug(m.recordkeeper or '')}-{tax_year}-{digest[:12]}",
            "recordkeeper": m.recordkeeper,
            "tax_year": tax_year,
            "created_at": created_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "files": files,
            "imported": {"mapping": mapping_name, "mapping_sha256": mapping_sha, "sources": sources},
        }
        if supersedes:
            manifest["supersedes"] = supersedes
        write_json(manifest, staged.path / "manifest.json")
    return manifest


__all__ = ["ImportProblems", "ImportReport", "MappingError", "import_extract", "check_import_target"]
