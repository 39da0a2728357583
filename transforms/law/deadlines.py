"""The year's filing deadlines for Form 1099-R (dated parameters, transforms/law/parameters.toml)."""

from __future__ import annotations

from datetime import date, timedelta

from transforms.law.params import TaxParameters


def next_business_day(day: date) -> date:
    """A due date on a Saturday or Sunday moves to the next Monday (IRC §7503). No legal holiday of
    the District of Columbia falls between 31 January and 2 February or between 31 March and
    2 April, the only days the deadlines below can land on."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def due(tax_year: int, month_day: str) -> date:
    """A "MM-DD" due date in the year after the tax year, moved off a weekend (IRC §7503)."""
    month, day = (int(x) for x in month_day.split("-"))
    return next_business_day(date(tax_year + 1, month, day))


def deadlines(tax_year: int) -> dict[str, date]:
    """Recipient copies (Copy B) by 31 January and the IRS's electronic filing by 31 March of the
    following year (Instructions for Forms 1099-R and 5498; IRC §6071(b), §7503)."""
    p = TaxParameters.for_year(tax_year)
    return {
        "recipient copies": due(tax_year, p.recipient_statement_due),
        "IRS electronic filing": due(tax_year, p.irs_electronic_filing_due),
    }
