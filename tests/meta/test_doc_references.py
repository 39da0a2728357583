"""Every document the code, the docs and the tests cite is in the repository: a reference to a
Markdown document must resolve to a file of this tree, and nothing may send a reader to ../shared,
which a clone does not have. The exceptions are the verbatim copies themselves (docs/spec/,
docs/reference/: their text is the shared one, word for word), the IRS package vendored unchanged,
and the test that compares the copies with ../shared."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".yml", ".yaml"}
NAMES = {"Makefile", "run"}
VERBATIM = ("docs/spec/", "docs/reference/", "tests/data/iris-a2a-ty2025-v1.2/")
ALLOWED_SHARED = {"tests/meta/test_spec_docs.py", "tests/meta/test_doc_references.py"}
REFERENCE = re.compile(r"(?<![\w/.\-])((?:\.\.?/)*(?:[\w.\-]+/)*[\w.\-]+\.md)\b")
SHARED = re.compile(r"(?<![\w\-])(?:\.\./)*shared/(?:spec|reference|examples|seeds)\b")


def files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        paths = [ROOT / p for p in listed]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        paths = [p for p in ROOT.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts]
    return [p for p in paths if p.is_file() and (p.suffix in SUFFIXES or p.name in NAMES)]


def documents() -> dict[str, list[Path]]:
    docs: dict[str, list[Path]] = {}
    for p in (ROOT / "docs").rglob("*.md"):
        docs.setdefault(p.name, []).append(p)
    return docs


def resolves(ref: str, source: Path, docs: dict[str, list[Path]]) -> bool:
    """A reference names a file relative to the file that cites it or to the repository root; a
    bare name (no folder) may also name a document of docs/."""
    if (source.parent / ref).is_file() or (ROOT / ref).is_file():
        return True
    return "/" not in ref and ref in docs


def test_every_cited_document_is_in_the_repository():
    docs = documents()
    missing = []
    for path in files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(VERBATIM) or rel in ALLOWED_SHARED:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for ref in REFERENCE.findall(line):
                if ref.startswith(("http", "www.")) or ref == ".md":
                    continue
                if not resolves(ref, path, docs):
                    missing.append(f"{rel}:{n}: {ref}")
    assert missing == [], "references to documents that are not in the repository:\n" + "\n".join(missing)


def test_nothing_sends_a_reader_to_the_shared_folder_outside_the_repository():
    found = []
    for path in files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(VERBATIM) or rel in ALLOWED_SHARED:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if SHARED.search(line):
                found.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert found == [], "references to ../shared (not in a clone):\n" + "\n".join(found)
