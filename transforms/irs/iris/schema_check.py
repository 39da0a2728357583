"""An IRIS transmission checked against the IRS's schema (an ``lxml.etree.XMLSchema`` of the package's
``MSG/IRS-IRIntakeTransmissionMessage.xsd``, loaded by ``flows.io.iris_package``) while it is written.

:class:`SchemaFeed` validates the bytes as they pass, piece by piece (lxml's validating pull
parser; each record's element is dropped once parsed, so memory does not follow the file). When the
document fails, :func:`locate` finds the first return that breaks the schema by validating parts of
the transmission on their own (the manifest, each submission's header, halves of its records) and
names it by ``form_id`` and the element's path; the message never quotes a value (TINs, names and
addresses stay out of it). The IRS's own sample transmissions validate through the same code
(``tests/irs/test_iris_schema.py``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:  # polars is not imported by the validating process (python -m flows.io.iris_package)
    import polars as pl

NAMESPACE = "urn:us:gov:treasury:irs:ir"
#: The element dropped from the parse tree once validated (one per return). Only its end is
#: reported to Python (an event per element would cost more than the validation); other form
#: types are validated all the same, just kept in the tree.
_RECORD = f"{{{NAMESPACE}}}Form1099RDetail"


class SchemaError(ValueError):
    """A transmission does not validate against the IRS's schema; the message names the form
    (``form_id``) and the element, never a value."""


class SchemaFeed:
    """Validation of one document fed in pieces: :meth:`feed` each piece, then :meth:`errors`."""

    def __init__(self, schema: etree.XMLSchema):
        etree.clear_error_log()  # a syntax error's log holds the thread's earlier errors too
        self._parser = etree.XMLPullParser(events=("end",), tag=_RECORD, schema=schema, huge_tree=True)
        self._failed: list[str] | None = None

    def feed(self, piece: bytes | memoryview) -> None:
        if self._failed is not None:
            return
        try:
            self._parser.feed(bytes(piece) if not isinstance(piece, bytes) else piece)
        except etree.XMLSyntaxError as error:
            self._failed = _reasons(error.error_log) or [_clean(str(error))]
            return
        for _, element in self._parser.read_events():
            element.clear(keep_tail=True)
            parent = element.getparent()
            while element.getprevious() is not None:
                del parent[0]

    def errors(self) -> list[str]:
        """What the schema finds wrong (without values), or [] when the document is valid."""
        if self._failed is None:
            try:
                self._parser.close()
                self._failed = []
            except etree.XMLSyntaxError as error:
                self._failed = _reasons(error.error_log) or [_clean(str(error))]
        return self._failed


def validate(schema: etree.XMLSchema, pieces: Iterable[bytes]) -> list[str]:
    """The schema's findings on the document made of ``pieces`` ([] when it is valid)."""
    feed = SchemaFeed(schema)
    for piece in pieces:
        feed.feed(piece)
    return feed.errors()


def _clean(message: str) -> str:
    """A libxml2 message without the values it quotes: 'The value 'X' is not accepted' → …"""
    message = re.sub(r"^Element '\{[^}]*\}([^']*)'", r"element \1", message)
    message = re.sub(r"\[facet '(\w+)'\]", r"[facet \1]", message)
    message = re.sub(r"'[^']*'", "(value)", message)
    message = re.sub(r"\{" + re.escape(NAMESPACE) + r"\}", "", message)
    return re.sub(r"\s*\(<string>, line \d+\)", "", message).strip()


def _reasons(log: etree._ListErrorLog) -> list[str]:
    return [_clean(entry.message) for entry in log]


def _path(element: etree._Element) -> str:
    names = [etree.QName(e).localname for e in (*reversed(list(element.iterancestors())), element)]
    return "/".join(names)


def _first_error(schema: etree.XMLSchema, document: bytes) -> tuple[str, str] | None:
    """The path of the first element ``document`` (small) fails on, and why (no value)."""
    etree.clear_error_log()
    try:
        tree = etree.fromstring(document, etree.XMLParser(huge_tree=True))
    except etree.XMLSyntaxError as error:  # not well-formed (a control character, a stray '<')
        return "IRTransmission", (_reasons(error.error_log) or [_clean(str(error))])[0]
    if schema.validate(tree):
        return None
    entry = schema.error_log[0]
    found = tree.getroottree().xpath(entry.path) if entry.path else []
    where = _path(found[0]) if found else "IRTransmission"
    return where, _clean(entry.message)


