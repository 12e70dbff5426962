"""Signed checkpoints: what the chain looked like at one position, signed outside the database.

The hash chain is unkeyed: a superuser who disables the trigger can edit an event and recompute
every later hash, or delete the last events, and the chain still verifies.  A checkpoint —
``{position, hash of that event, recorded_at, event count}`` as canonical JSON, signed with an
Ed25519 key the database never sees — fixes the chain up to its position: verifying it walks
the chain from position 1 to that position and demands it ends in exactly the signed hash.
A rewritten chain ends in another hash; deleted last events leave the position missing.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Connection, Engine

from ledger.errors import InvalidInput
from ledger.store import verify as chain_walk
from ledger.store.chain import canonical_json, format_recorded_at
from ledger.store.eventstore import EventStore, StoredEvent
from ledger.store.keys import key_id
from ledger.store.schema import events

ALGORITHM = "Ed25519"


class BadCheckpoint(InvalidInput):
    code = "bad-checkpoint"
    title = "Malformed checkpoint"


class ChainBroken(InvalidInput):
    code = "chain-broken"
    title = "The chain does not verify"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    position: int
    hash: str
    recorded_at: str  # as the chain spells it (format_recorded_at)
    event_count: int

    @classmethod
    def of(cls, event: StoredEvent, *, event_count: int) -> Checkpoint:
        return cls(
            position=event.position,
            hash=event.hash,
            recorded_at=format_recorded_at(event.recorded_at),
            event_count=event_count,
        )

    def canonical(self) -> bytes:
        """The signed bytes: sorted keys, no spaces, UTF-8 (the chain's own canonical JSON)."""
        return canonical_json(asdict(self))


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    key_id: str
    signature: str  # base64 of the 64-byte Ed25519 signature over checkpoint.canonical()

    def to_json(self) -> bytes:
        return orjson.dumps(self.document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    def document(self) -> dict[str, Any]:
        return {
            "checkpoint": asdict(self.checkpoint),
            "algorithm": ALGORITHM,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def parse(cls, raw: bytes | dict[str, Any]) -> SignedCheckpoint:
        try:
            doc = orjson.loads(raw) if isinstance(raw, bytes) else raw
            body = doc["checkpoint"]
            checkpoint = Checkpoint(
                position=_int(body["position"]),
                hash=_text(body["hash"]),
                recorded_at=_text(body["recorded_at"]),
                event_count=_int(body["event_count"]),
            )
            if doc.get("algorithm", ALGORITHM) != ALGORITHM:
                raise BadCheckpoint(f"algorithm {doc['algorithm']!r} is not {ALGORITHM}")
            return cls(checkpoint, _text(doc["key_id"]), _text(doc["signature"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise BadCheckpoint(
                "not a signed checkpoint: expected {checkpoint: {position, hash, recorded_at, "
                f"event_count}}, key_id, signature}} ({type(e).__name__}: {e})"
            ) from e


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{v!r} is not a position or count (an integer ≥ 1)")
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{v!r} is not text")
    return v


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> SignedCheckpoint:
    signature = key.sign(checkpoint.canonical())
    return SignedCheckpoint(
        checkpoint, key_id(key.public_key()), base64.b64encode(signature).decode("ascii")
    )


def take(engine: Engine, store: EventStore | None = None) -> Checkpoint:
    """The checkpoint at the head, after verifying the whole chain (never sign a broken one)."""
    store = store or EventStore()
    result = store.verify(engine)
    if not result.ok:
        raise ChainBroken(
            f"chain broken at position {result.first_bad_position}: {result.reason}",
            position=result.first_bad_position,
        )
    if result.head_position == 0:
        raise InvalidInput("the ledger has no events yet: nothing to sign")
    with engine.connect() as conn:
        [event] = store.read_page(conn, after=result.head_position - 1, limit=1)
    return Checkpoint.of(event, event_count=result.checked)


def event_count(conn: Connection, position: int) -> int:
    """How many events there are up to a position (equal to it while the log is gap-free)."""
    query = sa.select(sa.func.count()).select_from(events).where(events.c.position <= position)
    return int(conn.execute(query).scalar_one())


@dataclass(frozen=True, slots=True)
class CheckpointVerdict:
    ok: bool
    position: int
    checked: int
    reason: str | None = None

    @classmethod
    def fails(cls, position: int, reason: str | None, *, checked: int = 0) -> CheckpointVerdict:
        return cls(ok=False, position=position, checked=checked, reason=reason)


def verify(
    engine: Engine,
    signed: SignedCheckpoint,
    key: Ed25519PublicKey,
    *,
    workers: int | None = None,
) -> CheckpointVerdict:
    """Holds only if the signature holds and the chain 1..position ends in the signed hash.

    ``workers`` as ``verify.walk`` takes it: 1 checks the chain on this thread and connection
    (what a request does); by default threads or processes as the chain's length asks.
    """
    cp = signed.checkpoint
    at = f"position {cp.position}"
    if signed.key_id != key_id(key):
        return CheckpointVerdict.fails(
            cp.position, f"{at}: signed by key {signed.key_id}, not by the given {key_id(key)}"
        )
    try:
        key.verify(base64.b64decode(signed.signature, validate=True), cp.canonical())
    except (InvalidSignature, binascii.Error, ValueError):
        return CheckpointVerdict.fails(cp.position, f"{at}: the signature does not hold")
    whole, _ = chain_walk.walk(engine, cp.position, workers=workers)
    if whole.bad_position is not None:
        return CheckpointVerdict.fails(whole.bad_position, whole.reason, checked=whole.checked)
    if whole.last_hash != cp.hash:
        return CheckpointVerdict.fails(
            cp.position,
            f"{at}: the chain ends in hash {whole.last_hash}, the checkpoint signed {cp.hash}: "
            "events up to it were rewritten",
            checked=whole.checked,
        )
    with engine.connect() as conn:
        count = event_count(conn, cp.position)
    if count != cp.event_count:
        return CheckpointVerdict.fails(
            cp.position,
            f"{at}: {count} events up to it, the checkpoint signed {cp.event_count}",
            checked=whole.checked,
        )
    return CheckpointVerdict(ok=True, position=cp.position, checked=whole.checked)
