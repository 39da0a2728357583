"""Recipient statements: Form 1099-R Copy B ("For Recipient") as PDF, one file per plan.

    prorata statements OUT_DIR [--dest DIR]

reads ``forms.parquet``, ``recipients.parquet`` and ``payers.parquet`` of a ``prorata run`` and writes
``OUT_DIR/statements/<plan_id>.pdf``: one page per form, sorted by the payee's last name, then form_id.
Each page is our own black-on-white substitute statement (not the IRS red-ink Copy A): the payer and
recipient blocks, every box 1-19, and a short plain-language excerpt of the recipient instructions
that covers the box 7 codes actually on the page.

- The recipient's TIN is truncated (T.D. 9675): ``***-**-1234``, or ``**-***1234`` for an EIN. The full
  TIN is never drawn, nor put in the document metadata.
- Amounts are integer cents formatted with integer arithmetic, never floats.
- Only the fpdf2 core fonts (Helvetica) are used; text outside Windows-1252 is transliterated
  (accents dropped, a few letters spelled out) or replaced with ``?``, never an error.
- Deterministic: the creation date is fixed to 1 January after the tax year and the file id is a
  hash of the content, so the same inputs give the same bytes.
- Nothing here prints or logs names or TINs: progress lines carry counts only.
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import polars as pl
from fpdf import FPDF

from flows.io.outputs import STATEMENTS, swap_folder
from transforms.kernels.dollars import dollars_text
from transforms.law.box7 import recipient_note
from transforms.law.params import TaxParameters

try:  # pinned in requirements.lock (via prefect); without it, non-Latin letters print as "?"
    from text_unidecode import unidecode as _unidecode
except ImportError:  # pragma: no cover
    _unidecode = None

Progress = Callable[[str], None]
PROGRESS_EVERY = 1000

TITLE = (
    "Distributions From Pensions, Annuities, Retirement or Profit-Sharing Plans, IRAs, "
    "Insurance Contracts, etc."
)
COPY_B_LEGEND = (
    "Copy B \u2014 Report this income on your federal tax return. If this form shows federal income "
    "tax withheld in box 4, attach this copy to your return. This information is being furnished to "
    "the IRS."
)

# --------------------------------------------------------------------------------------------------
# Text helpers (pure; unit-testable)
# --------------------------------------------------------------------------------------------------

ENCODING = "cp1252"  # the core fonts are written with /WinAnsiEncoding
_SPELLED = {  # letters that NFKD does not decompose into an ASCII base letter
    "\u0141": "L",  # Ł
    "\u0142": "l",
    "\u0110": "D",  # Đ
    "\u0111": "d",
    "\u0131": "i",  # dotless i
    "\u0130": "I",
    "\u0126": "H",
    "\u0127": "h",
    "\u0166": "T",
    "\u0167": "t",
    "\u014a": "N",
    "\u014b": "n",
    "\u0132": "IJ",
    "\u0133": "ij",
    "\u0138": "k",
    "\u0149": "'n",
    "\u01c4": "DZ",
    "\u01c6": "dz",
    "\u1e9e": "SS",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2212": "-",
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u200b": "",
    "\ufeff": "",
}


@lru_cache(maxsize=65536)
def pdf_safe(text: str | None) -> str:
    """``text`` in Windows-1252, the encoding of the core fonts. Characters outside it lose their
    accents (NFKD) or are spelled out (Ł -> L; other scripts transliterated, Иванов -> Ivanov); what is
    left (emoji, symbols) becomes ``?``. Control characters become spaces. Never raises."""
    if not text:
        return ""
    out: list[str] = []
    pending: list[str] = []  # a run of characters for the transliterator

    def flush() -> None:
        if not pending:
            return
        run = "".join(pending)
        pending.clear()
        spelled = (_unidecode(run) if _unidecode is not None else "").strip()
        if spelled and spelled.isascii() and spelled.isprintable():
            out.append(spelled)
        else:
            out.append("?" * len(run))

    for ch in str(text):
        if ch in _SPELLED:
            flush()
            out.append(_SPELLED[ch])
            continue
        if ch < " " or "\x7f" <= ch < "\xa0":
            flush()
            out.append(" ")
            continue
        try:
            ch.encode(ENCODING)
            flush()
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        try:
            if base:
                base.encode(ENCODING)
                flush()
                out.append(base)
                continue
        except UnicodeEncodeError:
            pass
        pending.append(ch)
    flush()
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()


def truncated_tin(tin: str | None, tin_type: str | None) -> str:
    """The recipient's TIN as it may appear on a statement (T.D. 9675): the first five digits masked.
    ``***-**-1234`` for an SSN/ITIN/ATIN, ``**-***1234`` for an EIN. Only the last four digits ever
    leave this function."""
    digits = re.sub(r"[^0-9]", "", tin or "")
    last4 = digits[-4:] if len(digits) >= 4 else "****"
    if (tin_type or "").lower() == "ein":
        return f"**-***{last4}"
    return f"***-**-{last4}"


def payer_tin_text(tin: str | None) -> str:
    digits = re.sub(r"[^0-9]", "", tin or "")
    return f"{digits[:2]}-{digits[2:]}" if len(digits) == 9 else (tin or "")


def zip_text(z: str | None) -> str:
    z = (z or "").strip()
    return f"{z[:5]}-{z[5:]}" if len(z) == 9 and z.isdigit() else z


def phone_text(p: str | None) -> str:
    digits = re.sub(r"[^0-9]", "", p or "")
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return p or ""


def date_text(d: date | None) -> str:
    return f"{d.month:02d}/{d.day:02d}/{d.year:04d}" if d else ""


COUNTRIES = {
    "CA": "Canada",
    "MX": "Mexico",
    "GB": "United Kingdom",
    "IE": "Ireland",
    "DE": "Germany",
    "FR": "France",
    "IT": "Italy",
    "ES": "Spain",
    "PT": "Portugal",
    "NL": "Netherlands",
    "BE": "Belgium",
    "CH": "Switzerland",
    "AT": "Austria",
    "SE": "Sweden",
    "NO": "Norway",
    "DK": "Denmark",
    "FI": "Finland",
    "PL": "Poland",
    "GR": "Greece",
    "IL": "Israel",
    "IN": "India",
    "CN": "China",
    "JP": "Japan",
    "KR": "South Korea",
    "PH": "Philippines",
    "VN": "Vietnam",
    "AU": "Australia",
    "NZ": "New Zealand",
    "BR": "Brazil",
    "AR": "Argentina",
    "CO": "Colombia",
    "DO": "Dominican Republic",
    "JM": "Jamaica",
    "ZA": "South Africa",
    "NG": "Nigeria",
}


def address_lines(
    city: str | None, state: str | None, zip_code: str | None, country: str | None
) -> list[str]:
    """The city/state/ZIP line of a US address, or city + postal code and the country of a foreign
    one (``state`` empty or a country other than US)."""
    city, state, country = (city or "").strip(), (state or "").strip(), (country or "US").strip().upper()
    if state and country in ("", "US"):
        return [f"{city}, {state} {zip_text(zip_code)}".strip()]
    first = " ".join(x for x in (city, (zip_code or "").strip()) if x)
    return [first, COUNTRIES.get(country, country)]


def recipient_name(first: str | None, last: str | None) -> str:
    first, last = (first or "").strip(), (last or "").strip()
    return f"{first} {last}" if first else last


# --------------------------------------------------------------------------------------------------
# Instructions for Recipient (our own words, not the IRS text)
# --------------------------------------------------------------------------------------------------

BOX_NOTES = [
    (
        "Box 1",
        "The total paid to you from the plan during the year, before any tax was withheld. It includes "
        "amounts that were rolled over.",
    ),
    (
        "Box 2a",
        "The part of box 1 that is generally taxable income. If box 2b \u201ctaxable amount not "
        "determined\u201d is checked, the payer could not work out this amount and you may have to figure "
        "it yourself.",
    ),
    ("Box 4", "Federal income tax withheld from the payment. Claim it on your return as tax already paid."),
    (
        "Box 5",
        "Your own after-tax money (after-tax or designated Roth contributions, or insurance premiums) "
        "that came back to you. It is not taxed again.",
    ),
    (
        "Box 7",
        "Codes that tell the IRS what kind of payment this was. The codes on this statement mean:",
    ),
]
CLOSING_NOTE = (
    "A box that is blank or shows $0.00 does not apply to you. Keep this statement with your tax "
    "records. This is a summary, not tax advice; for details see the IRS Instructions for Forms "
    "1099-R and 5498 at www.irs.gov/Form1099R or ask a tax professional."
)


def codes_on(codes: str | None) -> list[str]:
    return [c for c in (codes or "").strip().upper() if c.strip()]


def instruction_notes(row: dict) -> list[tuple[str, str]]:
    """(label, text) pairs of the recipient instructions for one form."""
    notes = list(BOX_NOTES)
    p = TaxParameters.for_year(int(row["tax_year"]))
    for code in codes_on(row.get("distribution_codes")):
        notes.append((f"Code {code}", recipient_note(code, p)))  # the one code table (transforms.law.box7)
    if row.get("box9a_percent") is not None:
        notes.append(("Box 9a", "Your share, in percent, of a total distribution paid to several people."))
    if row.get("box11_year") is not None:
        notes.append(
            (
                "Box 11",
                "The first year you made designated Roth contributions to this plan; it starts the "
                "5-year period that decides whether Roth earnings are tax-free.",
            )
        )
    notes.append(("Boxes 14-19", "State and local income tax withheld and the amounts they apply to."))
    return notes


# --------------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------------

PAGE_W, PAGE_H = 215.9, 279.4  # US Letter, mm
X0, W = 12.0, 192.0
XM = X0 + W / 2  # the middle line of the box grid
HALF = W / 2
QUARTER = W / 4
GRID_TOP = 45.0
LABEL_PT, VALUE_PT = 6.0, 9.5


class _Page:
    """Draws one statement on the current page of ``pdf``; keeps the last font to avoid redundant
    set_font calls (the most frequent cost of fpdf2)."""

    def __init__(self, pdf: FPDF):
        self.pdf = pdf
        self._font: tuple[str, float] | None = None
        self._wrap_cache: dict[tuple[str, str, float, float], list[str]] = {}
        self._widths: dict[tuple[str, float, str], float] = {}
        self._labels: list[tuple[float, float, str]] = []

    # -- primitives --------------------------------------------------------------------------------
    def font(self, style: str, size: float) -> None:
        if self._font != (style, size):
            self.pdf.set_font("Helvetica", style, size)
            self._font = (style, size)

    def text(self, x: float, y: float, s: str, style: str = "", size: float = VALUE_PT) -> None:
        if s:
            self.font(style, size)
            self.pdf.text(x, y, s)

    def width(self, s: str, style: str, size: float) -> float:
        """get_string_width, memoised (it is the costliest call per page and most strings repeat)."""
        key = (style, size, s)
        w = self._widths.get(key)
        if w is None:
            if len(self._widths) > 50_000:  # names and amounts vary: keep memory flat on big plans
                self._widths.clear()
            self.font(style, size)
            w = self._widths[key] = self.pdf.get_string_width(s)
        return w

    def right(self, x_right: float, y: float, s: str, style: str = "", size: float = VALUE_PT) -> None:
        if s:
            x = x_right - self.width(s, style, size)
            self.font(style, size)
            self.pdf.text(x, y, s)

    def fit(self, s: str, width: float, style: str, size: float, min_size: float = 6.0) -> tuple[str, float]:
        """``s`` at the largest size down to ``min_size`` that fits ``width``; cut with '...' if even
        that is too wide."""
        s = pdf_safe(s)
        size_now = size
        while size_now >= min_size:
            if self.width(s, style, size_now) <= width:
                return s, size_now
            size_now -= 0.5
        while s and self.width(s + "...", style, min_size) > width:
            s = s[:-1]
        return s + "...", min_size

    def fitted(self, x: float, y: float, s: str, width: float, style: str = "", size: float = VALUE_PT):
        s, size = self.fit(s, width, style, size)
        self.text(x, y, s, style, size)

    def fitted_two(self, x: float, y: float, s: str, width: float, style: str = "", size: float = VALUE_PT):
        """One line at ``size`` (shrinking to 8 pt) with its baseline at ``y + 9``, or else two lines
        at 7.5 pt filling the box below its label; what does not fit on two lines is cut with '...'."""
        s = pdf_safe(s)
        one, one_size = self.fit(s, width, style, size, min_size=8.0)
        if not one.endswith("...") or one == s:
            self.text(x, y + 9, one, style, one_size)
            return
        lines = self.wrap(s, width, style, 7.5)
        first = lines[0]
        rest = s[len(first) :].strip()
        self.fitted(x, y + 6.6, first, width, style, 7.5)
        self.fitted(x, y + 10.0, rest, width, style, 7.5)

    def wrap(self, s: str, width: float, style: str, size: float) -> list[str]:
        key = (s, style, size, width)
        hit = self._wrap_cache.get(key)
        if hit is not None:
            return hit
        if len(self._wrap_cache) > 10_000:
            self._wrap_cache.clear()
        lines: list[str] = []
        line = ""
        for word in s.split():
            trial = f"{line} {word}" if line else word
            if self.width(trial, style, size) <= width or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        if line:
            lines.append(line)
        self._wrap_cache[key] = lines
        return lines

    def box(self, x: float, y: float, w: float, h: float, label: str | Iterable[str]) -> None:
        self.pdf.rect(x, y, w, h)
        lines = [label] if isinstance(label, str) else list(label)
        for i, line in enumerate(lines):  # drawn together at the end of the page: one set_font
            self._labels.append((x + 1.2, y + 2.6 + i * 2.5, line))

    def flush_labels(self) -> None:
        self.font("", LABEL_PT)
        for x, y, line in self._labels:
            self.pdf.text(x, y, line)
        self._labels.clear()

    def checkbox(self, x: float, y: float, checked: bool, size: float = 3.0) -> None:
        """A square with its top-left corner at (x, y); an X when checked."""
        self.pdf.rect(x, y, size, size)
        if checked:
            w = self.width("X", "B", 8)
            self.font("B", 8)
            self.pdf.text(x + (size - w) / 2, y + size - 0.5, "X")

    def amount(self, x: float, y: float, w: float, h: float, cents: int | None) -> None:
        self.right(x + w - 1.5, y + h - 2.0, dollars_text(cents), "B", VALUE_PT)

    # -- the statement -----------------------------------------------------------------------------
    def draw(self, row: dict) -> None:
        pdf = self.pdf
        pdf.add_page()
        pdf.set_line_width(0.25)
        tax_year = row["tax_year"]

        # header
        self.text(X0, 13, "CORRECTED (if checked)", "", 7.5)
        self.checkbox(
            X0 + self.width("CORRECTED (if checked)", "", 7.5) + 2, 10.6, bool(row.get("corrected"))
        )
        self.text(XM - 14, 13, "OMB No. 1545-0119", "", 7.5)
        self.right(X0 + W, 13.5, "Copy B  For Recipient", "B", 11)

        self.text(X0, 22, "Form 1099-R", "B", 15)
        x = X0 + self.width("Form 1099-R", "B", 15) + 1.5
        rest, size = self.fit("\u2014 " + TITLE, X0 + W - x, "B", 9.0)
        self.text(x, 21.6, rest, "B", size)

        self.text(X0, 30.5, f"Tax year {tax_year}", "B", 14)
        plan = pdf_safe(row.get("plan_name") or row.get("plan_id") or "")
        plan, psize = self.fit(f"Plan: {plan}", HALF - 2, "", 8)
        self.right(X0 + W, 30, plan, "", psize)

        for i, line in enumerate(self.wrap(COPY_B_LEGEND, W, "B", 7.5)):
            self.text(X0, 36 + i * 3.3, line, "B", 7.5)

        self._left_column(row)
        self._right_column(row)
        bottom = self._state_local(row, GRID_TOP + 96)
        self.text(X0, bottom + 4, "Form 1099-R", "B", 8)
        self.text(X0 + 20, bottom + 4, "(keep for your records)", "", 7)
        self.right(X0 + W, bottom + 4, "Department of the Treasury \u2014 Internal Revenue Service", "", 7)
        self._instructions(row, bottom + 12)
        self.flush_labels()
        self.text(X0, PAGE_H - 8, pdf_safe(f"Statement {row['form_id']}"), "", 6.5)
        self.right(X0 + W, PAGE_H - 8, f"Substitute Form 1099-R, tax year {tax_year}", "", 6.5)

    def _left_column(self, row: dict) -> None:
        y = GRID_TOP
        x, w = X0, HALF
        # payer
        self.box(
            x,
            y,
            w,
            32,
            [
                "PAYER'S name, street address, city or town, state or province, country,",
                "ZIP or foreign postal code, and telephone no.",
            ],
        )
        payer_lines = [
            row.get("payer_name") or "",
            row.get("payer_address") or "",
            f"{row.get('payer_city') or ''}, {row.get('payer_state') or ''} {zip_text(row.get('payer_zip'))}".strip(
                ", "
            ),
            phone_text(row.get("payer_phone")),
        ]
        for i, line in enumerate(payer_lines):
            self.fitted(x + 2, y + 10.5 + i * 4.6, line, w - 4, "B" if i == 0 else "", 9)
        y += 32
        # TINs
        self.box(x, y, QUARTER, 12, "PAYER'S TIN")
        self.text(x + 2, y + 9, payer_tin_text(row.get("payer_tin")), "B", VALUE_PT)
        self.box(x + QUARTER, y, QUARTER, 12, "RECIPIENT'S TIN")
        self.text(
            x + QUARTER + 2, y + 9, truncated_tin(row.get("payee_tin"), row.get("r_tin_type")), "B", VALUE_PT
        )
        y += 12
        self.box(x, y, w, 12, "RECIPIENT'S name")
        self.fitted_two(
            x + 2, y, recipient_name(row.get("r_first_name"), row.get("r_last_name")), w - 4, "B", 10
        )
        y += 12
        self.box(x, y, w, 12, "Street address (including apt. no.)")
        self.fitted_two(x + 2, y, row.get("r_address") or "", w - 4, "", VALUE_PT)
        y += 12
        self.box(x, y, w, 16, "City or town, state or province, country, and ZIP or foreign postal code")
        lines = address_lines(row.get("r_city"), row.get("r_state"), row.get("r_zip"), row.get("r_country"))
        for i, line in enumerate(lines):
            self.fitted(x + 2, y + 8.5 + i * 4.4, line, w - 4, "", VALUE_PT)
        y += 16
        self.box(x, y, w, 12, "Account number (see instructions)")
        self.fitted(
            x + 2, y + 9, row.get("account_box") or row.get("account_number") or "", w - 4, "B", VALUE_PT
        )

    def _right_column(self, row: dict) -> None:
        x1, x2, w = XM, XM + QUARTER, QUARTER
        y = GRID_TOP

        self.box(x1, y, w, 12, "1   Gross distribution")
        self.amount(x1, y, w, 12, row.get("box1_cents"))
        self.box(x2, y, w, 12, "2a  Taxable amount")
        self.amount(x2, y, w, 12, row.get("box2a_cents"))
        y += 12

        self.box(x1, y, HALF, 10, "2b")
        self.text(x1 + 6, y + 6.4, "Taxable amount not determined", "", 7)
        self.checkbox(x1 + 44, y + 4, bool(row.get("taxable_not_determined")))
        self.text(x2 + 6, y + 6.4, "Total distribution", "", 7)
        self.checkbox(x2 + 30, y + 4, bool(row.get("total_distribution")))
        y += 10

        self.box(x1, y, w, 12, ["3   Capital gain (included in", "     box 2a)"])
        self.amount(x1, y, w, 12, row.get("box3_cents"))
        self.box(x2, y, w, 12, ["4   Federal income tax", "     withheld"])
        self.amount(x2, y, w, 12, row.get("box4_cents"))
        y += 12

        self.box(
            x1,
            y,
            w,
            14,
            [
                "5   Employee contributions/",
                "     Designated Roth contributions",
                "     or insurance premiums",
            ],
        )
        self.amount(x1, y, w, 14, row.get("box5_cents"))
        self.box(x2, y, w, 14, ["6   Net unrealized appreciation", "     in employer's securities"])
        self.amount(x2, y, w, 14, row.get("box6_cents"))
        y += 14

        self.box(x1, y, w, 12, "7   Distribution code(s)")
        self.text(x1 + 2, y + 9.5, pdf_safe(row.get("distribution_codes") or ""), "B", 11)
        self.text(x1 + 20, y + 5.2, "IRA/", "", 6)
        self.text(x1 + 20, y + 7.5, "SEP/", "", 6)
        self.text(x1 + 20, y + 9.8, "SIMPLE", "", 6)
        self.checkbox(x1 + 29, y + 5.6, bool(row.get("ira_sep_simple")))
        self.box(x2, y, w, 12, "8   Other")
        self.amount(x2, y, w, 12, row.get("box8_cents"))
        y += 12

        self.box(x1, y, w, 12, ["9a  Your percentage of total", "     distribution"])
        pct = row.get("box9a_percent")
        self.right(x1 + w - 1.5, y + 10, f"{pct} %" if pct is not None else "", "B", VALUE_PT)
        self.box(x2, y, w, 12, ["9b  Total employee", "     contributions"])
        self.amount(x2, y, w, 12, row.get("box9b_cents"))
        y += 12

        self.box(x1, y, w, 12, ["10  Amount allocable to IRR", "     within 5 years"])
        self.amount(x1, y, w, 12, row.get("box10_cents"))
        self.box(x2, y, w, 12, ["11  1st year of desig. Roth", "     contrib."])
        year = row.get("box11_year")
        self.right(x2 + w - 1.5, y + 10, str(year) if year is not None else "", "B", VALUE_PT)
        y += 12

        self.box(x1, y, w, 12, ["12  FATCA filing", "     requirement"])
        self.checkbox(x1 + w - 6, y + 6.5, bool(row.get("fatca")))
        self.box(x2, y, w, 12, "13  Date of payment")
        self.right(x2 + w - 1.5, y + 10, date_text(row.get("box13_date")), "B", VALUE_PT)

    def _state_local(self, row: dict, y: float) -> float:
        w = W / 6
        h = 21.0
        labels = [
            ["14  State tax withheld"],
            ["15  State/Payer's state no."],
            ["16  State distribution"],
            ["17  Local tax withheld"],
            ["18  Name of locality"],
            ["19  Local distribution"],
        ]
        for i, label in enumerate(labels):
            self.box(X0 + i * w, y, w, h, label)
            self.pdf.line(X0 + i * w, y + 13.5, X0 + (i + 1) * w, y + 13.5)
        base = y + 10.5
        state = (row.get("state") or "").strip()
        state_w, state_d = row.get("state_withholding_cents") or 0, row.get("state_distribution_cents") or 0
        if state or state_w or state_d:
            self.right(X0 + w - 1.5, base, dollars_text(state_w), "B", 8.5)
            self.text(X0 + w + 1.5, base, pdf_safe(state), "B", 8.5)
            self.fitted(X0 + w + 9.5, base, row.get("state_payer_id") or "", w - 11, "B", 8.5)
            self.right(X0 + 3 * w - 1.5, base, dollars_text(state_d), "B", 8.5)
        locality = (row.get("locality") or "").strip()
        local_w = row.get("local_withholding_cents") or 0
        if locality or local_w:  # a local distribution without a locality names nothing
            self.right(X0 + 4 * w - 1.5, base, dollars_text(local_w), "B", 8.5)
            self.fitted(X0 + 4 * w + 1.5, base, locality, w - 3, "B", 8.5)
            self.right(
                X0 + 6 * w - 1.5, base, dollars_text(row.get("local_distribution_cents") or 0), "B", 8.5
            )
        return y + h

    def _instructions(self, row: dict, y: float) -> None:
        self.text(X0, y, "Instructions for Recipient", "B", 10)
        y += 2.5
        self.pdf.line(X0, y, X0 + W, y)
        y += 4.2
        label_w = 20.0
        size, lead = 8.0, 3.5
        for label, note in instruction_notes(row):
            self.text(X0 + (4 if label.startswith("Code") else 0), y, label, "B", size)
            for line in self.wrap(note, W - label_w, "", size):
                self.text(X0 + label_w, y, line, "", size)
                y += lead
            y += 1.0
        y += 1.0
        for line in self.wrap(CLOSING_NOTE, W, "I", 7.5):
            self.text(X0, y, line, "I", 7.5)
            y += 3.3


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


class StatementError(Exception):
    """A one-line, user-facing problem (missing input file)."""


# What a form can show: two lines of a name or address box at the smallest type hold well under
# this many characters. Longer values are cut before any drawing, so time and memory stay flat
# whatever the input (issue 18: a 32,000-character name once took 48 s and 1 GB).
FIELD_CHARS = 160
FOLDER = STATEMENTS


def bounded(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column cut to :data:`FIELD_CHARS` characters (vectorized)."""
    return frame.with_columns(
        pl.col(c).str.slice(0, FIELD_CHARS) for c, t in frame.schema.items() if t == pl.String
    )


