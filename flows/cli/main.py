"""The ``prorata`` command line.

    prorata run EXTRACT_DIR --out OUT_DIR        split an extract and write the 1099-R outputs
    prorata sample --disbursements N --seed S --out DIR
    prorata explain DISTRIBUTION_ID --out OUT_DIR
    prorata reconcile --extract EXTRACT_DIR --run OUT_DIR --out DIR

Errors are one line on stderr naming the file and the problem; exit status 2 for a bad extract,
target folder or file-system fault, 1 for an unexpected failure (``--debug`` shows the traceback),
130 for Ctrl-C and 143 for SIGTERM (the outputs left as they were). Files are created readable by
their owner only (``PRORATA_GROUP_READABLE=1``: and their group), whatever the umask.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from flows.environment import BadVariable, environment
from flows.errors import DEBUG, Terminated, forget_signals, on_signal, printable
from flows.prefect import env as prefect_env
from transforms.kernels.dollars import dollars_text

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


def _err(message: str) -> None:
    print(f"prorata: error: {printable(message)}", file=sys.stderr)


def _progress(quiet: bool):
    start = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            print(f"  [{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

    return say


def summary_text(manifest: dict, out_dir: Path) -> str:
    from flows.render.exports import quarantine_by_rule

    rows = manifest["rows"]["distributions"]
    t = manifest["totals"]
    lines = [
        f"prorata run: extract {printable(manifest['extract_id'])} (tax year {manifest['tax_year']}), run {manifest['run_id']}",
        f"  disbursements  in {rows['in']:,}   out {rows['out']:,}   quarantined {rows['quarantined']:,}",
        f"  forms 1099-R   {manifest['forms']['count']:,}"
        + (
            f"   ({manifest['forms']['below_filing_threshold']:,} under $10, kept but not filed)"
            if manifest["forms"]["below_filing_threshold"]
            else ""
        ),
        f"  box 1 {dollars_text(t['box1_cents'])}   box 2a {dollars_text(t['box2a_cents'])}   "
        f"box 4 {dollars_text(t['box4_cents'])}   box 5 {dollars_text(t['box5_cents'])}   box 10 {dollars_text(t['box10_cents'])}",
    ]
    checks = manifest.get("edit_checks", {})
    errors, warnings = sum(checks.get("error", {}).values()), sum(checks.get("warning", {}).values())
    lines.append(
        f"  edit checks    {errors:,} errors (block filing), {warnings:,} warnings; "
        f"{manifest['forms'].get('to_file', 0):,} forms to file"
    )
    by_rule = quarantine_by_rule(out_dir) if manifest.get("quarantine_by_rule") else []
    if by_rule:
        rows_all = sum(n for _, _, n in by_rule)
        lines.append(
            f"  quarantine     {rows['quarantined']:,} disbursements held back ({rows_all:,} rows of all tables), by rule:"
        )
        width = max(len(rule) for rule, _, _ in by_rule)
        lines += [f"    {rule:<{width}}  {d:>9,} disbursements  {n:>9,} rows" for rule, d, n in by_rule]
    if rows["in"] == 0:
        lines.append(
            "  note           distributions.parquet has no rows: no disbursement, no form, nothing to file"
        )
    secs = manifest.get("stage_seconds", {})
    if secs:
        lines.append("  stages         " + ", ".join(f"{k} {v:.1f} s" for k, v in secs.items()))
    irs = manifest.get("irs_filing") or {}
    if irs.get("file"):
        kind = "TEST file" if irs["test_file"] else "production file"
        why = "" if irs["transmitter_configured"] else " (no prorata.toml: placeholder transmitter)"
        files = irs.get("files") or [irs["file"]]
        where = files[0] if len(files) == 1 else f"{len(files)} transmissions {files[0]} ... {files[-1]}"
        lines.append(f"  IRS filing     {irs['channel']} {kind}{why}: {where}, {irs['returns']:,} returns")
        if irs["channel"] == "IRIS":
            lines.append(
                f"                 validated against the IRS schema ({irs['schema_package']})"
                if irs.get("schema_checked")
                else "                 NOT checked against the IRS schema (no [iris] schema_package configured)"
            )
    elif "discarded_bytes" in irs:  # PRORATA_IRS_FILE_SINK=discard (benchmarks)
        lines.append(
            f"  IRS filing     {irs['channel']} file checked and NOT KEPT: {irs['discarded_bytes']:,} bytes,"
            f" sha256 {irs['sha256']}, {irs['returns']:,} returns"
        )
    lines.append(
        f"  outputs        {printable(out_dir)}/ (distributions, forms, quarantine, edit_checks, tieout_945, explain, irs/, manifest.json)"
    )
    from flows.render.statements import statements_note

    note = statements_note(out_dir, manifest.get("run_id"))
    if note:
        lines.append(note)
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from flows.prefect.server import start_early

    # Prefect's temporary server starts first, beside the imports and checks below (flows/prefect/server.py)
    with start_early(not args.no_prefect and not (args.dask_address or args.workers)) as early:
        return _cmd_run(args, early)


#: What a flow run imports on its first call (Prefect's engines, the validation's backends): imported
#: while the temporary server starts instead of after it is up (``prorata run``).
WARM_IMPORTS = (
    "flows.prefect.run_flow",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.artifacts",
    "prefect.concurrency",
    "pyarrow.compute",
    "pandera.backends.polars.container",
    "pandera.strategies",
    "fastapi",
)


def _warm_imports() -> None:
    import importlib

    for module in WARM_IMPORTS:
        importlib.import_module(module)


def _cmd_run(args: argparse.Namespace, early) -> int:
    from contracts.loading import precheck
    from flows.errors import operator_errors
    from flows.io.outputs import check_parent, check_target, check_writable
    from flows.irs.files import check_settings
    from flows.prefect.progress import RunProgress
    from flows.settings import load_settings
    from transforms.irs import FilingInputError

    extract_dir, out_dir = Path(args.extract_dir), Path(args.out)
    say = RunProgress.for_cli(_progress(args.quiet), args.quiet)  # + a bar when stderr is a terminal
    try:  # the checks that need no data, before any work
        check_parent(out_dir)
        check_target(out_dir.resolve())
        extract = precheck(extract_dir)
        check_writable(out_dir)
        settings = load_settings(Path(args.config) if args.config else None)
        check_settings(settings, extract.tax_year)
        if args.no_prefect:
            from flows.run.pipeline import run_pipeline

            manifest = run_pipeline(
                extract_dir, out_dir, progress=say, settings=settings, batch_rows=args.batch_rows
            ).manifest
        else:
            from flows.prefect.server import ephemeral

            _warm_imports()  # while the server starts

            with ephemeral(early=early):
                manifest = _run_flow(args, extract_dir, out_dir, say)
    except FilingInputError as exc:  # the IRS writer refused a form the checks let through
        _err(f"{out_dir / 'irs'}: {exc} (OUT_DIR is left as it was)")
        return EXIT_BAD_INPUT
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    say.finish()
    print(summary_text(manifest, out_dir))
    if args.export:
        from flows.render.exports import export_run

        folder = export_run(out_dir, args.export, extract_dir, personal=args.export_personal)
        print(f"  export         {folder}/ ({', '.join(sorted(p.name for p in folder.iterdir()))})")
    return 0


def _run_flow(args: argparse.Namespace, extract_dir: Path, out_dir: Path, say) -> dict:
    """``prorata run`` as the Prefect flow (in this process, or its plan batches on Dask)."""
    if args.dask_address or args.workers:
        say("starting the Prefect flow on a Dask cluster")
        from flows.prefect.run_flow import run_on_dask

        return run_on_dask(
            extract_dir,
            out_dir,
            address=args.dask_address,
            workers=args.workers,
            progress=say,
            config=args.config,
            batch_rows=args.batch_rows,
        )
    say("starting the Prefect flow")
    from flows.prefect.run_flow import prorata_run

    return prorata_run(extract_dir, out_dir, progress=say, config=args.config, batch_rows=args.batch_rows)


def cmd_sample(args: argparse.Namespace) -> int:
    from flows.sample import generate_extract

    out = Path(args.out)
    counts = generate_extract(
        out, args.disbursements, args.seed, tax_year=args.tax_year, fault_fraction=args.fault_fraction
    )
    rows = counts.get("rows", counts)
    print(
        f"prorata sample: wrote {out}/ "
        + ", ".join(f"{k} {v:,}" for k, v in rows.items() if isinstance(v, int))
    )
    return 0


EXPLAIN_LIMIT = 20  # disbursements printed for an event or an account number; the rest counted


def cmd_explain(args: argparse.Namespace) -> int:
    """The rule trace of disbursements found by distribution id, event id or account number (the
    form's, or the recordkeeper's own): a header (amount, destination, reason, payee and role,
    plan, form and account number) and a short block per step that applied."""
    import polars as pl

    from flows.render.exports import recordkeeper_accounts
    from transforms.engine.explain import DESTINATION_WORDS, REASON_WORDS, explanation, payee_role
    from transforms.kernels.dollars import dollars

    run_dir = run_folder(args)
    if run_dir is None:
        return EXIT_BAD_INPUT
    path = run_dir / "explain.parquet"
    if not path.is_file():
        _err(f"{path}: not found; run 'prorata run EXTRACT_DIR --out {run_dir}' first")
        return EXIT_BAD_INPUT
    key = args.id.strip()
    facts = pl.scan_parquet(path)
    hit = facts.filter((pl.col("distribution_id") == key) | (pl.col("event_id") == key)).collect()
    found_by = "id"
    if hit.height == 0:  # an account number: the form's (IRS) or the recordkeeper's own
        forms = pl.read_parquet(run_dir / "forms.parquet", columns=["form_id", "account_number"])
        accounts = recordkeeper_accounts(run_dir)
        ids = pl.concat(
            [
                forms.filter(pl.col("account_number") == key.upper()).select("form_id"),
                accounts.filter(pl.col("recordkeeper_account") == key).select("form_id"),
            ]
        )
        legs = pl.scan_parquet(run_dir / "distributions.parquet").join(ids.lazy(), on="form_id", how="semi")
        wanted = legs.select("distribution_id").collect()
        hit = facts.join(wanted.lazy(), on="distribution_id", how="semi").collect()
        found_by = "account number"
    if hit.height == 0:
        return _explain_quarantined(run_dir, key)
    hit = hit.sort("event_id", "distribution_id")
    legs = pl.read_parquet(
        run_dir / "distributions.parquet", columns=["distribution_id", "plan_id", "payee_id", "form_id"]
    )
    forms = pl.read_parquet(
        run_dir / "forms.parquet",
        columns=["form_id", "account_number", "box1_cents", "box4_cents", "distribution_codes"],
    )
    plans = pl.read_parquet(run_dir / "payers.parquet", columns=["plan_id", "plan_name"])
    rows = (
        hit.join(legs, on="distribution_id", how="left")
        .join(
            forms.rename({"distribution_codes": "form_codes", "box1_cents": "f1", "box4_cents": "f4"}),
            on="form_id",
            how="left",
        )
        .join(plans, on="plan_id", how="left")
        .join(recordkeeper_accounts(run_dir), on="form_id", how="left")
        .with_columns(
            explanation(),
            payee_role().alias("role"),
            pl.col("destination").replace_strict(DESTINATION_WORDS).alias("where"),
            pl.col("reason").replace_strict(REASON_WORDS, default=pl.col("reason")).alias("why"),
            dollars(pl.col("amount_cents")).alias("amount"),
            dollars(pl.col("f1")).alias("form_box1"),
            dollars(pl.col("f4")).alias("form_box4"),
        )
    )
    if found_by == "account number":
        print(f"account number {key}: {rows.height:,} disbursement(s)")
    for i, r in enumerate(rows.head(EXPLAIN_LIMIT).iter_rows(named=True)):
        if i:
            print()
        rk = f" (recordkeeper account {r['recordkeeper_account']})" if r.get("recordkeeper_account") else ""
        print(
            f"{r['distribution_id']} (event {r['event_id']}): {r['amount']}, {r['where']}, paid {r['payment_date']}"
        )
        print(
            f"  reason: {r['why']}; payee {r['payee_id']} ({r['role']}); plan {r['plan_id']} {r['plan_name'] or ''}".rstrip()
        )
        print(
            f"  form {r['form_id']}, account number {r['account_number']}{rk}: box 1 {r['form_box1']}, "
            f"box 4 {r['form_box4']}, box 7 {r['form_codes']}"
        )
        print(r["explanation"])
    if rows.height > EXPLAIN_LIMIT:
        print(
            f"\n… and {rows.height - EXPLAIN_LIMIT:,} more disbursements (explain one by its distribution id)"
        )
    return 0


def _explain_quarantined(run_dir: Path, key: str) -> int:
    import polars as pl

    q = run_dir / "quarantine.parquet"
    held = (
        pl.scan_parquet(q)
        .filter(((pl.col("table") == "distributions") & (pl.col("key") == key)) | (pl.col("event_id") == key))
        .collect()
        if q.is_file()
        else pl.DataFrame()
    )
    if held.height:
        for row in held.iter_rows(named=True):
            print(f"{row['table']} {row['key']} was quarantined: rule {row['rule']}: {row['message']}")
        return 0
    _err(f"no disbursement, event or account number {key!r} in {run_dir}")
    return EXIT_BAD_INPUT


EXIT_BREAKS = 3  # prorata reconcile: the reconciliation was written and found breaks


def extract_changed(extract_dir: Path, run_dir: Path) -> list[str]:
    """The files of ``extract_dir`` whose SHA-256 differs from what the run recorded
    (``input_sha256`` of its manifest), missing from it, or new to it."""
    from contracts.loading import file_hashes
    from flows.io.outputs import read_manifest

    recorded = (read_manifest(run_dir) or {}).get("input_sha256")
    if not isinstance(recorded, dict):
        return []
    now = file_hashes(extract_dir)
    return sorted(name for name in set(now) | set(recorded) if now.get(name) != recorded.get(name))


def cmd_reconcile(args: argparse.Namespace) -> int:
    import contextlib

    from contracts.loading import precheck
    from flows.errors import operator_errors
    from flows.io.outputs import OutputError, check_parent
    from flows.prefect.server import ephemeral
    from flows.run.reconcile import reconcile_extract, reconcile_year, summary_text

    out_dir = Path(args.out)
    by_store = args.store is not None or args.tax_year is not None
    if by_store == (args.extract is not None or args.run is not None) or (
        (args.store is None) != (args.tax_year is None) or (args.extract is None) != (args.run is None)
    ):
        _err("prorata reconcile: give either --extract and --run, or --store and --tax-year")
        return EXIT_BAD_INPUT
    try:  # the target is checked by the reconciliation itself (never a run, an extract or a store)
        check_parent(out_dir)
        if by_store:
            from flows.io.store import Store, StoreError

            if not Path(args.store).is_dir():
                raise StoreError(f"{args.store}: no such store folder; check the --store path")
            run_dir = Store(Path(args.store)).outputs(args.tax_year)
        else:
            precheck(Path(args.extract))
            changed = extract_changed(Path(args.extract), Path(args.run))
            if changed:
                raise OutputError(
                    f"{args.extract}: not the extract that {args.run} was run on ({', '.join(changed)} "
                    "changed); run prorata run on it first"
                )
            run_dir = Path(args.run)
        with contextlib.nullcontext() if args.no_prefect else ephemeral():
            if by_store:
                if args.no_prefect:
                    manifest = reconcile_year(Path(args.store), args.tax_year, out_dir)
                else:
                    from flows.prefect.reconcile import prorata_reconcile_year

                    manifest = prorata_reconcile_year(Path(args.store), args.tax_year, out_dir)
            elif args.no_prefect:
                manifest = reconcile_extract(Path(args.extract), Path(args.run), out_dir)
            else:
                from flows.prefect.reconcile import prorata_reconcile

                manifest = prorata_reconcile(Path(args.extract), Path(args.run), out_dir)
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(summary_text(manifest, out_dir))
    if args.export:
        from flows.render.exports import export_reconciliation

        folder = export_reconciliation(out_dir, run_dir, args.export)
        print(f"  export           {folder}/ ({', '.join(sorted(p.name for p in folder.iterdir()))})")
    return EXIT_BREAKS if manifest.get("breaks") else 0


def add_run_option(p: argparse.ArgumentParser, *, alias: bool = False, help: str | None = None) -> None:
    """``--run OUT_DIR``: how every command names the folder of a ``prorata run`` (explain,
    statements, reconcile). With ``alias``, the older ``--out`` still works (not shown); the
    command checks that one of them was given (:func:`run_folder`)."""
    p.add_argument("--run", dest="run", metavar="OUT_DIR", help=help or "the OUT_DIR of a prorata run")
    if alias:
        p.add_argument("--out", dest="run", help=argparse.SUPPRESS)


def run_folder(args: argparse.Namespace) -> Path | None:
    """The run folder a command was given (``--run``), or None after saying it is missing."""
    if not getattr(args, "run", None):
        _err(f"prorata {args.command}: give the run folder: --run OUT_DIR")
        return None
    return Path(args.run)


def _examples(*lines: str) -> dict:
    return {
        "epilog": "examples:\n" + "\n".join(f"  {x}" for x in lines),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


EXPORT_HELP = (
    "also write the results for people into OUT_DIR/export/: csv (one file per sheet) or xlsx (one "
    "workbook), amounts in dollars, plan names beside plan ids"
)


def build_parser() -> argparse.ArgumentParser:
    from flows.run.pipeline import software_version

    parser = argparse.ArgumentParser(
        prog="prorata",
        description="Form 1099-R taxable/non-taxable split pipeline",
        epilog="exit status: 0 done; 2 a bad input or target (one line on stderr); 1 an unexpected "
        "failure; 3 prorata reconcile found breaks. 'prorata COMMAND --help' shows each command.",
    )
    parser.add_argument("--version", action="version", version=f"prorata {software_version()}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="split an extract and write the 1099-R outputs",
        description="Read and validate EXTRACT_DIR (docs/spec/extract.md), split every disbursement and "
        "write the outputs of docs/spec/outputs.md into OUT_DIR, atomically.",
        **_examples(
            "prorata run sample_data/extract --out out/demo",
            "prorata run out/keystone-extract --out out/keystone --export xlsx --no-prefect",
        ),
    )
    run.add_argument(
        "extract_dir", metavar="EXTRACT_DIR", help="the canonical extract (Parquet files and manifest.json)"
    )
    run.add_argument(
        "--out",
        required=True,
        metavar="OUT_DIR",
        help="output folder, replaced atomically; its parent must exist",
    )
    run.add_argument("--no-prefect", action="store_true", help="run the stages in-process without Prefect")
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    run.add_argument(
        "--config",
        metavar="TOML",
        help="transmitter settings (default ./prorata.toml; without it a test file)",
    )
    run.add_argument(
        "--batch-rows", type=int, metavar="N", help="disbursements per plan batch (default 2,000,000)"
    )
    run.add_argument("--export", choices=("csv", "xlsx"), help=EXPORT_HELP)
    run.add_argument(
        "--export-personal",
        action="store_true",
        help="with --export: add the recipient's name and TIN to the forms sheet (default: payee id and account number only)",
    )
    cluster = run.add_mutually_exclusive_group()
    cluster.add_argument(
        "--dask-address",
        metavar="ADDRESS",
        help="run the plan batches on an existing Dask cluster (tcp://HOST:PORT)",
    )
    cluster.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run the plan batches on a local Dask cluster of N worker processes",
    )
    run.set_defaults(func=cmd_run)

    sample = sub.add_parser(
        "sample",
        help="generate a realistic synthetic extract",
        **_examples("prorata sample --disbursements 5000 --seed 2025 --out sample_data/extract"),
    )
    sample.add_argument(
        "--disbursements", type=int, required=True, metavar="N", help="rows of distributions.parquet"
    )
    sample.add_argument(
        "--seed", type=int, default=0, help="random seed: the same seed gives the same bytes (default 0)"
    )
    sample.add_argument(
        "--out", required=True, metavar="EXTRACT_DIR", help="folder to write the extract into"
    )
    sample.add_argument("--tax-year", type=int, default=2025, help="tax year of the payments (default 2025)")
    sample.add_argument(
        "--fault-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="share of events given a row fault, 0 to 1 (default 0)",
    )
    sample.set_defaults(func=cmd_sample)

    from flows.cli.statements import add_parser as add_statements_parser

    add_statements_parser(sub)

    explain = sub.add_parser(
        "explain",
        help="show the rule trace of a disbursement, an event or an account",
        description="The rule trace of the disbursements found by distribution id, event id or "
        "account number (the form's, or the recordkeeper's own): a short block per step that applied.",
        epilog="examples:\n  prorata explain D0000001 --run out/demo\n  prorata explain E000042 --run out/demo\n"
        "  prorata explain KRS-100003 --run out/keystone",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("id", help="a distribution id, an event id or an account number")
    add_run_option(explain, alias=True)
    explain.set_defaults(func=cmd_explain)

    recon = sub.add_parser(
        "reconcile",
        help="reconcile an extract with its run, or a store's tax year: control totals, forms, 945",
        description="Check, per plan and month, the extract against the trustee's control totals, that "
        "every disbursement is reported or quarantined exactly once, the forms against their "
        "disbursements and box 4 against the Form 945 tie-out. Exit status: 0 no break; 3 breaks "
        "found (the report is written); 2 refused (a bad input, or an extract that is not the one "
        "the run read).",
        **_examples(
            "prorata reconcile --extract sample_data/extract --run out/demo --out out/recon --export xlsx",
            "prorata reconcile --store STORE --tax-year 2025 --out out/recon-2025",
        ),
    )
    recon.add_argument("--extract", metavar="EXTRACT_DIR", help="the extract that was run (with --run)")
    add_run_option(recon, help="the OUT_DIR of its prorata run (with --extract)")
    recon.add_argument(
        "--store",
        metavar="STORE",
        help="a year-to-date store (with --tax-year): the live year and its outputs",
    )
    recon.add_argument("--tax-year", type=int, help="the store's tax year to reconcile (with --store)")
    recon.add_argument(
        "--out",
        required=True,
        metavar="RECON_DIR",
        help="reconciliation folder, replaced atomically; its parent must exist",
    )
    recon.add_argument("--no-prefect", action="store_true", help="run in-process without Prefect")
    recon.add_argument(
        "--export",
        choices=("csv", "xlsx"),
        help="also write the checks and the breaks for people into RECON_DIR/export/",
    )
    recon.set_defaults(func=cmd_reconcile)

    from flows.importer.cli import add_parser as add_import_parser

    add_import_parser(sub)

    from flows.cli.ops import add_parsers as add_ops_parsers

    add_ops_parsers(sub)
    return parser


STORE_MAY_BE_NEW = ("nightly", "serve")  # these create the store; the others need one that exists


def mistyped_folder(args: argparse.Namespace) -> str | None:
    """A folder option whose parent does not exist (``--out``, ``--store``, ``--dest``), or a
    ``--store`` that does not exist for a command that reads one: the one line to print. A typo is
    an error, never a new tree of folders."""
    from flows.io.outputs import OutputError, check_parent

    for option in ("out", "store", "dest"):
        value = getattr(args, option, None)
        if not value or (option == "out" and args.command == "explain"):
            continue
        try:
            check_parent(Path(value), f"--{option}")
        except OutputError as exc:
            return str(exc)
    store = getattr(args, "store", None)
    if store and args.command not in STORE_MAY_BE_NEW and not Path(store).is_dir():
        return f"{store}: no such store folder; check the --store path"
    return None


def private_umask() -> int:
    """The umask for files holding TINs, names and addresses (the store, OUT_DIR, statements):
    readable by their owner only — or also by their group with ``PRORATA_GROUP_READABLE=1`` —
    whatever umask the command was started with. Returns the umask it replaces."""
    return os.umask(0o027 if environment().group_readable else 0o077)


def main(argv: list[str] | None = None) -> int:
    prefect_env.configure()
    args = build_parser().parse_args(argv)
    try:  # a PRORATA_* variable that cannot mean anything stops the command before any work
        environment()
    except BadVariable as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    problem = mistyped_folder(args)
    if problem:
        _err(problem)
        return EXIT_BAD_INPUT
    debug_before = os.environ.get(DEBUG)
    if args.debug:  # tracebacks as they are, from Prefect's tasks too (flows.errors.scrubbed)
        os.environ[DEBUG] = "1"
    umask = private_umask()
    forget_signals()
    handlers = (
        {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        if _main_thread()
        else {}
    )
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        _err(("terminated" if terminated else "interrupted") + "; the outputs were left as they were")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BaseException as exc:
        if _is_termination(exc):  # Prefect's own SIGTERM handler, during a flow run
            _err("terminated; the outputs were left as they were")
            return EXIT_TERMINATED
        if not isinstance(exc, Exception) or args.debug:
            raise
        from flows.errors import InternalError, operator_errors, os_errno

        if isinstance(exc, operator_errors()):  # a command that does not catch its own
            _err(str(exc))
            return EXIT_BAD_INPUT
        code = os_errno(exc)
        if code is not None:  # a file-system fault no command caught: the path it names, or the target
            _err(f"{getattr(exc, 'filename', None) or _target(args)}: {os.strerror(code)}")
            return EXIT_BAD_INPUT
        what = str(exc) if isinstance(exc, InternalError) else f"unexpected {type(exc).__name__}"
        _err(f"{what}; rerun with --debug for details")  # one clear line, never a traceback
        return EXIT_INTERNAL
    finally:
        os.umask(umask)
        if debug_before is None:
            os.environ.pop(DEBUG, None)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        forget_signals()  # what this command was sent is not the next one's (tests run many in one process)


def _target(args: argparse.Namespace) -> str:
    """The folder a command writes (for a file-system fault that names no path)."""
    for name in ("dest", "out", "store", "out_dir"):
        if getattr(args, name, None):
            return str(getattr(args, name))
    return "."


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _is_termination(exc: BaseException) -> bool:
    if "prefect.exceptions" not in sys.modules:  # no flow ran
        return False
    from prefect.exceptions import TerminationSignal

    return isinstance(exc, TerminationSignal)


if __name__ == "__main__":
    sys.exit(main())
