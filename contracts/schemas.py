"""pandera schemas of the extract tables, built from the declarations and the named row rules.

Each schema checks types, nullability, enumerations, ranges, uniqueness of the primary key and the
digit patterns of TINs and ZIP codes. Validation runs on eager frames (pandera skips data checks on
lazy frames unless told otherwise), with ``lazy=True`` so that every failing row is reported.
"""

from __future__ import annotations

from functools import cache

import pandera.polars as pa
import polars as pl

from contracts.extract import TABLES, Table
from contracts.rules import RowRule, rules_for


def _check(rule: RowRule) -> pa.Check:
    valid = rule.valid
    assert valid is not None
    # no `error=`: pandera would then report the message instead of the rule name
    return pa.Check(lambda data, v=valid: data.lazyframe.select(v()), name=rule.name)


NEIGHBOURS = 8  # how far apart two rows of one run may be compared, before hashing instead


def duplicated(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """``frame.select(columns).is_duplicated()`` (null equals null), without hashing when the first
    column is sorted: equal keys then lie within one run of equal first values, so each row is
    compared with its neighbours up to the longest run (a few rows: an event's contract rows)."""
    first = frame.get_column(columns[0])
    if frame.height and first.is_sorted():
        longest = (
            2
            if len(columns) == 1
            else frame.select(pl.col(columns[0]).rle().struct.field("len").max()).item()
        )
        reach = int(longest) - 1
        if reach <= NEIGHBOURS:

            def same(k: int) -> pl.Expr:
                return pl.all_horizontal(pl.col(c).eq_missing(pl.col(c).shift(k)) for c in columns)

            steps = [*range(1, reach + 1), *range(-reach, 0)]
            if not steps:
                return pl.Series("duplicated", [False] * frame.height, pl.Boolean)
            return frame.select(pl.any_horizontal(same(k) for k in steps).fill_null(False)).to_series()
    return frame.select(columns).is_duplicated()


def _unique(check_name: str, columns: list[str]) -> pa.Check:
    """pandera's own uniqueness checks (``field_uniqueness``, ``multiple_fields_uniqueness``: the
    rows whose key appears more than once), with :func:`duplicated` instead of a hash of the key."""

    def unique(data) -> pl.LazyFrame:
        keys = data.lazyframe.select(columns).collect()
        return pl.LazyFrame({"unique": ~duplicated(keys, columns)})

    return pa.Check(unique, name=check_name)


def build_schema(table: Table) -> pa.DataFrameSchema:
    rules = rules_for(table.name)
    single_key = table.key[0] if len(table.key) == 1 else None
    columns = {
        col.name: pa.Column(
            col.dtype,
            checks=[_check(r) for r in rules if r.column == col.name]
            + ([_unique("field_uniqueness", [col.name])] if col.name == single_key else []),
            nullable=col.nullable,
            required=True,
        )
        for col in table.columns
    }
    frame_checks = [_check(r) for r in rules if r.column is None]
    if single_key is None:
        frame_checks.append(_unique("multiple_fields_uniqueness", list(table.key)))
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=False, name=table.name)


@cache
def schema(table_name: str) -> pa.DataFrameSchema:
    """The pandera schema of one extract table (``plans``, ``payees``, ``participants``, ...)."""
    return build_schema(TABLES[table_name])


PANDERA_BUILTINS = {
    "not_nullable": "missing_required_value",
    "field_uniqueness": "duplicate_id",
    "multiple_fields_uniqueness": "duplicate_id",
}


def failures(table_name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Run the table's schema on an eager frame; one row (``_row``, ``rule``, ``column``) per failure.

    pandera's own failure cases quote the failing values (TINs, names): they are reduced here to
    row positions and rule names and never leave this function.
    """
    from pandera.errors import SchemaError, SchemaErrors

    empty = pl.DataFrame(schema={"_row": pl.UInt32, "rule": pl.String, "column": pl.String})
    data = frame.drop("_row")
    try:
        schema(table_name).validate(data, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases
    except SchemaError as err:  # pragma: no cover - lazy=True reports through SchemaErrors
        raise RuntimeError(f"{table_name}: schema failed without row detail ({err.reason_code})") from None
    else:
        return empty
    broken = cases.filter(pl.col("index").is_null())
    if broken.height:
        # A check that errors, or a table-wide failure, has no row index: never drop it silently.
        what = ", ".join(sorted(set(broken["check"].cast(pl.String).fill_null("?").to_list())))
        raise RuntimeError(f"{table_name}: schema check could not run row by row: {what}")
    if cases.height == 0:
        return empty
    # pandera's index is the row's position in ``frame``; ``_row`` its number in the extract's file
    rows = frame.get_column("_row").gather(cases.get_column("index").cast(pl.UInt32))
    return cases.select(
        pl.lit(rows).cast(pl.UInt32).alias("_row"),
        pl.col("check").replace(PANDERA_BUILTINS).alias("rule"),
        pl.col("column"),
    )
