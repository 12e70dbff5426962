"""In-process ingest through ``LedgerService``, interleaved with the raw ceiling and the peer.

Each batch of 500 spend lines goes through ``LedgerService.execute(PostSpend(...))`` (lock,
load, decide, hash, append, project, commit).  The very rows that batch appended (same columns,
JSON data, meta and hashes) are then inserted, with no logic, one commit per 500, by the same
engine and driver (psycopg 3 under SQLAlchemy), into copies of ``events`` (same columns, keys and
indexes) in schemas of their own, twice:

- ``raw_insert``: SQLAlchemy Core ``conn.execute(table.insert(), rows)`` (multi-row INSERT);
- ``raw_copy``: ``COPY … FROM STDIN`` on the same connection, as ``ledger.db.bulk_insert`` does.

The ceiling (``raw_rows_per_s``) is the faster of the two.  Alternating all of them batch by batch
exposes each to the same background load, so their ratios hold on a noisy, shared machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bench.config import BATCH
from bench.peer import Peer
from bench.workload import Workload
from ledger.service import Actor, LedgerService, PostSpend, Result
from ledger.store.schema import events

_FIELDS = (
    "position",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "data",
    "meta",
    "effective_date",
    "recorded_at",
    "prev_hash",
    "hash",
)
_JSON = frozenset({"data", "meta"})


@dataclass(frozen=True)
class RawTables:
    insert: sa.Table
    copy: sa.Table


def create_raw_tables(engine: Engine) -> RawTables:
    """``events`` as the migration made it (columns, keys, indexes), in two scratch schemas."""
    made = []
    with engine.begin() as conn:
        for schema in ("bench_raw_insert", "bench_raw_copy"):
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            table = events.to_metadata(sa.MetaData(), schema=schema)
            table.create(conn)
            made.append(table)
    return RawTables(*made)


def copy_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    names = ", ".join(f'"{c}"' for c in _FIELDS)
    driver = conn.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.schema}"."{table.name}" ({names}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                [orjson.dumps(row[c]).decode() if c in _JSON else row[c] for c in _FIELDS]
            )


@dataclass
class IngestStats:
    batches: int = 0
    ingest_events: int = 0
    ingest_seconds: float = 0.0
    raw_rows: int = 0
    insert_seconds: float = 0.0
    copy_seconds: float = 0.0
    batch_seconds: list[float] = field(default_factory=list)
    insert_batch_seconds: list[float] = field(default_factory=list)
    copy_batch_seconds: list[float] = field(default_factory=list)
    timeline: list[tuple[int, int, float]] = field(default_factory=list)  # (head, events, s)

    def per_s_between(self, lo: int, hi: int) -> float:
        """Ingest rate of the timed batches that ended with the head in (lo, hi]."""
        picked = [(n, t) for head, n, t in self.timeline if lo < head <= hi]
        seconds = sum(t for _, t in picked)
        return sum(n for n, _ in picked) / seconds if seconds else 0.0

    @property
    def ingest_per_s(self) -> float:
        return self.ingest_events / self.ingest_seconds if self.ingest_seconds else 0.0

    @property
    def insert_per_s(self) -> float:
        return self.raw_rows / self.insert_seconds if self.insert_seconds else 0.0

    @property
    def copy_per_s(self) -> float:
        return self.raw_rows / self.copy_seconds if self.copy_seconds else 0.0

    @property
    def raw_per_s(self) -> float:
        return max(self.insert_per_s, self.copy_per_s)


def ingest_until(
    service: LedgerService,
    raw: RawTables,
    workload: Workload,
    actor: Actor,
    *,
    head: int,
    target: int,
    deadline: float,
    stats: IngestStats,
    peer: Peer | None = None,
    peer_stride: int = 1,
    peer_max_events: int = 0,
    progress: Any = None,
    warmup_batches: int = 0,
) -> int:
    """Post batches until the store holds ``target`` events (or the deadline); the new head.

    Every ``peer_stride``-th batch the peer saves as many events too (100 per save), until it
    has saved ``peer_max_events``: all the figures share the same minutes of the machine.
    """
    engine = service.engine
    while head < target and time.monotonic() < deadline:
        lines = workload.batch(min(BATCH, target - head))
        t0 = time.perf_counter()
        result = service.execute(PostSpend(workload.source, lines), actor)
        t1 = time.perf_counter()
        assert isinstance(result, Result)
        head = result.events[-1].position
        rows: list[dict[str, Any]] = [{f: getattr(e, f) for f in _FIELDS} for e in result.events]
        t2 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(raw.insert.insert(), rows)
        t3 = time.perf_counter()
        with engine.begin() as conn:
            copy_rows(conn, raw.copy, rows)
        t4 = time.perf_counter()
        stats.batches += 1
        if stats.batches > warmup_batches:
            stats.ingest_events += len(result.events)
            stats.ingest_seconds += t1 - t0
            stats.raw_rows += len(rows)
            stats.insert_seconds += t3 - t2
            stats.copy_seconds += t4 - t3
            stats.batch_seconds.append(t1 - t0)
            stats.timeline.append((head, len(result.events), t1 - t0))
            stats.insert_batch_seconds.append(t3 - t2)
            stats.copy_batch_seconds.append(t4 - t3)
        if (
            peer is not None
            and (stats.batches - 1) % peer_stride == 0
            and peer.batch_events < peer_max_events
        ):
            peer.save_batches(BATCH)
        if progress is not None:
            progress(head)
    return head
