"""Security (issue 6 §5), against real server processes where a process boundary matters.

Tokens exist only as sha256 hashes in the database and are compared in constant time; a revoked
token is refused by every server process within the token cache's bounded delay; neither tokens
nor the database password appear in what a server logs, at info or at debug; CORS is closed
unless configured; every answer carries the security headers; page size and body size are
limited.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.settings import Settings
from ledger import migrate
from ledger.auth.tokens import TokenRegistry
from ledger.db import create_engine
from tests.support.databases import postgres_database, postgres_reason
from tests.support.servers import Server, cli, make_tokens, servers

PASSWORD = "Pw-n0t-for-logs-7f3a"  # the secret the logs must not show
PROBLEM = "application/problem+json"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
BODY_LIMIT = 65536
TOKEN_CACHE_SECONDS = 1.0


# --- tokens at rest ------------------------------------------------------------------------------


def _every_value(engine: Engine) -> str:
    """Every row of every table, as text: what a stolen backup holds."""
    md = sa.MetaData()
    md.reflect(engine)
    chunks = []
    with engine.connect() as conn:
        for table in md.sorted_tables:
            for row in conn.execute(sa.select(table)):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def test_a_token_is_printed_once_and_stored_only_as_its_hash(
    database_url: str, engine: Engine
) -> None:
    made = cli(
        "token", "create", "--name", "erp-raindance", "--role", "poster", database_url=database_url
    )
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) == 1, "the token is the only line printed"
    token = lines[0].strip()
    assert token.startswith("gl_")
    assert len(token) > 40
    secret = token.removeprefix("gl_")

    dump = _every_value(engine)
    assert secret not in dump
    assert secret[:16] not in dump
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT token_hash FROM api_tokens WHERE name = 'erp-raindance'")
        ).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    listed = cli("token", "list", database_url=database_url)
    assert secret not in listed.stdout
    assert stored not in listed.stdout

    with TestClient(create_app(Settings(database_url=database_url))) as client:
        ok = client.get("/v1/grants", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        wrong = client.get("/v1/grants", headers={"Authorization": f"Bearer {token[:-1]}x"})
        assert wrong.status_code == 401


def test_tokens_are_compared_in_constant_time(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = TokenRegistry(engine)
    token = registry.create("reader-1", "reader")
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module ledger.auth.tokens calls
    assert registry.authenticate(token) is not None
    assert calls == [(hashlib.sha256(token.encode()).hexdigest(),) * 2]


# --- real servers ------------------------------------------------------------------------------


@dataclass
class Pair:
    url: str
    servers: list[Server]
    tokens: dict[str, str]


def _with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user.split(':')[0]}:{PASSWORD}@{host}"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Two servers on one PostgreSQL database whose URL carries a password; the second logs
    at debug.  Bodies are limited to 64 KiB."""
    if postgres_reason() is not None:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    with postgres_database("gl_sec") as plain:
        url = _with_password(plain)  # trust authentication: the password is never checked
        engine = create_engine(url, pool_size=1)
        migrate.upgrade(engine)
        engine.dispose()
        tokens = make_tokens(url, "sec")
        logs = tmp_path_factory.mktemp("security")
        env = {
            "GRANTLEDGER_MAX_BODY_BYTES": str(BODY_LIMIT),
            "GRANTLEDGER_TOKEN_CACHE_SECONDS": str(TOKEN_CACHE_SECONDS),
        }
        with servers(url, logs, 2, env=env) as running:
            # The second one again, at debug: what an operator switches on to chase a problem.
            running[1].stop()
            running[1].env = {**env, "GRANTLEDGER_LOG_LEVEL": "debug"}
            running[1].start()
            yield Pair(url, running, tokens)


def test_a_revoked_token_is_refused_by_every_server_within_the_cache_delay(pair: Pair) -> None:
    token = cli(
        "token", "create", "--name", "to-revoke", "--role", "reader", database_url=pair.url
    ).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=10) as client:
        for s in pair.servers:
            assert client.get(f"{s.url}/v1/grants", headers=auth).status_code == 200
        revoked = cli("token", "revoke", "to-revoke", database_url=pair.url)
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(TOKEN_CACHE_SECONDS)  # the documented longest delay of a revocation
        for s in pair.servers:
            answer = client.get(f"{s.url}/v1/grants", headers=auth)
            assert answer.status_code == 401
            assert answer.headers["content-type"].startswith(PROBLEM)
            assert answer.headers["www-authenticate"] == "Bearer"


def _use_every_token(pair: Pair, forged: str) -> None:
    with httpx.Client(timeout=10) as client:
        for s in pair.servers:
            for token in pair.tokens.values():
                auth = {"Authorization": f"Bearer {token}"}
                client.get(f"{s.url}/v1/grants", headers=auth)
                client.get(f"{s.url}/v1/grants/nope", headers=auth)  # 404
                client.post(f"{s.url}/v1/transactions", headers=auth, json={"lines": []})
                client.post(f"{s.url}/v1/grants", headers=auth, content=b"{not json")
                client.get(f"{s.url}/v1/events", params={"limit": 5000}, headers=auth)
            client.get(f"{s.url}/v1/grants", headers={"Authorization": f"Bearer {forged}"})
            client.get(f"{s.url}/v1/grants", headers={"Authorization": f"Basic {forged}"})


