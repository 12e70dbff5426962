"""Fixtures of the integration tests: the seed 003 grant on each backend, the API over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from api.settings import get_settings
from tests.api import conftest as _api_tier
from tests.support.ledger import EXAMPLES, Ledger

# The API tier's fixtures (api, api_factory, planned, and the private ones they rest on), exactly
# as tests/api/conftest.py exposes them, so this tier follows it when it changes.
globals().update({k: v for k, v in vars(_api_tier).items() if not k.startswith("__")})

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
