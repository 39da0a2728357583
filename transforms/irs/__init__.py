"""Electronic filing of Forms 1099-R: Publication 1220 (FIRE) files and IRIS A2A XML.

Pure functions: frames in, bytes out (and back). See ``shared/reference/irs-filing-formats.md``.

``shared`` (the filing frame, payer, text rules, checks, order, Transmitter) and ``grouped`` (payer
groups of a filing too large for memory) serve both systems; ``fire/`` and ``iris/`` each import
from them and never from each other; ``channel`` says which system takes a transmission.
"""

from transforms.irs.fire.pub1220 import iter_pub1220, write_pub1220
from transforms.irs.fire.pub1220_reader import Pub1220File, check_pub1220, read_pub1220
from transforms.irs.iris.iris_xml import iter_iris_xml, write_iris_xml
from transforms.irs.shared import FilingInputError, Transmitter

__all__ = [
    "FilingInputError",
    "Pub1220File",
    "Transmitter",
    "check_pub1220",
    "iter_iris_xml",
    "iter_pub1220",
    "read_pub1220",
    "write_iris_xml",
    "write_pub1220",
]
