"""The engine's fast paths give the rows of its general ones: runs of events split and coded on
threads, legs alone in their event allocated without the sort, Int64 products where Int128 is not
needed, and the participant's separation test computed once per participant."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.run.pipeline import load_and_validate
from flows.sample import generate_extract
from transforms.engine import allocation
from transforms.engine import legs as engine
from transforms.engine.resolver import Rules
from transforms.kernels.precision import NARROW_LIMIT, WIDE, fits_narrow
from transforms.law.money import mul_div_floor, mul_div_half_up
from transforms.law.params import TaxParameters


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> tuple[dict[str, pl.DataFrame], TaxParameters]:
    """A generated extract of 4,000 disbursements, 6 % of its events faulty (some quarantined by
    validation, some set aside by the engine), validated."""
    folder = tmp_path_factory.mktemp("parts") / "extract"
    generate_extract(folder, 4_000, seed=23, fault_fraction=0.06)
    loaded = load_and_validate(folder)
    return loaded.validated.tables, TaxParameters.for_year(loaded.manifest.tax_year)


def test_runs_of_events_coded_on_threads_give_the_legs_of_one_thread_row_for_row(validated):
    tables, p = validated
    cuts = engine.event_cuts(engine.match_legs(tables, p), 4, min_rows=100)
    assert len(cuts) == 4
    one = engine.split_and_code(tables, p, threads=1)
    four = engine.split_and_code(tables, p, threads=4, min_part_rows=100)
    assert four.legs.equals(one.legs)
    assert four.rejected.equals(one.rejected)
    assert engine.with_forms(four).forms.equals(engine.with_forms(one).forms)


def test_the_runs_hold_whole_events_and_cover_every_disbursement_once(validated):
    tables, _ = validated
    m = engine.match_legs(tables, TaxParameters.for_year(2025))
    cuts = engine.event_cuts(m, 5, min_rows=100)
    assert cuts[0][0] == 0
    assert sum(length for _, length in cuts) == m.d.height
    events = m.d.get_column("event_id")
    for (offset, length), (after, _) in zip(cuts, cuts[1:], strict=False):
        assert offset + length == after
        assert events[after - 1] != events[after]


def test_a_batch_smaller_than_two_runs_is_not_cut(validated):
    tables, _ = validated
    m = engine.match_legs(tables, TaxParameters.for_year(2025))
    assert engine.event_cuts(m, 4) == [(0, m.d.height)]  # 4,000 rows: under MIN_PART_ROWS
    assert engine.event_cuts(m, 1, min_rows=1) == [(0, m.d.height)]


def test_events_whose_legs_are_not_listed_together_are_coded_in_one_run(validated):
    tables, p = validated
    d = tables["distributions"]
    shared = d.group_by("event_id").len().filter(pl.col("len") > 1).sort("event_id").get_column("event_id")[0]
    first = d.filter(pl.col("event_id") == shared).get_column("distribution_id").sort()[0]
    # the event's first leg now sorts after every other disbursement: its legs are apart
    moved = {
        **tables,
        "distributions": d.with_columns(
            pl.when(pl.col("distribution_id") == first)
            .then(pl.lit("ZZZ-LAST"))
            .otherwise("distribution_id")
            .alias("distribution_id")
        ),
    }
    m = engine.match_legs(moved, p)
    assert engine.event_cuts(m, 4, min_rows=100) == [(0, m.d.height)]
    one = engine.split_and_code(moved, p, threads=1)
    four = engine.split_and_code(moved, p, threads=4, min_part_rows=100)
    assert four.legs.equals(one.legs)


def test_threads_give_the_rows_of_one_thread_when_the_tables_come_in_many_chunks(validated):
    tables, p = validated
    chunked = {
        name: pl.concat([frame.slice(0, frame.height // 3), frame.slice(frame.height // 3)], rechunk=False)
        for name, frame in tables.items()
    }
    assert max(chunked["distributions"].n_chunks("all")) > 1
    assert engine.split_and_code(chunked, p, threads=3, min_part_rows=100).legs.equals(
        engine.split_and_code(tables, p, threads=1).legs
    )


def test_legs_alone_in_their_event_are_allocated_as_the_sorted_runs_allocate_them(validated):
    tables, p = validated
    legs, _ = engine.leg_facts(tables, p)
    legs = Rules(p).evaluate(legs, ["box10_eligible", "takes_pretax_first"])
    alone = allocation.alone_in_event(legs.get_column("_eid"))
    assert 0 < alone.sum() < legs.height  # both kinds of events are present
    general = allocation.allocate_in_runs(legs.select(allocation.ALLOCATION_INPUTS), p)
    assert allocation.allocate(legs, p).equals(general)


@pytest.mark.parametrize("listed_together", [True, False])
def test_a_leg_is_alone_in_its_event_exactly_when_no_other_leg_shares_the_event(listed_together):
    eid = pl.Series("_eid", [0, 1, 1, 2, 3, 3, 3, 4] if listed_together else [3, 1, 0, 3, 1, 2])
    expected = [eid.to_list().count(e) == 1 for e in eid.to_list()]
    assert allocation.alone_in_event(eid).to_list() == expected


def test_the_allocation_of_legs_alone_uses_no_sort_and_no_running_sum():
    frame = pl.DataFrame({"x": [5, 7]})
    from transforms.engine.allocation import ALONE
    from transforms.law.scopes import EARLIER_IN_POOL, EVENT, POOL

    assert frame.select(ALONE[POOL](pl.col("x"))).to_series().to_list() == [5, 7]
    assert frame.select(ALONE[EARLIER_IN_POOL](pl.col("x"))).to_series().to_list() == [0, 0]
    assert frame.select(ALONE[EVENT](pl.col("x"))).to_series().to_list() == [5, 7]


OPERAND = st.integers(-(NARROW_LIMIT - 1), NARROW_LIMIT - 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(OPERAND, OPERAND, OPERAND), min_size=1, max_size=20))
def test_int64_products_equal_int128_products_below_the_narrow_limit(rows):
    frame = pl.DataFrame(rows, schema=["a", "b", "c"], orient="row")
    assert fits_narrow(frame, ["a", "b", "c"])
    a, b, c = pl.col("a"), pl.col("b"), pl.col("c")
    for rule in (mul_div_half_up, mul_div_floor):
        narrow = frame.select(rule(a, b, c)).to_series()
        wide = frame.select(rule(a.cast(WIDE), b.cast(WIDE), c.cast(WIDE))).to_series()
        assert narrow.equals(wide)


def test_an_operand_at_the_narrow_limit_asks_for_int128():
    below = NARROW_LIMIT - 1
    assert fits_narrow(pl.DataFrame({"a": [below, -below, None]}), ["a"])
    assert not fits_narrow(pl.DataFrame({"a": [1, NARROW_LIMIT]}), ["a"])
    assert not fits_narrow(pl.DataFrame({"a": [1], "b": [-NARROW_LIMIT]}), ["a", "b"])
    assert fits_narrow(pl.DataFrame({"a": pl.Series([None], dtype=pl.Int64)}), ["a"])


def test_a_ten_billion_dollar_account_is_split_exactly_with_int128():
    d, b, v = 10**12 - 1, 4 * 10**11 + 1, 10**12  # $10 billion balance: far above the narrow limit
    frame = pl.DataFrame({"d": [d], "b": [b], "v": [v]})
    assert not fits_narrow(frame, ["d", "b", "v"])
    got = frame.select(mul_div_half_up(*(pl.col(c).cast(WIDE) for c in "dbv"))).item()
    assert got == 400_000_000_001  # d·b/v = 400,000,000,000.6 cents (less 10^-12), rounded half-up


@pytest.mark.parametrize(
    ("born", "separated", "public_safety", "payment", "code"),
    [
        (date(1970, 12, 31), date(2025, 1, 2), False, date(2025, 6, 1), "2"),  # year of 55
        (date(1971, 1, 1), date(2025, 12, 31), False, date(2025, 12, 31), "1"),  # year of 54
        (date(1975, 6, 30), date(2025, 3, 1), True, date(2025, 4, 1), "2"),  # public safety: 50
        (date(1976, 1, 1), date(2025, 3, 1), True, date(2025, 4, 1), "1"),  # public safety: 49
        (date(1960, 1, 1), date(2026, 1, 5), False, date(2025, 4, 1), "7"),  # 59½ before separating
        (date(1968, 1, 1), date(2025, 9, 1), False, date(2025, 4, 1), "1"),  # paid before separating
        (date(1968, 1, 1), None, False, date(2025, 4, 1), "1"),
    ],
)
def test_the_separation_test_read_once_per_participant_gives_the_per_leg_code(
    born, separated, public_safety, payment, code
):
    p = TaxParameters.for_year(2025)
    leg = pl.DataFrame(
        {
            "date_of_birth": [born],
            "separation_date": pl.Series([separated], dtype=pl.Date),
            "public_safety_employee": [public_safety],
            "payment_date": [payment],
            "date_of_death": pl.Series([None], dtype=pl.Date),
            "disabled": [False],
            "reason": ["separation"],
            "payee_id": ["PY1"],
            "participant_payee_id": ["PY1"],
            "plan_type": ["401k"],
            "from_rollover_source": [False],
        }
    )
    rules = Rules(p)
    per_leg = rules.columns(leg, ["numeric_code"]).item()
    once = rules.columns(rules.evaluate(leg, ["separation_in_year_of_age"]), ["numeric_code"]).item()
    assert per_leg == once == code


def test_the_flows_read_the_engine_threads_from_the_environment(monkeypatch):
    from flows.run.pipeline import engine_threads

    monkeypatch.setenv("PRORATA_ENGINE_THREADS", "3")
    assert engine_threads() == 3
    monkeypatch.delenv("PRORATA_ENGINE_THREADS")
    assert engine_threads() is None  # the engine then uses polars' thread pool size
    for bad in ("0", "two", "-1", "1.5"):
        monkeypatch.setenv("PRORATA_ENGINE_THREADS", bad)
        with pytest.raises(ValueError, match="PRORATA_ENGINE_THREADS must be a whole number"):
            engine_threads()


def test_chunked_frames_write_the_bytes_of_one_chunk(tmp_path: Path):
    from flows.io.outputs import write_parquet

    frame = pl.DataFrame({"x": list(range(30_000)), "s": [f"v{i}" for i in range(30_000)]})
    chunked = pl.concat([frame.slice(0, 7_001), frame.slice(7_001)], rechunk=False)
    write_parquet(frame, tmp_path / "a.parquet")
    write_parquet(chunked, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_participants_listed_out_of_plan_order_give_the_forms_of_participants_listed_plan_by_plan():
    # HEIR inherits three accounts: PA and PC in plan P1, PB in P2, listed P1, P2, P1. The form key
    # holds each account by its participant numbered plan by plan (engine.plan_major_accounts).
    from tests.builders import Case, contract_row, dist_row, participant_row, payee_row, plan_row

    case = Case()
    case.plans = [plan_row("P1"), plan_row("P2", payer_tin="123456781")]
    case.payees = [
        payee_row(p, tin=f"40000007{i}", dob=date(1950, 1, 1)) for i, p in enumerate(("A", "B", "C", "HEIR"))
    ]
    case.participants = [
        participant_row(pt, py, plan, date_of_death=date(2025, 1, 5))
        for pt, py, plan in (("PA", "A", "P1"), ("PB", "B", "P2"), ("PC", "C", "P1"))
    ]
    # A and C paid out whole, B in part
    case.contracts = [
        contract_row(f"E{x}", "non_roth", v, 0)
        for x, v in zip("ABC", (100_000, 200_000, 100_000), strict=True)
    ]
    case.distributions = [
        dist_row(
            f"D{x}",
            f"E{x}",
            "non_roth",
            100_000,
            participant_id=f"P{x}",
            plan_id=plan,
            payee_id="HEIR",
            reason="death",
        )
        for x, plan in (("A", "P1"), ("B", "P2"), ("C", "P1"))
    ]
    tables = case.validated().tables
    p = TaxParameters.for_year(2025)
    m = engine.match_legs(tables, p)
    assert m.ids.get_column("_account").to_list() == [0, 2, 1]  # PA, PB (plan P2 after P1), PC
    shuffled = engine.compute(tables, p)
    ordered = engine.compute({**tables, "participants": tables["participants"].sort("plan_id")}, p)
    assert shuffled.forms.equals(ordered.forms) and shuffled.forms.height == 3
    assert shuffled.forms.sort("plan_id")["total_distribution"].to_list() == [True, True, False]


def test_products_taken_in_int128_give_the_legs_of_int64_products(validated, monkeypatch):
    # The engine narrows a product to Int64 only where its operands allow; forced wide everywhere
    # (no operand is below a limit of 0), every product is taken in Int128: the same legs.
    from transforms.kernels import precision

    tables, p = validated
    narrow = engine.split_and_code(tables, p, threads=1).legs
    monkeypatch.setattr(precision, "NARROW_LIMIT", 0)
    wide = engine.split_and_code(tables, p, threads=1).legs
    assert wide.equals(narrow)


def test_a_fact_of_the_participant_is_computed_once_per_participant_unless_it_reads_the_payment():
    # 2006: the §72(t)(10) age of 50 starts on 18 August, so the separation test reads the payment
    # date that year and is computed per leg; any later year, once per participant.
    assert "payment_date" in Rules(TaxParameters.for_year(2006)).reads("separation_in_year_of_age")
    assert "payment_date" not in Rules(TaxParameters.for_year(2025)).reads("separation_in_year_of_age")
    assert Rules(TaxParameters.for_year(2025)).reads("date_reaching_59_half") == {"date_of_birth"}
