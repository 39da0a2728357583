"""Electronic filing of Forms 1099-R: Publication 1220 (FIRE) files and IRIS A2A XML.

Pure functions: frames in, bytes out (and back). See ``shared/reference/irs-filing-formats.md``.
"""

from transforms.irs.iris_xml import iter_iris_xml, write_iris_xml
from transforms.irs.pub1220 import FilingInputError, Transmitter, iter_pub1220, write_pub1220
from transforms.irs.pub1220_reader import Pub1220File, check_pub1220, read_pub1220

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
