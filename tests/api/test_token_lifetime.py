"""Tokens that expire, and a lookup cache with a bounded revocation delay (issue 16 item 6,
issue 14), on both databases.

Rules: a token made with an expiry is refused from that instant on, exactly, cache or not; a
revoked token is refused by a running server within ``token_cache_seconds``; a token made a
moment ago works at once; ``token list`` shows each token's expiry and state.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from ledger.auth.cache import LookupCache
from ledger.auth.tokens import TokenRegistry, parse_duration
from ledger.errors import InvalidInput
from tests.support.api import ApiFactory, assert_problem, bearer
from tests.support.servers import cli


def _soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _wait_until(instant: datetime) -> None:
    time.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()) + 0.05)


def test_a_token_is_refused_from_its_expiry_on_even_while_cached(engine: Engine) -> None:
    registry = TokenRegistry(engine, cache_seconds=300)
    expires = _soon(1.0)
    token = registry.create("temp-consultant", "reader", expires_at=expires)
    principal = registry.authenticate(token)
    assert principal is not None
    assert principal.name == "temp-consultant"
    _wait_until(expires)
    assert registry.authenticate(token) is None  # cached five minutes, refused on the instant
    assert TokenRegistry(engine).authenticate(token) is None  # and uncached
    [info] = [t for t in registry.list() if t.name == "temp-consultant"]
    assert info.expires_at == expires.replace(microsecond=info.expires_at.microsecond)
    assert info.expired(datetime.now(UTC))


def test_a_token_without_expiry_never_expires(engine: Engine) -> None:
    registry = TokenRegistry(engine)
    token = registry.create("erp", "poster")
    [info] = registry.list()
    assert info.expires_at is None
    assert not info.expired(datetime.now(UTC) + timedelta(days=36500))
    assert registry.authenticate(token) is not None


def test_a_revocation_reaches_a_caching_server_within_the_delay(engine: Engine) -> None:
    server = TokenRegistry(engine, cache_seconds=0.5)
    operator = TokenRegistry(engine)  # `grantledger token revoke`, another process
    token = operator.create("leaving", "planner")
    assert server.authenticate(token) is not None
    operator.revoke("leaving")
    time.sleep(0.55)
    assert server.authenticate(token) is None


def test_the_cache_saves_the_lookup_and_a_new_token_works_at_once(engine: Engine) -> None:
    server = TokenRegistry(engine, cache_seconds=60)
    lookups: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "api_tokens" in statement:
            lookups.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        unknown = "gl_not-yet-made"
        assert server.authenticate(unknown) is None
        token = server.create("new", "reader")
        lookups.clear()
        for _ in range(20):
            assert server.authenticate(token) is not None
        assert len(lookups) == 1  # one round trip for twenty requests
        assert server.authenticate(unknown) is None  # unknown tokens are never cached
        assert len(lookups) == 2
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_the_cache_is_bounded_least_recently_used_out() -> None:
    now = [0.0]
    cache: LookupCache[int] = LookupCache(max_age=10, size=3, clock=lambda: now[0])
    for n in range(5):
        cache.put(f"k{n}", n)
    assert len(cache) == 3
    assert cache.get("k0") is None
    assert cache.get("k4") == 4
    now[0] = 10.0
    assert cache.get("k4") is None  # an entry is trusted for less than max_age


@pytest.mark.parametrize(
    "when", [timedelta(seconds=-1), timedelta(days=3661)], ids=["past", "beyond-ten-years"]
)
def test_an_expiry_in_the_past_or_too_far_ahead_is_refused(engine: Engine, when: timedelta) -> None:
    with pytest.raises(InvalidInput):
        TokenRegistry(engine).create("x", "reader", expires_at=datetime.now(UTC) + when)
    assert TokenRegistry(engine).list() == []


@given(number=st.integers(1, 999_999), unit=st.sampled_from("mhdw"))
def test_durations_read_as_written(number: int, unit: str) -> None:
    seconds = {"m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{number}{unit}") == timedelta(seconds=number * seconds)


@pytest.mark.parametrize("text", ["", "0d", "90", "d", "1.5h", "-3d", "3y", "9999999d"])
def test_a_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


def test_an_expired_token_is_a_401_problem_over_http(api_factory: ApiFactory) -> None:
    api = api_factory(token_cache_seconds=60)
    expires = _soon(1.0)
    token = TokenRegistry(api.engine).create("short-lived", "reader", expires_at=expires)
    assert api.client.get("/v1/grants", headers=bearer(token)).status_code == 200
    _wait_until(expires)
    answer = api.client.get("/v1/grants", headers=bearer(token))
    body = assert_problem(answer, 401, "unauthenticated")
    assert "expired" in body["detail"]
    assert answer.headers["www-authenticate"] == "Bearer"


def test_token_create_takes_an_expiry_and_token_list_shows_it(
    engine: Engine, database_url: str
) -> None:
    for args in (
        ("--name", "konsult", "--role", "reader", "--expires-in", "90d"),
        ("--name", "revisor", "--role", "auditor", "--expires-at", "2030-06-30T12:00:00+02:00"),
        ("--name", "erp", "--role", "poster"),
    ):
        made = cli("token", "create", *args, database_url=database_url)
        assert made.returncode == 0, made.stderr
        assert made.stdout.strip().startswith("gl_")
    listed = cli("token", "list", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if "│" in line}
    in_90_days = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%d")
    assert in_90_days in rows["konsult"]
    assert "2030-06-30 10:00" in rows["revisor"]  # shown in UTC
    assert "never" in rows["erp"]
    assert all("active" in rows[name] for name in ("konsult", "revisor", "erp"))


@pytest.mark.parametrize(
    "args",
    [
        ("--expires-in", "90d", "--expires-at", "2099-01-01"),
        ("--expires-at", "2000-01-01T00:00:00Z"),
        ("--expires-at", "9999-12-31T23:59:59-14:00"),
        ("--expires-in", "forever"),
    ],
    ids=["both", "past", "beyond-utc", "malformed"],
)
def test_token_create_refuses_a_bad_expiry_and_makes_nothing(
    engine: Engine, database_url: str, args: tuple[str, ...]
) -> None:
    made = cli(
        "token", "create", "--name", "x", "--role", "reader", *args, database_url=database_url
    )
    assert made.returncode == 2, (made.stdout, made.stderr)
    assert "gl_" not in made.stdout
    assert "expir" in made.stderr or "duration" in made.stderr
    assert TokenRegistry(engine).list() == []


def test_the_cache_alone_decides_a_known_token_without_the_database(engine: Engine) -> None:
    """What the API checks on its event loop: a cached answer, or 'ask the database'."""
    server = TokenRegistry(engine, cache_seconds=60)
    expires = _soon(1.0)
    token = server.create("brief", "poster", expires_at=expires)
    assert server.authenticate_cached(token) == (False, None)  # never looked up: ask
    assert server.authenticate_cached("gl_unknown") == (False, None)
    lookups: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        lookups.append(statement)

    principal = server.authenticate(token)
    assert principal is not None
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert server.authenticate_cached(token) == (True, principal)
        _wait_until(expires)
        assert server.authenticate_cached(token) == (True, None)  # expired: refused, cached
        assert lookups == []
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    uncached = TokenRegistry(engine, cache_seconds=0)
    other = uncached.create("plain", "reader")
    assert uncached.authenticate(other) is not None
    assert uncached.authenticate_cached(other) == (False, None)  # no cache: always ask
