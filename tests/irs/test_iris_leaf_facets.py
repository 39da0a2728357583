"""The record check proves most leaf texts valid on the columns (``schema_check.proven``: each leaf
declaration's facets as polars expressions) and sends only the others to libxml2. These tests hold
that translation to libxml2's own verdict on the same declaration — the element ``S{k}`` of the
schema of values, copied from the vendored package — for every declaration the record check of
Form 1099-R uses: a text proven valid is valid to libxml2, and a text libxml2 accepts is proven
whenever it is written as itself (no ``& < >``, carriage return or non-XML character) and, for a
decimal, in the plain form the translation decides (no sign, blank or leading zero)."""

from __future__ import annotations

import re
from functools import cache

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.io import iris_package as iris_schema
from flows.irs.files import record_check
from tests.conftest import IRIS_PACKAGE
from transforms.irs.iris.schema_check import (
    _NOTHING,
    _WRITTEN_AS_IS,
    Declaration,
    RecordCheck,
    _as_is,
    _decimal_form,
    proven,
    slot_tag,
    xsd_regex,
)


@cache
def check() -> RecordCheck:
    made = record_check(iris_schema.load(IRIS_PACKAGE.resolve()))
    assert made is not None
    return made


KINDS = sorted(set(check().kinds))


def libxml2_accepts(kind: int, text: str) -> bool:
    """libxml2's verdict on ``text``, written as it is, in the element of declaration ``kind``."""
    tag = slot_tag(kind)
    return check()._why(f"<{tag}>{text}</{tag}>") is None


def polars_proves(kind: int, *texts: str) -> list[bool]:
    valid = proven(check().declarations[kind], pl.col("t"))
    assert valid is not None
    return (
        pl.DataFrame({"t": list(texts)}, schema={"t": pl.String})
        .select(valid.fill_null(False))
        .to_series()
        .to_list()
    )


def _python(regex: str) -> str:
    """A translated pattern as a Python regex (for drawing texts): the intersections dropped, a
    character not written as itself (in the package's patterns, ``&``) drawn as ``&``."""
    regex = regex.replace("&&" + _WRITTEN_AS_IS, "").replace(_NOTHING, "&")
    return re.sub(r"\\x\{([0-9A-F]+)\}", lambda m: f"\\U{int(m[1], 16):08X}", regex)


#: Characters near every class boundary of the package's patterns, and the ones XML treats apart.
NEAR = list("09AZaz@[`{/:-# ().,'\"\t\n\u00a3\u00a7\u00e9\u00c1\u00a0\u00a2\u00ff!~") + [
    "&",
    "<",
    ">",
    "\r",
    "\x01",
    "&amp;",
    "&#38;",
    "&#1;",
    "&lt;",
    "]]>",
    "  ",
]


def texts(declaration: Declaration) -> st.SearchStrategy[str]:
    """Texts near the declaration's boundary: drawn from its patterns and enumerations, then mutated
    (a character inserted, replaced or removed), strings of its lengths' limits, and arbitrary ones."""
    facets = [f for step in declaration.steps for f in step]
    seeds: list[st.SearchStrategy[str]] = [st.lists(st.sampled_from(NEAR), max_size=12).map("".join)]
    for name, value in facets:
        if name == "pattern":
            seeds.append(st.from_regex(_python(xsd_regex(value)), fullmatch=True))
        elif name == "enumeration":
            seeds.append(st.just(value))
    limits = [int(v) for name, v in facets if name in ("length", "minLength", "maxLength")]
    for limit in limits:
        for size in (limit - 1, limit, limit + 1):
            seeds.append(st.sampled_from(["A", "Z", "9", "a"]).map(lambda c, size=size: c * max(size, 0)))
    if declaration.builtin == "decimal":
        seeds.append(st.from_regex(r"[ +-]?0{0,2}[0-9]{0,18}(\.[0-9]{0,7})? ?", fullmatch=True))
        seeds += [
            st.just(t) for t in ("999999999999999.99", "1000000000000000", "1.00000", "1.00001", "0.5", ".5")
        ]
    base = st.one_of(seeds)

    @st.composite
    def mutated(draw) -> str:
        text = draw(base)
        how = draw(st.sampled_from(["keep", "insert", "replace", "delete"]))
        if how == "keep" or (how != "insert" and not text):
            return text
        at = draw(st.integers(0, len(text) - (how != "insert")))
        piece = draw(st.sampled_from(NEAR))
        if how == "insert":
            return text[:at] + piece + text[at:]
        return text[:at] + (piece if how == "replace" else "") + text[at + 1 :]

    return mutated()


def decided(declaration: Declaration, text: str) -> bool:
    """Whether the translation decides ``text`` (else it only leaves it to libxml2)."""
    if not _as_is(text):
        return False
    if declaration.builtin != "decimal":
        return True
    plain = re.fullmatch(r"(0|[1-9][0-9]*)(\.[0-9]+)?", text)  # no sign, blank, leading zero, bare point
    bound = re.search(r"\[1-9\]\[0-9\]\{0,(\d+)\}", _decimal_form(declaration.steps))
    digits = int(bound[1]) + 1 if bound else 0  # the form's integer digits (0: the integer part 0 alone)
    return plain is not None and (plain[1] == "0" or len(plain[1]) <= digits)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_a_leaf_text_proven_on_the_columns_gets_libxml2s_verdict(kind, data):
    declaration = check().declarations[kind]
    if proven(declaration, pl.col("t")) is None:
        pytest.skip("not translated: every text goes to libxml2")
    drawn = data.draw(st.lists(texts(declaration), min_size=1, max_size=25))
    for text, proves in zip(drawn, polars_proves(kind, *drawn), strict=True):
        accepts = libxml2_accepts(kind, text)
        assert accepts or not proves, (kind, text)  # nothing invalid is proven
        if decided(declaration, text):
            assert proves == accepts, (kind, text)


def test_every_declaration_of_the_1099r_leaves_is_translated_but_the_payment_date():
    untranslated = {
        check().paths[i][-1]
        for i, kind in enumerate(check().kinds)
        if proven(check().declarations[kind], pl.col("t")) is None
    }
    assert untranslated == {"PaymentDt"}  # a date: left to libxml2 (calendar days are not a pattern)


def test_the_boundaries_of_a_decimal_leaf_are_libxml2s():
    amount = check().kinds[check().paths.index(("Form1099RDetail", "GrossDistributionAmt"))]
    for text, valid in [
        ("999999999999999.99", True),
        ("1000000000000000.00", False),
        ("0.00", True),
        ("1.234", False),
    ]:
        assert libxml2_accepts(amount, text) is valid
        assert polars_proves(amount, text) == [valid]
    for text in ("+1.00", "01.00", "1.", " 1.00 "):  # valid, not in the plain forms: left to libxml2
        assert libxml2_accepts(amount, text) and polars_proves(amount, text) == [False]


@pytest.mark.parametrize(
    "pattern",
    [r"\d{3}", r"[^A-Z]", r"[A-Z-[AEIOU]]", r"\p{Lu}", r"\i\c*", r"\s", ".{2}", r"[a-c-e]", "a**"],
)
def test_what_the_translation_does_not_cover_is_left_to_libxml2(pattern):
    assert xsd_regex(pattern) is None


def test_anchors_are_characters_in_an_xsd_pattern_and_escapes_are_not_proven():
    regex = xsd_regex("^A(B|&)$")
    series = pl.Series(["^AB$", "AB", "^A&$", "^A&amp;$"])
    assert series.str.contains(regex).to_list() == [True, False, False, False]
