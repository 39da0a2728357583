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


def build_schema(table: Table) -> pa.DataFrameSchema:
    rules = rules_for(table.name)
    single_key = table.key[0] if len(table.key) == 1 else None
    columns = {
        col.name: pa.Column(
            col.dtype,
            checks=[_check(r) for r in rules if r.column == col.name],
            nullable=col.nullable,
            unique=col.name == single_key,
            required=True,
        )
        for col in table.columns
    }
    return pa.DataFrameSchema(
        columns,
        checks=[_check(r) for r in rules if r.column is None],
        unique=list(table.key) if single_key is None else None,
        strict=False,
        name=table.name,
    )


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
    return cases.select(
        pl.col("index").cast(pl.UInt32).alias("_row"),
        pl.col("check").replace(PANDERA_BUILTINS).alias("rule"),
        pl.col("column"),
    )
