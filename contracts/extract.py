"""The canonical extract (``docs/spec/extract.md``, version 1): its tables, columns and types.

This module declares each table once. :mod:`contracts.loading` reads and casts by these
declarations; :mod:`contracts.schemas` builds the pandera schemas from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

PLAN_TYPES = ("401k", "403b", "457b_governmental")
TIN_TYPES = ("ssn", "itin", "atin", "ein")
CONTRACTS = ("non_roth", "after_tax", "roth")
DESTINATIONS = (
    "cash",
    "rollover_ira",
    "rollover_roth_ira",
    "rollover_plan",
    "rollover_roth_plan",
    "in_plan_roth_rollover",
)
REASONS = (
    "separation",
    "in_service",
    "hardship",
    "death",
    "disability",
    "required_minimum",
    "loan_offset",
    "qualified_loan_offset",
    "deemed_loan",
    "qdro",
    "corrective",
)
# USPS codes: states, DC, territories and freely associated states, and the military "states".
USPS_CODES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "AS",
    "GU",
    "MP",
    "PR",
    "VI",
    "UM",
    "FM",
    "MH",
    "PW",
    "AA",
    "AE",
    "AP",
]

STR, INT, DATE, BOOL = "str", "int", "date", "bool"
DTYPES: dict[str, pl.DataType] = {STR: pl.String(), INT: pl.Int64(), DATE: pl.Date(), BOOL: pl.Boolean()}


@dataclass(frozen=True)
class Column:
    """One column of an extract table.

    ``required``: the column must be present in the file. ``nullable``: a present value may be null.
    ``default``: for optional columns, the value used when the column is absent (and for nulls in it).
    """

    name: str
    kind: str
    required: bool = True
    nullable: bool = False
    default: Any = None

    @property
    def dtype(self) -> pl.DataType:
        return DTYPES[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    optional_file: bool = False

    @property
    def file(self) -> str:
        return f"{self.name}.parquet"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _optional(name: str, kind: str, default: Any = None) -> Column:
    return Column(name, kind, required=False, nullable=default is None, default=default)


PLANS = Table(
    "plans",
    (
        Column("plan_id", STR),
        Column("plan_name", STR),
        Column("plan_type", STR),
        Column("payer_tin", STR),
        Column("payer_name", STR),
        Column("payer_address", STR),
        Column("payer_city", STR),
        Column("payer_state", STR),
        Column("payer_zip", STR),
        Column("payer_phone", STR),
        Column("after_tax_separately_accounted", BOOL),
        Column("pre1987_recovery", BOOL),
    ),
    key=("plan_id",),
)

PAYEES = Table(
    "payees",
    (
        Column("payee_id", STR),
        Column("tin", STR),
        Column("tin_type", STR),
        Column("first_name", STR, nullable=True),
        Column("last_name", STR),
        Column("address", STR),
        Column("city", STR),
        Column("state", STR, nullable=True),
        Column("zip", STR, nullable=True),
        _optional("country", STR, "US"),
        Column("date_of_birth", DATE, nullable=True),
        _optional("us_person", BOOL, True),
    ),
    key=("payee_id",),
)

PARTICIPANTS = Table(
    "participants",
    (
        Column("participant_id", STR),
        Column("plan_id", STR),
        Column("payee_id", STR),
        Column("date_of_death", DATE, nullable=True),
        Column("disabled", BOOL),
        Column("separation_date", DATE, nullable=True),
        Column("public_safety_employee", BOOL),
        Column("roth_first_year", INT, nullable=True),
        # an extension of this project (docs/spec/extract.md): the recordkeeper's own account number,
        # printed in the statements' account-number box; absent or null: the form's derived one
        _optional("account_number", STR),
    ),
    key=("participant_id",),
)

CONTRACTS_TABLE = Table(
    "contracts",
    (
        Column("event_id", STR),
        Column("contract", STR),
        Column("value_cents", INT),
        Column("basis_cents", INT),
        _optional("pre1987_basis_cents", INT, 0),
        _optional("irr_recapture_cents", INT, 0),
        _optional("foreign_source_cents", INT, 0),
    ),
    key=("event_id", "contract"),
)

DISTRIBUTIONS = Table(
    "distributions",
    (
        Column("distribution_id", STR),
        Column("event_id", STR),
        Column("participant_id", STR),
        Column("payee_id", STR),
        Column("plan_id", STR),
        Column("payment_date", DATE),
        Column("contract", STR),
        Column("amount_cents", INT),
        Column("destination", STR),
        _optional("rollover_order", INT),
        Column("reason", STR),
        _optional("corrective_taxable_year", INT),
        _optional("corrective_basis_cents", INT, 0),
        _optional("from_rollover_source", BOOL, False),
        Column("federal_withholding_cents", INT),
        _optional("state", STR),
        _optional("state_withholding_cents", INT, 0),
        _optional("state_payer_id", STR),
        _optional("local_withholding_cents", INT, 0),
        _optional("locality", STR),
    ),
    key=("distribution_id",),
)

CONTROL_TOTALS = Table(
    "control_totals",
    (
        Column("plan_id", STR),
        Column("month", DATE),
        Column("gross_cents", INT),
        Column("federal_withholding_cents", INT),
        Column("disbursement_count", INT),
    ),
    key=("plan_id", "month"),
    optional_file=True,
)

TABLES: dict[str, Table] = {
    t.name: t for t in (PLANS, PAYEES, PARTICIPANTS, CONTRACTS_TABLE, DISTRIBUTIONS, CONTROL_TOTALS)
}
