"""Results a person opens: ``--export csv`` / ``--export xlsx``.

The Parquet outputs are for programs (integer cents, rule names). This module writes the same
results for an analyst, into ``export/`` beside them: amounts in dollars (exact decimals built from
the cents with integer arithmetic; an Excel cell then holds them as numbers), plan names beside plan
ids, words beside codes, a count per rule.

- a run (:func:`export_run`): the forms (with their filing status), the quarantine (with the
  offending value where it is not personal data, and the disbursement's amount), the quarantine by
  rule (rows and disbursements), the edit checks and the edit checks by rule, and a summary;
- a reconciliation (:func:`export_reconciliation`): the checks and the breaks with the
  disbursements behind them;
- a corrections run (:func:`export_corrections`): the corrected returns with their boxes.

CSV: one file per sheet (``forms.csv``, ...); xlsx: one workbook (``results.xlsx``,
``reconciliation.xlsx``, ``corrections.xlsx``). The folder is written beside and swapped into place
whole, so a reader never sees half an export; the same outputs give the same bytes.

Personal data: the exports name a recipient by ``payee_id`` and account number only; the
recipient's TIN, name and address are left out unless ``personal=True`` (``--export-personal``),
which adds the name and the TIN. The export folder sits inside OUT_DIR and has its protection.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from flows.io.outputs import swap_folder
from flows.render.reconcile_html import CHECK_WORDS, MEASURE_WORDS
from transforms.kernels.dollars import decimal_text
from transforms.kernels.dollars import dollars as money_text

FORMATS = ("csv", "xlsx")
FOLDER = "export"
MONEY_FORMAT = "#,##0.00"


def dollars(col: str | pl.Expr) -> pl.Expr:
    """Integer cents as an exact decimal number of dollars (``123456`` → ``1234.56``), through text
    built with integer arithmetic (:func:`transforms.kernels.dollars.decimal_text`) — never a float."""
    return decimal_text(pl.col(col) if isinstance(col, str) else col).cast(pl.Decimal(38, 2))


def dollars_text(col: str | pl.Expr) -> pl.Expr:
    """Cents as ``$1,234.56`` (:func:`transforms.kernels.dollars.dollars`; for text columns that mix
    amounts and counts)."""
    return money_text(pl.col(col) if isinstance(col, str) else col)


def _money_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if isinstance(t, pl.Decimal)]


def write_sheets(
    sheets: dict[str, pl.DataFrame], folder: Path, fmt: str, workbook: str, when: datetime
) -> list[str]:
    """``sheets`` as CSV files (one per sheet, named after it) or one xlsx workbook, in ``folder``."""
    names = []
    if fmt == "csv":
        for title, frame in sheets.items():
            name = title.lower().replace(" ", "_") + ".csv"
            frame.write_csv(folder / name, date_format="%Y-%m-%d")
            names.append(name)
        return names
    import xlsxwriter

    path = folder / f"{workbook}.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"created": when, "author": "prorata"})  # fixed: same outputs, same bytes
    for title, frame in sheets.items():
        money = _money_columns(frame)
        frame.write_excel(
            workbook=book,
            worksheet=title[:31],
            column_formats={c: MONEY_FORMAT for c in money} or None,
            autofit=frame.height <= 10_000,
            freeze_panes=(1, 0),
            table_style="Table Style Light 1",
        )
    book.close()
    return [path.name]


def swap_in(parent: Path, write) -> Path:
    """``parent/export`` written through ``write(tmp)`` and swapped into place."""
    return swap_folder(Path(parent) / FOLDER, write)


def _plans(out_dir: Path) -> pl.DataFrame:
    path = out_dir / "payers.parquet"
    if not path.is_file():
        return pl.DataFrame(schema={"plan_id": pl.String, "plan_name": pl.String})
    return pl.read_parquet(path, columns=["plan_id", "plan_name"])


def recordkeeper_accounts(out_dir: Path) -> pl.DataFrame:
    """form_id → the recordkeeper's own account number (``accounts.parquet``; empty without it)."""
    path = out_dir / "accounts.parquet"
    if not path.is_file():
        return pl.DataFrame(schema={"form_id": pl.String, "recordkeeper_account": pl.String})
    return pl.read_parquet(path, columns=["form_id", "recordkeeper_account"])


