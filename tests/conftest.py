import os
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]

from flows.prefect import env as prefect_env  # noqa: E402

prefect_env.configure()

#: The IRS's IRIS A2A package, vendored unchanged: every IRIS transmission a test writes is validated
#: against it (flows.io.iris_package reads this variable when no prorata.toml names a package).
IRIS_PACKAGE = Path(__file__).parent / "data" / "iris-a2a-ty2025-v1.2"
os.environ.setdefault("PRORATA_IRIS_SCHEMA_PACKAGE", str(IRIS_PACKAGE))

#: A command's temporary Prefect server ends with it (the commands the tests start, in this process or
#: their own, leave no server behind); tests/flows/prefect/test_shared_server.py sets its own.
os.environ["PRORATA_PREFECT_SERVER_IDLE_MINUTES"] = "0"


FIXTURE_MARKS = {"prefect_server": ("prefect",), "real_prefect_server": ("prefect", "server")}
"""Tests that use these fixtures carry these marks, written or not (``make check`` leaves them out)."""


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, marks in FIXTURE_MARKS.items():
            if fixture in getattr(item, "fixturenames", ()):
                for mark in marks:
                    item.add_marker(mark)


@pytest.fixture(scope="session")
def seed_extract() -> Path:
    """The seed articles' examples (a copy of tests/data/seed-cases, kept with the tests)."""
    return Path(__file__).parent / "data" / "seed-cases" / "extract"


@pytest.fixture(scope="session")
def prefect_server():
    """The one Prefect test server of the session (about 12 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def prefect_test_api(prefect_server) -> SimpleNamespace:
    """The session's Prefect test server (:func:`prefect_server`) for tests that look into it:
    ``api_url`` (for commands run in a process of their own) and ``home``, the folder of its
    SQLite database."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL

    database = PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    return SimpleNamespace(api_url=PREFECT_API_URL.value(), home=Path(database.split(":///", 1)[1]).parent)


@pytest.fixture(scope="session")
def real_prefect_server(tmp_path_factory):
    """A real, self-hosted Prefect server (``prefect server start``, SQLite under a temporary
    PREFECT_HOME, a free loopback port), the same way ``make prefect-server`` starts one; yields
    its API URL and stops it (its own process group) at the end of the session."""
    from flows.prefect import server

    home = tmp_path_factory.mktemp("prefect-server-home")
    started = server.start(home, server.free_port(), ui=False, timeout=240)
    started_seconds = round(started.seconds_to_healthy, 1)
    (home / "seconds_to_healthy").write_text(f"{started_seconds}\n")
    try:
        yield started.api_url
    finally:
        server.stop(home)
