"""The ``prorata`` command line.

    prorata run EXTRACT_DIR --out OUT_DIR        split an extract and write the 1099-R outputs
    prorata sample --disbursements N --seed S --out DIR
    prorata explain DISTRIBUTION_ID --out OUT_DIR
    prorata reconcile --extract EXTRACT_DIR --run OUT_DIR --out DIR

Errors are one line on stderr naming the file and the problem; exit status 2 for a bad extract or
target folder, 1 for an unexpected failure (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from flows import prefect_env

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1


def _err(message: str) -> None:
    print(f"prorata: error: {message}", file=sys.stderr)


def _progress(quiet: bool):
    start = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            print(f"  [{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

    return say


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}" if abs(cents) < 10**15 else f"{cents} cents"


def summary_text(manifest: dict, out_dir: Path) -> str:
    rows = manifest["rows"]["distributions"]
    t = manifest["totals"]
    lines = [
        f"prorata run: extract {manifest['extract_id']} (tax year {manifest['tax_year']}), run {manifest['run_id']}",
        f"  disbursements  in {rows['in']:,}   out {rows['out']:,}   quarantined {rows['quarantined']:,}",
        f"  forms 1099-R   {manifest['forms']['count']:,}"
        + (
            f"   ({manifest['forms']['below_filing_threshold']:,} under $10, kept but not filed)"
            if manifest["forms"]["below_filing_threshold"]
            else ""
        ),
        f"  box 1 {_dollars(t['box1_cents'])}   box 2a {_dollars(t['box2a_cents'])}   "
        f"box 4 {_dollars(t['box4_cents'])}   box 5 {_dollars(t['box5_cents'])}   box 10 {_dollars(t['box10_cents'])}",
    ]
    checks = manifest.get("edit_checks", {})
    errors, warnings = sum(checks.get("error", {}).values()), sum(checks.get("warning", {}).values())
    lines.append(
        f"  edit checks    {errors:,} errors (block filing), {warnings:,} warnings; "
        f"{manifest['forms'].get('to_file', 0):,} forms to file"
    )
    if manifest.get("quarantine_by_rule"):
        top = sorted(manifest["quarantine_by_rule"].items(), key=lambda kv: (-kv[1], kv[0]))[:6]
        lines.append("  quarantine     " + ", ".join(f"{rule} {n:,}" for rule, n in top))
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
        f"  outputs        {out_dir}/ (distributions, forms, quarantine, edit_checks, tieout_945, explain, irs/, manifest.json)"
    )
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from contracts.loading import ExtractError, precheck
    from flows.config import ConfigError, load_settings
    from flows.outputs import OutputError, check_target
    from flows.progress import RunProgress

    extract_dir, out_dir = Path(args.extract_dir), Path(args.out)
    say = RunProgress.for_cli(_progress(args.quiet), args.quiet)  # + a bar when stderr is a terminal
    try:
        check_target(out_dir.resolve())
        precheck(extract_dir)
        settings = load_settings(Path(args.config) if args.config else None)
        if args.no_prefect:
            from flows.pipeline import run_pipeline

            manifest = run_pipeline(
                extract_dir, out_dir, progress=say, settings=settings, batch_rows=args.batch_rows
            ).manifest
        elif args.dask_address or args.workers:
            say("starting the Prefect flow on a Dask cluster")
            from flows.run_flow import run_on_dask

            manifest = run_on_dask(
                extract_dir,
                out_dir,
                address=args.dask_address,
                workers=args.workers,
                progress=say,
                settings=settings,
                batch_rows=args.batch_rows,
            )
        else:
            say("starting the Prefect flow")
            from flows.run_flow import prorata_run

            manifest = prorata_run(
                extract_dir, out_dir, progress=say, settings=settings, batch_rows=args.batch_rows
            )
    except (ExtractError, OutputError, ConfigError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    say.finish()
    print(summary_text(manifest, out_dir))
    return 0


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


def cmd_explain(args: argparse.Namespace) -> int:
    import polars as pl

    path = Path(args.out) / "explain.parquet"
    if not path.is_file():
        _err(f"{path}: not found; run 'prorata run EXTRACT_DIR --out {args.out}' first")
        return EXIT_BAD_INPUT
    hit = pl.scan_parquet(path).filter(pl.col("distribution_id") == args.distribution_id).collect()
    if hit.height == 0:
        q = Path(args.out) / "quarantine.parquet"
        held = (
            pl.scan_parquet(q)
            .filter((pl.col("table") == "distributions") & (pl.col("key") == args.distribution_id))
            .collect()
            if q.is_file()
            else pl.DataFrame()
        )
        if held.height:
            row = held.row(0, named=True)
            print(f"{args.distribution_id} was quarantined: rule {row['rule']}: {row['message']}")
            return 0
        _err(f"distribution {args.distribution_id} is not in {args.out}")
        return EXIT_BAD_INPUT
    from transforms.explain import explanation

    row = hit.with_columns(explanation()).row(0, named=True)
    print(f"{row['distribution_id']} (event {row['event_id']})")
    print(row["explanation"])
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from contracts.loading import ExtractError, precheck
    from flows.outputs import OutputError
    from flows.reconcile import reconcile_extract, reconcile_flow, summary_text
    from flows.store import StoreError

    out_dir = Path(args.out)
    by_store = args.store is not None or args.tax_year is not None
    if by_store == (args.extract is not None or args.run is not None) or (
        (args.store is None) != (args.tax_year is None) or (args.extract is None) != (args.run is None)
    ):
        _err("prorata reconcile: give either --extract and --run, or --store and --tax-year")
        return EXIT_BAD_INPUT
    try:  # the target is checked by the reconciliation itself (never a run, an extract or a store)
        if by_store:
            from flows.reconcile import reconcile_store

            manifest = reconcile_store(Path(args.store), args.tax_year, out_dir, prefect=not args.no_prefect)
        else:
            precheck(Path(args.extract))
            run = reconcile_extract if args.no_prefect else reconcile_flow
            manifest = run(Path(args.extract), Path(args.run), out_dir)
    except (ExtractError, OutputError, StoreError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(summary_text(manifest, out_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prorata", description="Form 1099-R taxable/non-taxable split pipeline"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="split an extract and write the 1099-R outputs")
    run.add_argument("extract_dir")
    run.add_argument("--out", required=True, help="output folder (replaced atomically)")
    run.add_argument("--no-prefect", action="store_true", help="run the stages in-process without Prefect")
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    run.add_argument("--config", help="transmitter settings (default ./prorata.toml; without it a test file)")
    run.add_argument("--batch-rows", type=int, help="disbursements per plan batch (default 2,000,000)")
    cluster = run.add_mutually_exclusive_group()
    cluster.add_argument(
        "--dask-address", help="run the plan batches on an existing Dask cluster (tcp://HOST:PORT)"
    )
    cluster.add_argument(
        "--workers", type=int, help="run the plan batches on a local Dask cluster of N worker processes"
    )
    run.set_defaults(func=cmd_run)

    sample = sub.add_parser("sample", help="generate a realistic synthetic extract")
    sample.add_argument("--disbursements", type=int, required=True)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True)
    sample.add_argument("--tax-year", type=int, default=2025)
    sample.add_argument("--fault-fraction", type=float, default=0.0)
    sample.set_defaults(func=cmd_sample)

    from flows.statements import add_parser as add_statements_parser

    add_statements_parser(sub)

    explain = sub.add_parser("explain", help="show the rule trace of one disbursement")
    explain.add_argument("distribution_id")
    explain.add_argument("--out", required=True, help="the OUT_DIR of a prorata run")
    explain.set_defaults(func=cmd_explain)

    recon = sub.add_parser(
        "reconcile",
        help="reconcile an extract with its run, or a store's tax year: control totals, forms, 945",
    )
    recon.add_argument("--extract", help="the EXTRACT_DIR that was run (with --run)")
    recon.add_argument("--run", help="the OUT_DIR of its prorata run (with --extract)")
    recon.add_argument(
        "--store", help="a year-to-date store (with --tax-year): the live year and its outputs"
    )
    recon.add_argument("--tax-year", type=int, help="the store's tax year to reconcile (with --store)")
    recon.add_argument("--out", required=True, help="reconciliation folder (replaced atomically)")
    recon.add_argument("--no-prefect", action="store_true", help="run in-process without Prefect")
    recon.set_defaults(func=cmd_reconcile)

    from flows.ops_cli import add_parsers as add_ops_parsers

    add_ops_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    prefect_env.configure()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted; OUT_DIR was left as it was")
        return 130
    except Exception as exc:  # one clear line, never a traceback (unless --debug)
        if args.debug:
            raise
        _err(f"unexpected {type(exc).__name__}; rerun with --debug for details")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
