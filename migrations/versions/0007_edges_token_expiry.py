"""API tokens may expire; the app role may read the schema version.

A token may carry an optional expiry instant, set when it is made; a token without one (every
token made before this migration) never expires, as before.  On PostgreSQL ``grantledger_app``
may read ``alembic_version``: readiness (``/readyz``) asks whether the schema is at head, and the
API now serves as a login of that role (docker-compose.yml), not as the owner.

Revision ID: 0007_edges
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_edges"
down_revision: str | None = "0004_sie"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT ON alembic_version TO grantledger_app")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("REVOKE SELECT ON alembic_version FROM grantledger_app")
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("expires_at")
