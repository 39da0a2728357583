"""Publication 1220 (FIRE) writer, reader and checker for Form 1099-R, tax year 2025.

The sample filing: three payers; a foreign payee; CF/SF states (CA, NJ, PA, MA, WI) and a state
outside CF/SF (NY); a Roth form with box 11; box 9a; box 13; a taxable-amount-not-determined form;
a one-transaction correction (G) and a two-transaction correction (G with zeros, then C); an amount
of $1.5 billion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace as dc_replace

import polars as pl
import pytest

from transforms.irs.fire.pub1220 import (
    AMOUNT_CODES,
    BOX_BY_AMOUNT_CODE,
    LAYOUTS,
    RECORD_LENGTH,
    amount_field,
    iter_pub1220,
    total_field,
    write_pub1220,
)
from transforms.irs.fire.pub1220_reader import allowed_code_pairs, check_pub1220, read_pub1220
from transforms.irs.shared import FilingInputError, Transmitter, cfsf_state_codes

TAX_YEAR = 2025

TRANSMITTER = Transmitter(
    tin="987654321",
    tcc="ABC12",
    name="Prorata Filing Operations",
    company_name="Prorata Services LLC",
    address="5 Data Way",
    city="Boston",
    state="MA",
    zip="02110",
    contact_name="Pat Ops",
    contact_phone="617-555-0199",
    contact_email="Filing.Ops@Example.com",
    # the three payers of the sample are approved for the Combined Federal/State Filing Program
    cfsf_approved_payers=frozenset({"123456780", "234567891", "345678902"}),
)

PAYERS = {
    "123456780": dict(
        payer_name="Acme Manufacturing 401(k) Plan",
        payer_address="100 Main St., Suite 5",
        payer_city="Springfield",
        payer_state="IL",
        payer_zip="62701-1234",
        payer_phone="(217) 555-0100",
    ),
    "234567891": dict(
        payer_name="County of Essex 457(b) Deferred Compensation Plan for Public Employees",
        payer_address="1 Court Sq",
        payer_city="Newark",
        payer_state="NJ",
        payer_zip="07102",
        payer_phone="973-555-0101",
    ),
    "345678902": dict(
        payer_name="St. Mary's Hospital 403(b) Plan",
        payer_address="9 Elm Rd",
        payer_city="Madison",
        payer_state="WI",
        payer_zip="53703",
        payer_phone="608 555 0102",
    ),
}

DEFAULTS = dict(
    tax_year=TAX_YEAR,
    plan_id="PLAN-1",
    payee_id="PAYEE",
    box1_cents=0,
    box2a_cents=0,
    box3_cents=0,
    box4_cents=0,
    box5_cents=0,
    box6_cents=0,
    box8_cents=0,
    box9b_cents=0,
    box10_cents=0,
    taxable_not_determined=False,
    total_distribution=False,
    ira_sep_simple=False,
    box9a_percent=None,
    box11_year=None,
    box13_date=None,
    state=None,
    state_payer_id=None,
    state_withholding_cents=0,
    state_distribution_cents=0,
    locality=None,
    local_withholding_cents=0,
    local_distribution_cents=0,
    tin_type="ssn",
    first_name="",
    address="1 Any St",
    city="Anytown",
    state_code="IL",
    zip="60601",
    country="US",
    corrected="",
)

RETURNS = [
    # Payer 1, originals. CA (CF/SF 06), total distribution split 40 % (box 9a), box 8.
    dict(form_id="F1", payer_tin="123456780", payee_tin="111223333", account_number="acct-0001",
         first_name="John", last_name="O'Neil", box1_cents=1_234_567, box2a_cents=1_000_000,
         box4_cents=200_000, box5_cents=234_567, box8_cents=12_300, distribution_codes="7",
         total_distribution=True, box9a_percent=40, state="CA", state_payer_id="123-4567-8",
         state_withholding_cents=50_000, state_distribution_cents=1_234_567, state_code="CA",
         city="San José", zip="95113"),
    # Roth form: codes 7B, box 11; NJ (34) with local tax.
    dict(form_id="F2", payer_tin="123456780", payee_tin="222334444", account_number="ACCT-0002",
         first_name="Mary", last_name="van Dyke", box1_cents=500_000, box5_cents=100_000,
         distribution_codes="7B", box11_year=2012, state="NJ", state_withholding_cents=1_000,
         local_withholding_cents=2_500, locality="Newark", state_code="NJ", zip="07102"),
    # Foreign payee (Canada), no state.
    dict(form_id="F3", payer_tin="123456780", payee_tin="333445555", account_number="ACCT-0003",
         first_name="Émile", last_name="Tremblay", box1_cents=250_000, box2a_cents=250_000,
         box4_cents=25_000, distribution_codes="2", address="200 King St W", city="Toronto ON",
         state_code="", zip="M5V 3L9", country="CA"),
    # NY is not a CF/SF state. Direct rollover with NUA.
    dict(form_id="F4", payer_tin="123456780", payee_tin="444556666", account_number="ACCT-0004",
         first_name="Li", last_name="Ng", box1_cents=9_876_543, box6_cents=10_000,
         distribution_codes="G", state="NY", state_code="NY", zip="10001-1234"),
    # Payer 2: an estate-type entity payee (EIN), taxable amount not determined, box 13; PA (42).
    dict(form_id="F5", payer_tin="234567891", payee_tin="556677889", account_number="ACCT-0005",
         tin_type="ein", last_name="The Smith Family Trust", box1_cents=10_000_000, box3_cents=5_000,
         taxable_not_determined=True, distribution_codes="4", box13_date=dt.date(2025, 6, 30),
         state="PA", state_code="PA", zip="19103"),
    # One-transaction correction (G) of an earlier return; MA (25).
    dict(form_id="F6", payer_tin="234567891", payee_tin="667788990", account_number="ACCT-0006",
         first_name="Ana", last_name="Smith-Jones", box1_cents=300_000, box2a_cents=300_000,
         box4_cents=60_000, distribution_codes="1", state="MA", state_withholding_cents=15_000,
         state_code="MA", zip="02108", corrected="G"),
    # Payer 3: two-transaction correction of ACCT-0007 (wrong TIN): G with zeros, then C.
    dict(form_id="F7", payer_tin="345678902", payee_tin="778899001", account_number="ACCT-0007",
         first_name="Bo", last_name="Wrongname", distribution_codes="1", state="WI", state_code="WI",
         zip="53703", corrected="G"),
    dict(form_id="F8", payer_tin="345678902", payee_tin="778899002", account_number="ACCT-0007",
         first_name="Bo", last_name="Right", box1_cents=80_000, box2a_cents=80_000, box10_cents=5_000,
         box11_year=2020, distribution_codes="1B", state="WI", state_withholding_cents=4_000,
         state_code="WI", zip="53703", corrected="C"),
    # $1.5 billion, box 9b; WI (55).
    dict(form_id="F9", payer_tin="345678902", payee_tin="889900112", account_number="ACCT-0009",
         first_name="Rich", last_name="Person", box1_cents=150_000_000_000, box2a_cents=150_000_000_000,
         box4_cents=30_000_000_000, box9b_cents=400_000, distribution_codes="7", total_distribution=True,
         state="WI", state_withholding_cents=9_000_000_000, state_code="WI", zip="53703"),
]  # fmt: skip

SCHEMA = {
    **{c: pl.Int64 for c in DEFAULTS if c.endswith("_cents")},
    "box9a_percent": pl.Int32,
    "box11_year": pl.Int32,
    "box13_date": pl.Date,
    "tax_year": pl.Int32,
}


def sample_filing() -> pl.DataFrame:
    """The sample filing, one row per return (forms.parquet columns + payer/payee details)."""
    rows = [{**DEFAULTS, **PAYERS[r["payer_tin"]], **r} for r in RETURNS]
    return pl.DataFrame(rows, schema_overrides=SCHEMA, infer_schema_length=None)


def records(data: bytes) -> list[bytes]:
    return [data[i : i + RECORD_LENGTH] for i in range(0, len(data), RECORD_LENGTH)]


def field(record: bytes, start: int, length: int) -> str:
    return record[start - 1 : start - 1 + length].decode("ascii")


def replace(record: bytes, start: int, text: str) -> bytes:
    return record[: start - 1] + text.encode("ascii") + record[start - 1 + len(text) :]


def put(frame: pl.DataFrame, column: str, forms: str | list[str], value: object) -> pl.DataFrame:
    """``frame`` with ``column`` set to ``value`` (a literal or an expression) on the returns whose
    form_id is one of ``forms``."""
    forms = [forms] if isinstance(forms, str) else forms
    value = value if isinstance(value, pl.Expr) else pl.lit(value)
    return frame.with_columns(
        pl.when(pl.col("form_id").is_in(forms)).then(value).otherwise(pl.col(column)).alias(column)
    )


def with_record(data: bytes, number: int, new: bytes) -> bytes:
    recs = records(data)
    recs[number - 1] = new
    return b"".join(recs)


@pytest.fixture(scope="module")
def filing() -> pl.DataFrame:
    return sample_filing()


@pytest.fixture(scope="module")
def data(filing: pl.DataFrame) -> bytes:
    return write_pub1220(filing, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)


@pytest.fixture(scope="module")
def parsed(data: bytes):
    return read_pub1220(data)


# --- layouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("record_type", list(LAYOUTS))
def test_each_layout_is_contiguous_without_overlap_and_covers_positions_1_to_750(record_type):
    layout = LAYOUTS[record_type]
    position = 1
    for f in layout:
        assert f.start == position, f"{record_type} {f.name} starts at {f.start}, expected {position}"
        assert f.length > 0
        position += f.length
    assert position - 1 == RECORD_LENGTH
    assert layout[-1].kind == "eol" and (layout[-1].start, layout[-1].length) == (749, 2)
    names = [f.name for f in layout]
    assert len(names) == len(set(names))


def test_the_b_record_amount_slots_sit_where_publication_1220_puts_them():
    b = {f.name: f for f in LAYOUTS["B"]}
    assert (b[amount_field("1")].start, b[amount_field("J")].end) == (55, 270)
    assert (b[amount_field("9")].start, b[amount_field("B")].start) == (151, 175)
    c = {f.name: f for f in LAYOUTS["C"]}
    assert (c[total_field("1")].start, c[total_field("J")].end) == (16, 339)


# --- records -----------------------------------------------------------------------------------


def test_every_record_is_750_bytes_ending_in_cr_lf_inside_the_750(data):
    assert len(data) % RECORD_LENGTH == 0
    assert data.count(b"\r\n") == len(data) // RECORD_LENGTH
    for record in records(data):
        assert len(record) == RECORD_LENGTH
        assert record.endswith(b"\r\n")
        assert b"\r" not in record[:-2] and b"\n" not in record[:-2]
    data.decode("ascii")


def test_records_come_as_t_then_a_b_c_k_per_payer_then_f(data):
    types = "".join(chr(r[0]) for r in records(data))
    assert types == "TABBBBCKK" + "ABCK" + "ABCK" + "ABCK" + "ABCK" + "ABCK" + "F"


def test_sequence_numbers_run_from_1_across_the_whole_file(data):
    numbers = [int(field(r, 500, 8)) for r in records(data)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert field(records(data)[0], 500, 8) == "00000001"


def test_the_t_record_marks_a_test_file_in_position_28_and_a_production_file_with_a_blank(filing, data):
    assert field(records(data)[0], 28, 1) == "T"
    production = write_pub1220(filing, TRANSMITTER, tax_year=TAX_YEAR, test_file=False)
    assert field(records(production)[0], 28, 1) == " "
    assert field(records(data)[0], 6, 1) == " "
    prior = write_pub1220(filing, TRANSMITTER, tax_year=TAX_YEAR, test_file=False, prior_year=True)
    assert field(records(prior)[0], 6, 1) == "P"


def test_t_and_f_count_the_9_b_records_and_f_counts_the_6_a_records(data):
    t, f = records(data)[0], records(data)[-1]
    assert field(t, 296, 8) == "00000009"
    assert field(f, 50, 8) == "00000009"
    assert field(f, 2, 8) == "00000006"
    assert field(f, 10, 21) == "0" * 21


def test_originals_g_and_c_returns_sit_under_separate_a_records_sorted_by_account(parsed):
    b = parsed.payees.sort("record_number")
    kinds = b.group_by("payer_group", maintain_order=True).agg(pl.col("corrected_return_indicator").unique())
    assert all(len(k) == 1 for k in kinds["corrected_return_indicator"])
    assert b["corrected_return_indicator"].to_list() == ["", "", "", "", "", "G", "", "G", "C"]
    assert b["account_number"].to_list()[:4] == ["ACCT-0001", "ACCT-0002", "ACCT-0003", "ACCT-0004"]
    assert parsed.payers["payer_tin"].to_list() == [
        "123456780", "234567891", "234567891", "345678902", "345678902", "345678902",
    ]  # fmt: skip


def test_a_record_amount_codes_list_the_codes_with_money_in_ascending_order(parsed):
    codes = parsed.payers.sort("record_number")["amount_codes"].to_list()
    # Payer 1: boxes 1, 2a, 4, 5, 6, 8 → 1 2 4 5 6 8.  Payer 2 original: box 1, 3 (2a not determined).
    # Payer 2 G: 1 2 4.  Payer 3 original: 1 2 4 9 (box 9b).  Payer 3 G (all zeros): "1".
    # Payer 3 C: 1 2 B (box 10).
    assert codes == ["124568", "13", "124", "1249", "1", "12B"]
    assert all(f.start == 28 and f.length == 18 for f in LAYOUTS["A"] if f.name == "amount_codes")


def test_the_a_record_has_type_of_return_9_and_the_payer_details_in_upper_case(data):
    a = records(data)[1]
    assert field(a, 26, 2) == "9 "
    assert field(a, 53, 40).rstrip() == "ACME MANUFACTURING 401K PLAN"
    assert field(a, 216, 9) == "627011234"
    assert field(a, 225, 15).rstrip() == "2175550100"
    long_name = records(data)[9]
    assert field(long_name, 53, 40) + field(long_name, 93, 40) == (
        "COUNTY OF ESSEX 457B DEFERRED COMPENSATION PLAN FOR PUBLIC EMPLOYEES".ljust(80)
    )


def test_round_trip_gives_back_every_amount_cent_for_cent(filing, parsed):
    back = parsed.payees.join(
        parsed.payers.select("payer_group", "payer_tin"), on="payer_group"
    ).with_columns(pl.col("corrected_return_indicator").alias("corrected"))
    expected = filing.with_columns(
        pl.col("account_number").str.to_uppercase(),
        pl.when(pl.col("taxable_not_determined"))
        .then(0)
        .otherwise(pl.col("box2a_cents"))
        .alias("box2a_cents"),
    )
    joined = expected.join(back, on=["payer_tin", "corrected", "account_number"], how="inner")
    assert joined.height == filing.height == back.height
    for code, box in BOX_BY_AMOUNT_CODE.items():
        assert joined[amount_field(code)].to_list() == joined[box].to_list(), box
    for code in ("7", "A", "C", "D", "E", "F", "G", "H", "J"):
        assert joined[amount_field(code)].to_list() == [0] * joined.height
    assert joined["state_income_tax_withheld"].to_list() == joined["state_withholding_cents"].to_list()
    assert joined["local_income_tax_withheld"].to_list() == joined["local_withholding_cents"].to_list()
    assert joined.filter(pl.col("form_id") == "F9")["amount_1"].item() == 150_000_000_000


def test_round_trip_gives_back_every_code_and_indicator(filing, parsed):
    back = parsed.payees.join(parsed.payers.select("payer_group", "payer_tin"), on="payer_group")
    joined = filing.with_columns(pl.col("account_number").str.to_uppercase()).join(
        back.rename({"corrected_return_indicator": "corrected"}),
        on=["payer_tin", "corrected", "account_number"],
    )
    assert joined["distribution_codes_right"].to_list() == joined["distribution_codes"].to_list()
    flag = {True: "1", False: ""}
    assert joined["total_distribution_indicator"].to_list() == [flag[v] for v in joined["total_distribution"]]
    assert joined["taxable_amount_not_determined_indicator"].to_list() == [
        flag[v] for v in joined["taxable_not_determined"]
    ]
    assert joined["ira_sep_simple_indicator"].to_list() == [""] * joined.height
    assert joined["percentage_of_total_distribution"].to_list() == joined["box9a_percent"].to_list()
    assert joined["first_year_of_designated_roth_contribution"].to_list() == joined["box11_year"].to_list()
    assert joined["date_of_payment"].to_list() == joined["box13_date"].to_list()
    assert joined["payee_tin_right"].to_list() == joined["payee_tin"].to_list()
    assert joined["type_of_tin"].to_list() == ["1" if t == "ein" else "2" for t in joined["tin_type"]]


def test_taxable_amount_not_determined_writes_zeros_in_amount_code_2_and_a_1_in_547(parsed):
    f5 = parsed.payees.filter(pl.col("account_number") == "ACCT-0005")
    assert f5["taxable_amount_not_determined_indicator"].item() == "1"
    assert f5["amount_2"].item() == 0


def test_box_9a_and_box_13_are_blank_when_null_and_box_9a_is_blank_at_100_percent(filing, data, parsed):
    b_f4 = next(r for r in records(data) if field(r, 21, 9) == "ACCT-0004")
    assert field(b_f4, 550, 2) == "  " and field(b_f4, 552, 4) == "    " and field(b_f4, 557, 8) == " " * 8
    b_f1 = next(r for r in records(data) if field(r, 21, 9) == "ACCT-0001")
    assert field(b_f1, 550, 2) == "40" and field(b_f1, 549, 1) == "1"
    b_f5 = next(r for r in records(data) if field(r, 21, 9) == "ACCT-0005")
    assert field(b_f5, 557, 8) == "20250630"
    full = filing.with_columns(box9a_percent=pl.lit(100, pl.Int32))
    assert (
        read_pub1220(write_pub1220(full, TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
        .payees["percentage_of_total_distribution"]
        .null_count()
        == filing.height
    )


def test_the_roth_form_carries_7b_and_its_first_roth_year_in_552_to_555(data):
    roth = next(r for r in records(data) if field(r, 21, 9) == "ACCT-0002")
    assert field(roth, 545, 2) == "7B"
    assert field(roth, 552, 4) == "2012"
    single = next(r for r in records(data) if field(r, 21, 9) == "ACCT-0004")
    assert field(single, 545, 2) == "G "


def test_c_totals_are_the_sums_of_their_b_records(parsed):
    b = parsed.payees.group_by("payer_group").agg(
        pl.len(), *(pl.col(amount_field(c)).sum() for c in AMOUNT_CODES)
    )
    c = parsed.end_of_payer.join(b, on="payer_group")
    assert c.height == 6
    assert c["number_of_payees"].to_list() == c["len"].to_list()
    for code in AMOUNT_CODES:
        assert c[total_field(code)].to_list() == c[amount_field(code)].to_list()
    first = parsed.end_of_payer.sort("record_number").row(0, named=True)
    # 1 234 567 + 500 000 + 250 000 + 9 876 543 = 11 861 110 cents
    assert first["total_1"] == 11_861_110


def test_cfsf_states_set_a_position_6_numeric_codes_in_b_747_and_one_k_record_per_state(data, parsed):
    assert field(records(data)[1], 6, 1) == "1"
    codes = dict(
        zip(parsed.payees["account_number"], parsed.payees["combined_federal_state_code"], strict=True)
    )
    assert codes["ACCT-0001"] == "06" and codes["ACCT-0002"] == "34" and codes["ACCT-0005"] == "42"
    k = parsed.state_totals.sort("record_number")
    assert k.filter(pl.col("payer_group") == 1)["combined_federal_state_code"].to_list() == ["06", "34"]
    ca = k.row(0, named=True)
    assert (ca["number_of_payees"], ca["total_1"], ca["total_4"]) == (1, 1_234_567, 200_000)
    assert ca["state_income_tax_withheld_total"] == 50_000
    nj = k.row(1, named=True)
    assert (nj["state_income_tax_withheld_total"], nj["local_income_tax_withheld_total"]) == (1_000, 2_500)
    # K records follow their payer's C record.
    types = "".join(chr(r[0]) for r in records(data))
    assert types.startswith("TABBBBCKK")


def test_a_state_outside_cfsf_gets_no_code_and_no_k_record(parsed):
    ny = parsed.payees.filter(pl.col("account_number") == "ACCT-0004")
    assert ny["combined_federal_state_code"].item() is None
    assert "NY" not in cfsf_state_codes(TAX_YEAR)
    foreign = parsed.payees.filter(pl.col("account_number") == "ACCT-0003")
    assert foreign["combined_federal_state_code"].item() is None


def test_dc_and_pennsylvania_take_part_in_cfsf_only_from_tax_year_2023():
    assert cfsf_state_codes(2022).get("PA") is None and cfsf_state_codes(2022).get("DC") is None
    assert cfsf_state_codes(2023)["PA"] == "42" and cfsf_state_codes(2023)["DC"] == "11"


def test_the_cfsf_states_of_tax_year_2025_are_the_irs_list_without_missouri():
    iris_list = (
        "AL AZ AR CA CT CO DC DE GA HI ID IN KS LA MA MD ME MI MN MS MT NE NJ NM NC ND OH OK OR PA RI SC WI"
    )
    assert sorted(cfsf_state_codes(2025)) == sorted(iris_list.split())  # SHAREDIRFORM019_002
    assert (cfsf_state_codes(2025)["OR"], cfsf_state_codes(2025)["RI"]) == ("41", "44")
    assert "MO" in cfsf_state_codes(2024) and "MO" not in cfsf_state_codes(2025)


def test_a_missouri_return_of_2025_is_not_coded_for_cfsf_even_for_an_approved_payer(filing):
    mo = put(put(filing.filter(pl.col("form_id") == "F1"), "state", "F1", "MO"), "state_code", "F1", "MO")
    parsed = read_pub1220(write_pub1220(mo, TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
    assert parsed.payees["combined_federal_state_code"].to_list() == [None]
    assert parsed.payers["cfsf_indicator"].to_list() == [""] and parsed.state_totals.height == 0
    mo_2024 = mo.with_columns(pl.lit(2024, pl.Int32).alias("tax_year"))  # Missouri took part in 2024
    coded = write_pub1220(mo_2024, TRANSMITTER, tax_year=2024, test_file=True)
    assert read_pub1220(coded).payees["combined_federal_state_code"].to_list() == ["29"]


def test_a_payer_not_approved_for_cfsf_is_never_coded_for_it(filing):
    only_one = dc_replace(TRANSMITTER, cfsf_approved_payers=frozenset({"234567891"}))
    data = write_pub1220(filing, only_one, tax_year=TAX_YEAR, test_file=True)
    assert check_pub1220(data) == []
    parsed = read_pub1220(data)
    coded = parsed.payees.filter(pl.col("combined_federal_state_code").is_not_null())
    assert sorted(coded["account_number"].to_list()) == [
        "ACCT-0005",
        "ACCT-0006",
    ]  # PA, MA of the approved payer
    a = {r["payer_tin"]: r["cfsf_indicator"] for r in parsed.payers.iter_rows(named=True)}
    assert a["123456780"] == "" and a["345678902"] == "" and "1" in [a["234567891"]]
    assert sorted(parsed.state_totals["combined_federal_state_code"].to_list()) == ["25", "42"]
    nobody = write_pub1220(
        filing, dc_replace(TRANSMITTER, cfsf_approved_payers=frozenset()), tax_year=TAX_YEAR, test_file=True
    )
    assert b"K" not in bytes(r[0] for r in records(nobody))


def test_a_payer_without_cfsf_states_leaves_a_position_6_blank_and_has_no_k_record(filing):
    only_ny = filing.filter(pl.col("form_id").is_in(["F3", "F4"]))
    data = write_pub1220(only_ny, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert "".join(chr(r[0]) for r in records(data)) == "TABBCF"
    assert field(records(data)[1], 6, 1) == " "
    assert check_pub1220(data) == []


def test_a_foreign_payee_address_sets_287_and_fills_the_free_format_city_state_zip_area(data):
    foreign = next(r for r in records(data) if field(r, 21, 9) == "ACCT-0003")
    assert field(foreign, 287, 1) == "1"
    assert field(foreign, 448, 51).rstrip() == "TORONTO ON M5V 3L9 CANADA"  # the country's name
    assert field(foreign, 368, 40).rstrip() == "200 KING ST W"
    domestic = next(r for r in records(data) if field(r, 21, 9) == "ACCT-0004")
    assert field(domestic, 287, 1) == " "
    assert (field(domestic, 488, 2), field(domestic, 490, 9)) == ("NY", "100011234")
    ca = next(r for r in records(data) if field(r, 21, 9) == "ACCT-0001")
    assert field(ca, 490, 9) == "95113    "  # 5-digit ZIP left-justified, blank-filled


@pytest.mark.parametrize(
    ("account", "control", "name_line"),
    [
        ("ACCT-0001", "ONEI", "ONEIL JOHN"),  # apostrophe dropped
        ("ACCT-0002", "VAND", "VAN DYKE MARY"),  # blank skipped
        ("ACCT-0003", "TREM", "TREMBLAY EMILE"),  # accent dropped
        ("ACCT-0004", "NG  ", "NG LI"),  # short surname blank-filled
        ("ACCT-0005", "    ", "THE SMITH FAMILY TRUST"),  # a trust: the rules need a person's surname
        ("ACCT-0006", "SMIT", "SMITH-JONES ANA"),  # hyphen kept in the name line
    ],
)
def test_the_payee_name_control_is_the_first_four_letters_of_the_surname(data, account, control, name_line):
    record = next(r for r in records(data) if field(r, 21, 9) == account)
    assert field(record, 7, 4) == control
    assert field(record, 288, 40).rstrip() == name_line


@pytest.mark.parametrize(
    ("entity_name", "control"),
    [
        ("Estate of John Smith", ""),  # the decedent's surname: not a field of the extract
        ("John Smith Estate", ""),
        ("Mary Jones Revocable Trust", ""),  # a trust's rule depends on how it is named and its EIN
        ("First Bank TTEE FBO Ann Lee", ""),
        ("The Acme Corporation", "ACME"),  # a business: leading THE dropped
        ("AT&T Retirement Services", "AT&T"),
    ],
)
def test_an_estate_or_trust_payee_gets_a_blank_name_control_never_esta(filing, entity_name, control):
    entity = put(
        put(filing.filter(pl.col("form_id") == "F5"), "last_name", "F5", entity_name), "tin_type", "F5", "ein"
    )
    data = write_pub1220(entity, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert check_pub1220(data) == []
    assert read_pub1220(data).payees["payee_name_control"].to_list() == [control]


@pytest.mark.parametrize(
    ("country", "city", "province", "postal", "expected"),
    [
        ("GB", "London", "", "SW1A 1AA", "LONDON SW1A 1AA UNITED KINGDOM"),  # ISO GB, the IRS's UK
        ("DE", "München", "BY", "80331", "MUNCHEN BY 80331 GERMANY"),  # ISO DE, the IRS's GM
        ("KR", "Seoul", "", "04524", "SEOUL 04524 KOREA REPUBLIC OF"),
        # a city and province too long for what the postal code and country leave are cut
        ("AU", "Bundaberg North Burnett Region Queensland", "QLD", "4670", "BUNDABERG NORTH BURNETT REGION 4670 AUSTRALIA"),
    ],
)  # fmt: skip
def test_a_foreign_address_ends_with_the_countrys_name_not_its_iso_code(
    filing, country, city, province, postal, expected
):
    row = filing.filter(pl.col("form_id") == "F3")
    for column, value in (("country", country), ("city", city), ("state_code", province), ("zip", postal)):
        row = put(row, column, "F3", value)
    data = write_pub1220(row, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert check_pub1220(data) == []
    payee = read_pub1220(data).payees.row(0, named=True)
    assert payee["foreign_country_indicator"] == "1"
    free_format = (
        payee["payee_city"].ljust(40) + payee["payee_state"].ljust(2) + payee["payee_zip"]
    ).rstrip()
    assert free_format == expected and len(free_format) <= 51


def test_the_first_payee_name_line_ends_with_a_full_word(filing):
    long = put(
        put(
            filing.filter(pl.col("form_id") == "F1"),
            "last_name",
            "F1",
            "Wolfeschlegelsteinhausen Bergerdorff",
        ),
        "first_name",
        "F1",
        "Hubert Blaine",
    )
    data = write_pub1220(long, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert check_pub1220(data) == []
    payee = read_pub1220(data).payees.row(0, named=True)
    # "... BERGERDORFF HUBERT" would cut HUBERT after 40 characters: line 1 stops before it
    assert payee["payee_name_line_1"] == "WOLFESCHLEGELSTEINHAUSEN BERGERDORFF"
    assert payee["payee_name_line_2"] == "HUBERT BLAINE"


def test_text_is_upper_case_except_the_contact_email(data):
    t = records(data)[0]
    assert field(t, 359, 50).rstrip() == "Filing.Ops@Example.com"
    assert field(t, 30, 40).rstrip() == "PRORATA FILING OPERATIONS"
    rest = data.decode("ascii").replace("Filing.Ops@Example.com", "")
    assert not any(ch.islower() for ch in rest)


def test_same_input_in_any_row_order_gives_identical_bytes(filing, data):
    shuffled = filing.sample(fraction=1.0, shuffle=True, seed=7)
    assert write_pub1220(shuffled, TRANSMITTER, tax_year=TAX_YEAR, test_file=True) == data


# --- checker -----------------------------------------------------------------------------------


def test_check_finds_nothing_wrong_in_our_own_file(data):
    assert check_pub1220(data) == []


def test_check_catches_a_record_of_the_wrong_length(data):
    recs = records(data)
    broken = b"".join(recs[:2]) + recs[2][:-3] + b"\r\n" + b"".join(recs[3:])
    problems = check_pub1220(broken)
    assert any("record 3 (B): record length 749 must be 750" in p for p in problems)


def test_check_catches_a_c_total_that_is_not_the_sum_of_its_b_records(data):
    c = records(data)[6]
    broken = with_record(data, 7, replace(c, 16, "000000000011861111"))  # one cent too much
    problems = check_pub1220(broken)
    assert problems == [
        "record 7 (C): positions 16-33 control total 1 is 11861111 but its B records sum to 11861110"
    ]


def test_check_names_a_c_total_that_is_not_a_number_and_shows_the_text_it_read(data):
    c = records(data)[6]
    broken = with_record(data, 7, replace(c, 16, "0000000000118611X1"))
    problems = check_pub1220(broken)
    assert (
        "record 7 (C): positions 16-33 control total 1 is '0000000000118611X1' (not a number) but its "
        "B records sum to 11861110" in problems
    )
    assert None not in problems


def test_check_catches_a_bad_sequence_number(data):
    b = records(data)[3]
    broken = with_record(data, 4, replace(b, 500, "00000044"))
    problems = check_pub1220(broken)
    assert problems == [
        "record 4 (B, account ACCT-0002): positions 500-507 record sequence number must equal the record's "
        "position in the file"
    ]


def test_check_catches_a_distribution_code_pair_that_table_1_does_not_allow(data):
    b = records(data)[3]  # ACCT-0002, codes 7B
    broken = with_record(
        data, 4, replace(b, 545, "3B")
    )  # B is not listed with 3 (docs/reference/tax-rules.md f.3)
    problems = check_pub1220(broken)
    assert problems == [
        "record 4 (B, account ACCT-0002): positions 545-546 distribution codes: 3B is not an allowed "
        "combination (docs/reference/tax-rules.md f.3)"
    ]


def test_check_catches_a_k_total_that_is_not_the_sum_of_the_states_b_records(data):
    k = records(data)[7]  # K for CA under payer 1
    broken = with_record(data, 8, replace(k, 707, "0" * 17 + "1"))
    assert check_pub1220(broken) == [
        "record 8 (K): positions 707-724 state_income_tax_withheld_total must be 50000"
    ]


def test_check_catches_an_amount_code_missing_from_the_a_record(data):
    a = records(data)[1]
    broken = with_record(data, 2, replace(a, 28, "12456".ljust(18)))  # 8 dropped
    assert check_pub1220(broken) == [
        "record 2 (A): positions 28-45 amount codes must include 8 (used in its B records)"
    ]


def test_check_catches_a_tin_of_identical_digits_lower_case_text_and_a_bad_count(data):
    b = records(data)[2]
    broken = with_record(data, 3, replace(replace(b, 12, "111111111"), 448, "San"))
    broken = with_record(broken, 1, replace(records(broken)[0], 296, "00000008"))
    problems = check_pub1220(broken)
    assert any("positions 12-20 payee_tin must be 9 digits, not all the same" in p for p in problems)
    assert any(
        "record 3 (B, account ACCT-0001): positions 448-487 payee_city must be upper case" in p
        for p in problems
    )
    assert any("record 1 (T): positions 296-303 total number of payees must be 9" in p for p in problems)
    assert not any("111111111" in p for p in problems)


def test_check_catches_records_without_cr_lf(data):
    blanks = b"".join(r[:-2] + b"  " for r in records(data))
    problems = check_pub1220(blanks)
    assert problems[0] == "records must end with CR LF in positions 749-750 (none found)"
    assert len(problems) == 1 + len(records(data))


@pytest.mark.parametrize(
    ("pair", "allowed"),
    [("7B", True), ("1B", True), ("4G", True), ("BG", True), ("18", True), ("1M", True),
     ("JS", True), ("4Y", True), ("17", False), ("3B", False), ("8P", False), ("GH", False),
     ("KP", False)],
)  # fmt: skip
def test_the_distribution_code_pair_table_follows_tax_rules_f3(pair, allowed):
    assert ("".join(sorted(pair)) in allowed_code_pairs(2025)) is allowed


# --- input errors ------------------------------------------------------------------------------


def test_the_writer_refuses_a_negative_amount_naming_the_form_but_not_the_tin_or_name(filing):
    bad = put(filing, "box4_cents", "F2", -1)
    with pytest.raises(FilingInputError) as error:
        write_pub1220(bad, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    message = str(error.value)
    assert "F2" in message
    assert "222334444" not in message and "DYKE" not in message.upper()


def test_the_writer_refuses_duplicate_account_numbers_under_one_payer(filing):
    bad = put(filing, "account_number", "F2", "ACCT-0001")
    with pytest.raises(FilingInputError, match="account_number not unique"):
        write_pub1220(bad, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)


def test_the_writer_refuses_returns_of_another_tax_year_and_a_bad_transmitter_tin(filing):
    with pytest.raises(FilingInputError, match="tax_year differs"):
        write_pub1220(filing, TRANSMITTER, tax_year=2024, test_file=True)

    with pytest.raises(FilingInputError, match="transmitter TIN") as error:
        write_pub1220(filing, dc_replace(TRANSMITTER, tin="000000000"), tax_year=TAX_YEAR, test_file=True)
    assert "000000000" not in str(error.value)


def test_an_amount_of_12_digits_fits_and_13_digits_is_refused(filing):
    largest = filing.with_columns(box1_cents=pl.lit(999_999_999_999, pl.Int64))
    data = write_pub1220(largest, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert check_pub1220(data) == []
    with pytest.raises(FilingInputError, match="over 12 digits"):
        write_pub1220(
            filing.with_columns(box1_cents=pl.lit(10**12, pl.Int64)),
            TRANSMITTER,
            tax_year=TAX_YEAR,
            test_file=True,
        )


def test_check_catches_a_byte_outside_printable_ascii_and_a_code_that_cannot_stand_alone(data):
    # Y (from TY2025) only with 4, 7 or K: the IRIS enumeration has Y4, Y7, YK and no Y alone
    b = replace(records(data)[3], 545, "Y ")  # ACCT-0002, code Y alone
    broken = with_record(data, 4, b[:447] + "Ü".encode("latin-1") + b[448:])  # 1 byte in position 448
    problems = check_pub1220(broken)
    assert problems[0] == "the file must be printable ASCII (bytes outside 0x20-0x7E besides CR LF found)"
    assert "record 4 (B, account ACCT-0002): positions 1-748 must be printable ASCII" in problems
    assert (
        "record 4 (B, account ACCT-0002): positions 545-546 distribution codes: code Y must be used with "
        "another code" in problems
    )


# --- chunks ------------------------------------------------------------------------------------
# The writer, the reader and the checker go through the returns chunk by chunk (memory bounded for
# millions of returns): the results must not depend on where the chunks end.


def many_returns(count: int) -> pl.DataFrame:
    """``count`` returns: the sample filing's originals over and over, with their own accounts."""
    base = sample_filing().filter(pl.col("corrected") == "")
    copies = -(-count // base.height)
    return (
        pl.concat([base] * copies)
        .head(count)
        .with_columns(
            form_id=pl.format("F{}", pl.int_range(pl.len())),
            account_number=pl.format("ACCT-{}", pl.int_range(pl.len()).cast(pl.String).str.pad_start(7, "0")),
        )
    )


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 5, 1000])
def test_the_file_is_the_same_whatever_the_size_of_the_chunks_it_is_written_in(filing, data, chunk_rows):
    pieces = list(iter_pub1220(filing, TRANSMITTER, tax_year=TAX_YEAR, test_file=True, chunk_rows=chunk_rows))
    assert b"".join(pieces) == data
    assert all(len(p) % RECORD_LENGTH == 0 for p in pieces)


