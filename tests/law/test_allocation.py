"""Notice 2014-54 allocation of pre-tax money among the legs of one event."""

import itertools

import polars as pl
import pytest

from tests.builders import Case, contract_row, dist_row, one_contract_case
from transforms.engine.allocation import EV_START, RUNS, sort_for_allocation
from transforms.engine.resolver import Rules
from transforms.kernels.runs import run_starts
from transforms.law.params import TaxParameters


def allocate_pretax(legs: pl.DataFrame) -> pl.DataFrame:
    """``pretax_cents`` and ``basis_cents`` of legs that carry their pool's pre-tax money, as the
    engine allocates them: each pool a run of legs in allocation order, sums read over the runs."""
    keyed = legs.sort("distribution_id").with_columns(
        pl.struct("event_id", "pool").rank("dense").cast(pl.UInt64).alias("_pool_key")
    )
    ordered = sort_for_allocation(keyed, "_pool_key", TaxParameters.for_year(2025))
    ordered = ordered.with_columns(run_starts(pl.col("event_id")).alias(EV_START))
    return Rules(TaxParameters.for_year(2025), RUNS).evaluate(ordered, ["pretax_cents", "basis_cents"])


def split(case: Case) -> dict[str, tuple[int, int]]:
    d = case.run().distributions
    return {r["distribution_id"]: (r["pretax_cents"], r["basis_cents"]) for r in d.iter_rows(named=True)}


def test_direct_rollover_takes_all_pretax_when_pretax_is_less_than_the_rollover():
    # Seed 004: $100,000 = $60,000 pretax + $40,000 basis; $40,000 out → $24,000 pretax, $16,000 basis;
    # $24,000 to a traditional IRA takes all the pretax, $16,000 to a Roth IRA is all basis.
    case = one_contract_case(
        "non_roth",
        10_000_000,
        4_000_000,
        [("IRA", 2_400_000, "rollover_ira"), ("ROTH", 1_600_000, "rollover_roth_ira")],
    )
    assert split(case) == {"IRA": (2_400_000, 0), "ROTH": (0, 1_600_000)}


def test_cash_leg_gets_the_after_tax_money_left_by_the_rollover_model_402f_example():
    # Model §402(f) explanation: $12,000 payment with $2,000 after-tax; $10,000 directly to an IRA;
    # the $2,000 paid out is after-tax, so nothing is taxable.
    case = one_contract_case(
        "non_roth", 1_200_000, 200_000, [("IRA", 1_000_000, "rollover_ira"), ("CASH", 200_000, "cash")]
    )
    assert split(case) == {"IRA": (1_000_000, 0), "CASH": (0, 200_000)}


def test_when_pretax_exceeds_the_rollovers_the_cash_leg_takes_the_rest_of_the_pretax():
    # IRS page: $100,000 = $80,000 pretax + $20,000 after-tax, all distributed: $50,000 to an IRA,
    # $50,000 cash → IRA all pretax, cash $30,000 pretax + $20,000 basis.
    case = one_contract_case(
        "non_roth", 10_000_000, 2_000_000, [("IRA", 5_000_000, "rollover_ira"), ("CASH", 5_000_000, "cash")]
    )
    assert split(case) == {"IRA": (5_000_000, 0), "CASH": (3_000_000, 2_000_000)}


def test_traditional_ira_takes_pretax_before_a_roth_ira_without_an_election():
    # Listed Roth first by id, but the default order puts rollover_ira first (no taxed conversion).
    case = one_contract_case(
        "non_roth",
        10_000_000,
        2_000_000,
        [("A-roth", 5_000_000, "rollover_roth_ira"), ("B-ira", 5_000_000, "rollover_ira")],
    )
    assert split(case) == {"A-roth": (3_000_000, 2_000_000), "B-ira": (5_000_000, 0)}


def test_the_payees_rollover_order_election_overrides_the_default():
    case = one_contract_case(
        "non_roth",
        10_000_000,
        2_000_000,
        [("A-roth", 5_000_000, "rollover_roth_ira"), ("B-ira", 5_000_000, "rollover_ira")],
    )
    case.distributions[0]["rollover_order"] = 1
    case.distributions[1]["rollover_order"] = 2
    assert split(case) == {"A-roth": (5_000_000, 0), "B-ira": (3_000_000, 2_000_000)}


