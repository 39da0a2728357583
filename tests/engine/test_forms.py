"""Rule tests for box 2b "total distribution" and box 9a "your percentage of total distribution"
(docs/spec/outputs.md forms; i1099r boxes 2b and 9a; Pub 1220 B 550-551), per account (issue 14, point 6)."""

from __future__ import annotations

from datetime import date

import polars as pl

from tests.builders import Case, contract_row, dist_row, participant_row, payee_row

DEATH = date(2025, 1, 5)


def estate(*heirs: str) -> Case:
    """Participant PT1 (payee DEC) died on 5 Jan 2025; ``heirs`` are payees of the same plan."""
    case = Case()
    case.payees = [payee_row("DEC", tin="400000040", dob=date(1950, 1, 1))] + [
        payee_row(h, tin=f"40000005{i}", dob=date(1980, 1, 1)) for i, h in enumerate(heirs)
    ]
    case.participants = [participant_row("PT1", "DEC", date_of_death=DEATH, roth_first_year=2010)]
    return case


def pay(case: Case, did: str, event: str, payee: str, amount: int, destination: str = "cash", **kw) -> None:
    contract = kw.pop("contract", "non_roth")
    case.distributions.append(
        dist_row(did, event, contract, amount, destination, payee_id=payee, reason="death", **kw)
    )


def forms_of(case: Case) -> dict[tuple[str, str], dict]:
    """(payee_id, distribution_codes) → form."""
    forms = case.run().forms
    return {(f["payee_id"], f["distribution_codes"]): f for f in forms.iter_rows(named=True)}


# ---- box 2b ------------------------------------------------------------------------------------


def test_the_last_event_emptying_every_contract_checks_box_2b_on_every_form_of_the_account():
    case = estate("ANN")
    case.contracts = [contract_row("E1", "non_roth", 300_000, 0), contract_row("E1", "roth", 100_000, 50_000)]
    pay(case, "D1", "E1", "ANN", 200_000)
    pay(case, "D2", "E1", "ANN", 100_000, "rollover_ira")
    pay(case, "D3", "E1", "ANN", 100_000, contract="roth")
    forms = forms_of(case)
    assert len(forms) == 3 and all(f["total_distribution"] for f in forms.values())


def test_a_contract_the_event_does_not_draw_on_keeps_the_account_open():
    case = estate("ANN")
    case.contracts = [contract_row("E1", "non_roth", 300_000, 0), contract_row("E1", "roth", 100_000, 50_000)]
    pay(case, "D1", "E1", "ANN", 300_000)  # the whole non-Roth money; the Roth account stays
    assert [f["total_distribution"] for f in forms_of(case).values()] == [False]


def test_an_in_plan_roth_rollover_of_the_whole_account_is_not_a_total_distribution():
    # The money stays in the participant's account, in its designated Roth part (Notice 2010-84): the
    # balance is not distributed (i1099r box 2b: "the entire balance of the account is distributed"),
    # also when the participant had no Roth account before the rollover.
    case = Case()
    case.contracts = [contract_row("E1", "non_roth", 1_000_000, 100_000)]
    case.distributions = [
        dist_row("IRR", "E1", "non_roth", 800_000, "in_plan_roth_rollover", reason="in_service"),
        dist_row("C", "E1", "non_roth", 200_000, reason="in_service"),
    ]
    assert [f["total_distribution"] for f in case.run().forms.iter_rows(named=True)] == [False, False]
    case.distributions = case.distributions[:1]
    case.distributions[0]["amount_cents"] = 1_000_000  # a leg alone in its event
    assert [f["total_distribution"] for f in case.run().forms.iter_rows(named=True)] == [False]


def test_an_earlier_event_that_emptied_the_account_does_not_count_when_the_last_one_does_not():
    case = estate("ANN")
    case.contracts = [contract_row("E1", "non_roth", 300_000, 0), contract_row("E2", "non_roth", 500_000, 0)]
    pay(case, "D1", "E1", "ANN", 300_000, payment_date=date(2025, 3, 1))  # emptied in March
    pay(case, "D2", "E2", "ANN", 100_000, payment_date=date(2025, 9, 1))  # money came in; part paid
    assert [f["total_distribution"] for f in forms_of(case).values()] == [False]
    case.distributions[1]["amount_cents"] = 500_000  # the last event empties it again
    assert [f["total_distribution"] for f in forms_of(case).values()] == [True]


