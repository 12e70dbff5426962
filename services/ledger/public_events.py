"""An event's public shape: what `GET /v1/events` answers and what the relay publishes.

One function, so every place that shows an event to the outside (the audit API, the NATS relay,
exports meant for other systems) shows the same thing: money as every answer has it, kronor as
a string with two decimals (rule 8).  The stored form (integers in öre, and the hash chain over
it) stays internal and unchanged.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.money import format_money
from ledger.store import StoredEvent

# The fields of events (and of the records inside them: areas, releases) that hold money in öre.
# Every other integer of an event is a count or a year; tests/unit/test_public_events.py checks
# that each int field of each event type is named here or there.
MONEY_FIELDS = frozenset({"amount", "awarded", "previous"})
NOT_MONEY_FIELDS = frozenset({"year"})


def public_event(e: StoredEvent) -> dict[str, Any]:
    """The event as clients see it, JSON-ready (dates and instants as ISO 8601 text)."""
    return {
        "position": e.position,
        "stream_id": e.stream_id,
        "stream_version": e.stream_version,
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "data": public_data(e.data),
        "meta": e.meta,
        "effective_date": e.effective_date.isoformat() if e.effective_date else None,
        "recorded_at": e.recorded_at.isoformat(),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def public_data(data: Any) -> Any:
    """Stored event data with its money in kronor strings, nested records included."""
    if isinstance(data, dict):
        return {
            key: format_money(value)
            if key in MONEY_FIELDS and isinstance(value, int) and not isinstance(value, bool)
            else public_data(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [public_data(item) for item in data]
    return data
