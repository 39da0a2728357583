"""The shortcuts that make the engine and the contracts fast give exactly what the plain forms give.

Each fast path (binary search instead of a join, neighbour comparison instead of a hash, a table of
box 7 combinations instead of building strings leg by leg, packed integer keys) is checked against
the straightforward polars expression it replaces, on sorted and shuffled rows, with nulls and
duplicates; and the whole run is checked not to depend on the order of the input rows.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from contracts.loading import read_extract
from contracts.schemas import NEIGHBOURS, duplicated
from contracts.validate import _dense_id, validate
from transforms.engine import forms
from transforms.engine import legs as engine
from transforms.engine.resolver import Rules
from transforms.kernels import lookup
from transforms.kernels.lookup import row_of
from transforms.law.params import TaxParameters

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "extract"


def _keys(rng: random.Random, n: int, alphabet: str, nulls: bool) -> list[str | None]:
    return [
        None if nulls and rng.random() < 0.1 else rng.choice(alphabet) + rng.choice(alphabet)
        for _ in range(n)
    ]


def _joined_first_row(frame: pl.DataFrame, table: pl.DataFrame, on: list[str]) -> list[int | None]:
    """The plain answer: the first table row with the same (non-null) key, by a join."""
    first = table.with_row_index("_r").group_by(on, maintain_order=True).agg(pl.col("_r").first())
    out = frame.select(on).join(first, on=on, how="left", maintain_order="left", nulls_equal=False)
    return out.get_column("_r").to_list()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sort_table", [True, False])
@pytest.mark.parametrize("sort_frame", [True, False])
@pytest.mark.parametrize("on", [["a"], ["a", "b"]])
@pytest.mark.parametrize("table_rows", [60, 30 * NEIGHBOURS])  # runs of a few rows; runs too long to scan
@pytest.mark.parametrize("small_table", [lookup.SMALL_TABLE, 0])  # through an enumeration, or not
def test_row_lookup_by_runs_equals_the_join(
    seed, sort_table, sort_frame, on, table_rows, small_table, monkeypatch
):
    monkeypatch.setattr(lookup, "SMALL_TABLE", small_table)
    rng = random.Random(seed)
    table = pl.DataFrame(
        {"a": _keys(rng, table_rows, "abcd", nulls=True), "b": _keys(rng, table_rows, "xy", nulls=True)},
        schema={"a": pl.String, "b": pl.String},
    )
    if sort_table:
        table = table.sort("a", nulls_last=False)
    frame = pl.DataFrame(
        {"a": _keys(rng, 200, "abcde", nulls=True), "b": _keys(rng, 200, "xyz", nulls=True)},
        schema={"a": pl.String, "b": pl.String},
    )
    if sort_frame:
        frame = frame.sort("a", nulls_last=rng.random() < 0.5)
    assert row_of(frame, table, on).to_list() == _joined_first_row(frame, table, on)
    unique_table = table.unique(on, keep="first", maintain_order=True)
    assert row_of(frame, unique_table, on).to_list() == _joined_first_row(frame, unique_table, on)


@pytest.mark.parametrize("seed", range(4))
def test_row_lookup_of_a_frame_listing_every_table_key_in_order_equals_the_join(seed):
    rng = random.Random(seed)
    keys = sorted({f"k{rng.randrange(10**6):07d}" for _ in range(300)})
    table = pl.DataFrame({"a": keys, "b": [rng.choice("xy") for _ in keys]})
    frame = pl.DataFrame({"a": sorted(keys + [rng.choice(keys) for _ in range(200)])})
    frame = frame.with_columns(pl.Series("b", [rng.choice("xyz") for _ in range(frame.height)]))
    for on in (["a"], ["a", "b"]):
        assert row_of(frame, table, on).to_list() == _joined_first_row(frame, table, on)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("where", ["start", "middle", "end", "gap", "null_first"])
def test_row_lookup_of_a_frame_listing_a_slice_of_the_table_keys_equals_the_join(seed, where):
    rng = random.Random(seed)
    keys = sorted({f"k{rng.randrange(10**6):07d}" for _ in range(400)})
    lo, hi = {"start": (0, 250), "middle": (60, 300), "end": (150, len(keys))}.get(where, (40, 320))
    listed = keys[lo:hi]
    if where == "gap":  # not one slice: one table key in the middle has no disbursement
        listed = listed[:100] + listed[101:]
    frame_keys = sorted(listed + [rng.choice(listed) for _ in range(150)])
    if where == "null_first":
        frame_keys = [None, None, *frame_keys]
    table = pl.DataFrame({"a": keys})
    frame = pl.DataFrame({"a": pl.Series(frame_keys, dtype=pl.String)})
    assert row_of(frame, table, ["a"]).to_list() == _joined_first_row(frame, table, ["a"])


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(
    "case", ["same_events", "fewer_events", "repeated_key", "unknown_kind", "events_not_sorted"]
)
def test_the_contract_row_by_event_number_equals_the_join(seed, case):
    rng = random.Random(seed)
    events = sorted({f"E{rng.randrange(10**5):06d}" for _ in range(120)})
    kinds = ["non_roth", "roth", "after_tax"]
    rows = [(e, k) for e in events for k in rng.sample(kinds, rng.randint(1, 3))]
    if case == "repeated_key":
        rows.insert(rng.randrange(len(rows)), rows[rng.randrange(len(rows))])
    table = pl.DataFrame(rows, schema={"event_id": pl.String, "contract": pl.String}, orient="row")
    table = table.sort("event_id", maintain_order=True, descending=case == "events_not_sorted")
    table = table.with_columns(engine.dense_id(table.get_column("event_id")).cast(pl.UInt32).alias("_eid"))
    listed = events[::2] if case == "fewer_events" else events
    legs = sorted((e, rng.choice(kinds + (["other"] if case == "unknown_kind" else []))) for e in listed)
    legs += [(e, k) for e, k in rows[:5]]
    legs = sorted(legs, reverse=case == "events_not_sorted")
    frame = pl.DataFrame(legs, schema={"event_id": pl.String, "contract": pl.String}, orient="row")
    found = engine.contract_row_of(frame, table)
    assert found.to_list() == _joined_first_row(frame, table, ["event_id", "contract"])
    assert found.name == "_crow" and found.dtype == pl.UInt32


@pytest.mark.parametrize("seed", range(8))
def test_the_payee_row_through_the_participants_own_payee_equals_the_join(seed):
    rng = random.Random(seed)
    payees = sorted({f"PY{rng.randrange(10**4):05d}" for _ in range(150)})
    people = sorted({f"PT{rng.randrange(10**4):05d}" for _ in range(80)})
    own = [rng.choice(payees + ["PY_missing"]) for _ in people]  # some own payee rows are missing
    participants = pl.DataFrame({"participant_id": people, "payee_id": own})
    tables = {"participants": participants, "payees": pl.DataFrame({"payee_id": payees})}
    legs = [
        (
            rng.choice(people + ["PT_unknown"]),
            None if rng.random() < 0.05 else rng.choice(payees + ["PY_unknown"]),
        )
        for _ in range(300)
    ]
    d = pl.DataFrame(legs, schema={"participant_id": pl.String, "payee_id": pl.String}, orient="row")
    d = d.with_columns(  # most legs pay the participant's own payee
        pl.when(pl.int_range(pl.len()) % 3 > 0)
        .then(pl.col("participant_id").replace_strict(people, own, default=None))
        .otherwise(pl.col("payee_id"))
        .alias("payee_id")
    ).sort("participant_id")
    part = row_of(d, participants, ["participant_id"], "_part")
    found = engine.payee_rows(d, tables, part, engine.own_payee_rows(tables))
    assert found.to_list() == _joined_first_row(d, tables["payees"], ["payee_id"])
    assert found.name == "_payee" and found.dtype == pl.UInt32


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("columns", [["a"], ["a", "b"]])
@pytest.mark.parametrize("run", [2, NEIGHBOURS + 3])
def test_duplicated_by_neighbours_equals_is_duplicated(seed, columns, run):
    rng = random.Random(seed)
    n = 300
    a = sorted((rng.randrange(n // run) for _ in range(n)), key=lambda v: v)
    frame = pl.DataFrame(
        {
            "a": [None if rng.random() < 0.05 else f"k{v:04d}" for v in a],
            "b": [None if rng.random() < 0.1 else rng.choice("xyz") for _ in range(n)],
        }
    ).sort("a", nulls_last=False)
    assert duplicated(frame, columns).to_list() == frame.select(columns).is_duplicated().to_list()
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    assert duplicated(shuffled, columns).to_list() == shuffled.select(columns).is_duplicated().to_list()


@pytest.mark.parametrize("sort", [True, False])
def test_dense_ids_number_equal_values_alike(sort):
    rng = random.Random(3)
    values = pl.Series("v", _keys(rng, 500, "abcdefg", nulls=True))
    if sort:
        values = values.sort()
    ids = _dense_id(values)
    pairs = set(zip(values.to_list(), ids.to_list(), strict=True))
    assert len(pairs) == values.n_unique() == ids.n_unique()
    first_seen = list(dict.fromkeys(values.to_list()))
    assert [dict(pairs)[v] for v in first_seen] == list(range(len(first_seen)))
    assert engine.dense_id(values).n_unique() == values.n_unique()


@pytest.mark.parametrize("known", [None, engine.KNOWN_CODE_VALUES])
@pytest.mark.parametrize("table_rows", [engine.TABLE_ROWS, 0])
def test_box7_read_from_the_table_of_combinations_equals_the_rule(table_rows, known, monkeypatch):
    monkeypatch.setattr(engine, "TABLE_ROWS", table_rows)  # 0: too many combinations, built leg by leg
    p = TaxParameters.for_year(2025)
    rows = []
    rng = random.Random(11)
    for _ in range(3000):
        rows.append(
            {
                "numeric_code": rng.choice(["1", "2", "3", "4", "7"]),
                "paid_because_of_death": rng.choice([True, False, None]),
                "contract": rng.choice(["non_roth", "after_tax", "roth"]),
                "destination": rng.choice(
                    ["cash", "rollover_ira", "rollover_roth_ira", "rollover_plan", "rollover_roth_plan", "x"]
                ),
                "reason": rng.choice(
                    ["separation", "corrective", "deemed_loan", "qualified_loan_offset", "death"]
                ),
                "corrective_taxable_year": rng.choice([2024, 2025, None]),
                "payment_date": date(2025, rng.randrange(1, 13), 1),
            }
        )
    rules = Rules(p)
    legs = rules.evaluate(pl.DataFrame(rows), ["corrective_code", "qualified_plan_loan_offset"])
    direct = rules.columns(legs, ["distribution_codes", "needs_three_codes", "codes_are_valid"]).select(
        "distribution_codes", (pl.col("needs_three_codes") | ~pl.col("codes_are_valid")).alias("_codes_bad")
    )
    # known: the spec's lists of values; the stray destination "x" makes that column fall back
    assert engine.codes_by_table(p, legs, known).equals(direct)


def test_the_form_key_falls_back_to_a_dense_rank_when_it_does_not_fit_in_64_bits():
    frame = pl.DataFrame({"x": [5, 1, 5, 3, 1], "y": [0, 2, 0, 2, 1]})
    packed, radix = forms._dense([(pl.col("x"), 6), (pl.col("y"), 3)], frame.height)
    ranked, rank_radix = forms._dense([(pl.col("x"), 2**40), (pl.col("y"), 2**40)], frame.height)
    a = frame.select(packed.alias("k")).to_series()
    b = frame.select(ranked.alias("k")).to_series()
    assert radix == 18 and rank_radix == frame.height + 1
    assert a.rank("dense").to_list() == b.to_list() == [4, 2, 4, 3, 1]


def _shuffled(tables: dict[str, pl.DataFrame], seed: int) -> dict[str, pl.DataFrame]:
    out = {}
    for name, frame in tables.items():
        out[name] = frame.drop("_row").sample(fraction=1.0, shuffle=True, seed=seed).with_row_index("_row")
    return out


def test_the_engine_and_the_contracts_do_not_depend_on_the_order_of_the_rows():
    manifest, tables = read_extract(SAMPLE)
    p = TaxParameters.for_year(manifest.tax_year)
    base = validate(tables, manifest.tax_year)
    shuffled = validate(_shuffled(tables, 5), manifest.tax_year)
    q = ["table", "key", "event_id", "rule", "message"]
    assert base.quarantine.sort(q).equals(shuffled.quarantine.sort(q))
    a, b = engine.compute(base.tables, p), engine.compute(shuffled.tables, p)
    for name in ("distributions", "forms", "explain"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert a.rejected.sort("distribution_id").equals(b.rejected.sort("distribution_id"))
