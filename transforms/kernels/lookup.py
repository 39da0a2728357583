"""Row lookups on key columns: which row of a table each row of a frame refers to.

Used by the cross-table rules (:mod:`contracts.validate`) and by the engine
(:mod:`transforms.engine.legs`) to match every disbursement once with its participant, plan, payee and
contract row; everything after works on the row numbers. Pure polars, no I/O.

Extracts list their rows in key order, so the usual case is a table sorted by its first key, where
each key value is a short run of rows. The first key is then matched run by run: when the frame is
sorted too, each of its runs is one value, looked up once (and when both list the same values in
the same order — every participant has a disbursement — not searched at all); otherwise a binary
search per row. The other key columns are compared with the few rows of the run. A table not in
key order, or with long runs, is matched by one hash join.
"""

from __future__ import annotations

import polars as pl

NEIGHBOURS = 8  # rows sharing a first key value compared one by one, before joining instead
SMALL_TABLE = 4096  # a one-column key of a table this small is matched through an enumeration


def run_marks(column: pl.Series) -> pl.Series:
    """True on the first row of each run of equal values of ``column`` (nulls equal)."""
    n = column.len()
    starts = column.slice(1).ne_missing(column.slice(0, n - 1))
    return pl.Series([True], dtype=pl.Boolean).append(starts)


def _run_ids(marks: pl.Series) -> pl.Series:
    """The run number (0, 1, ...) of each row, from its :func:`run_marks` (``rle_id`` without
    comparing the values again)."""
    return (marks.cum_sum() - 1).cast(pl.UInt32)


def _runs(column: pl.Series, starts: pl.Series | None = None) -> pl.DataFrame:
    """The runs of equal values of ``column``: ``value``, first row ``start`` and length ``len``
    (``starts``: :func:`run_marks` of the column, when already known). A column of distinct
    values is its own runs: nothing is copied."""
    n = column.len()
    starts = run_marks(column) if starts is None else starts
    if starts.all():
        start = pl.int_range(n, eager=True, dtype=pl.Int64)
        return pl.DataFrame(
            {"value": column, "start": start, "len": pl.repeat(1, n, dtype=pl.Int64, eager=True)}
        )
    start = starts.arg_true().cast(pl.Int64)
    length = start.shift(-1, fill_value=n) - start
    return pl.DataFrame({"value": column.gather(start), "start": start, "len": length})


def _run_starts(frame_key: pl.Series, runs: pl.DataFrame) -> pl.Series:
    """For each value of ``frame_key``, the index of the run of ``runs`` holding the same value, or
    null; nulls never match. ``runs`` come from a sorted column, so their values are sorted and
    distinct."""
    values = runs.get_column("value")
    if frame_key.len() and frame_key.is_sorted():
        marks = run_marks(frame_key)
        mine = _runs(frame_key, marks)
        run_of_row = _run_ids(marks)
        first = _slice_start(values, mine.get_column("value"))
        if first is not None:
            found = pl.int_range(first, first + mine.height, eager=True, dtype=pl.Int64)
        else:
            found = _search(values, mine.get_column("value"))
        found = found.gather(run_of_row)
    else:
        found = _search(values, frame_key)
    return pl.select(pl.when(pl.lit(frame_key).is_not_null()).then(pl.lit(found))).to_series()


def _slice_start(values: pl.Series, keys: pl.Series) -> int | None:
    """Where ``keys`` (sorted, distinct, no null first) lie in ``values`` as one contiguous slice —
    both list the same keys in the same order, the table perhaps with more rows before or after
    (every participant's own payee, with beneficiaries' payees added at the end) — or None. One
    search and one comparison instead of a search per key."""
    if not keys.len() or keys[0] is None or keys.len() > values.len():
        return None
    first = values.search_sorted(keys[0], side="left")
    if first + keys.len() > values.len() or not values.slice(first, keys.len()).equals(keys):
        return None
    return int(first)


def _search(values: pl.Series, keys: pl.Series) -> pl.Series:
    """Index of each key among the sorted distinct ``values`` (binary search), null where absent."""
    n = values.len()
    at = values.search_sorted(keys, side="left").cast(pl.Int64)
    inside = at < n
    hit = values.gather(at.clip(0, max(n - 1, 0))).eq(keys).fill_null(False) & inside
    return pl.select(pl.when(pl.lit(hit)).then(pl.lit(at))).to_series()


