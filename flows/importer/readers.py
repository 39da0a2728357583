"""Reading a recordkeeper's files as text: CSV (any delimiter, encoding, header line), Excel
``.xlsx`` (calamine, through fastexcel), Parquet and fixed-width text.

Every reader returns a :class:`SourceFrame`: all columns as strings, and ``_line``, where the row
is in its file — the line of a CSV or fixed-width file, the row of the sheet, the row of a Parquet
file — so that a problem is reported at the place a person would look. Blank lines are dropped
(their numbers are kept by the rows after them). Nothing is parsed here: :mod:`flows.importer.parse`
does that, on whole columns.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from flows.importer.mapping import EXTENSIONS, Source

LINE = "_line"


@dataclass
class SourceFrame:
    source: Source
    file: str  # the file's name as the mapping gives it
    frame: pl.DataFrame  # String columns, plus _line
    kind: str  # "line" (csv, fixed), "cell" (xlsx), "row" (parquet)
    sheet: str | None = None
    letters: dict[str, str] = field(default_factory=dict)  # xlsx: column name -> its column letter

    @property
    def columns(self) -> list[str]:
        return [c for c in self.frame.columns if c != LINE]

    def where(self, line: int, column: str | None) -> str:
        """The place of a value, as a person finds it: ``DISB.csv line 14``,
        ``harbor.xlsx sheet Payments cell D7``, ``plans.parquet row 3``."""
        if self.kind == "cell":
            letter = self.letters.get(column or "")
            spot = f"cell {letter}{line}" if letter else f"row {line}"
            return f"{self.file} sheet {self.sheet} {spot}"
        return f"{self.file} {'line' if self.kind == 'line' else 'row'} {line}"


class SourceProblem(Exception):
    """A source file cannot be read at all; the message names the file (never a value)."""


def _decoded(path: Path, encoding: str, name: str) -> str:
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceProblem(f"{name} line {line}: not readable as {encoding} (give encoding = ...)") from None
    return text.removeprefix("\ufeff")


def _drop_blank(frame: pl.DataFrame, footer_rows: int) -> pl.DataFrame:
    cols = [c for c in frame.columns if c != LINE]
    if cols:
        blank = pl.all_horizontal(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in cols)
        frame = frame.filter(~blank)
    if footer_rows:
        frame = frame.head(max(frame.height - footer_rows, 0))
    return frame


def read_csv(path: Path, source: Source) -> SourceFrame:
    text = _decoded(path, source.encoding, source.file or path.name)
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=source.delimiter,
            quote_char=source.quote or None,
            skip_rows=source.header_row - 1,
            has_header=True,
            infer_schema=False,
        )
    except (pl.exceptions.PolarsError, ValueError):
        raise SourceProblem(
            f"{source.file}: not readable as CSV with delimiter {source.delimiter!r} and the header on "
            f"line {source.header_row} (a line with more fields than the header?)"
        ) from None
    # a quoted value that spans lines moves the lines of the rows after it
    extra = (
        pl.sum_horizontal(pl.col(c).str.count_matches("\n").fill_null(0) for c in frame.columns)
        if frame.width
        else pl.lit(0)
    )
    frame = frame.with_columns(
        (
            pl.int_range(pl.len(), dtype=pl.Int64)
            + source.header_row
            + 1
            + extra.cum_sum().shift(1, fill_value=0).cast(pl.Int64)
        ).alias(LINE)
    )
    return SourceFrame(source, source.file or path.name, _drop_blank(frame, source.footer_rows), "line")


def read_fixed(path: Path, source: Source) -> SourceFrame:
    text = _decoded(path, source.encoding, source.file or path.name)
    lines = pl.Series("_text", text.splitlines(), pl.String)
    frame = lines.to_frame().with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + 1).alias(LINE))
    frame = frame.slice(source.first_line - 1)
    frame = frame.select(
        *[
            pl.col("_text").str.slice(start - 1, length).alias(name)
            for name, (start, length) in source.fields.items()
        ],
        LINE,
    )
    return SourceFrame(source, source.file or path.name, _drop_blank(frame, source.footer_rows), "line")


def read_parquet(path: Path, source: Source) -> SourceFrame:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError):
        raise SourceProblem(f"{source.file}: not readable as Parquet") from None
    frame = frame.select(pl.all().cast(pl.String)).with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + 1).alias(LINE)
    )
    return SourceFrame(source, source.file or path.name, _drop_blank(frame, source.footer_rows), "row")


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _letter_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def sheet_origin(path: Path, sheet: str) -> tuple[int, int]:
    """The first row (1-based) and column (0-based) of the sheet's used range — where the reader's
    first row and column are — from the sheet's ``<dimension>``; (1, 0) when it has none."""
    from lxml import etree

    try:
        with zipfile.ZipFile(path) as z:
            book = etree.fromstring(z.read("xl/workbook.xml"))
            rid = next(s.get(f"{_REL}id") for s in book.iter(f"{_MAIN}sheet") if s.get("name") == sheet)
            rels = etree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            target = next(r.get("Target") for r in rels if r.get("Id") == rid)
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            with z.open(member) as fh:
                head = fh.read(8192)
    except (KeyError, StopIteration, zipfile.BadZipFile, etree.XMLSyntaxError):
        return 1, 0
    m = re.search(rb'<(?:\w+:)?dimension ref="\$?([A-Z]+)\$?([0-9]+)', head)
    return (int(m.group(2)), _letter_index(m.group(1).decode())) if m else (1, 0)


def read_xlsx(path: Path, source: Source) -> SourceFrame:
    import fastexcel

    name = source.file or path.name
    try:
        book = fastexcel.read_excel(str(path))
    except Exception:  # fastexcel's own error types; the message may quote cells
        raise SourceProblem(f"{name}: not readable as an Excel workbook (.xlsx)") from None
    sheet = source.sheet if source.sheet is not None else book.sheet_names[0]
    if sheet not in book.sheet_names:
        raise SourceProblem(f"{name}: no sheet {sheet!r} (sheets: {', '.join(book.sheet_names)})")
    grid = book.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    top, left = sheet_origin(path, sheet)
    h = source.header_row - top
    if h < 0 or h >= grid.height:
        raise SourceProblem(
            f"{name} sheet {sheet}: row {source.header_row} (header_row) is outside the sheet"
        )
    header = [str(v).strip() if v is not None else "" for v in grid.row(h)]
    names, letters = [], {}
    for i, label in enumerate(header):
        label = label or f"column {column_letter(left + i)}"
        names.append(label)
        letters.setdefault(label, column_letter(left + i))
    data = grid.slice(h + 1)
    data.columns = [f"{n}\x00{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]
    data = data.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + source.header_row + 1).alias(LINE))
    return SourceFrame(source, name, _drop_blank(data, source.footer_rows), "cell", sheet, letters)


READERS = {"csv": read_csv, "xlsx": read_xlsx, "parquet": read_parquet, "fixed": read_fixed}


def read_source(folder: Path, source: Source, default_file: Path | None = None) -> SourceFrame:
    """One source of the mapping, read from ``folder`` (or ``default_file`` when the source names
    no file and SOURCE is a single file)."""
    if source.file is None:
        if default_file is None:
            raise SourceProblem(f"[sources.{source.name}]: names no file and SOURCE is a folder")
        path = default_file
        fmt = source.format or EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise SourceProblem(f"{path.name}: the format is not known from the extension; give format = ...")
        source = replace(source, file=default_file.name, format=fmt)
    else:
        path = folder / source.file
    if not path.is_file():
        raise SourceProblem(f"{source.file}: file is missing in {folder}")
    return READERS[source.format](path, source)
