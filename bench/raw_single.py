"""The ceiling for single posts: the same event rows, one row per commit, from 16 connections.

The rows are the ones the ingest stored (every column, the JSON as the database keeps it),
inserted with no logic into a copy of ``events`` (same keys and indexes, own schema) by the
driver itself: one ``INSERT`` and one ``COMMIT`` per row, each client thread on its own
connection, as many clients as the HTTP single phase has.  What is left is the database's
commit rate for rows of this size: ``http_single_ratio_to_raw_single`` says how much of it a
single post through the whole API keeps.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.load import LoadResult
from ledger.store.schema import events

SCHEMA = "bench_raw_single"
_COLUMNS = [c.name for c in events.columns]
_SELECT = ", ".join(f"{c}::text" if c in ("data", "meta") else c for c in _COLUMNS)
_VALUES = ", ".join("%s::jsonb" if c in ("data", "meta") else "%s" for c in _COLUMNS)


def raw_single(url: str, engine: Engine, *, clients: int, rows: int, seconds: float) -> LoadResult:
    """Insert up to ``rows`` stored events one per commit from ``clients`` threads."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        events.to_metadata(sa.MetaData(), schema=SCHEMA).create(conn)
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute(f"SELECT {_SELECT} FROM events ORDER BY position LIMIT %s", [rows])
            source: list[tuple[Any, ...]] = cursor.fetchall()
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    insert = f"INSERT INTO {SCHEMA}.events ({', '.join(_COLUMNS)}) VALUES ({_VALUES})"
    result = LoadResult()
    lock = threading.Lock()
    next_index = 0
    started = deadline = 0.0

    def open_window() -> None:
        # The barrier's action runs once every connection is open and before any client is let
        # go: a client can never see the window before it is set (it once saw 0.0 and sent no
        # row at all, a race the loaded CI host lost).
        nonlocal started, deadline
        started = time.perf_counter()
        deadline = started + seconds

    start = threading.Barrier(clients + 1, action=open_window)

    def take() -> int | None:
        nonlocal next_index
        with lock:
            if next_index >= len(source) or time.perf_counter() > deadline:
                return None
            next_index += 1
            return next_index - 1

    def client() -> None:
        with psycopg.connect(dsn) as conn:
            start.wait()
            latencies = []
            while (i := take()) is not None:
                t0 = time.perf_counter()
                conn.execute(insert, source[i])
                conn.commit()
                latencies.append(time.perf_counter() - t0)
            with lock:
                result.latencies.extend(latencies)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - started
    result.requests = result.items = len(result.latencies)
    return result
