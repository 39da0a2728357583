"""§72(e)(8) basis recovery per contract: pro rata, whole contract, pre-1987 basis, rounding."""

from tests.builders import one_contract_case, rule


def recovered(draw, value, basis, pre1987=0, pre1987_recovery=False, reason="separation"):
    """transforms.law.basis.prorated_basis_cents of one draw on one contract."""
    (got,) = rule(
        "prorated_basis_cents",
        draw_cents=[draw],
        value_cents=[value],
        contract_basis_cents=[basis],
        pre1987_basis_cents=[pre1987],
        pre1987_recovery=[pre1987_recovery],
        reason=[reason],
    )
    return got


def test_irs_example_half_of_an_80_20_account_recovers_10000_of_basis():
    # IRS after-tax rollover page: $100,000 = $80,000 pretax + $20,000 after-tax; $50,000 out
    # → $40,000 pretax and $10,000 after-tax.
    assert recovered(5_000_000, 10_000_000, 2_000_000) == 1_000_000


def test_preamble_example_5000_from_a_10000_roth_account_recovers_4700():
    # Preamble to the 2006 proposed §1.402A-1: $9,400 contributions, $600 earnings, $5,000 out.
    assert recovered(500_000, 1_000_000, 940_000) == 470_000


def test_reg_1_402a_1_a7_example_12000_of_23000_recovers_11400():
    # Reg. §1.402A-1, A-7: $12,000 × 21,850 / 23,000 = $11,400 of investment in the contract.
    assert recovered(1_200_000, 2_300_000, 2_185_000) == 1_140_000


def test_the_pro_rata_share_rounds_half_a_cent_up():
    # 1 × 1 / 2 = 0.5 cent → 1 cent (half-up, docs/spec/extract.md)
    assert recovered(1, 2, 1) == 1
    # 3 × 1 / 2 = 1.5 cents → 2 cents, capped by basis 1 → 1
    assert recovered(3, 6, 1) == 1
    # 5 × 3 / 10 = 1.5 → 2
    assert recovered(5, 10, 3) == 2
    # 5 × 1 / 10 = 0.5 → 1 ; 4 × 1 / 10 = 0.4 → 0
    assert recovered(5, 10, 1) == 1
    assert recovered(4, 10, 1) == 0


def test_a_contract_paid_out_whole_recovers_all_its_basis():
    assert recovered(7_500_000, 7_500_000, 6_000_000) == 6_000_000


def test_basis_above_value_recovers_no_more_than_the_amount_paid():
    # Whole contract with basis $120 above value $100: basis recovered = amount = $100.
    assert recovered(10_000, 10_000, 12_000) == 10_000
    # Partial draw: the ratio exceeds 1, the cap is the draw.
    assert recovered(4_000, 10_000, 12_000) == 4_000


def test_pre1987_basis_comes_out_first_in_a_grandfathered_plan():
    # §72(e)(8)(D): P = $3,000 pre-1987 basis of B = $10,000 in V = $50,000; D = $8,000.
    # t = $3,000 first; then $5,000 × $7,000 / $47,000 = $744.68 (744.680…) → $3,744.68.
    assert recovered(800_000, 5_000_000, 1_000_000, pre1987=300_000, pre1987_recovery=True) == 374_468


def test_pre1987_basis_is_ignored_where_the_plan_has_no_grandfather_rule():
    # Same numbers without pre1987_recovery: $8,000 × 10,000 / 50,000 = $1,600.
    assert recovered(800_000, 5_000_000, 1_000_000, pre1987=300_000, pre1987_recovery=False) == 160_000


def test_a_draw_within_the_pre1987_basis_is_all_basis():
    assert recovered(200_000, 5_000_000, 1_000_000, pre1987=300_000, pre1987_recovery=True) == 200_000


def test_exhausted_pre1987_basis_leaves_the_plain_pro_rata_rule():
    assert recovered(800_000, 5_000_000, 1_000_000, pre1987=0, pre1987_recovery=True) == 160_000


def test_ten_billion_dollar_balances_are_exact_without_overflow():
    value = 10_000_000_000 * 100  # $10 billion in cents
    basis = 3_333_333_333_33
    draw = 7_777_777_777_77
    # $7,777,777,777.77 × $3,333,333,333.33 / $10,000,000,000 = $2,592,592,592.587407… → half-up
    assert recovered(draw, value, basis) == 259_259_259_259  # cents; the products exceed Int64 (2.6 × 10^23)


def test_separately_accounted_after_tax_money_is_its_own_contract():
    # Seed 003 example 1: $125,000 after-tax account ($100,000 contributions); $40,000 out → $8,000 taxable.
    case = one_contract_case(
        "after_tax",
        12_500_000,
        10_000_000,
        [("D1", 4_000_000, "cash")],
        plan={"after_tax_separately_accounted": True},
        extra_contracts=[
            {
                "event_id": "E1",
                "contract": "non_roth",
                "value_cents": 50_000_000,
                "basis_cents": 0,
                "pre1987_basis_cents": 0,
                "irr_recapture_cents": 0,
                "foreign_source_cents": 0,
            }
        ],
    )
    row = case.row("D1")
    assert (row["pretax_cents"], row["basis_cents"]) == (800_000, 3_200_000)
