"""Build the committed import examples in ``sample_data/import/`` (invented data).

    .venv/bin/python scripts/make_import_examples.py

- ``canonical/``: a small canonical extract (``prorata sample --disbursements 150 --seed 11``, with
  the recordkeeper's own account numbers added to ``participants``);
- ``keystone/``: the same data as "Keystone Retirement Services" ships it: six CSV files with their
  own column names, dollars with thousands separators, US dates, codes of their own, a pipe-delimited
  cp1252 payee file with two title lines, TINs with dashes (mapping: ``keystone.toml``);
- ``harbor/harbor_2025.xlsx``: the same data as "Harbor Plan Administrators" ships it: one workbook,
  a sheet per table, a title above each header, amounts as numbers in dollars, dates as date cells,
  Yes/No flags and words for codes (mapping: ``harbor.toml``).

``tests/flows/importer/test_import.py`` imports both layouts and checks that ``prorata run`` gives the same
outputs as on ``canonical/``. Run this script only to change the examples; commit what it writes.
"""

from __future__ import annotations

import shutil
import sys
from datetime import datetime
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.sample import generate_extract  # noqa: E402
from transforms.kernels.dollars import dollars as money_text  # noqa: E402

HERE = ROOT / "sample_data" / "import"
CANONICAL = HERE / "canonical"

PLAN_KIND = {"401k": "401K", "403b": "403B", "457b_governmental": "457G"}
TIN_KIND = {"ssn": "S", "itin": "I", "atin": "A", "ein": "E"}
SOURCE = {"non_roth": "PRETAX", "after_tax": "AFTERTAX", "roth": "ROTH"}
DISB_TYPE = {
    "cash": "CASH",
    "rollover_ira": "DR-IRA",
    "rollover_roth_ira": "DR-ROTHIRA",
    "rollover_plan": "DR-PLAN",
    "rollover_roth_plan": "DR-ROTHPLAN",
    "in_plan_roth_rollover": "IPRR",
}
REASON = {
    "separation": "SEP",
    "in_service": "INSVC",
    "hardship": "HARD",
    "death": "DEATH",
    "disability": "DISAB",
    "required_minimum": "RMD",
    "loan_offset": "LOANOFF",
    "qualified_loan_offset": "QLOANOFF",
    "deemed_loan": "DEEMED",
    "qdro": "QDRO",
    "corrective": "CORR",
}
HARBOR_DEST = {
    "cash": "Cash",
    "rollover_ira": "Rollover to IRA",
    "rollover_roth_ira": "Rollover to Roth IRA",
    "rollover_plan": "Rollover to plan",
    "rollover_roth_plan": "Rollover to Roth plan",
    "in_plan_roth_rollover": "In-plan Roth rollover",
}
HARBOR_REASON = {
    "separation": "Termination",
    "in_service": "In-service",
    "hardship": "Hardship",
    "death": "Death",
    "disability": "Disability",
    "required_minimum": "RMD",
    "loan_offset": "Loan offset",
    "qualified_loan_offset": "Qualified loan offset",
    "deemed_loan": "Deemed loan",
    "qdro": "QDRO",
    "corrective": "Corrective",
}
HARBOR_SOURCE = {"non_roth": "Pre-tax", "after_tax": "After-tax", "roth": "Roth"}


def dollars(col: str) -> pl.Expr:
    """Cents as "1,234.56" (integer arithmetic, transforms.kernels.dollars.dollars without the sign)."""
    return (
        pl.when(pl.col(col).is_null())
        .then(None)
        .otherwise(money_text(pl.col(col)).str.replace("$", "", literal=True))
    )


def us_date(col: str) -> pl.Expr:
    return pl.col(col).dt.strftime("%m/%d/%Y")


def yes_no(col: str) -> pl.Expr:
    return pl.when(pl.col(col)).then(pl.lit("Y")).otherwise(pl.lit("N"))