def test_a_payee_tin_in_another_scripts_digits_is_refused_before_any_record_is_written(filing):
    # Arabic-Indic digits are not ASCII digits: refused by the checks, never written as a blank TIN.
    bad = put(filing, "payee_tin", ["F2", "F9"], "٣٣٣٣٣٣٣٣٤")
    for chunk_rows in (1, 1000):
        with pytest.raises(FilingInputError) as error:
            b"".join(iter_pub1220(bad, TRANSMITTER, tax_year=TAX_YEAR, test_file=True, chunk_rows=chunk_rows))
        assert "payee TIN not 9 valid digits" in str(error.value)
        assert "F2" in str(error.value) and "F9" in str(error.value)
        assert "٣" not in str(error.value)


def test_a_b_record_that_cannot_be_written_is_counted_over_all_chunks(filing, monkeypatch):
    # A field the checks let through but that is not one byte per character in the record: the
    # render-time failure is counted over every chunk, not just the first.
    import transforms.irs.shared as shared

    monkeypatch.setattr(shared, "filing_problems", lambda frame, tax_year: [])
    bad = put(filing, "account_number", ["F2", "F9"], pl.lit("Å") + pl.col("account_number"))
    for chunk_rows in (1, 1000):
        with pytest.raises(FilingInputError) as error:
            b"".join(iter_pub1220(bad, TRANSMITTER, tax_year=TAX_YEAR, test_file=True, chunk_rows=chunk_rows))
        assert str(error.value).startswith("2 B record(s) would not be 750 ASCII bytes")
        assert str(error.value).endswith("accounts ÅACCT-0002, ÅACCT-0009")


