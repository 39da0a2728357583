"""``prorata import``: the command line of the mapped import.

    prorata import SOURCE --mapping MAPPING.toml --out EXTRACT_DIR   write the canonical extract
    prorata import SOURCE --mapping MAPPING.toml --check             report, write nothing
    prorata import --template [MAPPING.toml]                         a commented mapping to start from

Exit status: 0 written (or, with --check, nothing wrong); 2 when the mapping or the files have
problems — every one of them on stderr, one a line, by file, line (or sheet and cell) and column —
or the target folder may not be replaced.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXAMPLE = """\
examples:
  prorata import sample_data/import/keystone --mapping sample_data/import/keystone.toml --out /tmp/keystone
  prorata import harbor_2025.xlsx --mapping harbor.toml --check
  prorata import --template > my_recordkeeper.toml
"""


def _err(message: str) -> None:
    print(f"prorata: error: {message}", file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    from flows.importer.core import ImportProblems, import_extract
    from flows.importer.mapping import MappingError
    from flows.importer.template import template
    from flows.io.outputs import OutputError, check_parent

    if args.template is not None:
        text = template()
        if args.template == "-":
            sys.stdout.write(text)
            return 0
        target = Path(args.template)
        try:
            check_parent(target, "--template")
        except OutputError as exc:
            _err(str(exc))
            return EXIT_BAD_INPUT
        if target.exists():
            _err(f"{target}: exists; the template never overwrites a file")
            return EXIT_BAD_INPUT
        target.write_text(text, encoding="utf-8")
        print(f"prorata import: wrote a mapping template to {target}")
        return 0
    if args.source is None or args.mapping is None or (args.out is None and not args.check):
        _err("prorata import: give SOURCE --mapping MAPPING.toml and --out EXTRACT_DIR (or --check)")
        return EXIT_BAD_INPUT
    try:
        report = import_extract(
            Path(args.source),
            Path(args.mapping),
            None if args.check else Path(args.out),
            tax_year=args.tax_year,
            created_at=args.created_at,
            supersedes=args.supersedes,
        )
    except MappingError as exc:
        _err(str(exc))
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ImportProblems as exc:
        _err(f"{args.source}: {exc.report.problem_count:,} problem(s); nothing was written")
        for line in exc.report.problems:
            print(f"  {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    rows = ", ".join(f"{k} {v:,}" for k, v in report.rows.items())
    if args.check:
        print(f"prorata import --check: no problem in {args.source} ({rows}); nothing written")
        return 0
    m = report.manifest or {}
    print(
        f"prorata import: wrote {report.written}/ (extract {m.get('extract_id')}, tax year "
        f"{m.get('tax_year')}): {rows}"
    )
    return 0


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "import",
        help="turn a recordkeeper's CSV, Excel, Parquet or fixed-width files into a canonical extract",
        description="Map a recordkeeper's own files onto the canonical extract (docs/spec/extract.md) "
        "through a TOML mapping. Every problem is listed at once, by file, line (or sheet and cell) "
        "and column; nothing is written unless all is well.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", nargs="?", help="folder of the recordkeeper's files, or one file")
    p.add_argument("--mapping", help="the mapping file (TOML; see --template)")
    p.add_argument(
        "--out", help="the extract folder to write (new, empty, or an earlier import: replaced whole)"
    )
    p.add_argument("--check", action="store_true", help="read and check everything, write nothing")
    p.add_argument(
        "--tax-year",
        type=int,
        help="the extract's tax year (default: the mapping's, else the payment dates')",
    )
    p.add_argument("--created-at", help="the manifest's created_at, ISO-8601 (default: now, UTC)")
    p.add_argument("--supersedes", help="extract_id of an earlier extract that this one corrects")
    p.add_argument(
        "--template",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write a commented mapping to start from (to FILE, or to standard output)",
    )
    p.set_defaults(func=cmd_import)
    return p
