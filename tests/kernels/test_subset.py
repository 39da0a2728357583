"""transforms.kernels.subset.computed_where: a row-wise function computed on the rows chosen only,
scattered into a default column — the same as computing it on every row."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from transforms.kernels.subset import computed_where, filled


def mask(values: list[bool | None]) -> pl.Series:
    return pl.Series("where", values, dtype=pl.Boolean)


def zeros(values: pl.Series) -> pl.Series:
    return pl.Series("zeros", [0] * values.len())


def test_the_function_is_computed_on_the_chosen_rows_only_in_their_order():
    seen = []

    def doubled(values: pl.Series) -> pl.Series:
        seen.append(values.to_list())
        return values * 2

    values = pl.Series("v", [1, 2, 3, 4, 5])
    out = computed_where(mask([False, True, False, True, True]), values, doubled, zeros)
    assert seen == [[2, 4, 5]]
    assert out.to_list() == [0, 4, 0, 8, 10]


def test_the_function_is_not_called_when_no_row_is_chosen():
    def never(values: pl.Series) -> pl.Series:
        raise AssertionError("called")

    assert computed_where(mask([False, None]), pl.Series([1, 2]), never, lambda v: v + 6).to_list() == [7, 8]
    assert computed_where(mask([]), pl.Series([], dtype=pl.Int64), never, zeros).len() == 0


def test_a_null_in_the_mask_keeps_the_default():
    out = computed_where(mask([None, True, None]), pl.Series([1, 2, 3]), lambda v: v + 10, zeros)
    assert out.to_list() == [0, 12, 0]


def test_a_null_the_function_gives_is_kept():
    out = computed_where(mask([True, True]), pl.Series([1, None]), lambda v: v + 1, zeros)
    assert out.to_list() == [2, None]


def test_the_values_are_left_as_they_were_even_when_they_are_the_default():
    values = pl.Series("v", ["a", "b", "c"])
    out = computed_where(mask([True, False, True]), values, lambda v: v.str.to_uppercase(), lambda v: v)
    assert out.to_list() == ["A", "b", "C"]
    assert values.to_list() == ["a", "b", "c"]


def test_the_result_has_the_defaults_name_and_type():
    def default(values: pl.Series) -> pl.Series:
        return pl.Series("kept", [0] * values.len(), dtype=pl.Int32)

    out = computed_where(mask([True, False, True]), pl.Series("v", [1, 2, 3]), lambda v: v * 100, default)
    assert_series_equal(out, pl.Series("kept", [100, 0, 300], dtype=pl.Int32))


def test_a_frame_function_fills_each_column_of_the_default_frame_by_name():
    values = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    out = computed_where(
        mask([True, False, True]),
        values,
        lambda rows: rows.select(
            pl.col("b").str.to_uppercase().alias("b_up"), (pl.col("a") > 1).alias("big")
        ),
        lambda every: every.select(pl.repeat(False, pl.len()).alias("big"), pl.lit("-").alias("b_up")),
    )
    assert_frame_equal(out, pl.DataFrame({"big": [False, False, True], "b_up": ["X", "-", "Z"]}))


def test_a_function_that_does_not_give_one_value_per_row_is_refused():
    with pytest.raises(ValueError, match="one value per row"):
        computed_where(mask([True, True]), pl.Series([1, 2]), lambda v: v.head(1), zeros)


def test_a_frame_function_that_gives_other_columns_than_the_default_is_refused():
    with pytest.raises(ValueError, match="the default's columns"):
        computed_where(
            mask([True]), pl.DataFrame({"a": [1]}), lambda rows: rows, lambda every: every.select(b="a")
        )


def test_a_mask_or_default_of_another_length_is_refused():
    with pytest.raises(ValueError, match="one row per row"):
        computed_where(mask([True]), pl.Series([1, 2]), lambda v: v, zeros)
    with pytest.raises(ValueError, match="one row per row"):
        computed_where(mask([True, False]), pl.Series([1, 2]), lambda v: v, lambda v: v.head(1))


# ---------------------------------------------------------------------------------------------
# The property: for row-wise functions, the result is the function on every row where the mask is
# true and the default elsewhere, whatever the mask (empty, all false, all true, with nulls)
# ---------------------------------------------------------------------------------------------

ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.booleans()),  # the mask
        st.one_of(st.none(), st.integers(-(2**40), 2**40)),  # a number
        st.one_of(st.none(), st.text(alphabet="aZ é-'ß", max_size=6)),  # a text
    ),
    max_size=40,
)


def everywhere(where: pl.Series, computed: pl.Series, default: pl.Series) -> pl.Series:
    """The reference: the function computed on every row, kept where the mask is true."""
    return pl.select(pl.when(pl.lit(where)).then(pl.lit(computed)).otherwise(pl.lit(default))).to_series()


def costly(values: pl.Series) -> pl.Series:
    return (values * 3 - 1).abs()


def cheap(values: pl.Series) -> pl.Series:
    return (values % 5).alias("cheap")


def costly_frame(values: pl.DataFrame) -> pl.DataFrame:
    return values.select(
        pl.col("t").str.to_uppercase().str.replace_all("[^A-Z]", "").alias("t"),
        (pl.col("v") % 7).alias("v"),
    )


def cheap_frame(values: pl.DataFrame) -> pl.DataFrame:
    return values.select(pl.col("v").abs(), pl.col("t").str.len_chars().cast(pl.String))


ALL_TRUE = [(True, 5, "é"), (True, None, None), (True, -3, "a-Z")]


@settings(max_examples=300, deadline=None)
@given(ROWS)
@example([])
@example(ALL_TRUE)
@example([(False, 1, "a"), (None, 2, "b")])
def test_the_kernel_equals_the_function_computed_on_every_row_for_any_mask(rows):
    where = mask([r[0] for r in rows])
    values = pl.Series("v", [r[1] for r in rows], dtype=pl.Int64)
    out = computed_where(where, values, costly, cheap)
    assert_series_equal(out, everywhere(where, costly(values), cheap(values)).alias("cheap"))

    frame = pl.DataFrame({"v": values, "t": pl.Series([r[2] for r in rows], dtype=pl.String)})
    full, default = costly_frame(frame), cheap_frame(frame)
    assert_frame_equal(
        computed_where(where, frame, costly_frame, cheap_frame),
        default.select(everywhere(where, full[name], default[name]).alias(name) for name in default.columns),
    )


def test_a_filled_default_is_its_value_on_every_row_as_a_series_or_as_named_columns():
    values = pl.Series("v", ["a", "bb", "c"])
    assert_series_equal(filled("")(values), pl.Series("repeat", ["", "", ""], pl.String), check_names=False)
    assert filled(False)(pl.DataFrame({"x": [1, 2]})).to_list() == [False, False]
    frame = filled(False, "one", "two")(values)
    assert frame.columns == ["one", "two"] and frame.schema == {"one": pl.Boolean, "two": pl.Boolean}
    assert frame.height == 3 and not frame.to_series(0).any() and not frame.to_series(1).any()
    assert filled("", "line")(pl.DataFrame({"x": []})).schema == {"line": pl.String}
    chosen = computed_where(mask([True, False, True]), values, lambda v: v.str.to_uppercase(), filled(""))
    assert chosen.to_list() == ["A", "", "C"]