def parts_of(data: bytes, index: pl.DataFrame) -> tuple[bytes, list[tuple[bytes, list[str], list[str]]]]:
    """A transmission written by ``transforms.irs.iris.iris_xml`` (one element per line) cut into
    its manifest part (declaration, root start tag, manifest) and, per submission, its header, its
    records' texts and their form ids (``index``: form_id, submission_id in file order)."""
    group, detail, record = (
        b"  <IRSubmission1Grp>\n",
        b"    <IRSubmission1Detail>\n",
        "      <Form1099RDetail>\n",
    )
    head, *groups = data.split(group)
    ids = index.group_by("submission_id", maintain_order=True).agg("form_id").sort("submission_id")  # polars
    parts = []
    for (form_ids,), body in zip(ids.select("form_id").rows(), groups, strict=False):
        header, _, records = body.partition(detail)
        texts = [record + r for r in records.decode().split(record)[1:]]
        if texts:  # the last record ends with the closing tags of its submission
            texts[-1] = texts[-1][
                : texts[-1].rindex("      </Form1099RDetail>\n") + len("      </Form1099RDetail>\n")
            ]
        parts.append((header, texts, form_ids))
    return head, parts


def locate(schema: etree.XMLSchema, data: bytes, index: pl.DataFrame) -> str:
    """Where a transmission that failed first breaks the schema (``data``, its per-return ``index``):
    its manifest, each submission's header and its records are validated wrapped in a document of
    their own, the records by halves (about twice their size), down to the first failing record."""
    head, submissions = parts_of(data, index)
    closing = b"</IRTransmission>\n"
    found = _first_error(schema, head + closing)
    if found is not None:
        return f"the manifest, element {found[0]}: {found[1]}"
    for number, (header, texts, form_ids) in enumerate(submissions, start=1):
        opening = head + b"  <IRSubmission1Grp>\n" + header
        found = _first_error(schema, opening + b"  </IRSubmission1Grp>\n" + closing)
        if found is not None:
            return f"submission {number}'s header, element {found[0]}: {found[1]}"

        def document(start: int, end: int, opening: bytes = opening, texts: list[str] = texts) -> bytes:
            body = "".join(texts[start:end]).encode()
            detail = b"    <IRSubmission1Detail>\n" + body + b"    </IRSubmission1Detail>\n"
            return opening + detail + b"  </IRSubmission1Grp>\n" + closing

        low, high = 0, len(texts)
        if high == 0 or _first_error(schema, document(low, high)) is None:
            continue
        while high - low > 1:
            middle = (low + high) // 2
            if _first_error(schema, document(low, middle)) is not None:
                high = middle
            else:
                low = middle
        where, why = _first_error(schema, document(low, high))  # type: ignore[misc]
        return f"form_id {form_ids[low]} (submission {number}), element {where}: {why}"
    return "the document as a whole (each part validates on its own)"


# ---- records proven valid by shape and by value --------------------------------------------------

#: Where a record lies in a transmission: its leaves' paths are given from the document's root.
RECORD_PATH = ("IRTransmission", "IRSubmission1Grp", "IRSubmission1Detail")
#: The element of the document that holds the leaves' values (:func:`flows.io.iris_package.value_schema`).
VALUES_ROOT = "ProrataValues"


def slot_tag(kind: int) -> str:
    """The element that carries the texts of the leaves of declaration ``kind`` in a document of values."""
    return f"S{kind}"


def _leaf(i: int) -> str:
    """The column of leaf ``i``'s texts (:meth:`RecordCheck.slots`)."""
    return f"L{i}"


