"""Property tests: random events against an independent integer reference of the spec's arithmetic."""

from datetime import date

import polars as pl
from builders import Case, contract_row, dist_row, participant_row, payee_row, plan_row
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NON_ROTH_DEST = ["cash", "rollover_ira", "rollover_plan", "rollover_roth_ira", "in_plan_roth_rollover"]
ROTH_DEST = ["cash", "rollover_roth_ira", "rollover_roth_plan"]
RANK = {
    "rollover_ira": 0,
    "rollover_plan": 0,
    "rollover_roth_ira": 1,
    "rollover_roth_plan": 1,
    "in_plan_roth_rollover": 1,
}


def reference_basis(d: int, v: int, b: int, p: int, pre1987: bool) -> int:
    if d == v:
        return min(d, b)
    t = min(d, p) if pre1987 else 0
    d2, b2, v2 = d - t, b - t, v - t
    share = (2 * d2 * b2 + v2) // (2 * v2) if v2 > 0 else 0
    return t + min(d2, b2, share)


def reference_allocation(pretax: int, legs: list[dict]) -> dict[str, int]:
    rolls = [leg for leg in legs if leg["destination"] != "cash"]
    rolls.sort(  # extract.md: elected orders, equal orders and the rest in the default order, then id
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
    cash = sorted(
        (leg for leg in legs if leg["destination"] == "cash"), key=lambda leg: leg["distribution_id"].encode()
    )
    total = sum(leg["amount_cents"] for leg in cash)
    shares = {leg["distribution_id"]: (left * leg["amount_cents"] // total if total else 0) for leg in cash}
    extra = left - sum(shares.values())
    for i, leg in enumerate(cash):
        out[leg["distribution_id"]] = shares[leg["distribution_id"]] + (1 if i < extra else 0)
    return out


@st.composite
def events(draw):
    contracts, legs = [], []
    pre1987 = draw(st.booleans())
    kinds = draw(
        st.lists(st.sampled_from(["non_roth", "after_tax", "roth"]), min_size=1, max_size=3, unique=True)
    )
    n = 0
    for kind in kinds:
        value = draw(st.integers(1, 10**12))
        basis = draw(st.integers(0, value * 2))
        p87 = draw(st.integers(0, basis)) if kind != "roth" else 0
        contracts.append(contract_row("E1", kind, value, basis, pre1987_basis_cents=p87))
        whole = draw(st.booleans())
        total = value if whole else draw(st.integers(1, value))
        k = draw(st.integers(1, min(4, total)))
        cuts = (
            sorted(draw(st.lists(st.integers(1, total - 1), min_size=k - 1, max_size=k - 1, unique=True)))
            if total > 1
            else []
        )
        amounts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        for amount in amounts:
            if amount <= 0:
                continue
            n += 1
            dest = draw(st.sampled_from(ROTH_DEST if kind == "roth" else NON_ROTH_DEST))
            order = draw(st.one_of(st.none(), st.integers(1, 3)))
            legs.append(
                dist_row(
                    f"D{n:02d}{draw(st.sampled_from('aB'))}", "E1", kind, amount, dest, rollover_order=order
                )
            )
    return pre1987, contracts, legs


def build(pre1987, contracts, legs) -> Case:
    case = Case()
    case.plans = [plan_row(after_tax_separately_accounted=True, pre1987_recovery=pre1987)]
    case.payees = [payee_row("PY1", dob=date(1970, 1, 1))]
    case.participants = [participant_row("PT1", "PY1", roth_first_year=2015)]
    case.contracts = contracts
    case.distributions = legs
    return case


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_random_events_match_the_integer_reference_and_keep_every_invariant(ev):
    pre1987, contracts, legs = ev
    if len({leg["distribution_id"] for leg in legs}) != len(legs):
        return
    result = build(pre1987, contracts, legs).run()
    d = result.distributions
    rows = {r["distribution_id"]: r for r in d.iter_rows(named=True)}
    assert len(rows) == len(legs)

    for r in rows.values():
        assert r["pretax_cents"] + r["basis_cents"] == r["amount_cents"]
        assert 0 <= r["basis_cents"] <= r["amount_cents"]
        assert 0 <= r["box2a_cents"] <= r["pretax_cents"]

    for pool in ("roth", "non_roth"):
        pool_contracts = [c for c in contracts if (c["contract"] == "roth") == (pool == "roth")]
        pool_legs = [leg for leg in legs if (leg["contract"] == "roth") == (pool == "roth")]
        if not pool_legs:
            continue
        draws = {
            c["contract"]: sum(leg["amount_cents"] for leg in pool_legs if leg["contract"] == c["contract"])
            for c in pool_contracts
        }
        basis = sum(
            reference_basis(
                draws[c["contract"]], c["value_cents"], c["basis_cents"], c["pre1987_basis_cents"], pre1987
            )
            for c in pool_contracts
            if draws[c["contract"]] > 0
        )
        pretax = sum(draws.values()) - basis
        assert sum(rows[leg["distribution_id"]]["basis_cents"] for leg in pool_legs) == basis
        assert basis <= sum(c["basis_cents"] for c in pool_contracts)
        expected = reference_allocation(pretax, pool_legs)
        assert {k: rows[k]["pretax_cents"] for k in expected} == expected
        # Rollovers take pre-tax money first: no cash leg has pre-tax while a rollover holds basis.
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

    assert result.forms["box1_cents"].sum() == d["amount_cents"].sum()
    assert result.forms["box2a_cents"].sum() == d["box2a_cents"].sum()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_the_same_input_gives_the_same_output(ev):
    pre1987, contracts, legs = ev
    if len({leg["distribution_id"] for leg in legs}) != len(legs):
        return
    a = build(pre1987, contracts, legs).run()
    b = build(pre1987, contracts, legs).run()
    assert a.distributions.equals(b.distributions)
    assert a.forms.equals(b.forms)
    assert isinstance(a.distributions, pl.DataFrame)
