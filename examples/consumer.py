"""A consumer of the ledger's JetStream stream: spend per cost object, kept up to date.

    python examples/consumer.py --durable budget-follow-up --state spent.json

It subscribes with a *durable* pull consumer (the server remembers what it has acknowledged),
keeps spend per cost object (SpendRecorded adds the amount, SpendReversed takes it back) in a
state file together with the last position it applied, and acknowledges a batch only after the
state file is safely replaced.  So it survives its own restart, even a SIGKILL:

- killed before the ack: the server redelivers, and the state file's position says those events
  were applied already, so they are skipped;
- killed before the state file was replaced: nothing was acknowledged, the server redelivers.

Its figures equal the API's ``GET /v1/cost-objects/{code}`` ``totals.spent``.  Only nats-py is
needed; settings as the relay's (GRANTLEDGER_NATS_URL, _STREAM, _SUBJECT).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


def load(path: Path) -> dict[str, Any]:
    if path.exists():
        return dict(json.loads(path.read_text()))
    return {"position": 0, "spent": {}}


def save(path: Path, state: dict[str, Any]) -> None:
    """Write a new file and rename it over the old one: a crash leaves one or the other."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        json.dump(state, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def ore(amount: str) -> int:
    """Money as events carry it (kronor, a string with two decimals) in öre: exact integers."""
    return int(Decimal(amount) * 100)


def apply(state: dict[str, Any], event: dict[str, Any]) -> None:
    """One event, applied once: positions at or below the state's were applied before."""
    if event["position"] <= state["position"]:
        return
    data, spent = event["data"], state["spent"]
    if event["event_type"] == "SpendRecorded":
        spent[data["cost_object"]] = spent.get(data["cost_object"], 0) + ore(data["amount"])
    elif event["event_type"] == "SpendReversed":
        spent[data["cost_object"]] = spent.get(data["cost_object"], 0) - ore(data["amount"])
    state["position"] = event["position"]


def kronor(ore: int) -> str:
    """Öre as the API writes money: a string with two decimals."""
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


async def consume(args: argparse.Namespace) -> dict[str, Any]:
    state = load(args.state)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    nc = await nats.connect(args.nats_url, connect_timeout=10, max_reconnect_attempts=-1)
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        f"{args.subject}.events.>",
        durable=args.durable,
        stream=args.stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=10,  # after a crash, what was delivered but not acked comes back this soon
        ),
    )
    applied, idle_since = 0, loop.time()
    try:
        while not stop.is_set():
            try:
                batch = await sub.fetch(args.batch, timeout=1)
            except (NatsTimeout, TimeoutError):  # nats-py raises either when nothing came
                if args.exit_when_idle and loop.time() - idle_since >= args.exit_when_idle:
                    break
                continue
            idle_since = loop.time()
            done, leftover = [], []
            for msg in batch:
                if args.max_events and applied >= args.max_events:
                    leftover.append(msg)  # not applied: handed back below, for the next run
                    continue
                apply(state, json.loads(msg.data))
                applied += 1
                done.append(msg)
            save(args.state, state)  # first the state, then the acks
            for msg in done:
                await msg.ack()
            for msg in leftover:
                await msg.nak()
            if args.max_events and applied >= args.max_events:
                break
    finally:
        await nc.close()
    return state


def main() -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nats-url", default=env("GRANTLEDGER_NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--stream", default=env("GRANTLEDGER_NATS_STREAM", "GRANTLEDGER"))
    parser.add_argument("--subject", default=env("GRANTLEDGER_NATS_SUBJECT", "grantledger"))
    parser.add_argument("--durable", default="spend-per-cost-object")
    parser.add_argument("--state", type=Path, default=Path("spend-per-cost-object.json"))
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--max-events", type=int, default=0, help="Stop after this many.")
    parser.add_argument("--exit-when-idle", type=float, default=0, help="Seconds without news.")
    args = parser.parse_args()
    state = asyncio.run(consume(args))
    spent = {k: kronor(v) for k, v in sorted(state["spent"].items())}
    print(json.dumps({"position": state["position"], "spent": spent}))


if __name__ == "__main__":
    main()
