"""The relay loop: read events after the stream's tail, check their links, publish, repeat.

Order and exactly-once come from the server, not from the relay's memory:

- it resumes after the position of the stream's last message (never from a local file);
- the first message of each batch demands ``Nats-Expected-Last-Sequence`` = the sequence the
  relay just saw, every later one ``Nats-Expected-Last-Msg-Id`` = the message before it, so a
  message that was lost on the wire makes every later one of its batch bounce instead of
  leaving a gap;
- ``Nats-Msg-Id`` = position makes a repeat within the duplicate window a no-op.

On any failure the connection is dropped (with whatever it still buffered), and after a backoff
the relay reconnects and reads the tail again.  It also checks that each event links to the one
before (the hash the stream holds): a chain rewritten behind its back stops it instead of being
published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import Unavailable
from ledger.relay import broker
from ledger.relay.config import RelaySettings
from ledger.relay.messages import Outgoing, Render
from ledger.relay.metrics import RelayMetrics
from ledger.store import EventStore, StoredEvent
from ledger.store import checkpoint as checkpoints
from ledger.store.eventstore import check_event

log = logging.getLogger("grantledger.relay")

EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"

MIN_BACKOFF = 0.1  # seconds; doubled after each failure up to GRANTLEDGER_RELAY_MAX_BACKOFF

# Failures after which the relay reconnects and re-reads the tail.
TRANSIENT = (NatsError, OSError, TimeoutError, SQLAlchemyError, Unavailable)


class _Interrupted(Exception):
    """The connection went away (or a publish bounced) before every ack came back."""


@dataclass
class Relay:
    settings: RelaySettings
    engine: Engine
    render: Render
    signer: Ed25519PrivateKey | None = None
    metrics: RelayMetrics = field(default_factory=RelayMetrics)
    store: EventStore = field(default_factory=EventStore)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tail: broker.Tail = broker.EMPTY
    _checkpointed: tuple[int, float] = (0, 0.0)  # position, monotonic time
    _backoff: float = MIN_BACKOFF

    async def run(self) -> None:
        """Until ``stop`` is set: connect, publish, and on failure back off and start over."""
        while not self.stop.is_set():
            try:
                await self._session()
            except (*TRANSIENT, _Interrupted) as e:
                kind = type(e).__name__
                self.metrics.failures.labels(kind=kind).inc()
                log.warning(
                    "relay interrupted (%s: %s); retrying in %.1f s", kind, e, self._backoff
                )
                await self._refresh_head()
                await self._sleep(self._backoff)
                self._backoff = min(self._backoff * 2, self.settings.relay_max_backoff)

    async def _session(self) -> None:
        lost = asyncio.Event()
        nc = await self._connect(lost)
        if nc is None:
            return
        try:
            self.metrics.connected.set(1)
            js = nc.jetstream(timeout=self.settings.relay_ack_timeout)
            await broker.ensure_stream(js, self.settings)
            self._tail = await broker.tail(js, self.settings)
            await self._check_tail()
            if self._checkpointed[1] == 0.0:  # this process's first session: count from here
                self._checkpointed = (self._tail.position, time.monotonic())
            log.info("relay resumes after position %d", self._tail.position)
            while not self.stop.is_set():
                if lost.is_set():
                    raise _Interrupted("connection to NATS lost")
                batch = await asyncio.to_thread(self._read)
                if batch:
                    await self._publish(js, [self._message(e) for e in batch], lost)
                    self.metrics.events.inc(len(batch))
                    self._backoff = MIN_BACKOFF  # progress: the next failure starts over
                await self._maybe_checkpoint(js, lost)
                if len(batch) < self.settings.relay_batch:
                    await self._sleep(self.settings.relay_poll_seconds)
        finally:
            self.metrics.connected.set(0)
            if not nc.is_closed:
                try:
                    await asyncio.wait_for(nc.close(), timeout=5)
                except TRANSIENT:
                    log.warning("closing the NATS connection timed out")

    async def _connect(self, lost: asyncio.Event) -> Client | None:
        """A connection, or None when told to stop first; ``lost`` is set when it drops."""

        async def on_lost() -> None:
            lost.set()

        async def on_error(e: Exception) -> None:  # one line, not nats-py's traceback per retry
            log.warning("nats: %s: %s", type(e).__name__, e)

        connecting = asyncio.ensure_future(
            nats.connect(
                servers=self.settings.servers,
                name="grantledger-relay",
                # We back off and reconnect ourselves, after re-reading the tail; nats-py only
                # tries each server twice (its 0 would mean forever).
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.2,
                connect_timeout=2,
                disconnected_cb=on_lost,
                closed_cb=on_lost,
                error_cb=on_error,
            )
        )
        stopping = asyncio.ensure_future(self.stop.wait())
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not connecting.done():  # SIGTERM while NATS is away: stop now
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, *TRANSIENT):
                await connecting
            return None
        return connecting.result()

    def _read(self) -> list[StoredEvent]:
        """The next batch after the tail, each checked to link to the one before it."""
        with self.engine.connect() as conn:
            batch = self.store.read_page(
                conn, after=self._tail.position, limit=self.settings.relay_batch
            )
            head = self.store.head_position(conn)
        self.metrics.positions(head=head, published=self._tail.position)
        prev = self._tail.hash
        for i, e in enumerate(batch):
            fault = check_event(e, self._tail.position + 1 + i, prev)
            if fault is not None:
                raise broker.StreamMismatch(
                    f"chain broken at position {fault[0]}: {fault[1]}; not publishing it",
                    position=fault[0],
                )
            prev = e.hash
        return batch

    async def _check_tail(self) -> None:
        """The stream's last position must be in the ledger with the same hash."""
        if self._tail.position == 0:
            return

        def event_at_tail() -> list[StoredEvent]:
            with self.engine.connect() as conn:
                return self.store.read_page(conn, after=self._tail.position - 1, limit=1)

        found = await asyncio.to_thread(event_at_tail)
        if not found or found[0].position != self._tail.position:
            raise broker.StreamMismatch(
                f"the stream holds position {self._tail.position}, the ledger has no such "
                "event: events were deleted, or this is another ledger's stream",
                position=self._tail.position,
            )
        if found[0].hash != self._tail.hash:
            raise broker.StreamMismatch(
                f"position {self._tail.position} has hash {found[0].hash} in the ledger but "
                f"{self._tail.hash} in the stream: the chain was rewritten",
                position=self._tail.position,
            )

    def _message(self, e: StoredEvent) -> Outgoing:
        return Outgoing.of_event(e, prefix=self.settings.nats_subject, render=self.render)

    async def _publish(
        self, js: JetStreamContext, messages: Sequence[Outgoing], lost: asyncio.Event
    ) -> None:
        """Pipeline a batch in order, then wait for every ack; all or _Interrupted."""
        futures: list[asyncio.Future[PubAck]] = []
        before = self._tail.msg_id
        for i, m in enumerate(messages):
            guard = (
                {EXPECTED_LAST_SEQUENCE: str(self._tail.seq)}
                if i == 0 or before is None
                else {EXPECTED_LAST_MSG_ID: before}
            )
            futures.append(
                await js.publish_async(m.subject, m.body, headers={**m.headers, **guard})
            )
            before = m.msg_id
        acks = await self._acks(futures, lost)
        last = messages[-1]
        self._tail = broker.Tail(acks[-1].seq, last.msg_id, last.position, last.hash)
        self.metrics.positions(published=last.position)

    async def _acks(
        self, futures: list[asyncio.Future[PubAck]], lost: asyncio.Event
    ) -> list[PubAck]:
        everything = asyncio.gather(*futures)
        watch = asyncio.ensure_future(lost.wait())
        either: set[asyncio.Future[Any]] = {everything, watch}
        done, _ = await asyncio.wait(
            either,
            timeout=self.settings.relay_ack_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        watch.cancel()
        if everything not in done:
            everything.cancel()
            raise _Interrupted("no ack for every message (connection lost or timed out)")
        try:
            return everything.result()
        except NatsError as e:  # a guard bounced: the stream is not where we thought
            raise _Interrupted(f"publish refused: {e}") from e

    async def _maybe_checkpoint(self, js: JetStreamContext, lost: asyncio.Event) -> None:
        if self.signer is None:
            return
        position, at = self._checkpointed
        now = time.monotonic()
        due = self._tail.position - position >= self.settings.checkpoint_every_events or (
            now - at >= self.settings.checkpoint_every_minutes * 60
        )
        if not due or self._tail.position <= position:
            return
        signed = await asyncio.to_thread(self._sign)
        message = Outgoing.of_checkpoint(signed, prefix=self.settings.nats_subject)
        await self._publish(js, [message], lost)
        self.metrics.checkpoints.inc()
        self._checkpointed = (signed.checkpoint.position, now)
        log.info("checkpoint signed at position %d", signed.checkpoint.position)

    def _sign(self) -> checkpoints.SignedCheckpoint:
        assert self.signer is not None
        position = self._tail.position
        with self.engine.connect() as conn:
            [event] = self.store.read_page(conn, after=position - 1, limit=1)
            count = checkpoints.event_count(conn, position)
        return checkpoints.sign(checkpoints.Checkpoint.of(event, event_count=count), self.signer)

    async def _refresh_head(self) -> None:
        """Keep the lag honest while NATS (or the database) is away."""

        def head() -> int:
            with self.engine.connect() as conn:
                return self.store.head_position(conn)

        with contextlib.suppress(*TRANSIENT):
            self.metrics.positions(head=await asyncio.to_thread(head))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
