"""The reconciliation flows, thin: ``prorata-reconcile`` (an extract against a run) and
``prorata-reconcile-year`` (a store's tax year) run :mod:`flows.run.reconcile` and publish its
markdown and table artifacts in the flow run."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows.errors import scrubbed
from flows.prefect.env import FLOW_OPTIONS
from flows.prefect.run_flow import extract_label
from flows.run.reconcile import reconcile_extract, reconcile_year


def _reconcile_name() -> str:
    return f"reconcile {extract_label(flow_run.parameters.get('extract_dir'))}"


def _reconcile_year_name() -> str:
    return f"reconcile tax year {flow_run.parameters.get('tax_year')}"


@flow(name="prorata-reconcile", flow_run_name=_reconcile_name, **FLOW_OPTIONS)
@scrubbed("prorata-reconcile")
def prorata_reconcile(extract_dir: Path, outputs_dir: Path, out_dir: Path) -> dict:
    """Reconcile an extract against a run (:func:`flows.run.reconcile.reconcile_extract`)."""
    return reconcile_extract(extract_dir, outputs_dir, out_dir)


@flow(name="prorata-reconcile-year", flow_run_name=_reconcile_year_name, **FLOW_OPTIONS)
@scrubbed("prorata-reconcile-year")
def prorata_reconcile_year(store_dir: Path, tax_year: int, out_dir: Path) -> dict:
    """Reconcile a store's tax year (:func:`flows.run.reconcile.reconcile_year`)."""
    return reconcile_year(store_dir, tax_year, out_dir)