def test_equal_rollover_orders_put_the_traditional_ira_before_a_roth_conversion_with_a_smaller_id():
    # docs/spec/extract.md: legs with equal rollover_order fall back to the default order among themselves
    # (traditional before Roth), then distribution_id. The Roth IRA conversion "A-roth" sorts first
    # by id, but must not take the pre-tax money first: $80,000 of pre-tax money, $50,000 each.
    case = one_contract_case(
        "non_roth",
        10_000_000,
        2_000_000,
        [("A-roth", 5_000_000, "rollover_roth_ira"), ("B-ira", 5_000_000, "rollover_ira")],
    )
    for leg in case.distributions:
        leg["rollover_order"] = 1
    assert split(case) == {"A-roth": (3_000_000, 2_000_000), "B-ira": (5_000_000, 0)}
    row = case.row("A-roth")
    assert (row["box2a_cents"], row["box5_cents"]) == (3_000_000, 2_000_000)  # taxed: only what is left


def test_equal_rollover_orders_keep_their_place_among_the_other_orders():
    # Orders 1, 1, 2: the two legs of order 1 (an in-plan Roth rollover listed first, then a plan)
    # take the pre-tax money before order 2, the plan before the in-plan Roth rollover.
    case = one_contract_case(
        "non_roth",
        10_000_000,
        5_000_000,
        [
            ("A-irr", 3_000_000, "in_plan_roth_rollover"),
            ("B-plan", 3_000_000, "rollover_plan"),
            ("C-ira", 4_000_000, "rollover_ira"),
        ],
    )
    for leg, order in zip(case.distributions, (1, 1, 2), strict=True):
        leg["rollover_order"] = order
    assert split(case) == {"B-plan": (3_000_000, 0), "A-irr": (2_000_000, 1_000_000), "C-ira": (0, 4_000_000)}


def test_rollovers_with_an_election_go_before_those_without():
    case = one_contract_case(
        "non_roth",
        10_000_000,
        5_000_000,
        [("A-ira", 5_000_000, "rollover_ira"), ("B-plan", 5_000_000, "rollover_plan")],
    )
    case.distributions[1]["rollover_order"] = 9
    assert split(case) == {"A-ira": (0, 5_000_000), "B-plan": (5_000_000, 0)}


def test_equal_default_rank_ties_go_by_distribution_id_in_byte_order():
    case = one_contract_case(
        "non_roth", 10_000, 5_000, [("b", 5_000, "rollover_plan"), ("B", 5_000, "rollover_ira")]
    )
    # "B" (0x42) sorts before "b" (0x62): "B" takes the $50 of pretax first.
    assert split(case) == {"B": (5_000, 0), "b": (0, 5_000)}


def test_several_cash_legs_share_the_pretax_in_proportion_and_leftover_cents_go_by_id():
    # Whole $1.00 account, basis $0.01 → pretax 99 cents over three cash legs of 33 cents:
    # 99 × 33 / 99 = 33 each, nothing left over.
    case = one_contract_case("non_roth", 100, 1, [("c1", 33, "cash"), ("c2", 33, "cash"), ("c3", 34, "cash")])
    got = split(case)
    assert sum(p for p, _ in got.values()) == 99
    # 99 × 33 // 100 = 32 (c1, c2), 99 × 34 // 100 = 33 (c3): 97, the two cents left go to c1, c2.
    assert got == {"c1": (33, 0), "c2": (33, 0), "c3": (33, 1)}


def test_roth_money_is_allocated_within_the_roth_account_only():
    # Non-Roth $10,000 all pretax to an IRA; Roth $1,000 ($600 basis) wholly to a Roth IRA.
    case = Case()
    case.participants[0]["roth_first_year"] = 2015
    case.contracts = [
        contract_row("E1", "non_roth", 1_000_000, 0),
        contract_row("E1", "roth", 100_000, 60_000),
    ]
    case.distributions = [
        dist_row("N", "E1", "non_roth", 1_000_000, "rollover_ira"),
        dist_row("R", "E1", "roth", 100_000, "rollover_roth_ira"),
    ]
    assert split(case) == {"N": (1_000_000, 0), "R": (40_000, 60_000)}