def broken_files(data: bytes) -> list[bytes]:
    recs = records(data)
    return [
        data,
        with_record(data, 4, replace(recs[3], 545, "3B")),
        with_record(data, 7, replace(recs[6], 16, "000000000011861111")),
        b"".join(recs[:2]) + recs[2][:-3] + b"\r\n" + b"".join(recs[3:]),  # a short record
        b"".join(recs[:3]) + recs[3][:300] + b"\r\n" + recs[3][300:] + b"".join(recs[4:]),  # CR LF inside
        with_record(data, 5, recs[4][:447] + "Ü".encode("latin-1") + recs[4][448:]),
        with_record(data, 6, replace(recs[5], 21, "ACCT-0003")),  # an account twice under one A
        b"".join(r[:-2] + b"  " for r in recs),  # no CR LF at all
        data[:-2],  # no CR LF at the end
        b"".join(recs[1:]),  # no T record first
        b"".join([recs[0], recs[2], recs[1], *recs[3:]]),  # B before A
        data + data[:750],
        data.replace(b"ACCT-0003", b"acct-0003"),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("records_per_chunk", [1, 2, 7])
def test_check_and_read_give_the_same_results_whatever_the_size_of_the_chunks(
    data, monkeypatch, records_per_chunk
):
    import transforms.irs.fire.pub1220_reader as reader

    def outcome(check, read, file):
        try:
            parsed = read(file)
            frames = [parsed.transmitter, parsed.payers, parsed.payees, parsed.end_of_payer]
        except ValueError as error:
            frames = [str(error)]
        return check(file), frames

    expected = [outcome(check_pub1220, read_pub1220, file) for file in broken_files(data)]
    monkeypatch.setattr(reader, "CHUNK_RECORDS", records_per_chunk)
    for file, (problems, frames) in zip(broken_files(data), expected, strict=True):
        got_problems, got_frames = outcome(check_pub1220, read_pub1220, file)
        assert got_problems == problems
        for got, want in zip(got_frames, frames, strict=True):
            assert got == want if isinstance(want, str) else got.equals(want)
        # The file in pieces of any size: the same findings.
        pieces = [file[i : i + 1000] for i in range(0, len(file), 1000)]
        assert check_pub1220(pieces) == problems


def test_the_checker_lists_the_first_thousand_violations_and_counts_the_others():
    data = write_pub1220(many_returns(1200), TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    lower = data.replace(b"ACCT-", b"acct-")  # 1200 B records: account not upper case
    problems = check_pub1220(lower)
    assert len(problems) == 1001
    assert problems[-1] == "... and 200 more violations"
    assert problems[0].startswith("record 3 (B, account acct-0000000): positions 21-40 account_number")


def test_the_b_record_expression_lets_through_no_record_that_breaks_a_rule(data):
    """The checker evaluates its rules one by one only on the B records the expression of
    ``_b_clean`` (and the rules it leaves out) do not pass: any record it passes must break none."""
    import random

    import transforms.irs.fire.pub1220_reader as reader

    rng = random.Random(1220)
    b_lines = [r.decode("ascii") for r in records(data) if r[:1] == b"B"]
    fields = [f for f in LAYOUTS["B"] if f.kind != "eol"]
    alphabet = " 0123456789ABCDGJYZaz&-.'/\x7f"
    lines = []
    for _ in range(4000):
        line = rng.choice(b_lines)
        for _ in range(rng.choice([1, 1, 2, 3])):
            f = rng.choice(fields)
            text = "".join(rng.choice(alphabet) for _ in range(f.length))
            text = rng.choice([text, text.strip().ljust(f.length), " " * f.length, "0" * f.length,
                               "9" * f.length, text[:1] + " " * (f.length - 1)])  # fmt: skip
            line = line[: f.start - 1] + text + line[f.end :]
        lines.append(line)
    t_year = records(data)[0][1:5].decode()
    pattern, covered = reader._b_clean(t_year, int(t_year))
    frame = (
        pl.DataFrame({"line": lines})
        .with_row_index("record_number")
        .with_columns(pl.col("record_number").cast(pl.Int64))
    )
    full = reader._raw_fields(frame, LAYOUTS["B"])
    rules = reader._b_rules(full, t_year, int(t_year))
    passed = full.select(
        pl.col("line").str.contains(pattern)
        & ~pl.any_horizontal(r.mask.fill_null(True) for r in rules if r.key and r.key not in covered)
    ).to_series()
    broken = full.select(pl.any_horizontal(r.mask.fill_null(True) for r in rules)).to_series()
    assert 100 < int(passed.sum()) < len(lines) - 100  # both kinds are there
    assert not (passed & broken).any()


# --- a payer TIN written with punctuation -------------------------------------------------------


def two_plans_of_one_payer(filing: pl.DataFrame) -> pl.DataFrame:
    """The sample filing with payer 123456780's returns after the first under a second plan, whose
    payer EIN is written "12-3456780": the same payer, written two ways."""
    second = (pl.col("payer_tin") == "123456780") & (pl.col("form_id") != "F1")
    return filing.with_columns(
        pl.when(second).then(pl.lit("12-3456780")).otherwise(pl.col("payer_tin")).alias("payer_tin"),
        pl.when(second).then(pl.lit("PLAN-2")).otherwise(pl.col("plan_id")).alias("plan_id"),
    )


def test_two_plans_whose_payer_ein_is_written_two_ways_give_one_a_record_with_both_plans_returns(
    filing, data
):
    two = two_plans_of_one_payer(filing)
    assert two["payer_tin"].n_unique() == filing["payer_tin"].n_unique() + 1
    written = write_pub1220(two, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert written == data  # the file of the same returns with the EIN written as 9 digits
    parsed = read_pub1220(written)
    # One A record per (payer TIN, correction kind): payer 1 has originals only.
    assert parsed.payers["payer_tin"].to_list().count("123456780") == 1
    payer = parsed.payers.filter(pl.col("payer_tin") == "123456780")["payer_group"].item()
    accounts = parsed.payees.filter(pl.col("payer_group") == payer)["account_number"].to_list()
    assert accounts == ["ACCT-0001", "ACCT-0002", "ACCT-0003", "ACCT-0004"]
    assert check_pub1220(written) == []


def test_the_a_record_carries_the_nine_digits_of_a_payer_ein_written_with_a_hyphen(filing, data):
    hyphen = filing.with_columns(pl.col("payer_tin").str.slice(0, 2) + "-" + pl.col("payer_tin").str.slice(2))
    written = write_pub1220(hyphen, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    tins = [field(r, 12, 9) for r in records(written) if r[:1] == b"A"]
    # Payer 2: originals and G; payer 3: originals, G and C (one A record per correction kind).
    assert tins == ["123456780"] + ["234567891"] * 2 + ["345678902"] * 3
    assert written == data


def test_an_account_number_repeated_under_the_payer_ein_written_another_way_is_refused(filing):
    # F2 takes F1's account (upper case, as the B record writes it): the same payer, the same kind.
    two = put(two_plans_of_one_payer(filing), "account_number", "F2", "ACCT-0001")
    with pytest.raises(FilingInputError, match="account_number not unique within a payer") as error:
        write_pub1220(two, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)
    assert "form_id F1, F2" in str(error.value)


def test_payer_details_that_differ_under_the_payer_ein_written_another_way_are_refused(filing):
    two = two_plans_of_one_payer(filing).with_columns(
        pl.when(pl.col("plan_id") == "PLAN-2")
        .then(pl.lit("Acme Manufacturing 403(b) Plan"))
        .otherwise(pl.col("payer_name"))
        .alias("payer_name")
    )
    with pytest.raises(FilingInputError, match="payer details .* differ between returns of one payer"):
        write_pub1220(two, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)


def test_payee_name_line_1_ends_with_a_full_word_and_the_rest_goes_on_line_2():
    long = put(sample_filing(), "last_name", "F4", "Featherstonehaugh-Cholmondeley")
    long = put(long, "first_name", "F4", "Alexandrina Victoria")
    b = read_pub1220(write_pub1220(long, TRANSMITTER, tax_year=TAX_YEAR, test_file=True)).payees
    row = b.filter(pl.col("account_number") == "ACCT-0004").row(0, named=True)
    # 51 characters: line 1 stops before the word that would cross position 40 (not "...ALEXANDRI")
    assert row["payee_name_line_1"] == "FEATHERSTONEHAUGH-CHOLMONDELEY"
    assert row["payee_name_line_2"] == "ALEXANDRINA VICTORIA"
