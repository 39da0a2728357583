"""Small extracts built by column name, for sentence-named rule tests.

``Case`` holds one or more participants' rows with sensible defaults; ``case.run()`` validates the
tables with the real contracts and runs the real engine, so every test exercises the same code as
``prorata run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from contracts.extract import TABLES
from contracts.loading import conform
from contracts.validate import validate
from transforms.engine import EngineResult, compute
from transforms.engine.resolver import Rules
from transforms.law.params import TaxParameters

TAX_YEAR = 2025
PAY_DATE = date(2025, 6, 2)


def rule(name: str, tax_year: int = TAX_YEAR, windows: dict | None = None, **columns: list) -> list:
    """The values rule ``name`` of ``transforms.law`` gives on a frame built from ``columns`` (one list
    each), in ``tax_year``: evaluated eagerly as the engine does it (staged, in Int64 where that is
    exact) and lazily as one expression (everything inlined, every product in Int128) — the two must
    agree."""
    rules = Rules(TaxParameters.for_year(tax_year), windows or {})
    data = pl.DataFrame(columns)
    eager = rules.columns(data, [name]).to_series()
    lazy = data.lazy().select(rules.expr(name, data.schema)).collect().to_series()
    assert eager.equals(lazy), (name, eager.to_list(), lazy.to_list())
    return eager.to_list()


def plan_row(plan_id: str = "P1", **kw) -> dict:
    row = {
        "plan_id": plan_id,
        "plan_name": f"Plan {plan_id}",
        "plan_type": "401k",
        "payer_tin": "123456780",
        "payer_name": f"Trust of {plan_id}",
        "payer_address": "1 Main St",
        "payer_city": "Springfield",
        "payer_state": "IL",
        "payer_zip": "62701",
        "payer_phone": "2175550100",
        "after_tax_separately_accounted": False,
        "pre1987_recovery": False,
    }
    row.update(kw)
    return row


def payee_row(payee_id: str, tin: str = "400000001", dob: date | None = date(1980, 1, 15), **kw) -> dict:
    row = {
        "payee_id": payee_id,
        "tin": tin,
        "tin_type": "ssn",
        "first_name": "Pat",
        "last_name": "Case",
        "address": "2 Elm St",
        "city": "Columbus",
        "state": "OH",
        "zip": "43004",
        "country": "US",
        "date_of_birth": dob,
        "us_person": True,
    }
    row.update(kw)
    return row


def participant_row(participant_id: str, payee_id: str, plan_id: str = "P1", **kw) -> dict:
    row = {
        "participant_id": participant_id,
        "plan_id": plan_id,
        "payee_id": payee_id,
        "date_of_death": None,
        "disabled": False,
        "separation_date": None,
        "public_safety_employee": False,
        "roth_first_year": None,
    }
    row.update(kw)
    return row


def contract_row(event_id: str, contract: str, value: int, basis: int, **kw) -> dict:
    row = {
        "event_id": event_id,
        "contract": contract,
        "value_cents": value,
        "basis_cents": basis,
        "pre1987_basis_cents": 0,
        "irr_recapture_cents": 0,
        "foreign_source_cents": 0,
    }
    row.update(kw)
    return row


def dist_row(
    distribution_id: str,
    event_id: str,
    contract: str,
    amount: int,
    destination: str = "cash",
    *,
    participant_id: str = "PT1",
    payee_id: str = "PY1",
    plan_id: str = "P1",
    payment_date: date = PAY_DATE,
    reason: str = "separation",
    **kw,
) -> dict:
    row = {
        "distribution_id": distribution_id,
        "event_id": event_id,
        "participant_id": participant_id,
        "payee_id": payee_id,
        "plan_id": plan_id,
        "payment_date": payment_date,
        "contract": contract,
        "amount_cents": amount,
        "destination": destination,
        "rollover_order": None,
        "reason": reason,
        "corrective_taxable_year": None,
        "from_rollover_source": False,
        "federal_withholding_cents": 0,
        "state": None,
        "state_withholding_cents": 0,
        "state_payer_id": None,
        "local_withholding_cents": 0,
        "locality": None,
    }
    row.update(kw)
    return row


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    spec = TABLES[table]
    schema = {c.name: c.dtype for c in spec.columns}
    data = {name: [r.get(name) for r in rows] for name in schema}
    return pl.DataFrame(data, schema=schema)


@dataclass
class Case:
    """One small extract. Defaults: plan P1 (401(k)), participant PT1 paid as payee PY1."""

    plans: list[dict] = field(default_factory=lambda: [plan_row()])
    payees: list[dict] = field(default_factory=lambda: [payee_row("PY1")])
    participants: list[dict] = field(default_factory=lambda: [participant_row("PT1", "PY1")])
    contracts: list[dict] = field(default_factory=list)
    distributions: list[dict] = field(default_factory=list)
    tax_year: int = TAX_YEAR

    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            name: conform(frame(name, getattr(self, name)), TABLES[name])
            for name in ("plans", "payees", "participants", "contracts", "distributions")
        }

    def validated(self):
        return validate(self.tables(), self.tax_year)

    def run(self, *, allow_quarantine: bool = False) -> EngineResult:
        v = self.validated()
        if not allow_quarantine:
            assert v.quarantine.height == 0, v.quarantine.to_dicts()
        return compute(v.tables, TaxParameters.for_year(self.tax_year))

    def row(self, distribution_id: str) -> dict:
        d = self.run().distributions
        return d.filter(pl.col("distribution_id") == distribution_id).row(0, named=True)

    def write(self, folder: Path, extract_id: str = "test-extract") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("plans", "payees", "participants", "contracts", "distributions"):
            frame(name, getattr(self, name)).write_parquet(folder / f"{name}.parquet")
        (folder / "manifest.json").write_text(
            json.dumps(
                {
                    "extract_id": extract_id,
                    "recordkeeper": "tests",
                    "tax_year": self.tax_year,
                    "created_at": "2026-01-05T00:00:00",
                }
            )
        )
        return folder


def one_contract_case(
    contract: str,
    value: int,
    basis: int,
    legs: list[tuple[str, int, str]],
    *,
    plan: dict | None = None,
    participant: dict | None = None,
    dob: date = date(1980, 1, 15),
    reason: str = "separation",
    extra_contracts: list[dict] | None = None,
    **contract_kw,
) -> Case:
    """One event E1 drawing ``legs`` = [(distribution_id, amount, destination)] from one contract."""
    case = Case()
    if plan:
        case.plans = [plan_row(**plan)]
    case.payees = [payee_row("PY1", dob=dob)]
    if participant:
        case.participants = [participant_row("PT1", "PY1", **participant)]
    case.contracts = [contract_row("E1", contract, value, basis, **contract_kw), *(extra_contracts or [])]
    case.distributions = [dist_row(did, "E1", contract, amt, dest, reason=reason) for did, amt, dest in legs]
    return case