class RecordCheck:
    """Every record of a transmission validated against the IRS's schema without parsing every record
    (:func:`transforms.irs.iris.iris_xml.iris_transmissions` runs it while it writes).

    The writer renders every record from one template (``iris_xml.Template``): literal tags, leaf
    texts, and parts that are there or not by conditions. Records whose conditions are equal (one
    *shape*) have the same elements, line for line; only the texts of their leaves differ. The
    IRS's schema has no identity constraint (``xsd:unique``, ``xsd:key``), no attribute, no
    ``xsi:type``, and the records' element is unbounded in its submission: whether a document is
    valid is then whether its elements follow the content models — the same for records of one
    shape — and whether each leaf's text is valid for the leaf's declaration (its simple type,
    facets, fixed value). So a transmission is valid when

    1. its *skeleton* — its own manifest and submission headers, as written, with, in each
       submission, the first record of each shape the submission holds, as written — validates
       against the package's schema (:meth:`skeleton`); and
    2. every text written in every leaf validates against that leaf's own declaration, copied
       from the package into a schema of values (``flows.io.iris_package.value_schema``): each
       distinct text of a leaf, as written (escaped), in an element of its own (:meth:`values`).

    Both are libxml2's own validation against the package's own declarations: nothing of the
    schema is re-implemented, and the texts are validated as the bytes of the file carry them
    (well-formed, XML characters, escapes, whitespace facets). A failure names the form_id and
    the element, never a value."""

    def __init__(
        self,
        schema: etree.XMLSchema,
        values: etree.XMLSchema,
        paths: tuple[tuple[str, ...], ...],
        kinds: tuple[int, ...] | None = None,
        declarations: tuple[Declaration | None, ...] = (),
    ):
        self.schema = schema
        self.values_schema = values
        self.paths = paths  # the leaves' paths below the record's own element
        #: each leaf's kind of declaration: the element ``S{kind}`` of the schema of values
        self.kinds = kinds if kinds is not None else tuple(range(len(paths)))
        #: each kind's declaration as read from the package (:func:`proven`; None: libxml2 alone)
        self.declarations = declarations or (None,) * (max(self.kinds, default=-1) + 1)

    def slots(self, leaves, present_of) -> list[pl.Expr]:
        """Per leaf, its text where it is written (null where not): ``leaves`` are the template's."""
        import polars as pl

        if tuple(path for path, _, _ in leaves) != self.paths:
            raise AssertionError("the record check was made for another template")  # pragma: no cover
        out = []
        for i, (_, text, present) in enumerate(leaves):
            value = pl.lit(text) if isinstance(text, str) else text
            out.append(pl.when(present_of(present)).then(value).alias(_leaf(i)))
        return out

    @functools.cached_property
    def _doubtful(self) -> list[pl.Expr]:
        """Per leaf (in the order of the schema of values' sequence), its distinct texts not
        :func:`proven` valid, each in its slot's element, joined: one string per leaf."""
        import polars as pl

        columns = []
        for i, kind in sorted(enumerate(self.kinds), key=lambda leaf: leaf[1]):
            tag, text = slot_tag(kind), pl.col(_leaf(i))
            valid = proven(self.declarations[kind], text)
            doubtful = text if valid is None else text.filter(valid.not_().fill_null(True))
            columns.append(
                pl.concat_str(pl.lit(f"<{tag}>"), doubtful.drop_nulls().unique(), pl.lit(f"</{tag}>"))
                .str.join("")
                .alias(_leaf(i))
            )
        return columns

    def values(self, slots: pl.DataFrame, form_ids: pl.Series) -> None:
        """Check 2 over one chunk of records: ``slots`` holds :meth:`slots`' columns (one row per
        record, ``form_ids`` in the same order). Raises :class:`SchemaError` naming the first record
        and leaf that fail.

        A text :func:`proven` valid on the columns for its leaf's declaration is valid; every other
        text (each distinct one per leaf and chunk; all of a declaration not translated) is validated
        by libxml2 against the schema of values, as before. The verdict is then libxml2's, for
        :func:`proven` holds only where libxml2 accepts (``tests/irs/test_iris_leaf_facets.py``)."""
        body = "".join(slots.select(self._doubtful).row(0))
        if not body or self._valid(body):
            return
        raise SchemaError(self._first_bad_value(slots, form_ids))

    def _document(self, body: str) -> bytes:
        return f'<{VALUES_ROOT} xmlns="{NAMESPACE}">{body}</{VALUES_ROOT}>'.encode()

    def _valid(self, body: str) -> bool:
        return self._why(body) is None

    def _why(self, body: str) -> str | None:
        etree.clear_error_log()
        try:
            tree = etree.fromstring(self._document(body), etree.XMLParser(huge_tree=True))
        except etree.XMLSyntaxError as error:
            return (_reasons(error.error_log) or [_clean(str(error))])[0]
        if self.values_schema.validate(tree):
            return None
        return _clean(self.values_schema.error_log[0].message)

    def _first_bad_value(self, slots: pl.DataFrame, form_ids: pl.Series) -> str:
        """The first record (in order) and leaf whose text fails its declaration (failures only)."""
        bad: dict[int, dict[str, str]] = {}  # leaf -> failing text -> why
        for i in range(len(self.paths)):
            tag = slot_tag(self.kinds[i])
            texts = slots.get_column(_leaf(i)).drop_nulls().unique(maintain_order=True).to_list()
            if self._valid("".join(f"<{tag}>{t}</{tag}>" for t in texts)):
                continue
            for text in texts:
                why = self._why(f"<{tag}>{text}</{tag}>")
                if why is not None:
                    bad.setdefault(i, {})[text] = why.replace(
                        f"element {tag}", f"element {self.paths[i][-1]}"
                    )
        if bad:
            import polars as pl

            marks = slots.select(
                pl.col(_leaf(i)).is_in(list(bad[i])).fill_null(False).alias(str(i)) for i in sorted(bad)
            )
            first = marks.with_row_index("_row").filter(pl.any_horizontal(pl.exclude("_row"))).head(1)
            if first.height:
                row = first.get_column("_row")[0]
                i = next(i for i in sorted(bad) if first.get_column(str(i))[0])
                text = slots.get_column(_leaf(i))[row]
                where = "/".join((*RECORD_PATH, *self.paths[i]))
                return f"form_id {form_ids[row]}, element {where}: {bad[i][text]}"
        return "the records' values as a whole (each one validates on its own)"  # pragma: no cover

    def skeleton(self, document: bytes, index: pl.DataFrame) -> None:
        """Check 1: ``document`` is a transmission's manifest and headers with the first record of
        each shape of each submission (``index``: their form_id, submission_id in document order).
        Raises :class:`SchemaError` naming where it fails."""
        if validate(self.schema, [document]):
            raise SchemaError(locate(self.schema, document, index))


