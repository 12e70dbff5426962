"""Fixtures and builders for the HTTP API tests, on SQLite and PostgreSQL.

``api`` is the app over a fresh, migrated database of each backend with a ``TestClient`` and one
token per role; ``planned`` is the same with a small grant registered and allocated, shaped like
seed 003 (one area on 9916 of its own, two areas sharing 9917, one of them ring-fenced).
``live_server`` starts the real ``grantledger serve`` in a subprocess on a free loopback port and
yields its base URL, for tests that talk to it as a finance system would: over a socket, with httpx.

Bodies are plain JSON dicts, written the way an integrator writes them (money as strings).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy.engine import Engine

from api.app import create_app
from api.schemas.requests import ActivityBody, GrantBody
from api.settings import Settings
from ledger import migrate
from ledger.auth.tables import tokens as token_table
from ledger.auth.tokens import TokenRegistry
from ledger.db import create_engine
from ledger.service import Actor, Command, LedgerService
from ledger.store.schema import events
from tests.support.databases import (
    fresh_database,
    postgres_database,
    postgres_reason,
    sqlite_database,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GRANTLEDGER = Path(sys.executable).parent / "grantledger"

ROLES = ("reader", "poster", "planner", "auditor", "admin")
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://grantledger.dev/problems/"

# --- request bodies ---------------------------------------------------------------------------

DECISION: dict[str, Any] = {"ref": "RS/123/2022", "date": "2022-05-04", "body": "Regionstyrelsen"}
GRANT_ID = "test-2022"


def grant_body(grant_id: str = GRANT_ID, **overrides: Any) -> dict[str, Any]:
    """A small grant shaped like seed 003: 9916 serves one area, 9917 serves two."""
    body: dict[str, Any] = {
        "grant_id": grant_id,
        "name": "Testsatsning 2022",
        "funder": "Staten via SKR",
        "decision": DECISION,
        "spend_period": {"from": "2022-01-01", "to": "2022-12-31"},
        "repayment_reference": "Överenskommelse Testsatsning 2022",
        "areas": [
            area_body("nara-vard", "1000000.00", "9916"),
            area_body("medarbetare", "800000.00", "9917"),
            area_body("vidareutbildning", "300000.00", "9917", ring_fenced=True),
        ],
        "reporting": [
            {"kind": "delredovisning", "due": "2022-09-30", "recipient": "Socialstyrelsen"}
        ],
    }
    body.update(overrides)
    return body


def area_body(
    code: str, awarded: str, cost_object: str, *, ring_fenced: bool = False
) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"Område {code}",
        "awarded": awarded,
        "cost_object": cost_object,
        "responsible": "Handläggare HOSPA",
        "ring_fenced": ring_fenced,
    }


def activity_body(code: str, area: str, amount: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "area": area,
        "name": f"Aktivitet {code}",
        "amount": amount,
        "responsible": "Beställarchef",
        "decision": DECISION,
        "new_activity": False,
        "exit_plan": None,
    }
    body.update(overrides)
    return body


# The activities of ``grant_body``: area → what is left unallocated once they are allocated.
ACTIVITIES: tuple[tuple[str, str, str], ...] = (
    ("lokalt-arbete", "nara-vard", "600000.00"),
    ("barnhalsovard", "nara-vard", "200000.00"),
    ("webbplatser", "medarbetare", "500000.00"),
    ("vardlots", "medarbetare", "100000.00"),
    ("vidareutbildning-ssk", "vidareutbildning", "300000.00"),
)

_line_ids = itertools.count(1)


def line(
    cost_object: str = "9916",
    amount: str | float = "1000.00",
    booked_on: str = "2022-03-15",
    *,
    activity: str | None = "lokalt-arbete",
    line_id: str | None = None,
    kind: str = "expense",
    **overrides: Any,
) -> dict[str, Any]:
    """One spend line as the ERP sends it."""
    lid = line_id or f"V2022-{os.getpid()}-{next(_line_ids):06d}"
    body: dict[str, Any] = {
        "line_id": lid,
        "voucher": lid.rsplit("-", 1)[0],
        "booked_on": booked_on,
        "amount": amount,
        "cost_object": cost_object,
        "activity": activity,
        "account": "4010",
        "kind": kind,
        "text": "Konsultarvode",
    }
    body.update(overrides)
    return body


def batch(*lines: dict[str, Any], source: str = "raindance") -> dict[str, Any]:
    return {"source": source, "lines": list(lines)}


def reversal_body(booked_on: str = "2022-04-05") -> dict[str, Any]:
    return {"reason": "felkontering", "booked_on": booked_on}


def reallocation_body(source: str, target: str, amount: str) -> dict[str, Any]:
    return {
        "from_activity": source,
        "to_activity": target,
        "amount": amount,
        "reason": "omfördelning enligt delegation",
        "decision": DECISION,
    }


def plan_bodies(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A plan file (``examples/*.yaml``) as the POST bodies a client would send for it:
    the grant registration, then one allocation per activity (on the grant's decision)."""
    plan = yaml.safe_load(path.read_text(encoding="utf-8"))

    def jsonable(value: Any) -> Any:  # YAML reads dates as dates; JSON wants strings
        if isinstance(value, dict):
            return {k: jsonable(v) for k, v in value.items()}
        if isinstance(value, list):
            return [jsonable(v) for v in value]
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    plan = jsonable(plan)
    grant = {k: v for k, v in plan.items() if k != "areas"}
    grant["areas"] = [{k: v for k, v in a.items() if k != "activities"} for a in plan["areas"]]
    allocations = [
        {
            "code": act["code"],
            "area": area["code"],
            "name": act["name"],
            "amount": act["amount"],
            "responsible": act["responsible"],
            "decision": act.get("decision", plan["decision"]),
            "new_activity": act.get("new_activity", False),
            "exit_plan": act.get("exit_plan"),
        }
        for area in plan["areas"]
        for act in area.get("activities", [])
    ]
    return grant, allocations


