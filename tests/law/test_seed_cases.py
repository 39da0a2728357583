"""The seed articles' worked examples, end to end through the contracts and the engine.

Expected values: tests/data/seed-cases/README.md (dollars), with seed 002 corrected by
§402A(d)(4): the Roth account is pro-rated alone.
"""

import polars as pl
import pytest

from contracts.loading import read_extract
from contracts.validate import validate
from transforms.engine import compute
from transforms.law.params import TaxParameters

EXPECTED = {
    # distribution_id: (pretax, basis, box2a, box5, box7) in dollars
    "seed004-split-rollover-ira": (24_000, 0, 0, 0, "G"),
    "seed004-split-rollover-roth": (0, 16_000, 0, 16_000, "G"),
    "seed003-ex1-separate-account-a": (8_000, 32_000, 8_000, 32_000, "1"),
    "seed003-ex2-whole-account-a": (24_000, 16_000, 24_000, 16_000, "1"),
    "seed003-ex3-split-ira": (8_000, 0, 0, 0, "G"),
    "seed003-ex3-split-roth": (0, 32_000, 0, 32_000, "G"),
    "seed002-roth-nonqualified-a": (12_000, 48_000, 12_000, 48_000, "7B"),
    "seed002-roth-to-roth-ira-a": (15_000, 60_000, 0, 60_000, "H"),
}


@pytest.fixture(scope="module")
def seed_result(seed_extract):
    manifest, frames = read_extract(seed_extract)
    validated = validate(frames, manifest.tax_year)
    assert validated.quarantine.height == 0
    return compute(validated.tables, TaxParameters.for_year(manifest.tax_year))


@pytest.mark.parametrize("distribution_id", sorted(EXPECTED))
def test_seed_example_gives_the_split_the_law_requires(seed_result, distribution_id):
    row = seed_result.distributions.filter(pl.col("distribution_id") == distribution_id).row(0, named=True)
    pretax, basis, box2a, box5, codes = EXPECTED[distribution_id]
    assert (row["pretax_cents"], row["basis_cents"]) == (pretax * 100, basis * 100)
    assert (row["box2a_cents"], row["box5_cents"]) == (box2a * 100, box5 * 100)
    assert row["distribution_codes"] == codes


def test_seed_002_roth_distribution_is_prorated_over_the_roth_account_alone(seed_result):
    # Seed 002 says 90 % of $60,000 is taxable (over the whole $600,000 401(k)). §402A(d)(4):
    # $60,000 × $15,000 earnings / $75,000 Roth account = $12,000 taxable, not $54,000.
    row = seed_result.distributions.filter(pl.col("distribution_id") == "seed002-roth-nonqualified-a").row(
        0, named=True
    )
    assert row["box2a_cents"] == 1_200_000
    assert row["box2a_cents"] != 5_400_000


def test_every_seed_disbursement_is_on_a_form_of_its_own_destination(seed_result):
    forms = seed_result.forms
    assert forms.height == 8
    assert forms["box1_cents"].sum() == seed_result.distributions["amount_cents"].sum()