def test_of_two_events_on_the_last_date_both_must_empty_what_they_draw_on():
    case = estate("ANN")
    case.contracts = [contract_row("E1", "non_roth", 300_000, 0), contract_row("E2", "non_roth", 500_000, 0)]
    pay(case, "D1", "E1", "ANN", 300_000)
    pay(case, "D2", "E2", "ANN", 100_000)
    assert [f["total_distribution"] for f in forms_of(case).values()] == [False]


def test_box_2b_is_decided_for_each_beneficiarys_own_share():
    case = estate("ANN", "BEN")
    case.contracts = [contract_row("EA", "non_roth", 300_000, 0), contract_row("EB", "non_roth", 300_000, 0)]
    pay(case, "DA", "EA", "ANN", 300_000)
    pay(case, "DB", "EB", "BEN", 100_000)
    forms = forms_of(case)
    assert (forms[("ANN", "4")]["total_distribution"], forms[("BEN", "4")]["total_distribution"]) == (
        True,
        False,
    )


# ---- box 9a ------------------------------------------------------------------------------------


def shares(*amounts: int, close: tuple[bool, ...] | None = None) -> dict[str, int | None]:
    """Beneficiaries B0, B1, ... of PT1 paid ``amounts`` in cash; each empties her share unless
    ``close`` says otherwise. → box 9a of each one's form."""
    names = [f"B{i}" for i in range(len(amounts))]
    case = estate(*names)
    close = close or (True,) * len(amounts)
    for i, (name, amount) in enumerate(zip(names, amounts, strict=True)):
        case.contracts.append(contract_row(f"E{i}", "non_roth", amount if close[i] else amount * 2, 0))
        pay(case, f"D{i}", f"E{i}", name, amount)
    return {f["payee_id"]: f["box9a_percent"] for f in case.run().forms.iter_rows(named=True)}


def test_box_9a_is_each_beneficiarys_share_of_what_the_beneficiaries_who_closed_out_received():
    assert shares(200_000, 100_000) == {"B0": 67, "B1": 33}  # 66.67 % and 33.33 %


def test_box_9a_rounds_a_half_percent_up():
    assert shares(125_000, 875_000) == {"B0": 13, "B1": 88}  # 12.5 % and 87.5 %
    assert shares(104_000, 896_000) == {"B0": 10, "B1": 90}  # 10.4 %, 89.6 %


def test_box_9a_is_empty_for_a_single_payee():
    assert shares(300_000) == {"B0": None}


def test_box_9a_leaves_out_a_beneficiary_who_did_not_close_out_her_share():
    # B2 is paid half of her share: not a total distribution, no 9a, and not in the others' total
    assert shares(100_000, 300_000, 600_000, close=(True, True, False)) == {"B0": 25, "B1": 75, "B2": None}


def test_box_9a_is_empty_on_a_direct_rollover_form_and_counts_the_payees_whole_box_1():
    case = estate("B0", "B1")
    case.contracts = [contract_row("E0", "non_roth", 400_000, 0), contract_row("E1", "non_roth", 600_000, 0)]
    pay(case, "D0", "E0", "B0", 100_000)
    pay(case, "D0R", "E0", "B0", 300_000, "rollover_ira")
    pay(case, "D1", "E1", "B1", 600_000)
    forms = forms_of(case)
    assert forms[("B0", "4G")]["box9a_percent"] is None
    assert (forms[("B0", "4")]["box9a_percent"], forms[("B1", "4")]["box9a_percent"]) == (40, 60)


def test_box_9a_is_per_decedents_account_for_a_payee_who_is_also_paid_from_her_own():
    # B0 inherits 25 % of PT1's account and is paid from her own account PT2 the same year:
    # the inherited form shows 25; her own form (a single payee of PT2) shows none.
    case = estate("B0", "B1")
    case.participants.append(participant_row("PT2", "B0"))
    case.contracts = [
        contract_row("E0", "non_roth", 100_000, 0),
        contract_row("E1", "non_roth", 300_000, 0),
        contract_row("E2", "non_roth", 500_000, 0),
    ]
    pay(case, "D0", "E0", "B0", 100_000)
    pay(case, "D1", "E1", "B1", 300_000)
    case.distributions.append(
        dist_row("D2", "E2", "non_roth", 500_000, participant_id="PT2", payee_id="B0", reason="separation")
    )
    result = case.run()
    part = result.distributions.select("form_id", "participant_id")
    forms = result.forms.join(part, on="form_id").select("payee_id", "participant_id", "box9a_percent")
    assert sorted(forms.rows(), key=str) == sorted(
        [("B0", "PT1", 25), ("B1", "PT1", 75), ("B0", "PT2", None)], key=str
    )
    assert forms.filter(pl.col("payee_id") == "B0").height == 2
