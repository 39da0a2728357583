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

from flows import prefect_env
from flows.errors import DEBUG, printable

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


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}" if abs(cents) < 10**15 else f"{cents} cents"


def summary_text(manifest: dict, out_dir: Path) -> str:
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
        lines.append(
            f"  IRS filing     {irs['channel']} {kind}{why}: {irs['file']}, {irs['returns']:,} returns"
        )
    elif "discarded_bytes" in irs:  # PRORATA_IRS_FILE_SINK=discard (benchmarks)
        lines.append(
            f"  IRS filing     {irs['channel']} file checked and NOT KEPT: {irs['discarded_bytes']:,} bytes,"
            f" sha256 {irs['sha256']}, {irs['returns']:,} returns"
        )
    lines.append(
        f"  outputs        {printable(out_dir)}/ (distributions, forms, quarantine, edit_checks, tieout_945, explain, irs/, manifest.json)"
    )
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from contracts.loading import precheck
    from flows.config import load_settings
    from flows.errors import operator_errors
    from flows.outputs import check_target, check_writable
    from flows.progress import RunProgress
    from transforms.irs import FilingInputError

    extract_dir, out_dir = Path(args.extract_dir), Path(args.out)
    say = RunProgress.for_cli(_progress(args.quiet), args.quiet)  # + a bar when stderr is a terminal
    try:  # the checks that need no data, before any work
        check_target(out_dir.resolve())
        precheck(extract_dir)
        check_writable(out_dir)
        settings = load_settings(Path(args.config) if args.config else None)
        if args.no_prefect:
            from flows.pipeline import run_pipeline

            manifest = run_pipeline(
                extract_dir, out_dir, progress=say, settings=settings, batch_rows=args.batch_rows
            ).manifest
        else:
            from flows.server import ephemeral

            with ephemeral():
                manifest = _run_flow(args, extract_dir, out_dir, say)
    except FilingInputError as exc:  # the IRS writer refused a form the checks let through
        _err(f"{out_dir / 'irs'}: {exc} (OUT_DIR is left as it was)")
        return EXIT_BAD_INPUT
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    say.finish()
    print(summary_text(manifest, out_dir))
    return 0


def _run_flow(args: argparse.Namespace, extract_dir: Path, out_dir: Path, say) -> dict:
    """``prorata run`` as the Prefect flow (in this process, or its plan batches on Dask)."""
    if args.dask_address or args.workers:
        say("starting the Prefect flow on a Dask cluster")
        from flows.run_flow import run_on_dask

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
    from flows.run_flow import prorata_run

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
    import contextlib

    from contracts.loading import precheck
    from flows.errors import operator_errors
    from flows.reconcile import reconcile_extract, reconcile_flow, summary_text
    from flows.server import ephemeral

    out_dir = Path(args.out)
    by_store = args.store is not None or args.tax_year is not None
    if by_store == (args.extract is not None or args.run is not None) or (
        (args.store is None) != (args.tax_year is None) or (args.extract is None) != (args.run is None)
    ):
        _err("prorata reconcile: give either --extract and --run, or --store and --tax-year")
        return EXIT_BAD_INPUT
    try:  # the target is checked by the reconciliation itself (never a run, an extract or a store)
        if not by_store:
            precheck(Path(args.extract))
        with contextlib.nullcontext() if args.no_prefect else ephemeral():
            if by_store:
                from flows.reconcile import reconcile_store

                manifest = reconcile_store(
                    Path(args.store), args.tax_year, out_dir, prefect=not args.no_prefect
                )
            else:
                run = reconcile_extract if args.no_prefect else reconcile_flow
                manifest = run(Path(args.extract), Path(args.run), out_dir)
    except operator_errors() as exc:
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (staging folders removed, the
    Prefect flow run reported as crashed, the temporary Prefect server stopped)."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def private_umask() -> int:
    """The umask for files holding TINs, names and addresses (the store, OUT_DIR, statements):
    readable by their owner only — or also by their group with ``PRORATA_GROUP_READABLE=1`` —
    whatever umask the command was started with. Returns the umask it replaces."""
    group = os.environ.get("PRORATA_GROUP_READABLE", "").strip().lower() in ("1", "true", "yes")
    return os.umask(0o027 if group else 0o077)


def main(argv: list[str] | None = None) -> int:
    prefect_env.configure()
    args = build_parser().parse_args(argv)
    debug_before = os.environ.get(DEBUG)
    if args.debug:  # tracebacks as they are, from Prefect's tasks too (flows.errors.scrubbed)
        os.environ[DEBUG] = "1"
    umask = private_umask()
    sigterm = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
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
        if sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)


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
