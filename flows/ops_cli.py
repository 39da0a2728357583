"""Operations commands of ``prorata`` (docs/OPERATIONS.md):

    prorata nightly --inbox DIR --store DIR        new extracts into the store, then the year's outputs
    prorata serve --inbox DIR --store DIR --cron "0 2 * * *"   the nightly flow on a Prefect schedule
    prorata file --store DIR --tax-year Y          record and write the year's filing
    prorata corrections --store DIR --tax-year Y --out DIR     the returns changed since the last filing
    prorata acknowledge --store DIR --tax-year Y --filing-id ID --receipt-id R   IRIS receipt of a filing

Output is counts and ids only, never personal data. Exit status 2 for a refused extract, store or
filing (one line on stderr each), 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.errors import operator_errors, printable

EXIT_BAD_INPUT = 2


def _err(message: str) -> None:
    print(f"prorata: error: {printable(message)}", file=sys.stderr)


def _say(quiet: bool):
    def say(message: str) -> None:
        if not quiet:
            print(f"  {message}", file=sys.stderr, flush=True)

    return say


def _settings(args):
    from flows.config import load_settings

    return load_settings(Path(args.config) if getattr(args, "config", None) else None)


def cmd_nightly(args: argparse.Namespace) -> int:
    from flows import nightly
    from flows.server import ephemeral

    try:
        if args.no_prefect:
            report = nightly.run_nightly(
                Path(args.inbox), Path(args.store), settings=_settings(args), progress=_say(args.quiet)
            )
            rebuilt = {}
        else:
            with ephemeral():
                state = nightly.nightly_flow()(args.inbox, args.store, args.config, return_state=True)
            result = state.result(raise_on_failure=False)  # the summary, also from a Failed state
            if not isinstance(result, dict):  # the flow stopped on an error: raise it here
                state.result()
            report = nightly.NightlyReport(
                ingested=result["ingested"],
                skipped=result["skipped"],
                faults=result["faults"],
                warnings=result["warnings"],
            )
            rebuilt = result["rebuilt"]
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(report.text())
    for year, ytd in sorted(rebuilt.items()):
        print(f"  tax year {year}: outputs rebuilt ({printable(ytd)})")
    for fault in report.faults:  # each refusal on stderr too, where an operator's alert looks
        _err(f"refused {fault}")
    return 0 if report.ok else EXIT_BAD_INPUT


def cmd_serve(args: argparse.Namespace) -> int:
    from flows import nightly

    try:
        kwargs = nightly.serve_arguments(
            Path(args.inbox), Path(args.store), args.cron, Path(args.config) if args.config else None
        )
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(f"prorata serve: deployment '{kwargs['name']}' on cron '{printable(args.cron)}' (Ctrl-C stops)")
    from flows.server import ephemeral

    with ephemeral():
        nightly.nightly_flow().serve(**kwargs)
    return 0


def cmd_file(args: argparse.Namespace) -> int:
    from flows.filings import file_year

    try:
        result = file_year(
            Path(args.store),
            args.tax_year,
            out=Path(args.out) if args.out else None,
            settings=_settings(args),
            transmitted_on=args.transmission_date,
        )
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    line = f"prorata file: tax year {result.tax_year}: {printable(result.message)}"
    if result.status == "filed":
        line += (
            f"; filing {result.filing_id}, {result.counts['returns']:,} returns: {', '.join(result.files)}"
        )
    elif result.status == "changed":
        c = result.counts
        line += f" ({c['type1'] + c['type2'] + c['void']} corrections, {c['late_originals']} late originals pending)"
    print(line)
    return 0


def cmd_corrections(args: argparse.Namespace) -> int:
    from flows.filings import corrections_year

    try:
        result = corrections_year(
            Path(args.store),
            args.tax_year,
            Path(args.out),
            settings=_settings(args),
            transmitted_on=args.transmission_date,
        )
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    c = result.counts
    print(f"prorata corrections: tax year {result.tax_year}: {result.message}")
    print(
        f"  Type 1 {c['type1']}, Type 2 {c['type2']} (two records each), voided {c['void']}, "
        f"late originals {c['late_originals']}, held back {c['held']}, unchanged {c['unchanged']}"
    )
    if result.filing_id:
        print(f"  filing {result.filing_id}: {', '.join(result.files)} in {args.out}")
    return 0


def cmd_acknowledge(args: argparse.Namespace) -> int:
    from flows.filings import acknowledge
    from flows.store import StoreError

    try:
        acknowledge(Path(args.store), args.tax_year, args.filing_id, args.receipt_id)
    except (StoreError, *operator_errors()) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(f"prorata acknowledge: receipt recorded for filing {printable(args.filing_id)}")
    return 0


TRANSMISSION_HELP = (
    "the day the file goes to the IRS, YYYY-MM-DD (default today): FIRE takes tax years up to 2025 "
    "until it closes at the end of 2026, IRIS everything after"
)


def _iso_date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parsers(sub) -> None:
    nightly = sub.add_parser("nightly", help="ingest new inbox extracts into the store and rebuild the year")
    nightly.add_argument("--inbox", required=True, help="folder of extract folders")
    nightly.add_argument("--store", required=True, help="the year-to-date store")
    nightly.add_argument("--config", help="transmitter settings (default ./prorata.toml)")
    nightly.add_argument("--no-prefect", action="store_true", help="run the steps in-process without Prefect")
    nightly.add_argument("--quiet", action="store_true")
    nightly.set_defaults(func=cmd_nightly)

    serve = sub.add_parser("serve", help="run the nightly flow on a schedule (Prefect flow.serve)")
    serve.add_argument("--inbox", required=True)
    serve.add_argument("--store", required=True)
    serve.add_argument("--cron", default="0 2 * * *", help='cron schedule (default "0 2 * * *")')
    serve.add_argument("--config")
    serve.set_defaults(func=cmd_serve)

    file = sub.add_parser("file", help="record and write the year's IRS filing")
    file.add_argument("--store", required=True)
    file.add_argument("--tax-year", type=int, required=True)
    file.add_argument("--out", help="also write the filing here (default STORE/filings/TAX_YEAR/FILING_ID)")
    file.add_argument("--config")
    file.add_argument("--transmission-date", type=_iso_date, help=TRANSMISSION_HELP)
    file.set_defaults(func=cmd_file)

    corr = sub.add_parser("corrections", help="write the returns changed since the last filing")
    corr.add_argument("--store", required=True)
    corr.add_argument("--tax-year", type=int, required=True)
    corr.add_argument("--out", required=True)
    corr.add_argument("--config")
    corr.add_argument("--transmission-date", type=_iso_date, help=TRANSMISSION_HELP)
    corr.set_defaults(func=cmd_corrections)

    ack = sub.add_parser("acknowledge", help="record the IRS receipt id of a filing (IRIS)")
    ack.add_argument("--store", required=True)
    ack.add_argument("--tax-year", type=int, required=True)
    ack.add_argument("--filing-id", required=True)
    ack.add_argument("--receipt-id", required=True)
    ack.set_defaults(func=cmd_acknowledge)
