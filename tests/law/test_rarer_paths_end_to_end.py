"""The law's rarer paths, end to end through ``prorata run``: two extracts of small cases written by hand
from the law (tax year 2025, and 2015 for rules the law has changed since), and the boxes the law
requires for each, derived by hand (not from prorata's output).

Every expected value cites its rule (``docs/reference/tax-rules.md`` sections; the spec where it fixes a
convention the law leaves open). Money in cents; ``None`` means not asserted (the law is unsettled:
see the comment on the row).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from flows.cli.main import main
from tests.builders import Case, contract_row, dist_row, participant_row, payee_row, plan_row

TAX_YEAR = 2025
PAID = date(2025, 6, 2)
ADULT = date(1980, 1, 15)  # 45 in 2025: under 59½, no exception unless a case gives one


def usd(dollars: float) -> int:
    return round(dollars * 100)


PLANS = [
    plan_row("PA", payer_tin="120000001"),  # 401(k), no separate after-tax account, no pre-1987 rule
    plan_row("PSEP87", payer_tin="120000002", after_tax_separately_accounted=True, pre1987_recovery=True),
    plan_row("P87", payer_tin="120000003", pre1987_recovery=True),
    plan_row("PSEP", payer_tin="120000004", plan_type="403b", after_tax_separately_accounted=True),
    plan_row("PGOV", payer_tin="120000005", plan_type="457b_governmental"),
]


class Extract:
    """Builds one canonical extract: each person is a payee; a participant is a person in a plan."""

    def __init__(self) -> None:
        self.case = Case(plans=PLANS, payees=[], participants=[], contracts=[], distributions=[])
        self._tins = 0

    def person(self, payee_id: str, dob: date | None = ADULT) -> str:
        self._tins += 1
        self.case.payees.append(payee_row(payee_id, tin=f"4{self._tins:08d}", dob=dob))
        return payee_id

    def participant(self, pid: str, plan: str = "PA", dob: date = ADULT, **kw) -> str:
        self.person(pid, dob)
        self.case.participants.append(participant_row(pid, pid, plan, **kw))
        return pid

    def event(
        self,
        eid: str,
        pid: str,
        contracts: list[tuple],
        legs: list[tuple],
        *,
        plan: str = "PA",
        payee: str | None = None,
        paid: date = PAID,
        reason: str = "separation",
    ) -> None:
        """``contracts``: (contract, value, basis, extra columns); ``legs``: (id, contract, amount,
        destination, extra columns)."""
        for contract, value, basis, *kw in contracts:
            self.case.contracts.append(contract_row(eid, contract, value, basis, **(kw[0] if kw else {})))
        for did, contract, amount, destination, *kw in legs:
            extra = {"reason": reason, **(kw[0] if kw else {})}
            self.case.distributions.append(
                dist_row(
                    did,
                    eid,
                    contract,
                    amount,
                    destination,
                    participant_id=pid,
                    payee_id=payee or pid,
                    plan_id=plan,
                    payment_date=paid,
                    **extra,
                )
            )

    def one(self, did: str, pid: str, contract: tuple, amount: int, destination: str = "cash", **kw) -> None:
        """An event of one leg ``did`` on one contract (contract, value, basis, extra columns): the event
        is ``E`` + ``pid``, ``kw`` as for :meth:`event` (``leg``: the leg's extra columns)."""
        leg = kw.pop("leg", {})
        self.event(f"E{did}", pid, [contract], [(did, contract[0], amount, destination, leg)], **kw)


NR, AT, ROTH = "non_roth", "after_tax", "roth"


def nr(value: float, basis: float = 0, **kw) -> tuple:
    return (NR, usd(value), usd(basis), kw)


def roth(value: float, basis: float, **kw) -> tuple:
    return (ROTH, usd(value), usd(basis), kw)


def at(value: float, basis: float, **kw) -> tuple:
    return (AT, usd(value), usd(basis), kw)


def build() -> Case:  # noqa: PLR0915 - one flat list of cases reads best
    x = Extract()
    sep = {"separation_date": date(2025, 3, 1)}

    # A. Pre-1987 basis first (§72(e)(8)(D)), with separate accounting (§72(d)(2))
    x.participant("A1", "PSEP87")
    x.event(
        "EA1",
        "A1",
        [at(50_000, 20_000, pre1987_basis_cents=usd(5_000)), nr(100_000)],
        [("A1-cash", AT, usd(8_000), "cash")],
        plan="PSEP87",
        reason="in_service",
    )
    x.participant("A2", "PSEP87", **sep)
    x.event(
        "EA2",
        "A2",
        [at(20_000, 15_000, pre1987_basis_cents=usd(3_000)), nr(80_000)],
        [("A2-atcash", AT, usd(10_000), "cash"), ("A2-ira", NR, usd(20_000), "rollover_ira")],
        plan="PSEP87",
    )
    # B. Pre-1987 basis without separate accounting, below the draw, ignored, split with a rollover
    x.participant("B1", "P87")
    x.one(
        "B1-cash",
        "B1",
        nr(200_000, 20_000, pre1987_basis_cents=usd(5_000)),
        usd(8_000),
        plan="P87",
        reason="in_service",
    )
    x.participant("B2", "P87", dob=date(1960, 3, 1))
    x.one(
        "B2-cash",
        "B2",
        nr(100_000, 10_000, pre1987_basis_cents=usd(6_000)),
        usd(4_000),
        plan="P87",
        reason="in_service",
    )
    x.participant("B3")
    x.one(
        "B3-cash", "B3", nr(100_000, 10_000, pre1987_basis_cents=usd(6_000)), usd(4_000), reason="in_service"
    )
    x.participant("B4", "P87", **sep)
    x.event(
        "EB4",
        "B4",
        [nr(100_000, 10_000, pre1987_basis_cents=usd(4_000))],
        [("B4-ira", NR, usd(20_000), "rollover_ira"), ("B4-cash", NR, usd(10_000), "cash")],
        plan="P87",
    )
    # C. §72(e)(8)(B) at the extremes: a cent of basis, all basis, basis equal to the balance
    x.participant("C1")
    x.one("C1-cash", "C1", (NR, usd(1_000_000), 1, {}), usd(100), reason="in_service")
    x.participant("C2", **sep)
    x.one("C2-cash", "C2", (NR, usd(5_000), 3, {}), usd(5_000))
    x.participant("C3", "PSEP")
    x.event(
        "EC3",
        "C3",
        [at(12_000, 12_000), nr(50_000)],
        [("C3-cash", AT, usd(3_000), "cash")],
        plan="PSEP",
        reason="in_service",
    )
    x.participant("C4", separation_date=date(2025, 2, 1))
    x.event(
        "EC4",
        "C4",
        [nr(10_000, 10_000)],
        [("C4-rothira", NR, usd(4_000), "rollover_roth_ira"), ("C4-cash", NR, usd(1_000), "cash")],
    )
    # D. Designated Roth accounts (§402A)
    x.participant("D1", roth_first_year=2022)
    x.event(
        "ED1",
        "D1",
        [roth(30_000, 24_000), nr(200_000, 10_000)],
        [("D1-cash", ROTH, usd(5_000), "cash")],
        reason="hardship",
    )
    x.participant("D2", dob=date(1965, 1, 10), roth_first_year=2019, separation_date=date(2025, 4, 1))
    x.one("D2-cash", "D2", roth(40_000, 25_000, irr_recapture_cents=usd(5_000)), usd(10_000))
    for pid, dob in (("D3", date(1965, 12, 2)), ("D3b", date(1965, 12, 3))):
        x.participant(pid, dob=dob, roth_first_year=2015)
        x.one(f"{pid}-cash", pid, roth(20_000, 15_000), usd(4_000), reason="in_service")
    for pid, paid in (("D3c", date(2025, 2, 28)), ("D3d", date(2025, 2, 27))):
        x.participant(pid, dob=date(1965, 8, 31))
        x.one(f"{pid}-cash", pid, nr(10_000), usd(1_000), paid=paid, reason="in_service")
    x.participant("D4", dob=date(1975, 5, 5), date_of_death=date(2024, 11, 1), roth_first_year=2018)
    x.person("D4-ben", date(1976, 1, 1))
    x.one("D4-cash", "D4", roth(30_000, 20_000), usd(30_000), payee="D4-ben", reason="death")
    x.participant("D5", dob=date(1975, 5, 5), date_of_death=date(2025, 1, 10), roth_first_year=2023)
    x.person("D5-ben", date(2000, 1, 1))
    x.one(
        "D5-cash",
        "D5",
        roth(10_000, 8_000, irr_recapture_cents=usd(2_000)),
        usd(5_000),
        payee="D5-ben",
        reason="death",
    )
    x.participant("D6", disabled=True, roth_first_year=2016)
    x.one("D6-cash", "D6", roth(23_000, 21_850), usd(12_000), reason="disability")
    x.participant("D7", roth_first_year=2022, **sep)
    x.event(
        "ED7",
        "D7",
        [roth(20_000, 15_000)],
        [("D7-rothira", ROTH, usd(3_000), "rollover_roth_ira"), ("D7-cash", ROTH, usd(7_000), "cash")],
    )
    x.participant("D8", roth_first_year=2020, **sep)
    x.one("D8-rothplan", "D8", roth(8_000, 6_000), usd(8_000), "rollover_roth_plan")
    x.participant("D9", dob=date(1970, 1, 1), date_of_death=date(2025, 1, 1), roth_first_year=2023)
    x.person("D9-ben", date(1971, 1, 1))
    x.one(
        "D9-rothira",
        "D9",
        roth(10_000, 7_000),
        usd(10_000),
        "rollover_roth_ira",
        payee="D9-ben",
        reason="death",
    )
    x.participant("D10", roth_first_year=2023, **sep)
    x.one("D10-cash", "D10", roth(5_000, 8_000), usd(2_000))
    # E. Notice 2014-54: three destinations, an election, ties, two pools, in-plan Roth rollovers
    ira, roth_ira, cash = "rollover_ira", "rollover_roth_ira", "cash"
    first, second = {"rollover_order": 1}, {"rollover_order": 2}
    for pid, value, basis, legs in (
        (
            "E1",
            100_000,
            20_000,
            [("ira", 80_000, ira), ("rothira", 10_000, roth_ira), ("cash", 10_000, cash)],
        ),
        (
            "E2",
            100_000,
            20_000,
            [("ira", 50_000, ira, second), ("rothira", 40_000, roth_ira, first), ("cash", 10_000, cash)],
        ),
        ("E3", 100_000, 50_000, [("b", 30_000, ira), ("a", 30_000, ira), ("roth", 40_000, roth_ira)]),
        (
            "E4",
            50_000,
            30_000,
            [("rothira", 10_000, roth_ira, first), ("ira", 5_000, ira, first), ("cash", 5_000, cash)],
        ),
        ("E5", 100_000, 40_000, [("ira", 50_000, ira), ("rothira", 50_000, roth_ira, first)]),
    ):
        x.participant(pid, **sep)
        x.event(
            f"E{pid}",
            pid,
            [nr(value, basis)],
            [(f"{pid}-{name}", NR, usd(amount), dest, *kw) for name, amount, dest, *kw in legs],
        )
    x.participant("E7", roth_first_year=2020, **sep)
    x.event(
        "EE7",
        "E7",
        [nr(100_000, 20_000)],
        [("E7-irr", NR, usd(80_000), "in_plan_roth_rollover"), ("E7-cash", NR, usd(20_000), "cash")],
    )
    x.participant("E8", "PSEP", roth_first_year=2020)
    x.event(
        "EE8",
        "E8",
        [at(20_000, 15_000), nr(30_000)],
        [("E8-irr", AT, usd(20_000), "in_plan_roth_rollover")],
        plan="PSEP",
        reason="in_service",
    )
    x.participant("K1", roth_first_year=2022, **sep)
    x.event(
        "EK1",
        "K1",
        [nr(40_000, 4_000), roth(10_000, 7_000)],
        [
            ("K1-ira", NR, usd(30_000), "rollover_ira"),
            ("K1-cash", NR, usd(10_000), "cash"),
            ("K1-rothira", ROTH, usd(6_000), "rollover_roth_ira"),
            ("K1-rothcash", ROTH, usd(4_000), "cash"),
        ],
    )
    # F. In-plan Roth rollovers and box 10
    x.participant("F1", roth_first_year=2020)
    x.event(
        "EF1",
        "F1",
        [nr(60_000, 6_000), roth(10_000, 8_000)],
        [("F1-irr", NR, usd(30_000), "in_plan_roth_rollover")],
        reason="in_service",
    )
    x.participant("F2", dob=date(1970, 2, 1), roth_first_year=2021, separation_date=date(2025, 1, 31))
    x.one("F2-cash", "F2", roth(50_000, 30_000, irr_recapture_cents=usd(10_000)), usd(10_000))
    x.participant("F3", roth_first_year=2021)
    x.one(
        "F3-cash", "F3", roth(50_000, 30_000, irr_recapture_cents=usd(10_000)), usd(10_000), reason="hardship"
    )
    # G. Corrective distributions
    for pid, dob, first, contract, amount, year, returned in (
        ("G1", ADULT, None, nr(50_000), 1_500, 2025, 0),
        ("G2", date(1960, 1, 1), None, nr(50_000), 2_000, 2024, 0),
        ("G3", date(1960, 1, 1), 2010, roth(40_000, 30_000), 2_100, 2025, 2_000),
        ("G4", ADULT, 2020, roth(10_000, 8_000), 1_050, 2024, 1_000),
        ("G6", ADULT, None, nr(30_000, 5_000), 1_200, 2025, 1_000),
    ):
        x.participant(pid, dob=dob, roth_first_year=first)
        leg = {"corrective_taxable_year": year, "corrective_basis_cents": usd(returned)}
        x.one(f"{pid}-cash", pid, contract, usd(amount), reason="corrective", leg=leg)
    x.participant("G5", dob=date(1970, 1, 1), date_of_death=date(2025, 1, 5))
    x.person("G5-ben", date(1995, 1, 1))
    leg = {"corrective_taxable_year": 2025, "corrective_basis_cents": 0}
    x.one("G5-cash", "G5", nr(20_000), usd(500), payee="G5-ben", reason="corrective", leg=leg)
    # H. Box 7: age and exception coding
    for pid, dob, separated, reason in (
        ("H1", date(1970, 10, 1), date(2025, 3, 1), "separation"),
        ("H2", date(1970, 10, 1), date(2024, 11, 30), "separation"),
        ("H9", date(1969, 1, 1), date(2025, 8, 1), "in_service"),
        ("H10", date(1969, 3, 1), date(2024, 6, 30), "separation"),
    ):
        x.participant(pid, dob=dob, separation_date=separated)
        x.one(f"{pid}-cash", pid, nr(40_000), usd(10_000), reason=reason)
    for pid, dob, safety in (
        ("H3", date(1975, 9, 1), True),
        ("H3b", date(1976, 3, 1), True),
        ("H3c", date(1975, 9, 1), False),
    ):
        x.participant(pid, "PGOV", dob=dob, separation_date=date(2025, 2, 1), public_safety_employee=safety)
        x.one(f"{pid}-cash", pid, nr(20_000), usd(5_000), plan="PGOV", leg={"from_rollover_source": True})
    x.participant("H4", disabled=True)
    x.one("H4-cash", "H4", nr(30_000), usd(3_000), reason="disability")
    x.participant("H4b", disabled=True)
    x.one("H4b-qplo", "H4b", nr(30_000), usd(2_000), reason="qualified_loan_offset")
    x.participant("H5", dob=date(1955, 1, 1), date_of_death=date(2025, 2, 1))
    x.person("H5-ben", date(1956, 1, 1))
    x.event(
        "EH5",
        "H5",
        [nr(100_000)],
        [("H5-ira", NR, usd(60_000), "rollover_ira"), ("H5-cash", NR, usd(40_000), "cash")],
        payee="H5-ben",
        reason="death",
    )
    x.participant("H6", "PGOV")
    x.event(
        "EH6",
        "H6",
        [nr(20_000)],
        [
            ("H6-plain", NR, usd(4_000), "cash"),
            ("H6-roll", NR, usd(1_000), "cash", {"from_rollover_source": True}),
        ],
        plan="PGOV",
        reason="in_service",
    )
    x.participant("H7")
    x.one("H7-deemed", "H7", nr(30_000, 3_000), usd(5_000), reason="deemed_loan")
    x.participant("H7b", dob=date(1963, 1, 1), separation_date=date(2025, 5, 1))
    x.one("H7b-qplo", "H7b", nr(30_000), usd(5_000), reason="qualified_loan_offset")
    x.participant("H8")
    x.person("H8-ap", date(1982, 1, 1))
    x.one("H8-cash", "H8", nr(50_000, 5_000), usd(10_000), payee="H8-ap", reason="qdro")
    x.participant("H11", "PGOV", roth_first_year=2022)
    x.event(
        "EH11",
        "H11",
        [roth(20_000, 15_000, irr_recapture_cents=usd(3_000)), nr(10_000)],
        [("H11-cash", ROTH, usd(5_000), "cash")],
        plan="PGOV",
        reason="in_service",
    )
    x.participant("H12", dob=date(1963, 1, 1), roth_first_year=2010)
    x.one("H12-deemed", "H12", roth(20_000, 10_000), usd(2_000), reason="deemed_loan")
    x.participant("H13", dob=date(1963, 1, 1), roth_first_year=2010, separation_date=date(2025, 5, 1))
    x.one("H13-qplo", "H13", roth(20_000, 10_000), usd(2_000), reason="qualified_loan_offset")
    # I. Filing threshold, forms per account, box 9a
    for pid, cents in (("I1", 999), ("I2", 1_000)):
        x.participant(pid)
        x.one(f"{pid}-cash", pid, nr(1_000), cents, reason="in_service")
    x.participant("I3")
    x.one("I3-march", "I3", nr(20_000), usd(1_000), paid=date(2025, 3, 3), reason="in_service")
    x.one("I3-sept", "I3", nr(19_000), usd(2_000), paid=date(2025, 9, 2), reason="in_service")
    x.participant("I5a", dob=date(1950, 1, 1), date_of_death=date(2024, 5, 1))
    x.participant("I5b", dob=date(1952, 1, 1), date_of_death=date(2024, 7, 1))
    x.person("I5-ben", date(1980, 6, 1))
    x.one("I5a-cash", "I5a", nr(10_000), usd(10_000), payee="I5-ben", reason="death")
    x.one("I5b-cash", "I5b", nr(20_000), usd(4_000), payee="I5-ben", reason="death")
    x.participant("I6", dob=date(1950, 1, 1), date_of_death=date(2025, 1, 20))
    x.person("I6-b1", date(1975, 1, 1))
    x.person("I6-b2", date(1978, 1, 1))
    x.one("I6-b1-cash", "I6", nr(60_000), usd(60_000), payee="I6-b1", reason="death")
    x.one("I6-b2-ira", "I6", nr(40_000), usd(40_000), "rollover_ira", payee="I6-b2", reason="death")
    x.case.tax_year = TAX_YEAR
    return x.case


def build_2015() -> Case:
    """Tax year 2015: rules the law changed since (a designated Roth account's direct rollover, code M)."""
    x = Extract()
    paid = date(2015, 6, 1)
    sep = {"separation_date": date(2015, 3, 1)}
    x.participant("R15", roth_first_year=2012, **sep)
    x.event(
        "ER15",
        "R15",
        [roth(20_000, 15_000)],
        [("R15-rothira", ROTH, usd(3_000), "rollover_roth_ira"), ("R15-cash", ROTH, usd(7_000), "cash")],
        paid=paid,
    )
    x.participant("N15", **sep)
    x.event(
        "EN15",
        "N15",
        [nr(20_000, 15_000)],
        [("N15-ira", NR, usd(3_000), "rollover_ira"), ("N15-cash", NR, usd(7_000), "cash")],
        paid=paid,
    )
    x.participant("Q15", **sep)
    x.one("Q15-qplo", "Q15", nr(30_000), usd(5_000), paid=paid, reason="qualified_loan_offset")
    x.participant("Q15r", dob=date(1953, 1, 1), roth_first_year=2008, **sep)
    x.one("Q15r-qplo", "Q15r", roth(20_000, 10_000), usd(2_000), paid=paid, reason="qualified_loan_offset")
    x.case.tax_year = 2015
    return x.case


# distribution_id: (pretax, basis, box 2a, box 5, box 10, box 7), in cents; every figure worked by hand.
EXPECTED = {
    # §72(e)(8)(D) (tax-rules b.5): 5,000 of pre-1987 basis first, tax free; the rest, 3,000, pro rata on
    # the separate after-tax contract (§72(d)(2)) with basis and balance after the tier (spec,
    # "Allocation within an event"): 3,000 × 15,000 / 45,000 = 1,000. Code 1: 45, no exception.
    "A1-cash": (200_000, 600_000, 200_000, 600_000, 0, "1"),
    # Same rule: 3,000 first; 7,000 × 12,000 / 17,000 = 4,941.18 (half-up). The non-Roth pool's pre-tax
    # money (2,058.82 + 20,000) goes first to the direct rollover (Notice 2014-54 §III); the IRA leg is
    # all pre-tax, the cash leg keeps 2,058.82 of it.
    "A2-atcash": (205_882, 794_118, 205_882, 794_118, 0, "1"),
    "A2-ira": (2_000_000, 0, 0, 0, 0, "G"),
    # §72(e)(8)(D) without separate accounting: 5,000 first, then 3,000 × 15,000 / 195,000 = 230.77.
    "B1-cash": (276_923, 523_077, 276_923, 523_077, 0, "1"),
    # The draw (4,000) is below the pre-1987 basis (6,000): all of it is basis. 65 years old: code 7.
    "B2-cash": (0, 400_000, 0, 400_000, 0, "7"),
    # The same contract in a plan that did not allow in-service withdrawal on 5 May 1986: §72(e)(8)(D)
    # does not apply; pro rata only, 4,000 × 10,000 / 100,000 = 400.
    "B3-cash": (360_000, 40_000, 360_000, 40_000, 0, "1"),
    # Pre-1987 tier 4,000, then 26,000 × 6,000 / 96,000 = 1,625: pre-tax 24,375 ≥ the rollover 20,000
    # (Notice 2014-54 §III, R2 converse): the IRA leg is all pre-tax; cash takes 4,375 + all basis.
    "B4-ira": (2_000_000, 0, 0, 0, 0, "G"),
    "B4-cash": (437_500, 562_500, 437_500, 562_500, 0, "1"),
    # §72(e)(8)(B): 100 × 0.01 / 1,000,000 = 0.0001 cent → 0 (half-up rounding, spec).
    "C1-cash": (10_000, 0, 10_000, 0, 0, "1"),
    # The whole contract paid: all its basis, 3 cents, is recovered (§72(e)(8)(B), ratio over the balance).
    "C2-cash": (499_997, 3, 499_997, 3, 0, "1"),
    # A separately accounted after-tax contract that is all basis (§72(d)(2)): the draw is all basis.
    "C3-cash": (0, 300_000, 0, 300_000, 0, "1"),
    # Basis equals the balance: no pre-tax money; a direct rollover to a Roth IRA of basis only is not
    # taxable (i1099r 2016, §408A(e) recipe: taxable amount in 2a, basis recovery in 5; code G).
    "C4-rothira": (0, 400_000, 0, 400_000, 0, "G"),
    "C4-cash": (0, 100_000, 0, 100_000, 0, "1"),
    # §402A(d)(4): the Roth account alone, 5,000 × 24,000 / 30,000 = 4,000 of basis; the period from 2022
    # is not over in 2025 (§402A(d)(2)(B)): not qualified, 1,000 taxable; hardship under 59½: 1B.
    "D1-cash": (100_000, 400_000, 100_000, 400_000, 0, "1B"),
    # Period from 2019 (carried by a direct rollover from an earlier plan, §402A(d)(2)(B)(ii)), over by
    # 2025; 60 years old: qualified, 2a 0 (§402A(d)(1)); basis 10,000 × 25,000 / 40,000 = 6,250 (Reg.
    # §1.402A-1 A-7: still split). Box 10 empty: 59½ is a §72(t) exception (i1099r box 10).
    "D2-cash": (375_000, 625_000, 0, 625_000, 0, "7B"),
    # 59½ on the payment date itself (born 2 Dec 1965: 2 Jun 2025): qualified, code 7 (spec; i1099r).
    "D3-cash": (100_000, 300_000, 0, 300_000, 0, "7B"),
    # One day short of 59½: not qualified (§402A(d)(2)(A)(i)), 1,000 taxable, code 1B.
    "D3b-cash": (100_000, 300_000, 100_000, 300_000, 0, "1B"),
    # Born 31 Aug 1965: 59½ on 28 Feb 2025 (no 31 Feb; spec convention); a day earlier is code 1.
    "D3c-cash": (100_000, 0, 100_000, 0, 0, "7"),
    "D3d-cash": (100_000, 0, 100_000, 0, 0, "1"),
    # To a beneficiary after death, period from 2018 over: qualified (§402A(d)(2)(A)(ii)); whole account,
    # all basis recovered; code 4 with B (i1099r Table 1: 4 pairs with B).
    "D4-cash": (1_000_000, 2_000_000, 0, 2_000_000, 0, "4B"),
    # After death but the period from 2023 is not over: not qualified, 5,000 × 8,000 / 10,000 = 4,000
    # basis, 1,000 taxable; box 10 empty: death is a §72(t) exception (§72(t)(2)(A)(ii); i1099r box 10).
    "D5-cash": (100_000, 400_000, 100_000, 400_000, 0, "4B"),
    # Reg. §1.402A-1 A-7 (Employee C): 12,000 × 21,850 / 23,000 = 11,400 basis, 600 income; qualified on
    # account of disability. B is not paired with 3: 2B (spec; IRIS enumerates no B3).
    "D6-cash": (60_000, 1_140_000, 0, 1_140_000, 0, "2B"),
    # Within the Roth account (T.D. 9769; Notice 2014-54): basis 7,500 of 10,000; the 2,500 of earnings go
    # first to the direct rollover to the Roth IRA (code H, 2a 0); the cash leg is all basis (2a 0, 1B).
    "D7-rothira": (250_000, 50_000, 0, 50_000, 0, "H"),
    "D7-cash": (0, 700_000, 0, 700_000, 0, "1B"),
    # Roth account to another plan's Roth account: BG, 2a 0 (i1099r); the whole account, basis 6,000.
    "D8-rothplan": (200_000, 600_000, 0, 600_000, 0, "BG"),
    # The IRS after-tax rollover page: 80,000 pre-tax to the IRA, 10,000 after-tax to the Roth IRA and
    # 10,000 after-tax in cash; nothing taxable (Notice 2014-54 §III, R2 and R3).
    "E1-ira": (8_000_000, 0, 0, 0, 0, "G"),
    "E1-rothira": (0, 1_000_000, 0, 1_000_000, 0, "G"),
    "E1-cash": (0, 1_000_000, 0, 1_000_000, 0, "1"),
    # The participant elected the Roth IRA to take pre-tax money first (Notice 2014-54 §III, R3): 40,000
    # pre-tax there (a taxable conversion, 2a), the other 40,000 to the IRA with 10,000 of basis.
    "E2-rothira": (4_000_000, 0, 4_000_000, 0, 0, "G"),
    "E2-ira": (4_000_000, 1_000_000, 0, 1_000_000, 0, "G"),
    "E2-cash": (0, 1_000_000, 0, 1_000_000, 0, "1"),
    # Pre-tax 50,000 < rollovers 100,000: all pre-tax to the rollovers (R2); no election: traditional IRAs
    # first, ties by distribution_id (spec): E3-a 30,000, E3-b 20,000, the Roth IRA basis only.
    "E3-a": (3_000_000, 0, 0, 0, 0, "G"),
    "E3-b": (2_000_000, 1_000_000, 0, 1_000_000, 0, "G"),
    "E3-roth": (0, 4_000_000, 0, 4_000_000, 0, "G"),
    # Equal elected orders fall back to the default order (spec): the IRA before the Roth IRA. Basis
    # 20,000 × 30,000 / 50,000 = 12,000, pre-tax 8,000 < rollovers 15,000: IRA 5,000, Roth IRA 3,000.
    "E4-ira": (500_000, 0, 0, 0, 0, "G"),
    "E4-rothira": (300_000, 700_000, 300_000, 700_000, 0, "G"),
    "E4-cash": (0, 500_000, 0, 500_000, 0, "1"),
    # Two pools in one event (§402A(d)(4)): non-Roth whole (basis 4,000): IRA all pre-tax, cash 6,000
    # pre-tax + 4,000 basis; Roth whole (basis 7,000): earnings 3,000 to the Roth IRA first, cash basis.
    "K1-ira": (3_000_000, 0, 0, 0, 0, "G"),
    "K1-cash": (600_000, 400_000, 600_000, 400_000, 0, "1"),
    "K1-rothira": (300_000, 300_000, 0, 300_000, 0, "H"),
    "K1-rothcash": (0, 400_000, 0, 400_000, 0, "1B"),
    # In-plan Roth rollover (i1099r 2016 recipe): taxable amount in 2a (30,000 × 54,000 / 60,000 =
    # 27,000), basis in 5, code G; §72(t) does not apply to it (§402A(c)(4)).
    "F1-irr": (2_700_000, 300_000, 2_700_000, 300_000, 0, "G"),
    # Nonqualified (period from 2021), separated in the year of 55: a §72(t) exception, so box 10 stays
    # empty although in-plan Roth rollover amounts are in the account (i1099r box 10).
    "F2-cash": (400_000, 600_000, 400_000, 600_000, 0, "2B"),
    # No exception: box 10 is due, but how much of the distribution is allocable to the in-plan Roth
    # rollover (Notice 2010-84 Q/A-13) is open (tax-rules open question 13): not asserted.
    "F3-cash": (400_000, 600_000, 400_000, 600_000, None, "1B"),
    # Corrective distributions (tax-rules e.2 row 11; spec): 8 or P alone whatever the age — §72(t) does
    # not apply (§401(k)(8)(D), §402(g)(2)(C)); not pro-rated; the returned contributions are box 5.
    "G1-cash": (150_000, 0, 150_000, 0, 0, "8"),
    "G2-cash": (200_000, 0, 200_000, 0, 0, "P"),
    # Roth excess deferral: never qualified (§402A(d)(2)(C)) though 65 with a period from 2010.
    "G3-cash": (10_000, 200_000, 10_000, 200_000, 0, "8B"),
    "G4-cash": (5_000, 100_000, 5_000, 100_000, 0, "BP"),
    "G5-cash": (50_000, 0, 50_000, 0, 0, "48"),
    "G6-cash": (20_000, 100_000, 20_000, 100_000, 0, "8"),
    # §72(t)(2)(A)(v) as the IRS reads it: separated in the year of 55 (born Oct 1970, separated Mar 2025,
    # aged 54) → 2; separated in the year of 54 → 1 (i1099r code 2).
    "H1-cash": (1_000_000, 0, 1_000_000, 0, 0, "2"),
    "H2-cash": (1_000_000, 0, 1_000_000, 0, 0, "1"),
    # Governmental 457(b) money from a rollover source is under §72(t) (§72(t)(9)); §72(t)(10): a public
    # safety employee separated in the year of 50 → 2; in the year of 49 → 1; not public safety → 1.
    "H3-cash": (500_000, 0, 500_000, 0, 0, "2"),
    "H3b-cash": (500_000, 0, 500_000, 0, 0, "1"),
    "H3c-cash": (500_000, 0, 500_000, 0, 0, "1"),
    # Disability (§72(m)(7)): 3; beside M, which Table 1 does not pair with 3: 2M (spec convention).
    "H4-cash": (300_000, 0, 300_000, 0, 0, "3"),
    "H4b-qplo": (200_000, 0, 200_000, 0, 0, "2M"),
    # A beneficiary: 4 whatever the participant's age; 4G on the direct rollover (i1099r codes 4, G).
    "H5-ira": (6_000_000, 0, 0, 0, 0, "4G"),
    "H5-cash": (4_000_000, 0, 4_000_000, 0, 0, "4"),
    # Governmental 457(b): money not from a rollover source is outside §72(t) → 2; rollover-sourced → 1.
    "H6-plain": (400_000, 0, 400_000, 0, 0, "2"),
    "H6-roll": (100_000, 0, 100_000, 0, 0, "1"),
    # A deemed loan is pro-rated like any distribution (5,000 × 3,000 / 30,000 = 500) and coded L with
    # the age code; a qualified plan loan offset at 62: 7M.
    "H7-deemed": (450_000, 50_000, 450_000, 50_000, 0, "1L"),
    "H7b-qplo": (500_000, 0, 500_000, 0, 0, "7M"),
    # QDRO payment to an alternate payee: §72(t)(2)(C) exception → 2; pro rata 10,000 × 5,000 / 50,000.
    "H8-cash": (900_000, 100_000, 900_000, 100_000, 0, "2"),
    "I1-cash": (999, 0, 999, 0, 0, "1"),
    "I2-cash": (1_000, 0, 1_000, 0, 0, "1"),
    "I3-march": (100_000, 0, 100_000, 0, 0, "1"),
    "I3-sept": (200_000, 0, 200_000, 0, 0, "1"),
    # Two decedents' accounts, one beneficiary: code 4 on each, one form per account.
    "I5a-cash": (1_000_000, 0, 1_000_000, 0, 0, "4"),
    "I5b-cash": (400_000, 0, 400_000, 0, 0, "4"),
    "I6-b1-cash": (6_000_000, 0, 6_000_000, 0, 0, "4"),
    "I6-b2-ira": (4_000_000, 0, 0, 0, 0, "4G"),
    # Paid before the separation: §72(t)(2)(A)(v) needs a distribution "after separation from service".
    "H9-cash": (1_000_000, 0, 1_000_000, 0, 0, "1"),
    # Separated in 2024, the year of 55, paid in 2025: the exception still applies → 2.
    "H10-cash": (1_000_000, 0, 1_000_000, 0, 0, "2"),
    # Governmental 457(b) Roth money not from a rollover: outside §72(t) (§72(t)(9)) → 2B; box 10 empty.
    # 5,000 × 15,000 / 20,000 = 3,750 basis.
    "H11-cash": (125_000, 375_000, 125_000, 375_000, 0, "2B"),
    # A deemed loan is never a qualified distribution (Reg. §1.402A-1 A-11): taxable at 62 with a period
    # from 2010; Roth deemed loan coded BL (spec). 2,000 × 10,000 / 20,000 = 1,000 basis.
    "H12-deemed": (100_000, 100_000, 100_000, 100_000, 0, "BL"),
    # A qualified plan loan offset is an actual distribution: qualified at 62 after the period → 2a 0; BM.
    "H13-qplo": (100_000, 100_000, 0, 100_000, 0, "BM"),
    # A beneficiary's direct rollover of Roth money to a Roth IRA: 4H, 2a 0 (i1099r code H recipe).
    "D9-rothira": (300_000, 700_000, 0, 700_000, 0, "4H"),
    # Basis above the balance: the whole draw is basis, never more than received (§72(e)(8)(B), capped).
    "D10-cash": (0, 200_000, 0, 200_000, 0, "1B"),
    # Only the Roth IRA is elected: it takes pre-tax first (Notice 2014-54 §III, R3): 50,000 taxable; the
    # IRA 10,000 pre-tax and 40,000 basis.
    "E5-rothira": (5_000_000, 0, 5_000_000, 0, 0, "G"),
    "E5-ira": (1_000_000, 4_000_000, 0, 4_000_000, 0, "G"),
    # An in-plan Roth rollover is a direct rollover: it takes the pre-tax money first (Notice 2014-54
    # §III), 80,000 taxable (i1099r IRR recipe); the cash leg is the 20,000 of after-tax money.
    "E7-irr": (8_000_000, 0, 8_000_000, 0, 0, "G"),
    "E7-cash": (0, 2_000_000, 0, 2_000_000, 0, "1"),
    # In-plan Roth rollover of a whole separate after-tax account (§72(d)(2)): its earnings, 5,000, taxable.
    "E8-irr": (500_000, 1_500_000, 500_000, 1_500_000, 0, "G"),
}

# distribution_id: (box 11, total distribution) of its form. Box 11: the first year of the Roth period
# (i1099r 2023), on Roth forms only. Total distribution: the payee's last event of the year closes the
# account (i1099r box 2b; spec).
FORM_FACTS = {
    "C2-cash": (None, True),
    "C1-cash": (None, False),
    "D1-cash": (2022, False),
    "D2-cash": (2019, False),
    "D4-cash": (2018, True),
    "D6-cash": (2016, False),
    "D7-rothira": (2022, False),
    "D8-rothplan": (2020, True),
    "E1-ira": (None, True),
    "E1-rothira": (None, True),
    "E1-cash": (None, True),
    "K1-cash": (None, True),
    "K1-rothcash": (2022, True),
    "G3-cash": (2010, False),
    "H5-ira": (None, True),
    "H5-cash": (None, True),
    "I5a-cash": (None, True),
    "I5b-cash": (None, False),
    "I6-b1-cash": (None, True),
    "I6-b2-ira": (None, True),
    "H11-cash": (2022, False),
    "D9-rothira": (2023, True),
    # The whole non-Roth account out, 80,000 of it by in-plan Roth rollover: the money stays in the
    # account's designated Roth part, so the balance is not distributed (i1099r box 2b).
    "E7-irr": (None, False),
    "E7-cash": (None, False),
}


EXPECTED_2015 = {
    # Before 2016 a designated Roth account's direct rollover "is treated as a separate distribution from
    # any amount paid directly to the employee" (Treas. Reg. §1.402A-1, A-5(a) before T.D. 9769): each leg
    # pro rata, 25 % earnings. Not the earnings first to the Roth IRA.
    "R15-rothira": (75_000, 225_000, 0, 225_000, 0, "H"),
    "R15-cash": (175_000, 525_000, 175_000, 525_000, 0, "1B"),
    # Non-Roth money in 2015: Notice 2014-54 applies (mandatory from 1 Jan 2015): pre-tax first to the IRA.
    "N15-ira": (250_000, 50_000, 0, 50_000, 0, "G"),
    "N15-cash": (0, 700_000, 0, 700_000, 0, "1"),
    # No qualified plan loan offset and no code M before 2018 (TCJA §13613; Form 1099-R 2018): a loan
    # offset is reported as any other actual distribution — 1; at 62 from a Roth account, qualified: 7B.
    "Q15-qplo": (500_000, 0, 500_000, 0, 0, "1"),
    "Q15r-qplo": (100_000, 100_000, 0, 100_000, 0, "7B"),
}

BOXES = ("pretax_cents", "basis_cents", "box2a_cents", "box5_cents", "box10_cents", "distribution_codes")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, dict[str, object]]:
    """``prorata run`` on each extract, as a user runs it; its outputs by tax year."""
    out = {}
    for year, case in ((TAX_YEAR, build()), (2015, build_2015())):
        folder = tmp_path_factory.mktemp(f"law-{year}")
        extract = case.write(folder / "extract", f"law-paths-{year}")
        assert main(["run", str(extract), "--out", str(folder / "out"), "--no-prefect", "--quiet"]) == 0
        out[year] = {
            name: pl.read_parquet(folder / "out" / f"{name}.parquet")
            for name in ("distributions", "forms", "quarantine")
        }
        out[year]["irs"] = "".join(p.read_text() for p in sorted((folder / "out" / "irs").iterdir()))
    return out


