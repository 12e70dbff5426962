"""Tables of the event store, as SQLAlchemy Core metadata.

Alembic owns the schema (``migrations/``); these definitions are what the code reads and writes
with, and what the migrations were written from.  Naming conventions make constraint names stable
on both databases, so later migrations can refer to them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# JSONB on PostgreSQL so auditors can query inside events; JSON text on SQLite.
Json = sa.JSON().with_variant(JSONB(), "postgresql")
# A 64-bit position that is SQLite's rowid there (INTEGER PRIMARY KEY), BIGINT elsewhere.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("stream_id", sa.String(200), nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("meta", Json, nullable=False),
    sa.Column("effective_date", sa.Date, nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    sa.Index("ix_events_stream_position", "stream_id", "position"),
    # Without spend lines on PostgreSQL (migration 0010): a query for them reads the log.
    sa.Index(
        "ix_events_type_position",
        "event_type",
        "position",
        postgresql_where=sa.text("event_type <> 'SpendRecorded'"),
    ),
)

# Idempotency-Key → the answer given the first time (DESIGN §2).
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.SmallInteger, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # "deflate", or NULL for a body stored as sent (keys stored before migration 0005).
    sa.Column("body_encoding", sa.String(16), nullable=True),
    # The headers a replay must carry again (the ETag), so the body is never parsed for them.
    sa.Column("headers", Json, nullable=True),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)
