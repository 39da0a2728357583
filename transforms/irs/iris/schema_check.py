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

import re
from collections.abc import Iterable
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
    ):
        self.schema = schema
        self.values_schema = values
        self.paths = paths  # the leaves' paths below the record's own element
        #: each leaf's kind of declaration: the element ``S{kind}`` of the schema of values
        self.kinds = kinds if kinds is not None else tuple(range(len(paths)))

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

    def values(self, slots: pl.DataFrame, form_ids: pl.Series) -> None:
        """Check 2 over one chunk of records: ``slots`` holds :meth:`slots`' columns (one row per
        record, ``form_ids`` in the same order). Raises :class:`SchemaError` naming the first record
        and leaf that fail."""
        import polars as pl

        leaves: dict[int, list[str]] = {}
        for i, kind in enumerate(self.kinds):
            leaves.setdefault(kind, []).append(_leaf(i))
        columns = []
        for kind in sorted(leaves):  # the order of the schema of values' sequence
            texts = (
                pl.col(leaves[kind][0]) if len(leaves[kind]) == 1 else pl.concat_list(leaves[kind]).explode()
            )
            tag = slot_tag(kind)
            columns.append(
                pl.concat_str(pl.lit(f"<{tag}>"), texts.drop_nulls().unique(), pl.lit(f"</{tag}>"))
                .str.join("")
                .alias(tag)
            )
        body = "".join(slots.select(columns).row(0))
        if self._valid(body):
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
