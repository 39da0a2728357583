"""The IRS electronic filing of a run: one file in ``OUT_DIR/irs/``.

Tax years up to the last FIRE year (parameter ``fire_last_tax_year``, 2025) are written as a
Publication 1220 file and read back by our own checker before they are kept; later years as IRIS
XML. Only forms without a blocking edit check and with box 1 of $10 or more are filed.

The file is written piece by piece (``iter_pub1220`` / ``iter_iris_xml``) to a hidden file beside
its name, the Publication 1220 checker reading the same pieces as they pass, and renamed only once
complete and checked: memory holds the returns and one chunk of records, never the whole file.

A run's own file (:func:`write_run_irs_file`) does not hold the returns either: it reads the forms
to file, the payers and the payees as lazy frames and writes the same bytes payer group by payer
group (:mod:`transforms.irs.grouped`: ``PRORATA_IRS_GROUP_ROWS`` returns at most per group, 2
million by default; with more than one group the forms are first split into one hidden file per
group, removed at the end, so that each group is read without going through all the forms). Benchmarks only: ``PRORATA_IRS_FILE_SINK=discard`` checks the run's file and
counts its bytes and SHA-256 without keeping it (the manifest then says ``"file": null``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import BinaryIO, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from flows.environment import environment
from flows.errors import OperatorError
from flows.io import iris_package as iris_schema
from flows.settings import ConfigError, TransmitterSettings
from transforms.irs import check_pub1220, iter_pub1220
from transforms.irs.channel import filing_channel
from transforms.irs.fire.pub1220 import iter_pub1220_groups
from transforms.irs.grouped import GROUP_ROWS, GroupedFiling, outline, payer_groups
from transforms.irs.iris.iris_xml import (
    MAX_TRANSMISSION_BYTES,
    SCHEMA_VERSION,
    IrisOptions,
    Transmission,
    iris_transmissions,
    record_paths,
)
from transforms.irs.iris.schema_check import RECORD_PATH, RecordCheck, SchemaError, SchemaFeed, locate
from transforms.irs.shared import FilingInputError

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


class FilingCheckError(OperatorError, RuntimeError):
    """Our own Publication 1220 file failed our own checker, or an IRIS transmission the IRS's
    schema: nothing is written."""


def filing_frame(forms: Frame, tables: dict[str, Frame]) -> Frame:
    """Forms joined with the payer and payee blocks the writers need (originals: ``corrected`` empty);
    lazy in, lazy out (one query: no intermediate copy of the returns)."""
    payers = tables["plans"].select(
        "plan_id", "payer_name", "payer_address", "payer_city", "payer_state", "payer_zip", "payer_phone"
    )
    payees = tables["payees"].select(
        "payee_id",
        "tin_type",
        "first_name",
        "last_name",
        "address",
        "city",
        pl.col("state").fill_null("").alias("state_code"),
        pl.col("zip").fill_null(""),
        "country",
    )
    return (
        forms.join(payers, on="plan_id", how="left")
        .join(payees, on="payee_id", how="left")
        .with_columns(pl.col("first_name").fill_null(""), pl.lit("").alias("corrected"))
        .sort("payer_tin", "account_number")
    )


def prior_year_data(tax_year: int, transmitted_on: date | None) -> bool:
    """Publication 1220 T record position 6 (Prior Year Data Indicator): "P" when the returns are
    for a year before the one whose filing season the transmission falls in — a tax year Y is
    current through the calendar year Y + 1. A run's own file (no transmission date) is current."""
    return transmitted_on is not None and transmitted_on.year > tax_year + 1


