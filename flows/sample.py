"""Synthetic recordkeeper extracts in the canonical format (`docs/spec/extract.md`).

`generate_extract` writes one extract folder with the requested number of disbursements. It models
what a recordkeeper sends, not what the engine computes: participants in several plans with their
contracts, beneficiaries after a death, QDRO alternate payees, several events per payee in the year
(each later event sees the contract values the earlier ones left), multi-destination events, and a
federal/state withholding that is an *input* estimated roughly the way a payer would.

Everything is vectorised with polars. The project's locked dependencies do not include numpy, so
random numbers come from a counter-based generator (`_Random`): SplitMix64 in polars `UInt64`
arithmetic (which wraps on overflow) over a stable integer key per row and a named stream per
purpose. A value depends only on (seed, stream, key), not on row order, chunking, thread count or
the polars version, so the same arguments give the same files byte for byte. No Python loop runs
over rows, people or events (only over contract kinds, the event position within a payee's year —
at most 12 —, templates, tables and fault kinds).

With `fault_fraction > 0` about that fraction of the events is corrupted, cycling through
`FAULT_KINDS`; the count per kind is returned, never written into the extract.

Above 2 million (`PRORATA_SAMPLE_SHARD_ROWS`) disbursements an extract is built as
independent shards appended to the files one after the other (`_sharded`): memory follows one
shard (about 2.8 GB), the rows come grouped by shard — each shard with its own plans, so Parquet
statistics on `plan_id` separate the shards — and ids leave gaps between shards.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import polars as pl

from contracts.extract import CONTRACTS, DESTINATIONS, PLAN_TYPES, REASONS
from flows.environment import environment

__all__ = ["FAULT_KINDS", "generate_extract"]

# ---------------------------------------------------------------------------------------------
# Vocabulary of the canonical format (docs/spec/extract.md), declared once in contracts.extract
# ---------------------------------------------------------------------------------------------
NR, AT, RO = 0, 1, 2
CASH, R_IRA, R_RIRA, R_PLAN, R_RPLAN, IRR = range(6)
(SEP, INSERV, HARD, DEATH, DISAB, RMD, LOAN, QLOAN, DEEMED, QDRO, CORR) = range(11)
CASH_ONLY_REASONS = (HARD, RMD, CORR, DEEMED, LOAN, QLOAN)
G457 = 2

TABLES = ("plans", "payees", "participants", "contracts", "distributions", "control_totals")
FAULT_KINDS = (
    "nonpositive_amount",
    "unknown_enum",
    "dangling_reference",
    "event_without_contracts",
    "duplicate_distribution_id",
    "amount_above_value",
    "event_mixes_payee_or_date",
    "payment_outside_tax_year",
    "malformed_tin",
    "missing_contract_row",
    "null_required_field",
    "pre1987_basis_above_basis",
    "nonresident_alien",
    "non_roth_to_rollover_roth_plan",
    "hardship_rolled_over",
)

# Event templates: (weight, legs); a leg is (contract, destination, role). Role 1 / 2 split the
# contract's draw into its pre-tax / basis shares (the Notice 2014-54 pattern "pre-tax to a
# traditional IRA, after-tax to a Roth IRA"); role 0 splits at random.
TEMPLATES: tuple[tuple[float, tuple[tuple[int, int, int], ...]], ...] = (
    (30.0, ((NR, CASH, 0),)),
    (14.0, ((NR, R_IRA, 0),)),
    (5.0, ((NR, R_PLAN, 0),)),
    (2.0, ((NR, R_RIRA, 0),)),
    (2.0, ((NR, IRR, 0),)),
    (4.0, ((AT, CASH, 0),)),
    (5.0, ((RO, CASH, 0),)),
    (3.0, ((RO, R_RIRA, 0),)),
    (1.5, ((RO, R_RPLAN, 0),)),
    (2.0, ((NR, R_IRA, 1), (NR, R_RIRA, 2))),
    (3.0, ((AT, R_IRA, 1), (AT, R_RIRA, 2))),
    (3.0, ((NR, R_IRA, 0), (AT, R_RIRA, 0))),
    (5.0, ((NR, CASH, 0), (NR, R_IRA, 0))),
    (2.0, ((NR, R_PLAN, 0), (NR, CASH, 0))),
    (1.5, ((NR, R_IRA, 0), (NR, R_PLAN, 0))),
    (3.0, ((NR, CASH, 0), (RO, CASH, 0))),
    (2.0, ((NR, CASH, 0), (AT, CASH, 0))),
    (3.0, ((NR, R_IRA, 0), (RO, R_RIRA, 0))),
    (2.0, ((NR, R_IRA, 0), (AT, R_RIRA, 0), (RO, R_RIRA, 0))),
    (1.0, ((NR, IRR, 0), (NR, CASH, 0))),
    (1.0, ((NR, CASH, 0), (NR, R_IRA, 0), (RO, CASH, 0))),
)

# Synthetic names and places. City rows: state, city, ZIP prefix, locality for box 19 ("" = none).
FIRST_NAMES = (
    "Avery", "Blake", "Carmen", "Dana", "Elliot", "Frances", "Gale", "Harper", "Imani", "Jordan",
    "Kendall", "Logan", "Marisol", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sasha", "Taylor",
    "Umi", "Val", "Wren", "Ximena", "Yael", "Zion", "Ari", "Bao", "Chidi", "Devi",
)  # fmt: skip
SURNAME_HEADS = (
    "Ash", "Bel", "Cal", "Dar", "El", "Fen", "Gar", "Hal", "Ing", "Jor", "Kel", "Lan",
    "Mor", "Nor", "Ol", "Pem", "Quil", "Ros", "Sel", "Tal", "Ul", "Ver", "Wes", "Yar",
)  # fmt: skip
SURNAME_TAILS = (
    "ford",
    "ton",
    "by",
    "wick",
    "more",
    "dale",
    "field",
    "ley",
    "worth",
    "well",
    "stead",
    "mont",
)
STREETS = ("Maple", "Cedar", "Lake", "Hill", "Park", "River", "Oak", "Pine", "Elm", "Main", "Mill", "Church")
STREET_KINDS = ("St", "Ave", "Rd", "Ln", "Dr", "Ct", "Way", "Blvd")
CITIES = (
    ("NY", "New York", "100", "NEW YORK CITY"), ("NY", "Albany", "122", ""),
    ("MI", "Detroit", "482", "DETROIT"), ("PA", "Philadelphia", "191", "PHILADELPHIA"),
    ("OH", "Columbus", "432", "COLUMBUS"), ("MD", "Baltimore", "212", "BALTIMORE CITY"),
    ("MO", "Kansas City", "641", "KANSAS CITY"), ("CA", "Sacramento", "958", ""),
    ("CA", "San Diego", "921", ""), ("TX", "Austin", "787", ""), ("FL", "Tampa", "336", ""),
    ("WA", "Spokane", "992", ""), ("IL", "Springfield", "627", ""), ("MA", "Worcester", "016", ""),
    ("GA", "Savannah", "314", ""), ("NC", "Raleigh", "276", ""), ("AZ", "Tucson", "857", ""),
    ("CO", "Boulder", "803", ""), ("MN", "Duluth", "558", ""), ("OR", "Eugene", "974", ""),
    ("NV", "Reno", "895", ""), ("TN", "Knoxville", "379", ""), ("VA", "Norfolk", "235", ""),
    ("NJ", "Trenton", "086", ""), ("WI", "Madison", "537", ""), ("IN", "Fort Wayne", "468", ""),
    ("KY", "Lexington", "405", ""), ("UT", "Provo", "846", ""), ("AL", "Mobile", "366", ""),
    ("LA", "Baton Rouge", "708", ""), ("SC", "Charleston", "294", ""), ("IA", "Cedar Rapids", "524", ""),
    ("KS", "Topeka", "666", ""), ("NE", "Lincoln", "685", ""), ("NM", "Santa Fe", "875", ""),
    ("ID", "Boise", "837", ""), ("HI", "Hilo", "967", ""), ("AK", "Juneau", "998", ""),
    ("DC", "Washington", "200", ""), ("ME", "Portland", "041", ""), ("NH", "Concord", "033", ""),
    ("SD", "Sioux Falls", "571", ""), ("WY", "Casper", "826", ""), ("CT", "Hartford", "061", ""),
    ("AR", "Little Rock", "722", ""),
)  # fmt: skip
NO_WAGE_TAX_STATES = ("AK", "FL", "NV", "NH", "SD", "TN", "TX", "WA", "WY")
FOREIGN = (("CA", "Toronto", "M5V 3L9"), ("GB", "London", "SW1A 1AA"), ("DE", "Berlin", "10115"),
           ("MX", "Guadalajara", "44100"), ("JP", "Tokyo", "100-0001"), ("PH", "Manila", "1000"))  # fmt: skip
COMPANY_HEADS = ("Northwind", "Bluepeak", "Harbor", "Summit", "Ironwood", "Clearwater", "Redfern", "Goldleaf")
COMPANY_TAILS = ("Manufacturing", "Health System", "Logistics", "Foods", "Engineering", "University")
AREA_CODES = ("212", "313", "215", "614", "410", "816", "916", "512", "813", "217", "919", "303")
PAYER_EIN_PREFIXES = ("36", "52", "13")
ENTITY_EIN_PREFIXES = ("20", "26", "27", "45", "46", "47", "81", "82", "83", "84", "85", "86", "87", "88")

# Sample-data assumptions (not law parameters: the engine never reads them).
AGE_CATEGORY_WEIGHTS = (0.28, 0.05, 0.10, 0.12, 0.15, 0.18, 0.12)  # see _participants
YOUNG, Y50, Y55, MID, HALF, OLDER, RMD_AGE = range(7)
WITHHOLD_20 = (SEP, INSERV, DEATH, DISAB, QDRO)  # eligible rollover distributions: 20 % of taxable
WITHHOLD_10 = (HARD, RMD, CORR)  # other nonperiodic payments: 10 % default, may elect out

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_U64 = pl.UInt64


# ---------------------------------------------------------------------------------------------
# Counter-based random numbers as polars expressions
# ---------------------------------------------------------------------------------------------
class _Random:
    """Uniforms from SplitMix64(key · φ + stream constant): stateless, so a value depends only on
    (seed, stream name, row key), never on row order, chunking or thread count.

    `u` returns a placeholder column and records the draw; `with_columns` / `select` compute the
    draws an expression uses, one after another on whole Series, and then run it. (Written as one
    polars expression, SplitMix's reuse of `x` in each xor-shift makes the tree grow exponentially;
    as `map_batches` callbacks, many draws in one context contend for the GIL.)"""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._draws: dict[str, tuple[pl.Expr, int]] = {}

    def constant(self, name: str) -> int:
        digest = hashlib.blake2b(f"{self.seed}/{name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def u(self, key: pl.Expr, name: str) -> pl.Expr:
        """Uniform in [0, 1) for each row's `key` (non-negative integers, unique per row)."""
        key_id = hashlib.blake2b(str(key).encode(), digest_size=6).hexdigest()
        column = f"__u.{name}.{key_id}"
        self._draws[column] = (key, self.constant(name))
        return pl.col(column)

    def _with_draws(self, df: pl.DataFrame, exprs: tuple) -> tuple[pl.DataFrame, list[str]]:
        needed = sorted(
            {c for e in exprs if isinstance(e, pl.Expr) for c in e.meta.root_names() if c in self._draws}
        )
        keys: dict[str, pl.Series] = {}
        columns = []
        for column in needed:
            key, const = self._draws[column]
            if str(key) not in keys:
                keys[str(key)] = df.select(key).to_series()
            columns.append(_splitmix_uniform(keys[str(key)], const).alias(column))
        return (df.with_columns(columns) if columns else df), needed

    def with_columns(self, df: pl.DataFrame, *exprs: pl.Expr, **named: pl.Expr) -> pl.DataFrame:
        full, drawn = self._with_draws(df, (*exprs, *named.values()))
        return full.with_columns(*exprs, **named).drop(drawn)

    def select(self, df: pl.DataFrame, *exprs: pl.Expr | str, **named: pl.Expr) -> pl.DataFrame:
        full, _ = self._with_draws(df, (*exprs, *named.values()))
        return full.select(*exprs, **named)

    def uniform(self, key: pl.Expr, name: str, lo: float, hi: float) -> pl.Expr:
        return lo + (hi - lo) * self.u(key, name)

    def integer(self, key: pl.Expr, name: str, lo: int | pl.Expr, hi: int | pl.Expr) -> pl.Expr:
        """Uniform integer in [lo, hi] (inclusive)."""
        lo_e = pl.lit(lo) if isinstance(lo, int) else lo
        hi_e = pl.lit(hi) if isinstance(hi, int) else hi
        return (lo_e + (self.u(key, name) * (hi_e - lo_e + 1)).floor()).cast(pl.Int64)

    def choice(self, key: pl.Expr, name: str, weights: tuple[float, ...] | list[float]) -> pl.Expr:
        """Index 0..len(weights)-1 drawn with the given weights."""
        total = float(sum(weights))
        u = self.u(key, name)
        acc, terms = 0.0, []
        for w in weights[:-1]:
            acc += w / total
            terms.append((u >= acc).cast(pl.Int64))
        return pl.sum_horizontal(terms) if terms else pl.lit(0, pl.Int64)

    def lognormal(self, key: pl.Expr, name: str, median: float, sigma: float) -> pl.Expr:
        z = (-2.0 * (1.0 - self.u(key, name + ".1")).log()).sqrt() * (
            2.0 * math.pi * self.u(key, name + ".2")
        ).cos()
        return median * (sigma * z).exp()


