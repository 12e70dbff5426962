"""The JetStream side: the stream made if missing, and what it already holds (its tail)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from ledger.errors import Conflict
from ledger.relay.config import RelaySettings
from ledger.relay.messages import HASH, MSG_ID, POSITION
from ledger.store.chain import GENESIS_HASH


class StreamMismatch(Conflict):
    """The stream holds something the ledger does not (another ledger's, or a rewritten chain)."""

    code = "relay-stream-mismatch"
    title = "The stream and the ledger disagree"


@dataclass(frozen=True, slots=True)
class Tail:
    """The stream's last message as the relay needs it: where to resume and what to link to."""

    seq: int
    msg_id: str | None
    position: int
    hash: str


EMPTY = Tail(seq=0, msg_id=None, position=0, hash=GENESIS_HASH)


def stream_config(settings: RelaySettings) -> StreamConfig:
    return StreamConfig(
        name=settings.nats_stream,
        subjects=[f"{settings.events_subject}.>", settings.checkpoints_subject],
        description="grantledger events in position order, and signed checkpoints",
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,  # kept for every consumer to replay; no limits set
        discard=DiscardPolicy.OLD,
        duplicate_window=settings.nats_duplicate_window,
    )


async def ensure_stream(js: JetStreamContext, settings: RelaySettings) -> None:
    """Create the stream when it is missing; refuse one that does not take our subjects."""
    wanted = stream_config(settings)
    try:
        info = await js.stream_info(settings.nats_stream)
    except NotFoundError:
        await js.add_stream(wanted)
        return
    have = set(info.config.subjects or [])
    if have != set(wanted.subjects or []):
        raise StreamMismatch(
            f"stream {settings.nats_stream} takes subjects {sorted(have)}, not "
            f"{wanted.subjects}: give each ledger its own stream (GRANTLEDGER_NATS_STREAM)",
            stream=settings.nats_stream,
        )


async def tail(js: JetStreamContext, settings: RelaySettings) -> Tail:
    """The last message of the stream: the last position it acknowledged, and that hash."""
    info = await js.stream_info(settings.nats_stream)
    last = info.state.last_seq
    if info.state.messages == 0:
        return Tail(seq=last, msg_id=None, position=0, hash=GENESIS_HASH)
    msg = await js.get_msg(settings.nats_stream, seq=last)
    headers = msg.headers or {}
    try:
        return Tail(
            seq=last,
            msg_id=headers[MSG_ID],
            position=int(headers[POSITION]),
            hash=headers[HASH],
        )
    except (KeyError, ValueError) as e:
        raise StreamMismatch(
            f"the last message of stream {settings.nats_stream} (sequence {last}) is not "
            f"one the relay wrote: no {e} header",
            stream=settings.nats_stream,
        ) from e
