"""The append-only event store: schema, hash chain, append, read and verify."""

from ledger.store.chain import GENESIS_HASH, canonical_json, event_hash
from ledger.store.eventstore import EventStore, NewEvent, StoredEvent, VerifyResult

__all__ = [
    "GENESIS_HASH",
    "EventStore",
    "NewEvent",
    "StoredEvent",
    "VerifyResult",
    "canonical_json",
    "event_hash",
]
