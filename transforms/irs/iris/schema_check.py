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
    tree = etree.fromstring(document, etree.XMLParser(huge_tree=True))
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