BOX_COLUMNS = {
    "box1_cents": "Box 1 gross distribution",
    "box2a_cents": "Box 2a taxable amount",
    "box3_cents": "Box 3 capital gain",
    "box4_cents": "Box 4 federal income tax withheld",
    "box5_cents": "Box 5 employee contributions / designated Roth",
    "box6_cents": "Box 6 net unrealized appreciation",
    "box8_cents": "Box 8 other",
    "box9b_cents": "Box 9b total employee contributions",
    "box10_cents": "Box 10 amount allocable to IRR within 5 years",
    "state_withholding_cents": "Box 14 state tax withheld",
    "state_distribution_cents": "Box 16 state distribution",
    "local_withholding_cents": "Box 17 local tax withheld",
    "local_distribution_cents": "Box 19 local distribution",
}


def forms_sheet(out_dir: Path, personal: bool = False) -> pl.DataFrame:
    """One row per form, boxes in dollars, with its plan name and filing status."""
    forms = pl.read_parquet(out_dir / "forms.parquet")
    checks = pl.read_parquet(out_dir / "edit_checks.parquet", columns=["form_id", "severity"])
    blocked = checks.filter(pl.col("severity") == "error").group_by("form_id").len("errors")
    from transforms.law.params import TaxParameters

    years = forms.get_column("tax_year").unique().to_list()
    threshold = TaxParameters.for_year(int(years[0])).filing_threshold_cents if years else 1000
    frame = (
        forms.join(_plans(out_dir), on="plan_id", how="left")
        .join(blocked, on="form_id", how="left")
        .join(recordkeeper_accounts(out_dir), on="form_id", how="left")
    )
    status = (
        pl.when(pl.col("errors").is_not_null())
        .then(pl.lit("held back: blocking edit check"))
        .when(pl.col("box1_cents") < threshold)
        .then(pl.lit("not filed: box 1 under $10"))
        .otherwise(pl.lit("to file"))
    )
    cols = [
        pl.col("form_id").alias("Form"),
        pl.col("tax_year").alias("Tax year"),
        pl.col("plan_id").alias("Plan"),
        pl.col("plan_name").alias("Plan name"),
        pl.col("payee_id").alias("Payee"),
        pl.col("account_number").alias("Account number (IRS)"),
        pl.col("recordkeeper_account").alias("Recordkeeper account"),
        status.alias("Filing status"),
    ]
    if personal:  # --export-personal: the recipient's name and TIN beside the form
        people = pl.read_parquet(
            out_dir / "recipients.parquet", columns=["payee_id", "tin", "first_name", "last_name"]
        )
        frame = frame.join(people, on="payee_id", how="left")
        name = pl.concat_str([pl.col("first_name").fill_null(""), pl.col("last_name")], separator=" ")
        cols += [name.str.strip_chars().alias("Recipient name"), pl.col("tin").alias("Recipient TIN")]
    cols += [dollars(c).alias(BOX_COLUMNS[c]) for c in ("box1_cents", "box2a_cents")]
    cols += [
        pl.col("taxable_not_determined").alias("Box 2b taxable amount not determined"),
        pl.col("total_distribution").alias("Box 2b total distribution"),
    ]
    cols += [
        dollars(c).alias(BOX_COLUMNS[c]) for c in ("box3_cents", "box4_cents", "box5_cents", "box6_cents")
    ]
    cols += [
        pl.col("distribution_codes").alias("Box 7 distribution codes"),
        dollars("box8_cents").alias(BOX_COLUMNS["box8_cents"]),
    ]
    cols += [
        pl.col("box9a_percent").alias("Box 9a percent"),
        dollars("box9b_cents").alias(BOX_COLUMNS["box9b_cents"]),
    ]
    cols += [
        dollars("box10_cents").alias(BOX_COLUMNS["box10_cents"]),
        pl.col("box11_year").alias("Box 11 first year of designated Roth"),
    ]
    cols += [
        pl.col("box13_date").alias("Box 13 date of payment"),
        dollars("state_withholding_cents").alias(BOX_COLUMNS["state_withholding_cents"]),
        pl.col("state").alias("Box 15 state"),
        pl.col("state_payer_id").alias("Box 15 payer's state no."),
        dollars("state_distribution_cents").alias(BOX_COLUMNS["state_distribution_cents"]),
        dollars("local_withholding_cents").alias(BOX_COLUMNS["local_withholding_cents"]),
        pl.col("locality").alias("Box 18 name of locality"),
        dollars("local_distribution_cents").alias(BOX_COLUMNS["local_distribution_cents"]),
    ]
    return frame.select(cols)


