"""The IRS's IRIS A2A schema package the transmitter receives: where it is, and its schema loaded once.

The folder is a setting (``[iris] schema_package`` in ``prorata.toml``, else the environment variable
``PRORATA_IRIS_SCHEMA_PACKAGE``), so a newer package is a configuration change: the transmission
schema is the package's ``*/MSG/IRS-IRIntakeTransmissionMessage.xsd`` (it includes COMMON/ and
FORM_TYPES/), and the ``SchemaVersionNum`` a transmission must carry is the value that schema fixes.
Tests and CI use the copy vendored in ``tests/data/iris-a2a-ty2025-v1.2``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from flows.environment import environment
from transforms.irs.iris.schema_check import NAMESPACE, VALUES_ROOT, Declaration, slot_tag

MESSAGE_XSD = "MSG/IRS-IRIntakeTransmissionMessage.xsd"


class SchemaPackageError(ValueError):
    """The configured folder is not an IRIS schema package; the message is one line."""


@dataclass(frozen=True)
class IrisSchema:
    """A loaded package: its folder, the transmission schema and the SchemaVersionNum it fixes."""

    package: Path
    schema: etree.XMLSchema
    version: str


def message_xsd(package: Path) -> Path:
    """The package's transmission schema (exactly one ``*/MSG/IRS-IRIntakeTransmissionMessage.xsd``)."""
    found = sorted(package.glob(f"*/{MESSAGE_XSD}")) + sorted(package.glob(MESSAGE_XSD))
    if len(found) != 1:
        raise SchemaPackageError(f"{package}: not an IRIS schema package (no single {MESSAGE_XSD} in it)")
    return found[0]


@functools.lru_cache(maxsize=4)
def load(package: Path) -> IrisSchema:
    """The package's transmission schema, loaded once per process."""
    xsd = message_xsd(package)
    try:
        tree = etree.parse(str(xsd))
        schema = etree.XMLSchema(tree)
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as error:
        raise SchemaPackageError(f"{xsd}: not a readable schema ({type(error).__name__})") from None
    ns = {"xsd": "http://www.w3.org/2001/XMLSchema"}
    fixed = tree.xpath("//xsd:element[@name='SchemaVersionNum']/@fixed", namespaces=ns)
    if len(fixed) != 1:
        raise SchemaPackageError(f"{xsd}: SchemaVersionNum has no fixed value")
    return IrisSchema(package, schema, str(fixed[0]))


def configured(setting: str) -> IrisSchema | None:
    """The package of ``setting`` (``[iris] schema_package``), else of ``PRORATA_IRIS_SCHEMA_PACKAGE``,
    loaded; None when neither is set (the transmissions are then written unchecked)."""
    folder = setting or environment().iris_schema_package
    if not folder:
        return None
    return load(Path(folder).resolve())


XSD = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XSD}}}"


