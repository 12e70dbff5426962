"""In-process ingest through ``LedgerService``, interleaved with the raw ceiling.

Each batch of 500 spend lines goes through ``LedgerService.execute(PostSpend(...))`` (lock,
load, decide, hash, append, project, commit); the very rows that batch appended (same columns,
JSON data, meta and hashes) are then inserted into a copy of ``events`` in its own schema by the
same engine (psycopg 3 via SQLAlchemy Core), one commit per 500, with no logic.  Alternating the
two batch by batch exposes both to the same background load, so their ratio is fair on a noisy
machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.config import BATCH
from bench.peer import Peer
from bench.workload import Workload
from ledger.service import Actor, LedgerService, PostSpend, Result
from ledger.store.schema import events

RAW_SCHEMA = "bench_raw"
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


def create_raw_table(engine: Engine) -> sa.Table:
    """``events`` as the migration made it (columns, keys, indexes), in schema ``bench_raw``."""
    table = events.to_metadata(sa.MetaData(), schema=RAW_SCHEMA)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        table.create(conn)
    return table


@dataclass
class IngestStats:
    batches: int = 0
    ingest_events: int = 0
    ingest_seconds: float = 0.0
    raw_rows: int = 0
    raw_seconds: float = 0.0
    batch_seconds: list[float] = field(default_factory=list)
    raw_batch_seconds: list[float] = field(default_factory=list)

    @property
    def ingest_per_s(self) -> float:
        return self.ingest_events / self.ingest_seconds if self.ingest_seconds else 0.0

    @property
    def raw_per_s(self) -> float:
        return self.raw_rows / self.raw_seconds if self.raw_seconds else 0.0


def ingest_until(
    service: LedgerService,
    raw: sa.Table,
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
    has saved ``peer_max_events``: the three figures share the same minutes of the machine.
    """
    engine = service.engine
    while head < target and time.monotonic() < deadline:
        lines = workload.batch(min(BATCH, target - head))
        t0 = time.perf_counter()
        result = service.execute(PostSpend(workload.source, lines), actor)
        t1 = time.perf_counter()
        assert isinstance(result, Result)
        n = len(result.events)
        head = result.events[-1].position
        rows: list[dict[str, Any]] = [{f: getattr(e, f) for f in _FIELDS} for e in result.events]
        t2 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(raw.insert(), rows)
        t3 = time.perf_counter()
        stats.batches += 1
        if stats.batches > warmup_batches:
            stats.ingest_events += n
            stats.ingest_seconds += t1 - t0
            stats.raw_rows += len(rows)
            stats.raw_seconds += t3 - t2
            stats.batch_seconds.append(t1 - t0)
            stats.raw_batch_seconds.append(t3 - t2)
            if (
                peer is not None
                and (stats.batches - 1) % peer_stride == 0
                and peer.batch_events < peer_max_events
            ):
                peer.save_batches(BATCH)
        if progress is not None:
            progress(head)
    return head
