"""SIE line keys carry the fiscal year: "A-1-1" becomes "2022:A-1-1" in the spend_lines projection.

The events themselves are never changed (the hash chain covers them): ``SpendRecorded`` 1 -> 2 is
lifted on read by ``events.sie_line_id_v2``.  This migration brings the projection to what a
replay of the lifted events builds: the new key and the content hash computed over it, both
worked out from each line's own event (so a line classified since keeps its original digest).

Revision ID: 0004_sie
Revises: 0003
Create Date: 2026-12-01
"""

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.domain.events import SpendRecorded, decode, sie_line_id_v2
from ledger.projections.projector import line_digest

revision: str = "0004_sie"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_events = sa.table(
    "events",
    sa.column("event_type", sa.String),
    sa.column("schema_version", sa.SmallInteger),
    sa.column("data", sa.JSON),
)
_lines = sa.table(
    "spend_lines",
    sa.column("transaction_id", sa.String),
    sa.column("line_id", sa.String),
    sa.column("content_hash", sa.String),
)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_events.c.data).where(
            _events.c.event_type == "SpendRecorded", _events.c.schema_version == 1
        )
    )
    for (data,) in rows.all():
        if sie_line_id_v2(dict(data))["line_id"] == data["line_id"]:
            continue
        event = decode("SpendRecorded", 1, data)  # lifted: what a replay projects
        assert isinstance(event, SpendRecorded)
        conn.execute(
            _lines.update()
            .where(_lines.c.transaction_id == event.transaction_id)
            .values(line_id=event.line_id, content_hash=line_digest(event.source, event))
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_events.c.data).where(
            _events.c.event_type == "SpendRecorded", _events.c.schema_version == 1
        )
    )
    for (data,) in rows.all():
        if sie_line_id_v2(dict(data))["line_id"] == data["line_id"]:
            continue
        # The digest over the old key: the old code's own formula, on the unlifted fields.
        old = decode("SpendRecorded", 1, data)
        assert isinstance(old, SpendRecorded)
        unlifted = dataclasses.replace(old, line_id=data["line_id"])
        conn.execute(
            _lines.update()
            .where(_lines.c.transaction_id == data["transaction_id"])
            .values(line_id=data["line_id"], content_hash=line_digest(unlifted.source, unlifted))
        )