def _documents(xsd: Path) -> list[etree._Element]:
    """The schema document and every document it includes (``xsd:include``), each once."""
    seen: dict[Path, etree._Element] = {}
    todo = [xsd.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        root = etree.parse(str(path)).getroot()
        seen[path] = root
        for include in root.iterfind(f"{_XS}include"):
            todo.append((path.parent / include.get("schemaLocation")).resolve())
        if root.find(f"{_XS}import") is not None or root.find(f"{_XS}redefine") is not None:
            raise SchemaPackageError(f"{path.name}: imports another namespace (not followed here)")
    return list(seen.values())


def _local(qname: str | None) -> str | None:
    """A type's name in the package's own namespace (its documents declare it the default one)."""
    if qname is None:
        return None
    if ":" in qname:
        raise SchemaPackageError(f"a type of another namespace ({qname}) on the way to a leaf")
    return qname


def _children(content: etree._Element) -> Iterator[etree._Element]:
    """The element declarations of a complex type's content model (sequences and choices, nested)."""
    for node in content:
        if not isinstance(node.tag, str) or node.tag == f"{_XS}annotation":
            continue
        if node.tag in (f"{_XS}sequence", f"{_XS}choice"):
            yield from _children(node)
        elif node.tag == f"{_XS}element" and node.get("name") is not None and node.get("ref") is None:
            yield node
        else:  # groups, extensions, attributes, wildcards, references: the proof would not hold
            raise SchemaPackageError(f"a content model with {etree.QName(node).localname}")


def _qualified(node: etree._Element, qname: str) -> tuple[str | None, str]:
    """A QName attribute's namespace (by ``node``'s prefixes) and local name."""
    prefix, _, local = qname.rpartition(":")
    return node.nsmap.get(prefix or None), local


def _declaration(leaf: etree._Element, simple: dict[str, etree._Element]) -> Declaration | None:
    """What ``leaf`` (the package's leaf declaration) declares, as :class:`Declaration`: its built-in type
    and the facets of each restriction on the way to it; None where the way holds anything else
    (a list, a union, a type of another namespace, an attribute of the element not understood):
    its texts are then all validated by libxml2."""
    if not set(leaf.attrib) <= {"name", "minOccurs", "maxOccurs", "type", "fixed", "default"}:
        return None
    steps = []
    node = leaf.find(f"{_XS}simpleType") if leaf.get("type") is None else None
    reference, scope = leaf.get("type"), leaf  # a type's name and the element whose prefixes it uses
    for _ in range(64):  # a chain of restrictions (the package's are a few long)
        if node is None:
            if reference is None:
                return None
            namespace, local = _qualified(scope, reference)
            if namespace == XSD:
                return Declaration(local, tuple(steps), leaf.get("fixed"), leaf.get("default"))
            node = simple.get(local) if namespace == NAMESPACE else None
            if node is None:
                return None
        parts = [c for c in node if isinstance(c.tag, str) and c.tag != f"{_XS}annotation"]
        if len(parts) != 1 or parts[0].tag != f"{_XS}restriction" or parts[0].get("base") is None:
            return None
        restriction = parts[0]
        facets = [c for c in restriction if isinstance(c.tag, str) and c.tag != f"{_XS}annotation"]
        if any(not f.tag.startswith(_XS) or f.get("value") is None for f in facets):
            return None
        steps.append(tuple((etree.QName(f).localname, f.get("value")) for f in facets))
        node, reference, scope = None, restriction.get("base"), restriction
    return None


@functools.lru_cache(maxsize=8)
def value_schema(
    package: Path, paths: tuple[tuple[str, ...], ...]
) -> tuple[etree.XMLSchema, tuple[int, ...], tuple[Declaration | None, ...]]:
    """A schema of the package's namespace that includes the package's transmission schema and
    declares, for each kind of leaf declaration ``k`` met on the leaves ``paths`` (element names from
    the document's root), a global element ``S{k}`` whose declaration is the leaves' own, copied
    from the package (its type — named or anonymous —, facets and fixed value; leaves whose
    declarations are the same but for their names share one), and a root ``ProrataValues`` that
    holds any number of each, in the order of ``k``: texts validated there are validated exactly
    as in their place in a transmission (:class:`transforms.irs.iris.schema_check.RecordCheck`).
    Returns the schema, each leaf's ``k`` and each ``k``'s :class:`Declaration` (None where it is
    not read: its texts then all go to libxml2). Raises :class:`SchemaPackageError` when a leaf is not
    found or the way to it holds what the proof does not cover (groups, extensions, attributes,
    wildcards, references, imports)."""
    from copy import deepcopy

    xsd = message_xsd(package)
    documents = _documents(xsd)
    for root in documents:
        if root.get("targetNamespace") != NAMESPACE or root.nsmap.get(None) != NAMESPACE:
            raise SchemaPackageError(f"{xsd.name}: a document of another namespace")
        if root.get("elementFormDefault") not in (None, "qualified") and root is documents[0]:
            raise SchemaPackageError(f"{xsd.name}: unqualified elements")
    types = {t.get("name"): t for r in documents for t in r.iterfind(f"{_XS}complexType")}
    simple = {t.get("name"): t for r in documents for t in r.iterfind(f"{_XS}simpleType")}
    declarations: list[Declaration | None] = []
    top = {e.get("name"): e for r in documents for e in r.iterfind(f"{_XS}element")}
    wrapper = etree.Element(
        f"{_XS}schema",
        nsmap={None: NAMESPACE, "xsd": XSD},
        targetNamespace=NAMESPACE,
        elementFormDefault="qualified",
        attributeFormDefault="unqualified",
    )
    etree.SubElement(wrapper, f"{_XS}include", schemaLocation=xsd.name)
    sequence = etree.SubElement(
        etree.SubElement(etree.SubElement(wrapper, f"{_XS}element", name=VALUES_ROOT), f"{_XS}complexType"),
        f"{_XS}sequence",
    )
    kinds: dict[bytes, int] = {}
    kind_of = []
    for path in paths:
        declaration = top.get(path[0])
        for name in path[1:]:
            if declaration is None:
                break
            kind = _local(declaration.get("type"))
            content = types.get(kind) if kind else declaration.find(f"{_XS}complexType")
            if (
                content is None
                or content.get("mixed") == "true"
                or content.find(f"{_XS}attribute") is not None
            ):
                raise SchemaPackageError(f"{'/'.join(path)}: {name}'s parent is not an element of elements")
            declaration = next((e for e in _children(content) if e.get("name") == name), None)
        if declaration is None or declaration.find(f"{_XS}complexType") is not None:
            raise SchemaPackageError(f"{'/'.join(path)}: not a leaf of the package's schema")
        if declaration.get("type") and _local(declaration.get("type")) in types:
            raise SchemaPackageError(f"{'/'.join(path)}: not a leaf of the package's schema")
        if declaration.get("nillable") == "true" or declaration.get("substitutionGroup"):
            raise SchemaPackageError(f"{'/'.join(path)}: nillable or substitutable")
        leaf = deepcopy(declaration)
        for attribute in ("minOccurs", "maxOccurs", "name"):
            leaf.attrib.pop(attribute, None)
        for note in leaf.findall(f"{_XS}annotation"):
            leaf.remove(note)
        key = etree.tostring(leaf, method="c14n")
        if key not in kinds:
            kinds[key] = len(kinds)
            declarations.append(_declaration(declaration, simple))
            leaf.set("name", slot_tag(kinds[key]))
            wrapper.append(leaf)
            etree.SubElement(
                sequence, f"{_XS}element", ref=slot_tag(kinds[key]), minOccurs="0", maxOccurs="unbounded"
            )
        kind_of.append(kinds[key])
    if any(slot_tag(i) in top or VALUES_ROOT in top for i in range(len(kinds))):
        raise SchemaPackageError(f"{xsd.name}: declares an element named like a value slot")
    document = etree.fromstring(etree.tostring(wrapper), base_url=str(xsd.with_name("prorata-values.xsd")))
    try:
        return etree.XMLSchema(document), tuple(kind_of), tuple(declarations)
    except etree.XMLSchemaParseError as error:
        raise SchemaPackageError(
            f"{xsd.name}: the leaves' declarations do not make a schema ({error})"
        ) from None


def validated(package: Path, path: Path) -> list[str]:
    """The schema's findings on the transmission in ``path`` (without values), read in pieces."""
    from transforms.irs.iris.schema_check import SchemaFeed

    feed = SchemaFeed(load(package).schema)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            feed.feed(chunk)
    return feed.errors()


if __name__ == "__main__":  # python -m flows.io.iris_package PACKAGE FILE: the findings as JSON
    import json
    import sys

    print(json.dumps(validated(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))))