def write_irs_file(
    root: Path,
    filing: pl.DataFrame,
    settings: TransmitterSettings,
    tax_year: int,
    transmitted_on: date | None = None,
    *,
    suffix: str = "",
    original_receipt_id: str | None = None,
    max_bytes: int = MAX_TRANSMISSION_BYTES,
    full_validation: bool = False,
) -> dict:
    """Write the filing into ``root/irs/``; returns what the manifest records about it. The system
    (FIRE or IRIS) follows :func:`transforms.irs.channel.filing_channel`: by tax year for a run's
    own file, by ``transmitted_on`` for the store's filings and corrections. ``suffix`` goes into
    the file names (``corrections``, ``late_originals``); IRIS only: ``original_receipt_id`` makes
    a replacement of a rejected transmission (returns with ``original_unique_submission_id``: of
    rejected submissions), ``max_bytes`` is a transmission's size limit, ``full_validation`` has
    every byte of every transmission parsed by libxml2's validation against the package whatever
    ``PRORATA_IRIS_VALIDATION`` says (a filing sent to the IRS: :mod:`flows.season.filings`)."""
    info = _info(settings, tax_year, transmitted_on, filing.height)
    if filing.height == 0:
        return info
    t = settings.transmitter
    test_file = info["test_file"]
    prior_year = prior_year_data(tax_year, transmitted_on)
    if info["channel"] == "FIRE":
        return _store(
            root,
            info,
            _name("FIRE", tax_year, suffix),
            lambda: iter_pub1220(filing, t, tax_year=tax_year, test_file=test_file, prior_year=prior_year),
        )
    grouped = GroupedFiling(
        outline(filing.lazy(), tax_year, t.cfsf_approved_payers),
        lambda _: filing,
        t,
        tax_year,
        test_file,
        group_rows=2**62,
    )
    return _store_iris(
        root,
        info,
        grouped,
        settings,
        suffix=suffix,
        original_receipt_id=original_receipt_id,
        max_bytes=max_bytes,
        full_validation=full_validation,
    )


def _name(channel: str, tax_year: int, suffix: str) -> str:
    """A FIRE file's name, or the stem of an IRIS filing's files, in ``irs/``."""
    stem = f"{channel}_1099R_{tax_year}{'_' + suffix if suffix else ''}"
    return f"irs/{stem}.txt" if channel == "FIRE" else f"irs/{stem}"


def write_run_irs_file(
    root: Path,
    forms: pl.LazyFrame,
    plans: pl.LazyFrame,
    payees: pl.LazyFrame,
    settings: TransmitterSettings,
    tax_year: int,
    group_rows: int | None = None,
) -> dict:
    """A run's IRS file, as :func:`write_irs_file` writes it from ``filing_frame(forms, {"plans":
    plans, "payees": payees}).collect()``, with the returns of a few payers in memory at a time:
    ``forms`` (the forms to file), ``plans`` (plan_id and the payer columns) and ``payees`` (the
    payee columns) are read once per payer group, only the group's rows kept (the forms from their
    group's file in ``root/.irs-groups``, see :meth:`GroupLoader.spill`). ``group_rows``:
    returns per group (``PRORATA_IRS_GROUP_ROWS``, else 2 million); one payer with more is one
    group."""
    env = environment()
    group_rows = group_rows or env.irs_group_rows or GROUP_ROWS
    sink = env.irs_file_sink
    summary = outline(forms.select("payer_tin", "state"), tax_year, settings.transmitter.cfsf_approved_payers)
    info = _info(settings, tax_year, None, summary.returns)
    if summary.returns == 0:
        return info
    load = GroupLoader(forms, plans, payees)
    groups = payer_groups(summary.payers, group_rows)
    spill = root / ".irs-groups"
    try:
        if groups.height > 1:
            load.spill(groups, spill)
        t = settings.transmitter
        filing = GroupedFiling(summary, load, t, tax_year, info["test_file"], group_rows=group_rows)
        if info["channel"] == "IRIS":
            return _store_iris(root, info, filing, settings, sink=sink)
        return _store(root, info, _name("FIRE", tax_year, ""), lambda: iter_pub1220_groups(filing), sink)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


class GroupLoader:
    """The filing frame of a few payers (:func:`filing_frame` of their forms, payers and payees):
    the payees read are only those on the group's forms. ``largest``: the most returns collected
    at once. After :meth:`spill` a group's forms are read from its own file, not picked out of all
    the forms again."""

    def __init__(self, forms: pl.LazyFrame, plans: pl.LazyFrame, payees: pl.LazyFrame):
        self.forms, self.payees = forms, payees
        self.plans = plans.collect()  # one row per plan
        self.largest = 0
        self.folder: Path | None = None
        self.group_of: dict[str | None, int] = {}

    def spill(self, groups: pl.DataFrame, folder: Path) -> None:
        """One pass over the forms, each payer group's (``payer_groups``' frame) written to its own
        file in ``folder``."""
        tins = groups.select("group", pl.col("raw_tins").alias("payer_tin")).explode("payer_tin")
        self.forms.join(tins.lazy(), on="payer_tin", nulls_equal=True).sink_parquet(
            pl.PartitionBy(folder, key="group", include_key=False)
        )
        self.folder = folder
        self.group_of = dict(zip(tins["payer_tin"], tins["group"], strict=True))

    def _forms(self, payer_tins: list[str]) -> pl.LazyFrame:
        if self.folder is not None:
            group = self.folder / f"group={self.group_of[payer_tins[0]]}"
            return pl.scan_parquet(group, hive_partitioning=False)
        tins = pl.Series(payer_tins, dtype=pl.String).implode()
        return self.forms.filter(pl.col("payer_tin").is_in(tins, nulls_equal=True))

    def __call__(self, payer_tins: list[str]) -> pl.DataFrame:
        forms = self._forms(payer_tins).collect(engine="streaming")
        self.largest = max(self.largest, forms.height)
        ids = forms.get_column("payee_id").unique().implode()
        payees = self.payees.filter(pl.col("payee_id").is_in(ids)).collect(engine="streaming")
        return filing_frame(forms.lazy(), {"plans": self.plans.lazy(), "payees": payees.lazy()}).collect()


