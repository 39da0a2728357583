"""Renderers: what people read. ``statements``: Copy B as PDF; ``reconcile_html``: the
reconciliation report; ``exports``: a run's outputs as CSV or Excel, in dollars."""
