"""A valid TIN, defined once (contracts.rules): nine ASCII digits, not one digit repeated — the same
answer for a column (the extract's rules, the edit checks, the IRS writers and reader) and for one
text (a settings file)."""

from __future__ import annotations

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.rules import TIN_TEXT_PATTERN, tin_is_valid

CASES = [
    "123456789",
    "111111111",
    "000000000",
    "12345678",
    "1234567890",
    "12-345678",
    "١٢٣٤٥٦٧٨٩",
    "",
    "99999999a",
]


def column(texts: list[str]) -> list[bool]:
    return pl.DataFrame({"tin": texts}).select(tin_is_valid(pl.col("tin"))).to_series().to_list()


def test_nine_digits_not_one_repeated_is_the_only_valid_tin():
    assert column(CASES) == [True, False, False, False, False, False, False, False, False]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789-a", min_size=0, max_size=11), min_size=1, max_size=20))
def test_the_column_rule_and_the_text_rule_agree(texts):
    assert column(texts) == [bool(re.fullmatch(TIN_TEXT_PATTERN, t)) for t in texts]
