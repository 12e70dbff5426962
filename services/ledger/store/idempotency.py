"""Idempotency keys: (scope, key) → the request's hash and the answer given the first time.

The answer is stored in the same transaction as the events it reports, so a retry after a crash
finds either both or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import IdempotencyKeyReused
from ledger.store.schema import idempotency_keys


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: bytes


def lookup(conn: Connection, scope: str, key: str, request_hash: str) -> StoredAnswer | None:
    """The stored answer for this key, None if new; raises if the key came with another body."""
    row = conn.execute(
        sa.select(
            idempotency_keys.c.request_hash,
            idempotency_keys.c.status_code,
            idempotency_keys.c.body,
        ).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused(key)
    return StoredAnswer(row.status_code, bytes(row.body))


def remember(
    conn: Connection, scope: str, key: str, request_hash: str, answer: StoredAnswer
) -> None:
    conn.execute(
        idempotency_keys.insert().values(
            scope=scope,
            key=key,
            request_hash=request_hash,
            status_code=answer.status_code,
            body=answer.body,
            created_at=datetime.now(UTC),
        )
    )
