"""Box 7 within the IRS's list (issue 14, point 4): every entry the engine can produce is one of the
values the IRIS A2A schema enumerates for ``Form1099RDistributionCd``, and the one code table
(transforms/law/box7.py) allows exactly those entries. The enumeration is read from the vendored XSD,
never copied by hand."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import polars as pl
import pytest
from lxml import etree

from contracts.extract import CONTRACTS, DESTINATIONS, REASONS, TABLES
from contracts.loading import conform
from contracts.validate import validate
from transforms.engine import compute
from transforms.law.box7 import BOX7_CODES, CODES, canonical_order, valid_combinations
from transforms.law.params import TaxParameters

XSD = (
    Path(__file__).parents[1]
    / "data"
    / "iris-a2a-ty2025-v1.2"
    / "IRIS A2A INTAKE XML LIBRARY 2025"
    / "FORM_TYPES"
    / "IRS-Form1099RType.xsd"
)
XS = {"xsd": "http://www.w3.org/2001/XMLSchema"}


@cache
def irs_box7_values() -> frozenset[str]:
    """The values the IRS's schema enumerates for box 7 (TY2025 v1.2)."""
    tree = etree.parse(str(XSD))
    values = tree.xpath(
        "//xsd:element[@name='Form1099RDistributionCd']//xsd:enumeration/@value", namespaces=XS
    )
    return frozenset(values)


def unordered(entries) -> set[frozenset[str]]:
    return {frozenset(entry) for entry in entries}


def test_the_irs_schema_enumerates_120_box_7_values_29_codes_alone_and_47_pairs():
    values = irs_box7_values()
    assert len(values) == 120
    assert len({v for v in values if len(v) == 1}) == 29
    assert len({frozenset(v) for v in values if len(v) == 2}) == 47


def test_the_code_table_allows_exactly_the_entries_the_irs_schema_enumerates_for_2025():
    assert unordered(valid_combinations(2025)) == unordered(irs_box7_values())


def test_code_y_exists_from_2025_only_and_never_alone():
    assert "Y" not in valid_combinations(2025) and "Y" not in valid_combinations(2024)
    assert {"4Y", "7Y", "KY"} <= valid_combinations(2025)
    assert not {"4Y", "7Y", "KY"} & valid_combinations(2024)
    assert unordered(valid_combinations(2024)) == unordered(v for v in irs_box7_values() if "Y" not in v)


def test_the_code_table_lists_each_pair_on_both_rows_and_names_each_code_once():
    assert len(CODES) == len(BOX7_CODES) == 30
    for code in BOX7_CODES:
        for other in code.used_with:
            assert code.code in CODES[other].used_with, (code.code, other)
            assert other != code.code


# ---- the engine over every combination of its box 7 inputs -----------------------------------

PAY = date(2025, 6, 2)
PLANS = pl.DataFrame(
    {
        "plan_id": ["P401", "P403", "P457"],
        "plan_type": ["401k", "403b", "457b_governmental"],
        "after_tax_separately_accounted": [True, True, False],
    }
)
# The participant's situation on the payment date: age, disability, separation, public safety.
SITUATIONS = pl.DataFrame(
    {
        "dob": [
            date(1990, 1, 15),  # 35: no exception
            date(1968, 1, 1),  # 57, separated in 2025 (the year of 55 or after)
            date(1968, 1, 1),  # 57, separating after the payment
            date(1974, 3, 1),  # 51, public safety, separated in 2025 (the year of 50 or after)
            date(1974, 3, 1),  # 51, separated in 2025 but not public safety
            date(1990, 1, 15),  # 35, disabled
            date(1950, 1, 15),  # 75
            date(1950, 1, 15),  # 75, disabled
        ],
        "separation_date": [
            None,
            date(2025, 1, 10),
            date(2025, 9, 1),
            date(2025, 1, 10),
            date(2025, 1, 10),
            None,
            None,
            None,
        ],
        "public_safety_employee": [False, False, False, True, False, False, False, False],
        "disabled": [False, False, False, False, False, True, False, True],
    }
)
ROLES = pl.DataFrame({"role": ["own", "beneficiary", "alternate_payee"]})
REASON_YEARS = pl.concat(
    [
        pl.DataFrame({"reason": [r for r in REASONS if r != "corrective"]}).with_columns(
            pl.lit(None, pl.Int64).alias("corrective_taxable_year")
        ),
        pl.DataFrame({"reason": ["corrective", "corrective"], "corrective_taxable_year": [2025, 2024]}),
    ]
)


