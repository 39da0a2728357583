"""The format in the repository: docs/spec/ is the project's own copy of the public interface and
docs/reference/ of the law references, kept in step with ../shared where that folder exists (a clone
alone has only the repository's copies: the comparison is skipped there)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
MARKER = "<!-- extensions of this project:"

COPIES = [
    ("docs/spec/extract.md", "spec/extract.md"),
    ("docs/spec/outputs.md", "spec/outputs.md"),
    ("docs/reference/tax-rules.md", "reference/tax-rules.md"),
    ("docs/reference/irs-filing-formats.md", "reference/irs-filing-formats.md"),
    ("docs/reference/ecosystem-notes.md", "reference/ecosystem-notes.md"),
    ("docs/reference/style.md", "reference/style.md"),
]


def interface_part(text: str) -> str:
    """The text above the project's extensions (the whole text when it has none)."""
    head, _, _ = text.partition(MARKER)
    return head.rstrip("\n") + "\n"


@pytest.mark.parametrize(("ours", "theirs"), COPIES)
def test_the_repository_copy_states_the_shared_document_word_for_word(ours, theirs):
    mine = (ROOT / ours).read_text(encoding="utf-8")
    if not (SHARED / theirs).is_file():
        pytest.skip(f"../shared/{theirs} is not beside this clone: nothing to compare with")
    assert interface_part(mine) == interface_part((SHARED / theirs).read_text(encoding="utf-8")), (
        f"{ours} is out of step with ../shared/{theirs}: copy the new text above the extensions"
    )


def test_the_extensions_of_the_extract_are_declared_in_the_contract():
    from contracts.extract import TABLES

    text = (ROOT / "docs/spec/extract.md").read_text(encoding="utf-8").partition(MARKER)[2]
    assert "| participants | account_number |" in text
    column = TABLES["participants"].column("account_number")
    assert not column.required and column.nullable