def canonical() -> dict[str, pl.DataFrame]:
    if CANONICAL.exists():
        shutil.rmtree(CANONICAL)
    generate_extract(CANONICAL, 150, 11, extract_id="example-2025")
    t = {p.stem: pl.read_parquet(p) for p in sorted(CANONICAL.glob("*.parquet"))}
    # the recordkeeper's own account numbers (an extension of the extract): all but every fifth
    t["participants"] = t["participants"].with_columns(
        pl.when(pl.int_range(pl.len()) % 5 != 4)
        .then(pl.format("KRS-{}", (pl.int_range(pl.len()) * 7919 + 100_003).cast(pl.String)))
        .otherwise(None)
        .alias("account_number")
    )
    t["participants"].write_parquet(CANONICAL / "participants.parquet", compression="zstd")
    # a text file cannot tell an empty value from a missing one: the importer reads a blank as
    # missing, so an entity's empty first_name is written here as missing (null) too
    t["payees"] = t["payees"].with_columns(pl.col("first_name").replace("", None))
    t["payees"].write_parquet(CANONICAL / "payees.parquet", compression="zstd")
    return t


def keystone(t: dict[str, pl.DataFrame]) -> None:
    out = HERE / "keystone"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t["plans"].select(
        pl.col("plan_id").alias("PLAN_NO"),
        pl.col("plan_name").alias("PLAN_NAME"),
        pl.col("plan_type").replace_strict(PLAN_KIND).alias("PLAN_KIND"),
        pl.format("{}-{}", pl.col("payer_tin").str.slice(0, 2), pl.col("payer_tin").str.slice(2)).alias(
            "SPONSOR_EIN"
        ),
        pl.col("payer_name").alias("SPONSOR"),
        pl.col("payer_address").alias("ADDR1"),
        pl.col("payer_city").alias("CITY"),
        pl.col("payer_state").alias("ST"),
        pl.when(pl.col("payer_zip").str.len_chars() == 9)
        .then(pl.format("{}-{}", pl.col("payer_zip").str.slice(0, 5), pl.col("payer_zip").str.slice(5)))
        .otherwise(pl.col("payer_zip"))
        .alias("ZIP"),
        pl.format(
            "({}) {}-{}",
            pl.col("payer_phone").str.slice(0, 3),
            pl.col("payer_phone").str.slice(3, 3),
            pl.col("payer_phone").str.slice(6),
        ).alias("PHONE"),
        yes_no("after_tax_separately_accounted").alias("AFTER_TAX_SEP"),
        yes_no("pre1987_recovery").alias("PRE87"),
    ).write_csv(out / "PLANS.csv")
    payees = t["payees"].select(
        pl.col("payee_id").alias("PAYEE_NO"),
        pl.when(pl.col("tin_type") == "ein")
        .then(pl.format("{}-{}", pl.col("tin").str.slice(0, 2), pl.col("tin").str.slice(2)))
        .otherwise(
            pl.format(
                "{}-{}-{}",
                pl.col("tin").str.slice(0, 3),
                pl.col("tin").str.slice(3, 2),
                pl.col("tin").str.slice(5),
            )
        )
        .alias("TAX_ID"),
        pl.col("tin_type").replace_strict(TIN_KIND).alias("TIN_KIND"),
        pl.col("first_name").alias("FIRST"),
        pl.col("last_name").alias("LAST"),
        pl.col("address").alias("STREET"),
        pl.col("city").alias("CITY"),
        pl.col("state").alias("STATE"),
        pl.col("zip").alias("ZIP"),
        pl.col("country").alias("COUNTRY"),
        us_date("date_of_birth").alias("DOB"),
        yes_no("us_person").alias("US_PERSON"),
    )
    body = payees.write_csv(separator="|")
    title = "KEYSTONE RETIREMENT SERVICES - PAYEE MASTER\nRUN DATE 01/05/2026\n"
    (out / "PAYEES.txt").write_bytes((title + body).encode("cp1252", errors="replace"))
    t["participants"].select(
        pl.col("participant_id").alias("PART_NO"),
        pl.col("plan_id").alias("PLAN_NO"),
        pl.col("payee_id").alias("PAYEE_NO"),
        pl.col("account_number").alias("ACCOUNT"),
        us_date("date_of_death").alias("DECEASED_ON"),
        yes_no("disabled").alias("DISABLED"),
        us_date("separation_date").alias("TERM_DATE"),
        yes_no("public_safety_employee").alias("PUBLIC_SAFETY"),
        pl.col("roth_first_year").alias("ROTH_START"),
    ).write_csv(out / "PARTICIPANTS.csv")
    t["contracts"].select(
        pl.col("event_id").alias("EVENT"),
        pl.col("contract").replace_strict(SOURCE).alias("SOURCE"),
        dollars("value_cents").alias("VALUE"),
        dollars("basis_cents").alias("BASIS"),
        dollars("pre1987_basis_cents").alias("PRE87_BASIS"),
        dollars("irr_recapture_cents").alias("IRR_RECAPTURE"),
        dollars("foreign_source_cents").alias("FOREIGN"),
    ).write_csv(out / "BALANCES.csv")
    t["distributions"].select(
        pl.col("distribution_id").alias("DISB_NO"),
        pl.col("event_id").alias("EVENT"),
        pl.col("participant_id").alias("PART_NO"),
        pl.col("payee_id").alias("PAYEE_NO"),
        pl.col("plan_id").alias("PLAN_NO"),
        us_date("payment_date").alias("PAID_ON"),
        pl.col("contract").replace_strict(SOURCE).alias("SOURCE"),
        pl.format("${}", dollars("amount_cents")).alias("GROSS"),
        pl.col("destination").replace_strict(DISB_TYPE).alias("DISB_TYPE"),
        pl.col("rollover_order").alias("ROLL_SEQ"),
        pl.col("reason").replace_strict(REASON).alias("REASON"),
        pl.col("corrective_taxable_year").alias("CORR_YEAR"),
        yes_no("from_rollover_source").alias("ROLL_SRC"),
        dollars("federal_withholding_cents").alias("FED_WH"),
        pl.col("state").alias("ST"),
        dollars("state_withholding_cents").alias("ST_WH"),
        pl.col("state_payer_id").alias("ST_ID"),
        dollars("local_withholding_cents").alias("LOC_WH"),
        pl.col("locality").alias("LOCALITY"),
    ).write_csv(out / "DISB.csv", separator=";")
    t["control_totals"].select(
        pl.col("plan_id").alias("PLAN_NO"),
        pl.col("month").dt.strftime("%Y-%m").alias("MONTH"),
        dollars("gross_cents").alias("GROSS"),
        dollars("federal_withholding_cents").alias("FED_WH"),
        pl.col("disbursement_count").alias("COUNT"),
    ).write_csv(out / "CONTROL.csv")


