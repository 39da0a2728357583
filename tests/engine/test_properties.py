"""Property tests: random extracts against an independent integer reference of the spec's arithmetic.

An extract holds one or two plans, each with one or two participants, alive (paid themselves) or
dead (paid to one or two heirs, an heir possibly inheriting from several participants and plans),
several events per payee in the year, corrective refunds as events of their own, and a tax year drawn
from those prorata computes. Some legs break a rule of the extract (a move the law forbids): the
invariants hold for every input row all the same."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import Case, contract_row, dist_row, participant_row, payee_row, plan_row

NON_ROTH_DEST = ["cash", "rollover_ira", "rollover_plan", "rollover_roth_ira", "in_plan_roth_rollover"]
ROTH_DEST = ["cash", "rollover_roth_ira", "rollover_roth_plan"]
RANK = {
    "rollover_ira": 0,
    "rollover_plan": 0,
    "rollover_roth_ira": 1,
    "rollover_roth_plan": 1,
    "in_plan_roth_rollover": 1,
}
YEARS = [2006, 2011, 2016, 2021, 2025, 2026, 2030]


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, in exact rational arithmetic."""
    return int(Fraction(numerator, denominator) + Fraction(1, 2))


def reference_basis(d: int, v: int, b: int, p: int, pre1987: bool) -> int:
    """docs/spec/extract.md: min(D, B) for the whole contract; else the pre-1987 tier, then the rest pro rata
    (D·B/V rounded half-up, capped at the draw and the basis) over the balance after the tier."""
    if d == v:
        return min(d, b)
    t = min(d, p) if pre1987 else 0
    d2, b2, v2 = d - t, b - t, v - t
    share = half_up(d2 * b2, v2) if v2 > 0 else 0
    return t + min(d2, b2, share)