# --- the app in process -----------------------------------------------------------------------


def make_tokens(engine: Engine, prefix: str = "") -> dict[str, str]:
    registry = TokenRegistry(engine)
    return {role: registry.create(f"{prefix}{role}-token", role) for role in ROLES}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """A TestClient on one database, with a token for every role."""

    client: TestClient
    engine: Engine
    tokens: dict[str, str]
    url: str

    def headers(self, role: str | None, **extra: str) -> dict[str, str]:
        h = bearer(self.tokens[role]) if role else {}
        h.update(extra)
        return h

    def get(self, path: str, role: str | None = "reader", **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        answer: httpx.Response = self.client.get(path, headers=headers, **kwargs)
        return answer

    def post(
        self, path: str, body: Any = None, role: str | None = "admin", **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        answer: httpx.Response = self.client.post(path, headers=headers, **kwargs)
        return answer

    def ok(self, path: str, body: Any = None, role: str = "admin", **kwargs: Any) -> Any:
        """POST that must be accepted (201); the JSON answer."""
        answer = self.post(path, body, role, **kwargs)
        assert answer.status_code == 201, (path, answer.status_code, answer.text)
        return answer.json()

    def spend(self, *lines: dict[str, Any], source: str = "raindance") -> list[dict[str, Any]]:
        """Post a batch as the ERP; the per-line outcomes."""
        out: list[dict[str, Any]] = self.ok(
            "/v1/transactions", batch(*lines, source=source), "poster"
        )["lines"]
        return out

    def balances(self, grant_id: str = GRANT_ID, **params: Any) -> dict[str, Any]:
        answer = self.get("/v1/balances", params={"grant_id": grant_id, **params})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def area(self, code: str, grant_id: str = GRANT_ID, **params: Any) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {
            a["code"]: a for a in self.balances(grant_id, **params)["areas"]
        }
        return found[code]

    def activity(self, code: str, grant_id: str = GRANT_ID, **params: Any) -> dict[str, Any]:
        for a in self.balances(grant_id, **params)["areas"]:
            for x in a["activities"]:
                if x["code"] == code:
                    return dict(x)
        raise KeyError(code)

    def event_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def register_planned_grant(self, grant_id: str = GRANT_ID) -> None:
        self.ok("/v1/grants", grant_body(grant_id), "planner")
        for code, area, amount in ACTIVITIES:
            self.ok(
                f"/v1/grants/{grant_id}/activities", activity_body(code, area, amount), "planner"
            )


def assert_problem(
    answer: httpx.Response, status: int, code: str | None = None, **members: Any
) -> dict[str, Any]:
    """An RFC 9457 problem document with this status (and type, and members)."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith(PROBLEM_JSON), answer.headers
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"].startswith(TYPE_BASE)
    for member in ("title", "detail"):
        assert isinstance(body[member], str), body
        assert body[member], body
    if code is not None:
        assert body["type"] == TYPE_BASE + code, body
    for key, value in members.items():
        assert body.get(key) == value, (key, body)
    return body


ApiFactory = Callable[..., Api]


@dataclass(frozen=True)
class FreshDatabase:
    """An empty, migrated database with one token per role (``tokens``: role → secret)."""

    url: str
    tokens: dict[str, str]


def _migrated_with_tokens(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        return make_tokens(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _api_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> FreshDatabase:
    """A migrated SQLite file with the role tokens, copied for each test (no migration per test)."""
    with sqlite_database(tmp_path_factory.mktemp("api-template")) as url:
        return FreshDatabase(url, _migrated_with_tokens(url))


@pytest.fixture(scope="session")
def _api_postgres(_postgres_available: bool) -> Iterator[tuple[FreshDatabase, list[Any]] | None]:
    """One migrated PostgreSQL database per test process, emptied before each test that uses it.

    Creating and dropping a database per test costs PostgreSQL two checkpoints (~0.6 s), and
    migrating it again ~0.2 s; emptying the tables of one migrated database gives every test the
    same fresh ledger in milliseconds, so the suite runs every test on both backends in budget.
    """
    if not _postgres_available:
        yield None
        return
    with postgres_database("gl_api") as url:
        tokens = _migrated_with_tokens(url)
        with psycopg.connect(url) as conn:
            rows = conn.execute(f"SELECT * FROM {token_table.name}").fetchall()
        yield FreshDatabase(url, tokens), rows


def _empty_postgres(url: str, token_rows: list[Any]) -> None:
    """Every table but the schema version emptied, sequences restarted, the role tokens put back.

    DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE of a dozen tables costs more
    than a fresh database would.  The append-only trigger is bypassed the way only the superuser
    that owns a test database can (``session_replication_role``), for this transaction alone.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        sequences = [
            r[0]
            for r in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            )
        ]
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in tables:
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            for sequence in sequences:
                conn.execute(sql.SQL("ALTER SEQUENCE {} RESTART").format(sql.Identifier(sequence)))
            with conn.cursor() as cur:
                marks = ", ".join(["%s"] * len(token_rows[0]))
                cur.executemany(
                    f"INSERT INTO {token_table.name} VALUES ({marks})",
                    token_rows,
                )


@pytest.fixture
def api_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[FreshDatabase]:
    """A fresh, migrated database of each backend (conftest's ``backend`` parametrization)."""
    if backend == "sqlite":
        template: FreshDatabase = request.getfixturevalue("_api_sqlite_template")
        source = Path(template.url.removeprefix("sqlite:///"))
        target = tmp_path / "ledger.db"
        for suffix in ("", "-wal"):  # the write-ahead log too, should one be left
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
        yield FreshDatabase(f"sqlite:///{target}", template.tokens)
        return
    fresh, token_rows = request.getfixturevalue("_api_postgres")
    _empty_postgres(fresh.url, token_rows)
    yield fresh


@pytest.fixture
def api_factory(api_database: FreshDatabase) -> Iterator[ApiFactory]:
    """Build the app on this test's database with the given ``Settings`` overrides."""
    url = api_database.url
    engine = create_engine(url)
    clients: list[TestClient] = []

    def build(**settings: Any) -> Api:
        app = create_app(Settings(database_url=url, **settings))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return Api(client, engine, dict(api_database.tokens), url)

    yield build
    for client in clients:
        client.__exit__(None, None, None)
    engine.dispose()


@pytest.fixture
def api(api_factory: ApiFactory) -> Api:
    """The app on a fresh database of each backend, with one token per role."""
    return api_factory()


@pytest.fixture
def planned(api: Api) -> Api:
    """``api`` with the grant of ``grant_body`` registered and its ``ACTIVITIES`` allocated.

    Loaded as a plan file is (one transaction, by the planner, from the same request bodies):
    the tests are about what comes after, and one commit is much faster than six.
    """
    commands: list[Command] = [GrantBody.model_validate(grant_body()).to_command()]
    commands += [
        ActivityBody.model_validate(activity_body(code, area, amount)).to_command(GRANT_ID)
        for code, area, amount in ACTIVITIES
    ]
    LedgerService(api.engine).execute_all(commands, Actor("planner-token", "planner"))
    return api


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest,
    _postgres_available: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """One database per backend shared by a module's tests (for read-mostly matrices)."""
    if request.param == "postgresql" and not _postgres_available:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def shared_api(module_database_url: str) -> Iterator[Api]:
    engine = create_engine(module_database_url)
    migrate.upgrade(engine)
    tokens = make_tokens(engine)
    app = create_app(Settings(database_url=module_database_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, engine, tokens, module_database_url)
    engine.dispose()


# --- a real server process --------------------------------------------------------------------


@dataclass
class LiveServer:
    base_url: str
    tokens: dict[str, str]
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"grantledger serve exited with {process.returncode}: {output}")
        try:
            answer = httpx.get(f"{base_url}/readyz", timeout=1.0, trust_env=False)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text}"
        except httpx.TransportError as e:
            last = repr(e)
        time.sleep(0.05)
    raise RuntimeError(f"grantledger serve at {base_url} not ready after {timeout}s: {last}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def live_server(api_database: FreshDatabase, tmp_path: Path) -> Iterator[LiveServer]:
    """``grantledger serve`` in its own process on a free loopback port, ready to answer."""
    database_url = api_database.url
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANTLEDGER_")}
    env["GRANTLEDGER_LOG_LEVEL"] = "warning"
    process: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(3):  # a free port can be taken between probing and binding
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            log = tmp_path / f"serve-{attempt}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        str(GRANTLEDGER),
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--database-url",
                        database_url,
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                _wait_ready(base_url, process, log, timeout=30)
                break
            except RuntimeError:
                _stop(process)
                if attempt == 2:
                    raise
        assert process is not None
        yield LiveServer(base_url, dict(api_database.tokens), process)
    finally:
        if process is not None:
            _stop(process)
