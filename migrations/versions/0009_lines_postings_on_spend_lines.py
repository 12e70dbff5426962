"""A recorded spend line's posting kept on its ``spend_lines`` row, not in ``postings``.

A spend line moves money once (``accounts.transfers``), so its posting is three values (source,
target, when it was recorded) beside the line's own amount and booking date: kept there, a batch
writes one projection row per line instead of two.  Known-at balances and the Beancount export
read every posting through ``ProjectionTables.every_posting``.  The upgrade moves the existing
postings of recorded lines onto their rows; the downgrade moves them back.

Revision ID: 0009_lines
Revises: 0008_days
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_lines"
down_revision: str | None = "0008_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A recorded line's row has its event's position; its posting is the one posting there.
MOVE_ONTO_LINES = """
UPDATE spend_lines SET
    posted_source = (SELECT p.source FROM postings p WHERE p.position = spend_lines.position),
    posted_target = (SELECT p.target FROM postings p WHERE p.position = spend_lines.position),
    posted_at = (SELECT p.recorded_at FROM postings p WHERE p.position = spend_lines.position)
WHERE reversal_of IS NULL
"""
DROP_MOVED = """
DELETE FROM postings WHERE position IN (
    SELECT position FROM spend_lines WHERE posted_source IS NOT NULL
)
"""
MOVE_BACK = """
INSERT INTO postings (position, seq, grant_id, source, target, amount, effective_date, recorded_at)
SELECT position, 0, grant_id, posted_source, posted_target, ABS(amount), booked_on, posted_at
FROM spend_lines WHERE posted_source IS NOT NULL
"""


def upgrade() -> None:
    with op.batch_alter_table("spend_lines") as batch:
        batch.add_column(sa.Column("posted_source", sa.String(200), nullable=True))
        batch.add_column(sa.Column("posted_target", sa.String(200), nullable=True))
        batch.add_column(sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(MOVE_ONTO_LINES)
    op.execute(DROP_MOVED)


def downgrade() -> None:
    op.execute(MOVE_BACK)
    with op.batch_alter_table("spend_lines") as batch:
        batch.drop_column("posted_at")
        batch.drop_column("posted_target")
        batch.drop_column("posted_source")
