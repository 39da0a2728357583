"""The tax engine: from validated extract tables to the split, the codes and the forms.

Pure polars: no I/O, no clock, no Prefect. ``compute`` is the one entry point the flows use.

How it stays fast on millions of legs (polars 2.1): strings are matched once — each disbursement
gets the row number of its participant, plan, payee and contract row (``_part``, ``_plan``,
``_payee``, ``_crow``; :func:`row_of`: a binary search in a sorted table, a join otherwise; the
contract row through the event numbers, :func:`contract_row_of`) on single-chunk copies of the
columns the engine reads (:func:`read_columns`) — and
everything after runs on integers, with a dense event number (``_eid``). The legs stay in
``distribution_id`` order (the order of the outputs); the pool allocation runs on a narrow copy
sorted once in allocation order, where each pool is a run of rows (:mod:`transforms.engine.allocation`);
the forms on a narrow copy sorted by the packed form key (:mod:`transforms.engine.forms`). Box 7 is read
from a table of every combination of its inputs (:func:`box7`, :mod:`transforms.kernels.tabulate`).
The rules themselves are :mod:`transforms.law`'s, evaluated by name (:mod:`transforms.engine.resolver`):
the engine decides what is computed once (per participant, per contract, per pool), the precision of
products and how sums over other legs are read; the rules do not.
The tables must be validated (:mod:`contracts.validate`): unique keys, every disbursement with its
participant, plan, payee and contract row. :func:`compute` is :func:`with_forms` over
:func:`split_and_code` (the engine benchmark times the two apart).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import polars as pl

from contracts.extract import CONTRACTS, DESTINATIONS, REASONS, TABLES
from contracts.legs import check_legs
from contracts.outputs import DISTRIBUTIONS_COLUMNS
from transforms.engine import explain, forms
from transforms.engine.allocation import ALLOCATION_INPUTS, allocate
from transforms.engine.resolver import Rules, inputs_of, law
from transforms.kernels import tabulate
from transforms.kernels.lookup import position_in, row_of, run_marks
from transforms.kernels.runs import run_starts, sum_over_runs
from transforms.kernels.subset import computed_where
from transforms.law import codes
from transforms.law.params import TaxParameters
from transforms.law.scopes import CONTRACT as CONTRACT_SCOPE

DISTRIBUTION_INPUTS = frozenset(TABLES["distributions"].names)
"""The extract's own columns of a disbursement (docs/spec/extract.md); any other is an extra column, carried
to distributions.parquet beside the engine's."""


@dataclass(frozen=True)
class EngineResult:
    distributions: (
        pl.DataFrame
    )  # docs/spec/outputs.md distributions.parquet (plus the extract's extra columns)
    forms: pl.DataFrame  # docs/spec/outputs.md forms.parquet
    explain: pl.DataFrame  # the facts of each rule trace (transforms.engine.explain.FACT_COLUMNS)
    legs: pl.DataFrame  # working frame for reports (edit checks, tie-out); never written as is
    rejected: pl.DataFrame  # (distribution_id, event_id, rule) of events the engine cannot report


def _pool(contract: pl.Expr) -> pl.Expr:
    return pl.when(contract == "roth").then(pl.lit("roth")).otherwise(pl.lit("non_roth"))


CONTRACT = ["event_id", "contract"]
POOL = ["event_id", "pool"]


def dense_id(values: pl.Series) -> pl.Series:
    """Integers 0, 1, ... numbering the distinct values of a column (equal values, equal numbers):
    one pass over a sorted column, one hash group-by otherwise."""
    if values.is_sorted():
        return values.rle_id()
    frame = values.to_frame("_k").with_row_index("_i")
    numbered = frame.group_by("_k", maintain_order=True).agg("_i").with_row_index("_id")
    return numbered.explode("_i").sort("_i").get_column("_id")


