"""Signed checkpoints (issue 15): what a superuser's rewrite cannot match.

With the append-only trigger switched off, a superuser can edit an event and recompute every
later hash, or delete the last events: plain ``verify`` calls both chains valid.  A checkpoint
signed before (Ed25519, the key only in a file) catches both: ``verify --checkpoint`` exits 1
and ``POST /v1/audit/checkpoints/verify`` answers ``ok: false``, naming the position.  Both
databases (PostgreSQL: ``DISABLE TRIGGER``; SQLite: the triggers dropped and made again).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as grantledger
from api.settings import Settings, get_settings
from ledger.domain import commands as cmd
from ledger.errors import LedgerError
from ledger.store.schema import events
from tests.reliability.test_tampering import _rehash, _row
from tests.support.ledger import Ledger, kr, line
from tests.support.servers import make_tokens

TARGET = 4


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, database_url: str | None = None) -> Ran:
    """``grantledger ARGS`` in this process (the subprocess form costs seconds a call), with
    ``main()``'s rule: a LedgerError is exit 2 with its detail on stderr."""
    full = [*args, *(["--database-url", database_url] if database_url else [])]
    before = os.environ.get("GRANTLEDGER_DATABASE_URL")
    try:
        result = CliRunner().invoke(grantledger, full, catch_exceptions=True)
    finally:  # --database-url sets the variable for the process: leave none behind
        if before is None:
            os.environ.pop("GRANTLEDGER_DATABASE_URL", None)
        else:
            os.environ["GRANTLEDGER_DATABASE_URL"] = before
        get_settings.cache_clear()
    if isinstance(result.exception, LedgerError):
        return Ran(2, result.stdout, result.stderr + result.exception.detail)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


@dataclass
class Signed:
    url: str
    engine: Engine
    count: int
    checkpoint: Path
    public_key: Path
    private_key: Path
    auditor: str


@pytest.fixture
def signed(database_url: str, engine: Engine, tmp_path: Path) -> Signed:
    ledger = Ledger(engine)
    ledger.register("sign-2022", [cmd.AreaSpec("nara", "Nära vård", kr(100_000), "8816", "HOSPA")])
    ledger.allocate("sign-2022", "lokalt", "nara", kr(50_000))
    for month in range(1, 7):
        ledger.spend(line("8816", kr(100 * month), date(2022, month, 10), activity="lokalt"))
    private, public, mark = tmp_path / "audit.key", tmp_path / "audit.pub", tmp_path / "cp.json"
    made = cli("keys", "create", "--private-key", str(private), "--public-key", str(public))
    assert made.returncode == 0, made.stderr
    run = cli("checkpoint", "--private-key", str(private), "--output", str(mark),
              database_url=database_url)  # fmt: skip
    assert run.returncode == 0, run.stderr
    auditor = make_tokens(database_url, "sign")["auditor"]
    return Signed(database_url, engine, ledger.event_count(), mark, public, private, auditor)


@pytest.fixture
def client(signed: Signed) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=signed.url))) as c:
        c.headers["Authorization"] = f"Bearer {signed.auditor}"
        yield c


