"""Tampering (issue 6 §4): a superuser edits, deletes or inserts event rows behind the API's back.

The database refuses UPDATE and DELETE of ``events`` through its triggers, but a superuser can
switch them off.  Whatever they then do, ``grantledger verify`` (exit 1, naming the position)
and ``GET /v1/audit/verify`` (``first_bad_position``) find the first position where the chain
no longer holds, on both databases:

- an edited row breaks at its own position (its hash no longer matches its content);
- an edited row whose own hash was recomputed breaks at the next position (the link);
- a deleted row shows as the missing position (positions are gap-free by construction);
- a row inserted in the middle (later rows shifted up) breaks at the row after it;
- a row added at the end with a made-up hash breaks at its own position.

A row appended with a correctly computed hash extends the chain like a real event: the chain
cannot tell (the hash is unkeyed), but the projections never saw it, so ``replay`` differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.settings import Settings
from ledger.domain import commands as cmd
from ledger.store.chain import event_hash, format_recorded_at, hashed_body
from ledger.store.schema import events
from tests.support.ledger import Ledger, kr, line
from tests.support.servers import cli, make_tokens

TARGET = 5


@dataclass
class World:
    url: str
    engine: Engine
    count: int
    auditor: str


@pytest.fixture
def world(database_url: str, engine: Engine) -> World:
    ledger = Ledger(engine)
    ledger.register(
        "tamper-2022",
        [cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "8816", "HOSPA")],
    )
    ledger.allocate("tamper-2022", "lokalt", "nara", kr(500_000))
    ledger.allocate("tamper-2022", "plan", "nara", kr(100_000))
    for month in range(1, 8):
        ledger.spend(line("8816", kr(1000 * month), date(2022, month, 15), activity="lokalt"))
    tokens = make_tokens(database_url, "tamper")
    return World(database_url, engine, ledger.event_count(), tokens["auditor"])


def _guard_off(conn: sa.Connection) -> None:
    """What only a superuser (or the file's owner) can do: switch the append-only guard off."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE events DISABLE TRIGGER USER"))
    else:
        conn.execute(sa.text("DROP TRIGGER events_no_update"))
        conn.execute(sa.text("DROP TRIGGER events_no_delete"))


def _guard_on(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE events ENABLE TRIGGER USER"))


def _row(conn: sa.Connection, position: int) -> dict[str, Any]:
    return dict(
        conn.execute(sa.select(events).where(events.c.position == position)).mappings().one()
    )


def _rehash(row: dict[str, Any]) -> str:
    recorded = row["recorded_at"]
    if isinstance(recorded, str):
        from datetime import datetime

        recorded = datetime.fromisoformat(recorded)
    body = hashed_body(
        position=row["position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        data=row["data"],
        meta=row["meta"],
        effective_date=row["effective_date"],
        recorded_at=format_recorded_at(recorded),
    )
    return event_hash(row["prev_hash"], body)


def edit(conn: sa.Connection, w: World) -> None:
    conn.execute(
        events.update()
        .where(events.c.position == TARGET)
        .values(meta={"actor": "mallory", "role": "admin"})
    )


def edit_rehashed(conn: sa.Connection, w: World) -> None:
    row = _row(conn, TARGET)
    row["data"] = {**row["data"], "amount": row["data"].get("amount", 0) + 1}
    conn.execute(
        events.update()
        .where(events.c.position == TARGET)
        .values(data=row["data"], hash=_rehash(row))
    )


def delete(conn: sa.Connection, w: World) -> None:
    conn.execute(events.delete().where(events.c.position == TARGET))


def insert_middle(conn: sa.Connection, w: World) -> None:
    """Shift the rows from TARGET up by one and put a well-formed forgery in the hole."""
    before = _row(conn, TARGET - 1)
    forged = _row(conn, TARGET)
    conn.execute(
        events.update().where(events.c.position >= TARGET).values(position=-events.c.position)
    )
    conn.execute(
        events.update().where(events.c.position < 0).values(position=1 - events.c.position)
    )
    forged.update(
        position=TARGET, stream_id="grant-forged", stream_version=1, prev_hash=before["hash"]
    )
    forged["hash"] = _rehash(forged)
    conn.execute(events.insert(), [forged])


def insert_end_made_up_hash(conn: sa.Connection, w: World) -> None:
    last = _row(conn, w.count)
    conn.execute(
        events.insert(),
        [
            dict(
                last,
                position=w.count + 1,
                stream_version=last["stream_version"] + 1,
                prev_hash=last["hash"],
                hash="f" * 64,
            )
        ],
    )


Tampering = Callable[[sa.Connection, World], None]

TAMPERINGS: dict[str, tuple[Tampering, Callable[[World], int], str]] = {
    # name: (what the superuser does, the position verify must name, words in the reason)
    "edit": (edit, lambda w: TARGET, "altered"),
    "edit-with-own-hash-recomputed": (edit_rehashed, lambda w: TARGET + 1, "link"),
    "delete": (delete, lambda w: TARGET, "deleted"),
    "insert-in-the-middle": (insert_middle, lambda w: TARGET + 1, "link"),
    "insert-at-the-end-made-up-hash": (insert_end_made_up_hash, lambda w: w.count + 1, "altered"),
}


@pytest.fixture
def auditor_client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=world.url))) as client:
        client.headers["Authorization"] = f"Bearer {world.auditor}"
        yield client


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_verify_names_the_position_a_superusers_tampering_broke(
    world: World, auditor_client: TestClient, name: str
) -> None:
    tamper, expected, words = TAMPERINGS[name]
    assert auditor_client.get("/v1/audit/verify").json()["ok"]
    with world.engine.begin() as conn:
        _guard_off(conn)
        tamper(conn, world)
        _guard_on(conn)
    position = expected(world)

    answer = auditor_client.get("/v1/audit/verify")
    assert answer.status_code == 200
    verified = answer.json()
    assert verified["ok"] is False
    assert verified["first_bad_position"] == position, verified
    assert words in verified["reason"], verified

    run = cli("verify", database_url=world.url)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"chain broken at position {position}" in " ".join(run.stderr.split())


def test_a_forged_event_with_a_valid_hash_is_caught_by_replay(
    world: World, auditor_client: TestClient
) -> None:
    """Someone who recomputes the hash extends the chain; the projections expose the forgery."""
    with world.engine.begin() as conn:
        last = _row(conn, world.count)
        forged = dict(
            last,
            position=world.count + 1,
            stream_version=last["stream_version"] + 1,
            prev_hash=last["hash"],
        )
        forged["data"] = {**forged["data"], "line_id": "forged", "transaction_id": "forged-1"}
        forged["hash"] = _rehash(forged)
        conn.execute(events.insert(), [forged])  # INSERT needs no guard switched off
    assert auditor_client.get("/v1/audit/verify").json()["ok"] is True
    run = cli("replay", database_url=world.url)
    assert run.returncode == 1, run.stdout
    assert "identical" not in run.stdout
    assert "spend_lines" in run.stderr
