"""The relay tier: a real NATS server (required in CI), a stream and subject per test.

NATS at 127.0.0.1:4222 (``GRANTLEDGER_TEST_NATS_URL``) is shared: each test publishes on its
own stream and subject and deletes the stream afterwards.  Where NATS is not running the tests
skip, saying why, unless ``GRANTLEDGER_REQUIRE_NATS=1`` (what ``.ci/run`` sets) makes that a
failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats import (
    SHARED_URL,
    Names,
    RelayProcess,
    delete_stream,
    nats_reason,
    nats_required,
)


@pytest.fixture(scope="session")
def nats_url() -> str:
    reason = nats_reason(SHARED_URL)
    if reason is not None:
        if nats_required():
            pytest.fail(f"GRANTLEDGER_REQUIRE_NATS is set but {reason}")
        pytest.skip(reason)
    return SHARED_URL


@pytest.fixture
def names(nats_url: str) -> Iterator[Names]:
    fresh = Names.fresh()
    yield fresh
    delete_stream(nats_url, fresh.stream)


@pytest.fixture
def relay_factory(tmp_path: Path) -> Iterator[list[RelayProcess]]:
    """Relay processes a test starts; every one is killed at the end, whatever happened."""
    started: list[RelayProcess] = []
    yield started
    for r in started:
        r.close()
