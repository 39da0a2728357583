"""Electronic filing of Forms 1099-R: Publication 1220 (FIRE) files and IRIS A2A XML.

Pure functions: frames in, bytes out (and back). See ``docs/reference/irs-filing-formats.md``.

``shared`` (the filing frame, payer, text rules, checks, order, Transmitter) and ``grouped`` (payer
groups of a filing too large for memory) serve both systems; ``fire/`` and ``iris/`` each import
from them and never from each other; ``channel`` says which system takes a transmission.

The names below are imported when first used (the IRIS schema check runs in a process of its own
that needs lxml, not polars).
"""

from __future__ import annotations

import importlib

_WHERE = {
    "iter_pub1220": "transforms.irs.fire.pub1220",
    "write_pub1220": "transforms.irs.fire.pub1220",
    "Pub1220File": "transforms.irs.fire.pub1220_reader",
    "check_pub1220": "transforms.irs.fire.pub1220_reader",
    "read_pub1220": "transforms.irs.fire.pub1220_reader",
    "iter_iris_xml": "transforms.irs.iris.iris_xml",
    "write_iris_xml": "transforms.irs.iris.iris_xml",
    "FilingInputError": "transforms.irs.shared",
    "Transmitter": "transforms.irs.shared",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'transforms.irs' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