def quarantine_by_rule(out_dir: Path) -> list[tuple[str, int, int]]:
    """(rule, disbursements, rows) for every quarantine rule of a run, most disbursements first."""
    path = Path(out_dir) / "quarantine.parquet"
    if not path.is_file():
        return []
    q = pl.read_parquet(path, columns=["table", "rule"])
    counts = q.group_by("rule").agg(
        (pl.col("table") == "distributions").sum().alias("d"), pl.len().alias("n")
    )
    return [tuple(r) for r in counts.sort(["d", "n", "rule"], descending=[True, True, False]).iter_rows()]


def _rule_columns() -> dict[tuple[str, str], str]:
    """(table, rule) → the one column a single-table rule checks, where that column holds no
    personal data: its value is shown beside the quarantined row."""
    from contracts.rules import SINGLE_TABLE_RULES
    from flows.importer.core import NOT_QUOTED

    out: dict[tuple[str, str], str] = {}
    for r in SINGLE_TABLE_RULES:
        if r.column is None or r.column in NOT_QUOTED.get(r.table, set()):
            continue
        if (r.table, r.name) in out and out[(r.table, r.name)] != r.column:
            out[(r.table, r.name)] = ""  # a rule over several columns: no single value to show
        else:
            out.setdefault((r.table, r.name), r.column)
    return {k: v for k, v in out.items() if v}


def quarantine_frame(out_dir: Path, extract_dir: Path | None) -> pl.DataFrame:
    """quarantine.parquet with, from the extract when it is given: the disbursement's plan and
    amount (distributions rows), and the offending value of a one-column rule (not personal data)."""
    from contracts.extract import TABLES
    from contracts.loading import read_table

    q = pl.read_parquet(out_dir / "quarantine.parquet").with_columns(
        pl.lit(None, pl.String).alias("plan_id"),
        pl.lit(None, pl.Int64).alias("amount_cents"),
        pl.lit(None, pl.String).alias("column"),
        pl.lit(None, pl.String).alias("value"),
    )
    if extract_dir is None or q.height == 0:
        return q
    d = read_table(extract_dir, TABLES["distributions"])
    if d is not None:
        facts = d.select(
            pl.col("distribution_id").alias("key"),
            pl.col("plan_id").alias("_p"),
            pl.col("amount_cents").alias("_a"),
        ).unique("key", keep="first")
        q = (
            q.join(
                facts.with_columns(pl.lit("distributions").alias("table")), on=["table", "key"], how="left"
            )
            .with_columns(pl.col("_p").alias("plan_id"), pl.col("_a").alias("amount_cents"))
            .drop("_p", "_a")
        )
    values = []
    for (table, rule), column in _rule_columns().items():
        rows = q.filter((pl.col("table") == table) & (pl.col("rule") == rule))
        if rows.height == 0:
            continue
        frame = read_table(extract_dir, TABLES[table])
        if frame is None or column not in frame.columns:
            continue
        key = pl.concat_str([pl.col(k).cast(pl.String) for k in TABLES[table].key], separator="|")
        found = frame.select(key.alias("key"), pl.col(column).cast(pl.String).alias("_v")).unique(
            "key", keep="first"
        )
        values.append(
            rows.select("table", "key", "rule")
            .join(found, on="key", how="left")
            .with_columns(pl.lit(column).alias("_c"))
        )
    if values:
        q = (
            q.join(pl.concat(values), on=["table", "key", "rule"], how="left")
            .with_columns(pl.col("_c").alias("column"), pl.col("_v").alias("value"))
            .drop("_c", "_v")
        )
    return q


