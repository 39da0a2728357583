"""A plain-language trace of the rules applied to each disbursement, with citations.

``explain.parquet`` keeps, for every disbursement, the facts each rule used (:data:`FACT_COLUMNS`:
contract value and basis, the event's draw, the basis recovered, the pool's pre-tax money, the Roth
test, the numeric code). :func:`explanation` renders them as text with vectorized string
expressions — for one disbursement in ``prorata explain``, or for any set of rows. Storing the
numbers rather than the sentences keeps a 20-million-row run small.
"""

from __future__ import annotations

import polars as pl

from transforms.box7 import CODES
from transforms.money import dollars

CONTRACT_WORDS = {
    "non_roth": "the plan account (non-Roth money)",
    "after_tax": "the separately accounted after-tax account (its own contract under §72(d)(2))",
    "roth": "the designated Roth account (its own contract under §402A(d)(4))",
}
DESTINATION_WORDS = {
    "cash": "paid to the payee",
    "rollover_ira": "direct rollover to a traditional IRA",
    "rollover_roth_ira": "direct rollover to a Roth IRA",
    "rollover_plan": "direct rollover to an eligible employer plan",
    "rollover_roth_plan": "direct rollover to another plan's designated Roth account",
    "in_plan_roth_rollover": "in-plan Roth rollover",
}
NUMERIC_WORDS = {
    "4": "paid because of the participant's death (code 4)",
    "7": "the participant is 59½ or older on the payment date (code 7)",
    "3": "the participant is totally and permanently disabled (code 3; 2 stands in beside B, L or M)",
    "2": "under 59½ with a known §72(t) exception — separation in or after the year of 55 (50), a QDRO payment or governmental 457(b) money (code 2)",
    "1": "under 59½ with no known §72(t) exception (code 1)",
}


def _basis_sentence() -> pl.Expr:
    D, V, B = pl.col("draw_cents"), pl.col("value_cents"), pl.col("contract_basis_cents")
    corrective = pl.format(
        "A corrective distribution returns specific amounts and is not pro-rated under §72(e)(8) "
        "(extract.md): {} of the {} drawn from {} returns after-tax or Roth contributions already "
        "taxed, the rest is pre-tax.",
        dollars(pl.col("contract_basis_recovered_cents")),
        dollars(D),
        pl.col("contract").replace_strict(CONTRACT_WORDS),
    )
    how = (
        pl.when(pl.col("whole_contract"))
        .then(pl.lit("the event pays out the whole contract, so all its basis up to the amount is recovered"))
        .when(pl.col("pre1987_tier_cents") > 0)
        .then(
            pl.format(
                "pre-1987 basis of {} comes out first (§72(e)(8)(D)), the rest pro rata",
                dollars(pl.col("pre1987_tier_cents")),
            )
        )
        .otherwise(pl.lit("pro rata: draw × basis ÷ value, rounded half-up to the cent"))
    )
    prorated = pl.format(
        "§72(e)(8): {} holds basis {} in a value of {}; the event draws {} from it, so {} is recovered tax-free ({}).",
        pl.col("contract").replace_strict(CONTRACT_WORDS),
        dollars(B),
        dollars(V),
        dollars(D),
        dollars(pl.col("contract_basis_recovered_cents")),
        how,
    )
    return pl.when(pl.col("reason") == "corrective").then(corrective).otherwise(prorated)


def _allocation_sentence() -> pl.Expr:
    pool = pl.when(pl.col("pool") == "roth").then(pl.lit("Roth")).otherwise(pl.lit("non-Roth"))
    return pl.format(
        "Notice 2014-54: the event's {} pre-tax money, {}, goes first to its direct rollovers ({} in all); this leg ({}, {}) takes pre-tax {} and basis {}.",
        pool,
        dollars(pl.col("pool_pretax_cents")),
        dollars(pl.col("pool_rollover_cents")),
        pl.col("destination").replace_strict(DESTINATION_WORDS),
        dollars(pl.col("amount_cents")),
        dollars(pl.col("pretax_cents")),
        dollars(pl.col("basis_cents")),
    )


def _roth_sentence() -> pl.Expr:
    return (
        pl.when(pl.col("contract") != "roth")
        .then(pl.lit(""))
        .otherwise(
            pl.format(
                " §402A(d)(2): 5-year period from {} {}; the distribution is {}.",
                pl.col("roth_first_year").cast(pl.String),
                pl.when(pl.col("roth_period_complete"))
                .then(pl.lit("complete"))
                .otherwise(pl.lit("not complete")),
                pl.when(pl.col("roth_qualified"))
                .then(pl.lit("qualified, so nothing is taxable"))
                .otherwise(pl.lit("not qualified, so its earnings part is taxable")),
            )
        )
    )


FACT_COLUMNS = [
    "distribution_id",
    "event_id",
    "reason",
    "contract",
    "destination",
    "pool",
    "amount_cents",
    "pretax_cents",
    "basis_cents",
    "draw_cents",
    "value_cents",
    "contract_basis_cents",
    "contract_basis_recovered_cents",
    "pre1987_tier_cents",
    "whole_contract",
    "pool_pretax_cents",
    "pool_rollover_cents",
    "roth_first_year",
    "roth_period_complete",
    "roth_qualified",
    "numeric_code",
    "distribution_codes",
    "box2a_cents",
    "box5_cents",
    "box10_cents",
]


NUMERIC = frozenset(NUMERIC_WORDS)
LETTER_WORDS = {
    c.code: f"{c.code} = {c.meaning}" for c in CODES.values() if c.produced and c.code not in NUMERIC
}
"""The meaning of every other code the engine produces, from the one code table (transforms.box7)."""


def _letters_sentence() -> pl.Expr:
    parts = [
        pl.when(pl.col("distribution_codes").str.contains(code, literal=True)).then(pl.lit(words))
        for code, words in LETTER_WORDS.items()
    ]
    return pl.concat_list(parts).list.drop_nulls().list.join("; ")


def explanation() -> pl.Expr:
    """One paragraph per disbursement: basis recovery, allocation, Roth test, boxes and box 7."""
    return pl.format(
        "{} {}{} Box 7 {}: {}{}. Box 2a {}, box 5 {}, box 10 {}.",
        _basis_sentence(),
        _allocation_sentence(),
        _roth_sentence(),
        pl.col("distribution_codes"),
        pl.when(_letters_sentence() != "").then(pl.format("{}; ", _letters_sentence())).otherwise(pl.lit("")),
        pl.when(pl.col("reason") == "corrective")
        .then(
            pl.format(
                "§72(t) does not apply to a corrective distribution (§401(k)(8)(D), §402(g)(2)(C)), so "
                "no age/exception code is added{}",
                pl.when(pl.col("numeric_code") == "4")
                .then(pl.lit(" but 4 for a beneficiary"))
                .otherwise(pl.lit("")),
            )
        )
        .otherwise(
            pl.format(
                "the age/exception test gives: {}", pl.col("numeric_code").replace_strict(NUMERIC_WORDS)
            )
        ),
        dollars(pl.col("box2a_cents")),
        dollars(pl.col("box5_cents")),
        dollars(pl.col("box10_cents")),
    ).alias("explanation")
