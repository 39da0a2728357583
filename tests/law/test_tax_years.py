"""Parameters that hold every year (issue 14, point 5): the whole engine on the same extract for
every tax year prorata supports — what the law does not change stays, what it changes does.

The extract is the same people and payments moved to each year (every date shifted by whole years,
so ages and periods are the same), except the Roth account, whose 5-year period started in 2006."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from tests.builders import Case, contract_row, dist_row, participant_row, payee_row
from transforms.law.params import READ_PER_PAYMENT, TaxParameters, supported_tax_years

YEARS = supported_tax_years()


def moved(d: date, year: int) -> date:
    return d.replace(year=d.year + year - 2025)


def extract_of(year: int) -> Case:
    at = lambda m, d: date(year, m, d)  # noqa: E731
    case = Case(tax_year=year)
    case.payees = [
        payee_row("YOUNG", tin="400000031", dob=moved(date(1985, 4, 1), year)),
        payee_row("OLD", tin="400000032", dob=moved(date(1964, 4, 1), year)),
        payee_row("COP", tin="400000033", dob=moved(date(1974, 3, 1), year)),
        payee_row("DEAD", tin="400000034", dob=moved(date(1950, 4, 1), year)),
        payee_row("HEIR", tin="400000035", dob=moved(date(1990, 4, 1), year)),
    ]
    case.participants = [
        participant_row("PY", "YOUNG"),
        participant_row("PO", "OLD", roth_first_year=2006),
        participant_row("PC", "COP", separation_date=at(1, 10), public_safety_employee=True),
        participant_row("PD", "DEAD", date_of_death=at(1, 5)),
    ]
    case.contracts = [
        contract_row("E1", "non_roth", 10_000_000, 2_000_000),
        contract_row("E2", "non_roth", 10_000_000, 4_000_000),
        contract_row("E3", "roth", 7_500_000, 6_000_000),
        contract_row("E4", "non_roth", 1_000_000, 0),
        contract_row("E5", "non_roth", 1_000_000, 0),
        contract_row("E6", "non_roth", 5_000_000, 1_000_000),
        contract_row("E7", "non_roth", 800_000, 100_000),
    ]
    young = {"participant_id": "PY", "payee_id": "YOUNG", "reason": "in_service"}
    cop = {"participant_id": "PC", "payee_id": "COP", "reason": "separation"}
    case.distributions = [
        dist_row("cash", "E1", "non_roth", 5_000_000, payment_date=at(3, 2), **young),
        dist_row("ira", "E2", "non_roth", 2_400_000, "rollover_ira", payment_date=at(4, 1), **young),
        dist_row("conv", "E2", "non_roth", 1_600_000, "rollover_roth_ira", payment_date=at(4, 1), **young),
        dist_row("roth", "E3", "roth", 6_000_000, participant_id="PO", payee_id="OLD", payment_date=at(6, 2)),
        dist_row("cop-june", "E4", "non_roth", 100_000, payment_date=at(6, 1), **cop),
        dist_row("cop-sept", "E5", "non_roth", 100_000, payment_date=at(9, 1), **cop),
        dist_row(
            "corr",
            "E6",
            "non_roth",
            300_000,
            payment_date=at(3, 15),
            reason="corrective",
            corrective_taxable_year=year - 1,
            corrective_basis_cents=50_000,
            **{k: v for k, v in young.items() if k != "reason"},
        ),
        dist_row(
            "heir", "E7", "non_roth", 800_000, participant_id="PD", payee_id="HEIR", payment_date=at(2, 1)
        ),
    ]
    return case


@pytest.fixture(scope="module")
def by_year() -> dict[int, tuple[pl.DataFrame, pl.DataFrame]]:
    out = {}
    for year in YEARS:
        result = extract_of(year).run()
        out[year] = (result.distributions.sort("distribution_id"), result.forms)
    return out


def test_prorata_supports_every_tax_year_from_the_first_designated_roth_year():
    assert YEARS.start == 2006 and 2025 in YEARS and 2026 in YEARS
    with pytest.raises(KeyError):
        TaxParameters.for_year(YEARS.start - 1)


def test_the_split_and_the_boxes_the_law_does_not_change_are_the_same_every_year(by_year):
    base, base_forms = by_year[2025]
    steady = ["distribution_id", "pretax_cents", "basis_cents", "box5_cents", "box10_cents"]
    for year, (d, forms) in by_year.items():
        assert d.height == 8, year
        assert d.select(steady).equals(base.select(steady)), year
        # in 2006 the two public safety payments differ in code (below): one form more
        assert forms.height == (8 if year == 2006 else 7) and base_forms.height == 7, year
        assert forms["box1_cents"].sum() == base_forms["box1_cents"].sum(), year
        assert set(forms["tax_year"].to_list()) == {year}
        assert d.filter(pl.col("distribution_id") != "roth")["box2a_cents"].equals(
            base.filter(pl.col("distribution_id") != "roth")["box2a_cents"]
        ), year


def codes(d: pl.DataFrame) -> dict[str, str]:
    return dict(zip(d["distribution_id"], d["distribution_codes"], strict=True))


def test_the_codes_are_the_same_every_year_but_where_the_law_changed(by_year):
    expected = {
        "cash": "1",
        "ira": "G",
        "conv": "G",
        "roth": "7B",
        "cop-june": "2",
        "cop-sept": "2",
        "corr": "P",
        "heir": "4",
    }
    for year, (d, _) in by_year.items():
        # §72(t)(10) (age 50 for public safety employees) applies to distributions after 17 Aug 2006
        june = "1" if year == 2006 else "2"
        assert codes(d) == {**expected, "cop-june": june}, year


def test_a_roth_account_opened_in_2006_gives_qualified_distributions_from_2011(by_year):
    for year, (d, forms) in by_year.items():
        roth = d.filter(pl.col("distribution_id") == "roth").row(0, named=True)
        # $60,000 of a $75,000 account with $60,000 basis: $12,000 of earnings, taxable until the
        # 5-taxable-year period (2006-2010) is complete (§402A(d)(2)(B))
        assert roth["box2a_cents"] == (1_200_000 if year < 2011 else 0), year
        assert forms.filter(pl.col("box11_year").is_not_null())["box11_year"].to_list() == [2006]


def test_the_public_safety_age_resolves_in_2006_from_18_august():
    p = TaxParameters.for_year(2006)
    assert p.public_safety_separation_age is None  # not in force on 1 January 2006
    assert p.changes_of("public_safety_separation_age") == ((date(2006, 8, 18), 50),)
    frame = pl.DataFrame({"payment_date": [date(2006, 8, 17), date(2006, 8, 18)]})
    assert frame.select(p.on_payment_date("public_safety_separation_age")).to_series().to_list() == [None, 50]
    assert TaxParameters.for_year(2007).public_safety_separation_age == 50
    assert TaxParameters.for_year(2007).changes == ()


def test_only_the_parameters_read_per_payment_date_start_or_change_within_a_year():
    for year in YEARS:
        assert {name for name, _, _ in TaxParameters.for_year(year).changes} <= READ_PER_PAYMENT, year


@pytest.mark.parametrize("year", [YEARS.start - 1, YEARS.stop])
def test_an_extract_of_a_year_prorata_does_not_compute_is_refused_with_one_line(tmp_path, year):
    from contracts.loading import ExtractError, Manifest

    folder = extract_of(2025).write(tmp_path / "x")
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"tax_year": 2025', f'"tax_year": {year}'))
    with pytest.raises(ExtractError, match=f"'tax_year' {year} is not a tax year prorata computes"):
        Manifest.read(folder)
