"""Bad input loses nothing: every disbursement ends in the output or in quarantine, exactly once."""

from datetime import date

import polars as pl

from flows.run.pipeline import compute_split, load_and_validate, write_outputs
from tests.builders import Case, contract_row, dist_row, participant_row, payee_row, plan_row


def corrupted_case() -> tuple[Case, dict[str, str]]:
    """Two good events and one event per kind of fault; returns the case and event → expected rule."""
    case = Case()
    case.plans = [plan_row("P1"), plan_row("P2", payer_tin="123456781")]
    case.payees = [payee_row(f"PY{i}", tin=f"40000000{i}") for i in range(1, 6)]
    case.payees.append(payee_row("BADTIN", tin="12345"))
    case.payees.append(payee_row("NRA", tin="400000008", us_person=False))
    case.participants = [
        participant_row("PT1", "PY1"),
        participant_row("PT2", "PY2"),
        participant_row("PT3", "BADTIN"),
        participant_row("PT4", "NRA"),
    ]
    expected: dict[str, str] = {}

    def event(eid: str, rule: str | None, rows: list[dict], contracts: list[dict] | None = None):
        case.distributions.extend(rows)
        case.contracts.extend(
            contracts if contracts is not None else [contract_row(eid, "non_roth", 10_000_000, 1_000_000)]
        )
        if rule:
            expected[eid] = rule

    event(
        "GOOD1",
        None,
        [
            dist_row("G1a", "GOOD1", "non_roth", 100_000),
            dist_row("G1b", "GOOD1", "non_roth", 50_000, "rollover_ira"),
        ],
    )
    event("GOOD2", None, [dist_row("G2", "GOOD2", "non_roth", 100_000, participant_id="PT2", payee_id="PY2")])
    event(
        "NEG",
        "amount_not_positive",
        [dist_row("N1", "NEG", "non_roth", -5), dist_row("N2", "NEG", "non_roth", 100)],
    )
    event("ZERO", "amount_not_positive", [dist_row("Z1", "ZERO", "non_roth", 0)])
    event("ENUM", "unknown_destination", [dist_row("U1", "ENUM", "non_roth", 100, "rollover_mars")])
    event("DPART", "unknown_participant", [dist_row("DP", "DPART", "non_roth", 100, participant_id="NOPE")])
    event("DPAYEE", "unknown_payee", [dist_row("DY", "DPAYEE", "non_roth", 100, payee_id="NOPE")])
    event("DPLAN", "unknown_plan", [dist_row("DL", "DPLAN", "non_roth", 100, plan_id="NOPE")])
    event("DEVENT", "missing_contract_row", [dist_row("DE", "DEVENT", "non_roth", 100)], contracts=[])
    event(
        "DUP",
        "duplicate_id",
        [dist_row("DUPID", "DUP", "non_roth", 100), dist_row("DUPID", "DUP", "non_roth", 200)],
    )
    event(
        "OVER",
        "amount_above_contract_value",
        [dist_row("OV1", "OVER", "non_roth", 6_000_000), dist_row("OV2", "OVER", "non_roth", 5_000_000)],
    )
    event(
        "MIXP",
        "event_mixed",
        [dist_row("MP1", "MIXP", "non_roth", 100), dist_row("MP2", "MIXP", "non_roth", 100, payee_id="PY2")],
    )
    event(
        "MIXD",
        "event_mixed",
        [
            dist_row("MD1", "MIXD", "non_roth", 100),
            dist_row("MD2", "MIXD", "non_roth", 100, payment_date=date(2025, 6, 3)),
        ],
    )
    event(
        "YEAR",
        "payment_outside_tax_year",
        [dist_row("Y1", "YEAR", "non_roth", 100, payment_date=date(2024, 12, 31))],
    )
    event(
        "TIN",
        "event_quarantined",
        [dist_row("T1", "TIN", "non_roth", 100, participant_id="PT3", payee_id="BADTIN")],
    )
    event(
        "NOROW",
        "missing_contract_row",
        [dist_row("R1", "NOROW", "non_roth", 100), dist_row("R2", "NOROW", "roth", 100)],
    )
    event("NULL", "missing_required_value", [dist_row("NU", "NULL", "non_roth", 100, reason=None)])
    event(
        "P87",
        "basis_below_pre1987_basis",
        [dist_row("B1", "P87", "non_roth", 100)],
        contracts=[contract_row("P87", "non_roth", 10_000, 100, pre1987_basis_cents=500)],
    )
    event(
        "NRAE",
        "event_quarantined",
        [dist_row("NR", "NRAE", "non_roth", 100, participant_id="PT4", payee_id="NRA")],
    )
    event("R2P", "non_roth_to_roth_plan", [dist_row("RP", "R2P", "non_roth", 100, "rollover_roth_plan")])
    event(
        "HARD",
        "not_rollover_eligible",
        [dist_row("H1", "HARD", "non_roth", 100, "rollover_ira", reason="hardship")],
    )
    return case, expected


