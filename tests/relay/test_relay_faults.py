"""The relay under faults (issue 15), as real processes: the relay SIGKILLed in the middle of a
load of posts and started again, and the broker stopped and started again mid-run.  Either way
the stream ends up holding each position exactly once, in order, with no gap, equal to the
events table; while NATS is down the ledger keeps taking posts and the relay's /metrics shows
the lag growing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.settings import Settings
from ledger.domain import commands as cmd
from ledger.store.schema import events
from tests.support.ledger import Ledger, kr, line
from tests.support.nats import Names, PrivateNats, RelayProcess, stream_messages, wait_until
from tests.support.servers import free_port, make_tokens


@dataclass
class Load:
    """Spend batches posted from a thread, as the ERP would, until ``batches`` are in."""

    ledger: Ledger
    batches: int
    lines: int = 8
    done: int = 0
    errors: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for b in range(self.batches):
                self.ledger.spend(
                    *(line("8816", kr(1 + i), date(2022, 5, 1 + i % 28), activity="lokalt")
                      for i in range(self.lines))
                )  # fmt: skip
                self.done = b + 1
                time.sleep(0.03)
        except BaseException as e:  # reported by join()
            self.errors.append(e)

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(timeout=300)
        assert not self.errors, self.errors


def grant(engine: Engine) -> Ledger:
    ledger = Ledger(engine)
    ledger.register("load-2022", [cmd.AreaSpec("nara", "Nära vård", kr(10**8), "8816", "HOSPA")])
    ledger.allocate("load-2022", "lokalt", "nara", kr(10**7))
    return ledger


def post_over_http(database_url: str) -> httpx.Response:
    poster = make_tokens(database_url, "faults")["poster"]
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        return client.post(
            "/v1/transactions",
            headers={"Authorization": f"Bearer {poster}", "Idempotency-Key": "while-nats-is-down"},
            json={
                "source": "erp",
                "lines": [{"line_id": "HTTP-1", "booked_on": "2022-06-01", "amount": "1.00",
                           "cost_object": "8816", "activity": "lokalt", "kind": "expense"}],
            },
        )  # fmt: skip


def published(relay: RelayProcess) -> int:
    return int(relay.metrics().get("grantledger_relay_published_position", 0))


def assert_stream_equals_events_table(engine: Engine, url: str, names: Names) -> None:
    with engine.connect() as conn:
        table = [
            tuple(r)
            for r in conn.execute(
                sa.select(events.c.position, events.c.hash).order_by(events.c.position)
            )
        ]
    got = [(m.position, m.headers["Grantledger-Hash"]) for m in stream_messages(url, names)]
    assert len(got) == len(set(got)), "a position is in the stream twice"
    assert got == table  # each position once, in order, no gap, the same hashes


def test_a_relay_killed_mid_load_and_restarted_leaves_each_position_once(
    database_url: str, engine: Engine, nats_url: str, names: Names, tmp_path: Path,
    relay_factory: list[RelayProcess],
) -> None:  # fmt: skip
    ledger = grant(engine)
    relay = RelayProcess(database_url, names.env(nats_url), tmp_path / "relay.log")
    relay_factory.append(relay)
    relay.start()
    wait_until(relay.metrics, 60, "the relay's /metrics")
    load = Load(ledger, batches=60)
    load.start()
    wait_until(lambda: published(relay) >= 60, 60, "the relay to publish 60 events")
    relay.kill()  # SIGKILL: mid-batch, acks in flight
    assert load.done < load.batches, "the kill came in the middle of the load"
    relay.start()
    load.join()
    head = ledger.event_count()
    wait_until(lambda: published(relay) == head, 60, f"the restarted relay to reach {head}")
    assert relay.metrics().get("grantledger_relay_lag_events") == 0
    assert relay.terminate() == 0  # SIGTERM: a clean stop
    assert "relay stopped at position" in relay.log_text()
    assert_stream_equals_events_table(engine, nats_url, names)


def test_nats_stopped_and_started_mid_run_leaves_each_position_once(
    database_url: str, engine: Engine, tmp_path: Path, relay_factory: list[RelayProcess]
) -> None:
    broker = PrivateNats(tmp_path / "nats-store", tmp_path / "nats.log")
    broker.start()
    try:
        names = Names.fresh()
        ledger = grant(engine)
        relay = RelayProcess(database_url, names.env(broker.url), tmp_path / "relay.log")
        relay_factory.append(relay)
        relay.start()
        wait_until(relay.metrics, 60, "the relay's /metrics")
        load = Load(ledger, batches=60)
        load.start()
        wait_until(lambda: published(relay) >= 40, 60, "the relay to publish 40 events")
        broker.stop()
        down_at = ledger.event_count()
        wait_until(
            lambda: relay.metrics().get("grantledger_relay_connected") == 0, 30, "disconnect"
        )
        wait_until(lambda: ledger.event_count() > down_at + 16, 60, "posts while NATS is down")
        lag = wait_until(lambda: relay.metrics().get("grantledger_relay_lag_events"), 30, "lag > 0")
        assert lag > 0  # the ledger keeps writing; the relay shows how far behind it is
        assert post_over_http(database_url).status_code == 201  # the API never needs NATS
        broker.start()
        load.join()
        head = ledger.event_count()
        wait_until(lambda: published(relay) == head, 60, f"the relay to reach {head} again")
        assert relay.terminate() == 0
        assert_stream_equals_events_table(engine, broker.url, names)
    finally:
        broker.stop()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_without_nats_the_relay_retries_shows_its_lag_and_stops_at_once_on_sigterm(
    database_url: str, engine: Engine, tmp_path: Path, relay_factory: list[RelayProcess]
) -> None:
    ledger = grant(engine)
    nowhere = Names.fresh().env(f"nats://127.0.0.1:{free_port()}")  # nothing listens there
    relay = RelayProcess(database_url, nowhere, tmp_path / "relay.log")
    relay_factory.append(relay)
    relay.start()
    wait_until(
        lambda: relay.metrics().get("grantledger_relay_lag_events") == ledger.event_count(),
        60,
        "the lag to show every event",
    )
    assert relay.metrics()["grantledger_relay_connected"] == 0
    wait_until(
        lambda: relay.metrics().get('grantledger_relay_failures_total{kind="NoServersError"}'),
        30,
        "a failed attempt counted",
    )
    started = time.monotonic()
    assert relay.terminate(timeout=15) == 0
    assert time.monotonic() - started < 10
    assert "relay stopped at position 0" in relay.log_text()
