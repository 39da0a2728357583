"""A plain-language trace of the rules applied to each disbursement, with citations.

``explain.parquet`` keeps, for every disbursement, the facts each rule used (:data:`FACT_COLUMNS`:
contract value and basis, the event's draw, the basis recovered, the pool's pre-tax money, the Roth
test, the numeric code). :func:`explanation` renders them as text with vectorized string
expressions — for one disbursement in ``prorata explain``, or for any set of rows. Storing the
numbers rather than the sentences keeps a 20-million-row run small.
"""

from __future__ import annotations

import polars as pl

from transforms.kernels.dollars import dollars
from transforms.law.allocation import is_direct_rollover
from transforms.law.box7 import BOX7_CODES

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
    "4": "paid because of the participant's death",
    "7": "the participant is 59½ or older on the payment date",
    "3": "the participant is totally and permanently disabled",
    "2": "under 59½ with a known §72(t) exception — separation in or after the year of 55 (50 for public safety), a QDRO payment or governmental 457(b) money",
    "1": "under 59½ with no known §72(t) exception",
}
REASON_WORDS = {
    "separation": "separation from service",
    "in_service": "in-service withdrawal",
    "hardship": "hardship",
    "death": "death of the participant",
    "disability": "disability",
    "required_minimum": "required minimum distribution",
    "loan_offset": "plan loan offset",
    "qualified_loan_offset": "qualified plan loan offset",
    "deemed_loan": "deemed distribution of a loan",
    "qdro": "QDRO payment",
    "corrective": "corrective distribution",
}


def payee_role() -> pl.Expr:
    """Who the payee is (docs/spec/extract.md): a beneficiary after death, a spouse or former spouse alternate
    payee under a QDRO, else the participant (a non-spouse alternate payee's payment comes with the
    participant as payee)."""
    return (
        pl.when(pl.col("reason") == "death")
        .then(pl.lit("beneficiary"))
        .when(pl.col("reason") == "qdro")
        .then(pl.lit("alternate payee (spouse or former spouse, QDRO)"))
        .otherwise(pl.lit("participant"))
    )


def _lines(*parts: pl.Expr) -> pl.Expr:
    """The non-null ``parts`` as indented lines."""
    return (
        pl.concat_list([p.cast(pl.String) for p in parts])
        .list.drop_nulls()
        .list.eval(pl.lit("  ") + pl.element())
        .list.join("\n")
    )


def _block(title: str | pl.Expr, *parts: pl.Expr) -> pl.Expr:
    head = pl.lit(title) if isinstance(title, str) else title
    return pl.format("{}\n{}", head, _lines(*parts))


def _when(cond: pl.Expr, expr: pl.Expr) -> pl.Expr:
    return pl.when(cond).then(expr).otherwise(pl.lit(None, pl.String))


def contract_block() -> pl.Expr:
    """§72(e)(8): what the contract holds and what the event's draw recovers."""
    D, V, B = pl.col("draw_cents"), pl.col("value_cents"), pl.col("contract_basis_cents")
    held = pl.format(
        "{}: value {}, basis {}.", pl.col("contract").replace_strict(CONTRACT_WORDS), dollars(V), dollars(B)
    )
    corrective = pl.format(
        "A corrective distribution returns specific amounts and is not pro-rated under §72(e)(8) "
        "(docs/spec/extract.md): {} of the {} drawn returns after-tax or Roth contributions already taxed, the "
        "rest is pre-tax.",
        dollars(pl.col("contract_basis_recovered_cents")),
        dollars(D),
    )
    how = (
        pl.when(B == 0)
        .then(pl.lit("it holds no basis, so all of the draw is pre-tax money"))
        .when(pl.col("whole_contract"))
        .then(pl.lit("the event pays out the whole contract, so all its basis up to the draw is recovered"))
        .when(pl.col("pre1987_tier_cents") > 0)
        .then(
            pl.format(
                "pre-1987 basis of {} comes out first (§72(e)(8)(D)), the rest pro rata",
                dollars(pl.col("pre1987_tier_cents")),
            )
        )
        .otherwise(pl.lit("pro rata: draw × basis ÷ value, rounded half-up to the cent"))
    )
    drawn = pl.format(
        "The event draws {} from it and recovers {} of basis tax-free: {}.",
        dollars(D),
        dollars(pl.col("contract_basis_recovered_cents")),
        how,
    )
    return _block(
        "Contract (IRC §72(e)(8))",
        held,
        pl.when(pl.col("reason") == "corrective").then(corrective).otherwise(drawn),
    )


def split_block() -> pl.Expr:
    """This disbursement's share: pre-tax plus basis is its amount."""
    return _block(
        "Pro rata split of this disbursement",
        pl.format(
            "pre-tax {} + basis {} = {}",
            dollars(pl.col("pretax_cents")),
            dollars(pl.col("basis_cents")),
            dollars(pl.col("amount_cents")),
        ),
    )


