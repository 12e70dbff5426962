"""The tokens table (configuration, not ledger history: tokens are not events)."""

from __future__ import annotations

import sqlalchemy as sa

from ledger.store.schema import metadata

tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    # sha256 of the token: the token itself is shown once and never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    # Refused from this instant on; NULL: never expires.
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
)
