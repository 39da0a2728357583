"""Where a value could hide in Prefect's store: the SQLite database (and its write-ahead log) of a
server, and the result storage of a client, where Prefect writes base64 of pickled objects — so
the files are searched as they are and with every base64 run in them decoded."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")


def readable_forms(data: bytes) -> list[bytes]:
    """``data`` itself and every base64 run in it decoded (a line-wrapped file read whole too)."""
    forms = [data]
    for blob in [data.replace(b"\n", b""), *_BASE64_RUN.findall(data)]:
        try:
            forms.append(base64.b64decode(blob + b"=" * (-len(blob) % 4), validate=False))
        except (binascii.Error, ValueError):
            continue
    return forms


def leaked(folders: list[Path], values: list[str]) -> list[str]:
    """The ``values`` found in any file under ``folders`` (plain, UTF-8, or base64-decoded)."""
    wanted = {v: v.encode() for v in values if v}
    found: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*") if folder.is_dir() else []:
            if not path.is_file():
                continue
            forms = readable_forms(path.read_bytes())
            found |= {v for v, raw in wanted.items() if any(raw in form for form in forms)}
    return sorted(found)
