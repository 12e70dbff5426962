"""Append, read and verify the events table.

Appends run in the caller's transaction.  They are serialized by one transaction-scoped lock
(an advisory lock on PostgreSQL, SQLite's write lock, taken by ``BEGIN IMMEDIATE``), held until
commit: positions and the hash chain therefore follow commit order, and a reader paging with
``after=position`` can never miss an event that commits later with a lower position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.db import bulk_insert, driver_rows
from ledger.errors import ConcurrencyError, InvalidInput
from ledger.store import verify as chain_walk
from ledger.store.chain import (
    GENESIS_HASH,
    Fault,
    canonical_json,
    check,
    content_matches,
    event_hash,
    format_recorded_at,
    hashed_body,
)
from ledger.store.schema import events

# Any constant works; it only has to be the same for every writer of this database.
_APPEND_LOCK_KEY = 0x6772616E74
_LOCK_MARK = "grantledger_append_lock"
_HEAD_MARK = "grantledger_head"  # (transaction, head) as the lock read it


@dataclass(frozen=True, slots=True)
class NewEvent:
    event_type: str
    data: Mapping[str, Any]
    schema_version: int = 1
    effective_date: date | None = None
    # ``data`` as canonical JSON (``chain.canonical_json``) if the caller encoded it already
    # (the write path does, for its storable check): it is then hashed and stored as it is.
    json: bytes | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    meta: dict[str, Any]
    effective_date: date | None
    recorded_at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """One stream's part of an append: the version the caller read and its new events."""

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    meta: Mapping[str, Any] | None = None  # this append's own meta, else the call's


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    head_position: int
    head_hash: str
    first_bad_position: int | None = None
    reason: str | None = None
    complete: bool = True  # False: a bounded check stopped before the head


# An event's columns in StoredEvent's order: every reader that builds one selects these.
EVENT_COLUMNS = (
    events.c.position,
    events.c.stream_id,
    events.c.stream_version,
    events.c.event_type,
    events.c.schema_version,
    events.c.data,
    events.c.meta,
    events.c.effective_date,
    events.c.recorded_at,
    events.c.prev_hash,
    events.c.hash,
)

_EVENT_COLUMN_NAMES = tuple(c.name for c in EVENT_COLUMNS)

# The head as ``_head`` reads it, for PostgreSQL's driver cursor (one probe of the key each).
_PG_HEAD = (
    "SELECT (SELECT position FROM events ORDER BY position DESC LIMIT 1), "
    "(SELECT hash FROM events ORDER BY position DESC LIMIT 1), clock_timestamp()"
)


