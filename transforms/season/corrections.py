"""Corrected Forms 1099-R: the returns that changed since they were filed (pure polars, no I/O).

IRS rules (General Instructions for Certain Information Returns, "Error Type 1/2"; Publication 1220
B record position 6; docs/reference/irs-filing-formats.md §13):

* **Type 1** — a wrong amount, code or checkbox, a wrong address, or a return that should not have
  been filed: one B record coded ``"G"`` with all the correct information and the **same account
  number as the original** (a return that should not have been filed: ``"G"`` with every amount zero).
* **Type 2** — a wrong payee TIN or name: transaction 1 is the return **exactly as filed** with every
  amount zero, coded ``"G"``; transaction 2 is the complete correct return coded ``"C"``.

Lineage. Every filed return belongs to a *lineage*, named by the account number of its original
(``lineage_account``, with the payer TIN). A form's id and account number derive from its key,
which includes the box 7 codes (transforms/engine/forms.py), so a code fix gives the form a new id: the
new form is paired with the filed lineage it replaces, and the correction keeps the original
account number (Pub 1220 B 21-40: corrections are matched on it). Pairing rule, first match wins:

1. **same form**: the current form's ``form_id`` is the one the lineage last filed;
2. **re-keyed**: the lineage last filed the id the current form's key gives in the other version
   of the form key (transforms/engine/forms.py: version 1 had no ``participant_id``; a payee paid from
   several accounts now has one form per account, with ids from the version-2 key): a return
   filed before the payee's forms were split by account is corrected, not filed again. When the
   lineage records its participant (filings since version 2), only that account's form; for a
   lineage filed by version 1 (no participant recorded), the account's form whose federal values
   equal the filed return's, else the first by ``participant_id``; one form per lineage;
3. **same key but the codes**: (tax_year, plan_id, participant_id, payee_id, Roth or not,
   destination, state), when exactly one unmatched filed lineage and one unmatched current form
   share it — without ``participant_id`` for a lineage filed by version 1;
4. **same key but codes and state**: the same without the state, 1:1 again;
5. **same account but destination**: (tax_year, plan_id, participant_id, payee_id, Roth or not),
   1:1 again — a payment reported as cash that was a direct rollover (or the reverse) is a wrong
   code and wrong amounts on the return filed, an Error Type 1 corrected under its account number,
   not a return that should not have been filed (General Instructions for Certain Information
   Returns, "Error Type 1").

Ambiguous cases (one filed form split into two current forms by codes, two merged into one,
several candidates on either side) are not guessed: the filed lineages left over are voided (Type 1
with zero amounts) and the current forms left over are **late originals** under their own account
numbers, filed apart from the corrections. A current form that is held back by a blocking edit
check (or is under the $10 filing threshold) is not filed: a lineage paired with a held form is left
as filed and reported as held; a filed lineage without any current form is voided.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import polars_hash  # noqa: F401  (registers the .chash expression namespace)

from transforms.engine.forms import FORM_KEY, form_id, form_key
from transforms.irs.shared import (
    MONEY_COLUMNS,
    RETURN_FORM_COLUMNS,
    RETURN_PAYEE_COLUMNS,
    RETURN_PAYER_COLUMNS,
    STATE_LOCAL_MONEY_COLUMNS,
    TYPE_OF_TIN,
    ascii_fold,
)

#: Columns of a return as the writers take it (transforms/irs/shared.REQUIRED_COLUMNS, plus the
#: plan and payee it belongs to).
RETURN_COLUMNS: tuple[str, ...] = (
    *RETURN_FORM_COLUMNS,
    "plan_id",
    "payee_id",
    *RETURN_PAYER_COLUMNS,
    *RETURN_PAYEE_COLUMNS,
)
#: The pairing key of rule 3 (docs/spec/outputs.md's form key without the box 7 codes).
PAIR_KEY: tuple[str, ...] = tuple(c for c in FORM_KEY if c != "distribution_codes")
#: The same for a lineage filed by version 1 of the forms table, which recorded no participant.
PAIR_KEY_V1: tuple[str, ...] = tuple(c for c in PAIR_KEY if c != "participant_id")
#: The pairing key of rule 5: the payee's money of one kind (Roth or not) from one account — the
#: form key without the destination, the codes and the state.
ACCOUNT_KEY: tuple[str, ...] = tuple(c for c in PAIR_KEY if c not in ("destination", "state"))
#: The current form's columns a filing records besides the return (transforms/engine/forms.py: the
#: account of the form, from version 2 of the forms table on).
FORM_DETAIL_COLUMNS: tuple[str, ...] = ("roth", "destination", "participant_id")
#: A difference here is a Type 2 error: the payee's TIN or name (and the kind of TIN, below).
IDENTITY_COLUMNS: tuple[str, ...] = ("payee_tin", "first_name", "last_name")
#: A difference here is a Type 1 error: federal amounts, codes, check boxes, the payee's address.
FEDERAL_VALUE_COLUMNS: tuple[str, ...] = (
    *MONEY_COLUMNS,
    "taxable_not_determined",
    "total_distribution",
    "ira_sep_simple",
    "distribution_codes",
    "box9a_percent",
    "box11_year",
    "box13_date",
    "address",
    "city",
    "state_code",
    "zip",
    "country",
)
#: Boxes 14-19: a change here alone is not sent to the IRS (General Instructions for Certain
#: Information Returns, corrected returns: "do not send corrected returns to the IRS if you are
#: correcting state or local information only"); it is reported for the state.
STATE_LOCAL_COLUMNS: tuple[str, ...] = ("state", "state_payer_id", *STATE_LOCAL_MONEY_COLUMNS, "locality")
VALUE_COLUMNS: tuple[str, ...] = (*FEDERAL_VALUE_COLUMNS, *STATE_LOCAL_COLUMNS)
ZEROED: tuple[str, ...] = (*MONEY_COLUMNS, *STATE_LOCAL_MONEY_COLUMNS)
LINEAGE = ["payer_tin", "lineage_account"]
#: A filed return whose payer TIN is now another: no corrected return corrects the payer's TIN or
#: name — the payer writes to the IRS (General Instructions for Certain Information Returns,
#: "Reporting incorrect payer name and/or TIN"); the return stays in its lineage, under the TIN the
#: IRS holds, and is listed so that the letter is not forgotten.
PAYER_TIN_REASON = "payer TIN differs from the return as filed: no corrected return is filed for it"


@dataclass(frozen=True)
class CorrectionPlan:
    """``records``: the correction B records in file order (RETURN_COLUMNS, ``corrected`` G or C,
    ``account_number`` = the lineage's), with ``lineage_account``, ``role`` (``type1``, ``void``,
    ``type2_void``, ``type2_correct``), ``state_row`` (the record is the lineage's new state),
    ``voided``, ``changed`` (names of the columns that differ) and ``match`` (pairing rule);
    ``late``: current forms never filed (originals, ``corrected`` empty); ``held``: form_id and
    why it is not filed; ``unchanged``: how many lineages need nothing."""

    records: pl.DataFrame
    late: pl.DataFrame
    held: pl.DataFrame
    unchanged: int

    @property
    def empty(self) -> bool:
        return self.records.height == 0 and self.late.height == 0

    def counts(self) -> dict[str, int]:
        roles = self.records["role"].value_counts()
        roles = dict(zip(roles["role"].to_list(), roles["count"].to_list(), strict=True))
        return {
            "type1": int(roles.get("type1", 0)),
            "void": int(roles.get("void", 0)),
            "type2": int(roles.get("type2_correct", 0)),
            "records": self.records.height,
            "late_originals": self.late.height,
            "held": self.held.height,
            "unchanged": self.unchanged,
        }


def filed_state(filings: pl.DataFrame) -> pl.DataFrame:
    """Each lineage as last filed: its latest state row (an original, a Type 1 "G", a Type 2 "C",
    or a void). ``filings`` is the store's filings table (``seq`` orders the filings)."""
    return (
        filings.filter(pl.col("state_row"))
        .sort("seq", maintain_order=True)
        .unique(LINEAGE, keep="last", maintain_order=True)
        .sort(LINEAGE)
    )


#: The payee's name and address as text: the IRS files carry them folded (:func:`as_transmitted`).
TRANSMITTED_TEXT_COLUMNS: frozenset[str] = frozenset({"first_name", "last_name", "address", "city"})


def as_transmitted(expr: pl.Expr) -> pl.Expr:
    """A payee's name or address line as every IRS file writes it: accents dropped, upper case,
    no surrounding spaces (Pub 1220: alphanumeric fields in upper case, ``alpha_text``; IRIS:
    ``person_name``, ``street_text``, ``city_name`` — each begins with these steps; null stays null).
    A difference of case or accents alone changes no field the IRS receives, so it is no error to
    correct (General Instructions for Certain Information Returns, corrected returns: a correction
    is filed for an error on a return filed), like an SSN recorded again as an ITIN
    (:func:`tin_kind_differs`)."""
    return pl.when(expr.is_not_null()).then(ascii_fold(expr).str.to_uppercase().str.strip_chars(" "))


def _compared(column: str) -> pl.Expr:
    """``column`` as the comparison of current and filed returns sees it."""
    return (
        as_transmitted(pl.col(column))
        if column.removesuffix("_f") in TRANSMITTED_TEXT_COLUMNS
        else pl.col(column)
    )


def _differs(columns: tuple[str, ...]) -> tuple[pl.Expr, pl.Expr]:
    """Whether any of ``columns`` differs between current (plain name) and filed (``_f`` suffix),
    nulls equal, names and address lines :func:`as_transmitted`; and the list of the names that
    differ."""
    flags = [_compared(c).ne_missing(_compared(f"{c}_f")) for c in columns]
    names = pl.concat_list(
        [pl.when(f).then(pl.lit(c)) for f, c in zip(flags, columns, strict=True)]
    ).list.drop_nulls()
    return pl.any_horizontal(flags), names


def _pair_one_to_one(filed: pl.DataFrame, current: pl.DataFrame, key: list[str], rule: str) -> pl.DataFrame:
    """(payer_tin, lineage_account, form_id, match) where exactly one filed lineage and one current
    form share ``key``."""
    f = filed.group_by(key).agg(
        pl.len().alias("_nf"), pl.col("lineage_account").first(), pl.col("payer_tin").first()
    )
    c = current.group_by(key).agg(pl.len().alias("_nc"), pl.col("form_id").first())
    return (
        f.join(c, on=key, how="inner", nulls_equal=True)
        .filter((pl.col("_nf") == 1) & (pl.col("_nc") == 1))
        .select(*LINEAGE, "form_id", pl.lit(rule).alias("match"))
    )


def key_ids(current: pl.DataFrame) -> pl.DataFrame:
    """(form_id, participant_id, key_id): for each current form, the ids its key gives in both
    versions of the form key (:func:`transforms.engine.forms.form_key`: version 1 without the
    participant, version 2 with it) — one of them is its own ``form_id``."""
    ids = current.select(
        "form_id",
        "participant_id",
        form_key(pl.lit(False)).alias("_v1"),
        form_key(pl.lit(True)).alias("_v2"),
    )
    return pl.concat(
        [
            ids.select("form_id", "participant_id", form_id("_v1").alias("key_id")),
            ids.select("form_id", "participant_id", form_id("_v2").alias("key_id")),
        ]
    ).filter(pl.col("key_id") != pl.col("form_id"))


def _rekeyed(filed: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Rule 2 of the module: (payer_tin, lineage_account, form_id, match) of the lineages that last
    filed the id a current form's key gives in the other version of the form key."""
    candidates = (
        filed.select(
            *LINEAGE, pl.col("form_id").alias("key_id"), pl.col("participant_id").alias("_filed_part")
        )
        .join(key_ids(current), on="key_id", how="inner")
        .filter(pl.col("_filed_part").is_null() | (pl.col("_filed_part") == pl.col("participant_id")))
    )
    if candidates.height == 0:
        return pl.DataFrame(
            schema={**dict.fromkeys(LINEAGE, pl.String), "form_id": pl.String, "match": pl.String}
        )
    # several accounts' forms for a lineage filed by version 1: the one with the filed values first
    values = [c for c in FEDERAL_VALUE_COLUMNS if c in current.columns and c in filed.columns]
    differs, _ = _differs(tuple(values))
    compared = candidates.join(current.select("form_id", *values), on="form_id").join(
        filed.select(*LINEAGE, *values).rename({c: f"{c}_f" for c in values}), on=LINEAGE
    )
    chosen = (
        compared.with_columns(differs.alias("_differs"))
        .sort(*LINEAGE, "_differs", "participant_id", "form_id")
        .unique(LINEAGE, keep="first", maintain_order=True)
        .filter(pl.len().over("form_id") == 1)
    )
    return chosen.select(*LINEAGE, "form_id", pl.lit("rekeyed").alias("match"))


def pair(state: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Current forms matched to filed lineages by the module's pairing rule: one row per pair
    (payer_tin, lineage_account, form_id, match). A filings table or a current frame without
    ``participant_id`` (filed by version 1 of the forms table) pairs as version 1 did where the
    participant is needed."""
    state = _with_participant(state)
    current = _with_participant(current)
    same = (
        state.select(*LINEAGE, "form_id")
        .join(current.select("form_id"), on="form_id", how="inner")
        .with_columns(pl.lit("same_form").alias("match"))
    )
    pairs = [same]
    matched_forms = same.select("form_id")
    matched_lineages = same.select(LINEAGE)
    open_state = state.filter(~pl.col("voided"))
    filed_v1 = pl.col("participant_id").is_null()
    steps = [
        ("rekeyed", None, None),
        ("same_key_but_codes", list(PAIR_KEY), ~filed_v1),
        ("same_key_but_codes", list(PAIR_KEY_V1), filed_v1),
        ("same_key_but_codes_and_state", list(PAIR_KEY[:-1]), ~filed_v1),
        ("same_key_but_codes_and_state", list(PAIR_KEY_V1[:-1]), filed_v1),
        ("same_account_but_destination", list(ACCOUNT_KEY), ~filed_v1),
        ("same_account_but_destination", [c for c in ACCOUNT_KEY if c != "participant_id"], filed_v1),
    ]
    for rule, key, lineages in steps:
        f = open_state.join(matched_lineages, on=LINEAGE, how="anti")
        c = current.join(matched_forms, on="form_id", how="anti")
        found = _rekeyed(f, c) if key is None else _pair_one_to_one(f.filter(lineages), c, key, rule)
        pairs.append(found)
        matched_forms = pl.concat([matched_forms, found.select("form_id")])
        matched_lineages = pl.concat([matched_lineages, found.select(LINEAGE)])
    return pl.concat(pairs)


def _with_participant(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with a ``participant_id`` column (null where version 1 recorded none)."""
    if "participant_id" in frame.columns:
        return frame
    return frame.with_columns(pl.lit(None, pl.String).alias("participant_id"))


def tin_kind_differs() -> pl.Expr:
    """The kind of TIN as the return carries it differs: business (EIN) or individual (SSN, ITIN,
    ATIN all write "2" in Pub 1220 B position 11; IRIS tells only business from individual). An
    SSN recorded as an ITIN with the same number changes no transmitted field: no correction."""
    kind = lambda c: pl.col(c).str.to_lowercase().replace_strict(TYPE_OF_TIN, default=None)  # noqa: E731
    return kind("tin_type").ne_missing(kind("tin_type_f"))


def correction_kind() -> pl.Expr:
    """Over a pair (current columns, filed columns with ``_f``): ``held`` when a blocking edit check
    holds the current form back; ``type2`` when the payee's TIN, TIN type or name differs; ``type1``
    when a federal amount, code, check box or the address differs, or the filed return was voided;
    ``state_only`` when only boxes 14-19 differ (not sent to the IRS: General Instructions,
    corrected returns); else ``unchanged`` (General Instructions for Certain Information Returns, "Error
    Type 1" and "Error Type 2"; docs/reference/irs-filing-formats.md §13)."""
    id_diff, _ = _differs(IDENTITY_COLUMNS)
    id_diff = id_diff | tin_kind_differs()
    value_diff, _ = _differs(FEDERAL_VALUE_COLUMNS)
    state_diff, _ = _differs(STATE_LOCAL_COLUMNS)
    return (
        pl.when(pl.col("blocked"))
        .then(pl.lit("held"))
        .when(id_diff)
        .then(pl.lit("type2"))
        .when(value_diff | pl.col("voided_f"))
        .then(pl.lit("type1"))
        .when(state_diff)
        .then(pl.lit("state_only"))
        .otherwise(pl.lit("unchanged"))
    )


def changed_fields() -> pl.Expr:
    """The names of the fields that differ between the current and the filed return (for the
    analyst; names only, never values — docs/spec/outputs.md keeps personal data out of reports)."""
    _, id_names = _differs(IDENTITY_COLUMNS)
    _, value_names = _differs(VALUE_COLUMNS)
    kind = pl.concat_list(pl.when(tin_kind_differs()).then(pl.lit("tin_type"))).list.drop_nulls()
    return pl.concat_list(id_names, kind, value_names)


def corrected_record(frame: pl.DataFrame, cols: list[str], corrected: str, role: str) -> pl.DataFrame:
    """The complete correct return under the ORIGINAL account number: a Type 1 record ("G") or the
    second transaction of a Type 2 correction ("C") (Pub 1220 B record position 6 and 21-40:
    corrections are matched on the account number; docs/reference/irs-filing-formats.md §13)."""
    return frame.select(
        *[
            pl.col("lineage_account").alias("account_number") if c == "account_number" else pl.col(c)
            for c in cols
        ],
        "lineage_account",
        pl.lit(corrected).alias("corrected"),
        pl.lit(role).alias("role"),
        pl.lit(True).alias("state_row"),
        pl.lit(False).alias("voided"),
        "changed",
        "match",
    )


def zero_amount_record(frame: pl.DataFrame, cols: list[str], role: str, *, state_row: bool) -> pl.DataFrame:
    """The return exactly as last filed with every amount zero, coded "G": the first transaction of
    a Type 2 correction, or a Type 1 correction of a return that should not have been filed
    (``state_row``: the lineage is voided from now on) (General Instructions for Certain
    Information Returns; Pub 1220 B record position 6; docs/reference/irs-filing-formats.md §13)."""
    return frame.select(
        *[pl.lit(0, pl.Int64).alias(c) if c in ZEROED else pl.col(c) for c in cols],
        "lineage_account",
        pl.lit("G").alias("corrected"),
        pl.lit(role).alias("role"),
        pl.lit(state_row).alias("state_row"),
        pl.lit(state_row).alias("voided"),
        "changed",
        "match",
    )


def reissued_account_number() -> pl.Expr:
    """A new account number for a late original whose own is already a filed lineage's — its form
    key came back after a code fix moved that lineage to a new form: the first 20 hex digits of
    SHA-256 over "form_id|reissued", in capitals. Pub 1220 B 21-40: unique per return, stable,
    never the TIN; a required return is filed, never held for want of a number (IRC §6721)."""
    tagged = pl.concat_str([pl.col("form_id"), pl.lit("|reissued")])
    return tagged.chash.sha2_256().str.slice(0, 20).str.to_uppercase().alias("account_number")


def current_payer_details(records: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Every correction record of a payer carries the payer's current name, address and phone.

    The IRS matches a correction on the payer's TIN, the payee's TIN and the account number (Pub
    1220 B record 21-40), not on the payer's address; one file holds one set of payer details per
    payer TIN (Pub 1220 A record), so a void or a Type 2 "G" record built from the return as filed
    takes the payer block of the current returns when the sponsor has moved since. A payer with no
    current return keeps the details as filed."""
    now = current.select("payer_tin", *RETURN_PAYER_COLUMNS).unique(
        "payer_tin", keep="first", maintain_order=True
    )
    return (
        records.join(now.rename({c: f"{c}_now" for c in RETURN_PAYER_COLUMNS}), on="payer_tin", how="left")
        .with_columns(pl.coalesce(f"{c}_now", c).alias(c) for c in RETURN_PAYER_COLUMNS)
        .drop(f"{c}_now" for c in RETURN_PAYER_COLUMNS)
    )


def plan_corrections(state: pl.DataFrame, current: pl.DataFrame) -> CorrectionPlan:
    """What to send after a change: ``state`` from :func:`filed_state`; ``current``: every current
    form at or above the filing threshold (RETURN_COLUMNS, ``roth``, ``destination`` and
    ``blocked`` — true when a blocking edit check holds it back)."""
    state = _with_participant(state)
    pairs = pair(state, current)
    cols = [c for c in (*RETURN_COLUMNS, *FORM_DETAIL_COLUMNS) if c in current.columns]
    filed_cols = [
        *LINEAGE,
        "voided",
        *(c for c in (*RETURN_COLUMNS, *FORM_DETAIL_COLUMNS) if c not in LINEAGE),
    ]
    joined = pairs.join(
        current.select(*cols, "blocked", pl.col("payer_tin").alias("payer_tin_now")),
        on="form_id",
        how="inner",
    ).join(
        state.select(filed_cols).rename({c: f"{c}_f" for c in filed_cols if c not in LINEAGE}),
        on=LINEAGE,
        how="inner",
    )
    joined = joined.with_columns(correction_kind().alias("_action"), changed_fields().alias("changed"))

    type1 = corrected_record(joined.filter(pl.col("_action") == "type1"), cols, "G", "type1")
    t2 = joined.filter(pl.col("_action") == "type2")
    t2_filed = t2.select(
        *LINEAGE, "changed", "match", *[pl.col(f"{c}_f").alias(c) for c in cols if c != "payer_tin"]
    ).with_columns(pl.col("lineage_account").alias("account_number"))
    type2_void = zero_amount_record(t2_filed, cols, "type2_void", state_row=False)
    type2_correct = corrected_record(t2, cols, "C", "type2_correct")
    # filed lineages, not voided, with no current form: returns that should not have been filed now
    orphan = (
        state.filter(~pl.col("voided"))
        .join(pairs.select(LINEAGE), on=LINEAGE, how="anti")
        .select(*[c for c in cols if c in state.columns], "lineage_account")
        .with_columns(
            pl.col("lineage_account").alias("account_number"),
            pl.lit(["no_current_form"]).alias("changed"),
            pl.lit("none").alias("match"),
        )
    )
    void = zero_amount_record(orphan, cols, "void", state_row=True)
    records = pl.concat([type1, type2_void, type2_correct, void], how="diagonal_relaxed")
    records = current_payer_details(records, current).sort("payer_tin", "corrected", "account_number")

    unpaired = current.join(pairs.select("form_id"), on="form_id", how="anti")
    in_use = state.select(pl.col("payer_tin"), pl.col("lineage_account").alias("account_number"))
    reissued = unpaired.join(in_use, on=["payer_tin", "account_number"], how="semi").with_columns(
        reissued_account_number()
    )
    clash = reissued.join(in_use, on=["payer_tin", "account_number"], how="semi")
    late = (
        pl.concat(
            [
                unpaired.join(reissued.select("form_id"), on="form_id", how="anti"),
                reissued.join(clash.select("form_id"), on="form_id", how="anti"),
            ],
            how="diagonal_relaxed",
        )
        .filter(~pl.col("blocked"))
        .select(cols)
        .with_columns(pl.lit("").alias("corrected"))
        .sort("payer_tin", "account_number")
    )
    held = pl.concat(
        [
            joined.filter(pl.col("_action") == "held").select(
                "form_id", pl.lit("blocking edit check").alias("reason")
            ),
            unpaired.filter(pl.col("blocked")).select(
                "form_id", pl.lit("blocking edit check").alias("reason")
            ),
            clash.filter(~pl.col("blocked")).select(
                "form_id", pl.lit("account number already used by a filed lineage").alias("reason")
            ),
            joined.filter(pl.col("payer_tin_now").ne_missing(pl.col("payer_tin"))).select(
                "form_id", pl.lit(PAYER_TIN_REASON).alias("reason")
            ),
            joined.filter(pl.col("_action") == "state_only").select(
                "form_id",
                pl.lit(
                    "state or local information only: not sent to the IRS; correct it with the state"
                ).alias("reason"),
            ),
        ]
    ).sort("form_id")
    unchanged = joined.filter(pl.col("_action") == "unchanged").height
    return CorrectionPlan(records, late, held, unchanged)


#: The previous identity an IRIS correction carries where it changed (PrevSubmittedRecRecipientGrp).
PREVIOUS_COLUMNS: dict[str, str] = {
    "payee_tin": "prev_payee_tin",
    "first_name": "prev_first_name",
    "last_name": "prev_last_name",
    "tin_type": "prev_tin_type",
}


def iris_corrections(records: pl.DataFrame) -> pl.DataFrame:
    """The correction records of a plan (:func:`plan_corrections`) as IRIS takes them: ONE record
    per corrected return. IRIS has no Type 1 / Type 2 pair: a correction is the complete correct
    return with CorrectedInd 1 and PrevSubmittedRecRecipientGrp naming the original (its
    UniqueRecordId) and, where they changed, the previous TIN and name (IRIS schema
    PrevSubmittedRecRecipientGrpType; rule FTMFST008: a UniqueRecordId at most once per
    transmission). So the first transaction of a Type 2 correction (``type2_void``: the return as
    filed, zero amounts) is not sent; its TIN, name and kind of TIN go on the second
    (``type2_correct``) as ``prev_payee_tin`` (where the TIN changed) and ``prev_first_name``,
    ``prev_last_name``, ``prev_tin_type`` (where the name or kind changed). A return that should not
    have been filed stays one record with zero amounts (``void``: VoidInd is fixed at 0 for Form
    1099-R in IRIS). Other rows are unchanged, in the same order."""
    previous = records.filter(pl.col("role") == "type2_void").select(
        *LINEAGE, *(pl.col(c).alias(f"_was_{c}") for c in PREVIOUS_COLUMNS)
    )
    kept = records.filter(pl.col("role") != "type2_void").join(
        previous, on=LINEAGE, how="left", maintain_order="left"
    )
    was = {c: pl.col(f"_was_{c}") for c in PREVIOUS_COLUMNS}
    tin_changed = was["payee_tin"].is_not_null() & was["payee_tin"].ne_missing(pl.col("payee_tin"))
    name_changed = was["last_name"].is_not_null() & (
        as_transmitted(was["first_name"]).ne_missing(as_transmitted(pl.col("first_name")))
        | as_transmitted(was["last_name"]).ne_missing(as_transmitted(pl.col("last_name")))
        | tin_kind_differs_from(was["tin_type"])
    )
    return kept.with_columns(
        pl.when(tin_changed).then(was["payee_tin"]).alias("prev_payee_tin"),
        *(
            pl.when(name_changed).then(was[c]).alias(PREVIOUS_COLUMNS[c])
            for c in ("first_name", "last_name", "tin_type")
        ),
    ).drop(f"_was_{c}" for c in PREVIOUS_COLUMNS)


def tin_kind_differs_from(previous: pl.Expr) -> pl.Expr:
    """The kind of TIN (business or individual, as :func:`tin_kind_differs`) differs from ``previous``."""
    kind = lambda e: e.str.to_lowercase().replace_strict(TYPE_OF_TIN, default=None)  # noqa: E731
    return kind(pl.col("tin_type")).ne_missing(kind(previous))