def _splitmix_uniform(key: pl.Series, const: int) -> pl.Series:
    x = key.cast(_U64) * _GOLDEN + const  # UInt64 arithmetic wraps modulo 2**64
    x = (x ^ (x // (1 << 30))) * _MIX1
    x = (x ^ (x // (1 << 27))) * _MIX2
    x = x ^ (x // (1 << 31))
    return (x // (1 << 11)).cast(pl.Float64) * 2.0**-53


def _splitmix(x: int) -> int:
    x = (x + _GOLDEN) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * _MIX1) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * _MIX2) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def _day(year: int, month: int = 1, day: int = 1) -> int:
    """Days since 1970-01-01."""
    return (dt.date(year, month, day) - dt.date(1970, 1, 1)).days


def _jan1(year: pl.Expr) -> pl.Expr:
    return pl.date(year, 1, 1).cast(pl.Int32).cast(pl.Int64)


def _lookup(values: tuple | list, index: pl.Expr, dtype: pl.DataType = pl.String) -> pl.Expr:
    return pl.lit(pl.Series(values, dtype=dtype)).gather(index)


def _map(code: pl.Expr, values: tuple | list, dtype: pl.DataType = pl.Int64) -> pl.Expr:
    return code.replace_strict(dict(enumerate(values)), return_dtype=dtype)


#: Per id prefix, the number the current shard's ids start after (empty: one shard, ids from 1).
_ID_OFFSET: contextvars.ContextVar[Mapping[str, int]] = contextvars.ContextVar(
    "_ID_OFFSET", default=MappingProxyType({})
)
#: Per id prefix, the width of every id in a sharded extract (empty: from the table's size).
_ID_WIDTH: contextvars.ContextVar[Mapping[str, int]] = contextvars.ContextVar(
    "_ID_WIDTH", default=MappingProxyType({})
)


def _ident(prefix: str, number: pl.Expr, width: int) -> pl.Expr:
    offset = _ID_OFFSET.get().get(prefix, 0)
    width = _ID_WIDTH.get().get(prefix, width)
    return pl.lit(prefix) + (number + 1 + offset).cast(pl.String).str.zfill(width)


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(n)))


def _date(days: pl.Expr) -> pl.Expr:
    return days.cast(pl.Int32).cast(pl.Date)


# ---------------------------------------------------------------------------------------------
# Plans, participants, streams (a payee's distributions from one plan in the year), events, legs
# ---------------------------------------------------------------------------------------------
def _plans(r: _Random, n_plans: int) -> pl.DataFrame:
    k = pl.col("plan_no")
    # The first eight plans fix the coverage every sample needs; the rest are drawn.
    fixed_type = (0, 1, 2, 0, 0, 1, 2, 0)
    fixed_sep = (False, False, False, True, True, True, False, False)
    fixed_pre = (False, True, False, True, False, False, False, True)
    ptype = (
        pl.when(k < 8)
        .then(_map(k.clip(0, 7), fixed_type))
        .otherwise(r.choice(k, "plan.type", (0.55, 0.25, 0.2)))
    )
    df = r.with_columns(pl.DataFrame({"plan_no": pl.int_range(n_plans, eager=True)}), ptype=ptype)
    is457 = pl.col("ptype") == G457
    rand_sep = ~is457 & (r.u(k, "plan.sep") < 0.3)
    rand_pre = ~is457 & (r.u(k, "plan.pre") < 0.25)
    df = r.with_columns(
        df,
        at_sep=pl.when(k < 8).then(_map(k.clip(0, 7), fixed_sep, pl.Boolean)).otherwise(rand_sep),
        pre87=pl.when(k < 8).then(_map(k.clip(0, 7), fixed_pre, pl.Boolean)).otherwise(rand_pre),
        weight=r.lognormal(k, "plan.size", 1.0, 0.6),
        city=r.integer(k, "plan.city", 0, len(CITIES) - 1),
        company=r.integer(k, "plan.company", 0, len(COMPANY_HEADS) * len(COMPANY_TAILS) - 1),
    )
    return df


def _plans_table(r: _Random, plans: pl.DataFrame, width: int) -> pl.DataFrame:
    k = pl.col("plan_no")
    city = pl.col("city")
    head = _lookup(COMPANY_HEADS, pl.col("company") % len(COMPANY_HEADS))
    tail = _lookup(COMPANY_TAILS, pl.col("company") // len(COMPANY_HEADS))
    city_name = _lookup([c[1] for c in CITIES], city)
    employer = (
        pl.when(pl.col("ptype") == G457).then(pl.lit("City of ") + city_name).otherwise(head + " " + tail)
    )
    kind = _map(
        pl.col("ptype"),
        ("401(k) Savings Plan", "403(b) Retirement Plan", "457(b) Deferred Compensation Plan"),
        pl.String,
    )
    ein7 = ((k * 7_654_321 + r.constant("plan.ein") % 10_000_000) % 10_000_000).cast(pl.String).str.zfill(7)
    return r.select(
        plans,
        plan_id=_ident("P", k, width),
        plan_name=employer + " " + kind,
        plan_type=_map(pl.col("ptype"), PLAN_TYPES, pl.String),
        payer_tin=_lookup(PAYER_EIN_PREFIXES, k % len(PAYER_EIN_PREFIXES)) + ein7,
        payer_name=employer + " " + kind + " Trust",
        payer_address=r.integer(k, "plan.num", 100, 9999).cast(pl.String)
        + " "
        + _lookup(STREETS, r.integer(k, "plan.street", 0, len(STREETS) - 1))
        + " "
        + _lookup(STREET_KINDS, r.integer(k, "plan.stkind", 0, len(STREET_KINDS) - 1)),
        payer_city=city_name,
        payer_state=_lookup([c[0] for c in CITIES], city),
        payer_zip=_lookup([c[2] for c in CITIES], city)
        + r.integer(k, "plan.zip", 0, 99).cast(pl.String).str.zfill(2),
        payer_phone=_lookup(AREA_CODES, r.integer(k, "plan.area", 0, len(AREA_CODES) - 1))
        + "5550"
        + r.integer(k, "plan.phone", 100, 199).cast(pl.String),
        after_tax_separately_accounted=pl.col("at_sep"),
        pre1987_recovery=pl.col("pre87"),
    )


def _participants(r: _Random, n: int, plans: pl.DataFrame, ty: int) -> pl.DataFrame:
    pk = pl.col("participant_no") * 8  # the participant's own payee / stream key
    cum = plans.get_column("weight").cum_sum()
    cum = cum / cum[-1]
    df = pl.DataFrame({"participant_no": pl.int_range(n, eager=True)})
    u_plan = r.select(df, r.u(pk, "part.plan")).to_series()
    df = df.with_columns(
        plan_no=cum.search_sorted(u_plan, side="right").cast(pl.Int64).clip(0, plans.height - 1)
    )
    df = r.with_columns(
        df,
        cat=r.choice(pk, "part.agecat", AGE_CATEGORY_WEIGHTS),
    )
    df = df.with_columns(
        plans.get_column(c).gather(df.get_column("plan_no")) for c in ("ptype", "at_sep", "pre87")
    )
    cat = pl.col("cat")
    # Age at the end of the tax year, per category (HALF is placed by its date of birth below).
    age = r.integer(
        pk, "part.age", _map(cat, (25, 50, 55, 56, 59, 61, 73)), _map(cat, (54, 50, 55, 58, 59, 72, 92))
    )
    # HALF: born (ty-60)-07-01 .. (ty-59)-12-31, so 59½ falls inside the tax year (or just after it).
    dob = pl.when(cat == HALF).then(_day(ty - 60, 7, 1)).otherwise(_jan1(ty - age)) + r.integer(
        pk, "part.dob", 0, pl.when(cat == HALF).then(548).otherwise(364)
    )
    df = r.with_columns(df, dob=dob).with_columns(birth_year=_date(pl.col("dob")).dt.year().cast(pl.Int64))
    dead = r.u(pk, "part.dead") < _map(cat, (0.02, 0.03, 0.04, 0.04, 0.05, 0.07, 0.12), pl.Float64)
    dod_back = r.choice(pk, "part.dod.year", (0.4, 0.25, 0.2, 0.15))
    # Deaths and separations in the tax year happen by 30 September, so payments can follow.
    by_sept = pl.when(dod_back == 0).then(272).otherwise(364)
    dod = _jan1(ty - dod_back) + r.integer(pk, "part.dod.day", 0, by_sept)
    df = r.with_columns(df, dead=dead, dod=pl.when(dead).then(dod))
    alive = ~pl.col("dead")
    public_safety = (pl.col("ptype") == G457) & (
        r.u(pk, "part.ps") < pl.when(cat == Y50).then(0.6).otherwise(0.15)
    )
    separated = pl.col("dead") | (
        r.u(pk, "part.sep") < _map(cat, (0.45, 0.7, 0.75, 0.55, 0.5, 0.75, 0.92), pl.Float64)
    )
    near_boundary = (cat == Y55) | ((cat == Y50) & pl.col("public_safety"))
    sep_year = (
        pl.when(near_boundary)
        .then(ty - (r.u(pk, "part.sep.prior") < 0.4).cast(pl.Int64))
        .otherwise(pl.max_horizontal(ty - r.integer(pk, "part.sep.back", 0, 6), pl.col("birth_year") + 18))
    )
    sep_day = _jan1(sep_year) + r.integer(
        pk, "part.sep.day", 0, pl.when(sep_year == ty).then(272).otherwise(364)
    )
    df = r.with_columns(df, public_safety=public_safety, separated=separated)
    df = r.with_columns(
        df,
        sep=pl.when(pl.col("dead"))
        .then(pl.min_horizontal(sep_day, pl.col("dod")))
        .when(pl.col("separated"))
        .then(sep_day),
    )
    has_roth = r.u(pk, "part.roth") < 0.35
    rfy = pl.max_horizontal(
        ty - r.integer(pk, "part.rfy", 0, 10), pl.when(pl.col("ptype") == G457).then(2011).otherwise(2006)
    )
    qdro = alive & (r.u(pk, "part.qdro") < 0.03)
    df = r.with_columns(
        df,
        disabled=alive & (r.u(pk, "part.disabled") < pl.when(age < 65).then(0.04).otherwise(0.01)),
        roth_first_year=pl.when(has_roth).then(rfy),
        qdro=qdro,
        qdro_only=qdro & (r.u(pk, "part.qdro.only") < 0.3),
        n_ben=pl.when(pl.col("dead")).then(1 + r.choice(pk, "part.nben", (0.6, 0.3, 0.1))).otherwise(0),
    )
    # Reason of the participant's own stream of payments.
    rr = r.u(pk, "part.reason")
    after_sep = _map(
        r.choice(pk, "part.reason.sep", (0.76, 0.08, 0.08, 0.04, 0.04)), (SEP, LOAN, QLOAN, CORR, SEP)
    )
    employed = _map(r.choice(pk, "part.reason.emp", (0.55, 0.25, 0.10, 0.10)), (INSERV, HARD, DEEMED, CORR))
    reason = (
        pl.when((cat == RMD_AGE) & pl.col("separated") & (rr < 0.85)).then(RMD)
        .when(pl.col("disabled") & (rr < 0.8)).then(DISAB)
        .when(pl.col("separated")).then(after_sep)
        .otherwise(employed)
    )  # fmt: skip
    return r.with_columns(df, self_reason=reason)


def _streams(r: _Random, parts: pl.DataFrame, ty: int) -> pl.DataFrame:
    """One row per (participant, payee): the participant's own payments, each beneficiary's, the
    alternate payee's. Sorted by participant, so a prefix of events is a prefix of participants."""
    own = parts.filter(~pl.col("dead") & ~pl.col("qdro_only")).select(
        "participant_no", slot=pl.lit(0, pl.Int64), kind=pl.lit(0, pl.Int64), reason=pl.col("self_reason")
    )
    ben = (
        parts.filter(pl.col("dead"))
        .select("participant_no", b=pl.int_ranges(0, pl.col("n_ben")))
        .explode("b")
        .select("participant_no", slot=1 + pl.col("b").cast(pl.Int64))
    )
    ben = r.with_columns(
        ben,
        kind=pl.when(r.u(pl.col("participant_no") * 8 + pl.col("slot"), "stream.entity") < 0.12)
        .then(2)
        .otherwise(1)
        .cast(pl.Int64),
        reason=pl.lit(DEATH, pl.Int64),
    )
    alt = parts.filter(pl.col("qdro")).select(
        "participant_no", slot=pl.lit(4, pl.Int64), kind=pl.lit(3, pl.Int64), reason=pl.lit(QDRO, pl.Int64)
    )
    st = pl.concat([own, ben.select(own.columns), alt]).sort("participant_no", "slot")
    st = st.with_row_index("stream_no").with_columns(
        pl.col("stream_no").cast(pl.Int64), skey=pl.col("participant_no") * 8 + pl.col("slot")
    )
    take = (
        "plan_no",
        "ptype",
        "at_sep",
        "pre87",
        "dob",
        "birth_year",
        "dod",
        "sep",
        "disabled",
        "roth_first_year",
    )
    idx = st.get_column("participant_no")
    st = st.with_columns(parts.get_column(c).gather(idx) for c in take)
    sk, reason = pl.col("skey"), pl.col("reason")
    n_events = (
        pl.when(reason == RMD).then(_map(r.choice(sk, "st.n.rmd", (0.55, 0.2, 0.25)), (1, 4, 12)))
        .when(reason == INSERV).then(1 + r.choice(sk, "st.n.ins", (0.7, 0.15, 0.1, 0.05)))
        .when(reason == SEP).then(1 + r.choice(sk, "st.n.sep", (0.75, 0.12, 0.08, 0.05)))
        .when(reason == DEATH).then(1 + r.choice(sk, "st.n.death", (0.7, 0.2, 0.1)))
        .when(reason.is_in([HARD, DISAB])).then(1 + r.choice(sk, "st.n.hard", (0.82, 0.18)))
        .otherwise(1)
    )  # fmt: skip
    jan1, dec31 = _day(ty), _day(ty, 12, 31)
    start = (
        pl.when((pl.col("kind") == 0) & (pl.col("sep") >= jan1))
        .then(pl.col("sep") + r.integer(sk, "st.start.sep", 5, 45))
        .when(pl.col("kind").is_in([1, 2]) & (pl.col("dod") >= jan1))
        .then(pl.col("dod") + r.integer(sk, "st.start.dod", 14, 60))
        .otherwise(jan1 + 1)
    )
    st = r.with_columns(st, n_events=n_events.cast(pl.Int64))
    st = r.with_columns(st, start=pl.min_horizontal(start, dec31 - pl.col("n_events") + 1))
    return st.with_columns(slot_len=(dec31 - pl.col("start") + 1) // pl.col("n_events"))


def _template_tables() -> tuple[pl.Series, pl.Series, pl.DataFrame]:
    """Global search keys `class + cumulative weight` → template, and the template legs."""
    keys, ids = [], []
    # 0 cash only, 1 beneficiary / alternate payee, 2 participant, 3 corrective: one cash leg, an
    # event of its own (docs/spec/extract.md, rule corrective_not_alone)
    for group in range(4):
        for held_i, held in enumerate((1, 3, 5, 7)):
            cls = group * 4 + held_i
            eligible = []
            for t, (w, legs) in enumerate(TEMPLATES):
                need = 0
                for c, d, _ in legs:
                    need |= 1 << c
                    if d == IRR:
                        need |= 1 << RO
                has_irr = any(d == IRR for _, d, _ in legs)
                cash_only = all(d == CASH for _, d, _ in legs)
                if (
                    need & ~held
                    or (group in (0, 3) and not cash_only)
                    or (group == 1 and has_irr)
                    or (group == 3 and len(legs) > 1)
                ):
                    continue
                eligible.append((t, w))
            total = sum(w for _, w in eligible)
            acc = 0.0
            for i, (t, w) in enumerate(eligible):
                acc += w / total
                keys.append(cls + (1.0 if i == len(eligible) - 1 else acc))
                ids.append(t)
    legs = pl.DataFrame(
        {
            "lc": [[c for c, _, _ in legs] for _, legs in TEMPLATES],
            "ld": [[d for _, d, _ in legs] for _, legs in TEMPLATES],
            "lr": [[role for _, _, role in legs] for _, legs in TEMPLATES],
        },
        schema={"lc": pl.List(pl.Int64), "ld": pl.List(pl.Int64), "lr": pl.List(pl.Int64)},
    )
    return pl.Series(keys, dtype=pl.Float64), pl.Series(ids, dtype=pl.Int64), legs


def _events_and_legs(r: _Random, streams: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    ev = (
        streams.select(
            "stream_no",
            "skey",
            "reason",
            "kind",
            "at_sep",
            "roth_first_year",
            pos=pl.int_ranges(0, pl.col("n_events")),
        )
        .explode("pos")
        .with_columns(pl.col("pos").cast(pl.Int64))
    )
    ev = ev.with_row_index("event_no").with_columns(
        pl.col("event_no").cast(pl.Int64), ekey=pl.col("skey") * 16 + pl.col("pos")
    )
    group = (
        pl.when(pl.col("reason") == CORR).then(3)
        .when(pl.col("reason").is_in(CASH_ONLY_REASONS) | (pl.col("kind") == 2)).then(0)
        .when(pl.col("kind").is_in([1, 3])).then(1)
        .otherwise(2)
    )  # fmt: skip
    held_i = pl.col("at_sep").cast(pl.Int64) + 2 * pl.col("roth_first_year").is_not_null().cast(pl.Int64)
    x = r.select(ev, group * 4 + held_i + r.u(pl.col("ekey"), "ev.template")).to_series()
    keys, ids, tlegs = _template_tables()
    tmpl = ids.gather(keys.search_sorted(x, side="right"))
    ev = ev.with_columns(tmpl=tmpl).drop("at_sep", "roth_first_year", "skey")
    legs = (
        ev.select("event_no", "ekey", tmpl_legs=pl.lit(tlegs.to_struct("t")).gather(pl.col("tmpl")))
        .unnest("tmpl_legs")
        .with_columns(leg_no=pl.int_ranges(0, pl.col("lc").list.len()))
        .explode("lc", "ld", "lr", "leg_no")
        .with_columns(pl.col("leg_no").cast(pl.Int64))
    )
    return ev, legs


# ---------------------------------------------------------------------------------------------
# Contract values through the year
# ---------------------------------------------------------------------------------------------
def _initial_contracts(r: _Random, st: pl.DataFrame) -> pl.DataFrame:
    """Each stream's contracts at its first event of the year (cents)."""
    sk = pl.col("skey")
    has_roth = pl.col("roth_first_year").is_not_null()
    grandfathered = pl.col("pre87") & (pl.col("birth_year") <= 1966)  # contributing before 1987
    mixed_basis = ~pl.col("at_sep") & (pl.col("ptype") != G457) & (r.u(sk, "c.b.nr.has") < 0.3)
    at_loss = r.u(sk, "c.b.at.loss") < 0.06
    ro_loss = r.u(sk, "c.b.ro.loss") < 0.06
    foreign = r.u(sk, "c.fs.has") < 0.04
    out = r.select(
        st,
        "stream_no",
        "pre87",
        v_nr=r.lognormal(sk, "c.v.nr", 6_000_000, 1.0).clip(100_000, 300_000_000).floor().cast(pl.Int64),
        v_at=pl.when(pl.col("at_sep"))
        .then(r.lognormal(sk, "c.v.at", 2_500_000, 0.9).clip(50_000, 100_000_000).floor())
        .otherwise(0)
        .cast(pl.Int64),
        v_ro=pl.when(has_roth)
        .then(r.lognormal(sk, "c.v.ro", 1_800_000, 0.9).clip(50_000, 100_000_000).floor())
        .otherwise(0)
        .cast(pl.Int64),
        f_b_nr=pl.when(mixed_basis).then(r.uniform(sk, "c.b.nr", 0.02, 0.35)).otherwise(0.0),
        f_b_at=pl.when(at_loss)
        .then(r.uniform(sk, "c.b.at.l", 1.01, 1.25))
        .otherwise(r.uniform(sk, "c.b.at", 0.35, 0.95)),
        f_b_ro=pl.when(ro_loss)
        .then(r.uniform(sk, "c.b.ro.l", 1.01, 1.2))
        .otherwise(r.uniform(sk, "c.b.ro", 0.45, 0.95)),
        f_p_nr=pl.when(grandfathered & (r.u(sk, "c.p.nr.has") < 0.6))
        .then(r.uniform(sk, "c.p.nr", 0.1, 0.9))
        .otherwise(0.0),
        f_p_at=pl.when(grandfathered & (r.u(sk, "c.p.at.has") < 0.6))
        .then(r.uniform(sk, "c.p.at", 0.2, 1.0))
        .otherwise(0.0),
        irr_frac=pl.when(r.u(sk, "c.irr.has") < 0.12).then(r.uniform(sk, "c.irr", 0.05, 0.5)).otherwise(0.0),
        fs_nr=pl.when(foreign).then(r.uniform(sk, "c.fs.nr", 0.05, 0.5)).otherwise(0.0),
        fs_at=pl.when(foreign).then(r.uniform(sk, "c.fs.at", 0.05, 0.5)).otherwise(0.0),
    )
    out = out.with_columns(
        **{
            f"b_{s}": (pl.col(f"v_{s}") * pl.col(f"f_b_{s}")).floor().cast(pl.Int64)
            for s in ("nr", "at", "ro")
        }
    )
    return out.with_columns(
        p_nr=(pl.col("b_nr") * pl.col("f_p_nr")).floor().cast(pl.Int64),
        p_at=(pl.col("b_at") * pl.col("f_p_at")).floor().cast(pl.Int64),
        p_ro=pl.lit(0, pl.Int64),
    )


def _run_contracts(r: _Random, ev: pl.DataFrame, init: pl.DataFrame) -> pl.DataFrame:
    """Values before each event and the amount each event draws, per contract.

    Events of a stream run in `pos` order; each sees what the earlier ones left: value minus the
    draw, basis minus the basis recovered under docs/spec/extract.md's allocation rule (pre-1987 tier first
    in a pre1987_recovery plan, then pro rata rounded half-up; min(D, B) when the draw empties
    the contract). The loop is over the position in the year (at most 12), never over rows."""
    sfx = ("nr", "at", "ro")
    state = {f"{x}_{s}": init.get_column(f"{x}_{s}").clone() for x in "vbp" for s in sfx}
    pre87 = init.get_column("pre87")
    ek = pl.col("ekey")
    reason = pl.col("reason")
    frac_hi = (
        pl.when(reason == RMD).then(0.08 / pl.col("n_events"))
        .when(reason == CORR).then(0.04)
        .when(reason.is_in([LOAN, QLOAN, DEEMED])).then(0.3)
        .when(reason == HARD).then(0.35)
        .otherwise(0.6 / pl.col("n_events"))
    )  # fmt: skip
    frac_lo = pl.when(reason == CORR).then(0.005).otherwise(0.2 * frac_hi)
    p_close = _map(reason, (0.5, 0.08, 0.0, 0.55, 0.35, 0.03, 0.0, 0.0, 0.0, 0.6, 0.0), pl.Float64)
    base = r.with_columns(
        ev,
        close=(pl.col("pos") == pl.col("n_events") - 1) & (r.u(ek, "ev.close") < p_close),
        **{f"f_{s}": frac_lo + (frac_hi - frac_lo) * r.u(ek, f"ev.frac.{s}") for s in sfx},
    )
    parts = []
    by_position = base.partition_by("pos", as_dict=True, maintain_order=True)
    for _, ej in sorted(by_position.items()):
        idx = ej.get_column("stream_no")
        ej = ej.with_columns(
            pre87=pre87.gather(idx), **{name: series.gather(idx) for name, series in state.items()}
        )
        exprs = {}
        for ci, s in enumerate(sfx):
            v, n = pl.col(f"v_{s}"), pl.col(f"n{ci}")
            partial = pl.min_horizontal(
                pl.max_horizontal((v * pl.col(f"f_{s}")).floor().cast(pl.Int64), n), v
            )
            exprs[f"d_{s}"] = (
                pl.when(n == 0).then(0).when(pl.col("close")).then(v).otherwise(partial).cast(pl.Int64)
            )
        ej = ej.with_columns(**exprs)
        exprs = {}
        for s in sfx:
            v, b, p, d = pl.col(f"v_{s}"), pl.col(f"b_{s}"), pl.col(f"p_{s}"), pl.col(f"d_{s}")
            t = pl.when(pl.col("pre87")).then(pl.min_horizontal(d, p)).otherwise(0)
            rest, b1, v1 = d - t, b - t, v - t
            prorata = pl.when(v1 > 0).then((2 * rest * b1 + v1) // (2 * v1)).otherwise(0)
            exprs[f"rec_{s}"] = (
                pl.when(d == v)
                .then(pl.min_horizontal(d, b))
                .otherwise(t + pl.min_horizontal(rest, b1, prorata))
            )
            exprs[f"t_{s}"] = t
        ej = ej.with_columns(**exprs)
        for s in sfx:
            state[f"v_{s}"].scatter(idx, ej.get_column(f"v_{s}") - ej.get_column(f"d_{s}"))
            state[f"b_{s}"].scatter(idx, ej.get_column(f"b_{s}") - ej.get_column(f"rec_{s}"))
            state[f"p_{s}"].scatter(idx, ej.get_column(f"p_{s}") - ej.get_column(f"t_{s}"))
        parts.append(ej.select("event_no", *(f"{x}_{s}" for x in "vbpd" for s in sfx)))
    vals = pl.concat(parts).sort("event_no")
    idx = ev.get_column("stream_no")
    vals = vals.with_columns(
        irr_frac=init.get_column("irr_frac").gather(idx),
        fs_nr=init.get_column("fs_nr").gather(idx),
        fs_at=init.get_column("fs_at").gather(idx),
    )
    return vals.with_columns(
        irr_ro=(pl.col("irr_frac") * pl.col("b_ro")).floor().cast(pl.Int64),
        fs_nr=(pl.col("fs_nr") * (pl.col("v_nr") - pl.col("b_nr")).clip(0)).floor().cast(pl.Int64),
        fs_at=(pl.col("fs_at") * (pl.col("v_at") - pl.col("b_at")).clip(0)).floor().cast(pl.Int64),
    ).drop("irr_frac")


# ---------------------------------------------------------------------------------------------
# Payees
# ---------------------------------------------------------------------------------------------
def _payees(r: _Random, parts: pl.DataFrame, st: pl.DataFrame, ty: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    own = parts.select(
        "participant_no", slot=pl.lit(0, pl.Int64), kind=pl.lit(0, pl.Int64), pdob=pl.col("dob")
    )
    other = st.filter(pl.col("kind") != 0).select("participant_no", "slot", "kind", pdob=pl.col("dob"))
    pay = pl.concat([own, other]).sort("participant_no", "slot").with_row_index("payee_no")
    pay = r.with_columns(
        pay, pl.col("payee_no").cast(pl.Int64), key=pl.col("participant_no") * 8 + pl.col("slot")
    )
    k, kind = pl.col("key"), pl.col("kind")
    own_key = pl.col("participant_no") * 8

    def surname(key: pl.Expr) -> pl.Expr:
        i = r.integer(key, "pay.last", 0, len(SURNAME_HEADS) * len(SURNAME_TAILS) - 1)
        return _lookup(SURNAME_HEADS, i % len(SURNAME_HEADS)) + _lookup(
            SURNAME_TAILS, i // len(SURNAME_HEADS)
        )

    first = _lookup(FIRST_NAMES, r.integer(k, "pay.first", 0, len(FIRST_NAMES) - 1))
    last = pl.when((kind != 0) & (r.u(k, "pay.family") < 0.5)).then(surname(own_key)).otherwise(surname(k))
    decedent = (
        _lookup(FIRST_NAMES, r.integer(own_key, "pay.first", 0, len(FIRST_NAMES) - 1))
        + " "
        + surname(own_key)
    )
    entity_name = (
        pl.when(r.u(k, "pay.trust") < 0.5)
        .then("Estate of " + decedent)
        .otherwise(surname(own_key) + " Family Trust")
    )
    dob = (
        pl.when(kind == 0).then(pl.col("pdob"))
        .when(kind == 1).then(_jan1(ty - r.integer(k, "pay.ben.age", 18, 85)) + r.integer(k, "pay.ben.day", 0, 364))
        .when(kind == 3).then(pl.col("pdob") + r.integer(k, "pay.alt.dob", -2500, 2500))
    )  # fmt: skip
    tin_kind = (
        pl.when(kind == 2).then(pl.lit("ein"))
        .when((kind == 1) & (r.u(k, "pay.tin") < 0.01)).then(pl.lit("atin"))
        .when(r.u(k, "pay.tin") < 0.02).then(pl.lit("itin"))
        .otherwise(pl.lit("ssn"))
    )  # fmt: skip
    # Injective TIN numbering. SSN-typed TINs use area 9xx (never issued as SSNs) with group 00-49;
    # ITIN/ATIN use group 50-99; EINs use prefixes that never start with 9. Nothing is a real TIN.
    n = (pl.col("payee_no") * 12_345_679 + r.constant("pay.tin.c") % 50_000_000) % 50_000_000
    area, group, serial = n // 500_000, (n // 10_000) % 50, n % 10_000
    personal = (
        900_000_000
        + area * 1_000_000
        + (group + pl.when(tin_kind == "ssn").then(0).otherwise(50)) * 10_000
        + serial
    )
    e7 = (pl.col("payee_no") % 10_000_000 * 3_333_331 + r.constant("pay.ein.c") % 10_000_000) % 10_000_000
    ein = _lookup(
        ENTITY_EIN_PREFIXES, (pl.col("payee_no") // 10_000_000) % len(ENTITY_EIN_PREFIXES)
    ) + e7.cast(pl.String).str.zfill(7)
    tin = pl.when(tin_kind == "ein").then(ein).otherwise(personal.cast(pl.String))
    foreign = r.u(k, "pay.foreign") < 0.015
    city = r.integer(k, "pay.city", 0, len(CITIES) - 1)
    fidx = r.integer(k, "pay.fcountry", 0, len(FOREIGN) - 1)
    zip5 = _lookup([c[2] for c in CITIES], city) + r.integer(k, "pay.zip", 0, 99).cast(pl.String).str.zfill(2)
    zip9 = zip5 + r.integer(k, "pay.zip4", 1, 9999).cast(pl.String).str.zfill(4)
    pay = r.with_columns(
        pay,
        tin=tin,
        tin_type=tin_kind,
        first_name=pl.when(kind == 2).then(pl.lit("")).otherwise(first),
        last_name=pl.when(kind == 2).then(entity_name).otherwise(last),
        address=r.integer(k, "pay.num", 1, 9999).cast(pl.String)
        + " "
        + _lookup(STREETS, r.integer(k, "pay.street", 0, len(STREETS) - 1))
        + " "
        + _lookup(STREET_KINDS, r.integer(k, "pay.stkind", 0, len(STREET_KINDS) - 1)),
        city=pl.when(foreign)
        .then(_lookup([f[1] for f in FOREIGN], fidx))
        .otherwise(_lookup([c[1] for c in CITIES], city)),
        state=pl.when(foreign).then(pl.lit("")).otherwise(_lookup([c[0] for c in CITIES], city)),
        zip=pl.when(foreign)
        .then(_lookup([f[2] for f in FOREIGN], fidx))
        .when(r.u(k, "pay.zip9") < 0.2)
        .then(zip9)
        .otherwise(zip5),
        country=pl.when(foreign).then(_lookup([f[0] for f in FOREIGN], fidx)).otherwise(pl.lit("US")),
        date_of_birth=dob,
        locality=pl.when(foreign).then(pl.lit("")).otherwise(_lookup([c[3] for c in CITIES], city)),
        us_person=pl.lit(True),
    )
    key_map = pay.select("participant_no", "slot", "payee_no")
    return pay, key_map


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------
class _Patches:
    """Cell overwrites collected per (table, column) and applied with one scatter each, so a
    10-million-row column is copied once however many faults touch it."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], list[tuple[pl.Series, pl.Series | list | None]]] = {}

    def add(self, table: str, column: str, rows: pl.Series, values: pl.Series | list | None) -> None:
        if rows.len():
            self.cells.setdefault((table, column), []).append((rows.cast(pl.Int64), values))

    def apply(self, table: str, df: pl.DataFrame) -> pl.DataFrame:
        for (t, column), items in self.cells.items():
            if t != table:
                continue
            dtype = df.schema[column]
            rows = pl.concat([r for r, _ in items])
            values = pl.concat(
                [
                    pl.Series([None] * r.len(), dtype=dtype) if v is None else pl.Series(v).cast(dtype)
                    for r, v in items
                ]
            )
            s = df.get_column(column).clone()
            s.scatter(rows, values)
            df = df.with_columns(s)
        return df


def _inject_faults(
    r: _Random,
    fault_fraction: float,
    ty: int,
    dist: pl.DataFrame,
    contracts: pl.DataFrame,
    payees: pl.DataFrame,
    em: pl.DataFrame,
    widths: dict[str, int],
    counts: dict[str, int],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, int], pl.Series]:
    """Corrupt ~fault_fraction of the events, cycling through FAULT_KINDS; each picked event gets
    exactly one fault. `em` has one row per event with what eligibility needs; `dist` rows are in
    event order, so an event's rows are first_row .. first_row + nlegs - 1."""
    n_faulty = round(fault_fraction * em.height)
    faults = dict.fromkeys(FAULT_KINDS, 0)
    if n_faulty == 0:
        return dist, contracts, payees, faults, pl.Series("event_no", [], dtype=pl.Int64)
    rollable = ~pl.col("reason").is_in(CASH_ONLY_REASONS)
    eligible = {
        "duplicate_distribution_id": pl.col("nlegs") >= 2,
        "event_mixes_payee_or_date": pl.col("nlegs") >= 2,
        "malformed_tin": pl.col("payee_events") == 1,  # a payee-level fault touches one event only
        "nonresident_alien": pl.col("payee_events") == 1,
        "missing_contract_row": pl.col("n_held") >= 2,  # else it is an event without contracts
        "pre1987_basis_above_basis": pl.col("ptype") != G457,
        "non_roth_to_rollover_roth_plan": pl.col("first_nr_row").is_not_null() & rollable,
        "hardship_rolled_over": pl.col("first_nr_row").is_not_null()
        & (pl.col("kind") == 0)
        & (pl.col("reason") != CORR),
    }
    # Candidates in a random order; only as many as could be needed are kept.
    order = r.with_columns(em, score=r.u(pl.col("ekey"), "fault.order"))
    order = order.bottom_k(min(order.height, 40 * n_faulty + 1000), by="score").sort("score")
    picks: dict[str, pl.DataFrame] = {}
    used = pl.Series("event_no", [], dtype=pl.Int64)
    k = len(FAULT_KINDS)
    for i, kind in enumerate(FAULT_KINDS):
        quota = n_faulty // k + (1 if i < n_faulty % k else 0)
        pick = order.filter(
            eligible.get(kind, pl.lit(True)) & ~pl.col("event_no").is_in(used.implode())
        ).head(quota)
        if quota and pick.height:
            picks[kind] = pick.with_row_index("nth").with_columns(pl.col("nth").cast(pl.Int64))
            faults[kind] = pick.height
            used = pl.concat([used, pick.get_column("event_no")])

    def rows_of(pick: pl.DataFrame) -> pl.DataFrame:
        """Every distribution row of the picked events, with the event's columns."""
        return (
            pick.with_columns(leg=pl.int_ranges(0, pl.col("nlegs")))
            .explode("leg")
            .with_columns(row=pl.col("first_row") + pl.col("leg"))
        )

    def contract_row(pick: pl.DataFrame, cc: pl.Expr) -> pl.DataFrame:
        return pick.with_columns(cc=cc).join(crow, on=["event_no", "cc"], maintain_order="left")

    crow = (
        contracts.select("event_no", "cc").with_row_index("crow").with_columns(pl.col("crow").cast(pl.Int64))
    )
    patch = _Patches()
    drop: list[pl.Series] = []
    ek, nth = pl.col("ekey"), pl.col("nth")
    for kind, pick in picks.items():
        first, second = pick.get_column("first_row"), pick.get_column("first_row") + 1
        if kind == "nonpositive_amount":
            old = dist.get_column("amount_cents").gather(first)
            patch.add(
                "d",
                "amount_cents",
                first,
                pick.select(pl.when(nth % 2 == 0).then(0).otherwise(-old)).to_series(),
            )
        elif kind == "unknown_enum":
            for var, (col, bogus) in enumerate(
                (("destination", "rollover_hsa"), ("reason", "early_retirement"), ("contract", "annuity"))
            ):
                rows = pick.filter(nth % 3 == var).get_column("first_row")
                patch.add("d", col, rows, [bogus] * rows.len())
        elif kind == "dangling_reference":
            every = rows_of(pick)
            for var, (col, prefix, table) in enumerate(
                (
                    ("participant_id", "PT", "participants"),
                    ("payee_id", "PY", "payees"),
                    ("plan_id", "P", "plans"),
                )
            ):
                sub = every.filter(nth % 3 == var)
                ids = sub.select(_ident(prefix, counts[table] + nth, widths[col])).to_series()
                patch.add("d", col, sub.get_column("row"), ids)
        elif kind == "event_without_contracts":
            drop.append(crow.join(pick.select("event_no"), on="event_no").get_column("crow"))
        elif kind == "duplicate_distribution_id":
            patch.add("d", "distribution_id", second, dist.get_column("distribution_id").gather(first))
        elif kind == "amount_above_value":
            target = contract_row(pick, pl.col("first_cc"))
            rows = target.get_column("crow")
            new_value = r.select(
                target,
                (pl.col("first_drawn") - 1 - (pl.col("first_drawn") * 0.3 * r.u(ek, "fault.above")).floor())
                .clip(0)
                .cast(pl.Int64),
            ).to_series()
            basis = contracts.get_column("basis_cents").gather(rows)
            fs = contracts.get_column("foreign_source_cents").gather(rows)
            patch.add("c", "value_cents", rows, new_value)
            # Keep foreign_source within value − basis so that this stays the only fault.
            patch.add(
                "c",
                "foreign_source_cents",
                rows,
                pl.select(pl.min_horizontal(fs, (new_value - basis).clip(0))).to_series(),
            )
        elif kind == "event_mixes_payee_or_date":
            by_date = pick.filter(nth % 2 == 0)
            moved = r.select(
                by_date,
                pl.when(pl.col("pay_day") + 4 > _day(ty, 12, 31))
                .then(pl.col("pay_day") - r.integer(ek, "fault.mix", 1, 4))
                .otherwise(pl.col("pay_day") + r.integer(ek, "fault.mix", 1, 4)),
            ).to_series()
            patch.add("d", "payment_date", by_date.get_column("first_row") + 1, _date_series(moved))
            by_payee = pick.filter(nth % 2 == 1)
            other = by_payee.select(
                _ident("PY", (pl.col("payee_no") + 1) % counts["payees"], widths["payee_id"])
            )
            patch.add("d", "payee_id", by_payee.get_column("first_row") + 1, other.to_series())
        elif kind == "payment_outside_tax_year":
            every = rows_of(pick)
            day = r.select(
                every,
                pl.when(nth % 2 == 0)
                .then(_day(ty + 1) + r.integer(ek, "fault.outside", 0, 20))
                .otherwise(_day(ty - 1, 12, 31) - r.integer(ek, "fault.outside", 0, 20)),
            ).to_series()
            patch.add("d", "payment_date", every.get_column("row"), _date_series(day))
        elif kind == "nonresident_alien":
            rows = pick.get_column("payee_no")
            patch.add("p", "us_person", rows, [False] * rows.len())
        elif kind == "malformed_tin":
            rows = pick.get_column("payee_no")
            tin = pl.lit(payees.get_column("tin").gather(rows))
            bad = pick.select(
                pl.when(nth % 4 == 0).then(tin.str.slice(0, 8))  # 8 digits
                .when(nth % 4 == 1).then(tin.str.slice(0, 3) + "-" + tin.str.slice(3, 2) + "-" + tin.str.slice(5, 4))
                .when(nth % 4 == 2).then((((nth // 4) % 9 + 1) * 111_111_111).cast(pl.String))  # one digit 9 times
                .otherwise(tin.str.slice(0, 1) + "A" + tin.str.slice(2))
            ).to_series()  # fmt: skip
            patch.add("p", "tin", rows, bad)
        elif kind == "missing_contract_row":
            drop.append(contract_row(pick, pl.col("first_cc")).get_column("crow"))
        elif kind == "null_required_field":
            columns = (
                "amount_cents",
                "destination",
                "reason",
                "contract",
                "payment_date",
                "federal_withholding_cents",
                "participant_id",
            )
            for var, col in enumerate(columns):
                patch.add("d", col, pick.filter(nth % len(columns) == var).get_column("first_row"), None)
        elif kind == "pre1987_basis_above_basis":
            target = contract_row(pick, pl.lit(NR, pl.Int64))
            rows = target.get_column("crow")
            basis = contracts.get_column("basis_cents").gather(rows)
            patch.add(
                "c",
                "pre1987_basis_cents",
                rows,
                basis + r.select(target, r.integer(ek, "fault.pre87", 1, 50_000)).to_series(),
            )
        elif kind == "non_roth_to_rollover_roth_plan":
            rows = pick.get_column("first_nr_row")
            patch.add("d", "destination", rows, ["rollover_roth_plan"] * rows.len())
        elif kind == "hardship_rolled_over":
            every = rows_of(pick)
            patch.add("d", "reason", every.get_column("row"), ["hardship"] * every.height)
            rows = pick.get_column("first_nr_row")
            patch.add("d", "destination", rows, ["rollover_ira"] * rows.len())
            patch.add("d", "federal_withholding_cents", rows, [0] * rows.len())
    dist = patch.apply("d", dist)
    payees = patch.apply("p", payees)
    contracts = patch.apply("c", contracts)
    if drop:
        gone = pl.concat(drop).implode()
        contracts = contracts.filter(~pl.int_range(pl.len(), dtype=pl.Int64).is_in(gone))
    return dist, contracts, payees, faults, used


def _date_series(days: pl.Series) -> pl.Series:
    return days.cast(pl.Int32).cast(pl.Date)


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------
def generate_extract(
    out_dir: Path,
    n_disbursements: int,
    seed: int,
    *,
    tax_year: int = 2025,
    fault_fraction: float = 0.0,
    extract_id: str | None = None,
) -> dict:
    """Write a canonical extract with exactly `n_disbursements` rows in distributions.parquet into
    `out_dir` and return row counts per table, the event count and the injected faults by kind.

    Above ``PRORATA_SAMPLE_SHARD_ROWS`` disbursements the extract is built shard by shard (:func:`_sharded`),
    so memory follows one shard whatever the size."""
    if n_disbursements < 1:
        raise ValueError("n_disbursements must be at least 1")
    if not 0.0 <= fault_fraction <= 1.0:
        raise ValueError("fault_fraction must be between 0 and 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if n_disbursements > environment().sample_shard_rows:
        counts = _sharded(out_dir, n_disbursements, seed, tax_year, fault_fraction)
    else:
        written: dict[str, int] = {}

        def write(name: str, frame: pl.DataFrame) -> None:
            frame.write_parquet(out_dir / f"{name}.parquet", compression="zstd", statistics=True)
            written[name] = frame.height

        counts = _generate(_Random(seed), n_disbursements, tax_year, fault_fraction, write)
        counts = {**{name: written[name] for name in TABLES}, **counts}
    ty = tax_year
    stamp = _splitmix(seed & 0xFFFFFFFFFFFFFFFF ^ (ty << 32))
    created = dt.datetime(
        ty + 1, 1, 2 + stamp % 20, 6 + (stamp >> 8) % 12, (stamp >> 16) % 60, (stamp >> 24) % 60
    )
    manifest = {
        "extract_id": extract_id or f"sample-{ty}-s{seed}-n{n_disbursements}",
        "recordkeeper": "prorata synthetic sample",
        "tax_year": ty,
        "created_at": created.isoformat(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return counts


def _sharded(out_dir: Path, n_disbursements: int, seed: int, ty: int, fault_fraction: float) -> dict:
    """An extract of many shards, each a complete small extract of its own plans, participants,
    payees and events (drawn with the seed and the shard number), appended to the files one after
    the other. Ids of shard ``k`` start after ``k · stride`` (stride: a power of ten above four
    times the shard size, which leaves room for the ids a fault makes up), so they never collide;
    memory follows one shard. The rows come grouped by shard, hence by plan ranges."""
    import pyarrow.parquet as pq

    shards = math.ceil(n_disbursements / environment().sample_shard_rows)
    sizes = [n_disbursements // shards + (1 if k < n_disbursements % shards else 0) for k in range(shards)]
    stride = 10 ** len(str(4 * max(sizes)))
    width = len(str(shards * stride))
    writers: dict[str, pq.ParquetWriter] = {}
    schemas: dict[str, object] = {}
    written = dict.fromkeys(TABLES, 0)
    totals: dict = {"events": 0, "faults": dict.fromkeys(FAULT_KINDS, 0), "faulty_events": 0}

    def write(name: str, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if name not in writers:
            schemas[name] = table.schema
            writers[name] = pq.ParquetWriter(out_dir / f"{name}.parquet", table.schema, compression="zstd")
        writers[name].write_table(table.cast(schemas[name]))
        written[name] += frame.height

    try:
        for k, size in enumerate(sizes):
            offsets = dict.fromkeys(("D", "E", "PT", "PY", "P"), k * stride)
            token_o, token_w = _ID_OFFSET.set(offsets), _ID_WIDTH.set(dict.fromkeys(offsets, width))
            try:
                counts = _generate(_Random(f"{seed}/shard{k}"), size, ty, fault_fraction, write)
            finally:
                _ID_OFFSET.reset(token_o)
                _ID_WIDTH.reset(token_w)
            totals["events"] += counts["events"]
            totals["faulty_events"] += counts["faulty_events"]
            for kind, n in counts["faults"].items():
                totals["faults"][kind] += n
    finally:
        for writer in writers.values():
            writer.close()
    return {**written, **totals}


def _generate(
    r: _Random,
    n_disbursements: int,
    ty: int,
    fault_fraction: float,
    write: Callable[[str, pl.DataFrame], None],
) -> dict:
    """The tables of one extract (or shard), each handed to ``write`` as soon as it is final;
    returns the event count and the injected faults."""
    n_plans = min(max(8, n_disbursements // 25_000), 999)
    plans = _plans(r, n_plans)

    # Enough participants for n rows; attributes are keyed by participant number, so growing the
    # population only appends people. Then cut at exactly n legs (the last event may lose legs).
    n_people = int(n_disbursements * 0.6) + 32  # about 1.9 disbursements per participant
    while True:
        parts = _participants(r, n_people, plans, ty)
        streams = _streams(r, parts, ty)
        events, legs = _events_and_legs(r, streams)
        if legs.height >= n_disbursements:
            break
        n_people = int(n_people * 1.25 * n_disbursements / max(legs.height, 1)) + 16
    legs = legs.head(n_disbursements)
    last_event = int(legs.get_column("event_no")[-1])
    events = events.filter(pl.col("event_no") <= last_event)
    last_stream = int(events.get_column("stream_no")[-1])
    streams = streams.filter(pl.col("stream_no") <= last_stream)
    last_part = int(streams.get_column("participant_no")[-1])
    parts = parts.filter(pl.col("participant_no") <= last_part)
    # Streams cut short have fewer events now.
    n_kept = events.group_by("stream_no").len().sort("stream_no").get_column("len").cast(pl.Int64)
    streams = streams.with_columns(n_events=n_kept)

    per_event = (
        legs.group_by("event_no")
        .agg(
            nlegs=pl.len().cast(pl.Int64),
            n0=(pl.col("lc") == NR).sum().cast(pl.Int64),
            n1=(pl.col("lc") == AT).sum().cast(pl.Int64),
            n2=(pl.col("lc") == RO).sum().cast(pl.Int64),
            n_roll=(pl.col("ld") != CASH).sum().cast(pl.Int64),
        )
        .sort("event_no")
    )
    sidx = events.get_column("stream_no")
    events = events.with_columns(per_event.drop("event_no").get_columns()).with_columns(
        n_events=streams.get_column("n_events").gather(sidx),
        skey=streams.get_column("skey").gather(sidx),
        start=streams.get_column("start").gather(sidx),
        slot_len=streams.get_column("slot_len").gather(sidx),
    )
    events = r.with_columns(
        events,
        pay_day=pl.col("start")
        + pl.col("pos") * pl.col("slot_len")
        + (r.u(pl.col("ekey"), "ev.day") * pl.col("slot_len")).floor().cast(pl.Int64),
    )

    init = _initial_contracts(r, streams)
    vals = _run_contracts(r, events, init)

    # ---- contracts.parquet: a row per held contract per event --------------------------------
    held = {
        NR: pl.lit(True),
        AT: pl.col("at_sep"),
        RO: pl.col("roth_first_year").is_not_null(),
    }
    ev_held = events.select("event_no", "stream_no").with_columns(
        at_sep=streams.get_column("at_sep").gather(sidx),
        roth_first_year=streams.get_column("roth_first_year").gather(sidx),
    )
    cparts = []
    for ci, s in enumerate(("nr", "at", "ro")):
        block = pl.concat([ev_held, vals.drop("event_no")], how="horizontal").filter(held[ci])
        cparts.append(
            block.select(
                "event_no",
                cc=pl.lit(ci, pl.Int64),
                value_cents=pl.col(f"v_{s}"),
                basis_cents=pl.col(f"b_{s}"),
                pre1987_basis_cents=pl.col(f"p_{s}"),
                irr_recapture_cents=pl.col("irr_ro") if s == "ro" else pl.lit(0, pl.Int64),
                foreign_source_cents=pl.col(f"fs_{s}") if s != "ro" else pl.lit(0, pl.Int64),
            )
        )
    contracts = pl.concat(cparts).sort("event_no", "cc")

    # ---- legs: amounts, rollover order, withholding ------------------------------------------
    eidx = legs.get_column("event_no")
    take_ev = {c: vals.get_column(c).gather(eidx) for c in vals.columns if c[0] in "vbd" and c[1] == "_"}
    legs = legs.with_columns(**take_ev).with_columns(
        stream_no=events.get_column("stream_no").gather(eidx),
        reason=events.get_column("reason").gather(eidx),
        pay_day=events.get_column("pay_day").gather(eidx),
    )
    lc = pl.col("lc")

    def by_contract(prefix: str) -> pl.Expr:
        return (
            pl.when(lc == NR)
            .then(pl.col(f"{prefix}_nr"))
            .when(lc == AT)
            .then(pl.col(f"{prefix}_at"))
            .otherwise(pl.col(f"{prefix}_ro"))
        )

    lk = pl.col("ekey") * 4 + pl.col("leg_no")
    legs = legs.with_columns(
        n_nr=events.get_column("n0").gather(eidx),
        n_at=events.get_column("n1").gather(eidx),
        n_ro=events.get_column("n2").gather(eidx),
        n_roll=events.get_column("n_roll").gather(eidx),
    )
    legs = legs.with_columns(D=by_contract("d"), V=by_contract("v"), B=by_contract("b"), gn=by_contract("n"))
    legs = legs.drop(*take_ev, "n_nr", "n_at", "n_ro")
    # Split each (event, contract) draw D among its legs: at least a cent each, the rounding rest
    # on the first leg. Only the few groups with several legs need the work.
    pretax_share = ((pl.col("V") - pl.col("B")) / pl.col("V")).clip(0.02, 0.98)
    w = (
        pl.when(pl.col("lr") == 1).then(pretax_share)
        .when(pl.col("lr") == 2).then(1.0 - pretax_share)
        .otherwise(r.uniform(lk, "leg.weight", 0.2, 1.0))
    )  # fmt: skip
    grp = pl.col("event_no") * 3 + lc
    multi = r.with_columns(legs.with_row_index("row").filter(pl.col("gn") > 1), w=w)
    multi = multi.with_columns(
        raw=1
        + ((pl.col("D") - pl.col("gn")) * pl.col("w") / pl.col("w").sum().over(grp)).floor().cast(pl.Int64)
    ).select(
        "row",
        amount=pl.col("raw")
        + pl.when(pl.col("leg_no") == pl.col("leg_no").min().over(grp))
        .then(pl.col("D") - pl.col("raw").sum().over(grp))
        .otherwise(0),
    )
    amount = legs.get_column("D").clone().alias("amount")
    amount.scatter(multi.get_column("row"), multi.get_column("amount"))
    legs = legs.with_columns(amount)
    # The payee's election of which direct rollover takes pre-tax money first, on some events.
    is_roll = pl.col("ld") != CASH
    set_order = is_roll & (
        pl.when(pl.col("n_roll") >= 2).then(0.5).otherwise(0.05) > r.u(pl.col("ekey"), "ev.order")
    )
    ordered = r.with_columns(legs.with_row_index("row"), chosen=set_order).filter(pl.col("chosen"))
    ordered = r.select(
        ordered, "row", rank=r.u(lk, "leg.order").rank("ordinal").over("event_no").cast(pl.Int32)
    )
    rollover_order = pl.Series("rollover_order", [None] * legs.height, dtype=pl.Int32)
    rollover_order.scatter(ordered.get_column("row"), ordered.get_column("rank"))
    legs = legs.with_columns(rollover_order)
    # Stream / participant attributes each leg needs.
    sid = legs.get_column("stream_no")
    legs = legs.with_columns(
        streams.get_column(c).gather(sid)
        for c in ("plan_no", "ptype", "dob", "disabled", "roth_first_year", "kind", "participant_no", "slot")
    )
    pay, key_map = _payees(r, parts, streams, ty)
    streams_payee = (
        streams.select(
            "stream_no", "participant_no", slot=pl.when(pl.col("kind") == 0).then(0).otherwise(pl.col("slot"))
        )
        .join(key_map, on=["participant_no", "slot"])
        .sort("stream_no")
        .get_column("payee_no")
    )
    legs = legs.with_columns(payee_no=streams_payee.gather(sid))
    pidx = legs.get_column("payee_no")
    legs = legs.with_columns(
        payee_state=pay.get_column("state").gather(pidx),
        payee_locality=pay.get_column("locality").gather(pidx),
    )
    reason = pl.col("reason")
    age_59_half = _date(pl.col("dob")).dt.offset_by("714mo").cast(pl.Int32).cast(pl.Int64)
    qualified_roth = (
        pl.col("roth_first_year").is_not_null()
        & (ty - pl.col("roth_first_year") >= 5)
        & ((pl.col("pay_day") >= age_59_half) | (reason == DEATH) | pl.col("disabled"))
    )
    taxable_share = ((pl.col("V") - pl.col("B")).clip(0) / pl.col("V")).clip(0.0, 1.0)
    est_taxable = pl.when((lc == RO) & qualified_roth).then(0.0).otherwise(pl.col("amount") * taxable_share)
    elect_out = r.u(lk, "leg.w4r") < 0.25
    rate = (
        pl.when(pl.col("ld") != CASH).then(0.0)
        .when(reason.is_in(WITHHOLD_20)).then(0.20)
        .when(reason.is_in(WITHHOLD_10) & ~elect_out).then(0.10)
        .otherwise(0.0)
    )  # fmt: skip
    legs = r.with_columns(legs, est=est_taxable, fed=(est_taxable * rate + 0.5).floor().cast(pl.Int64))
    state_wh = (
        (pl.col("fed") > 0)
        & (pl.col("payee_state") != "")
        & ~pl.col("payee_state").is_in(NO_WAGE_TAX_STATES)
        & (r.u(lk, "leg.state") < 0.7)
    )
    has_local = state_wh & (pl.col("payee_locality") != "") & (r.u(lk, "leg.local") < 0.8)
    state_code = pl.col("payee_state")
    state_index = state_code.replace_strict(
        {c[0]: i for i, c in enumerate(CITIES)}, default=0, return_dtype=pl.Int64
    )
    state_no = ((pl.col("plan_no") * 7919 + state_index * 104_729) % 10_000_000).cast(pl.String).str.zfill(7)
    widths = {
        "distribution_id": _width(n_disbursements, 7),
        "event_id": _width(events.height, 6),
        "participant_id": _width(parts.height, 6),
        "payee_id": _width(pay.height, 6),
        "plan_id": _width(n_plans, 2),
    }
    corrective_year = pl.when(reason == CORR).then(
        ty - (r.u(pl.col("ekey"), "ev.corr.year") < 0.4).cast(pl.Int64)
    )
    # A corrective refund of after-tax or designated Roth contributions returns them (its basis,
    # within the contract's) with their earnings; a refund of pre-tax money returns no basis.
    returned = (pl.col("amount") * (0.6 + 0.35 * r.u(lk, "leg.corr.basis"))).floor().cast(pl.Int64)
    corrective_basis = (
        pl.when((reason == CORR) & (lc != NR)).then(pl.min_horizontal(returned, pl.col("B"))).otherwise(0)
    )
    dist = r.select(
        legs,
        distribution_id=_ident("D", pl.int_range(pl.len(), dtype=pl.Int64), widths["distribution_id"]),
        event_id=_ident("E", pl.col("event_no"), widths["event_id"]),
        participant_id=_ident("PT", pl.col("participant_no"), widths["participant_id"]),
        payee_id=_ident("PY", pl.col("payee_no"), widths["payee_id"]),
        plan_id=_ident("P", pl.col("plan_no"), widths["plan_id"]),
        payment_date=_date(pl.col("pay_day")),
        contract=_lookup(CONTRACTS, lc),
        amount_cents=pl.col("amount"),
        destination=_lookup(DESTINATIONS, pl.col("ld")),
        rollover_order=pl.col("rollover_order"),
        reason=_lookup(REASONS, reason),
        corrective_taxable_year=corrective_year.cast(pl.Int32),
        corrective_basis_cents=corrective_basis.cast(pl.Int64),
        from_rollover_source=(pl.col("ptype") == G457) & (lc == NR) & (r.u(lk, "leg.rollsrc") < 0.15),
        federal_withholding_cents=pl.col("fed"),
        state=pl.when(state_wh).then(state_code),
        state_withholding_cents=pl.when(state_wh)
        .then((pl.col("est") * 0.05 + 0.5).floor())
        .otherwise(0)
        .cast(pl.Int64),
        state_payer_id=pl.when(state_wh).then(state_code + state_no),
        local_withholding_cents=pl.when(has_local)
        .then((pl.col("est") * 0.015 + 0.5).floor())
        .otherwise(0)
        .cast(pl.Int64),
        locality=pl.when(has_local).then(pl.col("payee_locality")),
        event_no=pl.col("event_no"),
    )

    legs = legs.select("event_no", "lc", "plan_no", "pay_day", "amount", "fed")
    written: dict[str, int] = {}

    def write(name: str, frame: pl.DataFrame, _write=write) -> None:
        _write(name, frame)
        written[name] = frame.height

    # ---- plans and participants: no fault touches them, so they are written now -----------------
    write("plans", _plans_table(r, plans, widths["plan_id"]))
    own_payee = key_map.filter(pl.col("slot") == 0).sort("participant_no").get_column("payee_no")
    write(
        "participants",
        parts.with_columns(payee_no=own_payee).select(
            participant_id=_ident("PT", pl.col("participant_no"), widths["participant_id"]),
            plan_id=_ident("P", pl.col("plan_no"), widths["plan_id"]),
            payee_id=_ident("PY", pl.col("payee_no"), widths["payee_id"]),
            date_of_death=_date(pl.col("dod")),
            disabled=pl.col("disabled"),
            separation_date=_date(pl.col("sep")),
            public_safety_employee=pl.col("public_safety"),
            roth_first_year=pl.col("roth_first_year").cast(pl.Int32),
        ),
    )
    del parts, own_payee
    payees = pay.select(
        payee_id=_ident("PY", pl.col("payee_no"), widths["payee_id"]),
        tin=pl.col("tin"),
        tin_type=pl.col("tin_type"),
        first_name=pl.col("first_name"),
        last_name=pl.col("last_name"),
        address=pl.col("address"),
        city=pl.col("city"),
        state=pl.col("state"),
        zip=pl.col("zip"),
        country=pl.col("country"),
        date_of_birth=_date(pl.col("date_of_birth")),
        us_person=pl.col("us_person"),
    )
    del pay, key_map
    contracts = contracts.with_columns(event_id=_ident("E", pl.col("event_no"), widths["event_id"]))

    # ---- faults -----------------------------------------------------------------------------
    n_events = events.height
    if fault_fraction > 0:
        first_leg = (
            legs.select("event_no", "lc")
            .with_row_index("row")
            .group_by("event_no")
            .agg(
                first_cc=pl.col("lc").first(),
                first_nr_row=pl.col("row").filter(pl.col("lc") == NR).min().cast(pl.Int64),
            )
            .sort("event_no")
        )
        payee_events = events.group_by("stream_no").len().sort("stream_no").get_column("len").cast(pl.Int64)
        em = events.select(
            "event_no",
            "ekey",
            "nlegs",
            "reason",
            "kind",
            "pay_day",
            first_row=pl.col("nlegs").cum_sum() - pl.col("nlegs"),
            payee_events=payee_events.gather(sidx),
            payee_no=streams_payee.gather(sidx),
            ptype=streams.get_column("ptype").gather(sidx),
            n_held=1
            + ev_held.get_column("at_sep").cast(pl.Int64)
            + ev_held.get_column("roth_first_year").is_not_null().cast(pl.Int64),
            first_cc=first_leg.get_column("first_cc"),
            first_nr_row=first_leg.get_column("first_nr_row"),
        )
        em = em.with_columns(
            first_drawn=pl.when(pl.col("first_cc") == NR)
            .then(vals.get_column("d_nr"))
            .when(pl.col("first_cc") == AT)
            .then(vals.get_column("d_at"))
            .otherwise(vals.get_column("d_ro"))
        )
        del first_leg, payee_events
    else:
        em = pl.DataFrame()
    del events, streams, vals, ev_held, sidx, streams_payee
    dist, contracts, payees, faults, faulty = _inject_faults(
        r, fault_fraction, ty, dist, contracts, payees, em, widths, {**written, "payees": payees.height}
    )
    del em

    # ---- the rest, written as soon as final -------------------------------------------------------
    write("payees", payees)
    del payees
    write(
        "contracts",
        contracts.select(
            "event_id",
            _lookup(CONTRACTS, pl.col("cc")).alias("contract"),
            "value_cents",
            "basis_cents",
            "pre1987_basis_cents",
            "irr_recapture_cents",
            "foreign_source_cents",
        ),
    )
    del contracts
    write("distributions", dist.drop("event_no"))
    del dist
    # Control totals: what left the trust for the events that are valid (all of them without faults).
    write(
        "control_totals",
        legs.filter(~pl.col("event_no").is_in(faulty.implode()))
        .group_by("plan_no", month=_date(pl.col("pay_day")).dt.truncate("1mo"))
        .agg(
            gross_cents=pl.col("amount").sum().cast(pl.Int64),
            federal_withholding_cents=pl.col("fed").sum().cast(pl.Int64),
            disbursement_count=pl.len().cast(pl.Int64),
        )
        .sort("plan_no", "month")
        .select(
            _ident("P", pl.col("plan_no"), widths["plan_id"]).alias("plan_id"),
            "month",
            "gross_cents",
            "federal_withholding_cents",
            "disbursement_count",
        ),
    )
    return {
        "events": n_events,
        "faults": faults,
        "faulty_events": faulty.len(),
    }
