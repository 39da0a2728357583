"""Box 7 distribution codes (Instructions for Forms 1099-R and 5498, Guide to Distribution Codes).

Which code and the order of two codes follow ``shared/spec/outputs.md`` ("Which box 7 code");
every entry produced is checked against the cited table of :mod:`transforms.box7`.
"""

from __future__ import annotations

import polars as pl

from transforms.box7 import is_valid_combination
from transforms.exceptions import (
    is_59_half_on_payment,
    is_disabled,
    known_72t_exception,
    paid_because_of_death,
)
from transforms.params import TaxParameters

ROTH = pl.col("contract") == "roth"
DEST = pl.col("destination")
REASON = pl.col("reason")


def numeric_code(p: TaxParameters) -> pl.Expr:
    """The age/exception code, first match wins (i1099r codes 4, 7, 3, 2, 1; outputs.md):
    4 death; 7 at 59½ or older; 3 disabled; 2 a §72(t) exception is known; otherwise 1.
    """
    return (
        pl.when(paid_because_of_death())
        .then(pl.lit("4"))
        .when(is_59_half_on_payment(p))
        .then(pl.lit("7"))
        .when(is_disabled())
        .then(pl.lit("3"))
        .when(known_72t_exception(p))
        .then(pl.lit("2"))
        .otherwise(pl.lit("1"))
    )


def corrective_code() -> pl.Expr:
    """Code 8 when the corrective amount is taxable in the payment year, P for the year before
    (i1099r codes 8 and P; Pub 575 (2010), corrective distributions).
    """
    return (
        pl.when(pl.col("corrective_taxable_year") == pl.col("payment_date").dt.year())
        .then(pl.lit("8"))
        .otherwise(pl.lit("P"))
    )


def distribution_codes(p: TaxParameters, num: pl.Expr | None = None, death: pl.Expr | None = None) -> pl.Expr:
    """Box 7 for one disbursement, in the canonical order (a digit before a letter, otherwise
    ascending). i1099r: G direct rollover (4G for a beneficiary); H designated Roth account to a
    Roth IRA (4H); B with G for a Roth-to-Roth-account rollover; B with the numeric code for other
    Roth money (2 for 3, B is not paired with 3, Table 1); M qualified plan loan offset, L deemed
    loan (Roth: BM, BL; 2 for 3 beside them too); 8/P corrective (with 1, 2 or 4; Roth: 8B, BP). A case needing three codes
    gives ``"4BG"``, which :func:`needs_three_codes` flags for quarantine. ``num`` and ``death`` may
    name columns already holding :func:`numeric_code` and ``paid_because_of_death`` (faster).
    """
    num = numeric_code(p) if num is None else num
    death = paid_because_of_death() if death is None else death
    corrective = corrective_code()
    pairs_with_8 = num.is_in(["1", "2", "4"])
    # Table 1 pairs 3 only with D: for a disabled participant, 2 (an exception applies) stands in
    # for 3 beside M, L and B — the convention outputs.md states for B, extended to M and L.
    num_not_3 = pl.when(num == "3").then(pl.lit("2")).otherwise(num)
    non_roth_cash = (
        pl.when(REASON == "qualified_loan_offset")
        .then(num_not_3 + "M")
        .when(REASON == "deemed_loan")
        .then(num_not_3 + "L")
        .when((REASON == "corrective") & pairs_with_8)
        .then(pl.when(corrective == "8").then(num + "8").otherwise(num + "P"))
        .when(REASON == "corrective")
        .then(corrective)
        .otherwise(num)
    )
    roth_cash = (
        pl.when(REASON == "qualified_loan_offset")
        .then(pl.lit("BM"))
        .when(REASON == "deemed_loan")
        .then(pl.lit("BL"))
        .when(REASON == "corrective")
        .then(pl.when(corrective == "8").then(pl.lit("8B")).otherwise(pl.lit("BP")))
        .otherwise(num_not_3 + "B")
    )
    death_prefix = pl.when(death).then(pl.lit("4")).otherwise(pl.lit(""))
    return (
        pl.when(ROTH & (DEST == "rollover_roth_ira"))
        .then(death_prefix + "H")
        .when(ROTH & (DEST == "rollover_roth_plan"))
        .then(death_prefix + "BG")
        .when(DEST != "cash")
        .then(death_prefix + "G")
        .when(ROTH)
        .then(roth_cash)
        .otherwise(non_roth_cash)
    )


def needs_three_codes() -> pl.Expr:
    """More than two codes would be needed; box 7 takes at most two (i1099r 2023: "Enter a maximum
    of two alphanumeric codes"). Such rows are quarantined under ``codes_over_two`` (outputs.md).
    """
    return pl.col("distribution_codes").str.len_chars() > 2


def codes_are_valid() -> pl.Expr:
    """The entry is a single code or a pair that Table 1 of i1099r allows (:mod:`transforms.box7`)."""
    return is_valid_combination(pl.col("distribution_codes"))


def exception_to_72t_applies() -> pl.Expr:
    """An exception to §72(t) applies to the leg, so box 10 stays empty (i1099r box 10: "Do not
    complete this box if an exception under section 72(t) applies"): any numeric code but 1.
    """
    return pl.col("numeric_code") != "1"
