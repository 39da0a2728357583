"""The IRS electronic filing of a run: one file in ``OUT_DIR/irs/``.

Tax years up to the last FIRE year (parameter ``fire_last_tax_year``, 2025) are written as a
Publication 1220 file and read back by our own checker before they are kept; later years as IRIS
XML. Only forms without a blocking edit check and with box 1 of $10 or more are filed.

The file is written piece by piece (``iter_pub1220`` / ``iter_iris_xml``) to a hidden file beside
its name, the Publication 1220 checker reading the same pieces as they pass, and renamed only once
complete and checked: memory holds the returns and one chunk of records, never the whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import BinaryIO, TypeVar

import polars as pl

from flows.config import TransmitterSettings
from transforms.irs import Transmitter, check_pub1220, iter_iris_xml, iter_pub1220
from transforms.irs.channel import filing_channel

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


class FilingCheckError(RuntimeError):
    """Our own Publication 1220 file failed our own checker: nothing is written."""


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


def transmitter(settings: TransmitterSettings) -> Transmitter:
    return Transmitter(
        tin=settings.tin,
        tcc=settings.tcc,
        name=settings.name,
        company_name=settings.company_name,
        address=settings.address,
        city=settings.city,
        state=settings.state,
        zip=settings.zip,
        contact_name=settings.contact_name,
        contact_phone=settings.contact_phone,
        contact_email=settings.contact_email,
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
) -> dict:
    """Write the filing into ``root/irs/``; returns what the manifest records about it. The system
    (FIRE or IRIS) follows :func:`transforms.irs.channel.filing_channel`: by tax year for a run's
    own file, by ``transmitted_on`` for the store's filings and corrections."""
    test_file = settings.test_file or not settings.configured
    info = {
        "channel": filing_channel(tax_year, transmitted_on),
        "returns": filing.height,
        "test_file": test_file,
        "transmitter_configured": settings.configured,
        "file": None,
    }
    if filing.height == 0:
        return info
    (root / "irs").mkdir(parents=True, exist_ok=True)
    t = transmitter(settings)
    kind = "FIRE_1099R_{}.txt" if info["channel"] == "FIRE" else "IRIS_1099R_{}.xml"
    name = "irs/" + kind.format(tax_year)
    final = root / name
    partial = final.with_name(f".{final.name}.partial")
    try:
        with partial.open("wb") as fh:
            if info["channel"] == "FIRE":
                pieces = iter_pub1220(
                    filing,
                    t,
                    tax_year=tax_year,
                    test_file=test_file,
                    prior_year=prior_year_data(tax_year, transmitted_on),
                )
                written = _written(pieces, fh)
                problems = check_pub1220(written)
                for _ in written:  # whatever the checker did not need
                    pass
                if problems:
                    raise FilingCheckError(
                        f"Publication 1220 file failed its check: {problems[0]} (+{len(problems) - 1} more)"
                    )
            else:
                for _ in _written(iter_iris_xml(filing, t, tax_year=tax_year, test_file=test_file), fh):
                    pass
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    info["file"] = name
    return info


def _written(pieces: Iterable[bytes], fh: BinaryIO) -> Iterator[bytes]:
    """The pieces of a file, each written to ``fh`` as it passes (the file is never whole in memory)."""
    for piece in pieces:
        fh.write(piece)
        yield piece
