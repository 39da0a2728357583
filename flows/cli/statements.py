"""``prorata statements``: parsing, then the call (:mod:`flows.render.statements` for a run,
:mod:`flows.season.statements` for a corrections filing)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from flows.render.statements import FOLDER, StatementError, write_statements
from flows.season.statements import write_corrected_statements

EXIT_BAD_INPUT = 2

EXAMPLES = """\
examples:
  prorata statements --run out/demo                         every plan's and every recipient's PDF
  prorata statements --run out/keystone --account KRS-100003   one recipient's PDF, by account number
  prorata statements --store STORE --corrections out/corr-1   corrected statements of a corrections run
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``prorata statements`` on the subparsers of :func:`flows.cli.main.build_parser`."""
    p = sub.add_parser(
        "statements",
        help="write the recipient statements (Form 1099-R Copy B) as PDF",
        description="Recipient statements (Form 1099-R Copy B): one PDF per plan and one per "
        "recipient, with index.csv (file, plan, payee, form, account numbers; no name or TIN).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out_dir", nargs="?", help=argparse.SUPPRESS)  # the older positional OUT_DIR
    p.add_argument("--run", metavar="OUT_DIR", help="the OUT_DIR of a prorata run")
    p.add_argument("--dest", help="folder for the PDFs (default OUT_DIR/statements; its parent must exist)")
    p.add_argument(
        "--by",
        choices=("both", "plan", "recipient"),
        default="both",
        help="one PDF per plan, per recipient, or both (default both)",
    )
    p.add_argument(
        "--account", metavar="NUMBER", help="only the PDF of the recipient with this account number"
    )
    p.add_argument(
        "--corrections", metavar="DIR", help="the folder of a prorata corrections run (with --store)"
    )
    p.add_argument("--store", help="the year-to-date store of that corrections run (with --corrections)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_statements)
    return p


def cmd_statements(args: argparse.Namespace) -> int:
    run = getattr(args, "run", None) or getattr(args, "out_dir", None)
    corrections = getattr(args, "corrections", None)
    dest = Path(args.dest) if getattr(args, "dest", None) else None
    if corrections is not None and not getattr(args, "store", None):
        print(
            "prorata: error: --corrections needs --store (the store the corrections were filed from)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if corrections is None and run is None:
        print("prorata: error: prorata statements: give the run folder: --run OUT_DIR", file=sys.stderr)
        return EXIT_BAD_INPUT
    start = time.perf_counter()

    def say(message: str) -> None:
        if not getattr(args, "quiet", False):
            print(f"  [{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

    by = getattr(args, "by", "both") or "both"
    try:
        if corrections is not None:
            result = write_corrected_statements(
                Path(args.store), Path(corrections), dest=dest, progress=say, by=by
            )
            folder = dest if dest is not None else Path(corrections) / FOLDER
        else:
            out_dir = Path(run)
            forms = out_dir / "forms.parquet"
            if not forms.is_file():
                raise StatementError(f"{forms}: not found; run 'prorata run' first")
            account = getattr(args, "account", None)
            result = write_statements(out_dir, dest=dest, progress=say, by=by, account=account)
            folder = dest if dest is not None else out_dir / FOLDER
    except StatementError as exc:
        print(f"prorata: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if getattr(args, "account", None):
        print(
            f"prorata statements: {result['pages']:,} pages for account {args.account}: {', '.join(result['files'])}"
        )
        return 0
    print(
        f"prorata statements: {result['forms']:,} forms: {result['plans']:,} plan PDFs and "
        f"{result['recipients']:,} recipient PDFs, {result['pages']:,} pages, {result['seconds']:.1f} s "
        f"({result['pages_per_second']:,.0f} pages/s) -> {folder}/"
    )
    return 0
