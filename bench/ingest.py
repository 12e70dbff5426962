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

import math
import statistics
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


@dataclass(frozen=True, slots=True)
class Round:
    """One batch of 500: the store's head after it and what each contender took for it."""

    head: int
    events: int
    ingest: float
    insert: float
    copy: float
    peer: float | None  # the peer's 5 saves of 100, on the rounds it ran


@dataclass
class IngestStats:
    batches: int = 0
    rounds: list[Round] = field(default_factory=list)  # the timed ones (after warm-up)

    def _rate(self, rounds: list[Round], what: str) -> float:
        seconds = sum(getattr(r, what) for r in rounds)
        return sum(r.events for r in rounds) / seconds if seconds else 0.0

    @property
    def ingest_per_s(self) -> float:
        return self._rate(self.rounds, "ingest")

    @property
    def insert_per_s(self) -> float:
        return self._rate(self.rounds, "insert")

    @property
    def copy_per_s(self) -> float:
        return self._rate(self.rounds, "copy")

    @property
    def ceiling(self) -> str:
        """The faster raw method over the run: ``"copy"`` or ``"insert"``."""
        return "copy" if self.copy_per_s >= self.insert_per_s else "insert"

    @property
    def raw_per_s(self) -> float:
        return max(self.insert_per_s, self.copy_per_s)

    def ingest_per_s_between(self, lo: int, hi: int) -> float:
        """Ingest rate of the rounds that ended with the head in (lo, hi]."""
        return self._rate([r for r in self.rounds if lo < r.head <= hi], "ingest")

    def ingest_per_s_last(self, fraction: float = 0.1) -> float:
        n = max(1, int(len(self.rounds) * fraction))
        return self._rate(self.rounds[-n:], "ingest")

    def paired_ratio(self, baseline: str) -> float:
        """Median over rounds of baseline time / ingest time for the same 500 events.

        Each pair ran back to back, so a stall of the shared machine spoils one pair, not the
        figure: the robust form of "ingest rate / baseline rate".
        """
        ratios = [
            getattr(r, baseline) / r.ingest
            for r in self.rounds
            if r.ingest > 0 and getattr(r, baseline) is not None
        ]
        return statistics.median(ratios) if ratios else 0.0

    def p50_ms(self, what: str) -> float:
        values = [getattr(r, what) for r in self.rounds if getattr(r, what) is not None]
        return round(statistics.median(values) * 1000, 3) if values else 0.0


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
        peer_s = None
        if (
            peer is not None
            and (stats.batches - 1) % peer_stride == 0
            and peer.batch_events < peer_max_events
        ):
            saved = 100 * math.ceil(len(rows) / 100)  # whole saves of 100
            peer_s = peer.save_batches(saved) * len(rows) / saved
        if stats.batches > warmup_batches:
            stats.rounds.append(Round(head, len(rows), t1 - t0, t3 - t2, t4 - t3, peer_s))
        if progress is not None:
            progress(head)
    return head