def contract_rows(contracts: pl.DataFrame) -> pl.DataFrame:
    """The contract rows the legs read (one per event and contract): the value, basis, pre-1987
    basis, recapture and foreign-source amounts; the event number ``_eid``; and ``held_cents``, the
    total value of the event's contract rows (for box 2b)."""
    rows = contracts.select(
        *CONTRACT,
        "value_cents",
        pl.col("basis_cents").alias("contract_basis_cents"),
        "pre1987_basis_cents",
        "irr_recapture_cents",
        pl.col("foreign_source_cents").alias("contract_foreign_cents"),
    )
    rows = single_chunk(rows)
    eid = dense_id(rows.get_column("event_id")).cast(pl.UInt32).alias("_eid")
    rows = rows.with_columns(eid)
    if eid.is_sorted():  # each event's rows together (numbered by first appearance)
        return rows.with_columns(sum_over_runs(pl.col("value_cents"), pl.col("_eid")).alias("held_cents"))
    return rows.with_columns(pl.col("value_cents").sum().over("_eid").alias("held_cents"))


def own_payee_rows(tables: dict[str, pl.DataFrame]) -> pl.Series:
    """For each participant, the row of its own payee row in the payees (``_own``)."""
    return row_of(tables["participants"], tables["payees"], ["payee_id"], "_own")


def _participants(
    tables: dict[str, pl.DataFrame], p: TaxParameters | None = None, own: pl.Series | None = None
) -> pl.DataFrame:
    """The participant columns the rules read, with the date of birth of the participant's own payee
    row (``own``: :func:`own_payee_rows`), in the participants' row order; given ``p``, also the
    rules of :data:`PER_PARTICIPANT` that read only the participant in that year, once per
    participant rather than per leg."""
    participants = tables["participants"]
    own = own_payee_rows(tables) if own is None else own
    facts = participants.select(
        pl.col("payee_id").alias("participant_payee_id"),
        "date_of_death",
        "disabled",
        "separation_date",
        "public_safety_employee",
        "roth_first_year",
    ).with_columns(tables["payees"].get_column("date_of_birth").gather(own))
    if p is None:
        return facts
    rules = Rules(p)
    return rules.evaluate(facts, [n for n in PER_PARTICIPANT if rules.reads(n) <= set(facts.columns)])


PER_PARTICIPANT = ("date_reaching_59_half", "separation_in_year_of_age")
"""Facts of the participant alone (§72(t)): computed once per participant where, in the tax year,
they read nothing of the payment (the §72(t)(10) age that starts within 2006 is read per payment
date, so that year it is computed per leg)."""