def reference_allocation(pretax: int, legs: list[dict], rollovers_first: bool = True) -> dict[str, int]:
    """Notice 2014-54 as docs/spec/extract.md orders it; with ``rollovers_first`` false (a designated
    Roth account before 2016, Reg. §1.402A-1 A-5(a) before T.D. 9769) every leg is a separate
    distribution: all share the pre-tax money in proportion to their amounts, as cash legs do."""
    rolls = [leg for leg in legs if leg["destination"] != "cash" and rollovers_first]
    rolls.sort(  # docs/spec/extract.md: elected orders, equal orders and the rest in the default order, then id
        key=lambda leg: (
            leg["rollover_order"] is None,
            leg["rollover_order"] or 0,
            RANK[leg["destination"]],
            leg["distribution_id"].encode(),
        )
    )
    out, left = {}, pretax
    for leg in rolls:
        take = min(leg["amount_cents"], left)
        out[leg["distribution_id"]] = take
        left -= take
    cash = sorted((leg for leg in legs if leg not in rolls), key=lambda leg: leg["distribution_id"].encode())
    total = sum(leg["amount_cents"] for leg in cash)
    shares = {leg["distribution_id"]: (left * leg["amount_cents"] // total if total else 0) for leg in cash}
    extra = left - sum(shares.values())
    for i, leg in enumerate(cash):
        out[leg["distribution_id"]] = shares[leg["distribution_id"]] + (1 if i < extra else 0)
    return out


@st.composite
def event(draw, event_id: str, who: dict, kinds_allowed: list[str], pay: date, year: int):
    """One event of ``who`` (participant_id, payee_id, plan_id, reason): its contract rows and legs;
    a corrective refund (one leg) now and then; a leg sent where the law forbids now and then."""
    contracts, legs = [], []
    kinds = draw(st.lists(st.sampled_from(kinds_allowed), min_size=1, max_size=3, unique=True))
    no_basis = who["plan_type"] == "457b_governmental"
    for kind in kinds:
        value = draw(st.integers(1, 10**12))
        basis = 0 if no_basis and kind != "roth" else draw(st.integers(0, value * 2))
        p87 = draw(st.integers(0, basis)) if kind != "roth" and who["pre1987"] else 0
        contracts.append(contract_row(event_id, kind, value, basis, pre1987_basis_cents=p87))
    if draw(st.integers(0, 9)) == 0:  # a corrective refund: one cash leg, an event of its own
        c = contracts[0]
        amount = draw(st.integers(1, c["value_cents"]))
        legs.append(
            dist_row(
                f"{event_id}-C",
                event_id,
                c["contract"],
                amount,
                reason="corrective",
                corrective_taxable_year=draw(st.sampled_from([year, year - 1])),
                corrective_basis_cents=draw(st.integers(0, min(amount, c["basis_cents"]))),
                payment_date=pay,
                **{k: who[k] for k in ("participant_id", "payee_id", "plan_id")},
            )
        )
        return contracts, legs
    n = 0
    for c in contracts:
        kind, value = c["contract"], c["value_cents"]
        total = value if draw(st.booleans()) else draw(st.integers(1, value))
        k = draw(st.integers(1, min(4, total)))
        cuts = (
            sorted(draw(st.lists(st.integers(1, total - 1), min_size=k - 1, max_size=k - 1, unique=True)))
            if total > 1
            else []
        )
        for amount in (b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)):
            n += 1
            allowed = ROTH_DEST if kind == "roth" else NON_ROTH_DEST
            forbidden = draw(st.integers(0, 19)) == 0
            dest = draw(st.sampled_from(NON_ROTH_DEST + ["rollover_roth_plan"] if forbidden else allowed))
            legs.append(
                dist_row(
                    f"{event_id}-{n:02d}{draw(st.sampled_from('aB'))}",
                    event_id,
                    kind,
                    amount,
                    dest,
                    rollover_order=draw(st.one_of(st.none(), st.integers(1, 3))),
                    payment_date=pay,
                    federal_withholding_cents=draw(st.integers(0, amount)),
                    **{k: who[k] for k in ("participant_id", "payee_id", "plan_id", "reason")},
                )
            )
    return contracts, legs


@st.composite
def extracts(draw) -> Case:
    year = draw(st.sampled_from(YEARS))
    case = Case(tax_year=year)
    case.plans, case.payees, case.participants, case.contracts, case.distributions = [], [], [], [], []
    heirs = ["H1", "H2"]
    case.payees = [payee_row(h, tin=f"40000009{i}", dob=date(1990, 1, 1)) for i, h in enumerate(heirs, 1)]
    e = 0
    for p in range(draw(st.integers(1, 2))):
        plan_id = f"P{p}"
        plan_type = draw(st.sampled_from(["401k", "403b", "457b_governmental"]))
        separate = plan_type != "457b_governmental" and draw(st.booleans())
        pre1987 = plan_type != "457b_governmental" and draw(st.booleans())
        case.plans.append(
            plan_row(
                plan_id,
                plan_type=plan_type,
                after_tax_separately_accounted=separate,
                pre1987_recovery=pre1987,
            )
        )
        kinds = ["non_roth", "roth"] + (["after_tax"] if separate else [])
        for t in range(draw(st.integers(1, 2))):
            pid, own = f"PT{p}{t}", f"PY{p}{t}"
            dead = draw(st.booleans())
            case.payees.append(
                payee_row(own, tin=f"4000001{p}{t}", dob=date(draw(st.integers(1940, 1990)), 3, 1))
            )
            case.participants.append(
                participant_row(
                    pid,
                    own,
                    plan_id,
                    date_of_death=date(year, 1, 2) if dead else None,
                    roth_first_year=draw(st.integers(2006, year)),
                )
            )
            payees = (
                draw(st.lists(st.sampled_from(heirs), min_size=1, max_size=2, unique=True)) if dead else [own]
            )
            for payee in payees:
                who = {
                    "participant_id": pid,
                    "payee_id": payee,
                    "plan_id": plan_id,
                    "plan_type": plan_type,
                    "pre1987": pre1987,
                    "reason": "death" if dead else draw(st.sampled_from(["separation", "in_service"])),
                }
                for _ in range(draw(st.integers(1, 3))):
                    e += 1
                    pay = date(year, draw(st.integers(2, 12)), draw(st.integers(1, 28)))
                    contracts, legs = draw(event(f"E{e:02d}", who, kinds, pay, year))
                    case.contracts += contracts
                    case.distributions += legs
    return case


def check_invariants(case: Case) -> None:
    result = case.run(allow_quarantine=True)
    validated = case.validated()
    d = result.distributions
    rows = {r["distribution_id"]: r for r in d.iter_rows(named=True)}
    # every input row is in the output or in quarantine (validation or engine), exactly once
    ids = [leg["distribution_id"] for leg in case.distributions]
    out = d["distribution_id"].to_list()
    held = validated.quarantine.filter(pl.col("table") == "distributions")["key"].to_list()
    # the engine sets aside the whole event of a leg it cannot code (docs/spec/outputs.md: codes_over_two)
    rejected_events = set(result.rejected["event_id"].to_list())
    rejected = [leg["distribution_id"] for leg in case.distributions if leg["event_id"] in rejected_events]
    assert sorted(out + held + rejected) == sorted(ids)
    assert len(set(out) | set(held) | set(rejected)) == len(ids)

    for r in rows.values():
        assert r["pretax_cents"] + r["basis_cents"] == r["amount_cents"]
        assert 0 <= r["basis_cents"] <= r["amount_cents"]
        assert 0 <= r["box2a_cents"] <= r["pretax_cents"]
        assert 0 <= r["box10_cents"] <= r["basis_cents"]

    plans = {p["plan_id"]: p for p in case.plans}
    parts = {p["participant_id"]: p for p in case.participants}
    reported_events = {r["event_id"] for r in rows.values()}
    for event_id in sorted(reported_events):
        legs = [leg for leg in case.distributions if leg["event_id"] == event_id]
        assert all(leg["distribution_id"] in rows for leg in legs)  # an event is reported whole
        contracts = [c for c in case.contracts if c["event_id"] == event_id]
        pre1987 = plans[parts[legs[0]["participant_id"]]["plan_id"]]["pre1987_recovery"]
        for pool in ("roth", "non_roth"):
            pool_contracts = [c for c in contracts if (c["contract"] == "roth") == (pool == "roth")]
            pool_legs = [leg for leg in legs if (leg["contract"] == "roth") == (pool == "roth")]
            if not pool_legs:
                continue
            draws = {
                c["contract"]: sum(
                    leg["amount_cents"] for leg in pool_legs if leg["contract"] == c["contract"]
                )
                for c in pool_contracts
            }
            if pool_legs[0]["reason"] == "corrective":  # not pro-rated: the basis it is given
                basis = pool_legs[0]["corrective_basis_cents"]
            else:
                basis = sum(
                    reference_basis(
                        draws[c["contract"]],
                        c["value_cents"],
                        c["basis_cents"],
                        c["pre1987_basis_cents"],
                        pre1987,
                    )
                    for c in pool_contracts
                    if draws[c["contract"]] > 0
                )
            pretax = sum(draws.values()) - basis
            # the legs take the pool's basis and pre-tax money between them, no more
            assert sum(rows[leg["distribution_id"]]["basis_cents"] for leg in pool_legs) == basis
            assert basis <= sum(c["basis_cents"] for c in pool_contracts)
            rollovers_first = pool == "non_roth" or case.tax_year >= 2016
            expected = reference_allocation(pretax, pool_legs, rollovers_first)
            assert {k: rows[k]["pretax_cents"] for k in expected} == expected
            if not rollovers_first:
                continue
            # rollovers take pre-tax money first: no cash leg has pre-tax while a rollover holds basis
            cash_pretax = any(
                rows[leg["distribution_id"]]["pretax_cents"] > 0
                for leg in pool_legs
                if leg["destination"] == "cash"
            )
            roll_basis = any(
                rows[leg["distribution_id"]]["basis_cents"] > 0
                for leg in pool_legs
                if leg["destination"] != "cash"
            )
            assert not (cash_pretax and roll_basis)

    # each form is the sum of its legs, and reports one account of one payee
    withheld = {leg["distribution_id"]: leg["federal_withholding_cents"] for leg in case.distributions}
    legs_per_form = (
        d.with_columns(pl.col("distribution_id").replace_strict(withheld).alias("w"))
        .group_by("form_id")
        .agg(
            pl.col("amount_cents").sum().alias("box1_cents"),
            pl.col("box2a_cents").sum(),
            pl.col("box5_cents").sum(),
            pl.col("box10_cents").sum(),
            pl.col("w").sum().alias("box4_cents"),
            *[
                pl.col(c).n_unique().alias(f"_n_{c}")
                for c in ("participant_id", "payee_id", "distribution_codes")
            ],
        )
        .with_columns(pl.max_horizontal(pl.col("^_n_.*$")).alias("_n"))
    )
    boxes = ["box1_cents", "box2a_cents", "box4_cents", "box5_cents", "box10_cents"]
    assert legs_per_form["_n"].max() in (None, 1)
    assert (
        result.forms.select("form_id", *boxes)
        .sort("form_id")
        .equals(legs_per_form.select("form_id", *boxes).sort("form_id"))
    )
    assert result.forms["form_id"].n_unique() == result.forms.height
    assert result.forms["account_number"].n_unique() == result.forms.height


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(extracts())
def test_random_extracts_match_the_integer_reference_and_keep_every_invariant(case):
    check_invariants(case)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(extracts())
def test_the_same_input_gives_the_same_output(case):
    a = case.run(allow_quarantine=True)
    b = case.run(allow_quarantine=True)
    assert a.distributions.equals(b.distributions)
    assert a.forms.equals(b.forms)
