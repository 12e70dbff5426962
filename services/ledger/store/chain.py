"""The hash chain: canonical JSON of an event and sha256 over the previous hash and it.

``hash = sha256(prev_hash ‖ canonical_json(event))`` where the event is every column an auditor
relies on (position, stream, version, type, schema version, data, meta, effective date and
recorded time), so changing any of them, or deleting or inserting a row, breaks the chain.
"""

from __future__ import annotations

import hashlib
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
