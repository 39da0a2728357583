"""The ``prorata`` command line: ``main`` (the entry point and the run commands), ``ops`` (the
store's commands: nightly, file, approve, acknowledge, corrections, status, history)."""
