"""The API serves as the restricted ``grantledger_app`` role, never as the owner (issue 16 item 6).

docker-compose.yml ran the API as the database superuser, while migration 0001 creates the role
an application login should belong to.  Now the one-shot migration runs as the owner and makes
the API's login (``grantledger db upgrade --app-login NAME``), and the API serves as that login.
The rules, on PostgreSQL (SQLite has no roles; its triggers are covered by the store tests):

- the app's login cannot UPDATE, DELETE or TRUNCATE events, nor disable the append-only
  triggers (neither ``ALTER TABLE … DISABLE TRIGGER`` nor ``session_replication_role``);
- yet a real server on that login serves every kind of request: writes, reads, reports, the
  audit trail, readiness, tokens.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import errors, sql

from tests.support.api import (
    GRANT_ID,
    activity_body,
    batch,
    grant_body,
    line,
    reversal_body,
)
from tests.support.databases import admin_url, postgres_database, postgres_reason
from tests.support.servers import Server, cli, make_tokens


@dataclass(frozen=True)
class AppDatabase:
    owner_url: str
    app_url: str
    login: str


def _as(url: str, user: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}@{rest.split('@', 1)[1]}"


@pytest.fixture
def app_database(_postgres_available: bool) -> Iterator[AppDatabase]:
    if not _postgres_available:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    login = f"gl_api_{uuid.uuid4().hex[:10]}"
    try:
        with postgres_database("gl_role") as owner_url:
            made = cli("db", "upgrade", "--app-login", login, database_url=owner_url)
            assert made.returncode == 0, made.stderr
            yield AppDatabase(owner_url, _as(owner_url, login), login)
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


TAMPERING = [
    ("UPDATE events SET data = '{}' WHERE position = 1", errors.InsufficientPrivilege),
    ("DELETE FROM events WHERE position = 1", errors.InsufficientPrivilege),
    ("TRUNCATE events", errors.InsufficientPrivilege),
    ("ALTER TABLE events DISABLE TRIGGER ALL", errors.InsufficientPrivilege),
    ("ALTER TABLE events DISABLE TRIGGER events_no_update_delete", errors.InsufficientPrivilege),
    ("SET session_replication_role = replica", errors.InsufficientPrivilege),
    ("DROP TRIGGER events_no_update_delete ON events", errors.InsufficientPrivilege),
    ("DROP TABLE events", errors.InsufficientPrivilege),
    ("ALTER ROLE CURRENT_USER SUPERUSER", errors.InsufficientPrivilege),
    ("UPDATE alembic_version SET version_num = 'x'", errors.InsufficientPrivilege),
]


def test_the_app_login_cannot_change_or_remove_events(app_database: AppDatabase) -> None:
    with psycopg.connect(app_database.owner_url, autocommit=True) as owner:
        owner.execute(
            "INSERT INTO events (position, stream_id, stream_version, event_type, "
            "schema_version, data, meta, recorded_at, prev_hash, hash) VALUES "
            "(1, 's', 1, 'Probe', 1, '{}', '{}', now(), repeat('0', 64), repeat('1', 64))"
        )
    with psycopg.connect(app_database.app_url, autocommit=True) as app:
        is_super = app.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert is_super.fetchone() == (False,)
        for statement, refused in TAMPERING:
            with pytest.raises(refused):
                app.execute(statement)
        # What the app needs it has: it reads and appends.
        assert app.execute("SELECT count(*) FROM events").fetchone() == (1,)
        app.execute(
            "INSERT INTO events (position, stream_id, stream_version, event_type, "
            "schema_version, data, meta, recorded_at, prev_hash, hash) VALUES "
            "(2, 's', 2, 'Probe', 1, '{}', '{}', now(), repeat('1', 64), repeat('2', 64))"
        )
    with psycopg.connect(app_database.owner_url) as owner:
        rows = owner.execute("SELECT position, data FROM events ORDER BY position").fetchall()
    assert rows == [(1, {}), (2, {})]


def test_a_server_on_the_app_login_serves_every_kind_of_request(
    app_database: AppDatabase, tmp_path: Path
) -> None:
    tokens = make_tokens(app_database.app_url, "app")  # token create works as the app too
    server = Server(app_database.app_url, tmp_path / "server.log")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as client:

            def call(method: str, path: str, role: str, body: object = None) -> httpx.Response:
                answer = client.request(
                    method,
                    path,
                    json=body,
                    headers={"Authorization": f"Bearer {tokens[role]}", "Idempotency-Key": path},
                )
                assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
                return answer

            assert client.get("/readyz").status_code == 200
            call("POST", "/v1/grants", "planner", grant_body())
            call(
                "POST",
                f"/v1/grants/{GRANT_ID}/activities",
                "planner",
                activity_body("lokalt-arbete", "nara-vard", "600000.00"),
            )
            spent = call("POST", "/v1/transactions", "poster", batch(line())).json()
            transaction = spent["lines"][0]["transaction_id"]
            call("POST", f"/v1/transactions/{transaction}/reversal", "poster", reversal_body())
            call("POST", "/v1/periods/2022-01/close", "admin")
            call("GET", f"/v1/balances?grant_id={GRANT_ID}&as_of=2022-12-31", "reader")
            call("GET", "/v1/cost-objects/9916", "reader")
            call("GET", f"/v1/reports/grants/{GRANT_ID}?format=xlsx", "reader")
            call("GET", "/v1/events?limit=2", "auditor")
            call("GET", f"/v1/grants/{GRANT_ID}", "reader")
            call("GET", "/metrics", "reader")
            call("GET", "/v1/audit/verify", "auditor")
            voucher = (
                '#FLAGGA 0\r\n#FORMAT PC8\r\n#SIETYP 4\r\n#DIM 6 "Projekt"\r\n'
                '#VER A 1 20220415 "Konsult"\r\n{\r\n'
                '   #TRANS 4010 {6 "9916"} 100.00\r\n   #TRANS 2440 {} -100.00\r\n}\r\n'
            )
            imported = client.post(
                "/v1/imports/sie",
                files={"file": ("v.se", voucher.encode("cp437"), "application/octet-stream")},
                headers={"Authorization": f"Bearer {tokens['poster']}"},
            )
            assert imported.status_code < 300, imported.text
            # A retried write answers from the idempotency table.
            again = call("POST", "/v1/grants", "planner", grant_body())
            assert again.headers.get("Idempotent-Replayed") == "true"
    finally:
        server.close()
    assert "Traceback" not in server.log_text()


def test_the_app_login_is_never_the_owner_or_a_superuser(app_database: AppDatabase) -> None:
    again = cli(
        "db",
        "upgrade",
        "--app-login",
        app_database.login,
        database_url=app_database.owner_url,
        env={"GRANTLEDGER_APP_DB_PASSWORD": "s3cret-for-compose"},
    )
    assert again.returncode == 0, again.stderr  # run again (every compose start): no harm
    for name in ("postgres", "grantledger_app", "Robert'); DROP TABLE events;--"):
        refused = cli("db", "upgrade", "--app-login", name, database_url=app_database.owner_url)
        assert refused.returncode == 2, (name, refused.stdout, refused.stderr)
    with psycopg.connect(app_database.owner_url) as owner:
        assert owner.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'").fetchone()
        assert owner.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_an_app_login_on_sqlite_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    refused = cli("db", "upgrade", "--app-login", "grantledger_api", database_url=url)
    assert refused.returncode == 2
    assert "PostgreSQL" in refused.stderr