def test_corrupted_extract_conserves_every_disbursement_and_names_each_rule(tmp_path):
    case, expected = corrupted_case()
    folder = case.write(tmp_path / "extract")
    loaded = load_and_validate(folder)
    computed = compute_split(loaded)
    out = computed.distributions
    q = computed.quarantine
    qd = q.filter(pl.col("table") == "distributions")

    # Conservation: every input row exactly once.
    assert out.height + qd.height == len(case.distributions)
    ids_in = sorted(r["distribution_id"] for r in case.distributions)
    assert sorted(out["distribution_id"].to_list() + qd["key"].to_list()) == ids_in
    assert set(out["event_id"]) == {"GOOD1", "GOOD2"}
    assert len(expected) >= 12

    # Every faulty event is held whole, under the rule its offending row broke.
    for event_id, rule in expected.items():
        rows = qd.filter(pl.col("event_id") == event_id)
        assert rows.height == sum(r["event_id"] == event_id for r in case.distributions), event_id
        rules = q.filter(pl.col("event_id") == event_id)["rule"].to_list()  # distributions and contracts rows
        assert rule in rules, (event_id, rules)

    # The payee rows themselves are quarantined with their own rules.
    payee_rules = dict(q.filter(pl.col("table") == "payees").select("key", "rule").iter_rows())
    assert payee_rules == {"BADTIN": "tin_format", "NRA": "nonresident_alien"}


def test_quarantine_messages_never_quote_a_tin_or_a_name(tmp_path):
    case, _ = corrupted_case()
    computed = compute_split(load_and_validate(case.write(tmp_path / "extract")))
    text = " ".join(computed.quarantine["message"].to_list() + computed.quarantine["key"].to_list())
    for payee in case.payees:
        assert payee["tin"] not in text
        assert payee["last_name"] not in text


def test_a_quarantined_event_takes_its_contract_rows_along(tmp_path):
    case, _ = corrupted_case()
    computed = compute_split(load_and_validate(case.write(tmp_path / "extract")))
    qc = computed.quarantine.filter(pl.col("table") == "contracts")
    assert "OVER|non_roth" in qc["key"].to_list()
    assert not qc["key"].str.starts_with("GOOD").any()


def test_the_quarantine_file_has_the_outputs_md_columns(tmp_path):
    case, _ = corrupted_case()
    folder = case.write(tmp_path / "extract")
    loaded = load_and_validate(folder)
    computed = compute_split(loaded)
    write_outputs(tmp_path / "out", loaded, computed, {})
    q = pl.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert q.columns == ["table", "key", "event_id", "rule", "message"]
    assert (
        q.filter(pl.col("table") == "distributions").height
        == computed.quarantine.filter(pl.col("table") == "distributions").height
    )


def test_plan_batches_give_exactly_the_outputs_of_one_batch():
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "extract"
    loaded = load_and_validate(sample)
    whole = compute_split(loaded)
    batched = compute_split(loaded, max_rows=700)  # several plans per batch, several batches
    for name in ("distributions", "forms", "explain", "quarantine", "edit_checks", "tieout_945", "filable"):
        assert getattr(batched, name).equals(getattr(whole, name)), name


def test_a_tin_or_zip_in_another_scripts_digits_is_refused_like_any_malformed_one():
    from contracts.rules import TIN_PATTERN, ZIP_PATTERN, tin_is_valid
    from transforms.irs.shared import digits_only

    arabic_indic = "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"  # 123456789 in Arabic-Indic
    tins = pl.DataFrame({"tin": ["123456789", arabic_indic, "12345678\u0669"]})
    assert tins.select(tin_is_valid(pl.col("tin"))).to_series().to_list() == [True, False, False]
    assert not pl.Series([arabic_indic[:5]]).str.contains(ZIP_PATTERN).any()
    assert pl.Series([arabic_indic]).str.contains(TIN_PATTERN).to_list() == [False]
    assert pl.select(digits_only(pl.lit("12-" + arabic_indic[:3] + "9"))).item() == "129"


def test_a_payee_whose_tin_is_in_another_scripts_digits_is_quarantined_not_filed(tmp_path):
    case, _ = corrupted_case()
    case.payees[0] = {**case.payees[0], "tin": "\u0664" + "00000001"}  # PY1: a leading Arabic-Indic 4
    computed = compute_split(load_and_validate(case.write(tmp_path / "extract")))
    payee_rules = dict(
        computed.quarantine.filter(pl.col("table") == "payees").select("key", "rule").iter_rows()
    )
    assert payee_rules["PY1"] == "tin_format"
    assert "PY1" not in computed.forms["payee_id"].to_list()


def test_two_legs_whose_sum_passes_int64_are_above_the_contract_value_not_wrapped_below_it():
    # 2 × 6·10^18 cents = 1.2·10^19: beyond Int64 (9.2·10^18), an Int64 sum wraps negative and passes.
    case = Case()
    case.contracts = [contract_row("BIG", "non_roth", 9 * 10**18, 0)]
    case.distributions = [
        dist_row("BIG1", "BIG", "non_roth", 6 * 10**18),
        dist_row("BIG2", "BIG", "non_roth", 6 * 10**18),
    ]
    q = case.validated().quarantine
    assert dict(q.filter(pl.col("table") == "distributions").select("key", "rule").iter_rows()) == {
        "BIG1": "amount_above_contract_value",
        "BIG2": "amount_above_contract_value",
    }