# ---- leaves' texts proven valid on the columns ---------------------------------------------------


@dataclass(frozen=True)
class Declaration:
    """A leaf's declaration as the package writes it (``flows.io.iris_package.value_schema``): the
    XSD built-in type its simple type derives from (``"string"``, ``"decimal"``, …), the facets of
    each restriction on the way (``(facet, value)`` pairs, one tuple per restriction, the leaf's
    own first), and the element's ``fixed`` and ``default`` values."""

    builtin: str
    steps: tuple[tuple[tuple[str, str], ...], ...]
    fixed: str | None = None
    default: str | None = None


#: The characters a leaf's text may hold for the text, as written, to *be* its value: XML characters
#: (XML 1.0 §2.2) but ``&``, ``<`` and ``>`` (markup, escapes, ``]]>``) and carriage return (§2.11
#: turns it into a line feed). A text with any other character is left to libxml2.
_WRITTEN_AS_IS = (
    r"[\x{9}\x{A}\x{20}-\x{25}\x{27}-\x{3B}\x{3D}\x{3F}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]"
)
_AS_WRITTEN = f"^{_WRITTEN_AS_IS}*$"
_NOTHING = r"[^\x{0}-\x{10FFFF}]"  # a class no character is in


def _as_is(text: str) -> bool:
    """Whether every character of ``text`` is in :data:`_WRITTEN_AS_IS`."""
    return all(
        c not in "&<>"
        and (c in "\t\n" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000")
        for c in text
    )


#: XSD single-character escapes (XML Schema Part 2, Appendix F: SingleCharEsc).
_SINGLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"} | {c: c for c in "\\|.-^?*+{}()[]"}


def _char(c: str) -> str:
    """A character of a pattern: itself if a text holds it as written, else a class of nothing."""
    return f"\\x{{{ord(c):X}}}" if _as_is(c) else _NOTHING


def _class(pattern: str, i: int) -> tuple[str, int] | None:
    """The character class starting at ``pattern[i]`` (``[``) as a Rust class, and the index after
    it; None for what is not translated (negation, subtraction, multi-character escapes)."""
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        return None
    items: list[str] = []  # single characters, then ranges built from them
    out: list[str] = []
    start = i
    while i < len(pattern) and pattern[i] != "]":
        c = pattern[i]
        if c == "[":
            return None
        if c == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in _SINGLE_ESCAPES:
                return None
            items.append(_SINGLE_ESCAPES[pattern[i + 1]])
            i += 2
            continue
        if c == "-" and i != start and i + 1 < len(pattern) and pattern[i + 1] != "]":
            # a range: the previous character to the next one
            if not items or i + 1 >= len(pattern):
                return None
            low = items.pop()
            nxt = pattern[i + 1]
            if nxt in "[-":
                return None  # subtraction, or an ambiguous '-'
            if nxt == "\\":
                if i + 2 >= len(pattern) or pattern[i + 2] not in _SINGLE_ESCAPES:
                    return None
                high, i = _SINGLE_ESCAPES[pattern[i + 2]], i + 3
            else:
                high, i = nxt, i + 2
            if ord(high) < ord(low):
                return None
            out.append(f"\\x{{{ord(low):X}}}-\\x{{{ord(high):X}}}")
            continue
        items.append(c)
        i += 1
    if i >= len(pattern) or (not items and not out):
        return None
    out += [f"\\x{{{ord(c):X}}}" for c in items]
    return "[" + "".join(out) + "&&" + _WRITTEN_AS_IS + "]", i + 1


def xsd_regex(pattern: str) -> str | None:
    """An XSD ``pattern`` (implicitly anchored; XML Schema Part 2, Appendix F) as a Rust regex
    matching exactly the strings it matches that hold only characters written as themselves
    (:data:`_WRITTEN_AS_IS`: classes intersected with it, other characters a class of nothing),
    or None when it uses what is not translated here: ``.``,
    multi-character escapes (``\\d``, ``\\s``, ``\\i``, ``\\c``, ``\\w``, ``\\p{..}``), negated classes,
    class subtraction. Translated: characters (each written ``\\x{..}``, so ``^`` and ``$`` — ordinary
    characters in XSD — stay characters), single-character escapes, classes of characters and
    ranges, groups, branches, the quantifiers ``? * + {n} {n,} {n,m}``."""
    out = []
    i = 0
    quantifiable = False
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            found = _class(pattern, i)
            if found is None:
                return None
            text, i = found
            out.append(text)
            quantifiable = True
            continue
        if c == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in _SINGLE_ESCAPES:
                return None
            out.append(_char(_SINGLE_ESCAPES[pattern[i + 1]]))
            i += 2
            quantifiable = True
            continue
        if c in "*+?{":
            if not quantifiable:
                return None
            if c == "{":
                end = pattern.find("}", i)
                match = re.fullmatch(r"(\d+)(,(\d*))?", pattern[i + 1 : end]) if end > 0 else None
                if match is None or (match[3] and int(match[3]) < int(match[1])):
                    return None
                out.append(pattern[i : end + 1])
                i = end + 1
            else:
                out.append(c)
                i += 1
            quantifiable = False  # XSD allows one quantifier per atom
            continue
        if c == "(":
            out.append("(?:")
            quantifiable = False
        elif c == ")":
            out.append(")")
            quantifiable = True
        elif c == "|":
            out.append("|")
            quantifiable = False
        elif c in ".]}":
            return None
        else:
            out.append(_char(c))
            quantifiable = True
        i += 1
    return "^(?:" + "".join(out) + ")$"


def _decimal_form(steps: tuple[tuple[tuple[str, str], ...], ...]) -> str | None:
    """For a restriction of ``xsd:decimal`` by fractionDigits, totalDigits, minInclusive ≤ 0 and
    maxInclusive: a regex of the plain forms (no sign, no blank, no leading zero, one integer digit
    at least) every one of which is valid — at most f fraction digits but trailing zeros (the facets
    count the digits of the value, XML Schema Part 2 §4.3.11–12), and at most L integer digits with
    max(L, 1) + f ≤ totalDigits (a leading 0 counted or not) and 10^L − 10^−f ≤ maxInclusive.
    Other forms (``+1``, ``01.5``, ``1.``, `` 1 ``, larger values) are not proven: left to libxml2."""
    from decimal import Decimal, InvalidOperation

    facets: dict[str, list[str]] = {}
    for step in steps:
        for name, value in step:
            facets.setdefault(name, []).append(value)
    if not set(facets) <= {"fractionDigits", "totalDigits", "minInclusive", "maxInclusive", "whiteSpace"}:
        return None
    if any(w != "collapse" for w in facets.get("whiteSpace", [])):
        return None
    try:
        fraction = min(int(v) for v in facets["fractionDigits"])
        total = min(int(v) for v in facets["totalDigits"])
        low = [Decimal(v) for v in facets.get("minInclusive", [])]
        high = min((Decimal(v) for v in facets.get("maxInclusive", [])), default=None)
    except (KeyError, ValueError, InvalidOperation):
        return None
    if any(bound > 0 for bound in low) or (high is not None and high < 0):
        return None
    digits = total - fraction
    while digits > 0 and high is not None and Decimal(10) ** digits - Decimal(10) ** -fraction > high:
        digits -= 1
    if fraction < 0 or max(digits, 1) + fraction > total:
        return None
    whole = "0" if digits == 0 else f"(?:0|[1-9][0-9]{{0,{digits - 1}}})"
    part = f"(?:\\.[0-9]{{1,{fraction}}}0*)?" if fraction else "(?:\\.0+)?"  # trailing zeros: no digits
    return f"^{whole}{part}$"


#: String facets a text is checked against on the columns; any other facet leaves the leaf to libxml2.
_STRING_FACETS = {"pattern", "enumeration", "length", "minLength", "maxLength", "whiteSpace"}


def proven(declaration: Declaration | None, text: pl.Expr) -> pl.Expr | None:
    """True where the written ``text`` is certainly valid for ``declaration`` (False or null: not
    proven, libxml2 decides); None when the declaration is not translated (every text to libxml2).

    Only a text that is its own value is proven: its characters are all :data:`_WRITTEN_AS_IS`
    (checked by itself, or implied by a pattern's translation, an enumeration of such values or a
    decimal form), so nothing in it is escaped, it is well-formed and neither end-of-line handling
    nor whitespace changes it (``xsd:string`` preserves; the decimal forms have no blank). Then,
    for a restriction of ``xsd:string``: at each restriction, one of its patterns (translated by
    :func:`xsd_regex`) and one of its enumerations match and its lengths (in characters) hold;
    the text equals the element's ``fixed`` value if it has one — or is empty, when the element has
    a fixed or default value: an empty element takes that value (XML Schema Part 1, §3.3.4, Element
    Locally Valid (Element) 5.1), valid for the schema to load. For a restriction of ``xsd:decimal``: one of the
    plain forms of :func:`_decimal_form`. Any other facet, built-in type or fixed decimal: None."""
    import polars as pl

    if declaration is None:
        return None
    conditions = []
    characters_checked = False
    if declaration.builtin == "string":
        for step in declaration.steps:
            patterns, enumeration = [], []
            for name, value in step:
                if name not in _STRING_FACETS or (name == "whiteSpace" and value != "preserve"):
                    return None
                if name == "pattern":
                    regex = xsd_regex(value)
                    if regex is None:
                        return None
                    patterns.append(regex)
                elif name == "enumeration":
                    enumeration.append(value)
                elif name != "whiteSpace":
                    length, limit = text.str.len_chars(), int(value)
                    conditions.append(
                        {
                            "length": length == limit,
                            "minLength": length >= limit,
                            "maxLength": length <= limit,
                        }[name]
                    )
            if patterns:
                conditions.append(text.str.contains("|".join(f"(?:{p})" for p in patterns)))
                characters_checked = True
            if enumeration:
                conditions.append(text.is_in([v for v in enumeration if _as_is(v)]))
                characters_checked = True
        if declaration.fixed is not None:
            if not _as_is(declaration.fixed):
                return None
            conditions.append(text == declaration.fixed)
            characters_checked = True
    elif declaration.builtin == "decimal" and declaration.fixed is None:
        form = _decimal_form(declaration.steps)
        if form is None:
            return None
        conditions.append(text.str.contains(form))
        characters_checked = True
    else:
        return None
    if not characters_checked:
        conditions.append(text.str.contains(_AS_WRITTEN))
    valid = pl.all_horizontal(conditions) if len(conditions) > 1 else conditions[0]
    if declaration.fixed is not None or declaration.default is not None:
        valid = valid | (text == "")  # an empty element takes the (valid) fixed or default value
    return valid
