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

EXIT_BAD_INPUT = 2


def _err(message: str) -> None:
    print(f"prorata: error: {message}", file=sys.stderr)


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

    try:
        if args.no_prefect:
            report = nightly.run_nightly(
                Path(args.inbox), Path(args.store), settings=_settings(args), progress=_say(args.quiet)
            )
            print(report.text())
            return 0 if report.ok else EXIT_BAD_INPUT
        result = nightly.nightly_flow()(args.inbox, args.store, args.config)
    except _operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    report = nightly.NightlyReport(
        ingested=result["ingested"],
        skipped=result["skipped"],
        faults=result["faults"],
        warnings=result["warnings"],
    )
    print(report.text())
    for year, ytd in sorted(result["rebuilt"].items()):
        print(f"  tax year {year}: outputs rebuilt ({ytd})")
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
    print(f"prorata serve: deployment '{kwargs['name']}' on cron '{args.cron}' (Ctrl-C stops)")
    nightly.nightly_flow().serve(**kwargs)
    return 0


def _operator_errors() -> tuple[type[Exception], ...]:
    """Faults an operator can act on: one line on stderr naming the file or id, exit status 2."""
    from flows.config import ConfigError
    from flows.filing import FilingCheckError
    from flows.outputs import OutputError
    from flows.store import StoreError
    from transforms.irs import FilingInputError

    return (StoreError, ConfigError, FilingInputError, FilingCheckError, OutputError)


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
    except _operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    line = f"prorata file: tax year {result.tax_year}: {result.message}"
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
    except _operator_errors() as exc:
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
        if args.export:
            from flows.exports import export_corrections
            from flows.store import Store

            outputs = Store(Path(args.store)).outputs(args.tax_year)
            print(f"  export: {export_corrections(Path(args.out), outputs, args.export)}/")
    return 0


def cmd_acknowledge(args: argparse.Namespace) -> int:
    from flows.filings import acknowledge
    from flows.store import StoreError

    try:
        acknowledge(Path(args.store), args.tax_year, args.filing_id, args.receipt_id)
    except StoreError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(f"prorata acknowledge: receipt recorded for filing {args.filing_id}")
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


def _examples(*lines: str) -> dict:
    return {
        "epilog": "examples:\n" + "\n".join(f"  {x}" for x in lines),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


STORE_HELP = "the year-to-date store folder (its parent must exist)"
CONFIG_HELP = "transmitter settings (default ./prorata.toml; without it a test file)"


def add_parsers(sub) -> None:
    nightly = sub.add_parser(
        "nightly",
        help="ingest new inbox extracts into the store and rebuild the year",
        **_examples("prorata nightly --inbox /data/inbox --store /data/store"),
    )
    nightly.add_argument("--inbox", required=True, help="folder of extract folders")
    nightly.add_argument("--store", required=True, help=STORE_HELP)
    nightly.add_argument("--config", help=CONFIG_HELP)
    nightly.add_argument("--no-prefect", action="store_true", help="run the steps in-process without Prefect")
    nightly.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    nightly.set_defaults(func=cmd_nightly)

    serve = sub.add_parser(
        "serve",
        help="run the nightly flow on a schedule (Prefect flow.serve)",
        **_examples('prorata serve --inbox /data/inbox --store /data/store --cron "0 2 * * *"'),
    )
    serve.add_argument("--inbox", required=True, help="folder of extract folders")
    serve.add_argument("--store", required=True, help=STORE_HELP)
    serve.add_argument("--cron", default="0 2 * * *", help='cron schedule (default "0 2 * * *")')
    serve.add_argument("--config", help=CONFIG_HELP)
    serve.set_defaults(func=cmd_serve)

    file = sub.add_parser(
        "file",
        help="record and write the year's IRS filing",
        **_examples("prorata file --store /data/store --tax-year 2025 --out /data/filing-2025"),
    )
    file.add_argument("--store", required=True, help=STORE_HELP)
    file.add_argument("--tax-year", type=int, required=True, help="the tax year to file")
    file.add_argument("--out", help="also write the filing here (default STORE/filings/TAX_YEAR/FILING_ID)")
    file.add_argument("--config", help=CONFIG_HELP)
    file.add_argument("--transmission-date", type=_iso_date, help=TRANSMISSION_HELP)
    file.set_defaults(func=cmd_file)

    corr = sub.add_parser(
        "corrections",
        help="write the returns changed since the last filing",
        **_examples(
            "prorata corrections --store /data/store --tax-year 2025 --out /data/corr-1 --export xlsx"
        ),
    )
    corr.add_argument("--store", required=True, help=STORE_HELP)
    corr.add_argument("--tax-year", type=int, required=True, help="the tax year to correct")
    corr.add_argument("--out", required=True, help="folder for the corrections (its parent must exist)")
    corr.add_argument("--config", help=CONFIG_HELP)
    corr.add_argument("--transmission-date", type=_iso_date, help=TRANSMISSION_HELP)
    corr.add_argument(
        "--export",
        choices=("csv", "xlsx"),
        help="also write the corrected returns for people into OUT/export/ (dollars, plan names)",
    )
    corr.set_defaults(func=cmd_corrections)

    ack = sub.add_parser(
        "acknowledge",
        help="record the IRS receipt id of a filing (IRIS)",
        **_examples("prorata acknowledge --store /data/store --tax-year 2026 --filing-id F1 --receipt-id R1"),
    )
    ack.add_argument("--store", required=True, help=STORE_HELP)
    ack.add_argument("--tax-year", type=int, required=True, help="the filing's tax year")
    ack.add_argument("--filing-id", required=True, help="the filing id prorata file printed")
    ack.add_argument("--receipt-id", required=True, help="the receipt id the IRS returned for it")
    ack.set_defaults(func=cmd_acknowledge)