def _info(settings: TransmitterSettings, tax_year: int, transmitted_on: date | None, returns: int) -> dict:
    """What the manifest records about an IRS file, before it is written."""
    return {
        "channel": filing_channel(tax_year, transmitted_on),
        "returns": returns,
        "test_file": settings.test_file or not settings.configured,
        "transmitter_configured": settings.configured,
        "file": None,
    }


def _store(
    root: Path, info: dict, name: str, make_pieces: Callable[[], Iterable[bytes]], sink: str = "file"
) -> dict:
    """The FIRE file's pieces written to ``root/name`` (renamed into place once complete and
    checked); ``sink="discard"``: checked, counted and hashed, not kept."""
    final = root / name
    partial = final.with_name(f".{final.name}.partial")
    discarded = _Discarded()
    if sink == "file":
        final.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("wb") if sink == "file" else discarded as fh:
            written = _written(make_pieces(), fh)
            problems = check_pub1220(written)
            for _ in written:  # whatever the checker did not need
                pass
            if problems:
                raise FilingCheckError(
                    f"Publication 1220 file failed its check: {problems[0]} (+{len(problems) - 1} more)"
                )
        if sink == "file":
            os.replace(partial, final)
    finally:
        if sink == "file":
            partial.unlink(missing_ok=True)
    if sink == "file":
        info["file"] = name
    else:
        info["discarded_bytes"] = discarded.size
        info["sha256"] = discarded.digest.hexdigest()
    return info


#: The per-return index of an IRIS filing (beside its transmissions; no personal data).
INDEX_SCHEMA = pa.schema(
    [
        ("form_id", pa.large_string()),
        ("transmission", pa.large_string()),
        ("unique_transmission_id", pa.large_string()),
        ("submission_id", pa.int64()),
        ("record_id", pa.int64()),
    ]
)


def check_settings(settings: TransmitterSettings, tax_year: int, transmitted_on: date | None = None) -> None:
    """Before any work: settings the IRS file for ``tax_year`` cannot be written with are one line
    naming ``prorata.toml`` (exit 2), not a failure at the end of the run. For IRIS: software ids
    configured, but none for the tax year (IRIS rule TMFST020)."""
    if filing_channel(tax_year, transmitted_on) == "IRIS" and settings.software_id(tax_year) is None:
        raise ConfigError(
            f"prorata.toml: [iris] software_id has none for tax year {tax_year} "
            f"(the IRS's SoftwareId for it starts with {tax_year % 100:02d}: IRIS rule TMFST020)"
        )


