import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from flows import prefect_env  # noqa: E402

prefect_env.configure()


@pytest.fixture(scope="session")
def seed_extract() -> Path:
    """The seed articles' examples (a copy of shared/examples/seed-cases, kept with the tests)."""
    return Path(__file__).parent / "data" / "seed-cases" / "extract"


@pytest.fixture(scope="session")
def prefect_server():
    """The one Prefect test server of the session (about 12 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
