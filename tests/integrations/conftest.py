"""Fixtures of the integration tests: the seed 003 grant on each backend, the API over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from api.settings import get_settings
from tests.support.api import (  # noqa: F401 - fixtures are found by name
    _api_postgres,
    api,
    api_database_url,
    api_factory,
    planned,
)
from tests.support.ledger import EXAMPLES, Ledger

DATA = Path(__file__).parent / "data"
SEED_003 = EXAMPLES / "god-och-nara-vard-2022.yaml"
GRANT = "gnv-2022"


@pytest.fixture
def gnv(engine: Engine) -> Ledger:
    """The seed 003 grant (God och nära vård 2022) planned on a fresh database of each backend."""
    ledger = Ledger(engine)
    ledger.load_plan(SEED_003)
    return ledger


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI writes GRANTLEDGER_DATABASE_URL and caches settings: undo both afterwards."""
    monkeypatch.setenv("GRANTLEDGER_DATABASE_URL", "sqlite:///unused.db")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