def sort_name(col: str) -> pl.Expr:
    """A case- and accent-blind sort key (``Ångström`` sorts with ``A``), vectorized."""
    return pl.col(col).fill_null("").str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase()


def _recordkeeper_accounts(out_dir: Path) -> pl.DataFrame:
    path = out_dir / "accounts.parquet"
    if not path.is_file():
        return pl.DataFrame(schema={"form_id": pl.String, "recordkeeper_account": pl.String})
    return pl.read_parquet(path, columns=["form_id", "recordkeeper_account"])


def _read(out_dir: Path) -> pl.DataFrame:
    paths = {name: out_dir / f"{name}.parquet" for name in ("forms", "recipients", "payers")}
    for path in paths.values():
        if not path.is_file():
            raise StatementError(f"{path}: not found; run 'prorata run' first")
    forms = pl.read_parquet(paths["forms"])
    # the recipient's columns get a prefix: forms.parquet has a `state` of its own (box 14)
    recipients = pl.read_parquet(paths["recipients"])
    recipients = recipients.rename({c: f"r_{c}" for c in recipients.columns if c != "payee_id"})
    payers = pl.read_parquet(paths["payers"]).drop("payer_tin", strict=False)
    joined = (
        forms.join(recipients, on="payee_id", how="left")
        .join(payers, on="plan_id", how="left")
        .join(_recordkeeper_accounts(out_dir), on="form_id", how="left")
    )
    return _ordered(joined)