def test_no_token_and_no_password_in_server_logs(pair: Pair) -> None:
    forged = "gl_" + "Zq9" * 14
    _use_every_token(pair, forged)
    for s in pair.servers:
        text = s.log_text()
        assert "/v1/grants" in text, "the server logs its requests"
        assert PASSWORD not in text
        assert forged not in text
        assert forged[3:20] not in text
        for token in pair.tokens.values():
            assert token not in text
            assert token[3:20] not in text, "a prefix of a token is in the log"
            assert hashlib.sha256(token.encode()).hexdigest() not in text


def test_a_secret_in_a_query_string_is_not_logged(pair: Pair) -> None:
    leaked = "gl_" + "Qs7" * 14
    with httpx.Client(timeout=10) as client:
        for s in pair.servers:
            client.get(f"{s.url}/v1/grants", params={"token": leaked})
    for s in pair.servers:
        assert leaked not in s.log_text()


def test_cors_is_closed_by_default(pair: Pair) -> None:
    evil = "https://evil.example"
    with httpx.Client(timeout=10) as client:
        url = pair.servers[0].url
        preflight = client.options(
            f"{url}/v1/transactions",
            headers={
                "Origin": evil,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        simple = client.get(
            f"{url}/v1/grants",
            headers={"Origin": evil, "Authorization": f"Bearer {pair.tokens['reader']}"},
        )
    for answer in (preflight, simple):
        assert not any(h.lower().startswith("access-control-") for h in answer.headers), (
            answer.status_code,
            dict(answer.headers),
        )
    assert simple.status_code == 200


def test_every_kind_of_answer_carries_the_security_headers(pair: Pair) -> None:
    url = pair.servers[0].url
    reader = {"Authorization": f"Bearer {pair.tokens['reader']}"}
    with httpx.Client(timeout=10) as client:
        answers = {
            "200": client.get(f"{url}/v1/grants", headers=reader),
            "401": client.get(f"{url}/v1/grants"),
            "403": client.post(f"{url}/v1/transactions", headers=reader, json={}),
            "404": client.get(f"{url}/v1/grants/nope", headers=reader),
            "422": client.get(
                f"{url}/v1/events",
                params={"limit": 0},
                headers={"Authorization": f"Bearer {pair.tokens['auditor']}"},
            ),
            "413": client.post(
                f"{url}/v1/transactions", headers=reader, content=b"x" * (BODY_LIMIT + 1)
            ),
            "health": client.get(f"{url}/healthz"),
        }
    for name, answer in answers.items():
        if name.isdigit():
            assert answer.status_code == int(name), (name, answer.text)
        for header, value in SECURITY_HEADERS.items():
            assert answer.headers.get(header) == value, (name, header, dict(answer.headers))
        assert answer.headers.get("x-request-id"), name
        if name != "health":
            assert "default-src 'none'" in answer.headers.get("content-security-policy", ""), name
            assert answer.headers.get("cache-control") == "no-store", name


def test_page_size_is_limited_to_1000(pair: Pair) -> None:
    auditor = {"Authorization": f"Bearer {pair.tokens['auditor']}"}
    with httpx.Client(timeout=10) as client:
        url = pair.servers[0].url
        assert client.get(f"{url}/v1/events", params={"limit": 1000}, headers=auditor).is_success
        answer = client.get(f"{url}/v1/events", params={"limit": 1001}, headers=auditor)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["errors"][0]["field"] == "query.limit"


def _events(url: str) -> int:
    engine = create_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one())
    finally:
        engine.dispose()


def _big_batch() -> bytes:
    return b'{"source": "erp", "lines": [' + b'{"line_id": "x"},' * (BODY_LIMIT // 16) + b"]}"


def _assert_413(answer: httpx.Response) -> None:
    assert answer.status_code == 413, answer.text[:300]
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["limit"] == BODY_LIMIT


def test_request_size_is_limited_with_413(pair: Pair) -> None:
    poster = {
        "Authorization": f"Bearer {pair.tokens['poster']}",
        "Content-Type": "application/json",
    }
    before = _events(pair.url)
    with httpx.Client(timeout=10) as client:
        url = pair.servers[0].url
        _assert_413(client.post(f"{url}/v1/transactions", headers=poster, content=_big_batch()))
        _assert_413(client.post(f"{url}/v1/transactions", content=_big_batch()))
    assert _events(pair.url) == before


def test_a_chunked_body_over_the_limit_is_413(pair: Pair) -> None:
    poster = {
        "Authorization": f"Bearer {pair.tokens['poster']}",
        "Content-Type": "application/json",
    }
    big = _big_batch()
    before = _events(pair.url)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    with httpx.Client(timeout=10) as client:
        answer = client.post(
            f"{pair.servers[0].url}/v1/transactions", headers=poster, content=chunks()
        )
    assert _events(pair.url) == before
    _assert_413(answer)


def test_the_server_prints_no_database_url(pair: Pair) -> None:
    for s in pair.servers:
        assert pair.url not in s.log_text()
