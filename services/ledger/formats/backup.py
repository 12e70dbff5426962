"""Backup and restore of the event log: JSON lines out, JSON lines in, chain checked on the way.

``export_events`` writes one JSON object per line, one line per event, in position order, with
every column of the ``events`` table (position, stream, version, type, schema version, data,
meta, effective date, recorded time, previous hash and hash).  It reads page by page, so memory
stays flat however long the log; the pages form a gap-free prefix of the log even while others
append, because positions become visible in commit order (see ``ledger.store.eventstore``).

``import_events`` reads such a file into an *empty* database (schema at head, no events, no
projection rows).  Each line is checked against the chain as it is read: its position follows
the previous one, its ``prev_hash`` is the previous line's hash, and its hash is that of its
content.  The rows keep their positions, hashes and recorded times; the projections are rebuilt
by applying the decoded events, exactly as ``grantledger replay`` does.  Everything happens in one
transaction under the append lock: a broken chain, an unreadable line or an event the projector
cannot apply refuses the whole file and writes nothing.

What the file does not carry: API tokens and idempotency keys (configuration and caching, not
ledger history).  What the chain does not prove: the file's completeness at its end (a file
cut after a whole line is a valid shorter log) and the absence of a recomputed chain (the hash
is unkeyed); compare the head position and hash the export reports with the imported ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.db import write_transaction
from ledger.domain.events import decode
from ledger.errors import Conflict, InvalidInput, LedgerError
from ledger.projections.projector import ProjectionError, apply
from ledger.projections.tables import LIVE, ProjectionTables
from ledger.store import GENESIS_HASH, EventStore, StoredEvent
from ledger.store.chain import format_recorded_at
from ledger.store.eventstore import check_event as check_link
from ledger.store.schema import events

# Events inserted and projected per statement batch; the transaction spans the whole file.
BATCH = 2000

FIELDS = (
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

Progress = Callable[[int, int], None]  # (events so far, bytes so far)


@dataclass(frozen=True, slots=True)
class BackupSummary:
    events: int
    head_position: int
    head_hash: str
    bytes: int


class ImportRefused(InvalidInput):
    """The file cannot be imported; nothing was written."""

    code = "import-refused"
    title = "Import refused"


class BrokenChainInFile(ImportRefused):
    code = "broken-chain-in-file"
    title = "The file's hash chain is broken"

    def __init__(self, line: int, position: int | None, reason: str) -> None:
        super().__init__(
            f"line {line}"
            + (f" (position {position})" if position is not None else "")
            + f": {reason}; nothing was imported",
            line=line,
            position=position,
            reason=reason,
        )
        self.line = line
        self.position = position
        self.reason = reason


class UnreadableLine(ImportRefused):
    code = "unreadable-line"
    title = "A line of the file is not an event"

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}; nothing was imported", line=line, reason=reason)
        self.line = line
        self.reason = reason


class TargetNotEmpty(Conflict):
    code = "target-not-empty"
    title = "The target database is not empty"


# --- export --------------------------------------------------------------------------------


def event_to_json(e: StoredEvent) -> bytes:
    """One line of the export (without its newline).

    Fields in table order, keys inside ``data`` and ``meta`` sorted: the same events give the
    same bytes whichever database they come from (PostgreSQL's JSONB keeps its own key order).
    """
    fields: dict[str, Any] = {
        "position": e.position,
        "stream_id": e.stream_id,
        "stream_version": e.stream_version,
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "data": e.data,
        "meta": e.meta,
        "effective_date": e.effective_date.isoformat() if e.effective_date else None,
        "recorded_at": format_recorded_at(e.recorded_at),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }
    return (
        b"{"
        + b",".join(
            orjson.dumps(k) + b":" + orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
            for k, v in fields.items()
        )
        + b"}"
    )


def export_events(
    engine: Engine,
    out: IO[bytes],
    *,
    store: EventStore | None = None,
    progress: Progress | None = None,
) -> BackupSummary:
    """Write every event as a JSON line to ``out``, streamed, in position order."""
    store = store or EventStore()
    count, written, head, head_hash = 0, 0, 0, GENESIS_HASH
    for e in store.iter_all(engine):
        line = event_to_json(e) + b"\n"
        out.write(line)
        count += 1
        written += len(line)
        head, head_hash = e.position, e.hash
        if progress is not None and count % 1000 == 0:
            progress(count, written)
    out.flush()
    if progress is not None:
        progress(count, written)
    return BackupSummary(count, head, head_hash, written)


# --- import --------------------------------------------------------------------------------


def _parse(line_no: int, raw: bytes) -> StoredEvent:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise UnreadableLine(line_no, f"not JSON ({e})") from e
    if not isinstance(obj, dict):
        raise UnreadableLine(line_no, "not a JSON object")
    missing = [f for f in FIELDS if f not in obj]
    extra = sorted(set(obj) - set(FIELDS))
    if missing or extra:
        raise UnreadableLine(
            line_no,
            "fields "
            + (f"missing: {', '.join(missing)}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unknown: {', '.join(extra)}" if extra else ""),
        )
    try:
        recorded_at = datetime.fromisoformat(_text(obj, "recorded_at"))
        if recorded_at.tzinfo is None:
            raise ValueError("recorded_at must name its time zone (UTC, ending in Z)")
        effective = obj["effective_date"]
        event = StoredEvent(
            position=_int(obj, "position"),
            stream_id=_text(obj, "stream_id"),
            stream_version=_int(obj, "stream_version"),
            event_type=_text(obj, "event_type"),
            schema_version=_int(obj, "schema_version"),
            data=_object(obj, "data"),
            meta=_object(obj, "meta"),
            effective_date=None if effective is None else date.fromisoformat(effective),
            recorded_at=recorded_at.astimezone(UTC),
            prev_hash=_text(obj, "prev_hash"),
            hash=_text(obj, "hash"),
        )
    except (TypeError, ValueError) as e:
        raise UnreadableLine(line_no, str(e)) from e
    return event


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} must be an integer")
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string")
    return value


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj[key]
    if not isinstance(value, dict):
        raise TypeError(f"{key} must be an object")
    return value


def read_checked(lines: Iterable[bytes]) -> Iterator[tuple[int, StoredEvent]]:
    """(line number, event) for each non-blank line, the chain checked as they come."""
    expected, prev = 1, GENESIS_HASH
    versions: dict[str, int] = {}
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        e = _parse(line_no, raw)
        bad = check_link(e, expected, prev)
        if bad is not None:
            raise BrokenChainInFile(line_no, bad[0], bad[1])
        last = versions.get(e.stream_id, 0)
        if e.stream_version != last + 1:
            raise BrokenChainInFile(
                line_no,
                e.position,
                f"stream {e.stream_id!r} jumps from version {last} to {e.stream_version}",
            )
        versions[e.stream_id] = e.stream_version
        yield line_no, e
        expected, prev = expected + 1, e.hash


def _ensure_empty(conn: Connection, tables: ProjectionTables) -> None:
    for table in (events, *tables.all()):
        if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
            raise TargetNotEmpty(
                f"table {table.name!r} has rows: import events only into an empty database "
                "(a fresh one, after `grantledger db upgrade`)",
                table=table.name,
            )


def _row(e: StoredEvent) -> dict[str, Any]:
    return {f: getattr(e, f) for f in FIELDS}


def import_events(
    engine: Engine,
    lines: Iterable[bytes],
    *,
    store: EventStore | None = None,
    tables: ProjectionTables = LIVE,
    progress: Progress | None = None,
) -> BackupSummary:
    """Read an export into an empty database, all or nothing, and rebuild the projections."""
    store = store or EventStore()
    count, read, head, head_hash = 0, 0, 0, GENESIS_HASH

    def counted(source: Iterable[bytes]) -> Iterator[bytes]:
        nonlocal read
        for raw in source:
            read += len(raw)
            yield raw

    with write_transaction(engine) as conn:
        store.lock(conn)  # no writer may append while the log is laid down
        _ensure_empty(conn, tables)
        batch: list[tuple[int, StoredEvent]] = []

        def flush() -> None:
            nonlocal count
            if not batch:
                return
            conn.execute(events.insert(), [_row(e) for _, e in batch])
            decoded = []
            for line_no, e in batch:
                try:
                    decoded.append(decode(e.event_type, e.schema_version, e.data))
                except LedgerError as err:
                    raise UnreadableLine(line_no, f"position {e.position}: {err.detail}") from err
            try:
                apply(conn, tables, [e for _, e in batch], decoded)
            except ProjectionError as err:
                raise ImportRefused(f"{err}; nothing was imported") from err
            count += len(batch)
            batch.clear()
            if progress is not None:
                progress(count, read)

        for line_no, e in read_checked(counted(lines)):
            batch.append((line_no, e))
            head, head_hash = e.position, e.hash
            if len(batch) >= BATCH:
                flush()
        flush()
    if progress is not None:
        progress(count, read)
    return BackupSummary(count, head, head_hash, read)