def _api_verdict(client: TestClient, s: Signed) -> dict[str, Any]:
    answer = client.post(
        "/v1/audit/checkpoints/verify",
        json={
            "checkpoint": json.loads(s.checkpoint.read_text()),
            "public_key": s.public_key.read_text(),
        },
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _verify_checkpoint(s: Signed) -> Any:
    return cli("verify", "--checkpoint", str(s.checkpoint), "--public-key", str(s.public_key),
               database_url=s.url)  # fmt: skip


def _guard_off(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE events DISABLE TRIGGER USER"))
    else:
        conn.execute(sa.text("DROP TRIGGER events_no_update"))
        conn.execute(sa.text("DROP TRIGGER events_no_delete"))


def _guard_on(conn: sa.Connection, sqlite_triggers: list[str]) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE events ENABLE TRIGGER USER"))
    else:
        for ddl in sqlite_triggers:
            conn.execute(sa.text(ddl))


def _sqlite_triggers(conn: sa.Connection) -> list[str]:
    if conn.dialect.name != "sqlite":
        return []
    rows = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")
    )
    return [r[0] for r in rows]


def rewrite_and_rehash(conn: sa.Connection, s: Signed) -> None:
    """Add 1 öre to one event and recompute its hash and every later one: a valid chain."""
    row = _row(conn, TARGET)
    row["data"] = {**row["data"], "amount": row["data"].get("amount", 0) + 1}
    prev = row["prev_hash"]
    for position in range(TARGET, s.count + 1):
        current = row if position == TARGET else _row(conn, position)
        current["prev_hash"] = prev
        current["hash"] = _rehash(current)
        conn.execute(
            events.update()
            .where(events.c.position == position)
            .values(data=current["data"], prev_hash=prev, hash=current["hash"])
        )
        prev = current["hash"]


def delete_last_two(conn: sa.Connection, s: Signed) -> None:
    conn.execute(events.delete().where(events.c.position > s.count - 2))


TAMPERINGS: dict[str, tuple[Callable[[sa.Connection, Signed], None], Callable[[Signed], int]]] = {
    # name: (what the superuser does, the position the checkpoint check names)
    "edited-and-rehashed": (rewrite_and_rehash, lambda s: s.count),
    "last-events-deleted": (delete_last_two, lambda s: s.count - 1),
}


def test_a_checkpoint_of_an_untouched_chain_holds_on_the_cli_and_the_api(
    signed: Signed, client: TestClient
) -> None:
    run = _verify_checkpoint(signed)
    assert run.returncode == 0, run.stderr
    assert f"checkpoint holds: position {signed.count}" in run.stdout
    assert _api_verdict(client, signed) == {
        "ok": True, "position": signed.count, "checked": signed.count, "reason": None,
    }  # fmt: skip
    body = json.loads(signed.checkpoint.read_text())["checkpoint"]
    assert sorted(body) == ["event_count", "hash", "position", "recorded_at"]
    assert body["event_count"] == body["position"] == signed.count


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_a_superusers_rewrite_passes_plain_verify_but_fails_the_checkpoint(
    signed: Signed, client: TestClient, name: str
) -> None:
    tamper, named = TAMPERINGS[name]
    with signed.engine.begin() as conn:
        triggers = _sqlite_triggers(conn)
        _guard_off(conn)
        tamper(conn, signed)
        _guard_on(conn, triggers)

    plain = cli("verify", database_url=signed.url)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "chain valid" in plain.stdout
    assert client.get("/v1/audit/verify").json()["ok"] is True

    run = _verify_checkpoint(signed)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"checkpoint fails at position {named(signed)}" in " ".join(run.stderr.split())
    verdict = _api_verdict(client, signed)
    assert verdict["ok"] is False
    assert verdict["position"] == named(signed), verdict


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_checkpoint_with_an_altered_hash_or_another_key_fails(
    signed: Signed, client: TestClient, tmp_path: Path
) -> None:
    doc = json.loads(signed.checkpoint.read_text())
    doc["checkpoint"]["hash"] = "0" * 64
    signed.checkpoint.write_text(json.dumps(doc))
    run = _verify_checkpoint(signed)
    assert run.returncode == 1
    assert "the signature does not hold" in run.stderr
    assert _api_verdict(client, signed)["reason"].endswith("the signature does not hold")

    other = tmp_path / "other"
    other.mkdir()
    cli("keys", "create", "--private-key", str(other / "k"), "--public-key", str(other / "p"))
    signed.public_key = other / "p"
    run = _verify_checkpoint(signed)
    assert run.returncode == 1
    assert "not by the given" in run.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_keys_are_private_files_and_never_overwritten(signed: Signed) -> None:
    assert stat.S_IMODE(signed.private_key.stat().st_mode) == 0o600
    again = cli("keys", "create", "--private-key", str(signed.private_key),
                "--public-key", str(signed.public_key))  # fmt: skip
    assert again.returncode == 2
    assert "refusing to overwrite" in again.stderr
    signed.private_key.chmod(0o644)
    run = cli("checkpoint", "--private-key", str(signed.private_key), "--output", "/dev/null",
              database_url=signed.url)  # fmt: skip
    assert run.returncode == 2
    assert "accessible by others" in run.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_malformed_checkpoint_is_refused_naming_what_is_wrong(
    signed: Signed, client: TestClient
) -> None:
    signed.checkpoint.write_text('{"checkpoint": {"position": "seven"}}')
    run = _verify_checkpoint(signed)
    assert run.returncode == 2
    assert "not a signed checkpoint" in run.stderr
    answer = client.post(
        "/v1/audit/checkpoints/verify",
        json={"checkpoint": {"checkpoint": {"position": 1}}, "public_key": "nope"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    signed.checkpoint.write_text("{}")
    answer = client.post(
        "/v1/audit/checkpoints/verify",
        json={
            "checkpoint": {
                "checkpoint": {"position": 1, "hash": "a" * 64, "recorded_at": "x",
                               "event_count": 1},
                "key_id": "0" * 16,
                "signature": "AA==",
            },
            "public_key": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n",
        },
    )  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/bad-key")
    assert "public_key is not a PEM public key" in answer.json()["detail"]
