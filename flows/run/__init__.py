"""The run: ``pipeline`` reads, validates, computes and writes an extract's outputs (``prorata run``);
``reconcile`` checks a run against the trustee's control totals (``prorata reconcile``)."""
