"""The review of a prepared filing (review.html, review.csv) and the nightly snapshot it compares with.

A person approves a filing from this report (docs/OPERATIONS.md, "Prepare, review, approve"): the
returns it sends counted and totalled per payer and plan, state and box 7 code (dollars, plan
names); the edit checks of the year (errors that hold returns back, warnings); the returns held back
and why; what changed since the last nightly (forms new, changed or gone, and the extracts that
came in); the transmissions. A TEST filing says so at the top and in every row of the CSV. Plan
ids and names, payer names, form ids, counts and amounts only — never a TIN, a payee's name or an
address.

The nightly snapshot (``STORE/ytd/TAX_YEAR/nightly/current.parquet`` and ``previous.parquet``):
after each rebuild, one row per form — form id, plan, state, codes, box 1 and a hash of the whole
form — and the ledger's extract ids, so that "what changed since the last nightly" compares two
builds without keeping two copies of the forms.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import polars as pl
import polars_hash  # noqa: F401  (registers the .chash expression namespace)

from flows.io import store as st
from flows.io.outputs import write_parquet
from flows.render.reconcile_html import CSS, money
from flows.render.reconcile_html import _table as table
from transforms.kernels.dollars import decimal_text

MONEY = {
    "box1_cents": "box 1 gross",
    "box2a_cents": "box 2a taxable",
    "box4_cents": "box 4 federal tax withheld",
    "box5_cents": "box 5 employee contributions",
    "box10_cents": "box 10 IRR",
    "state_withholding_cents": "box 14 state tax withheld",
}
GROUP = ["plan_id", "plan_name", "payer_name", "state", "distribution_codes"]
MAX_ROWS = 200  # form ids listed per section of the page; the CSV and Parquet hold them all


# ---- the nightly snapshot ------------------------------------------------------------------------


def _snapshot_dir(store: st.Store, tax_year: int) -> Path:
    return store.year(tax_year) / "nightly"


def snapshot_forms(store: st.Store, tax_year: int) -> None:
    """Keep a digest of the year's forms as just rebuilt (current) and of the build before it
    (previous). Called by the rebuild, holding the store lock."""
    out = store.outputs(tax_year)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    # a form and its payee's block (a name or an address fixed changes the return too)
    payees = pl.read_parquet(out / "recipients.parquet")
    forms = pl.read_parquet(out / "forms.parquet").join(payees, on="payee_id", how="left", suffix="_payee")
    row = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("\x00") for c in forms.columns], separator="\x1f"
    )
    digest = forms.select(
        "form_id",
        "plan_id",
        "state",
        "distribution_codes",
        "box1_cents",
        row.chash.sha2_256().alias("digest"),
        pl.lit(manifest["extract_id"]).alias("ytd_id"),
        pl.lit(st.ledger(store, tax_year)["extract_id"].to_list(), pl.List(pl.String)).alias("extracts"),
    )
    folder = _snapshot_dir(store, tax_year)
    folder.mkdir(parents=True, exist_ok=True)
    current = folder / "current.parquet"
    if current.is_file():
        before = pl.read_parquet(current, columns=["ytd_id"], n_rows=1)
        if before.height and before["ytd_id"][0] == manifest["extract_id"]:
            return  # the same build again
        current.replace(folder / "previous.parquet")
    write_parquet(digest, current)


def changes_since_last_nightly(store: st.Store, tax_year: int) -> tuple[dict, pl.DataFrame]:
    """What the last nightly changed: (summary, one row per form new, changed or gone with its plan)."""
    folder = _snapshot_dir(store, tax_year)
    empty = pl.DataFrame(schema={"form_id": pl.String, "plan_id": pl.String, "change": pl.String})
    if not (folder / "current.parquet").is_file():
        return {"previous": None, "new_extracts": []}, empty
    now = pl.read_parquet(folder / "current.parquet")
    if not (folder / "previous.parquet").is_file():
        extracts = now["extracts"][0].to_list() if now.height else []
        return {"previous": None, "new_extracts": extracts}, empty
    before = pl.read_parquet(folder / "previous.parquet")
    cols = ["form_id", "plan_id", "digest"]
    joined = now.select(cols).join(
        before.select(cols), on="form_id", how="full", coalesce=True, suffix="_was"
    )
    changes = (
        joined.with_columns(
            pl.when(pl.col("digest_was").is_null())
            .then(pl.lit("new"))
            .when(pl.col("digest").is_null())
            .then(pl.lit("gone"))
            .when(pl.col("digest") != pl.col("digest_was"))
            .then(pl.lit("changed"))
            .alias("change"),
            pl.coalesce("plan_id", "plan_id_was").alias("plan_id"),
        )
        .filter(pl.col("change").is_not_null())
        .select("form_id", "plan_id", "change")
        .sort("change", "plan_id", "form_id")
    )
    was = set(before["extracts"][0].to_list()) if before.height else set()
    extracts = now["extracts"][0].to_list() if now.height else []
    return {
        "previous": before["ytd_id"][0] if before.height else None,
        "new_extracts": [e for e in extracts if e not in was],
    }, changes


# ---- the review ----------------------------------------------------------------------------------


def summary(rows: pl.DataFrame, plans: pl.DataFrame) -> pl.DataFrame:
    """Returns and totals per payer and plan, state, box 7 code (and, for corrections, the kind of
    record), integer cents."""
    keys = [*GROUP, *(["role"] if "role" in rows.columns else [])]
    named = rows.join(plans.select("plan_id", "plan_name"), on="plan_id", how="left")
    return (
        named.with_columns(pl.col("state").fill_null(""))
        .group_by(keys)
        .agg(pl.len().alias("returns"), *[pl.col(c).sum() for c in MONEY])
        .sort(keys)
    )


def review_csv(table_: pl.DataFrame, test_file: bool, filing_id: str) -> pl.DataFrame:
    """review.csv: the summary in dollars, each row saying which filing and whether it is a TEST file."""
    return table_.select(
        pl.lit(filing_id).alias("filing_id"),
        pl.lit("TEST FILE" if test_file else "production").alias("file"),
        pl.exclude(*MONEY),
        *[decimal_text(pl.col(c)).alias(name.replace(" ", "_")) for c, name in MONEY.items()],
    )


def render(
    *,
    heading: dict[str, str],
    test_file: bool,
    table_: pl.DataFrame,
    checks: pl.DataFrame,
    held: pl.DataFrame,
    changes: tuple[dict, pl.DataFrame],
    transmissions: list[dict],
) -> str:
    """review.html: one self-contained page (inline CSS, no script, no network)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>prorata filing review</title>",
        f"<style>{CSS}\n.test{{background:#c62828;color:#fff;padding:8px;font-weight:700}}</style></head><body>",
    ]
    if test_file:
        parts.append(
            '<p class="test">TEST FILE — no transmitter settings (or test_file = true): this filing is a '
            "rehearsal and can never become the year's production filing.</p>"
        )
    parts.append("<h1>Filing for review</h1>")
    parts.append(
        "<p>" + " · ".join(f"{escape(k)}: <b>{escape(str(v))}</b>" for k, v in heading.items()) + "</p>"
    )
    parts.append("<h2>Transmissions</h2>")
    parts.append(
        table(
            ["file", "kind", "returns", "unique transmission id", "replaces"],
            [
                [
                    escape(t["file"]),
                    escape(t["kind"]),
                    f"{t['returns']:,}",
                    escape(t.get("utid") or "-"),
                    escape(t.get("replaces") or "-"),
                ]
                for t in transmissions
            ],
            left_cols=2,
        )
    )
    totals = table_.select(pl.col("returns").sum(), *[pl.col(c).sum() for c in MONEY]).row(0, named=True)
    parts.append("<h2>Returns per payer and plan, state and box 7 code</h2>")
    keys = [c for c in table_.columns if c not in MONEY and c != "returns"]
    rows = [
        [escape(str(r[k] if r[k] is not None else "")) for k in keys]
        + [f"{r['returns']:,}"]
        + [money(r[c]) for c in MONEY]
        for r in table_.to_dicts()
    ]
    rows.append(
        [
            "<b>total</b>",
            *[""] * (len(keys) - 1),
            f"<b>{totals['returns'] or 0:,}</b>",
            *[f"<b>{money(totals[c] or 0)}</b>" for c in MONEY],
        ]
    )
    parts.append(table([*keys, "returns", *MONEY.values()], rows, left_cols=len(keys)))
    parts.append("<h2>Edit checks of the year</h2>")
    by_check = (
        checks.group_by("severity", "check", "message")
        .agg(pl.len().alias("forms"), pl.col("form_id").sort().head(5))
        .sort("severity", "check")
    )
    if by_check.height:
        parts.append(
            table(
                ["severity", "check", "message", "forms", "first form ids"],
                [
                    [
                        escape(r["severity"]),
                        escape(r["check"]),
                        escape(r["message"]),
                        f"{r['forms']:,}",
                        escape(", ".join(r["form_id"])),
                    ]
                    for r in by_check.to_dicts()
                ],
                left_cols=3,
            )
        )
        parts.append('<p class="muted">errors hold a return back; warnings do not.</p>')
    else:
        parts.append("<p>No edit check failed.</p>")
    parts.append("<h2>Returns held back</h2>")
    if held.height:
        parts.append(
            table(
                ["form id", "reason", "what to do"],
                [
                    [escape(str(r.get("form_id") or "")), escape(r["reason"]), escape(r.get("action") or "")]
                    for r in held.head(MAX_ROWS).to_dicts()
                ],
                left_cols=3,
            )
        )
        if held.height > MAX_ROWS:
            parts.append(f'<p class="muted">and {held.height - MAX_ROWS:,} more: see held.parquet</p>')
    else:
        parts.append("<p>None.</p>")
    facts, changed = changes
    parts.append("<h2>What changed since the last nightly</h2>")
    parts.append(
        "<p>"
        + (
            f"compared with build {escape(facts['previous'])}; "
            if facts.get("previous")
            else "first build of the year; "
        )
        + "extracts new since: "
        + (escape(", ".join(facts.get("new_extracts") or [])) or "none")
        + "</p>"
    )
    if changed.height:
        counts = changed.group_by("plan_id", "change").len().sort("plan_id", "change")
        parts.append(
            table(
                ["plan", "change", "forms"],
                [[escape(p), escape(c), f"{n:,}"] for p, c, n in counts.rows()],
                left_cols=2,
            )
        )
        parts.append(
            table(
                ["form id", "plan", "change"],
                [[escape(f), escape(p or ""), escape(c)] for f, p, c in changed.head(MAX_ROWS).rows()],
                left_cols=3,
            )
        )
    else:
        parts.append("<p>No form changed.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_review(
    folder: Path,
    *,
    filing_id: str,
    heading: dict[str, str],
    test_file: bool,
    rows: pl.DataFrame,
    plans: pl.DataFrame,
    checks: pl.DataFrame,
    held: pl.DataFrame,
    changes: tuple[dict, pl.DataFrame],
    transmissions: list[dict],
) -> list[str]:
    """review.html and review.csv into ``folder`` (a staging folder: written atomically with it)."""
    table_ = summary(rows, plans)
    review_csv(table_, test_file, filing_id).write_csv(folder / "review.csv")
    page = render(
        heading=heading,
        test_file=test_file,
        table_=table_,
        checks=checks,
        held=held,
        changes=changes,
        transmissions=transmissions,
    )
    (folder / "review.html").write_text(page, encoding="utf-8")
    return ["review.html", "review.csv"]
