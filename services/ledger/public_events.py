"""An event's public shape: what `GET /v1/events` answers and what the relay publishes.

One function, so every place that shows an event to the outside (the audit API, the NATS relay,
exports meant for other systems) shows the same thing.  The stored form (and the hash chain
over it) stays internal.
"""

from __future__ import annotations

from typing import Any

from ledger.store import StoredEvent


def public_event(e: StoredEvent) -> dict[str, Any]:
    """The event as clients see it, JSON-ready (dates and instants as ISO 8601 text)."""
    return {
        "position": e.position,
        "stream_id": e.stream_id,
        "stream_version": e.stream_version,
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "data": e.data,
        "meta": e.meta,
        "effective_date": e.effective_date.isoformat() if e.effective_date else None,
        "recorded_at": e.recorded_at.isoformat(),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }
