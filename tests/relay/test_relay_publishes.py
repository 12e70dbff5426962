"""The relay (issue 15): every committed event arrives once, in position order, with its headers,
its body exactly what ``GET /v1/events`` shows; a restarted relay resumes after the last position
the stream holds; signed checkpoints go out on ``<subject>.checkpoints``.  Real NATS, both
databases.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.cli.relay import public_json
from api.settings import Settings
from ledger.domain import commands as cmd
from ledger.relay.broker import StreamMismatch
from ledger.relay.config import RelaySettings
from ledger.relay.relay import Relay
from ledger.store import checkpoint as checkpoints
from ledger.store.keys import create_key_pair, load_private_key, load_public_key
from ledger.store.schema import events
from tests.reliability.test_tampering import _rehash, _row
from tests.support.ledger import Ledger, kr, line
from tests.support.nats import Names, stream_messages
from tests.support.servers import make_tokens


def small_ledger(engine: Engine, spends: int = 6) -> Ledger:
    ledger = Ledger(engine)
    ledger.register(
        "relay-2022", [cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "8816", "HOSPA")]
    )
    ledger.allocate("relay-2022", "lokalt", "nara", kr(500_000))
    for i in range(spends):
        ledger.spend(line("8816", kr(1000 + i), date(2022, 3, 1 + i), activity="lokalt"))
    return ledger


def relay_settings(url: str, names: Names, database_url: str, **more: object) -> RelaySettings:
    return RelaySettings(
        database_url=database_url,
        nats_url=url,
        nats_stream=names.stream,
        nats_subject=names.subject,
        relay_metrics_port=0,
        relay_poll_seconds=0.05,
        **more,  # type: ignore[arg-type]
    )


def run_until_caught_up(relay: Relay, head: int, timeout: float = 30) -> None:
    async def go() -> None:
        task = asyncio.create_task(relay.run())
        deadline = asyncio.get_running_loop().time() + timeout
        while relay.metrics.published_position < head:
            assert not task.done(), task.exception()
            assert asyncio.get_running_loop().time() < deadline, "relay did not catch up"
            await asyncio.sleep(0.05)
        relay.stop.set()
        await asyncio.wait_for(task, 15)

    relay.stop = asyncio.Event()
    asyncio.run(go())


def test_every_event_arrives_once_in_order_with_headers_and_the_api_body(
    database_url: str, engine: Engine, nats_url: str, names: Names
) -> None:
    ledger = small_ledger(engine)
    stored = ledger.events()
    relay = Relay(relay_settings(nats_url, names, database_url), engine, public_json)
    run_until_caught_up(relay, stored[-1].position)

    got = stream_messages(nats_url, names)
    assert (
        [m.position for m in got] == [e.position for e in stored] == list(range(1, len(stored) + 1))
    )
    auditor = make_tokens(database_url, "relay")["auditor"]
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        page = client.get(
            "/v1/events", params={"limit": 1000}, headers={"Authorization": f"Bearer {auditor}"}
        )
    shown = page.json()["events"]
    for m, e, api_event in zip(got, stored, shown, strict=True):
        assert m.subject == f"{names.subject}.events.{e.stream_id}"
        assert m.headers["Nats-Msg-Id"] == str(e.position)
        assert m.headers["Grantledger-Position"] == str(e.position)
        assert m.headers["Grantledger-Type"] == e.event_type
        assert m.headers["Grantledger-Hash"] == e.hash
        # Byte for byte what the API sends (Starlette's compact, non-ASCII-escaping JSON).
        assert m.data == json.dumps(api_event, ensure_ascii=False, separators=(",", ":")).encode()
    assert relay.metrics.registry.get_sample_value("grantledger_relay_lag_events") == 0


def test_a_restarted_relay_resumes_after_the_streams_last_position(
    database_url: str, engine: Engine, nats_url: str, names: Names
) -> None:
    ledger = small_ledger(engine, spends=3)
    settings = relay_settings(nats_url, names, database_url)
    run_until_caught_up(Relay(settings, engine, public_json), ledger.event_count())
    ledger.spend(line("8816", kr(77), date(2022, 4, 1), activity="lokalt"))
    ledger.spend(line("8816", kr(78), date(2022, 4, 2), activity="lokalt"))
    run_until_caught_up(Relay(settings, engine, public_json), ledger.event_count())

    got = stream_messages(nats_url, names)
    assert [m.position for m in got] == list(range(1, ledger.event_count() + 1))
    assert [m.seq for m in got] == list(range(1, ledger.event_count() + 1))


def test_the_relay_signs_a_checkpoint_every_n_events_and_publishes_it(
    database_url: str, engine: Engine, nats_url: str, names: Names, tmp_path: Path
) -> None:
    create_key_pair(tmp_path / "relay.key", tmp_path / "relay.pub")
    ledger = small_ledger(engine, spends=10)
    settings = relay_settings(
        nats_url, names, database_url, checkpoint_every_events=4, relay_batch=4
    )
    key = load_private_key(tmp_path / "relay.key")
    run_until_caught_up(Relay(settings, engine, public_json, key), ledger.event_count())

    got = stream_messages(nats_url, names)
    marks = [m for m in got if m.subject == f"{names.subject}.checkpoints"]
    assert ledger.event_count() == 12
    assert [int(m.headers["Grantledger-Position"]) for m in marks] == [4, 8, 12]
    events = [m for m in got if m not in marks]
    assert [m.position for m in events] == list(range(1, ledger.event_count() + 1))
    public = load_public_key(tmp_path / "relay.pub")
    for m in marks:
        signed = checkpoints.SignedCheckpoint.parse(m.data)
        assert m.headers["Grantledger-Hash"] == signed.checkpoint.hash
        assert checkpoints.verify(engine, signed, public).ok


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_stream_that_another_ledger_wrote_stops_the_relay_naming_it(
    database_url: str, engine: Engine, nats_url: str, names: Names, tmp_path: Path
) -> None:
    """Rule: the relay never publishes onto a stream whose last event is not in this ledger."""
    ledger = small_ledger(engine, spends=2)
    settings = relay_settings(nats_url, names, database_url)
    run_until_caught_up(Relay(settings, engine, public_json), ledger.event_count())

    other = Ledger(_fresh_engine(tmp_path))
    other.register("other", [cmd.AreaSpec("x", "X", kr(1), "1", "R")])
    relay = Relay(relay_settings(nats_url, names, str(other.engine.url)), other.engine, public_json)
    with pytest.raises(StreamMismatch, match="the stream holds position 4, the ledger has no"):
        asyncio.run(relay.run())


def _fresh_engine(tmp_path: Path) -> Engine:
    from ledger import migrate
    from ledger.db import create_engine

    eng = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    migrate.upgrade(eng)
    return eng


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_chain_rewritten_after_publishing_stops_the_relay_naming_the_position(
    database_url: str, engine: Engine, nats_url: str, names: Names
) -> None:
    """Rule: what consumers already hold is never contradicted; a rewrite is an alarm."""
    ledger = small_ledger(engine, spends=2)
    settings = relay_settings(nats_url, names, database_url)
    run_until_caught_up(Relay(settings, engine, public_json), ledger.event_count())
    last = ledger.event_count()
    with engine.begin() as conn:  # a superuser edits the last event and recomputes its hash
        conn.execute(sa.text("DROP TRIGGER events_no_update"))
        row = _row(conn, last)
        row["data"] = {**row["data"], "amount": row["data"]["amount"] + 1}
        conn.execute(
            events.update()
            .where(events.c.position == last)
            .values(data=row["data"], hash=_rehash(row))
        )
    with pytest.raises(
        StreamMismatch, match=f"position {last} has hash .* the chain was rewritten"
    ):
        asyncio.run(Relay(settings, engine, public_json).run())
