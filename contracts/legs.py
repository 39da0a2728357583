"""The engine's legs: a disbursement joined with what the law's rules read — declared once.

The extract's tables are declared in :mod:`contracts.extract`. The engine joins each disbursement
with its participant, its plan, its payee and its contract row, and adds a few columns of its own
(:data:`ENGINE_COLUMNS`); the law's rules (``transforms/law``) read these columns by name, and
nothing else besides the year's parameters and each other (``tests/meta/test_meta.py`` checks that every
rule input is declared here). :func:`check_legs` holds the engine to the declaration where the
joined legs reach the rules.
"""

from __future__ import annotations

import polars as pl

from contracts.extract import TABLES


def _from(table: str, *names: str) -> dict[str, pl.DataType]:
    columns = {c.name: c.dtype for c in TABLES[table].columns}
    return {name: columns[name] for name in names or columns}


def _as(table: str, column: str) -> pl.DataType:
    return _from(table, column)[column]


JOINED_COLUMNS: dict[str, pl.DataType] = {
    **_from("distributions"),
    # the participant (docs/spec/extract.md participants) and the date of birth of its own payee row
    "participant_payee_id": _as("participants", "payee_id"),
    **_from("participants", "date_of_death", "disabled", "separation_date", "public_safety_employee"),
    **_from("participants", "roth_first_year"),
    **_from("payees", "date_of_birth"),
    # the plan
    **_from("plans", "plan_type", "payer_tin", "pre1987_recovery"),
    # the leg's payee
    "payee_tin": _as("payees", "tin"),
    # the contract row of the leg's event and contract
    **_from("contracts", "value_cents", "pre1987_basis_cents", "irr_recapture_cents"),
    "contract_basis_cents": _as("contracts", "basis_cents"),
    "contract_foreign_cents": _as("contracts", "foreign_source_cents"),
}
"""What each leg carries from the extract: the disbursement's own columns and, renamed where a name
would mean two things, those of the rows it refers to."""

ENGINE_COLUMNS: dict[str, pl.DataType] = {
    "tax_year": pl.Int32(),  # the year of the payment date
    "pool": pl.String(),  # "roth" or "non_roth": the money pool of Notice 2014-54 (§402A(d)(4))
    "roth": pl.Boolean(),  # the leg draws on the designated Roth account
    "held_cents": pl.Int64(),  # the total value of the event's contract rows (box 2b)
    "first_of_contract": pl.Boolean(),  # one leg of each (event, contract): pool totals count it once
}
"""What the engine adds to each leg before the rules read it."""

LEG_INPUTS: dict[str, pl.DataType] = {**JOINED_COLUMNS, **ENGINE_COLUMNS}
"""Every column a rule may read, with its type."""


class LegsError(TypeError):
    """The engine's legs do not hold a declared column with its declared type (a bug, not bad input)."""


def check_legs(legs: pl.DataFrame) -> pl.DataFrame:
    """``legs`` unchanged, once every column of :data:`LEG_INPUTS` is there with its type."""
    schema = legs.schema
    wrong = [
        f"{name} ({schema.get(name, 'missing')}, declared {dtype})"
        for name, dtype in LEG_INPUTS.items()
        if schema.get(name) != dtype
    ]
    if wrong:
        raise LegsError("the engine's legs break their declaration: " + ", ".join(wrong))
    return legs