def every_box7_input() -> dict[str, pl.DataFrame]:
    """One event per combination of reason (with the corrective year) × destination × contract ×
    the participant's situation × payee role × plan type × rollover source: an extract of about
    31,000 disbursements, each with its own participant and payee."""
    combos = (
        REASON_YEARS.join(pl.DataFrame({"destination": list(DESTINATIONS)}), how="cross")
        .join(pl.DataFrame({"contract": list(CONTRACTS)}), how="cross")
        .join(SITUATIONS, how="cross")
        .join(ROLES, how="cross")
        .join(PLANS, how="cross")
        .join(pl.DataFrame({"from_rollover_source": [False, True]}), how="cross")
        .with_row_index("i")
    )
    n = pl.col("i").cast(pl.String).str.zfill(6)
    own, other = "OWN" + n, "OTH" + n
    payee_id = pl.when(pl.col("role") == "own").then(own).otherwise(other)
    plans = PLANS.with_columns(
        plan_name=pl.lit("Plan"),
        payer_tin=pl.lit("123456780"),
        payer_name=pl.lit("Trust"),
        payer_address=pl.lit("1 Main St"),
        payer_city=pl.lit("Springfield"),
        payer_state=pl.lit("IL"),
        payer_zip=pl.lit("62701"),
        payer_phone=pl.lit("2175550100"),
        pre1987_recovery=pl.lit(False),
    )

    def payees(ids: pl.Expr, dob: pl.Expr, first_tin: int, rows: pl.DataFrame) -> pl.DataFrame:
        return rows.select(
            ids.alias("payee_id"),
            (pl.col("i") + first_tin).cast(pl.String).alias("tin"),
            pl.lit("ssn").alias("tin_type"),
            pl.lit("Pat").alias("first_name"),
            pl.lit("Case").alias("last_name"),
            pl.lit("2 Elm St").alias("address"),
            pl.lit("Columbus").alias("city"),
            pl.lit("OH").alias("state"),
            pl.lit("43004").alias("zip"),
            dob.alias("date_of_birth"),
        )

    tables = {
        "plans": plans,
        "payees": pl.concat(
            [
                payees(own, pl.col("dob"), 100_000_000, combos),
                payees(other, pl.lit(date(1985, 5, 5)), 500_000_000, combos.filter(pl.col("role") != "own")),
            ]
        ),
        "participants": combos.select(
            ("PT" + n).alias("participant_id"),
            "plan_id",
            own.alias("payee_id"),
            pl.when(pl.col("role") == "beneficiary").then(pl.lit(date(2025, 1, 5))).alias("date_of_death"),
            "disabled",
            "separation_date",
            "public_safety_employee",
            pl.lit(2015).alias("roth_first_year"),
        ),
        "contracts": combos.select(
            ("E" + n).alias("event_id"),
            "contract",
            pl.lit(1_000_000).alias("value_cents"),
            pl.when(pl.col("contract") == "non_roth").then(0).otherwise(400_000).alias("basis_cents"),
        ),
        "distributions": combos.select(
            ("D" + n).alias("distribution_id"),
            ("E" + n).alias("event_id"),
            ("PT" + n).alias("participant_id"),
            payee_id.alias("payee_id"),
            "plan_id",
            pl.lit(PAY).alias("payment_date"),
            "contract",
            pl.lit(100_000).alias("amount_cents"),
            "destination",
            "reason",
            "corrective_taxable_year",
            "from_rollover_source",
            pl.lit(0).alias("federal_withholding_cents"),
        ),
    }
    return {name: conform(frame, TABLES[name]) for name, frame in tables.items()}


# Why validation may refuse a combination: the moves the law does not allow (docs/spec/extract.md,
# "Rules that cross tables"), each with its own rule.
MOVES_THE_LAW_FORBIDS = {
    "non_roth_to_roth_plan",
    "roth_destination_invalid",
    "loan_not_cash",
    "not_rollover_eligible",
    "after_tax_not_separately_accounted",
    "govt_457b_after_tax",
}