def allocation_block() -> pl.Expr:
    """Notice 2014-54, only where the event has direct rollovers from this leg's pool."""
    pool = pl.when(pl.col("pool") == "roth").then(pl.lit("Roth")).otherwise(pl.lit("non-Roth"))
    text = _block(
        "Notice 2014-54 allocation",
        pl.format(
            "The event's {} pre-tax money, {}, goes first to its direct rollovers ({} in all).",
            pool,
            dollars(pl.col("pool_pretax_cents")),
            dollars(pl.col("pool_rollover_cents")),
        ),
        pl.format(
            "This disbursement ({}) takes pre-tax {} and basis {}.",
            pl.col("destination").replace_strict(DESTINATION_WORDS),
            dollars(pl.col("pretax_cents")),
            dollars(pl.col("basis_cents")),
        ),
    )
    # A designated Roth account's direct rollover before 2016 takes no pre-tax money first
    # (transforms.law.allocation.takes_pretax_first): the pool has no such rollovers.
    separate = _block(
        "Designated Roth direct rollover before 2016",
        pl.lit(
            "A direct rollover is a separate distribution from the amount paid to the recipient "
            "(Treas. Reg. §1.402A-1, A-5(a), before T.D. 9769): it takes its pro-rata share of the "
            "Roth account's earnings, not the earnings first."
        ),
    )
    roth_rollover = (pl.col("pool") == "roth") & is_direct_rollover(pl.col("destination"))
    return (
        pl.when(pl.col("pool_rollover_cents") > 0)
        .then(text)
        .when(roth_rollover)
        .then(separate)
        .otherwise(pl.lit(None, pl.String))
    )


def roth_block() -> pl.Expr:
    """§402A(d)(2), only for designated Roth money."""
    text = _block(
        "Designated Roth account (IRC §402A(d)(2))",
        pl.format(
            "5-taxable-year period from {}: {}; the distribution is {}.",
            pl.col("roth_first_year").cast(pl.String),
            pl.when(pl.col("roth_period_complete"))
            .then(pl.lit("complete"))
            .otherwise(pl.lit("not complete")),
            pl.when(pl.col("roth_qualified"))
            .then(pl.lit("qualified, so nothing is taxable"))
            .otherwise(pl.lit("not qualified, so its earnings part is taxable")),
        ),
    )
    return _when(pl.col("contract") == "roth", text)


def code_block() -> pl.Expr:
    """Box 7: each code on the form with its meaning (transforms.law.box7's table), and — only when a
    numeric code is written — why that number."""
    meanings = [
        _when(
            pl.col("distribution_codes").str.contains(c.code, literal=True),
            pl.lit(f"{c.code}: {c.meaning}"),
        )
        for c in BOX7_CODES
        if c.produced
    ]
    numeric = pl.col("distribution_codes").str.extract(r"([1-47])", 1)
    why = (
        pl.when(pl.col("reason") == "corrective")
        .then(
            pl.format(
                "no age or exception code: §72(t) does not apply to a corrective distribution "
                "(§401(k)(8)(D), §401(m)(7)(A), §402(g)(2)(C)){}",
                pl.when(numeric == "4").then(pl.lit("; 4: paid to a beneficiary")).otherwise(pl.lit("")),
            )
        )
        .when(numeric.is_not_null())
        .then(
            pl.format(
                "why {}: {}",
                numeric,
                numeric.replace_strict(NUMERIC_WORDS, default=pl.lit("see the instructions")),
            )
        )
        .otherwise(pl.lit(None, pl.String))
    )
    return _block(pl.format("Box 7 code {}", pl.col("distribution_codes")), *meanings, why)


def boxes_block() -> pl.Expr:
    """What this disbursement puts in the boxes of its form."""
    return _block(
        "Boxes (this disbursement's part of its form)",
        pl.format(
            "box 1 {}, box 2a {}, box 4 {}, box 5 {}, box 10 {}",
            dollars(pl.col("amount_cents")),
            dollars(pl.col("box2a_cents")),
            dollars(pl.col("federal_withholding_cents")),
            dollars(pl.col("box5_cents")),
            dollars(pl.col("box10_cents")),
        ),
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
    "payment_date",
    "federal_withholding_cents",
]


def explanation() -> pl.Expr:
    """The rule trace of each disbursement as short blocks, one per step that applied: contract
    (§72(e)(8)), pro rata split, Notice 2014-54 allocation (only with direct rollovers), designated
    Roth (only for Roth money), box 7 (the meanings of the codes written, the numeric code's reason
    only when there is one) and boxes."""
    blocks = [contract_block(), split_block(), allocation_block(), roth_block(), code_block(), boxes_block()]
    return pl.concat_list(blocks).list.drop_nulls().list.join("\n").alias("explanation")