def quarantine_sheets(out_dir: Path, extract_dir: Path | None) -> dict[str, pl.DataFrame]:
    q = quarantine_frame(out_dir, extract_dir).join(_plans(out_dir), on="plan_id", how="left")
    rows = q.select(
        pl.col("table").alias("Table"),
        pl.col("key").alias("Key"),
        pl.col("event_id").alias("Event"),
        pl.col("plan_id").alias("Plan"),
        pl.col("plan_name").alias("Plan name"),
        pl.col("rule").alias("Rule"),
        pl.col("message").alias("Message"),
        pl.col("column").alias("Column"),
        pl.col("value").alias("Value"),
        dollars("amount_cents").alias("Amount"),
    )
    by_rule = (
        q.group_by("rule")
        .agg(
            pl.len().alias("Rows"),
            (pl.col("table") == "distributions").sum().alias("Disbursements"),
            pl.col("amount_cents").sum().alias("_amount"),
            pl.col("message").first().alias("Message"),
        )
        .sort(["Disbursements", "Rows", "rule"], descending=[True, True, False])
        .select(
            pl.col("rule").alias("Rule"),
            "Disbursements",
            "Rows",
            dollars("_amount").alias("Amount of the disbursements"),
            "Message",
        )
    )
    return {"Quarantine": rows, "Quarantine by rule": by_rule}


def edit_check_sheets(out_dir: Path) -> dict[str, pl.DataFrame]:
    checks = pl.read_parquet(out_dir / "edit_checks.parquet").join(_plans(out_dir), on="plan_id", how="left")
    rows = checks.select(
        pl.col("plan_id").alias("Plan"),
        pl.col("plan_name").alias("Plan name"),
        pl.col("form_id").alias("Form"),
        pl.col("account_number").alias("Account number (IRS)"),
        pl.col("severity").alias("Severity"),
        pl.col("check").alias("Check"),
        pl.col("message").alias("Message"),
        pl.col("reference").alias("Reference"),
    )
    by_rule = (
        checks.group_by("severity", "check")
        .agg(
            pl.col("form_id").n_unique().alias("Forms"),
            pl.len().alias("Findings"),
            pl.col("message").first().alias("Message"),
        )
        .sort(["severity", "Forms", "check"], descending=[False, True, False])
        .select(
            pl.col("severity").alias("Severity"),
            pl.col("check").alias("Check"),
            "Forms",
            "Findings",
            "Message",
        )
    )
    return {"Edit checks": rows, "Edit checks by rule": by_rule}


def summary_sheet(manifest: dict) -> pl.DataFrame:
    """The run's manifest as label and value, amounts in dollars."""
    from flows.render.reconcile_html import money

    rows = [
        ("Run", manifest.get("run_id")),
        ("Extract", manifest.get("extract_id")),
        ("Recordkeeper", manifest.get("recordkeeper")),
        ("Tax year", manifest.get("tax_year")),
    ]
    d = manifest.get("rows", {}).get("distributions", {})
    rows += [("Disbursements in", d.get("in")), ("Disbursements reported", d.get("out"))]
    rows += [
        ("Disbursements quarantined", d.get("quarantined")),
        ("Forms 1099-R", manifest.get("forms", {}).get("count")),
    ]
    rows += [("Forms to file", manifest.get("forms", {}).get("to_file"))]
    totals = manifest.get("totals") or {}
    rows += [(label, money(totals[key])) for key, label in BOX_COLUMNS.items() if key in totals]
    return pl.DataFrame(
        {"Item": [r[0] for r in rows], "Value": [str(r[1]) if r[1] is not None else "" for r in rows]}
    )


def _publish(folder: Path, sheets: dict[str, pl.DataFrame], fmt: str, workbook: str) -> Path:
    """``sheets`` into ``folder/export/``, dated 1 January after the tax year of ``folder``'s
    manifest (a fixed date: the same results give the same bytes)."""
    import json

    year = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("tax_year")
    when = datetime(int(year) + 1, 1, 1) if isinstance(year, int) else datetime(2000, 1, 1)
    return swap_in(folder, lambda tmp: write_sheets(sheets, tmp, fmt, workbook, when))


def export_run(out_dir: Path, fmt: str, extract_dir: Path | None = None, *, personal: bool = False) -> Path:
    """A run's results for people, in ``OUT_DIR/export/`` (see the module docstring)."""
    import json

    out_dir = Path(out_dir)
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    sheets = {"Summary": summary_sheet(manifest), "Forms": forms_sheet(out_dir, personal)}
    sheets |= quarantine_sheets(out_dir, extract_dir)
    sheets |= edit_check_sheets(out_dir)
    return _publish(out_dir, sheets, fmt, "results")


STATUS_WORDS = {"ok": "agrees", "break": "BREAK", "no_control_totals": "no control totals given"}


def plan_names(plans: pl.DataFrame) -> pl.Expr:
    """``plan_id`` (one plan, or several joined with ``+``) as its plan names."""
    names = dict(plans.select("plan_id", "plan_name").iter_rows())
    return (
        pl.col("plan_id")
        .str.split("+")
        .list.eval(pl.element().replace_strict(names, default=pl.element()))
        .list.join(" + ")
    )


