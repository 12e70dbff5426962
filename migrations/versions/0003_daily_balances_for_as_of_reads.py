"""Daily balances: postings summed per booking date, so as-of reads stay fast at any size.

The table is a projection like the others; the upgrade fills it from the postings already
recorded, so an existing ledger answers as-of questions the same before and after.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
INSERT INTO daily_balances (grant_id, account, day, delta)
SELECT grant_id, account, day, SUM(amount) FROM (
    SELECT grant_id, target AS account, effective_date AS day, amount FROM postings
    UNION ALL
    SELECT grant_id, source AS account, effective_date AS day, -amount FROM postings
) AS legs
GROUP BY grant_id, account, day
"""


def upgrade() -> None:
    op.create_table(
        "daily_balances",
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", "account", "day", name=op.f("pk_daily_balances")),
    )
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON daily_balances TO grantledger_app")


def downgrade() -> None:
    op.drop_table("daily_balances")
