"""The hash chain: canonical JSON of an event and sha256 over the previous hash and it.

``hash = sha256(prev_hash ‖ canonical_json(event))`` where the event is every column an auditor
relies on (position, stream, version, type, schema version, data, meta, effective date and
recorded time), so changing any of them, or deleting or inserting a row, breaks the chain.

This module is the one place the chain is computed and checked: ``event_hash`` for an append,
``content_matches`` and ``check`` for every row read back in order (verify, import).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8; amounts are already integers in öre."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def format_recorded_at(ts: datetime) -> str:
    """One spelling of a UTC instant, whatever the driver hands back (naive on SQLite)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hashed_body(
    *,
    position: int,
    stream_id: str,
    stream_version: int,
    event_type: str,
    schema_version: int,
    data: Any,
    meta: Any,
    effective_date: date | None,
    recorded_at: str,
) -> dict[str, Any]:
    """The hashed form of an event; ``recorded_at`` as ``format_recorded_at`` spells it."""
    return {
        "position": position,
        "stream_id": stream_id,
        "stream_version": stream_version,
        "event_type": event_type,
        "schema_version": schema_version,
        "data": data,
        "meta": meta,
        "effective_date": effective_date.isoformat() if effective_date else None,
        "recorded_at": recorded_at,
    }


def event_hash(prev_hash: str, body: dict[str, Any]) -> str:
    h = hashlib.sha256(prev_hash.encode("ascii"))
    h.update(canonical_json(body))
    return h.hexdigest()


def content_matches(digest: str, prev_hash: str, body: dict[str, Any]) -> bool:
    """Whether a row's hash is the hash of its hashed form after ``prev_hash``."""
    return event_hash(prev_hash, body) == digest


@dataclass(frozen=True, slots=True)
class Fault:
    """The first position where the chain does not hold, and why, in an auditor's words."""

    position: int
    reason: str

    @classmethod
    def missing(cls, position: int, next_position: int | None = None) -> Fault:
        seen = f" (next row is {next_position})" if next_position is not None else ""
        return cls(position, f"position {position} is missing{seen}: an event was deleted")

    @classmethod
    def unlinked(cls, position: int) -> Fault:
        return cls(position, f"position {position} does not link to the previous event")

    @classmethod
    def altered(cls, position: int) -> Fault:
        return cls(position, f"position {position} was altered: its hash does not match")


def check(
    *, position: int, expected: int, prev_hash: str, previous: str, sealed: bool
) -> Fault | None:
    """The rule for one row read in position order, after ``expected - 1`` whose hash was
    ``previous``: no gap, a link to that row, and a hash that matches the row (``sealed``)."""
    if position != expected:
        return Fault.missing(expected, position)
    if prev_hash != previous:
        return Fault.unlinked(position)
    if not sealed:
        return Fault.altered(position)
    return None
