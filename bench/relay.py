"""The relay at size (issue 15): 100 000 events to JetStream across a relay kill and a broker
restart, then compared with the events table; events/s and lag.

    .venv/bin/python -m bench.relay [--events 100000] [--output bench/relay-results.json]

1. A fresh PostgreSQL database gets a grant and ``--events`` spend lines through the service's
   batch path (``PostSpend`` of 2 000 lines: one event per line).
2. ``clean``: a real ``grantledger relay`` process drains the whole ledger into its own stream on
   a private ``nats-server`` (own port and store, in a temporary directory): events/s.
3. ``faults``: a second relay drains the same ledger into a second stream; at a third of the way
   it is SIGKILLed and started again, at two thirds the broker is stopped (SIGTERM), left down
   for 3 s and started again.  Events/s over the whole drain, faults included.
4. Both streams are read back whole: each position exactly once, in order, the event's hash, equal
   to the events table.
5. ``live``: with the relay caught up, 20 000 more events are posted in batches of 500 while the
   relay runs; its ``grantledger_relay_lag_events`` is sampled every 0.1 s: lag p50/max.

Everything talks to 127.0.0.1 only; the shared NATS at 4222 is never touched.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import migrate
from ledger.db import create_engine
from ledger.domain import commands as cmd
from ledger.service import Actor, LedgerService, PostSpend, SpendLine
from ledger.store.schema import events
from tests.support.databases import postgres_database
from tests.support.nats import Names, PrivateNats, RelayProcess, stream_messages, wait_until

PLANNER, ERP = Actor("bench-planner", "planner"), Actor("bench-erp", "poster")
BATCH = 2000
_decision = cmd.Decision("RS/bench/2022", date(2022, 1, 1), "Regionstyrelsen")


def build(engine: Engine, count: int, tag: str) -> None:
    service = LedgerService(engine)
    if tag == "a":
        service.execute(
            cmd.RegisterGrant(
                grant_id="bench", name="bench", funder="Staten", decision=_decision,
                spend_from=date(2022, 1, 1), spend_to=date(2022, 12, 31),
                areas=(cmd.AreaSpec("nara", "Nära vård", 10**13, "8816", "HOSPA"),),
                reporting=(), repayment_reference=None,
            ),
            PLANNER,
        )  # fmt: skip
        service.execute(
            cmd.AllocateActivity(
                grant_id="bench", code="lokalt", area="nara", name="lokalt", amount=10**12,
                responsible="HOSPA", decision=_decision, new_activity=False, exit_plan=None,
            ),
            PLANNER,
        )  # fmt: skip
    for b in range(0, count, BATCH):
        lines = tuple(
            SpendLine(
                line_id=f"{tag}{b + i}", voucher=f"V{tag}{b + i}",
                booked_on=date(2022, 3, 1 + i % 28), amount=100 + i, cost_object="8816",
                activity="lokalt", account="4010", kind="expense", text=None,
            )
            for i in range(min(BATCH, count - b))
        )  # fmt: skip
        service.execute(PostSpend("raindance", lines), ERP)


def head(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(events.c.position))).scalar() or 0)


def published(relay: RelayProcess) -> int:
    return int(relay.metrics().get("grantledger_relay_published_position", 0))


def check_stream(engine: Engine, url: str, names: Names) -> dict[str, Any]:
    with engine.connect() as conn:
        table = [
            (int(p), h)
            for p, h in conn.execute(
                sa.select(events.c.position, events.c.hash).order_by(events.c.position)
            )
        ]
    got = [(m.position, m.headers["Grantledger-Hash"]) for m in stream_messages(url, names)]
    positions = [p for p, _ in got]
    return {
        "messages": len(got),
        "events_table": len(table),
        "duplicates": len(positions) - len(set(positions)),
        "gaps": len(set(range(1, len(table) + 1)) - set(positions)),
        "in_order": positions == sorted(positions),
        "equal_to_events_table": got == table,
    }


def drain(relay: RelayProcess, target: int, faults: list[tuple[float, Any]]) -> dict[str, Any]:
    """Start the relay and wait until it acknowledged ``target``; run each fault at its share.

    Events/s counts from the first acknowledged event (the process start-up, about a second of
    imports, is reported apart).
    """
    t0 = time.perf_counter()
    relay.start()
    first: float | None = None
    pending = sorted(faults, key=lambda f: f[0])
    while (done := published(relay)) < target:
        if first is None and done > 0:
            first = time.perf_counter()
        if pending and done >= pending[0][0] * target:
            pending.pop(0)[1]()
        time.sleep(0.05)
    end = time.perf_counter()
    first = first or t0
    return {
        "events": target,
        "startup_s": round(first - t0, 2),
        "seconds": round(end - first, 2),
        "events_per_s": round(target / (end - first)),
        "lag_at_start": target,
        "lag_at_end": int(relay.metrics().get("grantledger_relay_lag_events", -1)),
    }


def live(relay: RelayProcess, engine: Engine, count: int) -> dict[str, Any]:
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            lag = relay.metrics().get("grantledger_relay_lag_events")
            if lag is not None:
                samples.append(lag)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    service = LedgerService(engine)
    for b in range(0, count, 500):
        lines = tuple(
            SpendLine(
                line_id=f"live{b + i}", voucher=None, booked_on=date(2022, 4, 1), amount=1,
                cost_object="8816", activity="lokalt", account="4010", kind="expense", text=None,
            )
            for i in range(500)
        )  # fmt: skip
        service.execute(PostSpend("raindance", lines), ERP)
    posting = time.perf_counter() - t0
    target = head(engine)
    wait_until(lambda: published(relay) >= target, 120, "the relay to catch up with the posts")
    caught_up = time.perf_counter() - t0
    stop.set()
    sampler.join()
    return {
        "events_posted": count,
        "posting_events_per_s": round(count / posting),
        "caught_up_s_after_first_post": round(caught_up, 2),
        "lag_p50_events": statistics.median(samples) if samples else None,
        "lag_max_events": max(samples) if samples else None,
        "lag_samples": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--output", type=Path, default=Path("bench/relay-results.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {"events": args.events}
    with (
        tempfile.TemporaryDirectory(prefix="gl-relay-bench-") as tmp,
        postgres_database("gl_bench_relay") as url,
    ):
        work = Path(tmp)
        engine = create_engine(url)
        migrate.upgrade(engine)
        t0 = time.perf_counter()
        build(engine, args.events, "a")
        total = head(engine)
        results["build_s"] = round(time.perf_counter() - t0, 1)
        broker = PrivateNats(work / "nats", work / "nats.log")
        broker.start()
        relays: list[RelayProcess] = []
        try:
            clean_names, fault_names = Names.fresh(), Names.fresh()
            clean = RelayProcess(url, clean_names.env(broker.url), work / "clean.log")
            relays.append(clean)
            results["clean"] = drain(clean, total, [])
            clean.terminate()
            results["check_clean"] = check_stream(engine, broker.url, clean_names)

            faulty = RelayProcess(url, fault_names.env(broker.url), work / "faults.log")
            relays.append(faulty)

            def kill_and_restart() -> None:
                faulty.kill()
                faulty.start()

            def restart_broker() -> None:
                broker.stop()
                time.sleep(3)
                broker.start()

            faults = [(1 / 3, kill_and_restart), (2 / 3, restart_broker)]
            results["faults"] = {**drain(faulty, total, faults), "relay_kills": 1,
                                 "broker_restarts": 1}  # fmt: skip
            results["live"] = live(faulty, engine, min(20_000, args.events))
            faulty.terminate()
            results["check_faults"] = check_stream(engine, broker.url, fault_names)
        finally:
            for r in relays:
                r.close()
            broker.stop()
            engine.dispose()
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
