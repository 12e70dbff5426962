"""Day sums per movement (source → target) instead of per account: half the rows per batch.

An as-of balance sums, per account, what moved in and out of it up to a day.  Kept per account
(``daily_balances``), every spend line upserts two rows (its budget's and its spend's); kept per
movement (``daily_transfers``), one.  The upgrade fills the new table from the postings already
recorded, so an existing ledger answers as-of questions the same before and after; the
downgrade rebuilds the per-account table the same way.

Revision ID: 0008_days
Revises: 0005_write
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_days"
down_revision: str | None = "0005_write"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL_TRANSFERS = """
INSERT INTO daily_transfers (grant_id, source, target, day, amount)
SELECT grant_id, source, target, effective_date, SUM(amount) FROM postings
GROUP BY grant_id, source, target, effective_date
"""

FILL_BALANCES = """
INSERT INTO daily_balances (grant_id, account, day, delta)
SELECT grant_id, account, day, SUM(amount) FROM (
    SELECT grant_id, target AS account, effective_date AS day, amount FROM postings
    UNION ALL
    SELECT grant_id, source AS account, effective_date AS day, -amount FROM postings
) AS legs
GROUP BY grant_id, account, day
"""


def _grant(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO grantledger_app")


def upgrade() -> None:
    op.create_table(
        "daily_transfers",
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "grant_id", "source", "target", "day", name=op.f("pk_daily_transfers")
        ),
    )
    op.execute(FILL_TRANSFERS)
    _grant("daily_transfers")
    op.drop_table("daily_balances")


def downgrade() -> None:
    op.create_table(
        "daily_balances",
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", "account", "day", name=op.f("pk_daily_balances")),
    )
    op.execute(FILL_BALANCES)
    _grant("daily_balances")
    op.drop_table("daily_transfers")
