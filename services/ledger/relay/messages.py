"""What the relay sends: a subject, headers and a body per event, and per signed checkpoint."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ledger.store import StoredEvent
from ledger.store.checkpoint import SignedCheckpoint

# The body of an event: exactly what GET /v1/events shows (the API layer supplies it).
Render = Callable[[StoredEvent], bytes]

MSG_ID = "Nats-Msg-Id"
POSITION = "Grantledger-Position"
TYPE = "Grantledger-Type"
HASH = "Grantledger-Hash"
CHECKPOINT_TYPE = "Checkpoint"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def subject_token(stream_id: str) -> str:
    """A stream id as one subject token ('.', '*', '>' and spaces would split or match)."""
    return _UNSAFE.sub("_", stream_id) or "_"


@dataclass(frozen=True, slots=True)
class Outgoing:
    subject: str
    body: bytes
    headers: dict[str, str]
    position: int
    hash: str

    @property
    def msg_id(self) -> str:
        return self.headers[MSG_ID]

    @classmethod
    def of_event(cls, e: StoredEvent, *, prefix: str, render: Render) -> Outgoing:
        return cls(
            subject=f"{prefix}.events.{subject_token(e.stream_id)}",
            body=render(e),
            headers={
                MSG_ID: str(e.position),
                POSITION: str(e.position),
                TYPE: e.event_type,
                HASH: e.hash,
            },
            position=e.position,
            hash=e.hash,
        )

    @classmethod
    def of_checkpoint(cls, signed: SignedCheckpoint, *, prefix: str) -> Outgoing:
        cp = signed.checkpoint
        return cls(
            subject=f"{prefix}.checkpoints",
            body=signed.to_json(),
            headers={
                MSG_ID: checkpoint_msg_id(cp.position),
                POSITION: str(cp.position),
                TYPE: CHECKPOINT_TYPE,
                HASH: cp.hash,
            },
            position=cp.position,
            hash=cp.hash,
        )


def checkpoint_msg_id(position: int) -> str:
    return f"checkpoint-{position}"