@pytest.fixture(scope="module")
def engine_over_every_input():
    tables = every_box7_input()
    validated = validate(tables, 2025)
    result = compute(validated.tables, TaxParameters.for_year(2025))
    return tables, validated, result


def test_every_entry_the_engine_produces_for_every_combination_of_its_inputs_is_in_the_irs_list(
    engine_over_every_input,
):
    tables, validated, result = engine_over_every_input
    produced = result.distributions.get_column("distribution_codes")
    assert result.distributions.height > 10_000
    outside = set(produced.unique().to_list()) - irs_box7_values()
    assert outside == set(), f"box 7 entries outside Form1099RDistributionCd: {sorted(outside)}"
    # the forms carry the same entries
    assert set(result.forms.get_column("distribution_codes").to_list()) <= irs_box7_values()


def test_every_combination_is_reported_or_refused_for_a_named_reason(engine_over_every_input):
    tables, validated, result = engine_over_every_input
    n = tables["distributions"].height
    quarantined = validated.quarantine.filter(pl.col("table") == "distributions")
    rejected = result.rejected
    assert result.distributions.height + quarantined.height + rejected.height == n
    assert set(quarantined.get_column("rule").unique().to_list()) <= MOVES_THE_LAW_FORBIDS
    # the engine sets aside only what would need three codes: a beneficiary's Roth money rolled to
    # another plan's Roth account (4, B, G) or a beneficiary's Roth corrective distribution (4, 8/P, B)
    assert set(rejected.get_column("rule").unique().to_list()) == {"codes_over_two"}
    why = rejected.join(tables["distributions"], on="distribution_id").join(
        tables["participants"].select("participant_id", "date_of_death"), on="participant_id"
    )
    assert why.filter(pl.col("contract") != "roth").height == 0
    assert (
        why.filter(
            ~pl.col("destination").is_in(["rollover_roth_plan"]) & (pl.col("reason") != "corrective")
        ).height
        == 0
    )
    assert why.filter(pl.col("date_of_death").is_null() & (pl.col("reason") != "death")).height == 0


def test_each_code_the_table_marks_as_produced_is_produced_by_the_engine_and_no_other(
    engine_over_every_input,
):
    _, _, result = engine_over_every_input
    entries = result.distributions.get_column("distribution_codes").unique().to_list()
    used = {code for entry in entries for code in entry}
    assert used == {c.code for c in BOX7_CODES if c.produced}
    assert all(entry == canonical_order(entry) for entry in entries)


def test_a_corrective_distribution_is_never_coded_with_1_2_or_3(engine_over_every_input):
    tables, _, result = engine_over_every_input
    corrective = result.distributions.join(
        tables["distributions"].select("distribution_id", "reason"), on="distribution_id"
    ).filter(pl.col("reason") == "corrective")
    assert corrective.height > 100
    assert set(corrective.get_column("distribution_codes").unique().to_list()) == {
        "8",
        "P",
        "48",
        "4P",
        "8B",
        "BP",
    }
    assert corrective.get_column("box10_cents").max() == 0


def _fire_checker_refuses(entries: list[str], payment_year: int) -> set[str]:
    """The entries the FIRE file checker's distribution-code rules refuse (B record 545-546)."""
    from transforms.irs.fire.pub1220_reader import _distribution_code_rules, _evaluate

    frame = pl.DataFrame({"distribution_codes": [e.ljust(2) for e in entries]}).with_row_index(
        "record_number", offset=1
    )
    hits = pl.concat(
        _evaluate(_distribution_code_rules(frame, payment_year)) or [pl.DataFrame()], how="diagonal"
    )
    refused = set(hits.get_column("record_number").to_list()) if hits.height else set()
    return {entries[i - 1] for i in refused}


def test_the_fire_checker_accepts_every_irs_value_in_either_order_and_nothing_else():
    values = sorted(irs_box7_values())
    both_orders = sorted(set(values) | {v[::-1] for v in values})
    assert _fire_checker_refuses(both_orders, 2025) == set()
    outside = ["KP", "3B", "17", "Y", "B3", "88", "X", "GH"]
    assert _fire_checker_refuses(outside, 2025) == set(outside)
    # before 2025 code Y does not exist
    assert _fire_checker_refuses(["Y4", "7Y", "KY"], 2024) == {"Y4", "7Y", "KY"}