def _utc(ts: datetime | str) -> datetime:
    if isinstance(ts, str):  # SQLite's clock answers with text
        ts = datetime.fromisoformat(ts)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _row_to_event(row: Any) -> StoredEvent:
    return StoredEvent(
        position=row.position,
        stream_id=row.stream_id,
        stream_version=row.stream_version,
        event_type=row.event_type,
        schema_version=row.schema_version,
        data=row.data,
        meta=row.meta,
        effective_date=row.effective_date,
        recorded_at=_utc(row.recorded_at),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class EventStore:
    """The one place that writes to ``events``."""

    def lock(
        self,
        conn: Connection,
        then: tuple[str, Sequence[Any]] | None = None,
        *,
        while_waiting: Callable[[], None] | None = None,
    ) -> list[tuple[Any, ...]] | None:
        """Take the append lock for the rest of the caller's transaction (idempotent).

        On PostgreSQL the lock, the head (kept for the transaction's append) and ``then``, a
        statement the caller runs as soon as the lock is granted, go in one round trip; the
        rows of ``then`` are returned (None without it, or elsewhere than PostgreSQL).
        ``while_waiting`` runs if another transaction holds the lock, before this one waits
        for it (one round trip more, to ask): work the caller would otherwise do under it.
        """
        tx = conn.get_transaction()
        if tx is None:
            raise InvalidInput("appends must run inside a transaction")
        if conn.info.get(_LOCK_MARK) is tx:
            return driver_rows(conn, *then) if then is not None else None
        found = None
        if conn.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            assert raw is not None
            held = False
            if while_waiting is not None:
                [(held,)] = driver_rows(
                    conn, "SELECT pg_try_advisory_xact_lock(%s)", [_APPEND_LOCK_KEY]
                )
                if not held:
                    while_waiting()
            with raw.pipeline(), raw.cursor() as lock, raw.cursor() as head, raw.cursor() as more:
                # Each runs after the one before: the head and ``then`` are read under the lock.
                if not held:
                    lock.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK_KEY])
                head.execute(_PG_HEAD)
                if then is not None:
                    more.execute(*then)
                [(position, digest, now)] = head.fetchall()
                found = more.fetchall() if then is not None else None
            conn.info[_HEAD_MARK] = (tx, (position or 0, digest or GENESIS_HASH, _utc(now)))
        elif not conn.get_execution_options().get("grantledger_write", False):
            # A deferred SQLite transaction takes the write lock at its first write; take it now
            # so state read after this point cannot change before commit.
            conn.exec_driver_sql("DELETE FROM idempotency_keys WHERE 0 = 1")
        conn.info[_LOCK_MARK] = tx
        return found

    def _head(self, conn: Connection) -> tuple[int, str, datetime]:
        """Last position, its hash and the database clock, in one round trip (none, if the
        lock read them and nothing was appended since)."""
        kept = conn.info.pop(_HEAD_MARK, None)
        if kept is not None and kept[0] is conn.get_transaction():
            return kept[1]  # type: ignore[no-any-return]
        if conn.dialect.name == "postgresql":
            [(position, digest, now)] = driver_rows(conn, _PG_HEAD)
            return (position or 0, digest or GENESIS_HASH, _utc(now))
        last = sa.select(events.c.position).order_by(events.c.position.desc()).limit(1)
        last_hash = sa.select(events.c.hash).order_by(events.c.position.desc()).limit(1)
        if conn.dialect.name == "postgresql":
            clock: sa.ColumnElement[Any] = sa.func.clock_timestamp()
        else:
            clock = sa.func.strftime("%Y-%m-%d %H:%M:%f", "now")
        row = conn.execute(
            sa.select(last.scalar_subquery(), last_hash.scalar_subquery(), clock)
        ).one()
        return (row[0] or 0, row[1] or GENESIS_HASH, _utc(row[2]))

    def stream_versions(self, conn: Connection, stream_ids: Sequence[str]) -> dict[str, int]:
        """Each stream's version: one backward probe of the (stream, version) index per stream.

        (A ``GROUP BY`` over ``IN (…)`` reads every event of the stream: linear in its length.)
        """
        unique = list(dict.fromkeys(stream_ids))
        probes = [
            sa.select(sa.func.coalesce(sa.func.max(events.c.stream_version), 0))
            .where(events.c.stream_id == s)
            .scalar_subquery()
            for s in unique
        ]
        row = conn.execute(sa.select(*probes)).one()
        return dict(zip(unique, (int(v) for v in row), strict=True))

    def append(
        self,
        conn: Connection,
        stream_id: str,
        expected_version: int,
        new_events: Sequence[NewEvent],
        meta: Mapping[str, Any],
    ) -> list[StoredEvent]:
        """Append to one stream; a stale ``expected_version`` raises and writes nothing."""
        return self.append_many(conn, [StreamAppend(stream_id, expected_version, new_events)], meta)

    def append_many(
        self,
        conn: Connection,
        appends: Sequence[StreamAppend],
        meta: Mapping[str, Any] | None = None,
        *,
        versions_checked: bool = False,
        meanwhile: Callable[[list[StoredEvent]], None] | None = None,
    ) -> list[StoredEvent]:
        """Append to several streams in the caller's transaction, all or nothing.

        ``versions_checked``: the caller read every expected version under the append lock it
        holds (the unit of work does), so they are not read again; the unique
        (stream, version) key still refuses a version that was taken.  ``meanwhile`` is given
        the stored events as soon as their rows are sent, while the server still inserts them
        (``bulk_insert``): the caller's work on them overlaps the insert.
        """
        if not any(a.events for a in appends):
            return []
        self.lock(conn)
        if not versions_checked:
            actual = self.stream_versions(conn, [a.stream_id for a in appends])
            for a in appends:  # a stream may come back in a later append of the same call
                if actual[a.stream_id] != a.expected_version:
                    raise ConcurrencyError(a.stream_id, a.expected_version, actual[a.stream_id])
                actual[a.stream_id] += len(a.events)
        position, prev, now = self._head(conn)
        recorded_at = format_recorded_at(now)
        stored: list[StoredEvent] = []

        def rows() -> Iterator[tuple[Any, ...]]:
            """Each event's row, hashed as COPY takes it (the server inserts meanwhile)."""
            nonlocal position, prev
            for a in appends:
                version = a.expected_version
                event_meta = dict(a.meta if a.meta is not None else meta or {})
                # Each JSON value is encoded once, for the hash and the row alike: an append's
                # meta once for all its events, each event's data once.
                meta_json = orjson.Fragment(canonical_json(event_meta))
                for e in a.events:
                    position += 1
                    version += 1
                    data = dict(e.data)
                    data_json = orjson.Fragment(
                        e.json if e.json is not None else canonical_json(data)
                    )
                    digest = event_hash(
                        prev,
                        hashed_body(
                            position=position,
                            stream_id=a.stream_id,
                            stream_version=version,
                            event_type=e.event_type,
                            schema_version=e.schema_version,
                            data=data_json,
                            meta=meta_json,
                            effective_date=e.effective_date,
                            recorded_at=recorded_at,
                        ),
                    )
                    yield (
                        position,
                        a.stream_id,
                        version,
                        e.event_type,
                        e.schema_version,
                        data_json,
                        meta_json,
                        e.effective_date,
                        now,
                        prev,
                        digest,
                    )
                    stored.append(
                        StoredEvent(
                            position,
                            a.stream_id,
                            version,
                            e.event_type,
                            e.schema_version,
                            data,
                            event_meta,
                            e.effective_date,
                            now,
                            prev,
                            digest,
                        )
                    )
                    prev = digest

        count = sum(len(a.events) for a in appends)
        bulk_insert(
            conn,
            events,
            _EVENT_COLUMN_NAMES,
            rows(),
            count=count,
            meanwhile=None if meanwhile is None else lambda: meanwhile(stored),
        )
        return stored

    # --- reading ---------------------------------------------------------------------------

    def read_stream(
        self, conn: Connection, stream_id: str, after_version: int = 0
    ) -> Iterator[StoredEvent]:
        """One stream in version order, streamed (constant memory)."""
        q = (
            sa.select(*EVENT_COLUMNS)
            .where(events.c.stream_id == stream_id, events.c.stream_version > after_version)
            .order_by(events.c.stream_version)
        )
        for row in conn.execution_options(yield_per=1000).execute(q):
            yield _row_to_event(row)

    def read_page(
        self,
        conn: Connection,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_id: str | None = None,
        event_types: Sequence[str] = (),
    ) -> list[StoredEvent]:
        """One page of the global log after a position, optionally filtered."""
        q = sa.select(*EVENT_COLUMNS).where(events.c.position > after)
        if stream_id is not None:
            q = q.where(events.c.stream_id == stream_id)
        if event_types:
            q = q.where(events.c.event_type.in_(list(event_types)))
        q = q.order_by(events.c.position).limit(limit)
        return [_row_to_event(r) for r in conn.execute(q)]

    def iter_all(
        self, engine: Engine, *, after: int = 0, page: int = 5000
    ) -> Iterator[StoredEvent]:
        """Every event after a position, page by page in short transactions."""
        while True:
            with engine.connect() as conn:
                batch = self.read_page(conn, after=after, limit=page)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1].position

    def count(self, conn: Connection) -> int:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def head_position(self, conn: Connection) -> int:
        return int(conn.execute(sa.select(sa.func.max(events.c.position))).scalar() or 0)

    # --- verifying -------------------------------------------------------------------------

    def verify(
        self,
        engine: Engine,
        *,
        after: int = 0,
        limit: int | None = None,
        progress: Callable[[int], None] | None = None,
        workers: int | None = None,
    ) -> VerifyResult:
        """Walk the chain in position order with constant memory (``store/verify.py``).

        Returns the first position where the chain breaks: a changed row (its hash no longer
        matches its content), an inserted or deleted row (a gap or a prev_hash that does not
        point at the previous row).  ``after``/``limit`` check a stretch of at most ``limit``
        events linked to row ``after``: ``complete`` says whether it reached the head.
        """
        with engine.connect() as conn:
            head = chain_walk.head_position(conn)
            after = min(after, head)  # nothing to check beyond the head
            start = chain_walk.hash_at(conn, after)
        if start is None:  # the row to continue from is gone
            gone = Fault.missing(after)
            return VerifyResult(False, 0, after, GENESIS_HASH, gone.position, gone.reason)
        until = head if limit is None else min(head, after + limit)
        if until <= after:
            return VerifyResult(True, 0, after, start)
        whole, _ = chain_walk.walk(engine, until, after=after, workers=workers, progress=progress)
        if whole.bad_position is not None:
            return VerifyResult(
                False,
                whole.checked,
                whole.last_position or after,
                whole.last_hash or GENESIS_HASH,
                whole.bad_position,
                whole.reason,
            )
        return VerifyResult(
            True,
            whole.checked,
            whole.last_position or after,
            whole.last_hash or GENESIS_HASH,
            complete=until == head,
        )


def hashed_body_of(e: StoredEvent) -> dict[str, Any]:
    """The hashed form of a stored event (``chain.hashed_body``)."""
    return hashed_body(
        position=e.position,
        stream_id=e.stream_id,
        stream_version=e.stream_version,
        event_type=e.event_type,
        schema_version=e.schema_version,
        data=e.data,
        meta=e.meta,
        effective_date=e.effective_date,
        recorded_at=format_recorded_at(e.recorded_at),
    )


def check_event(e: StoredEvent, expected_position: int, prev: str) -> tuple[int, str] | None:
    """The first fault of one event read in order (``chain.check``): a gap, a link, an edit."""
    fault: Fault | None = check(
        position=e.position,
        expected=expected_position,
        prev_hash=e.prev_hash,
        previous=prev,
        sealed=content_matches(e.hash, e.prev_hash, hashed_body_of(e)),
    )
    return None if fault is None else (fault.position, fault.reason)