def row_of(frame: pl.DataFrame, table: pl.DataFrame, on: list[str], name: str = "_r") -> pl.Series:
    """For each row of ``frame``, in its order, the number of the first row of ``table`` with the
    same ``on`` values (UInt32; null when there is none; null keys never match).

    A small table with a one-column text key is matched through an enumeration of its values (a
    cast, no join); a table sorted by its first key, with runs of at most :data:`NEIGHBOURS` rows per value, is
    matched run by run (see the module docstring); any other table by one hash join, against the
    first row of each key when keys repeat.
    """
    if table.height and frame.height:
        first = table.get_column(on[0])
        if len(on) == 1 and table.height <= SMALL_TABLE and first.dtype == pl.String:
            return _row_by_enum(frame.get_column(on[0]), first).alias(name)
        if first.is_sorted():
            runs = _runs(first)
            reach = runs.get_column("len").max()
            if reach <= NEIGHBOURS:
                return _row_by_runs(frame, table, on, runs, reach).alias(name)
    keys = frame.select(on)
    index = table.select(on).with_row_index(name)
    rows = keys.join(index, on=on, how="left", maintain_order="left")
    if rows.height != frame.height:
        index = index.unique(on, keep="first", maintain_order=True)
        rows = keys.join(index, on=on, how="left", maintain_order="left")
    return rows.get_column(name)


def _row_by_runs(
    frame: pl.DataFrame, table: pl.DataFrame, on: list[str], runs: pl.DataFrame, reach: int
) -> pl.Series:
    run = _run_starts(frame.get_column(on[0]), runs)
    start = runs.get_column("start").gather(run)
    if len(on) == 1:
        return start.cast(pl.UInt32)
    length = runs.get_column("len").gather(run)
    last = table.height - 1
    found = []
    for k in range(reach):
        at = (start + k).clip(0, last)
        same = pl.all_horizontal(
            frame.get_column(c).eq(table.get_column(c).gather(at)).fill_null(False) for c in on[1:]
        )
        found.append(pl.when(same & (length > k)).then(at))
    return pl.select(pl.coalesce(found).cast(pl.UInt32)).to_series()


def _row_by_enum(keys: pl.Series, values: pl.Series) -> pl.Series:
    """Row of the first occurrence in ``values`` of each key (null if absent or null): the key's
    position among the distinct values (:func:`position_in`) indexes the rows. Keys that come in
    long runs (a plan's disbursements together) are looked up once per run."""
    rows = (
        values.to_frame("v")
        .with_row_index("r")
        .drop_nulls("v")
        .unique("v", keep="first", maintain_order=True)
    )
    distinct = tuple(rows.get_column("v").to_list())
    marks = run_marks(keys) if keys.len() else None
    if marks is not None and marks.sum() * 8 < keys.len():
        heads = keys.filter(marks)
        return rows.get_column("r").gather(position_in(heads, distinct)).gather(_run_ids(marks))
    return rows.get_column("r").gather(position_in(keys, distinct))


SMALL_DOMAIN = 8
"""Up to this many values, a position is found by comparing with each value in turn (cheaper than
an enumeration's hash per row)."""


def position_in(column: pl.Series, values: tuple[str, ...] | list[str]) -> pl.Series:
    """Position (UInt32) of each value of a text ``column`` in ``values`` (distinct), null where
    absent or null: a few comparisons per row for a small list, an enumeration otherwise."""
    if len(values) > SMALL_DOMAIN:
        return column.cast(pl.Enum(list(values)), strict=False).to_physical().cast(pl.UInt32)
    if not values:  # nothing to find (a key column of nulls only): a literal alone would be one row
        return pl.Series(column.name, [None] * column.len(), pl.UInt32)
    position = pl.lit(None, pl.UInt32)
    for i, value in reversed(list(enumerate(values))):
        position = pl.when(pl.col("_k") == value).then(pl.lit(i, pl.UInt32)).otherwise(position)
    return column.to_frame("_k").select(position.alias(column.name)).to_series()