def row_of(runs, year: int, distribution_id: str) -> dict:
    d = runs[year]["distributions"]
    return d.filter(pl.col("distribution_id") == distribution_id).row(0, named=True)


def form_of(runs, year: int, distribution_id: str) -> dict:
    form_id = row_of(runs, year, distribution_id)["form_id"]
    return runs[year]["forms"].filter(pl.col("form_id") == form_id).row(0, named=True)


@pytest.mark.parametrize("year", [TAX_YEAR, 2015])
def test_every_disbursement_of_the_law_cases_is_reported_and_none_is_quarantined(runs, year):
    expected = EXPECTED if year == TAX_YEAR else EXPECTED_2015
    assert runs[year]["quarantine"].height == 0
    assert sorted(runs[year]["distributions"]["distribution_id"]) == sorted(expected)


@pytest.mark.parametrize(
    ("year", "distribution_id"),
    [(TAX_YEAR, did) for did in EXPECTED] + [(2015, did) for did in EXPECTED_2015],
)
def test_each_case_gets_the_split_the_boxes_and_the_codes_the_law_requires(runs, year, distribution_id):
    expected = (EXPECTED if year == TAX_YEAR else EXPECTED_2015)[distribution_id]
    row = row_of(runs, year, distribution_id)
    for box, want in zip(BOXES, expected, strict=True):
        if want is not None:
            assert row[box] == want, (distribution_id, box)


