"""Prefect settings for a quiet command line: no telemetry, no console log handler noise.

Must run before ``prefect`` is imported. A setting the user already exported wins.
"""

from __future__ import annotations

import os

QUIET_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # Flow and task logs still go to the Prefect API (and its UI); only the console handler is muted.
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_INTERNAL_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_TASKS_DEFAULT_PERSIST_RESULT": "false",
    "PREFECT_UI_ENABLED": "false",
}


def configure() -> None:
    for key, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)


FLOW_OPTIONS = {"persist_result": False, "log_prints": False, "validate_parameters": False}
"""Every prorata flow: no persisted result (it could hold personal data), no captured prints, the
parameters as given (paths)."""
