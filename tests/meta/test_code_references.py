"""Every module, function or name of ours that a document or a docstring cites exists: a reference
in backquotes (``transforms.law.basis.draw_cents``, :func:`transforms.engine.legs.compute`) to
``transforms``, ``contracts`` or ``flows`` resolves to a module and an attribute of it. Code moves;
the docs must follow."""

from __future__ import annotations

import importlib
import re
from functools import cache

from tests.meta.test_doc_references import ROOT, VERBATIM, files

REFERENCE = re.compile(r"`~?((?:transforms|contracts|flows)(?:\.[A-Za-z_]\w*)+)`")
FILE_SUFFIXES = {"parquet", "py", "json", "toml", "md", "csv", "txt", "xml", "html", "xlsx", "pdf"}


@cache
def resolves(reference: str) -> bool:
    parts = reference.split(".")
    for i in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for name in parts[i:]:
                target = getattr(target, name)
        except AttributeError:
            return False
        return True
    return False


def test_every_cited_name_of_ours_exists():
    missing = []
    for path in files():
        if path.suffix not in (".py", ".md") or path.relative_to(ROOT).as_posix().startswith(VERBATIM):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for reference in REFERENCE.findall(line):
                if reference.rsplit(".", 1)[-1] in FILE_SUFFIXES:
                    continue
                if not resolves(reference):
                    missing.append(f"{path.relative_to(ROOT)}:{n}: {reference}")
    assert missing == [], "references to names that do not exist:\n" + "\n".join(missing)
