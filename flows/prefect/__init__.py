"""Prefect, thin: ``env`` (quiet defaults set before Prefect is imported), ``run_flow`` (the
``prorata-run`` flow, on Dask too), ``nightly`` (the ``prorata-nightly`` flow and its schedule),
``progress`` (the terminal bar and Prefect's progress artifact), ``server`` (a self-hosted server)."""
