"""Pre-filing edit checks per form: errors block filing, warnings do not.

Each check is a named boolean expression over a frame of forms joined with their filing details
(payee TIN type, Roth or not, destination, the reasons behind the form) and with what the IRS files
would make of their payee and payer (:func:`party_facts`). The same frame feeds the IRS writers: a
form with an error, or under the $10 filing threshold, is not filed.

A check that enforces one of the IRS's IRIS business rules carries its number (``irs_rule``;
:data:`transforms.irs.iris.iris_rules.DECISIONS`). Every condition under which the IRS writers refuse a
return is an error here, computed before writing, so that one bad value blocks its own form and the
run files the rest (``transforms.irs.shared.filing_problems`` lists the writers' conditions; a
test runs each through ``prorata run``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from contracts.rules import tin_is_valid
from transforms.irs.iris.iris_xml import DISTRIBUTION_CODES, STATES
from transforms.irs.shared import (
    CITY_LENGTH,
    DOMESTIC_COUNTRIES,
    PERSON_NAME_LENGTH,
    PLAIN_CITY,
    PLAIN_NAME,
    PLAIN_STREET,
    STREET_LENGTH,
    alpha_text,
    city_name,
    clean_text,
    digits_only,
    iris_locality,
    iris_state_id,
    is_foreign_address,
    name_lines,
    phone_number,
    street_lines,
    unwritable_name_address,
)
from transforms.kernels.lookup import row_of
from transforms.kernels.subset import computed_where, filled
from transforms.law.box7 import is_valid_combination
from transforms.law.params import TaxParameters

NOT_ELIGIBLE_ROLLOVER = ("hardship", "required_minimum", "corrective", "deemed_loan")


@dataclass(frozen=True)
class EditCheck:
    name: str
    severity: str  # "error" blocks filing; "warning" does not
    message: str
    failing: pl.Expr  # true on a form the check flags
    reference: str
    irs_rule: str | None = None  # the IRIS business rule it enforces


#: The most cents an amount field of the IRS records takes: Publication 1220's 12 positions (B
#: record 55-270, 723-746: $10 billion does not fit). The IRIS schema takes more
#: (USDecimalAmountNNType, maxInclusive 999999999999999.99), but the writers share one check of the
#: returns (``transforms.irs.shared.filing_problems``), which holds every year to FIRE's width.
FIRE_MAX_CENTS = 10**12 - 1

#: Money columns of a form the IRS records carry (boxes 1-10, 14, 16, 17, 19).
AMOUNT_COLUMNS = (
    "box1_cents", "box2a_cents", "box3_cents", "box4_cents", "box5_cents", "box6_cents", "box8_cents",
    "box9b_cents", "box10_cents", "state_withholding_cents", "state_distribution_cents",
    "local_withholding_cents", "local_distribution_cents",
)  # fmt: skip


def max_amount_cents(p: TaxParameters) -> int:
    """The largest amount the IRS writers take for ``p.tax_year`` (:data:`FIRE_MAX_CENTS`)."""
    return FIRE_MAX_CENTS


def edit_checks(p: TaxParameters) -> list[EditCheck]:
    """The checks, in report order."""
    c = pl.col
    rate = p.eligible_rollover_withholding_rate_pct
    born = p.ten_year_option_born_before
    top = max_amount_cents(p)
    return [
        EditCheck(
            "payee_tin_invalid",
            "error",
            "payee TIN is missing or not 9 valid digits",
            ~tin_is_valid(c("payee_tin")).fill_null(False),
            "Publication 1220, B record 12-20; General Instructions, TIN rules; IRIS rule SHAREDIRFORM023",
            "SHAREDIRFORM023",
        ),
        EditCheck(
            "payer_tin_invalid",
            "error",
            "payer EIN is missing or not 9 valid digits",
            ~tin_is_valid(c("payer_tin")).fill_null(False),
            "Publication 1220, A record 12-20",
        ),
        EditCheck(
            "invalid_code_pair",
            "error",
            "box 7 holds codes that Table 1 does not allow together",
            ~is_valid_combination(c("distribution_codes"), p.tax_year),
            "i1099r, Table 1 (tax-rules f.3)",
        ),
        EditCheck(
            "box2a_above_box1",
            "error",
            "box 2a (taxable amount) is larger than box 1 (gross)",
            c("box2a_cents") > c("box1_cents"),
            "i1099r, boxes 1 and 2a; IRIS rule F1099R002",
            "F1099R002",
        ),
        EditCheck(
            "box3_above_box1",
            "error",
            "box 3 (capital gain) is larger than box 1 (gross)",
            c("box3_cents") > c("box1_cents"),
            "i1099r, box 3; IRIS rule F1099R003",
            "F1099R003",
        ),
        EditCheck(
            "box5_above_box1",
            "error",
            "box 5 (employee contributions) is larger than box 1",
            c("box5_cents") > c("box1_cents"),
            "i1099r, box 5",
        ),
        EditCheck(
            "box6_above_box1",
            "error",
            "box 6 (net unrealized appreciation) is larger than box 1 (gross)",
            c("box6_cents") > c("box1_cents"),
            "i1099r, box 6; IRIS rule F1099R005_001",
            "F1099R005_001",
        ),
        EditCheck(
            "box4_above_box1",
            "error",
            "federal withholding (box 4) is larger than the gross distribution",
            c("box4_cents") > c("box1_cents"),
            "IRC §3405; i1099r, box 4; IRIS rule F1099R001 (withholding excessive for the income reported)",
            "F1099R001",
        ),
        EditCheck(
            "taxable_amount_not_determined_with_box2a",
            "error",
            "box 2b 'taxable amount not determined' is checked but box 2a holds an amount",
            c("taxable_not_determined").fill_null(False)
            & ~c("ira_sep_simple").fill_null(False)
            & (c("box2a_cents") > 0),
            "i1099r, box 2b; Publication 1220, B record 547; IRIS rule F1099R006",
            "F1099R006",
        ),
        EditCheck(
            "amount_over_irs_field",
            "error",
            f"an amount is negative or does not fit the IRS record (at most {top:,} cents)",
            pl.any_horizontal(
                (c(col).fill_null(0) < 0) | (c(col).fill_null(0) > top) for col in AMOUNT_COLUMNS
            ),
            "Publication 1220, B record 55-270 and 723-746 (12 positions); IRIS USDecimalAmountNNType",
        ),
        EditCheck(
            "payee_name_unusable",
            "error",
            "the payee's last name (or entity name) has no letter or digit the IRS files can carry",
            c("payee_name_unusable"),
            "Publication 1220, B record 288-327 (first payee name line, required); IRIS PersonLastNm / "
            "BusinessNameLine1Txt",
        ),
        EditCheck(
            "payee_address_missing",
            "error",
            "the payee's street address or city has no letter or digit the IRS files can carry",
            c("payee_address_missing"),
            "Publication 1220, B record 368-407, 448-487; IRIS rule SHAREDIRFORM016 (MailingAddressGrp)",
            "SHAREDIRFORM016",
        ),
        EditCheck(
            "payee_us_address_incomplete",
            "error",
            "a U.S. payee address (United States or a possession) needs a 2-letter state and a 5- or 9-digit ZIP",
            c("payee_us_address_incomplete"),
            "Publication 1220, B record 488-498; IRIS USAddress (StateAbbreviationCd, ZIPCd)",
        ),
        EditCheck(
            "payer_name_unusable",
            "error",
            "the payer's name has no letter or digit the IRS files can carry",
            c("payer_name_unusable"),
            "Publication 1220, A record 53-92 (first payer name line); IRIS IssuerDetail BusinessNameLine1Txt",
        ),
        EditCheck(
            "payer_details_differ",
            "error",
            "plans with this payer EIN give different payer names, addresses or phones: the IRS file has one per payer",
            c("payer_details_differ"),
            "Publication 1220, A record (one per payer and type of return); IRIS IssuerDetail (one per submission)",
        ),
        EditCheck(
            "roth_without_box11",
            "error",
            "a designated Roth account form has no box 11 first year",
            c("roth") & c("box11_year").is_null(),
            "i1099r (2023), box 11",
        ),
        EditCheck(
            "codes_missing",
            "error",
            "box 7 is empty",
            c("distribution_codes").fill_null("").str.len_chars() == 0,
            "Publication 1220, B record 545-546",
        ),
        EditCheck(
            "under_filing_threshold",
            "warning",
            "box 1 is under $10: kept in forms.parquet but not filed",
            c("box1_cents") < p.filing_threshold_cents,
            "i1099r (2023): file for distributions of $10 or more",
        ),
        EditCheck(
            "withholding_below_20_percent",
            "warning",
            f"cash part of an eligible rollover distribution with less than {rate} % of box 2a withheld",
            (c("destination") == "cash")
            & c("eligible_rollover")
            & (c("box2a_cents") > 0)
            & (c("payee_eligible_rollover_cents") >= p.withholding_de_minimis_cents)
            & (100 * c("box4_cents") < rate * c("box2a_cents")),
            "IRC §3405(c)(1); Form W-4R; Reg. §31.3405(c)-1 Q&A-14 ($200 de minimis)",
        ),
        EditCheck(
            "ten_year_option_not_modeled",
            "warning",
            f"participant born before {born.day} {born:%b %Y}: code A and box 3 (capital gain) are not computed",
            c("born_before_1936"),
            "i1099r code A; Form 1099-R box 3; Tax Reform Act of 1986 §1122(h)(3), (5)",
        ),
        *iris_checks(p),
    ]


def iris_checks(p: TaxParameters) -> list[EditCheck]:
    """What the IRIS writer refuses even after normalising (``transforms.irs.iris.iris_xml``:
    ``value_problems``, ``payer_problems``; the schema types of IRS-IRefileTypes.xsd, TY2025 v1.2),
    as errors in the tax years IRIS files (after ``fire_last_tax_year``): the form is blocked, the
    run files the rest. The payee's and payer's facts come from :func:`party_facts`."""
    if p.tax_year <= p.fire_last_tax_year:
        return []
    c = pl.col
    where = "IRIS A2A TY2025 v1.2, IRS-IRefileTypes.xsd: "
    payee = [
        EditCheck(name, "error", message, c(name), where + message.rsplit("(", 1)[-1].rstrip(")"))
        for name, message, _ in unwritable_name_address()
    ]
    return [
        *payee,
        EditCheck(
            "iris_payee_state",
            "error",
            "a U.S. payee's state is not one IRIS takes (StateAbbreviationCd)",
            c("iris_payee_state"),
            where + "StateType",
        ),
        EditCheck(
            "iris_payer",
            "error",
            "the payer's name, street, city, state or phone is not one IRIS takes (IssuerDetail)",
            c("iris_payer"),
            where + "BusinessNameLine1Type, StreetAddressType, CityType, StateType, ContactPhoneNumberType",
        ),
        EditCheck(
            "iris_state",
            "error",
            "the box 15 state is not one IRIS takes (StateTaxGrp)",
            (c("state").fill_null("") != "")
            & ~c("state").fill_null("").str.to_uppercase().is_in(sorted(STATES)),
            where + "StateType",
        ),
        EditCheck(
            "iris_state_id",
            "error",
            "the payer's state number (box 15) is longer than IRIS takes (25 characters)",
            c("iris_state_id"),
            where + "StateIdNum (TextType, 25)",
        ),
        EditCheck(
            "iris_locality",
            "error",
            "the locality (box 18) is longer than IRIS takes (20 characters)",
            c("iris_locality"),
            where + "LocalityNm (20)",
        ),
        EditCheck(
            "iris_distribution_code",
            "error",
            "box 7 is not one of the values IRIS takes",
            ~c("distribution_codes").fill_null("").str.to_uppercase().is_in(sorted(DISTRIBUTION_CODES)),
            where + "IRS-Form1099RType.xsd, Form1099RDistributionCd",
        ),
    ]


def _eligible() -> pl.Expr:
    return ~pl.col("reason").is_in(NOT_ELIGIBLE_ROLLOVER) & ~pl.col("reason").is_in(
        ["loan_offset", "qualified_loan_offset"]
    )


def born_before_1936(p: TaxParameters) -> pl.Expr:
    """The participant may elect 10-year averaging or capital-gain treatment (code A, box 3):
    born before ``ten_year_option_born_before`` (parameters.toml; Tax Reform Act of 1986
    §1122(h)(3), (5))."""
    return pl.col("date_of_birth") < pl.lit(p.ten_year_option_born_before)


def form_details(legs: pl.LazyFrame, p: TaxParameters) -> pl.LazyFrame:
    """Per form, the facts the checks need beyond forms.parquet (from the engine's legs)."""
    eligible = _eligible()
    per_payee = (
        legs.filter(eligible)
        .group_by("tax_year", "plan_id", "payee_id")
        .agg(pl.col("amount_cents").sum().alias("payee_eligible_rollover_cents"))
    )
    forms = legs.group_by("form_id").agg(
        pl.col("tax_year").first(),
        pl.col("plan_id").first(),
        pl.col("payee_id").first(),
        pl.col("roth").first(),
        pl.col("destination").first(),
        eligible.all().alias("eligible_rollover"),
        born_before_1936(p).any().fill_null(False).alias("born_before_1936"),
    )
    return forms.join(per_payee, on=["tax_year", "plan_id", "payee_id"], how="left").with_columns(
        pl.col("payee_eligible_rollover_cents").fill_null(0)
    )


DETAILS = ["roth", "destination", "eligible_rollover", "born_before_1936", "payee_eligible_rollover_cents"]


#: The rows :func:`form_rows` gives each form.
ROWS = ("_plan", "_payee", "_part")


def form_rows(forms: pl.DataFrame, legs: pl.DataFrame) -> pl.DataFrame | None:
    """Per form, in the order of ``forms``, the rows of its plan, payee and participant in the
    tables the engine read (``_plan``, ``_payee``, ``_part``: :func:`transforms.engine.legs.matched`),
    when the legs say which row of ``forms`` each leg is on (``_form_row``, checked against
    ``form_id``) and every form has a leg. The form key holds the plan, the payee and the participant
    (``transforms.engine.forms.FORM_KEY``), so the legs of a form name the same rows: each leg's are
    written at its form's row and read back to prove it. ``None`` otherwise."""
    needed = {"_form_row", *ROWS, "form_id"}
    if not needed <= set(legs.columns) or legs.height == 0:
        return None
    row = legs.get_column("_form_row")
    if row.null_count() or row.max() >= forms.height:
        return None
    if not forms.get_column("form_id").gather(row).equals(legs.get_column("form_id")):
        return None
    out = {}
    for name in ROWS:
        values = legs.get_column(name)
        at_form = pl.repeat(None, forms.height, dtype=values.dtype, eager=True).scatter(row, values)
        if at_form.null_count() or not at_form.gather(row).equals(values):
            return None
        out[name] = at_form
    return pl.DataFrame(out)


def _details_by_row(
    forms: pl.DataFrame, legs: pl.DataFrame, p: TaxParameters, rows: pl.DataFrame
) -> pl.DataFrame:
    """:func:`form_details` in the order of ``forms``, given :func:`form_rows`: integer group-bys,
    no join on form ids."""
    eligible = _eligible()
    per_form = (
        legs.select(
            "_form_row",
            "tax_year",
            "roth",
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_first"),
            eligible.alias("_eligible"),
            born_before_1936(p).alias("_born"),
            pl.when(eligible).then(pl.col("amount_cents")).alias("_eligible_cents"),
        )
        .group_by("_form_row")
        .agg(
            pl.col("tax_year", "roth", "_first").first(),
            pl.col("_eligible").all().alias("eligible_rollover"),
            pl.col("_born").any().fill_null(False).alias("born_before_1936"),
            pl.col("_eligible_cents").sum(),
        )
        .sort("_form_row")
    )
    payee = ["tax_year", "_plan", "_payee"]
    return pl.concat([per_form, rows.select("_plan", "_payee")], how="horizontal").select(
        "roth",
        legs.get_column("destination").gather(per_form.get_column("_first")).alias("destination"),
        "eligible_rollover",
        "born_before_1936",
        pl.col("_eligible_cents").sum().over(payee).alias("payee_eligible_rollover_cents"),
    )


#: The payer columns an IRS file carries once per payer (what ``payer_details_differ`` compares).
PAYER_DETAILS = ("payer_name", "payer_address", "payer_city", "payer_state", "payer_zip", "payer_phone")
#: What a payee's and a payer's details say about a form (:func:`party_facts`); the ``iris_`` ones
#: are computed in the tax years IRIS files only (false otherwise).
PARTY_FACTS = (
    "payee_name_unusable",
    "payee_address_missing",
    "payee_us_address_incomplete",
    "payer_name_unusable",
    "payer_details_differ",
    *(name for name, _, _ in unwritable_name_address()),
    "iris_payee_state",
    "iris_payer",
)
#: The payee columns :func:`party_facts` reads.
PAYEE_COLUMNS = ("tin_type", "first_name", "last_name", "address", "city", "state", "zip", "country")
#: What the IRIS writer would make of a form's own text (:func:`form_text_facts`).
FORM_TEXT_FACTS = ("iris_state_id", "iris_locality")


def _unusable(text: pl.Series) -> pl.Series:
    """True where ``text`` keeps no letter or digit once cleaned as the IRS files clean it
    (:func:`transforms.irs.shared.clean_text`: accents dropped, upper case, only A-Z 0-9 & -).
    Cleaning keeps every ASCII letter and digit (upper-cased), so text that has one is usable as it
    is: only the rest is cleaned."""
    text = text.cast(pl.String).fill_null("")
    return computed_where(
        ~text.str.contains(r"[A-Za-z0-9]"),
        text,
        lambda bare: ~clean_text(bare).str.contains(r"[A-Z0-9]"),
        filled(False),
    )


def mark_payer_conflicts(plans: pl.DataFrame) -> pl.DataFrame:
    """``plans`` with ``payer_details_differ``: true on every plan whose payer EIN other plans give
    with other payer details (:data:`PAYER_DETAILS`, as written). The IRS files carry a payer's
    name, address and phone once (one A record, one IssuerDetail), so such a payer cannot be filed
    until the plans agree. Over the whole plans table (plans of one EIN may be in different batches)."""
    return plans.with_columns(
        (pl.struct(*PAYER_DETAILS).n_unique().over("payer_tin") > 1).alias("payer_details_differ")
    )


def _iris_payer(plans: pl.DataFrame) -> pl.Series:
    """True where IRIS cannot take the plan's payer details (IssuerDetail): a name longer than two
    lines of 75, no street or a street longer than two lines of 35, a city with a digit or none, a
    state not on the schema's list, a phone of 1 to 9 or over 30 digits (the IRIS writer's
    ``payer_problems``)."""
    c = pl.col
    name_1, _ = name_lines(alpha_text(c("payer_name")))
    street_1, _ = street_lines(c("payer_address"))
    state = c("payer_state").cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    return plans.select(
        name_1.is_null()
        | street_1.fill_null("").eq("")
        | city_name(c("payer_city")).fill_null("").eq("")
        | phone_number(c("payer_phone")).is_null()
        | ~state.is_in(sorted(STATES))
    ).to_series()


def _plain_payee() -> pl.Expr:
    """A payee whose names, street and city are already as IRIS takes them (``PLAIN_*`` patterns of
    ``transforms.irs.shared``, within the schema's lengths): every name and address mask of
    ``unwritable_name_address`` but the country's is false on it (each normalisation gives the value
    back, upper-cased), so only the other payees need the costly masks."""
    c = pl.col

    def plain(column: str, pattern: str, width: int) -> pl.Expr:
        text = c(column).cast(pl.String).fill_null("")
        return text.str.contains(pattern) & (text.str.len_chars() <= width)

    return (
        plain("first_name", PLAIN_NAME, PERSON_NAME_LENGTH)
        & plain("last_name", PLAIN_NAME, PERSON_NAME_LENGTH)
        & plain("address", PLAIN_STREET, STREET_LENGTH)
        & plain("city", PLAIN_CITY, CITY_LENGTH)
    )


def _unwritable_payees(who: pl.DataFrame) -> pl.DataFrame:
    """``unwritable_name_address``'s masks over the payees ``who`` (in its order): the name and
    address masks evaluated on the payees that are not plain (:func:`_plain_payee`), the country's
    on those who live abroad (it is false on an address at home); false on the others."""
    masks = {name: mask.fill_null(True) for name, _, mask in unwritable_name_address()}
    order = list(masks)
    country = masks.pop("iris_country")

    names = computed_where(
        who.select(~_plain_payee()).to_series(),
        who,
        lambda odd: odd.select(mask.alias(name) for name, mask in masks.items()),
        filled(False, *masks),
    )
    abroad = computed_where(
        who.select(is_foreign_address(pl.col("country"))).to_series(),
        who,
        lambda foreign: foreign.select(country.alias("iris_country")),
        filled(False, "iris_country"),
    )
    return pl.concat([names, abroad], how="horizontal").select(order)


def _payee_facts(who: pl.DataFrame, iris: bool) -> pl.DataFrame:
    """The payee columns of :data:`PARTY_FACTS`, one row per payee of ``who``."""
    country = who.get_column("country").cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    domestic = country.is_in(DOMESTIC_COUNTRIES) | (country == "")
    state_ok = who.get_column("state").cast(pl.String).fill_null("").str.contains(r"^[A-Za-z]{2}$")
    zip_ok = who.select(digits_only(pl.col("zip")).str.contains(r"^(?:[0-9]{5}|[0-9]{9})$")).to_series()
    facts = pl.DataFrame(
        {
            "payee_name_unusable": _unusable(who.get_column("last_name")),
            "payee_address_missing": _unusable(who.get_column("address")) | _unusable(who.get_column("city")),
            "payee_us_address_incomplete": domestic & ~(state_ok & zip_ok),
        }
    )
    if not iris:
        return facts.with_columns(
            [pl.lit(False).alias(name) for name, _, _ in unwritable_name_address()]
            + [pl.lit(False).alias("iris_payee_state")]
        )
    state = who.get_column("state").cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    return facts.with_columns(
        _unwritable_payees(who).with_columns(iris_payee_state=domestic & ~state.is_in(sorted(STATES)))
    )


def _plan_facts(plans: pl.DataFrame, iris: bool) -> pl.DataFrame:
    """The payer columns of :data:`PARTY_FACTS`, one row per plan of ``plans`` (marked by
    :func:`mark_payer_conflicts`)."""
    return pl.DataFrame(
        {
            "payer_name_unusable": _unusable(plans.get_column("payer_name")),
            "payer_details_differ": plans.get_column("payer_details_differ"),
            "iris_payer": _iris_payer(plans) if iris else pl.repeat(False, plans.height, eager=True),
        }
    )


def _rows_on(forms: pl.DataFrame, table: pl.DataFrame, key: str, engine_rows: pl.Series | None) -> pl.Series:
    """For each form, the row of ``table`` that its ``key`` names: the first row with it
    (:func:`transforms.kernels.lookup.row_of`; null where there is none) — or ``engine_rows``, the
    engine's own rows of the same table (found the same way), when they hold the forms' keys."""
    if (
        engine_rows is not None
        and engine_rows.len() == forms.height
        and not engine_rows.null_count()
        and (engine_rows.len() == 0 or engine_rows.max() < table.height)
        and table.get_column(key).gather(engine_rows).equals(forms.get_column(key))
    ):
        return engine_rows
    return row_of(forms, table, [key])


def _per_row(
    rows: pl.Series, table: pl.DataFrame, facts: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """``facts`` of the rows of ``table`` that ``rows`` name, computed once per row named, in the
    order of ``rows`` (null where ``rows`` is)."""
    distinct = rows.drop_nulls().unique().sort()
    found = facts(table[distinct])
    if distinct.len() == 0:
        return found.clear(rows.len())
    at = pl.repeat(None, table.height, dtype=pl.UInt32, eager=True).scatter(
        distinct, pl.int_range(distinct.len(), dtype=pl.UInt32, eager=True)
    )
    return found.select(pl.all().gather(at.gather(rows)))


def party_facts(
    forms: pl.DataFrame,
    payees: pl.DataFrame,
    plans: pl.DataFrame,
    *,
    iris: bool = False,
    rows: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per form (in ``forms``' order), what the IRS files would make of its payee and payer:
    :data:`PARTY_FACTS` (``iris``: with the IRIS writer's conditions). ``plans`` marked by
    :func:`mark_payer_conflicts` (marked here when not: right when ``plans`` is every plan).
    ``rows``: the engine's rows of each form's payee and plan (``_payee``, ``_plan``:
    :func:`form_rows`), used where they name the forms' ids. Text is cleaned once per payee
    and per plan on the forms; a form without a payee or plan row is not fileable."""
    if "payer_details_differ" not in plans.columns:
        plans = mark_payer_conflicts(plans)
    payee_row = _rows_on(forms, payees, "payee_id", None if rows is None else rows.get_column("_payee"))
    plan_row = _rows_on(forms, plans, "plan_id", None if rows is None else rows.get_column("_plan"))
    return pl.concat(
        [
            _per_row(payee_row, payees.select(PAYEE_COLUMNS), lambda who: _payee_facts(who, iris)),
            _per_row(plan_row, plans, lambda on_forms: _plan_facts(on_forms, iris)),
        ],
        how="horizontal",
    ).select(pl.col(name).fill_null(True) for name in PARTY_FACTS)


def _refused(values: pl.Series, normalise: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """Where ``normalise`` (an IRS writer's normalisation of a text column) gives null on
    ``values``, worked out on the values given only: every normalisation gives an empty or missing
    value back as "" (most forms have no state number or locality)."""
    return computed_where(
        values.fill_null("").ne(""),
        values,
        lambda given: normalise(given).is_null(),
        filled(False),
    )


def form_text_facts(forms: pl.DataFrame) -> pl.DataFrame:
    """Per form, whether the IRIS writer would refuse its box 15 state number or its box 18
    locality as too long once normalised (:data:`FORM_TEXT_FACTS`): the writer's own
    normalisations (:func:`transforms.irs.shared.iris_state_id`, :func:`transforms.irs.shared.iris_locality`)."""
    return pl.DataFrame(
        {
            "iris_state_id": _refused(forms.get_column("state_payer_id").cast(pl.String), iris_state_id),
            "iris_locality": _refused(forms.get_column("locality").cast(pl.String), iris_locality),
        }
    )


def run_edit_checks(
    forms: pl.DataFrame,
    legs: pl.DataFrame,
    p: TaxParameters,
    parties: dict[str, pl.DataFrame],
    rows: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """edit_checks.parquet: one row per (form, failed check), with plan, severity and the IRIS rule.
    ``parties``: the ``payees`` and ``plans`` tables the forms come from (:func:`party_facts`);
    ``rows``: :func:`form_rows`, when the caller has them."""
    iris = p.tax_year > p.fire_last_tax_year
    rows = form_rows(forms, legs) if rows is None else rows
    facts = party_facts(forms, parties["payees"], parties["plans"], iris=iris, rows=rows)
    text = [form_text_facts(forms)] if iris else []
    if rows is None:
        frame = (
            pl.concat([forms, facts, *text], how="horizontal")
            .lazy()
            .join(
                form_details(legs.lazy(), p).drop("tax_year", "plan_id", "payee_id"), on="form_id", how="left"
            )
        )
    else:
        details = _details_by_row(forms, legs, p, rows)
        frame = pl.concat([forms, details, facts, *text], how="horizontal").lazy()
    checks = edit_checks(p)
    flags = frame.select(
        "plan_id",
        "form_id",
        "account_number",
        *[chk.failing.fill_null(False).alias(chk.name) for chk in checks],
    ).collect()
    flags = flags.filter(pl.any_horizontal(chk.name for chk in checks))  # the forms with a finding
    failed = [
        flags.filter(pl.col(chk.name)).select(
            "plan_id",
            "form_id",
            "account_number",
            pl.lit(chk.severity).alias("severity"),
            pl.lit(chk.name).alias("check"),
            pl.lit(chk.message).alias("message"),
            pl.lit(chk.reference).alias("reference"),
            pl.lit(chk.irs_rule, pl.String).alias("irs_rule"),
            pl.lit(order, pl.Int64).alias("_order"),
        )
        for order, chk in enumerate(checks)
    ]
    return pl.concat(failed).sort("plan_id", "form_id", "_order").drop("_order")


def filable(forms: pl.DataFrame, checks: pl.DataFrame) -> pl.DataFrame:
    """Forms that go into the IRS file: no blocking error and box 1 at the $10 threshold or above."""
    blocked = checks.filter((pl.col("severity") == "error") | (pl.col("check") == "under_filing_threshold"))
    return forms.join(blocked.select("form_id").unique(), on="form_id", how="anti")


def tieout_945(legs: pl.DataFrame) -> pl.DataFrame:
    """Form 945 tie-out: federal income tax withheld (box 4) per payer EIN and month of payment,
    ready to compare with the deposits reported on Form 945 (IRC §3405; Form 945 instructions)."""
    return (
        legs.lazy()
        .group_by("payer_tin", pl.col("payment_date").dt.truncate("1mo").alias("month"))
        .agg(
            pl.col("federal_withholding_cents").sum().alias("box4_cents"),
            pl.col("amount_cents").sum().alias("gross_cents"),
            pl.len().cast(pl.Int64).alias("disbursements"),
        )
        .sort("payer_tin", "month")
        .collect()
    )