def _store_iris(
    root: Path,
    info: dict,
    filing: GroupedFiling,
    settings: TransmitterSettings,
    *,
    suffix: str = "",
    original_receipt_id: str | None = None,
    max_bytes: int = MAX_TRANSMISSION_BYTES,
    sink: str = "file",
    full_validation: bool = False,
) -> dict:
    """An IRIS filing's transmissions written to ``root/irs/<stem>_NNN.xml`` (at most ``max_bytes``
    each), each validated against the configured IRS schema package as it is written (its records
    by shape and value, :func:`record_check`; ``full_validation``: the whole file), and its
    per-return index to ``root/irs/<stem>_index.parquet``; all renamed into place only once every
    transmission is written and valid. ``sink="discard"``: validated, counted and hashed, not kept.
    A transmission is written and hashed on a thread of its own while the next one is rendered
    (one at a time, recorded in order); validated whole, on this thread (lxml's parser's own)."""
    schema = iris_schema.configured(settings.iris_schema_package)
    software_id = settings.software_id(filing.tax_year)
    if software_id is None:
        raise FilingInputError(
            f"no [iris] software_id for tax year {filing.tax_year} "
            f"(its first two digits must be {filing.tax_year % 100:02d}: IRIS rule TMFST020)"
        )
    check = None if full_validation else record_check(schema)
    options = IrisOptions(
        software_id=software_id,
        schema_version=schema.version if schema else SCHEMA_VERSION,
        original_receipt_id=original_receipt_id,
        max_bytes=max_bytes,
        prepared_for_irs=settings.configured and bool(software_id),
        record_check=check,
    )
    stem = _name("IRIS", filing.tax_year, suffix)
    keep = sink == "file"
    staged: list[tuple[Path, Path]] = []
    index_name = f"{stem}_index.parquet"
    index_partial = root / f"{stem}_index.parquet.partial"
    info.update(
        schema_checked=schema is not None,
        schema_package=schema.package.name if schema else None,
        schema_version=options.schema_version,
        schema_validation=None if schema is None else "records by shape and value" if check else "whole file",
        software_id=software_id,
        transmissions=[],
    )
    if keep:
        (root / "irs").mkdir(parents=True, exist_ok=True)
    checks: list[tuple[int, Path, pl.DataFrame, _Validation]] = []
    index_writer = pq.ParquetWriter(index_partial, INDEX_SCHEMA, compression="zstd") if keep else None
    # Each transmission is written and hashed on a thread of its own while the next one is rendered
    # (file writes and SHA-256 release the GIL); one at a time, recorded in order.
    writer = ThreadPoolExecutor(max_workers=1)
    pending: tuple[Future, Transmission, str] | None = None

    def record(job: Future, transmission: Transmission, name: str) -> None:
        size, sha256 = job.result()
        info["transmissions"].append(
            {
                "file": name if keep else None,
                "bytes": size,
                "returns": transmission.returns,
                "submissions": transmission.submissions,
                "sha256": sha256,
                "unique_transmission_id": transmission.unique_transmission_id,
                # IRIS business rules the IRS would only report (rule, forms, payer: no personal data)
                "business_rule_reports": [p.text() for p in transmission.rule_reports],
            }
        )
        if index_writer is not None:
            index = transmission.index.with_columns(
                pl.lit(Path(name).name).alias("transmission"),
                pl.lit(transmission.unique_transmission_id).alias("unique_transmission_id"),
            ).select(INDEX_SCHEMA.names)
            index_writer.write_table(index.to_arrow().cast(INDEX_SCHEMA))

    try:
        for transmission in _schema_checked(iris_transmissions(filing, options), schema):
            name = f"{stem}_{transmission.number:03d}.xml"
            final = root / name
            partial = final.with_name(f".{final.name}.partial")
            whole = schema is not None and check is None  # the whole file through libxml2
            big = keep and transmission.size >= PARALLEL_VALIDATION_BYTES
            feed = SchemaFeed(schema.schema) if whole and not big else None
            if keep:
                staged.append((partial, final))
            if pending is not None:
                record(*pending)
                pending = None
            if not whole:
                job = writer.submit(_put, transmission.pieces, partial if keep else None, None, release=True)
                pending = (job, transmission, name)
                continue
            job = Future()  # here: lxml's parser (the feed) stays on the thread that made it
            job.set_result(_put(transmission.pieces, partial if keep else None, feed, release=False))
            if feed is not None and feed.errors():
                data = b"".join(bytes(memoryview(p)) for p in transmission.pieces)
                raise _schema_error(schema, transmission.number, data, transmission.index)
            if feed is None:  # validated in a process of its own, from its file
                running = [c for c in checks if c[3].process.poll() is None]
                if len(running) >= VALIDATORS:  # as many at once as there are cores
                    _check(schema, *running[0])
                checks.append(
                    (transmission.number, partial, transmission.index, _Validation(schema.package, partial))
                )
            record(job, transmission, name)
            del transmission
        if pending is not None:
            record(*pending)
            pending = None
        for check in checks:
            _check(schema, *check)
        if index_writer is not None:
            index_writer.close()
            index_writer = None
            staged.append((index_partial, root / index_name))
        for partial, final in staged:
            os.replace(partial, final)
    finally:
        writer.shutdown(wait=True)  # the transmission being written, before its file is removed
        for *_, check in checks:
            check.stop()
        if index_writer is not None:
            index_writer.close()
        for partial, _ in staged:
            partial.unlink(missing_ok=True)
        index_partial.unlink(missing_ok=True)
    if keep:
        info["files"] = [t["file"] for t in info["transmissions"]]
        info["file"] = info["files"][0]
        info["index"] = index_name
    else:
        info["discarded_bytes"] = sum(t["bytes"] for t in info["transmissions"])
        info["sha256"] = info["transmissions"][0]["sha256"] if len(info["transmissions"]) == 1 else None
    return info


