"""Small nightly extracts for the store, filing and correction tests (built on tests/builders.py).

``year_extracts(tax_year)`` gives three extracts of one plan P1:

* ``night1`` (created 5 Jan): payees PY1..PY5, one cash event each;
* ``night2`` (created 6 Jan): payees PY6..PY8, one cash event each;
* ``fix`` (created 20 Jan, ``supersedes`` night2): night2 again with three payees changed —
  PY6's amount (Type 1), PY7 became disabled so its box 7 code goes from 1 to 3 (a new form key,
  Type 1 under the original account number), and PY2's TIN corrected (Type 2).
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

from tests.builders import contract_row, dist_row, frame, participant_row, payee_row, plan_row

TABLES = ("plans", "payees", "participants", "contracts", "distributions")


def _person(
    i: int, tax_year: int, *, amount: int, tin: str | None = None, disabled: bool = False, plan: str = "P1"
) -> dict:
    pid, pt, ev = f"PY{i}", f"PT{i}", f"E{i}"
    return {
        "payees": [payee_row(pid, tin=tin or f"40000000{i}", last_name=f"Case{i}", dob=date(1980, 1, 15))],
        "participants": [participant_row(pt, pid, plan_id=plan, disabled=disabled)],
        "contracts": [contract_row(ev, "non_roth", 1_000_000, 100_000)],
        "distributions": [
            dist_row(
                f"D{i}",
                ev,
                "non_roth",
                amount,
                participant_id=pt,
                payee_id=pid,
                plan_id=plan,
                payment_date=date(tax_year, 3, i),
                reason="in_service",
                federal_withholding_cents=amount // 10,
            )
        ],
    }


def write_extract(
    folder: Path,
    people: list[dict],
    *,
    extract_id: str,
    created_at: str,
    tax_year: int,
    supersedes: str | None = None,
    extra_payees: list[dict] | None = None,
    plans: list[dict] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list] = {t: [] for t in TABLES}
    rows["plans"] = plans or [plan_row("P1")]
    for p in people:
        for t in ("payees", "participants", "contracts", "distributions"):
            rows[t] += p[t]
    rows["payees"] += extra_payees or []
    for t in TABLES:
        frame(t, rows[t]).write_parquet(folder / f"{t}.parquet")
    manifest = {
        "extract_id": extract_id,
        "recordkeeper": "tests",
        "tax_year": tax_year,
        "created_at": created_at,
    }
    if supersedes:
        manifest["supersedes"] = supersedes
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def year_extracts(root: Path, tax_year: int = 2025) -> dict[str, Path]:
    night1 = [_person(i, tax_year, amount=100_000 * i) for i in range(1, 6)]
    night2 = [_person(i, tax_year, amount=100_000 * i) for i in range(6, 9)]
    fixed = [
        _person(6, tax_year, amount=654_321),  # amount
        _person(7, tax_year, amount=700_000, disabled=True),  # code 1 -> 3
        _person(8, tax_year, amount=800_000),
    ]
    tin_fix = [payee_row("PY2", tin="400000092", last_name="Case2", dob=date(1980, 1, 15))]
    y = tax_year
    return {
        "night1": write_extract(
            root / "night1", night1, extract_id=f"n1-{y}", created_at=f"{y + 1}-01-05T02:00:00", tax_year=y
        ),
        "night2": write_extract(
            root / "night2", night2, extract_id=f"n2-{y}", created_at=f"{y + 1}-01-06T02:00:00", tax_year=y
        ),
        "fix": write_extract(
            root / "fix",
            fixed,
            extract_id=f"fix-{y}",
            created_at=f"{y + 1}-01-20T02:00:00",
            tax_year=y,
            supersedes=f"n2-{y}",
            extra_payees=tin_fix,
        ),
    }


def approve_pending(store: Path, tax_year: int, user: str = "bob") -> str:
    """Approve the one filing of the year awaiting approval (prepared by someone else); its id."""
    from flows.io.store import Store
    from flows.season.filings import approve, pending_filings

    pending = pending_filings(Store(store), tax_year)
    assert pending.height == 1, pending
    filing_id = pending["filing_id"][0]
    assert approve(store, tax_year, filing_id, user=user).status == "approved"
    return filing_id


#: A receipt id of the IRS's form (IRS-IR-TransStatusOrAckResponse.xsd, ReceiptIdType).
def receipt(n: int) -> str:
    return f"2027-{n:011d}-abc{n:06d}"


def year_inbox(root: Path, names: tuple[str, ...] = ("night1",), inbox: str = "inbox") -> Path:
    """``root/inbox`` holding the extracts ``names`` of :func:`year_extracts`, a folder each."""
    src = year_extracts(root / "src")
    folder = root / inbox
    folder.mkdir()
    for name in names:
        shutil.copytree(src[name], folder / name)
    return folder


def edit_manifest(folder: Path, **changes) -> Path:
    """The extract's manifest.json with ``changes`` (keys set to the values given)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, **changes}))
    return folder
