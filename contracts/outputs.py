"""The files a run writes (docs/spec/outputs.md): their columns, declared once.

The engine cuts its results to these columns; the pipeline writes them; the exports, the
statements, the store and the IRS writers read them by these names.
"""

from __future__ import annotations

DISTRIBUTIONS_COLUMNS = [
    "distribution_id",
    "event_id",
    "plan_id",
    "participant_id",
    "payee_id",
    "tax_year",
    "contract",
    "destination",
    "amount_cents",
    "pretax_cents",
    "basis_cents",
    "box2a_cents",
    "box5_cents",
    "box10_cents",
    "distribution_codes",
    "form_id",
    "foreign_source_cents",
]
"""distributions.parquet: one row per disbursement reported (then the extract's extra columns)."""
FORMS_COLUMNS = [
    "form_id",
    "tax_year",
    "plan_id",
    "payer_tin",
    "payee_id",
    "payee_tin",
    "account_number",
    "box1_cents",
    "box2a_cents",
    "box3_cents",
    "box4_cents",
    "box5_cents",
    "box6_cents",
    "box8_cents",
    "box9b_cents",
    "box10_cents",
    "taxable_not_determined",
    "total_distribution",
    "distribution_codes",
    "ira_sep_simple",
    "box9a_percent",
    "box11_year",
    "box13_date",
    "state",
    "state_payer_id",
    "state_withholding_cents",
    "state_distribution_cents",
    "locality",
    "local_withholding_cents",
    "local_distribution_cents",
]
"""forms.parquet: one row per Form 1099-R."""
RECIPIENTS_COLUMNS = [
    "payee_id",
    "tin",
    "tin_type",
    "first_name",
    "last_name",
    "address",
    "city",
    "state",
    "zip",
    "country",
]
"""recipients.parquet: the payee block of each payee on a form (personal data)."""
PAYERS_COLUMNS = [
    "plan_id",
    "plan_name",
    "plan_type",
    "payer_tin",
    "payer_name",
    "payer_address",
    "payer_city",
    "payer_state",
    "payer_zip",
    "payer_phone",
]
"""payers.parquet: the payer block of each plan on a form."""