def single_chunk(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every column in one chunk: frames whose columns are chunked alike are cheap to
    extend and gather from (``DataFrame.rechunk`` copies the columns in parallel)."""
    if max(frame.n_chunks("all"), default=1) == 1:
        return frame
    return frame.rechunk()


PLAN_COLUMNS = ["plan_type", "payer_tin", "pre1987_recovery"]
READ_COLUMNS = {
    "participants": [
        "participant_id",
        "payee_id",
        "date_of_death",
        "disabled",
        "separation_date",
        "public_safety_employee",
        "roth_first_year",
    ],
    "payees": ["payee_id", "tin", "date_of_birth"],
    "plans": ["plan_id", *PLAN_COLUMNS],
}
"""The columns the engine reads of the tables a disbursement refers to."""


def read_columns(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The tables with only the :data:`READ_COLUMNS` of the referred tables, each column in one
    chunk: a row lookup or a gather on text split in chunks (as Parquet row groups leave it) is
    several times slower, and the other columns (names, addresses) are never copied."""
    narrow = {name: single_chunk(tables[name].select(columns)) for name, columns in READ_COLUMNS.items()}
    return {**tables, **narrow}


def payee_rows(
    d: pl.DataFrame, tables: dict[str, pl.DataFrame], part: pl.Series, own: pl.Series
) -> pl.Series:
    """``_payee``: for each disbursement, its payee's row, as :func:`transforms.kernels.lookup.row_of` finds
    it. Most disbursements pay the participant: their payee is the participant's own payee row
    (``own``, :func:`own_payee_rows`, read at ``part``); only the others are looked up
    (:func:`transforms.kernels.subset.computed_where`)."""
    payee = d.get_column("payee_id")
    others = payee.eq(tables["participants"].get_column("payee_id").gather(part)).fill_null(False).not_()
    return computed_where(
        others,
        payee,
        lambda paid: row_of(paid.to_frame(), tables["payees"], ["payee_id"]),
        lambda _: own.gather(part).alias("_payee"),
    )


LOOKUP_COLUMNS = ["distribution_id", "event_id", "participant_id", "plan_id", "payee_id", "contract"]
"""The disbursement columns :func:`match_legs` reads: the keys matched with the other tables."""


def in_distribution_order(distributions: pl.DataFrame, only: list[str] | None = None) -> pl.DataFrame:
    """The disbursements in ``distribution_id`` order (the order of the outputs), each column in one
    chunk (given ``only``, just those columns: :func:`facts_of` copies the rest run by run, on its
    thread), without the extract's row numbers."""
    d = distributions.drop("_row", strict=False)
    d = single_chunk(d) if only is None else d.with_columns(single_chunk(d.select(only)))
    return d if d.get_column("distribution_id").is_sorted() else single_chunk(d.sort("distribution_id"))


def matched(
    tables: dict[str, pl.DataFrame], rows: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The disbursements in ``distribution_id`` order, and the row each one refers to in the
    participants, plans, payees and (given ``rows`` of :func:`contract_rows`) contract rows:
    ``_part``, ``_plan``, ``_payee``, ``_crow`` (:func:`transforms.kernels.lookup.row_of`; the payees
    through the participants' own payee rows, :func:`payee_rows`). One thread: :func:`match_legs`
    is the engine's."""
    d = in_distribution_order(tables["distributions"])
    part = row_of(d, tables["participants"], ["participant_id"], "_part")
    ids = [
        part,
        row_of(d, tables["plans"], ["plan_id"], "_plan"),
        payee_rows(d, tables, part, own_payee_rows(tables)),
    ]
    if rows is not None:
        ids.append(contract_row_of(d, rows))
    return d, pl.DataFrame(ids)


def contract_row_of(d: pl.DataFrame, rows: pl.DataFrame) -> pl.Series:
    """``_crow``: for each disbursement, the row of ``rows`` (:func:`contract_rows`) with its event
    and contract, as :func:`transforms.kernels.lookup.row_of` finds it. When both frames list the same
    events in the same order (a validated extract), the event numbers ``_eid`` of ``rows`` number the
    disbursements' events too, so (event, contract) is one small integer — the event number times
    the number of contract kinds plus the kind's position: each contract row is written at its
    integer in a dense array, read once per disbursement, and no text is compared but the event
    ids once per event. Otherwise (or with a repeated key) the general lookup."""
    events, mine = rows.get_column("event_id"), d.get_column("event_id")
    eid = rows.get_column("_eid")
    fast = (
        rows.height
        and d.height
        and not events.null_count()
        and not mine.null_count()
        and not rows.get_column("contract").null_count()
        and eid.is_sorted()  # numbered by first appearance: each event's rows are consecutive
    )
    if fast:  # the disbursements' runs of events, one per event, in the same order
        d_eid = mine.rle_id()
        heads, d_heads = run_marks(eid), run_marks(d_eid)
        fast = d_eid[-1] == eid[-1] and mine.filter(d_heads).equals(events.filter(heads))
    if not fast:
        return row_of(d, rows, CONTRACT, "_crow")
    kinds = CONTRACTS  # validated contract kinds (docs/spec/extract.md); any other value: the general lookup
    width = len(kinds)
    kind_of_row = position_in(rows.get_column("contract"), kinds)
    if kind_of_row.null_count():
        return row_of(d, rows, CONTRACT, "_crow")
    slot = eid.cast(pl.UInt64) * width + kind_of_row
    dense = (
        pl.Series("_crow", [None], pl.UInt32)
        .extend_constant(None, (eid[-1] + 1) * width - 1)
        .scatter(slot, pl.int_range(rows.height, eager=True, dtype=pl.UInt32))
    )
    if dense.len() - dense.null_count() != rows.height:  # a repeated (event, contract)
        return row_of(d, rows, CONTRACT, "_crow")
    kind = position_in(d.get_column("contract"), kinds)
    return dense.gather(d_eid.cast(pl.UInt64) * width + kind).alias("_crow")


def _with_leg_columns(legs: pl.DataFrame) -> pl.DataFrame:
    return legs.with_columns(
        pl.col("payment_date").dt.year().cast(pl.Int32).alias("tax_year"),
        _pool(pl.col("contract")).alias("pool"),
        (pl.col("contract") == "roth").alias("roth"),
    )


def joined(tables: dict[str, pl.DataFrame], rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """Disbursements, in ``distribution_id`` order, with what the rules read about the participant,
    the payee, the plan and (given ``rows`` of :func:`contract_rows`) the contract row. ``_part``,
    ``_plan``, ``_payee`` and ``_crow`` number the row of each table joined."""
    d, ids = matched(tables, rows)
    payees = tables["payees"].select(pl.col("tin").alias("payee_tin"))
    parts = [
        single_chunk(d),
        _participants(tables)[ids.get_column("_part")],
        tables["plans"].select(PLAN_COLUMNS)[ids.get_column("_plan")],
        payees[ids.get_column("_payee")],
    ]
    if rows is not None:
        parts.append(rows.drop(CONTRACT)[ids.get_column("_crow")])
    return _with_leg_columns(pl.concat([*parts, ids], how="horizontal"))


def enrich(tables: dict[str, pl.DataFrame]) -> pl.LazyFrame:
    """Disbursements joined with what the rules read about the participant, the payee and the plan."""
    return joined(tables).lazy()


def contract_windows(contract_sorted: bool) -> dict:
    """How a sum over a contract's legs (:data:`transforms.law.scopes.CONTRACT`) is read on legs in
    ``distribution_id`` order: over runs of rows when they come in contract-row order (``_crow``
    sorted, the usual case when both files list events in the same order), else by ``_crow``."""
    crow = pl.col("_crow")
    if contract_sorted:
        return {CONTRACT_SCOPE: lambda x: sum_over_runs(x, crow.set_sorted().rle_id())}
    return {CONTRACT_SCOPE: lambda x: x.sum().over(crow)}


def first_of_contract(contract_sorted: bool) -> pl.Expr:
    """True on one leg of each (event, contract) the event draws on, so that pool totals count each
    contract once."""
    crow = pl.col("_crow").set_sorted() if contract_sorted else pl.col("_crow")
    return run_starts(crow) if contract_sorted else crow.is_first_distinct()


CONTRACT_FACTS = [
    "draw_cents",
    "pre1987_tier_cents",
    "contract_basis_recovered_cents",
    "whole_contract",
    "pool_pretax_part_cents",
    "pool_foreign_part_cents",
    "pool_untaxed_part_cents",
    "pool_irr_recapture_part_cents",
    "roth_qualified",
    "roth_period_complete",
]
"""The facts of each leg's contract draw (§72(e)(8)), what it adds to its pool (once per contract)
and the Roth test (§402A(d)(2)), computed on the legs in ``distribution_id`` order."""


REPORT_COLUMNS = ["reason", "date_of_birth", "payer_tin", "payment_date", "federal_withholding_cents"]
"""What the edit checks and the Form 945 tie-out read on the legs (:mod:`transforms.engine.edit_checks`)."""
WORK_COLUMNS = [*ALLOCATION_INPUTS, "contract_foreign_cents", "first_of_contract", "_codes_bad"]
WORK_ONLY = ["box10_eligible", "takes_pretax_first", "first_of_contract", "held_cents"]
"""Columns the engine works with that no report reads: dropped before the legs are handed on."""


def _require_joined(ids: pl.DataFrame) -> None:
    for column, what in (
        ("_part", "participant"),
        ("_plan", "plan"),
        ("_payee", "payee"),
        ("_crow", "contract row"),
    ):
        if ids.get_column(column).null_count():
            raise ValueError(f"compute needs validated tables: a disbursement has no {what} row")


CODE_INPUTS = [
    "payee_id",
    "payment_date",
    "reason",
    "destination",
    "contract",
    "corrective_taxable_year",
    "from_rollover_source",
]
"""What box 7 reads on the disbursement itself; the rest comes from the participant and the plan."""


CODE_FACTS = [
    "is_59_half_on_payment",
    "paid_because_of_death",
    "numeric_code",
    "corrective_code",
    "qualified_plan_loan_offset",
]
"""The facts box 7 is coded from (besides the leg's contract, destination and reason)."""
CODED = ["distribution_codes", "_codes_bad"]
TABLE_ROWS = 100_000  # at most this many combinations are tabulated (validated extracts: under 10,000)


def box7(frame: pl.DataFrame, p: TaxParameters) -> pl.DataFrame:
    """Box 7 of every leg (i1099r, Guide to Distribution Codes; docs/spec/outputs.md "Which box 7 code"):
    the :data:`CODE_FACTS`, ``distribution_codes`` and ``_codes_bad`` (:func:`codes_by_table`).
    ``frame``: the :data:`CODE_INPUTS` with the participant's facts (and those of
    :data:`PER_PARTICIPANT` computed once per participant, :func:`_participants`) and the plan type."""
    facts = Rules(p).columns(frame, CODE_FACTS)
    inputs = pl.concat([frame.select("contract", "destination", "reason"), facts], how="horizontal")
    return pl.concat([facts, codes_by_table(p, inputs, KNOWN_CODE_VALUES)], how="horizontal")


def _coded(p: TaxParameters, frame: pl.DataFrame) -> pl.DataFrame:
    """:data:`CODED` over ``frame`` (the inputs of :func:`transforms.law.codes.distribution_codes`):
    the codes, and true where they cannot be reported (:func:`transforms.law.codes.needs_three_codes`
    or not :func:`transforms.law.codes.codes_are_valid`)."""
    done = Rules(p).columns(frame, ["distribution_codes", "needs_three_codes", "codes_are_valid"])
    bad = pl.col("needs_three_codes") | ~pl.col("codes_are_valid")
    return done.select("distribution_codes", bad.alias("_codes_bad"))


def codes_by_table(
    p: TaxParameters, legs: pl.DataFrame, known: dict[str, tuple[str, ...]] | None = None
) -> pl.DataFrame:
    """:data:`CODED` for every leg, read from the codes of every combination of the inputs of
    :func:`transforms.law.codes.distribution_codes` at the position of the leg's combination
    (:mod:`transforms.kernels.tabulate`): the same strings, without building them leg by leg.
    ``known`` may list the values a text input can take (the spec's lists): no scan for the values
    present. More combinations than :data:`TABLE_ROWS` (and than legs; unvalidated values): leg by
    leg."""
    known = known or {}
    inputs = inputs_of(law()["distribution_codes"])
    indexed = {column: tabulate.domain_and_index(legs, column, known.get(column)) for column in inputs}
    domains = {column: values for column, (values, _) in indexed.items()}
    if tabulate.size(domains) > max(TABLE_ROWS, legs.height):
        return _coded(p, legs.select(inputs))
    key = tuple((column, tuple(values.to_list())) for column, values in domains.items())
    return _coded_table(p, key)[tabulate.positions(indexed)]


@functools.lru_cache(maxsize=16)
def _coded_table(p: TaxParameters, key: tuple[tuple[str, tuple], ...]) -> pl.DataFrame:
    """:func:`_coded` of every combination of the domains ``key`` (column, values): the same few
    thousand rows for every batch and run of a tax year, so built once."""
    domains = {column: pl.Series(column, values) for column, values in key}
    return _coded(p, tabulate.combinations(domains))


KNOWN_CODE_VALUES = {
    "numeric_code": codes.NUMERIC_CODES,
    "contract": CONTRACTS,
    "destination": DESTINATIONS,
    "reason": REASONS,
}
"""The values box 7's text inputs take in a validated extract (docs/spec/extract.md; :mod:`contracts.extract`)."""


def uncodable(d: pl.DataFrame, coded: pl.DataFrame) -> pl.DataFrame:
    """The legs whose box 7 cannot be reported — three codes needed (i1099r 2023: "Enter a maximum
    of two alphanumeric codes") or a pair Table 1 does not allow: (distribution_id, event_id, rule).
    Their whole event is set aside (:func:`leg_facts`)."""
    bad = coded.get_column("_codes_bad")
    rule = coded.filter(bad).select(
        pl.when(codes.needs_three_codes(pl.col("distribution_codes")))
        .then(pl.lit("codes_over_two"))
        .otherwise(pl.lit("codes_invalid"))
        .alias("rule")
    )
    return pl.concat([d.filter(bad).select("distribution_id", "event_id"), rule], how="horizontal")


@dataclass(frozen=True)
class Matched:
    """The disbursements matched once with the rows they refer to (:func:`match_legs`): the narrow
    tables the engine reads (:func:`read_columns`), the contract rows (:func:`contract_rows`), the
    participants' facts (:func:`_participants`, with the tax year's dates), the disbursements in
    ``distribution_id`` order (``d``) and their row numbers in the other tables (``ids``:
    ``_part``, ``_plan``, ``_payee``, ``_crow``)."""

    tables: dict[str, pl.DataFrame]
    rows: pl.DataFrame
    people: pl.DataFrame
    d: pl.DataFrame
    ids: pl.DataFrame

    def slice(self, offset: int, length: int) -> Matched:
        """The same match for a run of consecutive disbursements (zero-copy)."""
        return Matched(
            self.tables, self.rows, self.people, self.d.slice(offset, length), self.ids.slice(offset, length)
        )


def match_legs(tables: dict[str, pl.DataFrame], p: TaxParameters) -> Matched:
    """Match every disbursement with its participant, plan, payee and contract row, once for the
    whole batch (as :func:`matched` does), and compute the participants' facts once; the tables
    must be validated (:func:`_require_joined`). The contract rows and the participants' own payees
    are found on a second thread while the participants, plans and payees are matched."""
    tables = read_columns(tables)
    with ThreadPoolExecutor(1, thread_name_prefix="prorata-match") as side:
        rows_done = side.submit(contract_rows, tables["contracts"])
        own_done = side.submit(own_payee_rows, tables)
        d = in_distribution_order(tables["distributions"], LOOKUP_COLUMNS)
        crow_done = side.submit(lambda: contract_row_of(d, rows_done.result()))
        part = row_of(d, tables["participants"], ["participant_id"], "_part")
        plan = row_of(d, tables["plans"], ["plan_id"], "_plan")
        own = own_done.result()
        payee = payee_rows(d, tables, part, own)
        people = _participants(tables, p, own)
        account = plan_major_accounts(part, plan, tables["participants"].height)
        ids = pl.DataFrame([part, plan, payee, crow_done.result(), account])
        rows = rows_done.result()
    _require_joined(ids)
    return Matched(tables, rows, people, d, ids)


def plan_major_accounts(part: pl.Series, plan: pl.Series, participants: int) -> pl.Series:
    """``_account``: for each disbursement, the number of its participant's account when the
    participants are numbered plan by plan (by plan row, then by their own row): a participant is in
    one plan (docs/spec/extract.md), so the form key's packed integer (:mod:`transforms.engine.forms`) can hold the
    account without the plan and still keep each (tax_year, plan, payee) together. ``part`` itself
    when the participants already come plan by plan."""
    plan_of = (
        pl.Series("_p", [], pl.UInt32).extend_constant(None, participants).scatter(part, plan).fill_null(0)
    )
    if plan_of.is_sorted():
        return part.alias("_account")
    key = plan_of.cast(pl.UInt64) * participants + pl.int_range(participants, eager=True, dtype=pl.UInt64)
    order = key.arg_sort()
    number = (
        pl.Series("_n", [], pl.UInt32)
        .extend_constant(0, participants)
        .scatter(order, pl.int_range(participants, eager=True, dtype=pl.UInt32))
    )
    return number.gather(part).alias("_account")


def leg_facts(tables: dict[str, pl.DataFrame], p: TaxParameters) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The legs with every fact the rules read, and the legs set aside (:func:`facts_of`)."""
    return facts_of(match_legs(tables, p), p)


def facts_of(m: Matched, p: TaxParameters) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The legs of ``m`` with every fact the rules read, and the legs set aside (:func:`uncodable`).

    Box 7 (i1099r, Guide to Distribution Codes) is decided first, on the few columns it reads, so
    that the events that cannot be reported leave before the other columns are gathered. The rest:
    the joined rows (:func:`joined`) and the :data:`CONTRACT_FACTS` — the contract draw and its
    basis recovery (§72(e)(8)), what each contract adds to its pool, the Roth test (§402A(d)(2)).
    The rules see only the extract's own columns and the engine's; the extract's extra columns
    come back beside them."""
    tables, rows, d, ids = m.tables, m.rows, single_chunk(m.d), m.ids
    person = m.people[ids.get_column("_part")]
    plan = tables["plans"].select(PLAN_COLUMNS)[ids.get_column("_plan")]
    coded = box7(pl.concat([d.select(CODE_INPUTS), person, plan], how="horizontal"), p)
    rejected = uncodable(d, coded)
    if rejected.height:
        eid = rows.get_column("_eid").gather(ids.get_column("_crow"))
        keep = ~eid.is_in(eid.filter(coded.get_column("_codes_bad")).unique().implode())
        d, ids, person, plan, coded = (f.filter(keep) for f in (d, ids, person, plan, coded))
    d, ids, coded = (single_chunk(f) for f in (d, ids, coded))
    person = person.drop(PER_PARTICIPANT, strict=False)
    person, plan = (single_chunk(f) for f in (person, plan))
    own = [c for c in d.columns if c in DISTRIBUTION_INPUTS]
    payees = tables["payees"].select(pl.col("tin").alias("payee_tin"))
    legs = pl.concat(
        [
            d.select(own),
            person,
            plan,
            payees[ids.get_column("_payee")],
            rows.drop(CONTRACT)[ids.get_column("_crow")],
            ids,
            coded,
        ],
        how="horizontal",
    )
    legs = _with_leg_columns(legs).with_columns(
        (pl.col("_eid").cast(pl.UInt64) * 2 + pl.col("roth").cast(pl.UInt64)).alias("_pool_key"),
    )
    contract_sorted = legs.get_column("_crow").is_sorted()
    legs = check_legs(legs.with_columns(first_of_contract(contract_sorted).alias("first_of_contract")))
    legs = Rules(p, contract_windows(contract_sorted)).evaluate(legs, CONTRACT_FACTS)
    extra = d.select(c for c in d.columns if c not in own and c not in legs.columns)
    return pl.concat([legs, extra], how="horizontal"), rejected


def split(legs: pl.DataFrame, p: TaxParameters) -> pl.DataFrame:
    """The Notice 2014-54 split of every leg and boxes 2a, 5, 10 and the foreign-source part
    (:mod:`transforms.law.allocation`, :mod:`transforms.law.boxes`; :mod:`transforms.engine.allocation`)."""
    rules = Rules(p)
    legs = rules.evaluate(legs, ["box10_eligible", "takes_pretax_first"])
    legs = pl.concat([legs, allocate(legs, p)], how="horizontal")
    return rules.evaluate(legs, ["box2a_cents", "box5_cents", "foreign_source_cents"])


@dataclass(frozen=True)
class CodedLegs:
    """The split and the codes of every reportable disbursement, before the forms
    (:func:`split_and_code`): the legs, the events set aside and the extract's extra columns."""

    legs: pl.DataFrame
    rejected: pl.DataFrame
    extra: list[str]


MIN_PART_ROWS = 50_000
"""Below this many disbursements a batch is not cut (threads would cost more than they save)."""


def event_cuts(m: Matched, parts: int, min_rows: int = MIN_PART_ROWS) -> list[tuple[int, int]]:
    """Up to ``parts`` runs of consecutive disbursements of ``m`` of about equal size, as (offset,
    length), each holding whole events: every event's legs lie in one run, so the runs can be split
    and coded apart (every rule reads the leg, its contract rows, its pool or its event, never
    another event). Possible when the disbursements list each event's legs together — the event
    numbers of the legs are sorted — otherwise (or below ``min_rows`` a run) one run."""
    n = m.d.height
    parts = min(parts, n // max(min_rows, 1))
    if parts <= 1:
        return [(0, n)]
    eid = m.rows.get_column("_eid").gather(m.ids.get_column("_crow"))
    if not eid.is_sorted():
        return [(0, n)]
    targets = eid.gather([n * k // parts for k in range(1, parts)])
    starts = eid.search_sorted(targets, side="left").to_list()
    bounds = sorted({0, *starts} - {n}) + [n]
    return [(a, b - a) for a, b in pairwise(bounds)]


def _code_part(m: Matched, p: TaxParameters, extra: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    legs, rejected = facts_of(m, p)
    wanted = [
        *DISTRIBUTIONS_COLUMNS,
        *extra,
        *explain.FACT_COLUMNS,
        *forms.LEG_COLUMNS,
        *REPORT_COLUMNS,
        *WORK_COLUMNS,
    ]
    legs = legs.select(list(dict.fromkeys(c for c in wanted if c in legs.columns)))
    return split(legs, p), rejected


def split_and_code(
    tables: dict[str, pl.DataFrame],
    p: TaxParameters,
    threads: int | None = None,
    min_part_rows: int = MIN_PART_ROWS,
) -> CodedLegs:
    """Split every disbursement and code it: everything :func:`compute` does before the forms.

    The disbursements are matched once (:func:`match_legs`); then runs of whole events
    (:func:`event_cuts`) are split and coded at once on ``threads`` threads (default polars'
    thread pool size; polars works outside the interpreter lock; runs of at least
    ``min_part_rows``) and put back in order: the legs are the same, row for row, whatever the
    number of threads."""
    extra = [
        c
        for c in tables["distributions"].columns
        if c not in DISTRIBUTIONS_COLUMNS and c not in DISTRIBUTION_INPUTS and not c.startswith("_")
    ]
    threads = pl.thread_pool_size() if threads is None else max(1, threads)
    m = match_legs(tables, p)
    cuts = event_cuts(m, threads, min_part_rows)
    if len(cuts) == 1:
        legs, rejected = _code_part(m, p, extra)
        return CodedLegs(legs, rejected, extra)
    with ThreadPoolExecutor(len(cuts), thread_name_prefix="prorata-engine") as pool:
        done = list(pool.map(lambda cut: _code_part(m.slice(*cut), p, extra), cuts))
    legs = pl.concat([legs for legs, _ in done], rechunk=False)
    rejected = pl.concat([rejected for _, rejected in done])
    return CodedLegs(legs, rejected, extra)


def with_forms(coded: CodedLegs) -> EngineResult:
    """Group the coded legs into forms (:func:`transforms.engine.forms.build_forms`) and cut the outputs."""
    legs = coded.legs
    built = forms.build_forms(legs.select(forms.LEG_COLUMNS))
    kept = legs.with_columns(built.form_id, built.form_row).drop(
        "_pool_key", "_codes_bad", *(c for c in ALLOCATION_INPUTS if c.endswith("_part_cents")), *WORK_ONLY
    )
    dist = kept.select(DISTRIBUTIONS_COLUMNS + coded.extra)
    why = kept.select(explain.FACT_COLUMNS)
    return EngineResult(
        distributions=dist, forms=built.forms, explain=why, legs=kept, rejected=coded.rejected
    )


def compute(tables: dict[str, pl.DataFrame], p: TaxParameters, threads: int | None = None) -> EngineResult:
    """Split every disbursement, code it and group it into forms (``threads``: see
    :func:`split_and_code`; the result does not depend on it)."""
    return with_forms(split_and_code(tables, p, threads))
