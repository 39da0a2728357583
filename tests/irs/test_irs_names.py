"""Names and addresses as the IRS takes them (transforms.irs.shared): what is normalised, what cannot
be, and the fast path that leaves plain values alone giving the full functions' result."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.irs.shared import (
    CITY_LENGTH,
    PERSON_NAME_LENGTH,
    PLAIN_CITY,
    PLAIN_NAME,
    PLAIN_STREET,
    PLAIN_TEXT,
    STREET_LENGTH,
    alpha_text,
    city_name,
    clean_text,
    fit_words,
    iris_country,
    iris_text,
    name_lines,
    normalised,
    person_name,
    street_lines,
    unwritable_name_address,
)


def one(expr: pl.Expr, value: str | None):
    return (
        pl.select(expr.alias("x")).item()
        if value is None
        else pl.DataFrame({"v": [value]}).select(expr).item()
    )


def apply(fn, value: str | None):
    return pl.DataFrame({"v": [value]}, schema={"v": pl.String}).select(fn(pl.col("v"))).item()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Winston-Salem", "WINSTON SALEM"), ("St. Louis", "ST LOUIS"), ("O'Fallon", "O FALLON"),
     ("Zürich", "ZURICH"), ("29 Palms", None), ("A" * 41, None), ("", "")],
)  # fmt: skip
def test_a_city_keeps_letters_and_single_spaces_or_cannot_be_written(value, expected):
    assert apply(city_name, value) == expected


@pytest.mark.parametrize(
    ("value", "line_1", "line_2"),
    [("12 Elm St. #4", "12 ELM ST 4", ""), ("1/2 Main & 3rd", "1/2 MAIN AND 3RD", ""),
     ("1234 Very Long Street Name That Goes On, Apt. #5B", "1234 VERY LONG STREET NAME THAT", "GOES ON APT 5B"),
     ("X" * 36, None, "X" * 36)],
)  # fmt: skip
def test_a_long_street_goes_on_into_the_second_line_at_a_word(value, line_1, line_2):
    assert apply(lambda e: street_lines(e)[0], value) == line_1
    assert apply(lambda e: street_lines(e)[1], value) == line_2


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Mary Elizabeth Anne Louise", "MARY ELIZABETH ANNE"), ("Smith-Johnson-Williams-Brown", "SMITH-JOHNSON"),
     ("O'Neil", "ONEIL"), ("Émile", "EMILE"), ("Wolfeschlegelsteinhausen", None), ("J. R. R.", "J R R")],
)  # fmt: skip
def test_a_person_name_is_letters_cut_at_a_word_within_twenty(value, expected):
    assert apply(person_name, value) == expected


def test_fit_words_never_cuts_inside_a_word():
    assert apply(lambda e: fit_words(e, 10), "ABCD EFGH IJKL") == "ABCD EFGH"
    assert apply(lambda e: fit_words(e, 9), "ABCD EFGH IJKL") == "ABCD EFGH"
    assert apply(lambda e: fit_words(e, 8), "ABCD EFGH IJKL") == "ABCD"
    assert apply(lambda e: fit_words(e, 3), "ABCD") is None
    assert apply(lambda e: name_lines(e, 10)[1], "ABCD EFGH IJKL") == "IJKL"


def test_iso_countries_become_the_irs_codes():
    assert [apply(iris_country, c) for c in ("GB", "gb", "DE", "CA", "PS", "US", None)] == [
        "UK", "UK", "GM", "CA", None, None, None,
    ]  # fmt: skip


def test_free_text_keeps_visible_ascii_and_drops_accents():
    assert apply(lambda e: iris_text(e, 30), "Québec  & <Ontario>\t") == "Quebec & <Ontario>"
    assert apply(lambda e: iris_text(e, 5), "123456") is None


def test_the_unwritable_masks_name_the_forms_the_iris_writer_refuses():
    frame = pl.DataFrame(
        {
            "tin_type": ["ssn", "ssn", "ein", "ssn"],
            "first_name": ["Ann", "", "", "Bo"],
            "last_name": ["Lee", "Lee", "X" * 160, "Ng"],
            "address": ["1 Main St", "1 Main St", "1 Main St", ""],
            "city": ["29 Palms", "Boston", "Boston", "Boston"],
            "country": ["US", "US", "US", "PS"],
        }
    )
    masks = frame.select(mask.alias(rule) for rule, _, mask in unwritable_name_address())
    assert masks.to_dicts() == [
        {"iris_person_name": False, "iris_business_name": False, "iris_street": False, "iris_city": True, "iris_country": False},
        {"iris_person_name": True, "iris_business_name": False, "iris_street": False, "iris_city": False, "iris_country": False},
        {"iris_person_name": False, "iris_business_name": True, "iris_street": False, "iris_city": False, "iris_country": False},
        {"iris_person_name": False, "iris_business_name": False, "iris_street": True, "iris_city": False, "iris_country": True},
    ]  # fmt: skip


CASES = [
    (person_name, PLAIN_NAME, PERSON_NAME_LENGTH, True),
    (lambda e: street_lines(e)[0], PLAIN_STREET, STREET_LENGTH, True),
    (lambda e: city_name(e, CITY_LENGTH), PLAIN_CITY, CITY_LENGTH, True),
    (lambda e: iris_text(e, 30), PLAIN_TEXT, 30, False),
]
TEXT = st.text(alphabet=st.sampled_from(list("abAB zZ09-/&'.#éÜß\t")), max_size=45)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=12))
def test_the_fast_path_gives_what_the_full_functions_give(values):
    series = pl.Series("v", values, dtype=pl.String)
    for fn, plain, width, upper in CASES:
        full = pl.select(fn(pl.lit(series.fill_null("")))).to_series()
        assert normalised(series, fn, plain, width, upper=upper).to_list() == full.to_list()


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), TEXT, st.text(max_size=8)), max_size=12))
def test_clean_text_gives_alpha_text_of_every_value_cleaning_only_those_not_plain(values):
    series = pl.Series("v", values, dtype=pl.String)
    full = pl.select(alpha_text(pl.lit(series)).alias("v")).to_series()
    assert clean_text(series).to_list() == full.to_list()
