"""Fixtures shared by every tier: databases on both backends, migrated engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import Engine

from ledger import migrate
from ledger.db import create_engine
from tests.support.databases import fresh_database, postgres_reason, postgres_required

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("default")

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def _postgres_available() -> bool:
    reason = postgres_reason()
    if reason is None:
        return True
    if postgres_required():
        pytest.fail(f"GRANTLEDGER_REQUIRE_POSTGRES is set but {reason}")
    return False


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, _postgres_available: bool) -> str:
    if request.param == "postgresql" and not _postgres_available:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database of each backend."""
    eng = create_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()
