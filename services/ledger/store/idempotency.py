"""Idempotency keys: (scope, key) → the request's hash and the answer given the first time.

The answer is stored in the same transaction as the events it reports, so a retry after a crash
finds either both or neither.  It is stored compactly: the status, the headers a replay must
carry (the ETag) and the body deflated.  The body itself is bounded by the request limits (lines
per batch, lines and skipped lines per SIE file), so no stored answer is larger than a deflated
answer to the largest request the API accepts.

Keys are kept for a retention (``GRANTLEDGER_IDEMPOTENCY_RETENTION_DAYS``, 30 days by default):
a retry within it always replays; afterwards ``expire`` may forget the key, and the same key is
then a new request.  Spend lines stay exactly-once beyond it through their natural key.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import IdempotencyKeyReused
from ledger.store.schema import idempotency_keys

DEFAULT_RETENTION = timedelta(days=30)
_DEFLATE = "deflate"


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def lookup(conn: Connection, scope: str, key: str, request_hash: str) -> StoredAnswer | None:
    """The stored answer for this key, None if new; raises if the key came with another body."""
    c = idempotency_keys.c
    row = conn.execute(
        sa.select(c.request_hash, c.status_code, c.body, c.body_encoding, c.headers).where(
            c.scope == scope, c.key == key
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused(key)
    body = bytes(row.body)
    if row.body_encoding == _DEFLATE:
        body = zlib.decompress(body)
    return StoredAnswer(row.status_code, body, dict(row.headers or {}))


def remember_all(
    conn: Connection, answers: Mapping[tuple[str, str], tuple[str, StoredAnswer]]
) -> None:
    """Store the answers of one transaction's keyed commands in one statement."""
    if not answers:
        return
    now = datetime.now(UTC)
    conn.execute(
        idempotency_keys.insert(),
        [
            _row(scope, key, request_hash, answer, now)
            for (scope, key), (request_hash, answer) in answers.items()
        ],
    )


def _row(
    scope: str, key: str, request_hash: str, answer: StoredAnswer, now: datetime
) -> dict[str, Any]:
    return {
        "scope": scope,
        "key": key,
        "request_hash": request_hash,
        "status_code": answer.status_code,
        # Level 1: answers are mostly ids and names; it takes most of the gain at little cost.
        "body": zlib.compress(answer.body, 1),
        "body_encoding": _DEFLATE,
        "headers": dict(answer.headers),
        "created_at": now,
    }


def expire(conn: Connection, retention: timedelta, now: datetime | None = None) -> int:
    """Forget keys older than ``retention``; returns how many."""
    cutoff = (now or datetime.now(UTC)) - retention
    result = conn.execute(idempotency_keys.delete().where(idempotency_keys.c.created_at < cutoff))
    return int(result.rowcount or 0)
