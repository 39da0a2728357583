"""What the FIRE (Publication 1220) and IRIS writers share: the filing frame they take, the payer,
the text rules, the checks of a filing, the order of the returns in a file.

* the filing frame: one row per return (``REQUIRED_COLUMNS``: the forms.parquet columns, the payer's
  and the payee's details, ``corrected``); :func:`validate_filing` / :func:`filing_problems` check it;
* the payer: its TIN's 9 digits however written (:func:`payer_digits`);
* text: :func:`alpha_text` (upper-case ASCII, A-Z 0-9 space & -), :func:`digits_only`,
  :func:`name_control`, :func:`is_foreign_address`;
* order: :func:`file_order` (payer TIN, original/G/C, account number), the order both writers use;
* CF/SF: the states of the Combined Federal/State Filing program (:func:`cfsf_state_codes`) and
  the returns coded for it (:func:`cfsf_state`, :func:`cfsf_code`: approved payers only);
* :class:`Transmitter` and :class:`FilingInputError`.

Nothing here knows a record layout or an XML element: FIRE (``transforms.irs.fire``) and IRIS
(``transforms.irs.iris``) each import from here, never from each other, so either can go without
touching the other.

Privacy: error messages name returns by ``form_id`` only, never by TIN or name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import polars as pl
import pyarrow as pa

from contracts.rules import TIN_PATTERN, tin_is_valid
from transforms.irs.countries import IRS_COUNTRY_CODE
from transforms.irs.country_names import country_name
from transforms.kernels.subset import computed_where
from transforms.law.params import TaxParameters

# ---------------------------------------------------------------------------------------------
# Combined Federal/State Filing (docs/reference/irs-filing-formats.md §12)
# ---------------------------------------------------------------------------------------------


def cfsf_state_codes(tax_year: int) -> dict[str, str]:
    """CF/SF states (USPS abbreviation → Publication 1220 numeric code) taking part in ``tax_year``:
    the dated parameter ``cfsf_state_codes`` (transforms/law/parameters.toml; from tax year 2025 the
    states of IRIS rule SHAREDIRFORM019_002)."""
    return dict(TaxParameters.for_year(tax_year).cfsf_state_codes)


def cfsf_state(tax_year: int, approved_payers: frozenset[str]) -> pl.Expr:
    """The box 15 state a return is coded for under the Combined Federal/State Filing Program, null
    when it is not: only for a payer approved for the program (``approved_payers``: 9-digit EINs,
    ``Transmitter.cfsf_approved_payers``; Publication 1220 Part A, IRIS rule S1H002) and a state on
    the tax year's list (:func:`cfsf_state_codes`; SHAREDIRFORM019_002). IRIS carries the state,
    FIRE its number (:func:`cfsf_code`)."""
    if not approved_payers:
        return pl.lit(None, pl.String)
    state = pl.col("state").cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    approved = digits_only(pl.col("payer_tin")).is_in(sorted(approved_payers))
    return pl.when(approved & state.is_in(sorted(cfsf_state_codes(tax_year)))).then(state)


def cfsf_code(tax_year: int, approved_payers: frozenset[str]) -> pl.Expr:
    """The Publication 1220 CF/SF code of a return (B and K positions 747-748): the number of
    :func:`cfsf_state`, null when the return is not coded."""
    codes = cfsf_state_codes(tax_year)
    return cfsf_state(tax_year, approved_payers).replace_strict(codes, default=None, return_dtype=pl.String)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------

MONEY_COLUMNS: tuple[str, ...] = (
    "box1_cents", "box2a_cents", "box3_cents", "box4_cents", "box5_cents", "box6_cents",
    "box8_cents", "box9b_cents", "box10_cents",
)  # fmt: skip
STATE_LOCAL_MONEY_COLUMNS: tuple[str, ...] = (
    "state_withholding_cents", "state_distribution_cents",
    "local_withholding_cents", "local_distribution_cents",
)  # fmt: skip

#: forms.parquet columns the writers read (docs/spec/outputs.md).
RETURN_FORM_COLUMNS: tuple[str, ...] = (
    "form_id", "tax_year", "payer_tin", "payee_tin", "account_number", *MONEY_COLUMNS,
    "taxable_not_determined", "total_distribution", "ira_sep_simple", "distribution_codes",
    "box9a_percent", "box11_year", "box13_date", "state", "state_payer_id",
    "state_withholding_cents", "state_distribution_cents", "locality",
    "local_withholding_cents", "local_distribution_cents",
)  # fmt: skip
RETURN_PAYER_COLUMNS: tuple[str, ...] = (
    "payer_name", "payer_address", "payer_city", "payer_state", "payer_zip", "payer_phone",
)  # fmt: skip
RETURN_PAYEE_COLUMNS: tuple[str, ...] = (
    "tin_type", "first_name", "last_name", "address", "city", "state_code", "zip", "country",
)  # fmt: skip
#: Every column ``write_pub1220`` and ``write_iris_xml`` need in ``filing``.
REQUIRED_COLUMNS: tuple[str, ...] = (
    *RETURN_FORM_COLUMNS,
    *RETURN_PAYER_COLUMNS,
    *RETURN_PAYEE_COLUMNS,
    "corrected",
)

#: Corrected Return Indicator values (docs/reference/irs-filing-formats.md §6, §13) in file order.
CORRECTION_ORDER: dict[str, int] = {"": 0, "G": 1, "C": 2}

#: Type of TIN (B position 11): 1 = EIN; 2 = SSN, ITIN or ATIN (docs/reference/irs-filing-formats.md §6).
TYPE_OF_TIN: dict[str, str] = {"ein": "1", "ssn": "2", "itin": "2", "atin": "2"}

#: Country codes treated as a U.S. address: the United States and the possessions that have a USPS
#: state abbreviation (PR, GU, VI, AS, MP); B position 287 stays blank for them.
DOMESTIC_COUNTRIES: tuple[str, ...] = ("US", "PR", "GU", "VI", "AS", "MP")

MAX_B_AMOUNT_CENTS = 10**12 - 1  # 12 positions


@dataclass(frozen=True)
class Transmitter:
    """The transmitter of a FIRE file (T record) or an IRIS transmission (manifest)."""

    tin: str
    tcc: str
    name: str
    company_name: str
    address: str
    city: str
    state: str
    zip: str
    contact_name: str
    contact_phone: str
    contact_email: str
    vendor_indicator: str = "I"
    #: Payer EINs (9 digits) approved for the Combined Federal/State Filing Program (prorata.toml
    #: ``[cfsf] approved_payers``): only their returns are coded for CF/SF (:func:`cfsf_state`).
    cfsf_approved_payers: frozenset[str] = frozenset()


class FilingInputError(ValueError):
    """The filing frame or the transmitter cannot be written as it is."""


# ---------------------------------------------------------------------------------------------
# Text rules (docs/reference/irs-filing-formats.md §3)
# ---------------------------------------------------------------------------------------------

#: Letters that have no Unicode decomposition to ASCII.
_TRANSLITERATE = {"Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ł": "L", "ł": "l"}
_TRANSLITERATE |= {"Đ": "D", "đ": "d", "Þ": "TH", "þ": "th", "ß": "SS"}


def alpha_text(expr: pl.Expr) -> pl.Expr:
    """Upper-case ASCII text with only A-Z, 0-9, space, hyphen and ampersand.

    Publication 1220: alphanumeric fields upper case; payee name lines without punctuation, the
    hyphen and the ampersand being the only special characters allowed (docs/reference/irs-filing-formats.md §3).
    Accents are dropped (NFKD), apostrophes, periods and brackets removed (O'NEIL → ONEIL,
    401(K) → 401K), any other character becomes a space; runs of spaces collapse. The same rule
    is applied to every text field so that one check covers the file.
    """
    return (
        ascii_fold(expr)
        .str.to_uppercase()
        .str.replace_all(r"['.’()]", "")
        .str.replace_all(r"[^A-Z0-9&\- ]", " ")
        .str.replace_all(r" {2,}", " ")
        .str.strip_chars(" ")
    )


#: Text on which :func:`alpha_text` only upper-cases: words of ASCII letters, digits, "&" and "-"
#: separated by single spaces (or nothing at all).
_PLAIN_TEXT = r"^(?:[A-Za-z0-9&\-]+(?: [A-Za-z0-9&\-]+)*)?$"


def clean_text(series: pl.Series) -> pl.Series:
    """:func:`alpha_text` of a Series, computed in full only for the values that need more than
    upper-casing (most names, cities and addresses need nothing else): same result, a fraction of
    the cost."""
    text = series.cast(pl.String).fill_null("")
    return computed_where(
        ~text.str.contains(_PLAIN_TEXT),
        text,
        lambda odd: pl.select(alpha_text(pl.lit(odd))).to_series(),
        lambda plain: plain.str.to_uppercase(),
    ).alias(series.name)


# ---------------------------------------------------------------------------------------------
# Names and addresses as the IRS takes them (IRIS schema types; Pub 1220 name lines). Each function
# normalises what can be normalised and gives null where the value cannot be made valid: the IRIS
# writer refuses such a form, and the pre-filing checks can call the same functions
# (:func:`unwritable_name_address`).
# ---------------------------------------------------------------------------------------------

#: Lengths of the IRIS schema types (IRS-IRefileTypes.xsd, TY2025 v1.2).
PERSON_NAME_LENGTH = 20  # PersonFirstNameType, PersonLastNameType
BUSINESS_NAME_LENGTH = 75  # BusinessNameLine1Type, BusinessNameLine2Type
STREET_LENGTH = 35  # StreetAddressType
CITY_LENGTH = 40  # CityType (ForeignAddressType/CityNm: 50)
FOREIGN_CITY_LENGTH = 50


def ascii_fold(expr: pl.Expr) -> pl.Expr:
    """Text without accents (NFKD, marks dropped; Ø → O, ß → SS ...), case kept."""
    return (
        expr.cast(pl.String)
        .fill_null("")
        .str.replace_many(_TRANSLITERATE)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
    )


def fit_words(text: pl.Expr, width: int, *, hyphens: bool = False) -> pl.Expr:
    """The longest start of ``text`` made of whole words that is at most ``width`` characters: a
    name or a street is cut at a word boundary, never inside a word (Pub 1220 B record: payee name
    line 1 ends with a full word). Words are separated by spaces (and hyphens, ``hyphens=True``:
    SMITH-JONES-WILLIAMS → SMITH-JONES). Null when even the first word is longer than ``width``."""
    separators = " -" if hyphens else " "
    head = text.str.slice(0, width + 1).str.replace(f"[{separators}][^{separators}]*$", "")
    return (
        pl.when(text.str.len_chars() <= width)
        .then(text)
        .when(head.str.len_chars() <= width)
        .then(head.str.strip_chars_end(separators))
        .otherwise(pl.lit(None, pl.String))
    )


def rest_after(text: pl.Expr, head: pl.Expr) -> pl.Expr:
    """What follows ``head`` (a start of ``text`` from :func:`fit_words`) in ``text``, trimmed."""
    return text.str.slice(head.str.len_chars()).str.strip_chars(" -")


def person_name(expr: pl.Expr) -> pl.Expr:
    """A first or last name as IRIS takes it (PersonFirstNameType / PersonLastNameType: letters,
    hyphens and single spaces, at most 20 characters): :func:`alpha_text`, digits and "&" dropped,
    cut at a word (or hyphen) boundary. "" when nothing is left; null when the first word is longer
    than 20 letters."""
    letters = alpha_text(expr).str.replace_all(r"[^A-Z\- ]", " ").str.replace_all(r" {2,}", " ")
    return fit_words(letters.str.strip_chars(" "), PERSON_NAME_LENGTH, hyphens=True)


def name_lines(text: pl.Expr, width: int = BUSINESS_NAME_LENGTH) -> tuple[pl.Expr, pl.Expr]:
    """A name (already :func:`alpha_text`) on two lines of at most ``width`` characters, the first
    ending with a full word (BusinessNameLine1Txt / 2Txt: 75; Pub 1220 payee name lines: 40). Line
    1 is null when the name does not fit the two lines whole."""
    line_1 = fit_words(text, width)
    line_2 = rest_after(text, line_1.fill_null(""))
    fits = line_1.is_not_null() & (line_2.str.len_chars() <= width)
    return pl.when(fits).then(line_1), line_2


def street_text(expr: pl.Expr) -> pl.Expr:
    """A street address in the characters IRIS takes (StreetAddressType: letters, digits, "-" and
    "/", single spaces, starting with a letter or digit): accents dropped, upper case, "&" → AND,
    apostrophes and periods dropped, any other character a space."""
    return (
        ascii_fold(expr)
        .str.to_uppercase()
        .str.replace_all(r"['.’]", "")
        .str.replace_all("&", " AND ", literal=True)
        .str.replace_all(r"[^A-Z0-9/\- ]", " ")
        .str.replace_all(r" {2,}", " ")
        .str.strip_chars(" ")
        .str.replace(r"^[/\- ]+", "")
    )


def street_lines(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """:func:`street_text` on AddressLine1Txt and AddressLine2Txt (35 characters each): a long street
    goes on into the second line at a word boundary. Line 1 is null when it does not fit both."""
    return name_lines(street_text(expr), STREET_LENGTH)


def city_name(expr: pl.Expr, width: int = CITY_LENGTH) -> pl.Expr:
    """A city as IRIS takes it (CityType: letters and single spaces, at most 40; foreign: 50):
    accents and periods dropped, hyphens, apostrophes and "&" as spaces (WINSTON-SALEM → WINSTON
    SALEM, O'FALLON → O FALLON). Null when it holds a digit (29 PALMS: no valid form without the
    USPS name) or is longer than ``width``."""
    city = (
        ascii_fold(expr)
        .str.to_uppercase()
        .str.replace_all(r"[.]", "")
        .str.replace_all(r"[^A-Z0-9 ]", " ")
        .str.replace_all(r" {2,}", " ")
        .str.strip_chars(" ")
    )
    return pl.when(~city.str.contains(r"[0-9]") & (city.str.len_chars() <= width)).then(city)


def iris_text(expr: pl.Expr, width: int) -> pl.Expr:
    """Free text as IRIS takes it (TextType: visible characters separated by single spaces; at most
    ``width``): accents dropped, any character but printable ASCII a space, case kept. Null when
    longer than ``width``."""
    text = (
        ascii_fold(expr)
        .str.replace_all(r"[^\x21-\x7E]", " ")
        .str.replace_all(r" {2,}", " ")
        .str.strip_chars(" ")
    )
    return pl.when(text.str.len_chars() <= width).then(text)


def iris_country(country: pl.Expr) -> pl.Expr:
    """The IRS's country code (IRIS CountryType) of an ISO 3166 alpha-2 code (the extract's
    ``country``): ``transforms.irs.countries.IRS_COUNTRY_CODE``; null when the IRS list has none."""
    code = country.cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    return code.replace_strict(IRS_COUNTRY_CODE, default=None, return_dtype=pl.String)


#: ISO 3166 alpha-2 code -> the IRS's name of the country (:func:`transforms.irs.country_names.country_name`).
COUNTRY_NAME_BY_ISO: dict[str, str] = {iso: country_name(irs) for iso, irs in IRS_COUNTRY_CODE.items()}


def country_name_of(country: pl.Expr) -> pl.Expr:
    """The name of the country of an ISO 3166 alpha-2 code (the extract's ``country``), as the IRS's
    schema package names it ("GB" -> "United Kingdom"; "DE" -> "Germany"); null when the IRS's list
    has none. Publication 1220 ends a foreign address with the country's name, not a code."""
    code = country.cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    return code.replace_strict(COUNTRY_NAME_BY_ISO, default=None, return_dtype=pl.String)


def phone_number(expr: pl.Expr) -> pl.Expr:
    """A telephone number as IRIS takes it (ContactPhoneNumberType: 10 to 30 digits): its digits;
    "" when there are none, null when there are fewer than 10 or more than 30."""
    digits = digits_only(expr)
    length = digits.str.len_chars()
    return pl.when((length == 0) | length.is_between(10, 30)).then(digits)


def normalised(
    values: pl.Series, fn: Callable[[pl.Expr], pl.Expr], plain: str, width: int, *, upper: bool = True
) -> pl.Series:
    """``fn`` (one of the functions above) over ``values``, computed in full only on the values that
    are not already plain: on a value that matches ``plain`` and is at most ``width`` long, ``fn``
    gives the value itself (upper-cased, ``upper``) — most names, cities and streets — so the same
    result costs a fraction (as :func:`clean_text` does for :func:`alpha_text`). ``fn`` works value
    by value: it is computed once per distinct value of the rest (an empty state id or locality,
    the same on most returns, is one value)."""
    text = values.cast(pl.String).fill_null("")
    simple = text.str.contains(plain) & (text.str.len_chars() <= width)
    out = text.str.to_uppercase() if upper else text
    if simple.all():
        return out.alias(values.name)
    rest = text.filter(~simple).unique()
    done = pl.select(fn(pl.lit(rest))).to_series()
    # a value is plain or not whatever its row: the plain values are never among ``rest``
    return text.replace_strict(rest, done, default=out, return_dtype=pl.String).alias(values.name)


#: Values the functions above leave as they are, but upper-cased (see :func:`normalised`).
PLAIN_NAME = r"^[A-Za-z]+(?:[ -][A-Za-z]+)*$"
PLAIN_STREET = r"^[A-Za-z0-9]+(?: [A-Za-z0-9/\-]+)*$"
PLAIN_CITY = r"^[A-Za-z]+(?: [A-Za-z]+)*$"
PLAIN_TEXT = r"^[\x21-\x7E]+(?: [\x21-\x7E]+)*$"

#: The longest box 15 state number and box 18 locality IRIS takes (``StateIdNum``: TextType of 25;
#: ``LocalityNm``: 20).
STATE_ID_LENGTH, LOCALITY_LENGTH = 25, 20


def iris_state_id(values: pl.Series) -> pl.Series:
    """Box 15's payer state number as the IRIS writer writes it (null: IRIS cannot take it)."""
    return normalised(
        values, lambda e: iris_text(e, STATE_ID_LENGTH), PLAIN_TEXT, STATE_ID_LENGTH, upper=False
    )


def iris_locality(values: pl.Series) -> pl.Series:
    """Box 18's locality as the IRIS writer writes it, cleaned first (null: IRIS cannot take it)."""
    return normalised(
        clean_text(values), lambda e: iris_text(e, LOCALITY_LENGTH), PLAIN_TEXT, LOCALITY_LENGTH, upper=False
    )


def unwritable_name_address() -> list[tuple[str, str, pl.Expr]]:
    """The forms whose payee name or address IRIS cannot take even after normalisation, as
    (rule, message, mask) over the filing frame's payee columns (``RETURN_PAYEE_COLUMNS``): what the IRIS
    writer refuses, for the pre-filing checks to report on each form (IRIS schema types of
    IRS-IRefileTypes.xsd, TY2025 v1.2)."""
    entity = pl.col("tin_type").cast(pl.String).fill_null("").str.to_lowercase() == "ein"
    foreign = is_foreign_address(pl.col("country"))
    first, last = person_name(pl.col("first_name")), person_name(pl.col("last_name"))
    business, _ = name_lines(
        pl.concat_str(
            alpha_text(pl.col("last_name")), alpha_text(pl.col("first_name")), separator=" "
        ).str.strip_chars(" ")
    )
    street, _ = street_lines(pl.col("address"))
    city = (
        pl.when(foreign)
        .then(city_name(pl.col("city"), FOREIGN_CITY_LENGTH))
        .otherwise(city_name(pl.col("city")))
    )
    return [
        (
            "iris_person_name",
            "payee first or last name empty, or a word of it longer than 20 letters (IRIS PersonName)",
            ~entity & (first.fill_null("").eq("") | last.fill_null("").eq("")),
        ),
        (
            "iris_business_name",
            "payee entity name longer than two lines of 75 (IRIS BusinessName)",
            entity & business.is_null(),
        ),
        (
            "iris_street",
            "payee street empty or longer than two lines of 35 (IRIS AddressLine1Txt/2Txt)",
            street.fill_null("").eq(""),
        ),
        (
            "iris_city",
            "payee city empty, with a digit, or too long (IRIS CityNm: letters only)",
            ~foreign & city.fill_null("").eq("") | foreign & city.is_null(),
        ),
        (
            "iris_country",
            "payee country not on the IRS's country list (IRIS CountryCd)",
            foreign & iris_country(pl.col("country")).is_null(),
        ),
    ]


def digits_only(expr: pl.Expr) -> pl.Expr:
    """The digits of a TIN, ZIP code or telephone number (hyphens, spaces and brackets dropped)."""
    return expr.cast(pl.String).fill_null("").str.replace_all(r"[^0-9]", "")


def payer_digits(filing: pl.DataFrame) -> pl.Series:
    """:func:`digits_only` of every return's ``payer_tin``: the payer, however its TIN is written.

    The extract's contract takes 9 digits (``docs/spec/extract.md``, plans.payer_tin), but the
    writers take any frame: "12-3456789" and "123456789" are one payer (one A record, one
    IRSubmission1Grp), and the FIRE and IRIS records carry the digits (A positions 12-20). Worked
    out once per TIN as written (a few payers, millions of returns), not once per return.
    """
    raw = filing.get_column("payer_tin").cast(pl.String)
    tins = raw.unique().to_frame("raw").with_columns(digits_only(pl.col("raw")).alias("digits"))
    if tins.select(pl.col("raw").eq_missing(pl.col("digits")).all()).item():
        return raw
    return (
        raw.to_frame("raw")
        .join(tins, on="raw", how="left", nulls_equal=True, maintain_order="left")
        .get_column("digits")
        .alias("payer_tin")
    )


#: Words of an entity's name after which the IRS's name-control rules need a person's surname the
#: extract does not give (an estate's decedent, a trust's grantor or beneficiary): the name control
#: is then left blank (see :func:`name_control`).
NAME_CONTROL_NEEDS_A_PERSON = ("ESTATE", "ESTATES", "TRUST", "TRUSTS", "TRUSTEE", "TRUSTEES", "FBO")


def name_control(
    surname: pl.Expr, is_entity: pl.Expr, *, clean_first: bool = True, entities: bool = True
) -> pl.Expr:
    """Payee Name Control, B positions 7-10: the first four characters of the surname.

    docs/reference/irs-filing-formats.md §6 (Pub 1220 B record 7-10): "if determinable, the first 4 characters of
    the surname of the person whose TIN is in 12-20; shorter surnames left-justified,
    blank-filled; otherwise blanks". Blanks and punctuation are skipped (VAN DYKE → VAND, O'NEIL →
    ONEI); the hyphen is kept. For an entity (EIN) the first four significant characters of its
    name, the ampersand kept and a leading "THE" dropped when more than one word follows. Estates
    and trusts are the exception: the IRS's rules take an estate's name control from the
    decedent's surname ("ESTATE OF JOHN SMITH" → SMIT) and a trust's from the individual the trust
    is named for, or from the trust's own name depending on how it is named and how its EIN was
    obtained (IRS name-control rules: Publication 1586, ch. IX; Publication 4164) — facts the
    extract's one name field does not give. Such a name (a word of
    :data:`NAME_CONTROL_NEEDS_A_PERSON`) gets a blank name control, which Publication 1220 allows
    when the name control cannot be determined ("ESTA" for every estate was wrong).
    ``clean_first=False`` when ``surname`` is already :func:`alpha_text`; ``entities=False`` when
    ``is_entity`` is true in no row (the entity rule is then not built).
    """
    cleaned = alpha_text(surname) if clean_first else surname
    person = cleaned.str.replace_all(r"[^A-Z0-9-]", "")
    if entities:
        entity_name = (
            pl.when(cleaned.str.contains(r"^THE \S+ \S")).then(cleaned.str.slice(4)).otherwise(cleaned)
        )
        needs_a_person = cleaned.str.contains(rf"\b(?:{'|'.join(NAME_CONTROL_NEEDS_A_PERSON)})\b")
        entity = (
            pl.when(needs_a_person)
            .then(pl.lit(""))
            .otherwise(entity_name.str.replace_all(r"[^A-Z0-9&-]", ""))
        )
        person = pl.when(is_entity).then(entity).otherwise(person)
    return person.str.strip_chars_start("-&").str.slice(0, 4)


def is_foreign_address(country: pl.Expr) -> pl.Expr:
    """True when the payee address is outside the United States (B position 287)."""
    code = country.cast(pl.String).fill_null("").str.strip_chars().str.to_uppercase()
    return ~(code.is_in(DOMESTIC_COUNTRIES) | (code == ""))


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


#: Returns named in a problem's message.
EXAMPLES = 5


class Problem(NamedTuple):
    """One reason a filing cannot be written: the check's place in :func:`validate_filing`'s order,
    its message, the first returns concerned (form ids, file input order; ``None``: the message
    names none) and how many returns it concerns."""

    rank: int
    message: str
    ids: list[str] | None
    count: int

    def text(self) -> str:
        if self.ids is None:
            return self.message
        more = self.count - len(self.ids)
        return f"{self.message}: form_id " + ", ".join(self.ids) + (f" (+{more} more)" if more > 0 else "")


def problem(rank: int, message: str, frame: pl.DataFrame, mask: pl.Expr | pl.Series) -> Problem:
    found = frame.filter(mask)
    return Problem(
        rank, message, found.get_column("form_id").cast(pl.String).head(EXAMPLES).to_list(), found.height
    )


def merge_problems(found: list[Problem], more: list[Problem]) -> list[Problem]:
    """The problems of two consecutive parts of a filing (``found`` before ``more`` in file input
    order) as :func:`filing_problems` finds them for the two together, when every check involving
    more than one return stays within one payer and no payer is split between the parts."""
    merged = {p.rank: p for p in found}
    for p in more:
        if p.rank in merged:
            first = merged[p.rank]
            ids = None if first.ids is None else (first.ids + (p.ids or []))[:EXAMPLES]
            merged[p.rank] = first._replace(ids=ids, count=first.count + p.count)
        else:
            merged[p.rank] = p
    return [merged[rank] for rank in sorted(merged)]


def problems_error(problems: list[Problem]) -> FilingInputError:
    return FilingInputError("cannot write the filing: " + "; ".join(p.text() for p in problems))


class _Distinct(NamedTuple):
    """A row check that depends only on ``columns``: evaluated once per distinct combination of
    their values (payer details, states: a few values, millions of returns), then mapped back."""

    mask: pl.Expr
    columns: tuple[str, ...]


def _distinct_mask(filing: pl.DataFrame, check: _Distinct) -> pl.Series:
    """The rows of ``filing`` where ``check.mask`` holds or is null (as ``mask.fill_null(True)``)."""
    keys = filing.select(check.columns)
    bad = keys.lazy().unique().filter(check.mask.fill_null(True)).collect(engine="streaming")
    if len(check.columns) == 1:
        (name,) = check.columns
        return keys.select(pl.col(name).is_in(bad[name].implode(), nulls_equal=True)).to_series()
    return keys.join(
        bad.with_columns(pl.lit(True).alias("_bad")),
        on=list(check.columns),
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )["_bad"].fill_null(False)


class _Plain(NamedTuple):
    """A row check with a cheap shortcut: on the rows where ``plain`` holds the check is ``result``
    (when every row is plain, ``mask`` is not evaluated at all)."""

    mask: pl.Expr
    plain: pl.Expr
    result: pl.Expr


def _plain_mask(filing: pl.DataFrame, check: _Plain) -> pl.Series:
    """The rows of ``filing`` where ``check.mask`` holds or is null (as ``mask.fill_null(True)``)."""
    if filing.select(check.plain.fill_null(False).all()).item():
        return filing.with_columns(check.result.fill_null(True).alias("_result"))["_result"]
    return filing.select(
        pl.when(check.plain.fill_null(False)).then(check.result).otherwise(check.mask).fill_null(True)
    ).to_series()


def validate_filing(filing: pl.DataFrame, tax_year: int) -> None:
    """Raise :class:`FilingInputError` when ``filing`` cannot be written; returns are named by form_id."""
    check_columns(filing.columns)
    if filing.height == 0:
        raise FilingInputError("filing frame has no returns")
    problems = filing_problems(filing, tax_year)
    if problems:
        raise problems_error(problems)


def check_columns(columns: list[str]) -> None:
    """Raise :class:`FilingInputError` when a column of ``REQUIRED_COLUMNS`` is missing."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FilingInputError(f"filing frame lacks columns: {', '.join(missing)}")


def filing_problems(filing: pl.DataFrame, tax_year: int) -> list[Problem]:
    """What :func:`validate_filing` finds wrong in ``filing`` (which has every required column);
    checks involving several returns stay within one payer TIN (see :func:`merge_problems`), a payer
    being its TIN's digits however written (:func:`payer_digits`), as the writers group returns."""
    payer_tin = digits_only(pl.col("payer_tin"))
    payee_tin = digits_only(pl.col("payee_tin"))
    amounts_bad = pl.any_horizontal(
        [pl.col(c).is_null() | (pl.col(c) < 0) | (pl.col(c) > MAX_B_AMOUNT_CENTS) for c in MONEY_COLUMNS]
    )
    state_local_bad = pl.any_horizontal(
        [
            (pl.col(c).fill_null(0) < 0) | (pl.col(c).fill_null(0) > MAX_B_AMOUNT_CENTS)
            for c in STATE_LOCAL_MONEY_COLUMNS
        ]
    )
    foreign = is_foreign_address(pl.col("country"))
    account = pl.col("account_number").cast(pl.String).fill_null("")
    checks: list[tuple[pl.Expr | _Distinct | _Plain, str]] = [
        (pl.col("form_id").is_null(), "form_id missing"),
        (pl.col("tax_year") != tax_year, f"tax_year differs from {tax_year} (one file, one tax year)"),
        (
            _Distinct(~tin_is_valid(payer_tin), ("payer_tin",)),
            "payer TIN not 9 valid digits",
        ),
        (
            _Plain(
                # blank: no TIN (Pub 1220 allows blanks); anything else must give 9 ASCII digits
                (pl.col("payee_tin").cast(pl.String).fill_null("").str.strip_chars() != "")
                & ~tin_is_valid(payee_tin),
                # 9 ASCII digits: digits_only keeps them as they are.
                pl.col("payee_tin").cast(pl.String).str.contains(TIN_PATTERN),
                ~tin_is_valid(pl.col("payee_tin").cast(pl.String)),
            ),
            "payee TIN not 9 valid digits",
        ),
        (
            ~pl.col("tin_type").cast(pl.String).fill_null("").str.to_lowercase().is_in(list(TYPE_OF_TIN)),
            "tin_type not one of ssn, itin, atin, ein",
        ),
        (
            (account == "") | (account.str.len_chars() > 20) | ~account.str.contains(r"^[\x20-\x7E]*$"),
            "account_number empty, longer than 20 characters or not printable ASCII",
        ),
        (amounts_bad, "box amount missing, negative or over 12 digits"),
        (state_local_bad, "state or local amount negative or over 12 digits"),
        (
            ~pl.col("distribution_codes").cast(pl.String).fill_null("").str.contains(r"^[0-9A-Za-z]{1,2}$"),
            "distribution_codes not one or two codes",
        ),
        (
            ~pl.col("corrected").cast(pl.String).fill_null("").is_in(list(CORRECTION_ORDER)),
            'corrected not "", "G" or "C"',
        ),
        (
            pl.col("box9a_percent").is_not_null()
            & ((pl.col("box9a_percent") < 0) | (pl.col("box9a_percent") > 100)),
            "box9a_percent outside 0-100",
        ),
        (
            pl.col("box11_year").is_not_null()
            & ((pl.col("box11_year") < 1000) | (pl.col("box11_year") > 9999)),
            "box11_year not a 4-digit year",
        ),
        (
            _Plain(
                ~foreign & ~digits_only(pl.col("zip")).str.contains(r"^([0-9]{5}|[0-9]{9})$"),
                # 5 or 9 ASCII digits (a hyphen after the fifth): right whatever the country.
                pl.col("zip").cast(pl.String).str.contains(r"^[0-9]{5}(?:-?[0-9]{4})?$"),
                pl.lit(False),
            ),
            "U.S. payee ZIP code not 5 or 9 digits",
        ),
        (
            _Plain(
                ~foreign & ~pl.col("state_code").cast(pl.String).fill_null("").str.contains(r"^[A-Za-z]{2}$"),
                pl.col("state_code").cast(pl.String).str.contains(r"^[A-Za-z]{2}$"),
                pl.lit(False),
            ),
            "U.S. payee state_code not a 2-letter abbreviation",
        ),
        (
            _Distinct(
                ~pl.col("payer_state").cast(pl.String).fill_null("").str.contains(r"^[A-Za-z]{2}$")
                | ~digits_only(pl.col("payer_zip")).str.contains(r"^([0-9]{5}|[0-9]{9})$"),
                ("payer_state", "payer_zip"),
            ),
            "payer state not a 2-letter abbreviation or payer ZIP code not 5 or 9 digits",
        ),
        (~pl.col("last_name").str.contains(r"\w"), "payee last_name (or entity name) empty"),
        (_Distinct(~pl.col("payer_name").str.contains(r"\w"), ("payer_name",)), "payer_name empty"),
    ]
    # The streaming engine goes through the returns in morsels: no column of intermediate text
    # for all of them at once.
    masks = (
        filing.lazy()
        .select(
            *(
                mask.fill_null(True).alias(str(i))
                for i, (mask, _) in enumerate(checks)
                if isinstance(mask, pl.Expr)
            )
        )
        .collect(engine="streaming")
    ).with_columns(
        (_distinct_mask(filing, mask) if isinstance(mask, _Distinct) else _plain_mask(filing, mask)).alias(
            str(i)
        )
        for i, (mask, _) in enumerate(checks)
        if not isinstance(mask, pl.Expr)
    )
    problems = [
        problem(i, message, filing, masks[str(i)])
        for i, (_, message) in enumerate(checks)
        if masks[str(i)].any()
    ]
    # A payer is its TIN's digits, however the TIN is written (as the writers group returns).
    by_payer = filing.with_columns(payer_digits(filing).alias("_payer"))
    keyed = {"acct": account.str.to_uppercase(), "corr": pl.col("corrected").fill_null("")}
    dup_mask = pl.struct("_payer", "corr", "acct").is_duplicated()
    # Equal keys have equal hashes: only returns whose hash repeats can repeat a key (a sort of
    # 8-byte hashes: less memory and time than a hash table of the keys).
    hashes = (
        by_payer.lazy()
        .select(pl.struct(pl.col("_payer"), **keyed).hash().alias("hash"))
        .collect(engine="streaming")["hash"]
    )
    ordered = hashes.sort()
    repeated = ordered.filter((ordered == ordered.shift(1)).fill_null(False))
    if repeated.len() and (
        by_payer.filter(hashes.is_in(repeated.implode())).with_columns(**keyed).select(dup_mask.any()).item()
    ):
        dup = by_payer.with_columns(**keyed)
        message = "account_number not unique within a payer and correction kind"
        problems.append(problem(len(checks), message, dup, dup_mask))
    payer_details = (
        by_payer.lazy().select("_payer", *RETURN_PAYER_COLUMNS).unique().collect(engine="streaming")
    )
    if payer_details["_payer"].is_duplicated().any():
        message = "payer details (name, address, phone) differ between returns of one payer"
        problems.append(Problem(len(checks) + 1, message, None, 1))
    return problems


def correction_rank() -> pl.Expr:
    """``corrected`` as its place in a file: original 0, "G" 1, "C" 2 (``CORRECTION_ORDER``)."""
    return (
        pl.col("corrected")
        .cast(pl.String)
        .fill_null("")
        .replace_strict(CORRECTION_ORDER, return_dtype=pl.Int8)
    )


def account_key() -> pl.Expr:
    """The account number as the files carry it and sort by it: trimmed, upper case."""
    return pl.col("account_number").cast(pl.String).str.strip_chars().str.to_uppercase()


def file_order(filing: pl.DataFrame) -> pl.Series:
    """Row numbers of ``filing`` in file order: payer TIN, original/G/C, account number.

    The three keys as one text (the TIN is 9 ASCII digits, the rank one digit: the same order),
    not sorted again when the returns come in that order already (as ``flows.irs.files`` sorts them).
    """
    tin = digits_only(pl.col("payer_tin"))
    keys = filing.lazy().select(
        tin.alias("tin"), pl.concat_str(tin, correction_rank().cast(pl.String), account_key()).alias("key")
    )
    if (
        not keys.select((pl.col("tin").str.len_bytes() == 9).all()).collect(engine="streaming").item()
    ):  # pragma: no cover - validate_filing wants 9 digits (Unicode digits are longer)
        return filing.select(
            pl.arg_sort_by(tin, correction_rank(), account_key(), maintain_order=True)
        ).to_series()
    key = keys.select("key").collect(engine="streaming").to_series()
    if key.is_sorted():
        return pl.int_range(0, filing.height, dtype=pl.get_index_type(), eager=True)
    return pl.DataFrame(key).select(pl.arg_sort_by("key", maintain_order=True)).to_series()


#: Above this many runs per string, :func:`string_pieces` copies instead (a piece per few strings).
_MAX_PIECES_SHARE = 100


def string_pieces(lines: pl.Series) -> list[pa.Buffer]:
    """The strings of ``lines`` (no nulls) back to back as UTF-8, in pieces, without copying them:
    slices of the data buffers of the Arrow string-view array polars holds them in, one per run of
    strings stored one after the other (a string rendered by polars is appended to its buffer, so
    a chunk's strings are a few runs). Strings of 12 bytes or fewer live in their views, not in a
    buffer: such a series, or one whose strings are scattered, is copied (:func:`string_buffer`)."""
    if lines.len() == 0:
        return []
    array = lines.rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
    if array.null_count or not pa.types.is_string_view(array.type):
        return [string_buffer(lines)]
    import pyarrow.compute as pc

    words = pa.Array.from_buffers(
        pa.int32(), 4 * len(array), [None, array.buffers()[1]], offset=4 * array.offset
    )
    views = pa.FixedSizeListArray.from_arrays(words, 4)  # length, prefix, buffer, offset
    length, buffer, offset = (pc.list_element(views, k) for k in (0, 2, 3))
    if pc.min(length).as_py() <= 12:  # inline strings: not in a data buffer
        return [string_buffer(lines)]
    end = pc.add(offset, length)
    breaks = pc.or_(pc.not_equal(buffer[1:], buffer[:-1]), pc.not_equal(offset[1:], end[:-1]))
    starts = [0, *(i + 1 for i in pc.indices_nonzero(breaks).to_pylist())]
    if len(starts) * _MAX_PIECES_SHARE > len(array) and len(starts) > 16:
        return [string_buffer(lines)]
    data = array.buffers()[2:]
    return [
        data[buffer[first].as_py()].slice(offset[first].as_py(), end[last].as_py() - offset[first].as_py())
        for first, last in zip(starts, [*(i - 1 for i in starts[1:]), len(array) - 1], strict=True)
    ]


def string_buffer(lines: pl.Series) -> pa.Buffer:
    """The strings of ``lines`` (no nulls) back to back as UTF-8, without copying them again: the
    data buffer of the Arrow large-string array polars hands over."""
    array = lines.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if array.null_count or not pa.types.is_large_string(array.type):
        raise AssertionError("lines must be non-null large strings")  # pragma: no cover - internal
    if len(array) == 0:
        return pa.py_buffer(b"")
    _, offsets, data = array.buffers()
    bounds = pa.Array.from_buffers(pa.int64(), len(array) + 1, [None, offsets], offset=array.offset)
    start, end = bounds[0].as_py(), bounds[-1].as_py()
    return data.slice(start, end - start)
