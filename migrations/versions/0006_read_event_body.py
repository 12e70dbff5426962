"""Events keep the canonical text their hash was computed over, so the database checks the chain.

``GET /v1/audit/verify`` and ``grantledger verify`` then hash in PostgreSQL instead of
re-serialising every event in Python.  Rows already stored keep ``body`` NULL (the append-only
triggers forbid filling it in, and rightly): they are checked from their columns as before.

Revision ID: 0006_read
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_read"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("body", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER on both (SQLite ≥ 3.35): a batch copy would lose the append-only triggers.
    op.execute("ALTER TABLE events DROP COLUMN body")