def _put(pieces: list, path: Path | None, feed: SchemaFeed | None, *, release: bool) -> tuple[int, str]:
    """A transmission's pieces written to ``path`` (None: discarded), hashed as they pass (the
    manifest's ``sha256``: the file as written, never read back) and fed to ``feed``; its size and
    SHA-256. ``release``: each piece let go once written (nothing reads the pieces after)."""
    digest, size = hashlib.sha256(), 0
    with path.open("wb") if path is not None else _Discarded() as fh:
        for piece in pieces:
            fh.write(piece)
            digest.update(piece)
            size += len(memoryview(piece))
            if feed is not None:
                feed.feed(piece)
    if release:
        pieces.clear()
    return size, digest.hexdigest()


# PRORATA_IRIS_VALIDATION=full: every IRIS transmission parsed whole by libxml2's validation as it is
# written, instead of :class:`transforms.irs.iris.schema_check.RecordCheck` (its records by shape and by
# value: the same verdict, a tenth of the work; ``tests/irs/test_iris_record_check.py``). A filing's own
# transmissions are always validated whole (``write_irs_file(full_validation=True)``).


def record_check(schema: iris_schema.IrisSchema | None) -> RecordCheck | None:
    """The check of the transmissions' records by shape and by value, for ``schema``'s package;
    None — the whole file validated — when ``PRORATA_IRIS_VALIDATION=full``, or when the package's
    declarations are not of the kind the proof covers (:func:`flows.io.iris_package.value_schema`)."""
    if schema is None or environment().iris_validation == "full":
        return None
    paths = record_paths()
    try:
        values, kinds, declarations = iris_schema.value_schema(
            schema.package, tuple((*RECORD_PATH, *p) for p in paths)
        )
    except iris_schema.SchemaPackageError:
        return None
    return RecordCheck(schema.schema, values, paths, kinds, declarations)


def _schema_checked(transmissions: Iterable, schema: iris_schema.IrisSchema | None) -> Iterator:
    """The writer's transmissions; its schema failures as :class:`FilingCheckError`."""
    try:
        yield from transmissions
    except SchemaError as error:
        assert schema is not None
        raise FilingCheckError(
            f"IRIS transmission failed the IRS schema ({schema.package.name}): {error}"
        ) from None


#: A transmission this large (written to a file) is validated in a process of its own while the next
#: is written: libxml2's validation holds the GIL; two cores then work at once.
PARALLEL_VALIDATION_BYTES = 20_000_000


#: Large transmissions validated at once (each in a process of its own): one per core.
VALIDATORS = max(1, os.cpu_count() or 1)


class _Validation:
    """A large transmission validated against the schema in a process of its own, from its file
    (``python -m flows.io.iris_package PACKAGE FILE``), while the next is written: libxml2's validation
    holds the GIL, so the cores work at once (``VALIDATORS`` at most)."""

    def __init__(self, package: Path, path: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flows.io.iris_package", str(package), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.found: list[str] | None = None

    def errors(self) -> list[str]:
        if self.found is not None:
            return self.found
        out, err = self.process.communicate()
        if self.process.returncode != 0:
            raise FilingCheckError(
                f"the IRIS schema check stopped: {err.decode(errors='replace').strip()[-300:]}"
            )
        self.found = json.loads(out)
        return self.found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _check(
    schema: iris_schema.IrisSchema, number: int, partial: Path, index: pl.DataFrame, check: _Validation
) -> None:
    if check.errors():
        raise _schema_error(schema, number, partial.read_bytes(), index)


def _schema_error(
    schema: iris_schema.IrisSchema, number: int, data: bytes, index: pl.DataFrame
) -> FilingCheckError:
    """The first return (form_id) and element a transmission breaks the schema on; no value."""
    where = locate(schema.schema, data, index)
    return FilingCheckError(
        f"IRIS transmission {number} failed the IRS schema ({schema.package.name}): {where}"
    )


class _Discarded:
    """A file that keeps only its size and SHA-256."""

    def __init__(self) -> None:
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.size += len(data)
        self.digest.update(data)
        return len(data)

    def __enter__(self) -> _Discarded:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def _written(pieces: Iterable[bytes], fh: BinaryIO) -> Iterator[bytes]:
    """The pieces of a file, each written to ``fh`` as it passes (the file is never whole in memory)."""
    for piece in pieces:
        fh.write(piece)
        yield piece