def _ordered(rows: pl.DataFrame) -> pl.DataFrame:
    rows = bounded(rows).with_columns(
        # the account-number box: the recordkeeper's own number when the extract gave one
        pl.coalesce("recordkeeper_account", "account_number").alias("account_box"),
        sort_name("r_last_name").alias("_sort_name"),
    )
    return rows.sort(["plan_id", "_sort_name", "form_id", *(["role"] if "role" in rows.columns else [])])


def file_names(ids: list[str], fallback: str) -> dict[str, str]:
    """A file name (without extension) for each id, never the same for two ids: the id itself when
    it is a plain name, else its safe characters and a hash of the id (``P/01`` and ``P_01`` once
    both gave ``P_01.pdf`` and one plan's statements overwrote the other's). Names that differ only
    in case get the hash too (case-blind file systems)."""
    import hashlib
    from collections import Counter

    def tag(i: str) -> str:
        return hashlib.sha256(i.encode("utf-8")).hexdigest()[:10]

    names = {}
    for i in ids:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", i)[:60].strip(".") or fallback
        names[i] = safe if safe == i else f"{safe}-{tag(i)}"
    folded = Counter(n.lower() for n in names.values())
    for i, n in names.items():
        if folded[n.lower()] > 1 and n == i:
            names[i] = f"{n}-{tag(i)}"
    if len(set(names.values())) != len(names):  # pragma: no cover - a hash collision
        raise StatementError("two ids give the same statement file name")
    return names


