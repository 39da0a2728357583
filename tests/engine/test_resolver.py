"""The engine's resolver: a rule's inputs resolved by name, computed once where two rules read them,
products in the precision their operands allow, sums over other legs by the engine's windows."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from transforms.engine.resolver import Rules
from transforms.law.params import TaxParameters

P = TaxParameters.for_year(2025)


def legs() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "destination": ["cash", "rollover_ira"],
            "contract": ["non_roth", "non_roth"],
            "amount_cents": [300, 500],
            "reason": ["separation", "separation"],
        }
    )


def test_a_rule_read_by_two_others_is_computed_once_as_a_column_and_dropped_after():
    # takes_pretax_first is read by rolled_over_cents and paid_otherwise_cents
    rules = Rules(P)
    kept = rules.evaluate(legs(), ["rolled_over_cents", "paid_otherwise_cents"], keep=["takes_pretax_first"])
    assert kept["takes_pretax_first"].to_list() == [False, True]
    done = rules.evaluate(legs(), ["rolled_over_cents", "paid_otherwise_cents"])
    assert "takes_pretax_first" not in done.columns
    assert done["rolled_over_cents"].to_list() == [0, 500] and done["paid_otherwise_cents"].to_list() == [
        300,
        0,
    ]


def test_a_column_the_frame_holds_is_read_rather_than_computed_again():
    frame = legs().with_columns(pl.Series("takes_pretax_first", [True, True]))  # computed elsewhere
    assert Rules(P).columns(frame, ["rolled_over_cents"]).to_series().to_list() == [300, 500]


def test_the_years_parameters_are_resolved_by_name():
    frame = pl.DataFrame({"date_of_birth": [date(1966, 1, 31)]})
    got = Rules(P).columns(frame, ["date_reaching_59_half"]).item()
    assert got == date(2025, 7, 31)  # 714 months: P.age_59_half_months


def test_a_name_that_is_neither_a_column_a_parameter_nor_a_rule_is_refused():
    with pytest.raises(KeyError, match="destination"):
        Rules(P).columns(pl.DataFrame({"amount_cents": [1]}), ["rolled_over_cents"])


def test_a_sum_over_other_legs_needs_the_engines_window_for_its_scope():
    with pytest.raises(KeyError, match="pool"):
        Rules(P).columns(legs(), ["pool_rollover_cents"])
    alone = {"pool": lambda x: x, "earlier_in_pool": lambda x: x - x, "event": lambda x: x}
    assert Rules(P, alone).columns(legs(), ["pool_rollover_cents"]).to_series().to_list() == [0, 500]
