"""Operations commands of ``prorata`` (docs/OPERATIONS.md):

    prorata nightly --inbox DIR --store DIR        new extracts into the store, then the year's outputs
    prorata serve --inbox DIR --store DIR --cron "0 2 * * *"   the nightly flow on a Prefect schedule
    prorata file --store DIR --tax-year Y [--user U]          prepare the year's filing for review
    prorata approve --store DIR --tax-year Y --filing-id ID [--user U]   a second person approves it
    prorata discard --store DIR --tax-year Y --filing-id ID   drop a prepared filing never approved
    prorata acknowledge --store DIR --tax-year Y ACK.xml...   the IRS's IRIS responses read back
    prorata acknowledge --store DIR --tax-year Y --filing-id ID --receipt-id R   the plain case
    prorata replace --store DIR --tax-year Y --out DIR        replace rejected IRIS returns
    prorata corrections --store DIR --tax-year Y --out DIR    prepare the returns changed since filed
    prorata status --store DIR --tax-year Y                   the year at a glance (and an HTML page)
    prorata history --store DIR --tax-year Y                  who did what, when

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
    from flows.settings import load_settings

    return load_settings(Path(args.config) if getattr(args, "config", None) else None)


def cmd_nightly(args: argparse.Namespace) -> int:
    from flows.prefect import nightly
    from flows.prefect.server import ephemeral

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
    from flows.prefect import nightly

    try:
        kwargs = nightly.serve_arguments(
            Path(args.inbox), Path(args.store), args.cron, Path(args.config) if args.config else None
        )
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(f"prorata serve: deployment '{kwargs['name']}' on cron '{printable(args.cron)}' (Ctrl-C stops)")
    from flows.prefect.server import ephemeral

    with ephemeral():
        nightly.nightly_flow().serve(**kwargs)
    return 0


TEST_PREFIX = "TEST FILE: "


def _print(lines: list[str], test_file: bool) -> None:
    """Print the lines (escaped: ids from an extract may hold control characters); a TEST filing
    says so on every line (it is a rehearsal, never filed)."""
    for line in lines:
        print((TEST_PREFIX if test_file else "") + printable(line))


def _schema_package(args) -> Path | None:
    """The IRIS A2A package of the settings (``[iris] schema_package``), if any."""
    package = _settings(args).iris_schema_package
    return Path(package) if package else None


def _policy(args):
    from flows.settings import load_policy

    return load_policy(Path(args.config) if getattr(args, "config", None) else None)


def _prepare_step(name: str, args: argparse.Namespace, describe) -> int:
    """Run one of the commands that prepare a filing (``file``, ``corrections``, ``replace``) and
    print its result: ``describe(result)`` gives the lines after the first."""
    from flows.season import filings

    prepare = {
        "file": filings.file_year,
        "corrections": filings.corrections_year,
        "replace": filings.replace_year,
    }[name]
    out = Path(args.out) if args.out else None
    try:
        result = prepare(
            Path(args.store),
            args.tax_year,
            out=out,
            settings=_settings(args),
            transmitted_on=args.transmission_date,
            user=args.user,
        )
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    lines = [f"prorata {name}: tax year {result.tax_year}: {result.message}", *describe(result)]
    _print([*lines, *(f"  {x}" for x in result.lines)], result.test_file)
    return 0


def cmd_file(args: argparse.Namespace) -> int:
    def describe(result) -> list[str]:
        c = result.counts
        if result.status == "prepared":
            return [f"  filing {result.filing_id}, {c['returns']:,} returns: {', '.join(result.files)}"]
        if result.status == "changed":
            return [
                f"  {c['type1'] + c['type2'] + c['void']} corrections, {c['late_originals']} late originals pending"
            ]
        return []

    return _prepare_step("file", args, describe)


def cmd_corrections(args: argparse.Namespace) -> int:
    def describe(result) -> list[str]:
        c, lines = result.counts, []
        pair = " (two records each)" if c.get("channel") == "FIRE" else ""
        if c:
            lines.append(
                f"  Type 1 {c['type1']}, Type 2 {c['type2']}{pair}, voided {c['void']}, "
                f"late originals {c['late_originals']}, held back {c['held']}, unchanged {c['unchanged']}"
            )
        if result.status == "prepared":
            lines.append(f"  filing {result.filing_id}: {', '.join(result.files)} in {args.out}")
            if args.export:
                from flows.io.store import Store
                from flows.render.exports import export_corrections

                outputs = Store(Path(args.store)).outputs(args.tax_year)
                lines.append(f"  export: {export_corrections(Path(args.out), outputs, args.export)}/")
        return lines

    return _prepare_step("corrections", args, describe)


def cmd_replace(args: argparse.Namespace) -> int:
    def describe(result) -> list[str]:
        if result.status != "prepared":
            return []
        c = result.counts
        return [
            f"  filing {result.filing_id}: {c['returns']:,} returns replacing {c['units']} rejected unit(s): "
            f"{', '.join(result.files)} in {args.out}"
        ]

    return _prepare_step("replace", args, describe)


def cmd_approve(args: argparse.Namespace) -> int:
    from flows.season.filings import approve

    try:
        result = approve(
            Path(args.store), args.tax_year, args.filing_id, user=args.user, policy=_policy(args)
        )
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    _print(
        [f"prorata approve: tax year {result.tax_year}: {result.message}", *(f"  {x}" for x in result.lines)],
        result.test_file,
    )
    return 0


def cmd_discard(args: argparse.Namespace) -> int:
    from flows.season.filings import discard

    try:
        result = discard(
            Path(args.store), args.tax_year, args.filing_id, user=args.user, reason=args.reason or ""
        )
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    _print([f"prorata discard: tax year {result.tax_year}: {result.message}"], result.test_file)
    return 0


def cmd_acknowledge(args: argparse.Namespace) -> int:
    from flows.io.history import actor
    from flows.io.store import StoreError
    from flows.season import acks

    who = actor(args.user)
    try:
        if args.receipt_id or args.filing_id:
            if not (args.receipt_id and args.filing_id) or args.files:
                raise StoreError("the plain case takes --filing-id and --receipt-id together, and no files")
            name, test = acks.record_receipt(
                Path(args.store),
                args.tax_year,
                args.filing_id,
                args.receipt_id,
                who,
                transmission=args.transmission,
                status=args.status,
            )
            _print(
                [
                    f"prorata acknowledge: receipt {args.receipt_id.strip()} ({args.status}) recorded for "
                    f"{name} of filing {args.filing_id}"
                ],
                test,
            )
            return 0
        if not args.files:
            raise StoreError("give the IRS response files (ACK.xml ...) or --filing-id and --receipt-id")
        files = [Path(f) for f in args.files]
        result = acks.read_responses(Path(args.store), args.tax_year, files, who, _schema_package(args))
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    lines = [
        f"prorata acknowledge: tax year {args.tax_year}: {len(result.recorded)} response file(s) recorded"
        + (
            f", {len(result.skipped)} already recorded ({', '.join(result.skipped)})"
            if result.skipped
            else ""
        )
    ]
    _print([*lines, *(f"  {x}" for x in result.lines)], result.test_file)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from flows.season.status import write_page, year_status

    try:
        status = year_status(Path(args.store), args.tax_year, on=args.date, test=args.test)
        page = write_page(status, Path(args.html_dir) if args.html_dir else Path(args.store) / "status")
    except operator_errors() as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    _print([*status.lines(), f"  page: {page}"], status.test_file)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from flows.io import history
    from flows.io.store import Store

    print(f"prorata history: tax year {args.tax_year}")
    for line in history.text(history.events(Store(Path(args.store)), args.tax_year)):
        print(f"  {line}")
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

    year_commands(sub)


USER_HELP = "who does this step (default: the operating-system user)"


def _year_parser(sub, name: str, help_: str, func, example: str, *, options: tuple[str, ...] = ()):
    """A command over one tax year of the store; ``options``: the shared ones it takes besides
    ``--store`` and ``--tax-year`` (out, out?, filing-id, config, date, user)."""
    parser = sub.add_parser(name, help=help_, **_examples(example))
    parser.add_argument("--store", required=True, help=STORE_HELP)
    parser.add_argument("--tax-year", type=int, required=True, help="the tax year (e.g. 2026)")
    shared = {
        "out": lambda: parser.add_argument(
            "--out", required=True, help="where the prepared filing goes too (its parent must exist)"
        ),
        "out?": lambda: parser.add_argument(
            "--out", help="also write the filing here (default STORE/filings/TAX_YEAR/FILING_ID)"
        ),
        "filing-id": lambda: parser.add_argument(
            "--filing-id",
            required=name in ("approve", "discard"),
            help="the filing id that prorata file, corrections or replace printed",
        ),
        "config": lambda: parser.add_argument("--config", help=CONFIG_HELP),
        "date": lambda: parser.add_argument("--transmission-date", type=_iso_date, help=TRANSMISSION_HELP),
        "user": lambda: parser.add_argument("--user", help=USER_HELP),
    }
    for option in options:
        shared[option]()
    parser.set_defaults(func=func)
    return parser


def year_commands(sub) -> None:
    """file, approve, discard, corrections, replace, acknowledge, status, history."""
    prepare = ("config", "date", "user")
    _year_parser(
        sub,
        "file",
        "prepare the year's IRS filing for review (filed once approved)",
        cmd_file,
        "prorata file --store /data/store --tax-year 2026 --user alice",
        options=("out?", *prepare),
    )
    _year_parser(
        sub,
        "approve",
        "approve a prepared filing: it becomes the filing of record",
        cmd_approve,
        "prorata approve --store /data/store --tax-year 2026 --filing-id F2026-001 --user bob",
        options=("filing-id", "config", "user"),
    )
    discard = _year_parser(
        sub,
        "discard",
        "discard a prepared filing that was not approved",
        cmd_discard,
        'prorata discard --store /data/store --tax-year 2026 --filing-id F2026-001 --reason "wrong extract"',
        options=("filing-id", "user"),
    )
    discard.add_argument("--reason", help="why (kept in the history; no personal data)")
    corr = _year_parser(
        sub,
        "corrections",
        "prepare the corrections of the returns changed since filed",
        cmd_corrections,
        "prorata corrections --store /data/store --tax-year 2026 --out /data/corr-1 --export xlsx",
        options=("out", *prepare),
    )
    corr.add_argument(
        "--export",
        choices=("csv", "xlsx"),
        help="also write the corrected returns for people into OUT/export/ (dollars, plan names)",
    )
    _year_parser(
        sub,
        "replace",
        "prepare the replacement of rejected IRIS transmissions or submissions",
        cmd_replace,
        "prorata replace --store /data/store --tax-year 2026 --out /data/replace-1",
        options=("out", *prepare),
    )
    ack = _year_parser(
        sub,
        "acknowledge",
        "read the IRS's IRIS status/acknowledgement responses",
        cmd_acknowledge,
        "prorata acknowledge --store /data/store --tax-year 2026 ack-1.xml ack-2.xml",
        options=("filing-id", "config", "user"),
    )
    ack.add_argument("files", nargs="*", help="IRS-IR-TransStatusOrAckResponse XML files")
    ack.add_argument("--receipt-id", help="the plain case: the IRS receipt id of the filing's transmission")
    ack.add_argument(
        "--transmission", help="the plain case: which transmission file, when the filing has several"
    )
    ack.add_argument(
        "--status", default="Accepted", help="the plain case: the transmission's status (default Accepted)"
    )
    status = _year_parser(
        sub,
        "status",
        "where the tax year stands, printed and as an HTML page",
        cmd_status,
        "prorata status --store /data/store --tax-year 2026",
    )
    status.add_argument("--html-dir", help="folder for the page (default STORE/status)")
    status.add_argument(
        "--date", type=_iso_date, help="today, for the deadlines and the channel (default today)"
    )
    status.add_argument(
        "--test", action="store_true", help="the TEST filings (rehearsals) instead of production"
    )
    _year_parser(
        sub,
        "history",
        "the year's history: who did what, when",
        cmd_history,
        "prorata history --store /data/store --tax-year 2026",
    )