def _file_name(plan_id: str) -> str:
    return file_names([plan_id], "plan")[plan_id]


def _new_pdf(title: str, tax_year: int) -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format="letter")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_auto_page_break(False)
    pdf.set_margins(X0, 10, PAGE_W - X0 - W)
    pdf.set_compression(True)
    pdf.set_creation_date(datetime(tax_year + 1, 1, 1, tzinfo=UTC))
    pdf.set_title(pdf_safe(f"Form 1099-R Copy B, tax year {tax_year}, {title}"))
    pdf.set_subject("Recipient statements (Form 1099-R, Copy B)")
    pdf.set_creator("prorata")
    pdf.set_draw_color(0)
    pdf.set_text_color(0)
    return pdf


def _write_atomic(data: bytes, path: Path) -> None:
    """Write beside ``path`` and rename, so a reader never sees half a PDF (permissions follow the
    umask, like the other outputs)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Pages:
    """Draws groups of statement rows into PDFs, counting pages for the progress lines."""

    def __init__(self, total: int, progress: Progress | None):
        self.total, self.progress, self.pages = total, progress, 0

    def pdf(self, group: pl.DataFrame, title: str, path: Path) -> int:
        pdf = _new_pdf(title, int(group["tax_year"].max()))
        page = _Page(pdf)
        for row in group.iter_rows(named=True):
            page.draw(row)
            self.pages += 1
            if self.progress is not None and self.pages % PROGRESS_EVERY == 0:
                self.progress(f"statements: {self.pages:,} of {self.total:,} pages")
        _write_atomic(bytes(pdf.output()), path)
        return group.height


INDEX_COLUMNS = [
    "file",
    "recipient_file",
    "plan_id",
    "payee_id",
    "form_id",
    "account_number",
    "recordkeeper_account",
]


def draw_all(rows: pl.DataFrame, folder: Path, by: str, progress: Progress | None, manifest: dict) -> dict:
    """One PDF per plan (``<plan>.pdf``) and, with ``by`` "both" or "recipient", one per recipient
    (``recipients/<payee>.pdf``, every form of the payee in the run); ``index.csv`` tells which file
    holds which form and account number (ids only: no name or TIN); ``manifest.json`` the run."""
    plans = file_names(rows["plan_id"].unique().sort().to_list(), "plan") if by != "recipient" else {}
    payees = file_names(rows["payee_id"].unique().sort().to_list(), "payee") if by != "plan" else {}
    drawn = _Pages(rows.height * (2 if by == "both" else 1), progress)
    for (plan_id,), group in rows.group_by(["plan_id"], maintain_order=True):
        if plans:
            drawn.pdf(group, f"plan {plan_id}", folder / f"{plans[plan_id]}.pdf")
    if payees:
        (folder / "recipients").mkdir(exist_ok=True)
        by_payee = rows.sort("payee_id", "plan_id", "form_id")
        for (payee_id,), group in by_payee.group_by(["payee_id"], maintain_order=True):
            drawn.pdf(group, f"recipient {payee_id}", folder / "recipients" / f"{payees[payee_id]}.pdf")
    index = rows.select(
        (pl.col("plan_id").replace_strict(plans, default=None) + ".pdf").alias("file"),
        ("recipients/" + pl.col("payee_id").replace_strict(payees, default=None) + ".pdf").alias(
            "recipient_file"
        ),
        "plan_id",
        "payee_id",
        "form_id",
        "account_number",
        "recordkeeper_account",
        *[c for c in ("role", "corrected") if c in rows.columns],  # a corrections run's statements
    ).sort("plan_id", "payee_id", "form_id")
    index.write_csv(folder / "index.csv")
    counts = {"plans": len(plans), "recipients": len(payees), "forms": rows.height, "pages": drawn.pages}
    (folder / "manifest.json").write_text(
        json.dumps({**manifest, **counts}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return counts


def _run_facts(out_dir: Path) -> dict:
    try:
        m = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: m[k] for k in ("run_id", "extract_id", "tax_year") if k in m}


def write_statements(
    out_dir: Path,
    *,
    dest: Path | None = None,
    progress: Progress | None = None,
    by: str = "both",
    account: str | None = None,
) -> dict:
    """Write ``<dest or OUT_DIR/statements>/``: ``<plan_id>.pdf`` (one page per form) and
    ``recipients/<payee_id>.pdf`` (``by``: "both", "plan" or "recipient"), ``index.csv`` and
    ``manifest.json``, the whole folder swapped into place. With ``account`` (the form's account
    number or the recordkeeper's), only that recipient's PDF is written, into ``dest`` (default
    OUT_DIR/statements/lookup). Returns ``{"plans", "recipients", "pages", "seconds",
    "pages_per_second", "files"}``. Raises :class:`StatementError` when an input table is missing
    or no form has the account number."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    rows = _read(out_dir)
    facts = {"kind": "prorata-statements", "corrected": False, **_run_facts(out_dir)}
    return _write(rows, out_dir, dest, progress, by, account, facts, start)


def _write(rows, out_dir, dest, progress, by, account, facts, start) -> dict:
    if account is not None:
        key = account.strip()
        hit = rows.filter((pl.col("account_number") == key.upper()) | (pl.col("recordkeeper_account") == key))
        if hit.height == 0:
            raise StatementError(f"no form with account number {key!r} in {out_dir}")
        rows = rows.filter(pl.col("payee_id").is_in(hit["payee_id"].unique().implode()))
        folder = Path(dest) if dest is not None else out_dir / FOLDER / "lookup"
        folder.mkdir(parents=True, exist_ok=True)
        payees = file_names(rows["payee_id"].unique().sort().to_list(), "payee")
        drawn = _Pages(rows.height, progress)
        files = []
        for (payee_id,), group in rows.sort("payee_id", "plan_id", "form_id").group_by(
            ["payee_id"], maintain_order=True
        ):
            path = folder / f"{payees[payee_id]}.pdf"
            drawn.pdf(group, f"recipient {payee_id}", path)
            files.append(str(path))
        counts = {
            "plans": 0,
            "recipients": len(files),
            "forms": rows.height,
            "pages": drawn.pages,
            "files": files,
        }
    else:
        folder = Path(dest) if dest is not None else out_dir / FOLDER
        result: dict = {}
        swap_folder(folder, lambda tmp: result.update(draw_all(rows, tmp, by, progress, facts)))
        counts = {**result, "files": [str(folder)]}
    seconds = time.perf_counter() - start
    if progress is not None:
        progress(f"statements: {counts['pages']:,} pages")
    return {
        **counts,
        "seconds": seconds,
        "pages_per_second": counts["pages"] / seconds if seconds > 0 else 0.0,
    }


def corrected_statement_rows(filed: pl.DataFrame, outputs: Path) -> pl.DataFrame:
    """The returns of a corrections filing as the IRS has them (``filed``: their rows of the store's
    filings table), as statement rows: a one-step correction (Type 1) and a voided return (Type 2's
    first record, or a return that should not have been filed: zero amounts) with the CORRECTED box
    checked; Type 2's new return and a late original as plain statements (Instructions for Forms
    1099: the new return of a two-step correction is not marked CORRECTED). ``outputs``: the year's
    outputs, for the plan names and the recordkeeper's account numbers."""
    names = (
        pl.read_parquet(outputs / "payers.parquet", columns=["plan_id", "plan_name"])
        if (outputs / "payers.parquet").is_file()
        else None
    )
    rows = filed.with_columns(
        pl.col("role").is_in(["type1", "type2_void", "void"]).alias("corrected"),
        pl.col("lineage_account").alias("account_number"),
    ).rename(
        {c: f"r_{c}" for c in ("tin_type", "first_name", "last_name", "address", "city", "zip", "country")}
        | {"state_code": "r_state"}
    )
    rows = rows.unique(["filing_id", "lineage_account", "role"], keep="last", maintain_order=True)
    if names is not None:
        rows = rows.join(names, on="plan_id", how="left")
    rows = rows.join(_recordkeeper_accounts(outputs), on="form_id", how="left")
    return _ordered(rows)


def write_rows(
    rows: pl.DataFrame,
    out_dir: Path,
    folder: Path,
    progress: Progress | None,
    by: str,
    facts: dict,
    start: float | None = None,
) -> dict:
    """Statements for ``rows`` (:func:`corrected_statement_rows`) into ``folder``, swapped into place
    (``start``: when the work began, for the pages per second)."""
    start = time.perf_counter() if start is None else start
    return _write(rows, out_dir, folder, progress, by, None, facts, start)


def statements_note(out_dir: Path, run_id: str | None) -> str | None:
    """A line for the run summary when OUT_DIR keeps statements of an earlier run."""
    try:
        m = json.loads((Path(out_dir) / FOLDER / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if m.get("run_id") == run_id:
        return None
    return (
        f"  statements     {out_dir}/{FOLDER}/ kept from run {m.get('run_id') or '(unknown)'}: "
        "drawn from earlier forms; rerun prorata statements"
    )
