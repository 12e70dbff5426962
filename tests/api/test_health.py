"""Liveness and readiness (issue 2 §4, §6): /readyz is 503 until the schema is at head."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger import migrate
from ledger.db import create_engine


def test_readyz_is_503_before_migrations_and_200_after(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        before = client.get("/readyz")
        assert before.status_code == 503
        assert "not at head" in before.json()["reason"]
        engine = create_engine(database_url)
        migrate.upgrade(engine)
        engine.dispose()
        assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/nothing"))
    with TestClient(app) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "unreachable" in answer.json()["reason"]
    # an error answer like every other: a problem document, as the spec says (issue 12)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == 503
