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


def contract_draws(d: pl.LazyFrame, contracts: pl.LazyFrame, plans: pl.LazyFrame) -> pl.LazyFrame:
    """One row per event and contract held, with the draw D and the basis it recovers (§72(e)(8))."""
    draws = d.group_by("event_id", "contract").agg(pl.col("amount_cents").sum().alias("draw_cents"))
    event_plan = (
        d.select("event_id", "plan_id")
        .unique("event_id")
        .join(plans.select("plan_id", "pre1987_recovery"), on="plan_id", how="left")
    )
    return (
        contracts.join(draws, on=["event_id", "contract"], how="left")
        .join(event_plan, on="event_id", how="left")
        .with_columns(pl.col("draw_cents").fill_null(0), _pool(pl.col("contract")).alias("pool"))
        .with_columns(basis.pre1987_tier().alias("pre1987_tier_cents"))
        .with_columns(
            basis.basis_recovered(pl.col("pre1987_tier_cents")).alias("contract_basis_recovered_cents"),
            basis.takes_whole_contract().alias("whole_contract"),
        )
    )


def pool_totals(ec: pl.LazyFrame) -> pl.LazyFrame:
    """Per event and pool, over the contracts the event draws on: pre-tax total, foreign-source and
    untaxed totals (outputs.md foreign-source formula) and the Roth recapture amounts."""
    drawn = ec.filter(pl.col("draw_cents") > 0)
    return drawn.group_by("event_id", "pool").agg(
        (pl.col("draw_cents") - pl.col("contract_basis_recovered_cents")).sum().alias("pool_pretax_cents"),
        pl.col("foreign_source_cents").sum().alias("pool_foreign_cents"),
        (pl.col("value_cents") - pl.col("basis_cents")).sum().alias("pool_untaxed_cents"),
        pl.col("irr_recapture_cents").sum().alias("pool_irr_recapture_cents"),
    )


def enrich(tables: dict[str, pl.DataFrame]) -> pl.LazyFrame:
    """Disbursements joined with what the rules read about the participant, the payee and the plan."""
    d = tables["distributions"].lazy()
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
    )
    payees = tables["payees"].lazy()
    birth = payees.select(pl.col("payee_id").alias("participant_payee_id"), "date_of_birth")
    payee_tin = payees.select("payee_id", pl.col("tin").alias("payee_tin"))
    plans = tables["plans"].lazy().select("plan_id", "plan_type", "payer_tin", "pre1987_recovery")
    return (
        d.join(participants, on="participant_id", how="left")
        .join(birth, on="participant_payee_id", how="left")
        .join(payee_tin, on="payee_id", how="left")
        .join(plans, on="plan_id", how="left")
        .with_columns(
            pl.col("payment_date").dt.year().cast(pl.Int32).alias("tax_year"),
            _pool(pl.col("contract")).alias("pool"),
            (pl.col("contract") == "roth").alias("roth"),
        )
    )


def compute(tables: dict[str, pl.DataFrame], p: TaxParameters) -> EngineResult:
    """Split every disbursement, code it and group it into forms."""
    legs0 = enrich(tables)
    plans = tables["plans"].lazy()
    ec = contract_draws(tables["distributions"].lazy(), tables["contracts"].lazy(), plans)
    totals = pool_totals(ec)
    contract_facts = ec.select(
        "event_id",
        "contract",
        "draw_cents",
        "value_cents",
        pl.col("basis_cents").alias("contract_basis_cents"),
        "contract_basis_recovered_cents",
        "pre1987_tier_cents",
        "whole_contract",
    )
    legs = (
        legs0.join(totals, on=["event_id", "pool"], how="left")
        .join(contract_facts, on=["event_id", "contract"], how="left")
        .pipe(allocation.allocate_pretax)
        .with_columns(
            pl.when(allocation.is_direct_rollover())
            .then(pl.col("amount_cents"))
            .otherwise(0)
            .sum()
            .over(["event_id", "pool"])
            .alias("pool_rollover_cents"),
            roth.roth_qualified(p).alias("roth_qualified"),
            roth.roth_period_complete(p).fill_null(False).alias("roth_period_complete"),
            codes.numeric_code(p).alias("numeric_code"),
            paid_because_of_death().alias("_death"),
        )
        .with_columns(codes.distribution_codes(p, pl.col("numeric_code"), pl.col("_death")).alias("distribution_codes"))
        .with_columns(
            boxes.box2a_taxable_amount().alias("box2a_cents"),
            boxes.box5_employee_contributions().alias("box5_cents"),
            boxes.box10_irr_recapture().alias("box10_cents"),
        )
        .with_columns(boxes.foreign_source_part().alias("foreign_source_cents"))
        .with_columns(forms.form_key().alias("_form_key"))
        .with_columns(forms.form_id())
        .drop("_form_key", "_death")
        .collect()
    )

    rejected_rows = legs.filter(codes.needs_three_codes() | ~codes.codes_are_valid()).select(
        "distribution_id",
        "event_id",
        pl.when(codes.needs_three_codes())
        .then(pl.lit("codes_over_two"))
        .otherwise(pl.lit("codes_invalid"))
        .alias("rule"),
    )
    rejected_events = rejected_rows["event_id"].implode()
    kept = legs.filter(~pl.col("event_id").is_in(rejected_events))

    closes = ec.group_by("event_id").agg(forms.event_closes_account().alias("closes"))
    kept_lazy = kept.lazy()
    form_frame = forms.build_forms(
        kept_lazy, closes.join(kept_lazy.select("event_id").unique(), on="event_id")
    ).collect()

    extra = [
        c for c in tables["distributions"].columns if c not in DISTRIBUTION_COLUMNS and not c.startswith("_")
    ]
    extra = [c for c in extra if c not in _ENGINE_ONLY and c not in {"payment_date"} | set(_INPUT_COLUMNS)]
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
_ENGINE_ONLY = ()