def harbor(t: dict[str, pl.DataFrame]) -> None:
    import xlsxwriter

    out = HERE / "harbor"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    def money(col: str) -> pl.Expr:
        return (pl.col(col) / 100).alias(col)  # Excel keeps numbers as binary floating point

    def yes(col: str) -> pl.Expr:
        return pl.when(pl.col(col)).then(pl.lit("Yes")).otherwise(pl.lit("No")).alias(col)

    sheets = {
        "Plans": t["plans"].select(
            pl.col("plan_id").alias("Plan"),
            pl.col("plan_name").alias("Plan name"),
            pl.col("plan_type")
            .replace_strict({"401k": "401(k)", "403b": "403(b)", "457b_governmental": "Gov 457(b)"})
            .alias("Type"),
            pl.col("payer_tin").alias("Payer EIN"),
            pl.col("payer_name").alias("Payer"),
            pl.col("payer_address").alias("Address"),
            pl.col("payer_city").alias("City"),
            pl.col("payer_state").alias("State"),
            pl.col("payer_zip").alias("ZIP"),
            pl.col("payer_phone").alias("Phone"),
            yes("after_tax_separately_accounted").alias("Separate after-tax"),
            yes("pre1987_recovery").alias("Pre-1987 recovery"),
        ),
        "Payees": t["payees"].select(
            pl.col("payee_id").alias("Payee"),
            pl.col("tin").cast(pl.Int64).alias("TIN"),  # a number cell: leading zeros would be lost (pad = 9)
            pl.col("tin_type").str.to_uppercase().alias("TIN type"),
            pl.col("first_name").alias("First name"),
            pl.col("last_name").alias("Last name"),
            pl.col("address").alias("Address"),
            pl.col("city").alias("City"),
            pl.col("state").alias("State"),
            pl.col("zip").alias("ZIP"),
            pl.col("country").alias("Country"),
            pl.col("date_of_birth").alias("Birth date"),
            yes("us_person").alias("US person"),
        ),
        "Participants": t["participants"].select(
            pl.col("participant_id").alias("Participant"),
            pl.col("plan_id").alias("Plan"),
            pl.col("payee_id").alias("Payee"),
            pl.col("account_number").alias("Account"),
            pl.col("date_of_death").alias("Date of death"),
            yes("disabled").alias("Disabled"),
            pl.col("separation_date").alias("Separated"),
            yes("public_safety_employee").alias("Public safety"),
            pl.col("roth_first_year").alias("Roth since"),
        ),
        "Balances": t["contracts"].select(
            pl.col("event_id").alias("Event"),
            pl.col("contract").replace_strict(HARBOR_SOURCE).alias("Source"),
            money("value_cents").alias("Value"),
            money("basis_cents").alias("Basis"),
            money("pre1987_basis_cents").alias("Pre-1987 basis"),
            money("irr_recapture_cents").alias("IRR recapture"),
            money("foreign_source_cents").alias("Foreign source"),
        ),
        "Payments": t["distributions"].select(
            pl.col("distribution_id").alias("Payment"),
            pl.col("event_id").alias("Event"),
            pl.col("participant_id").alias("Participant"),
            pl.col("payee_id").alias("Payee"),
            pl.col("plan_id").alias("Plan"),
            pl.col("payment_date").alias("Paid"),
            pl.col("contract").replace_strict(HARBOR_SOURCE).alias("Source"),
            money("amount_cents").alias("Gross"),
            pl.col("destination").replace_strict(HARBOR_DEST).alias("Paid to"),
            pl.col("rollover_order").alias("Rollover order"),
            pl.col("reason").replace_strict(HARBOR_REASON).alias("Reason"),
            pl.col("corrective_taxable_year").alias("Corrective year"),
            yes("from_rollover_source").alias("Rollover money"),
            money("federal_withholding_cents").alias("Federal tax"),
            pl.col("state").alias("State"),
            money("state_withholding_cents").alias("State tax"),
            pl.col("state_payer_id").alias("State id"),
            money("local_withholding_cents").alias("Local tax"),
            pl.col("locality").alias("Locality"),
        ),
        "Trustee totals": t["control_totals"].select(
            pl.col("plan_id").alias("Plan"),
            pl.col("month").alias("Month"),
            money("gross_cents").alias("Gross"),
            money("federal_withholding_cents").alias("Federal tax"),
            pl.col("disbursement_count").alias("Payments"),
        ),
    }
    book = xlsxwriter.Workbook(str(out / "harbor_2025.xlsx"))
    book.set_properties({"created": datetime(2026, 1, 5), "author": "Harbor Plan Administrators"})
    for name, frame in sheets.items():
        ws = book.add_worksheet(name)
        ws.write("A1", f"Harbor Plan Administrators - 1099-R extract, tax year 2025 - {name}")
        frame.write_excel(workbook=book, worksheet=ws, position="A3", autofit=False, table_style=None)
    book.close()


def main() -> None:
    t = canonical()
    keystone(t)
    harbor(t)
    print(f"wrote {HERE}/canonical, keystone/, harbor/")


if __name__ == "__main__":
    main()
