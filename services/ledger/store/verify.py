"""Verifying the hash chain: every row's hash recomputed, every link checked, in position order.

Each row carries the hash of the row before it, so a range of positions can be checked on its
own and the ranges joined by comparing the hashes where they meet: a long chain is checked by
several processes at once, each in constant memory.  Rows are read as text straight from the
driver (JSON as text, instants already spelled as the chain spells them): no ORM objects.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.store.chain import GENESIS_HASH

PAGE = 10_000
# Below this a second process costs more than it saves.
PARALLEL_FROM = 200_000

_PG = """
SELECT position, stream_id, stream_version, event_type, schema_version, data::text, meta::text,
       to_char(effective_date, 'YYYY-MM-DD'),
       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       prev_hash, hash
FROM events WHERE position > %(after)s AND position <= %(until)s ORDER BY position LIMIT {page}
"""
_SQLITE = """
SELECT position, stream_id, stream_version, event_type, schema_version, data, meta,
       effective_date, recorded_at, prev_hash, hash
FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT {page}
"""


@dataclass(frozen=True, slots=True)
class Span:
    """What one range of positions looks like from the outside, and its first fault."""

    first_position: int | None
    first_prev_hash: str | None
    last_position: int | None
    last_hash: str | None
    checked: int
    bad_position: int | None = None
    reason: str | None = None


def _rows(conn: Connection, after: int, until: int) -> Iterator[tuple[Any, ...]]:
    raw = conn.connection.driver_connection
    assert raw is not None
    postgres = conn.dialect.name == "postgresql"
    sql = (_PG if postgres else _SQLITE).format(page=PAGE)
    while True:
        cursor = raw.cursor()
        params: Any = {"after": after, "until": until} if postgres else (after, until)
        cursor.execute(sql, params)
        page = cursor.fetchall()
        cursor.close()
        if not postgres:  # SQLite keeps the text SQLAlchemy wrote: "2026-11-23 12:00:00.123000"
            page = [(*r[:8], r[8].replace(" ", "T") + "Z", *r[9:]) for r in page]
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1][0]


def scan(conn: Connection, after: int, until: int) -> Span:
    """Check positions after..until: each hash against its row and each link to the row before."""
    expected = after + 1
    prev: str | None = None
    first_position = first_prev = None
    checked = 0
    sha256, dumps, loads, sort = hashlib.sha256, orjson.dumps, orjson.loads, orjson.OPT_SORT_KEYS
    for (position, stream_id, version, event_type, schema_version, data, meta, effective,
         recorded_at, prev_hash, digest) in _rows(conn, after, until):  # fmt: skip
        if position != expected and first_position is not None:
            return Span(first_position, first_prev, expected - 1, prev, checked, expected,
                        f"position {expected} is missing (next row is {position}): "
                        "an event was deleted")  # fmt: skip
        if first_position is None:  # where the range meets the one before: checked by walk
            first_position, first_prev, expected = position, prev_hash, position
        elif prev_hash != prev:
            return Span(first_position, first_prev, position - 1, prev, checked, position,
                        f"position {position} does not link to the previous event")  # fmt: skip
        body = {
            "position": position,
            "stream_id": stream_id,
            "stream_version": version,
            "event_type": event_type,
            "schema_version": schema_version,
            "data": loads(data),
            "meta": loads(meta),
            "effective_date": effective,
            "recorded_at": recorded_at,
        }
        h = sha256(prev_hash.encode("ascii"))
        h.update(dumps(body, option=sort))
        if h.hexdigest() != digest:
            return Span(first_position, first_prev, position, digest, checked, position,
                        f"position {position} was altered: its hash does not match")  # fmt: skip
        prev = digest
        expected += 1
        checked += 1
    return Span(first_position, first_prev, expected - 1 if checked else None, prev, checked)


def _scan_in_process(url: str, after: int, until: int) -> Span:
    from ledger.db import create_engine

    engine = create_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return scan(conn, after, until)
    finally:
        engine.dispose()


def walk(
    engine: Engine,
    head: int,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Span, list[Span]]:
    """Scan 1..head in ranges (in parallel when long) and return the ranges in order."""
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if head >= PARALLEL_FROM else 1
    bounds = _ranges(head, max(1, workers) * 4 if workers > 1 else 1)
    spans: list[Span] = []
    if workers <= 1 or len(bounds) == 1:
        with engine.connect() as conn:
            for after, until in bounds:
                spans.append(scan(conn, after, until))
                if progress is not None:
                    progress(sum(s.checked for s in spans))
    else:
        url = engine.url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(_scan_in_process, url, a, u) for a, u in bounds]
            for f in futures:
                spans.append(f.result())
                if progress is not None:
                    progress(sum(s.checked for s in spans))
    return _join(spans, head), spans


def _ranges(head: int, parts: int) -> list[tuple[int, int]]:
    size = max(1, -(-head // parts))
    return [(a, min(a + size, head)) for a in range(0, head, size)] or [(0, 0)]


def _join(spans: list[Span], head: int) -> Span:
    """The whole chain from its ranges: the first fault in position order wins."""
    prev, last_position, checked = GENESIS_HASH, 0, 0
    for span in spans:
        if span.first_position is not None:
            if span.first_position != last_position + 1:
                missing = last_position + 1
                return Span(1, GENESIS_HASH, last_position, prev, checked, missing,
                            f"position {missing} is missing (next row is {span.first_position}): "
                            "an event was deleted")  # fmt: skip
            if span.first_prev_hash != prev:
                return Span(1, GENESIS_HASH, last_position, prev, checked, span.first_position,
                            f"position {span.first_position} does not link to the previous "
                            "event")  # fmt: skip
        if span.bad_position is not None:
            return Span(1, GENESIS_HASH, span.last_position, span.last_hash,
                        checked + span.checked, span.bad_position, span.reason)  # fmt: skip
        if span.last_position is not None:
            last_position, prev = span.last_position, span.last_hash or prev
        checked += span.checked
    if last_position != head:
        missing = last_position + 1
        return Span(1, GENESIS_HASH, last_position, prev, checked, missing,
                    f"position {missing} is missing: an event was deleted")  # fmt: skip
    return Span(1 if checked else None, GENESIS_HASH, last_position or None, prev, checked)


def head_position(conn: Connection) -> int:
    return int(conn.execute(sa.text("SELECT max(position) FROM events")).scalar() or 0)