def roth_rollover_and_cash(year: int) -> Case:
    """A nonqualified Roth distribution in ``year``: $10,000 of a $20,000 account ($15,000 basis, so
    $7,500 basis and $2,500 of earnings in the draw), $3,000 directly to a Roth IRA, $7,000 in cash."""
    from datetime import date

    case = Case(tax_year=year)
    case.participants[0]["roth_first_year"] = max(year - 2, 2006)
    case.contracts = [contract_row("E1", "roth", 2_000_000, 1_500_000)]
    pay = {"payment_date": date(year, 6, 1)}
    case.distributions = [
        dist_row("ROTHIRA", "E1", "roth", 300_000, "rollover_roth_ira", **pay),
        dist_row("CASH", "E1", "roth", 700_000, "cash", **pay),
    ]
    return case


@pytest.mark.parametrize("year", [2006, 2014, 2015])
def test_before_2016_a_roth_direct_rollover_is_a_separate_distribution_with_its_own_pro_rata_share(year):
    # Reg. §1.402A-1, A-5(a) before T.D. 9769: "any amount paid in a direct rollover is treated as a
    # separate distribution from any amount paid directly to the employee" — each takes 25 % earnings:
    # Roth IRA $750 + $2,250 basis, cash $1,750 taxable + $5,250 basis (not all basis, as from 2016).
    case = roth_rollover_and_cash(year)
    assert split(case) == {"ROTHIRA": (75_000, 225_000), "CASH": (175_000, 525_000)}
    assert case.row("CASH")["box2a_cents"] == 175_000


def test_the_rule_trace_of_a_roth_direct_rollover_before_2016_says_it_is_a_separate_distribution():
    from transforms.engine.explain import explanation

    why = dict(
        roth_rollover_and_cash(2015).run().explain.select("distribution_id", explanation()).iter_rows()
    )
    assert "separate distribution" in why["ROTHIRA"]
    assert "goes first to its direct rollovers" not in why["ROTHIRA"]


@pytest.mark.parametrize("year", [2016, 2025])
def test_from_2016_a_roth_direct_rollover_takes_the_earnings_first(year):
    # T.D. 9769 (distributions on or after 1 Jan 2016) with Notice 2014-54 §III: the $2,500 of earnings go
    # first to the direct rollover; the cash leg is all basis.
    assert split(roth_rollover_and_cash(year)) == {"ROTHIRA": (250_000, 50_000), "CASH": (0, 700_000)}


def test_before_2016_non_roth_money_still_gives_pretax_first_to_the_direct_rollover():
    # The old separate-distribution rule was the designated Roth account's (Reg. §1.402A-1, A-5(a));
    # non-Roth money before 2015 follows "a reasonable interpretation" of §402(c)(2), which may be the
    # Notice's own allocation (Notice 2014-54, effective date): prorata keeps it.
    case = roth_rollover_and_cash(2012)
    case.contracts = [contract_row("E1", "non_roth", 2_000_000, 1_500_000)]
    for leg, dest in zip(case.distributions, ("rollover_ira", "cash"), strict=True):
        leg["contract"], leg["destination"] = "non_roth", dest
    assert split(case) == {"ROTHIRA": (250_000, 50_000), "CASH": (0, 700_000)}


def test_in_plan_roth_rollover_is_a_direct_rollover_and_its_pretax_is_taxable():
    case = one_contract_case(
        "non_roth", 1_000_000, 200_000, [("IRR", 500_000, "in_plan_roth_rollover"), ("C", 500_000, "cash")]
    )
    row = case.row("IRR")
    assert (row["pretax_cents"], row["box2a_cents"], row["distribution_codes"]) == (500_000, 500_000, "G")


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_allocate_pretax_gives_the_same_split_whatever_the_order_of_the_legs(order):
    legs = pl.DataFrame(
        {
            "event_id": ["E", "E", "E"],
            "pool": ["non_roth"] * 3,
            "contract": ["non_roth"] * 3,
            "distribution_id": ["a", "b", "c"],
            "destination": ["cash", "rollover_ira", "cash"],
            "rollover_order": [None, None, None],
            "amount_cents": [300, 500, 200],
            "pool_pretax_cents": [777, 777, 777],
        },
        schema_overrides={"rollover_order": pl.Int64},
    )
    out = allocate_pretax(legs[list(order)]).sort("distribution_id")
    # IRA takes 500; 277 left for a (300) and c (200): 277×300//500 = 166, 277×200//500 = 110, 1 cent to a.
    assert out["pretax_cents"].to_list() == [167, 500, 110]
    assert out["basis_cents"].to_list() == [133, 0, 90]