def checks_report(checks: pl.DataFrame, plans: pl.DataFrame) -> pl.DataFrame:
    """The reconciliation checks in words and dollars (``reconciliation.csv``)."""
    count = pl.col("measure") == "disbursement_count"

    def amount(col: str) -> pl.Expr:
        return pl.when(count).then(pl.col(col).cast(pl.String)).otherwise(dollars_text(col))

    return checks.select(
        pl.col("check").replace_strict(CHECK_WORDS, default=pl.col("check")).alias("Check"),
        pl.col("plan_id").alias("Plan"),
        plan_names(plans).alias("Plan name"),
        pl.col("month").dt.strftime("%Y-%m").alias("Month"),
        pl.col("measure").replace_strict(MEASURE_WORDS, default=pl.col("measure")).alias("What"),
        amount("expected").alias("Expected"),
        amount("actual").alias("Actual"),
        amount("difference").alias("Difference"),
        amount("reported").alias("Reported"),
        amount("quarantined").alias("Quarantined"),
        pl.col("status").replace_strict(STATUS_WORDS, default=pl.col("status")).alias("Result"),
        pl.col("break_id").alias("Break"),
    )


def breaks_report(trace: pl.DataFrame, plans: pl.DataFrame) -> pl.DataFrame:
    """Every break with the disbursements behind it, in dollars."""
    return trace.select(
        pl.col("break_id").alias("Break"),
        pl.col("check").replace_strict(CHECK_WORDS, default=pl.col("check")).alias("Check"),
        pl.col("plan_id").alias("Plan"),
        plan_names(plans).alias("Plan name"),
        pl.col("month").dt.strftime("%Y-%m").alias("Month"),
        pl.col("distribution_id").alias("Disbursement"),
        pl.col("event_id").alias("Event"),
        pl.col("form_id").alias("Form"),
        pl.col("disposition").alias("What happened to it"),
        dollars("amount_cents").alias("Amount"),
        dollars("federal_withholding_cents").alias("Federal income tax withheld"),
        dollars("reported_amount_cents").alias("Amount reported"),
    )


def export_reconciliation(recon_dir: Path, outputs_dir: Path, fmt: str) -> Path:
    """A reconciliation for people, in ``RECON_DIR/export/``: its checks and its breaks with the
    disbursements behind them, in dollars and plan names."""

    recon_dir = Path(recon_dir)
    plans = _plans(Path(outputs_dir))
    checks = pl.read_parquet(recon_dir / "reconciliation.parquet")
    trace = pl.read_parquet(recon_dir / "reconciliation_breaks.parquet")
    sheets = {"Checks": checks_report(checks, plans), "Breaks": breaks_report(trace, plans)}
    return _publish(recon_dir, sheets, fmt, "reconciliation")


ROLE_WORDS = {
    "type1": "corrected return (one-step: wrong amount, code or check box)",
    "type2_void": "original voided (two-step correction: wrong payee or form)",
    "type2_correct": "new return replacing the voided one (two-step correction)",
    "void": "return that should not have been filed, zeroed",
    "late_original": "original return filed late",
}


def export_corrections(corr_dir: Path, outputs_dir: Path | None, fmt: str) -> Path:
    """A corrections run for people, in ``DIR/export/``: each corrected return with what changed
    and, where the return has a current form, its boxes in dollars (from the year's outputs)."""

    corr_dir = Path(corr_dir)
    records = pl.read_parquet(corr_dir / "corrections.parquet")
    frame = records.select(
        pl.col("form_id").alias("Form"),
        pl.col("lineage_account").alias("Account number (IRS)"),
        pl.col("role").replace_strict(ROLE_WORDS, default=pl.col("role")).alias("Kind"),
        pl.col("corrected").alias("Pub 1220 correction code"),
        pl.col("changed").list.join(", ").alias("What changed"),
        pl.col("match").alias("Matched on"),
    )
    if outputs_dir is not None and (Path(outputs_dir) / "forms.parquet").is_file():
        forms = forms_sheet(Path(outputs_dir)).drop("Account number (IRS)")
        frame = frame.join(forms, on="Form", how="left")
    return _publish(corr_dir, {"Corrections": frame}, fmt, "corrections")
