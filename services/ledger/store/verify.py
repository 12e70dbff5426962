"""Verifying the hash chain: every row's hash recomputed, every link checked, in position order.

Each row carries the hash of the row before it, so a range of positions can be checked on its
own and the ranges joined by comparing the hashes where they meet: a chain is checked by several
threads at once, each on its own connection (PostgreSQL formats one range's rows while Python
hashes another's), and a long one by several processes (the command line; never inside an API
request), each in constant memory.  Rows are read as text straight from the driver (JSON as
text, instants already spelled as the chain spells them): no ORM objects.  The rule itself, and
the words of every fault, are ``store/chain.py``'s.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.store.chain import GENESIS_HASH, Fault, canonical_json, check, content_matches

PAGE = 10_000
# Below this a second process costs more than it saves (its start and imports); threads, each
# on its own connection, cost next to nothing and overlap the database's work with the hashing.
PARALLEL_FROM = 200_000

_PG = f"""
SELECT position, stream_id, stream_version, event_type, schema_version, data::text, meta::text,
       to_char(effective_date, 'YYYY-MM-DD'),
       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       prev_hash, hash
FROM events WHERE position > %(after)s AND position <= %(until)s ORDER BY position LIMIT {PAGE}
"""
_SQLITE = f"""
SELECT position, stream_id, stream_version, event_type, schema_version, data, meta,
       effective_date, recorded_at, prev_hash, hash
FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT {PAGE}
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


def _sealed(row: tuple[Any, ...], metas: dict[str, orjson.Fragment]) -> bool:
    """``chain.content_matches`` for a row of columns read as text.

    Every event of one append carries the same meta, so its canonical JSON is worked out once
    per distinct text (``metas``) and hashed as it is, which gives the same bytes.
    """
    (position, stream_id, version, event_type, schema_version, data, meta, effective,
     recorded_at, prev_hash, digest) = row  # fmt: skip
    canonical_meta = metas.get(meta)
    if canonical_meta is None:
        if len(metas) > _METAS:
            metas.clear()
        canonical_meta = metas[meta] = orjson.Fragment(canonical_json(orjson.loads(meta)))
    body = {
        "position": position,
        "stream_id": stream_id,
        "stream_version": version,
        "event_type": event_type,
        "schema_version": schema_version,
        "data": orjson.loads(data),
        "meta": canonical_meta,
        "effective_date": effective,
        "recorded_at": recorded_at,
    }
    return content_matches(digest, prev_hash, body)


_METAS = 4096  # distinct metas kept while scanning (one per append; a page has a few)


def _verdicts(conn: Connection, after: int, until: int) -> Iterator[tuple[int, str, str, bool]]:
    """(position, prev_hash, hash, whether the hash matches the row) in after..until, in order."""
    raw = conn.connection.driver_connection
    assert raw is not None
    postgres = conn.dialect.name == "postgresql"
    metas: dict[str, orjson.Fragment] = {}
    while True:
        cursor = raw.cursor()
        if postgres:
            cursor.execute(_PG, {"after": after, "until": until})
        else:
            cursor.execute(_SQLITE, (after, until))
        page = cursor.fetchall()
        cursor.close()
        for r in page:
            if not postgres:  # SQLite keeps the text SQLAlchemy wrote: "… 12:00:00.123000"
                r = (*r[:8], r[8].replace(" ", "T") + "Z", *r[9:])
            yield r[0], r[9], r[10], _sealed(r, metas)
        if len(page) < PAGE:
            return
        after = page[-1][0]


def scan(conn: Connection, after: int, until: int) -> Span:
    """Check positions after..until: each hash against its row and each link to the row before."""
    first_position: int | None = None
    first_prev: str | None = None
    expected, prev, checked = after + 1, "", 0
    for position, prev_hash, digest, sealed in _verdicts(conn, after, until):
        if first_position is None:  # where the range meets the one before: checked by _join
            first_position, first_prev, expected, prev = position, prev_hash, position, prev_hash
        fault = check(
            position=position, expected=expected, prev_hash=prev_hash, previous=prev, sealed=sealed
        )
        if fault is not None:
            altered = position == expected and prev_hash == prev
            last = (position, digest) if altered else (expected - 1, prev or None)
            return Span(first_position, first_prev, *last, checked, fault.position, fault.reason)
        prev = digest
        expected += 1
        checked += 1
    return Span(
        first_position, first_prev, expected - 1 if checked else None, prev or None, checked
    )