@pytest.mark.parametrize("distribution_id", sorted(FORM_FACTS))
def test_each_form_gets_the_roth_year_and_the_total_distribution_box_the_law_requires(runs, distribution_id):
    form = form_of(runs, TAX_YEAR, distribution_id)
    assert (form["box11_year"], form["total_distribution"]) == FORM_FACTS[distribution_id]


def test_a_form_is_the_sum_of_its_disbursements_two_rollovers_to_ira_on_one_form(runs):
    # E3-a and E3-b: one payee, one account, same destination and codes → one form (spec forms key).
    a, b = form_of(runs, TAX_YEAR, "E3-a"), form_of(runs, TAX_YEAR, "E3-b")
    assert a == b
    assert (a["box1_cents"], a["box2a_cents"], a["box5_cents"]) == (6_000_000, 0, 1_000_000)


def test_two_payments_of_the_year_with_the_same_codes_add_up_on_one_form(runs):
    march, sept = form_of(runs, TAX_YEAR, "I3-march"), form_of(runs, TAX_YEAR, "I3-sept")
    assert march == sept and march["box1_cents"] == 300_000


def test_a_beneficiary_of_two_decedents_gets_one_form_per_account_each_with_its_own_box_2b(runs):
    a, b = form_of(runs, TAX_YEAR, "I5a-cash"), form_of(runs, TAX_YEAR, "I5b-cash")
    assert a["form_id"] != b["form_id"] and a["account_number"] != b["account_number"]
    assert (a["total_distribution"], b["total_distribution"]) == (True, False)


def test_box_9a_is_the_beneficiarys_share_of_a_total_distribution_to_several_people(runs):
    # i1099r box 9a: $60,000 of the $100,000 the two beneficiaries received in closing the account.
    assert form_of(runs, TAX_YEAR, "I6-b1-cash")["box9a_percent"] == 60
    assert form_of(runs, TAX_YEAR, "I6-b2-ira")["box9a_percent"] is None  # spec: none on rollover forms


def test_a_form_under_10_dollars_is_kept_but_not_filed_and_one_of_10_dollars_is_filed(runs):
    # i1099r: file Form 1099-R for a designated distribution of $10 or more.
    under, at_10 = form_of(runs, TAX_YEAR, "I1-cash"), form_of(runs, TAX_YEAR, "I2-cash")
    assert (under["box1_cents"], at_10["box1_cents"]) == (999, 1_000)
    assert under["account_number"] not in runs[TAX_YEAR]["irs"]
    assert at_10["account_number"] in runs[TAX_YEAR]["irs"]
