"""The tax engine: from validated extract tables to the split, the codes and the forms.

Pure polars, lazy: no I/O, no clock, no Prefect. ``compute`` is the one entry point the flows use.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms import allocation, basis, boxes, codes, explain, forms, roth
from transforms.exceptions import paid_because_of_death
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
    distributions: pl.DataFrame  # outputs.md distributions.parquet (plus the extract's extra columns)
    forms: pl.DataFrame  # outputs.md forms.parquet
    explain: pl.DataFrame  # the facts of each rule trace (transforms.explain.FACT_COLUMNS)
    legs: pl.DataFrame  # working frame for reports (edit checks, tie-out); never written as is
    rejected: pl.DataFrame  # (distribution_id, event_id, rule) of events the engine cannot report


def _pool(contract: pl.Expr) -> pl.Expr:
    return pl.when(contract == "roth").then(pl.lit("roth")).otherwise(pl.lit("non_roth"))


CONTRACT = ["event_id", "contract"]
POOL = ["event_id", "pool"]


def contract_facts(legs: pl.LazyFrame, contracts: pl.LazyFrame) -> pl.LazyFrame:
    """Per leg, its contract's draw D in the event and the basis that draw recovers (§72(e)(8)).

    The draw is a window sum over the event's legs on the same contract; the contract row (value,
    basis, pre-1987 basis, recapture and foreign-source amounts) is joined once. Every leg of a
    contract carries the same contract figures; ``_first_of_contract`` marks one of them so that pool
    totals count each contract once.
    """
    crow = contracts.select(
        "event_id",
        "contract",
        "value_cents",
        pl.col("basis_cents").alias("contract_basis_cents"),
        "pre1987_basis_cents",
        "irr_recapture_cents",
        pl.col("foreign_source_cents").alias("contract_foreign_cents"),
    )
    return (
        legs.with_columns(
            pl.col("amount_cents").sum().over(CONTRACT).alias("draw_cents"),
            (pl.int_range(pl.len()).over(CONTRACT) == 0).alias("_first_of_contract"),
        )
        .join(crow, on=CONTRACT, how="left")
        .with_columns(pl.col("contract_basis_cents").alias("basis_cents"))
        .with_columns(basis.pre1987_tier().alias("pre1987_tier_cents"))
        .with_columns(
            basis.basis_recovered(pl.col("pre1987_tier_cents")).alias("contract_basis_recovered_cents"),
            basis.takes_whole_contract().alias("whole_contract"),
        )
        .drop("basis_cents")
    )


def pool_totals() -> list[pl.Expr]:
    """Per event and pool, over the contracts the event draws on (each counted once): the pre-tax
    total, the foreign-source and untaxed totals (outputs.md foreign-source formula) and the Roth
    recapture amounts."""
    once = pl.col("_first_of_contract")

    def total(expr: pl.Expr) -> pl.Expr:
        return pl.when(once).then(expr).otherwise(0).sum().over(POOL)

    return [
        total(pl.col("draw_cents") - pl.col("contract_basis_recovered_cents")).alias("pool_pretax_cents"),
        total(pl.col("contract_foreign_cents")).alias("pool_foreign_cents"),
        total(pl.col("value_cents") - pl.col("contract_basis_cents")).alias("pool_untaxed_cents"),
        total(pl.col("irr_recapture_cents")).alias("pool_irr_recapture_cents"),
    ]


def event_closes(contracts: pl.LazyFrame, legs: pl.LazyFrame) -> pl.LazyFrame:
    """Per event: it draws every contract the payee holds down to zero. Each draw is at most its
    contract's value (contracts.validate), so this holds exactly when the event's total draw equals
    the total value of its contract rows (i1099r box 2b; outputs.md)."""
    held = contracts.group_by("event_id").agg(pl.col("value_cents").sum().alias("_held"))
    drawn = legs.group_by("event_id").agg(pl.col("amount_cents").sum().alias("_drawn"))
    return drawn.join(held, on="event_id", how="left").select(
        "event_id", (pl.col("_drawn") == pl.col("_held")).fill_null(False).alias("closes")
    )


def enrich(tables: dict[str, pl.DataFrame]) -> pl.LazyFrame:
    """Disbursements joined with what the rules read about the participant, the payee and the plan."""
    d = tables["distributions"].lazy()
    birth = tables["payees"].lazy().select(pl.col("payee_id").alias("participant_payee_id"), "date_of_birth")
    participants = (
        tables["participants"]
        .lazy()
        .select(
            "participant_id",
            pl.col("payee_id").alias("participant_payee_id"),
            "date_of_death",
            "disabled",
            "separation_date",
            "public_safety_employee",
            "roth_first_year",
        )
        .join(birth, on="participant_payee_id", how="left")
    )
    plans = tables["plans"].lazy().select("plan_id", "plan_type", "payer_tin", "pre1987_recovery")
    return (
        d.join(participants, on="participant_id", how="left")
        .join(plans, on="plan_id", how="left")
        .with_columns(
            pl.col("payment_date").dt.year().cast(pl.Int32).alias("tax_year"),
            _pool(pl.col("contract")).alias("pool"),
            (pl.col("contract") == "roth").alias("roth"),
        )
    )


def compute(tables: dict[str, pl.DataFrame], p: TaxParameters) -> EngineResult:
    """Split every disbursement, code it and group it into forms."""
    contracts = tables["contracts"].lazy()
    facts = enrich(tables).pipe(contract_facts, contracts).with_columns(pool_totals()).collect()
    legs = (
        allocation.allocate_pretax(facts)  # eager from here: the running sums follow the sorted order
        .with_columns(
            pl.when(allocation.is_direct_rollover())
            .then(pl.col("amount_cents"))
            .otherwise(0)
            .sum()
            .over(POOL)
            .alias("pool_rollover_cents"),
            roth.roth_qualified(p).alias("roth_qualified"),
            roth.roth_period_complete(p).fill_null(False).alias("roth_period_complete"),
            codes.numeric_code(p).alias("numeric_code"),
            paid_because_of_death().alias("_death"),
        )
        .with_columns(
            codes.distribution_codes(p, pl.col("numeric_code"), pl.col("_death")).alias("distribution_codes")
        )
        .with_columns(
            boxes.box2a_taxable_amount().alias("box2a_cents"),
            boxes.box5_employee_contributions().alias("box5_cents"),
        )
        .pipe(boxes.box10_irr_recapture)
        .with_columns(boxes.foreign_source_part().alias("foreign_source_cents"))
        .with_columns(forms.form_key().alias("_form_key"))
        .with_columns(forms.form_id())
        .drop("_form_key", "_death", "_first_of_contract", *allocation.SORT_KEYS[2:])
    )

    rejected_rows = legs.filter(codes.needs_three_codes() | ~codes.codes_are_valid()).select(
        "distribution_id",
        "event_id",
        pl.when(codes.needs_three_codes())
        .then(pl.lit("codes_over_two"))
        .otherwise(pl.lit("codes_invalid"))
        .alias("rule"),
    )
    kept = (
        legs.filter(~pl.col("event_id").is_in(rejected_rows["event_id"].implode()))
        if rejected_rows.height
        else legs
    )

    kept_lazy = kept.lazy()
    payee_tin = tables["payees"].lazy().select("payee_id", pl.col("tin").alias("payee_tin"))
    form_frame = forms.build_forms(
        kept_lazy.join(payee_tin, on="payee_id", how="left"), event_closes(contracts, kept_lazy)
    ).collect()

    extra = [
        c for c in tables["distributions"].columns if c not in DISTRIBUTION_COLUMNS and not c.startswith("_")
    ]
    extra = [c for c in extra if c not in _INPUT_COLUMNS]
    dist = kept.select(DISTRIBUTION_COLUMNS + extra).sort("distribution_id")
    why = kept.select(explain.FACT_COLUMNS).sort("distribution_id")
    return EngineResult(distributions=dist, forms=form_frame, explain=why, legs=kept, rejected=rejected_rows)


_INPUT_COLUMNS = (
    "payment_date",
    "rollover_order",
    "reason",
    "corrective_taxable_year",
    "from_rollover_source",
    "federal_withholding_cents",
    "state",
    "state_withholding_cents",
    "state_payer_id",
    "local_withholding_cents",
    "locality",
)