def _scan_on_own_connection(engine: Engine, after: int, until: int) -> Span:
    with engine.connect() as conn:
        return scan(conn, after, until)


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
    after: int = 0,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Span, list[Span]]:
    """Check after+1..head in ranges, joined in order: on ``workers`` threads with a connection
    each (by default one per core, up to 4; PostgreSQL, whose server does part of the work), or
    processes when the chain is long; ``workers=1`` checks it on this thread and one connection
    (what an API request does).

    From ``after`` > 0 the first row must link to row ``after``'s hash: consecutive calls
    check the chain as a whole.
    """
    processes = head - after >= PARALLEL_FROM
    if workers is None:
        threads_help = engine.dialect.name == "postgresql"  # SQLite's work is this process's
        workers = min(os.cpu_count() or 1, 4) if processes or threads_help else 1
    bounds = _ranges(after, head, workers * (4 if processes else 2) if workers > 1 else 1)
    spans: list[Span] = []
    with engine.connect() as conn:
        start = hash_at(conn, after)
        if start is None:
            gone = Fault.missing(after)
            return Span(None, None, None, None, 0, gone.position, gone.reason), []
        if workers <= 1 or len(bounds) == 1:
            for a, u in bounds:
                spans.append(scan(conn, a, u))
                if progress is not None:
                    progress(sum(s.checked for s in spans))
            return _join(spans, after, start, head), spans
    pool: Executor
    scan_range: Callable[[int, int], Span]
    if processes:
        url = engine.url.render_as_string(hide_password=False)
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        scan_range = partial(_scan_in_process, url)
    else:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="verify")
        scan_range = partial(_scan_on_own_connection, engine)
    with pool:
        futures = [pool.submit(scan_range, a, u) for a, u in bounds]
        for f in futures:
            spans.append(f.result())
            if progress is not None:
                progress(sum(s.checked for s in spans))
    return _join(spans, after, start, head), spans


def hash_at(conn: Connection, position: int) -> str | None:
    """The hash of the row at ``position`` (the genesis hash before the first); None if none."""
    if position == 0:
        return GENESIS_HASH
    found = conn.execute(sa.text("SELECT hash FROM events WHERE position = :p"), {"p": position})
    return found.scalar()


def _ranges(after: int, head: int, parts: int) -> list[tuple[int, int]]:
    size = max(1, -(-(head - after) // parts))
    return [(a, min(a + size, head)) for a in range(after, head, size)] or [(after, after)]


def _join(spans: list[Span], after: int, start: str, head: int) -> Span:
    """The whole stretch from its ranges: the first fault in position order wins."""
    prev, last_position, checked = start, after, 0
    first = after + 1
    for span in spans:
        if span.first_position is not None:
            fault = check(
                position=span.first_position,
                expected=last_position + 1,
                prev_hash=span.first_prev_hash or "",
                previous=prev,
                sealed=True,  # its own hash was checked by its scan
            )
            if fault is not None:
                return Span(first, start, last_position, prev, checked, fault.position,
                            fault.reason)  # fmt: skip
        if span.bad_position is not None:
            return Span(first, start, span.last_position, span.last_hash,
                        checked + span.checked, span.bad_position, span.reason)  # fmt: skip
        if span.last_position is not None:
            last_position, prev = span.last_position, span.last_hash or prev
        checked += span.checked
    if last_position != head:
        missing = Fault.missing(last_position + 1)
        return Span(first, start, last_position, prev, checked, missing.position, missing.reason)
    return Span(first if checked else None, start, last_position or None, prev, checked)


def head_position(conn: Connection) -> int:
    return int(conn.execute(sa.text("SELECT max(position) FROM events")).scalar() or 0)
