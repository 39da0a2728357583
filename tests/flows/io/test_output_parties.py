"""recipients.parquet, payers.parquet and accounts.parquet of a batch: read at the rows the engine
matched (``rows``, the hot path) or found from the ids on the forms (``parties``, the in-memory
writer) — one core, the same frames."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from flows.run.pipeline import accounts_of, load_and_validate, parties, parties_of
from transforms.engine import compute
from transforms.engine.edit_checks import form_rows
from transforms.law.params import TaxParameters

CANONICAL = Path(__file__).resolve().parents[3] / "sample_data" / "import" / "canonical"


@pytest.fixture(scope="module")
def batch():
    loaded = load_and_validate(CANONICAL)
    tables = loaded.validated.tables
    result = compute(tables, TaxParameters.for_year(loaded.manifest.tax_year))
    rows = form_rows(result.forms, result.legs)
    assert rows is not None
    return tables, result, rows


def test_the_parties_found_by_the_ids_on_the_forms_are_those_read_at_the_engines_rows(batch):
    tables, result, rows = batch
    by_rows = parties_of(tables, result.forms["payee_id"], result.forms["plan_id"], rows)
    by_ids = parties(tables, result.forms)
    for name in ("recipients", "payers"):
        assert by_ids[name].equals(by_rows[name]), name
    recipients = by_ids["recipients"]["payee_id"]
    assert recipients.is_sorted() and recipients.n_unique() == recipients.len()
    assert set(recipients) == set(result.forms["payee_id"]) < set(tables["payees"]["payee_id"])


def test_ids_that_no_row_holds_name_no_party(batch):
    tables, _, _ = batch
    payee, plan = tables["payees"]["payee_id"][0], tables["plans"]["plan_id"][0]
    found = parties_of(
        tables, pl.Series([payee, "nobody", None, payee]), pl.Series(["none", plan, None, plan])
    )
    assert found["recipients"]["payee_id"].to_list() == [payee]
    assert found["payers"]["plan_id"].to_list() == [plan]


def test_the_accounts_found_from_the_disbursements_are_those_read_at_the_engines_rows(batch):
    tables, result, rows = batch
    by_rows = accounts_of(tables, result.distributions, result.forms, rows)
    by_ids = accounts_of(tables, result.distributions)
    assert by_ids.equals(by_rows)
    reference = (  # each form's participant's account number, by a join on the ids
        result.distributions.select("form_id", "participant_id")
        .unique()
        .join(tables["participants"].select("participant_id", "account_number"), on="participant_id")
        .filter(pl.col("account_number").is_not_null())
        .select("form_id", pl.col("account_number").alias("recordkeeper_account"))
        .sort("form_id")
    )
    assert by_ids.equals(reference)
    assert 0 < by_ids.height < result.forms.height  # some participants have no account number
    assert by_ids["form_id"].is_sorted()
