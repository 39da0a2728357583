"""The tax engine: from validated extract tables to the split, the codes and the forms.

Pure polars: no I/O, no clock, no Prefect. ``compute`` is the one entry point the flows use.

How it stays fast on millions of legs (polars 2.1): strings are matched once — each disbursement
gets the row number of its participant, plan, payee and contract row (``_part``, ``_plan``,
``_payee``, ``_crow``; :func:`row_of`: a binary search in a sorted table, a join otherwise; the
contract row through the event numbers, :func:`contract_row_of`) on single-chunk copies of the
columns the engine reads (:func:`read_columns`) — and
everything after runs on integers, with a dense event number (``_eid``). The legs stay in
``distribution_id`` order (the order of the outputs); the pool allocation runs on a narrow copy
sorted once in allocation order, where each pool is a run of rows (:mod:`transforms.allocation`);
the forms on a narrow copy sorted by the packed form key (:mod:`transforms.forms`). Box 7 is read
from a table of every combination of its inputs (:func:`transforms.codes.distribution_codes_by_table`).
The tables must be validated (:mod:`contracts.validate`): unique keys, every disbursement with its
participant, plan, payee and contract row. :func:`compute` is :func:`with_forms` over
:func:`split_and_code` (the engine benchmark times the two apart).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import polars as pl

from contracts.extract import CONTRACTS, DESTINATIONS, REASONS
from transforms import allocation, basis, boxes, codes, explain, forms, roth
from transforms.exceptions import (
    date_reaching_59_half,
    is_59_half_on_payment,
    paid_because_of_death,
    separation_in_year_of_age,
)
from transforms.lookup import position_in, row_of, run_marks
from transforms.money import fits_narrow
from transforms.params import TaxParameters

DISTRIBUTION_COLUMNS = [
    "distribution_id",
    "event_id",
    "plan_id",
    "participant_id",
    "payee_id",
    "tax_year",
    "contract",
    "destination",
    "amount_cents",
    "pretax_cents",
    "basis_cents",
    "box2a_cents",
    "box5_cents",
    "box10_cents",
    "distribution_codes",
    "form_id",
    "foreign_source_cents",
]


@dataclass(frozen=True)
class EngineResult:
    distributions: (
        pl.DataFrame
    )  # docs/spec/outputs.md distributions.parquet (plus the extract's extra columns)
    forms: pl.DataFrame  # docs/spec/outputs.md forms.parquet
    explain: pl.DataFrame  # the facts of each rule trace (transforms.explain.FACT_COLUMNS)
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
    basis, recapture and foreign-source amounts; the event number ``_eid``; and ``_held``, the total
    value of the event's contract rows (for box 2b)."""
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
        return rows.with_columns(
            allocation.sum_over_runs(pl.col("value_cents"), pl.col("_eid")).alias("_held")
        )
    return rows.with_columns(pl.col("value_cents").sum().over("_eid").alias("_held"))


def own_payee_rows(tables: dict[str, pl.DataFrame]) -> pl.Series:
    """For each participant, the row of its own payee row in the payees (``_own``)."""
    return row_of(tables["participants"], tables["payees"], ["payee_id"], "_own")


