"""Compact idempotent answers that keep their headers, and an index to expire old keys by.

Answers stored before this migration keep their plain body (``body_encoding`` NULL) and carry
no headers: a replay of one reads its ETag from the body as before.

Revision ID: 0005_write
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005_write"
down_revision: str | None = "0007_edges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("body_encoding", sa.String(16), nullable=True))
        batch.add_column(sa.Column("headers", Json, nullable=True))
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("headers")
        batch.drop_column("body_encoding")
