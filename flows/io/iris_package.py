"""The IRS's IRIS A2A schema package the transmitter receives: where it is, and its schema loaded once.

The folder is a setting (``[iris] schema_package`` in ``prorata.toml``, else the environment variable
``PRORATA_IRIS_SCHEMA_PACKAGE``), so a newer package is a configuration change: the transmission
schema is the package's ``*/MSG/IRS-IRIntakeTransmissionMessage.xsd`` (it includes COMMON/ and
FORM_TYPES/), and the ``SchemaVersionNum`` a transmission must carry is the value that schema fixes.
Tests and CI use the copy vendored in ``tests/data/iris-a2a-ty2025-v1.2``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from flows.environment import Environment, environment

#: Where the package is when ``prorata.toml`` does not say.
PACKAGE_ENV = Environment.variable("iris_schema_package")
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