def _participants(
    tables: dict[str, pl.DataFrame], p: TaxParameters | None = None, own: pl.Series | None = None
) -> pl.DataFrame:
    """The participant columns the rules read, with the date of birth of the participant's own payee
    row (``own``: :func:`own_payee_rows`), in the participants' row order; given ``p``, also
    ``_date_59_half`` (:func:`transforms.exceptions.date_reaching_59_half`) and ``_separation_age``
    (:func:`transforms.exceptions.separation_in_year_of_age`), once per participant rather than per
    leg."""
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
    return facts.with_columns(
        date_reaching_59_half(p).alias("_date_59_half"),
        separation_in_year_of_age(p).alias("_separation_age"),
    )


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
    """``_payee``: for each disbursement, its payee's row, as :func:`transforms.lookup.row_of` finds
    it. Most disbursements pay the participant: their payee is the participant's own payee row
    (``own``, :func:`own_payee_rows`, read at ``part``); only the others are looked up."""
    participant_payee = tables["participants"].get_column("payee_id").gather(part)
    others = d.get_column("payee_id").eq(participant_payee).fill_null(False).not_()
    rows = own.gather(part).alias("_payee")
    if others.any():
        rows = rows.scatter(others.arg_true(), row_of(d.filter(others), tables["payees"], ["payee_id"]))
    return rows


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
    ``_part``, ``_plan``, ``_payee``, ``_crow`` (:func:`transforms.lookup.row_of`; the payees
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
    and contract, as :func:`transforms.lookup.row_of` finds it. When both frames list the same
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


def contract_facts(contract_sorted: bool = False, wide: bool = True) -> list[list[pl.Expr]]:
    """Per leg, its contract's draw D in the event and the basis that draw recovers (§72(e)(8)),
    as stages of expressions over the legs joined with :func:`contract_rows`.

    The draw is a sum over the event's legs on the same contract (``_crow``); every leg of a contract
    carries the same contract figures; ``_first_of_contract`` marks one of them so that pool totals
    count each contract once. ``contract_sorted``: the legs come in ``_crow`` order (the usual case
    when both files list events in the same order), so the sums run over runs of rows. ``wide``:
    the last stage's products in Int128 (:func:`transforms.money.fits_narrow` says when Int64 is
    exact).
    """
    crow = pl.col("_crow").set_sorted() if contract_sorted else pl.col("_crow")
    first = (crow != crow.shift(1)).fill_null(True) if contract_sorted else crow.is_first_distinct()
    amount = pl.col("amount_cents")
    draw = allocation.sum_over_runs(amount, crow.rle_id()) if contract_sorted else amount.sum().over(crow)
    corrective = pl.col("_corrective")
    prorated = basis.basis_recovered(pl.col("pre1987_tier_cents"), wide)
    return [
        [
            draw.alias("draw_cents"),
            first.alias("_first_of_contract"),
            pl.col("contract_basis_cents").alias("basis_cents"),
            basis.corrective_distribution().alias("_corrective"),
        ],
        [pl.when(corrective).then(0).otherwise(basis.pre1987_tier()).alias("pre1987_tier_cents")],
        [
            basis.corrective_basis(corrective, prorated).alias("contract_basis_recovered_cents"),
            basis.takes_whole_contract().alias("whole_contract"),
        ],
    ]


POOL_TOTALS = {
    "pool_pretax_cents": "_c_pretax",
    "pool_foreign_cents": "_c_foreign",
    "pool_untaxed_cents": "_c_untaxed",
    "pool_irr_recapture_cents": "_c_irr",
}


def pool_parts() -> list[pl.Expr]:
    """Per leg, what its contract adds to the pool totals — once per contract the event draws on:
    the pre-tax part of the draw, the foreign-source and untaxed amounts (docs/spec/outputs.md foreign-source
    formula) and the Roth recapture amounts. Summed over the pool by :func:`pool_totals`."""
    once = pl.col("_first_of_contract")

    def part(expr: pl.Expr) -> pl.Expr:
        return pl.when(once).then(expr).otherwise(0)

    return [
        part(pl.col("draw_cents") - pl.col("contract_basis_recovered_cents")).alias("_c_pretax"),
        part(pl.col("contract_foreign_cents")).alias("_c_foreign"),
        part(pl.col("value_cents") - pl.col("contract_basis_cents")).alias("_c_untaxed"),
        part(pl.col("irr_recapture_cents")).alias("_c_irr"),
    ]


def pool_totals(w: allocation.Windows = allocation.RUNS) -> list[pl.Expr]:
    """Per event and pool, over the contracts the event draws on (each counted once, see
    :func:`pool_parts`): the pre-tax total, the foreign-source and untaxed totals (docs/spec/outputs.md
    foreign-source formula) and the Roth recapture amounts. Frame in allocation order."""
    return [w.pool(pl.col(part)).alias(total) for total, part in POOL_TOTALS.items()]


def event_closes(w: allocation.Windows = allocation.RUNS) -> pl.Expr:
    """Per event: it draws every contract the payee holds down to zero. Each draw is at most its
    contract's value (contracts.validate), so this holds exactly when the event's total draw equals
    the total value of its contract rows (i1099r box 2b; docs/spec/outputs.md). Frame in allocation order
    (``_ev_start`` marks each event's first row), or ``w`` :data:`transforms.allocation.ALONE`."""
    return (w.event(pl.col("amount_cents")) == pl.col("_held")).fill_null(False)


ALLOCATION_INPUTS = [
    "_pool_key",
    "_eid",
    "destination",
    "rollover_order",
    "amount_cents",
    "_held",
    "_box10_eligible",
    *POOL_TOTALS.values(),
]
ALLOCATION_OUTPUTS = [
    *POOL_TOTALS,
    "pool_rollover_cents",
    "pretax_cents",
    "basis_cents",
    "box10_cents",
    "closes",
]


def _allocated(frame: pl.DataFrame, w: allocation.Windows) -> pl.DataFrame:
    """The :data:`ALLOCATION_OUTPUTS` columns added to ``frame``: in allocation order for
    :data:`transforms.allocation.RUNS`, any order for :data:`transforms.allocation.ALONE`."""
    return (
        frame.with_columns(pool_totals(w))
        .with_columns(
            w.pool(pl.when(allocation.is_direct_rollover()).then(pl.col("amount_cents")).otherwise(0)).alias(
                "pool_rollover_cents"
            )
        )
        .pipe(allocation.allocate_in_order, w)
        .with_columns(
            boxes.box10_irr_recapture(pl.col("_box10_eligible"), w).alias("box10_cents"),
            event_closes(w).alias("closes"),
        )
    )


def allocate_in_runs(narrow: pl.DataFrame) -> pl.DataFrame:
    """The :data:`ALLOCATION_OUTPUTS` of legs (:data:`ALLOCATION_INPUTS`, in ``distribution_id``
    order) sorted once in allocation order (:func:`transforms.allocation.sort_for_allocation`),
    returned in the legs' order."""
    ordered = allocation.sort_for_allocation(
        narrow.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_pos")), "_pool_key"
    )
    done = _allocated(
        ordered.with_columns((pl.col("_eid") != pl.col("_eid").shift(1)).fill_null(True).alias("_ev_start")),
        allocation.RUNS,
    )
    # back in the legs' order: allocation row i holds leg _pos[i]
    pos = done.get_column("_pos")
    back = (
        pl.Series("_back", [], pl.UInt32)
        .extend_constant(0, pos.len())
        .scatter(pos, pl.int_range(pos.len(), eager=True, dtype=pl.UInt32))
    )
    return done.select(pl.col(ALLOCATION_OUTPUTS).gather(back))


def alone_in_event(eid: pl.Series) -> pl.Series:
    """True on the legs that are the only leg of their event (``_eid``): neighbours compared when
    each event's legs are together, a hash count otherwise."""
    if not eid.is_sorted():
        return eid.is_unique()
    return pl.select(
        ((eid != eid.shift(1)).fill_null(True) & (eid != eid.shift(-1)).fill_null(True)).alias("alone")
    ).to_series()


def allocate(legs: pl.DataFrame) -> pl.DataFrame:
    """Pool totals, the Notice 2014-54 allocation, box 10 and the event's close-out flag, in the
    legs' order. The formulas are the same for every leg (:mod:`transforms.allocation`); how sums
    over other legs are read is not: a leg alone in its event is its own pool and event
    (:data:`transforms.allocation.ALONE`, no sort), the legs of the other events are sorted in
    allocation order (:func:`allocate_in_runs`). Both are computed on narrow copies; the second
    overwrites the first's rows of the events with several legs."""
    narrow = legs.select(ALLOCATION_INPUTS)
    alone = alone_in_event(narrow.get_column("_eid"))
    if not alone.any():
        return allocate_in_runs(narrow)
    single = _allocated(narrow, allocation.ALONE).select(ALLOCATION_OUTPUTS)
    if alone.all():
        return single
    shared = (~alone).arg_true()
    runs = allocate_in_runs(narrow[shared])
    columns = single.get_columns()
    del single  # the columns alone own their buffers: each scatter writes in place
    return pl.DataFrame([column.scatter(shared, runs.get_column(column.name)) for column in columns])


REPORT_COLUMNS = ["reason", "date_of_birth", "payer_tin", "payment_date", "federal_withholding_cents"]
"""What the edit checks and the Form 945 tie-out read on the legs (:mod:`transforms.edit_checks`)."""
WORK_COLUMNS = [*ALLOCATION_INPUTS, "contract_foreign_cents", "_first_of_contract", "_codes_bad"]


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


def box7(frame: pl.DataFrame, p: TaxParameters) -> pl.DataFrame:
    """Box 7 of every leg (i1099r, Guide to Distribution Codes; docs/spec/outputs.md "Which box 7 code"):
    the numeric code, the 59½, death and corrective facts, ``distribution_codes`` and ``_codes_bad``
    (:func:`transforms.codes.distribution_codes_by_table`). ``frame``: the :data:`CODE_INPUTS` with
    the participant's facts (with ``_date_59_half`` and ``_separation_age``, as
    :func:`_participants` computes them given the tax year's parameters) and the plan type."""
    at_59_half = is_59_half_on_payment(p, pl.col("_date_59_half"))
    facts = frame.with_columns(at_59_half.alias("_59_half")).with_columns(
        codes.numeric_code(p, pl.col("_59_half"), pl.col("_separation_age")).alias("numeric_code"),
        paid_because_of_death().alias("_death"),
        codes.corrective_in_payment_year().alias("_corrective_8"),
    )
    return pl.concat(
        [
            facts.select("numeric_code", "_death", "_corrective_8", "_59_half"),
            codes.distribution_codes_by_table(p, facts, KNOWN_CODE_VALUES),
        ],
        how="horizontal",
    )


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
        pl.when(codes.needs_three_codes())
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
    one plan (docs/spec/extract.md), so the form key's packed integer (:mod:`transforms.forms`) can hold the
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
    the joined rows (:func:`joined`), the contract draw and its basis recovery
    (:func:`contract_facts`, §72(e)(8)), what each contract adds to its pool (:func:`pool_parts`)
    and the Roth test (§402A(d)(2))."""
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
    person, plan = (single_chunk(f) for f in (person.drop("_date_59_half", "_separation_age"), plan))
    payees = tables["payees"].select(pl.col("tin").alias("payee_tin"))
    legs = pl.concat(
        [
            d,
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
    *first, _ = contract_facts(contract_sorted)
    for stage in first:
        legs = legs.with_columns(stage)
    wide = not fits_narrow(legs, ["draw_cents", "basis_cents", "value_cents", "pre1987_tier_cents"])
    legs = legs.with_columns(contract_facts(contract_sorted, wide)[-1])
    legs = legs.drop("basis_cents").with_columns(
        *pool_parts(),
        roth.roth_qualified(p, pl.col("_59_half")).alias("roth_qualified"),
        roth.roth_period_complete(p).fill_null(False).alias("roth_period_complete"),
    )
    return legs, rejected


def split(legs: pl.DataFrame) -> pl.DataFrame:
    """The Notice 2014-54 split of every leg and boxes 2a, 5, 10 and the foreign-source part
    (:mod:`transforms.allocation`, :mod:`transforms.boxes`)."""
    legs = legs.with_columns(boxes.box10_eligible().alias("_box10_eligible"))
    legs = pl.concat([legs, allocate(legs)], how="horizontal").with_columns(
        boxes.box2a_taxable_amount().alias("box2a_cents"),
        boxes.box5_employee_contributions().alias("box5_cents"),
    )
    wide = not fits_narrow(legs, ["box2a_cents", "pool_foreign_cents", "pool_untaxed_cents"])
    return legs.with_columns(boxes.foreign_source_part(wide).alias("foreign_source_cents"))


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
        *DISTRIBUTION_COLUMNS,
        *extra,
        *explain.FACT_COLUMNS,
        *forms.LEG_COLUMNS,
        *REPORT_COLUMNS,
        *WORK_COLUMNS,
    ]
    legs = legs.select(list(dict.fromkeys(c for c in wanted if c in legs.columns)))
    return split(legs), rejected


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
        c for c in tables["distributions"].columns if c not in DISTRIBUTION_COLUMNS and not c.startswith("_")
    ]
    extra = [c for c in extra if c not in _INPUT_COLUMNS]
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
    """Group the coded legs into forms (:func:`transforms.forms.build_forms`) and cut the outputs."""
    legs = coded.legs
    built = forms.build_forms(legs.select(forms.LEG_COLUMNS))
    kept = legs.with_columns(built.form_id, built.form_row).drop(
        "_pool_key",
        "_box10_eligible",
        "_first_of_contract",
        "_held",
        "_codes_bad",
        *POOL_TOTALS.values(),
    )
    dist = kept.select(DISTRIBUTION_COLUMNS + coded.extra)
    why = kept.select(explain.FACT_COLUMNS)
    return EngineResult(
        distributions=dist, forms=built.forms, explain=why, legs=kept, rejected=coded.rejected
    )


def compute(tables: dict[str, pl.DataFrame], p: TaxParameters, threads: int | None = None) -> EngineResult:
    """Split every disbursement, code it and group it into forms (``threads``: see
    :func:`split_and_code`; the result does not depend on it)."""
    return with_forms(split_and_code(tables, p, threads))


_INPUT_COLUMNS = (
    "payment_date",
    "rollover_order",
    "reason",
    "corrective_taxable_year",
    "corrective_basis_cents",
    "from_rollover_source",
    "federal_withholding_cents",
    "state",
    "state_withholding_cents",
    "state_payer_id",
    "local_withholding_cents",
    "locality",
)
