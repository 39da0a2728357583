"""Which IRS system takes a transmission: FIRE (Publication 1220) or IRIS (XML)."""

from __future__ import annotations

from datetime import date

from transforms.law.params import TaxParameters

FIRE = "FIRE"
IRIS = "IRIS"


def filing_channel(tax_year: int, transmitted_on: date | None = None) -> str:
    """FIRE for tax years up to ``fire_last_tax_year`` while FIRE is open, IRIS otherwise.

    docs/spec/outputs.md, "IRS files": the run's own file goes by tax year (Publication 1220 up to 2025, IRIS
    XML from 2026); corrections — and any later transmission — go by transmission date: through FIRE
    until it closes at the end of 2026, through IRIS after (IRS IRIS Working Group, 15 May 2025;
    parameters ``fire_last_tax_year`` and ``fire_last_transmission_date``). ``transmitted_on`` None
    decides by tax year alone.
    """
    p = TaxParameters.for_year(tax_year)
    if tax_year > p.fire_last_tax_year:
        return IRIS
    if transmitted_on is not None and transmitted_on > p.fire_last_transmission_date:
        return IRIS
    return FIRE
