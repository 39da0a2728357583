"""After the forms: ``reconcile`` (the run against the trustee's control totals, every
disbursement reported or quarantined once), ``corrections`` (Type 1 / Type 2 corrections of filed
returns, the pairing of re-keyed forms), ``references`` (what the IRS said about each record sent,
what a correction or a replacement points at). Pure polars, no I/O."""
