"""Forms 1099-R: disbursements grouped by the key ``docs/spec/outputs.md`` fixes.

One form per (tax_year, plan_id, participant_id, payee_id, Roth or non-Roth money, destination,
distribution_codes, state) — a payee's payments of the year from one account with the same key add
up on one form (tax-rules f.5: separate forms for rollover and non-rollover parts, for codes that
do not combine, for Roth and non-Roth money; docs/spec/outputs.md v2: for each account a payee is paid from;
a project convention for the rest).

:func:`build_forms` works on integers: the key is packed into one 64-bit number (:func:`packed_key`),
the legs are sorted by it once, so that each form — and each account of a payee, (tax_year,
payee_id, participant_id), and each (tax_year, payee_id, plan_id) — is a run of consecutive rows,
and every per-form figure is read at the ends of its run. Strings are touched once per form (the key that gives the form id, the
columns copied onto the form).

Form ids (:func:`form_key`): a payee paid from one account in the plan and year keeps the id of
version 1 of the forms table, whose key had no ``participant_id``; only a payee paid from several
accounts gets ids from the version-2 key, so filed forms keep their ids and account numbers
wherever the new key does not split them (:mod:`transforms.season.corrections` pairs the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import polars_hash as plh

from contracts.outputs import FORMS_COLUMNS
from transforms.kernels.runs import run_starts, sum_over_runs

FORM_KEY = [
    "tax_year",
    "plan_id",
    "participant_id",
    "payee_id",
    "roth",
    "destination",
    "distribution_codes",
    "state",
]
FORM_ID_VERSION = "1099R-v1"
FORM_ID_VERSION_ACCOUNTS = "1099R-v2"


def form_key(several_accounts: pl.Expr | None = None) -> pl.Expr:
    """The form key of docs/spec/outputs.md as one string (fields separated by the ASCII unit separator).
    Where ``several_accounts`` is false (default: everywhere) the key of version 1, without
    ``participant_id`` — the same string, so the same form id, as before forms were per account;
    where it is true (the payee is paid from more than one account in the plan and year), the
    version-2 key with the participant."""
    common = [
        pl.col("tax_year").cast(pl.String),
        pl.col("plan_id"),
        pl.col("payee_id"),
        pl.when(pl.col("roth")).then(pl.lit("roth")).otherwise(pl.lit("non_roth")),
        pl.col("destination"),
        pl.col("distribution_codes"),
        pl.col("state").fill_null(""),
    ]
    v1 = pl.concat_str([pl.lit(FORM_ID_VERSION), *common], separator="\x1f")
    if several_accounts is None:
        return v1
    v2 = pl.concat_str(
        [pl.lit(FORM_ID_VERSION_ACCOUNTS), *common, pl.col("participant_id")], separator="\x1f"
    )
    return pl.when(several_accounts).then(v2).otherwise(v1)


def form_id(key_column: str = "_form_key") -> pl.Expr:
    """A stable id derived from the form key only, never from amounts: the first 20 hex digits of
    SHA-256 over the key (docs/spec/outputs.md: "the same key always gives the same id"). SHA-256 through
    polars-hash is stable across versions, unlike ``Expr.hash``.
    """
    return plh.col(key_column).chash.sha2_256().str.slice(0, 20).alias("form_id")


def account_number() -> pl.Expr:
    """Account number (box "Account number", Pub 1220 B 21–40): at most 20 characters, unique per
    form within the payer and year, derived from the form key and never from the TIN; the form id
    in capitals, so that corrections match the original (Pub 1220: corrections are matched on it).
    """
    return pl.col("form_id").str.to_uppercase().alias("account_number")


def event_closes_account() -> pl.Expr:
    """Over one event's contract rows: every contract the payee holds is drawn down to zero — the
    event closes out the account (i1099r box 2b "Total distribution"; docs/spec/outputs.md).
    """
    return (pl.col("draw_cents") == pl.col("value_cents")).all()


# ---- integer keys ------------------------------------------------------------------------------


def small_code(frame: pl.DataFrame, expr: pl.Expr) -> tuple[pl.Expr, int]:
    """A field of the form key of docs/spec/outputs.md as a small integer: the position of its value among
    the sorted values present (null last), and how many codes there are. Exact: one code per value."""
    series = frame.select(expr).to_series()
    if series.dtype == pl.Boolean:
        return expr.cast(pl.UInt64).fill_null(2), 3
    values = series.drop_nulls().unique().sort().cast(pl.String)
    code = expr.cast(pl.String).cast(pl.Enum(values)).to_physical().cast(pl.UInt64)
    return code.fill_null(values.len()), values.len() + 1


def packed_key(parts: list[tuple[pl.Expr, int]]) -> pl.Expr | None:
    """Integers ``0 <= part < radix`` packed into one UInt64, first part most significant (so that
    sorting by the packed key sorts by the parts in order; the form key of docs/spec/outputs.md and its
    (tax_year, plan_id, payee_id) prefix). ``None`` when the radixes do not fit in 63 bits."""
    total = 1
    for _, radix in parts:
        total *= max(radix, 1)
    if total >= 2**63:
        return None
    key = pl.lit(0, pl.UInt64)
    for part, radix in parts:
        key = key * max(radix, 1) + part.cast(pl.UInt64)
    return key


def _dense(parts: list[tuple[pl.Expr, int]], rows: int) -> tuple[pl.Expr, int]:
    """The parts as one sortable integer and its radix: packed when they fit in 63 bits, their
    dense rank (below ``rows``) otherwise."""
    key = packed_key(parts)
    if key is not None:
        radix = 1
        for _, r in parts:
            radix *= max(r, 1)
        return key, radix
    ranked = pl.struct([part.alias(f"_p{i}") for i, (part, _) in enumerate(parts)]).rank("dense")
    return ranked.cast(pl.UInt64), rows + 1


def _run_id(start: str) -> pl.Expr:
    return (pl.col(start).cum_sum() - 1).set_sorted()


# ---- box 2b and box 9a -------------------------------------------------------------------------


def total_distribution(closes: pl.Expr, run: str) -> list[list[pl.Expr]]:
    """Box 2b "Total distribution" per (tax_year, plan_id, participant_id, payee_id) — the payee's
    share of one account, the rows of one ``run`` — broadcast to its legs: true when the payee's
    last event of the year from that account draws every contract it holds down to zero
    (``closes``; docs/spec/outputs.md; i1099r: one or more distributions within one year that pay out the
    whole balance). Several events on the last date must all close out. Two stages of expressions
    (a window inside a window is very slow in polars).
    """
    open_on_last_day = ~closes & (pl.col("payment_date") == pl.col("_last_date"))
    return [
        [pl.col("payment_date").max().over(run).alias("_last_date")],
        [(open_on_last_day.sum().over(run) == 0).alias("total_distribution")],
    ]


def box9a_percent(per_payee: pl.DataFrame, participant: list[str]) -> pl.DataFrame:
    """Box 9a per (tax_year, plan_id, participant_id, payee_id): the payee's box 1 over the box 1 of
    all the participant's payees who closed out their shares in the year, a whole number rounded
    half-up (i1099r box 9a; Pub 1220 B 550–551: 10.5 % → 11); null for a single payee and at 100 %.
    ``per_payee``: one row per payee of a participant (``participant`` columns) with ``_box1`` and
    ``total_distribution``; adds ``_pct``.
    """
    wide = pl.Int128
    return (
        per_payee.filter(pl.col("total_distribution"))
        .with_columns(
            pl.col("_box1").sum().over(participant).alias("_all"), pl.len().over(participant).alias("_n")
        )
        .with_columns(
            pl.when(pl.col("_n") > 1)
            .then((200 * pl.col("_box1").cast(wide) + pl.col("_all")) // (2 * pl.col("_all").cast(wide)))
            .cast(pl.Int32)
            .alias("_pct")
        )
        .with_columns(pl.when(pl.col("_pct") < 100).then(pl.col("_pct")).alias("_pct"))
        .drop("_all", "_n")
    )


# ---- the forms ---------------------------------------------------------------------------------

FORM_SUMS = {
    "box1_cents": "amount_cents",
    "box2a_cents": "box2a_cents",
    "box4_cents": "federal_withholding_cents",
    "box5_cents": "box5_cents",
    "box10_cents": "box10_cents",
    "state_withholding_cents": "state_withholding_cents",
    "local_withholding_cents": "local_withholding_cents",
}
FORM_FIRSTS = [
    "tax_year",
    "plan_id",
    "payer_tin",
    "payee_id",
    "payee_tin",
    "distribution_codes",
    "destination",
    "roth",
    "state",
]
LEG_COLUMNS = [
    *FORM_KEY,
    "_plan",
    "_payee",
    "_part",
    "_account",
    "payer_tin",
    "payee_tin",
    *FORM_SUMS.values(),
    "roth_first_year",
    "state_payer_id",
    "locality",
    "payment_date",
    "closes",
]
"""What :func:`build_forms` reads on each leg: the key, the integer ids of plan, payee and
participant (``_plan``, ``_payee``, ``_part``; ``_account``: the participant numbered plan by plan),
the amounts, and ``closes`` (the leg's event draws
every contract down to zero, i1099r box 2b)."""


@dataclass(frozen=True)
class Forms:
    forms: pl.DataFrame  # forms.parquet (FORMS_COLUMNS), sorted by form_id
    form_id: pl.Series  # per leg, in the legs' order
    form_row: pl.Series  # per leg, the row of its form in ``forms``


def _form_key_codes(legs: pl.DataFrame) -> tuple[pl.Expr, int, pl.Expr, pl.Expr]:
    """The packed form key of each leg (docs/spec/outputs.md), with the account of the payee — (tax_year,
    payee, account) — most significant; the radix of the rest; the (tax_year, plan_id) part; and
    the (tax_year, payee_id, plan_id) part, sorted wherever the key is. ``_account`` numbers the
    participants plan by plan (:func:`transforms.engine.legs.plan_major_accounts`): the participant
    implies the plan, so the key needs no plan, and each (tax_year, payee, plan) is a run."""
    year_min = legs.select(pl.col("tax_year").min()).item() or 0
    year_span = (legs.select(pl.col("tax_year").max()).item() or 0) - year_min + 1
    plans = (legs.select(pl.col("_plan").max()).item() or 0) + 1
    payees = (legs.select(pl.col("_payee").max()).item() or 0) + 1
    accounts = (legs.select(pl.col("_account").max()).item() or 0) + 1
    year = (pl.col("tax_year") - year_min, year_span)
    plan, payee = (pl.col("_plan"), plans), (pl.col("_payee"), payees)
    account = _dense([year, payee, (pl.col("_account"), accounts)], legs.height)
    year_payee_plan, _ = _dense([year, payee, plan], legs.height)
    year_plan, _ = _dense([year, plan], legs.height)
    rest = [
        (pl.col("roth").fill_null(False).cast(pl.UInt64), 2),
        small_code(legs, pl.col("destination")),
        small_code(legs, pl.col("distribution_codes")),
        small_code(legs, pl.col("state").fill_null("")),
    ]
    radix = 1
    for _, r in rest:
        radix *= r
    key = packed_key([account, *rest])
    if key is None:  # pragma: no cover - more than 2**63 / radix payee accounts
        raise OverflowError("form key does not fit in 64 bits")
    return key, radix, year_plan, year_payee_plan


def _per_form(narrow: pl.DataFrame) -> pl.DataFrame:
    """One row per form (runs of ``narrow``, in key order): its first leg (``_pos``, ``_ppy``,
    ``_part``, box 2b, whether its payee has several accounts), the sums of :data:`FORM_SUMS`,
    box 11 (the account's Roth first year) and the smallest state payer id and locality. The sums
    are read from running sums at the runs' ends; the rest needs a group-by only over forms of
    several legs."""
    end = pl.col("_fstart").shift(-1).fill_null(True)
    ends = narrow.select(
        *[pl.col(leg).cum_sum().alias(box) for box, leg in FORM_SUMS.items()], end.alias("_end")
    )
    sums = ends.filter(pl.col("_end")).select(
        pl.col(box) - pl.col(box).shift(1).fill_null(0) for box in FORM_SUMS
    )
    heads = narrow.filter(pl.col("_fstart")).select(
        "_pos",
        "_ppy",
        "_part",
        "total_distribution",
        "_several_accounts",
        pl.when(pl.col("roth")).then(pl.col("roth_first_year")).cast(pl.Int32).alias("box11_year"),
        "state_payer_id",
        "locality",
    )
    several = (
        narrow.filter(~(pl.col("_fstart") & end))
        .group_by("_form", maintain_order=True)
        .agg(pl.col("state_payer_id").min(), pl.col("locality").min())
    )
    at = several.get_column("_form")
    heads = heads.with_columns(
        heads.get_column(c).scatter(at, several.get_column(c)) for c in several.columns if c != "_form"
    )
    return pl.concat([heads, sums], how="horizontal")


def _form_columns() -> list[pl.Expr]:
    """The columns of forms.parquet (docs/spec/outputs.md) from the per-form figures."""
    zero = pl.lit(0, pl.Int64)
    td = pl.col("total_distribution").fill_null(False)
    # box 9a: a cash form and the payee's total distribution of her share of the account
    box9a = pl.when((pl.col("destination") == "cash") & td).then(pl.col("_pct"))
    columns = {
        "box3_cents": zero,
        "box6_cents": zero,
        "box8_cents": zero,
        "box9b_cents": zero,
        "taxable_not_determined": pl.lit(False),
        "total_distribution": td,
        "ira_sep_simple": pl.lit(False),
        "box9a_percent": box9a,
        "box13_date": pl.lit(None, pl.Date),
        "state_distribution_cents": pl.when(pl.col("state").is_not_null())
        .then(pl.col("box1_cents"))
        .otherwise(0),
        "local_distribution_cents": pl.when(pl.col("locality").is_not_null())
        .then(pl.col("box1_cents"))
        .otherwise(0),
    }
    return [columns[name].alias(name) if name in columns else pl.col(name) for name in FORMS_COLUMNS]


def _form_id_order(form_ids: pl.Series) -> pl.Series:
    """The permutation that sorts ``form_id`` (lowercase hex digits of equal length): by its first 15
    digits as an integer, and by the whole string only if two forms share them."""
    prefix = form_ids.str.slice(0, 15).str.to_integer(base=16)
    order = prefix.arg_sort()
    by_prefix = prefix.gather(order)
    if (by_prefix == by_prefix.shift(1)).any():
        return form_ids.arg_sort()
    return order


def build_forms(legs: pl.DataFrame) -> Forms:
    """Aggregate disbursements into forms (docs/spec/outputs.md, forms.parquet), sorted by form_id; and the
    form id of every leg. ``legs`` holds :data:`LEG_COLUMNS`."""
    key, rest_radix, year_plan, year_payee_plan = _form_key_codes(legs)
    narrow = (
        legs.select(
            key.alias("_fkey"),
            year_plan.alias("_yp"),
            year_payee_plan.alias("_ypp"),
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_pos"),
            "_part",
            *FORM_SUMS.values(),
            "roth",
            "roth_first_year",
            "state_payer_id",
            "locality",
            "payment_date",
            "closes",
        )
        .sort("_fkey")
        .with_columns(
            run_starts(pl.col("_fkey")).alias("_fstart"),
            (pl.col("_fkey") // rest_radix).alias("_ppy"),
            run_starts(pl.col("_ypp")).alias("_ystart"),
        )
        .with_columns(
            _run_id("_fstart").alias("_form"),
            run_starts(pl.col("_ppy")).alias("_pstart"),
            _run_id("_ystart").alias("_ypp_run"),
        )
        .with_columns(_run_id("_pstart").alias("_ppy_run"))
    )
    for stage in total_distribution(pl.col("closes"), "_ppy_run"):
        narrow = narrow.with_columns(stage)
    accounts = sum_over_runs(pl.col("_pstart").cast(pl.UInt32), pl.col("_ypp_run"))
    narrow = narrow.with_columns((accounts > 1).alias("_several_accounts"))
    pct = (
        box9a_percent(
            narrow.filter(pl.col("total_distribution"))
            .group_by("_ppy", "_part", "_yp")
            .agg(pl.col("amount_cents").sum().alias("_box1"), pl.col("total_distribution").first()),
            ["_yp", "_part"],
        )
        .filter(pl.col("_pct").is_not_null())
        .select("_ppy", "_part", "_pct")
    )
    per_form = _per_form(narrow)
    form_of_leg = pl.Series("_form", [], pl.UInt32).extend_constant(0, legs.height)
    form_of_leg = form_of_leg.scatter(narrow.get_column("_pos"), narrow.get_column("_form"))
    del narrow
    ids = pl.concat(
        [legs.select(FORM_KEY)[per_form.get_column("_pos")], per_form.select("_several_accounts")],
        how="horizontal",
    ).select(form_key(pl.col("_several_accounts")).alias("_form_key"))
    # account numbers from the ids in key order: upper-casing strings gathered out of order is slow
    ids = ids.select(form_id("_form_key")).with_columns(account_number())
    order = _form_id_order(ids.get_column("form_id"))
    per_form = pl.concat([per_form, ids], how="horizontal")[order]
    row_of_form = order.arg_sort()  # form in key order → its row in form_id order
    firsts = legs.select(FORM_FIRSTS)[per_form.get_column("_pos")]
    forms = (
        pl.concat([per_form, firsts], how="horizontal")
        .join(pct, on=["_ppy", "_part"], how="left", maintain_order="left")
        .select(_form_columns())
    )
    form_row = row_of_form.gather(form_of_leg)
    form_id_of_leg = forms.get_column("form_id").gather(form_row)
    return Forms(forms, form_id_of_leg.alias("form_id"), form_row.alias("_form_row"))
