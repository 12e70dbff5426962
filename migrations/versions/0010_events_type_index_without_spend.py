"""The events-by-type index without spend lines (PostgreSQL).

``ix_events_type_position`` serves ``GET /v1/events?type=…`` for the rare types (a grant's
planning, its receipts, closed periods): there it finds a type's events without walking the
log.  Spend lines are nearly every event, so a query for them reads the log in position order
anyway (the primary key; the planner picks it whether or not they are indexed), and their
entries cost every spend line one more index insert under the append lock (≈ 0.7 ms of the
server's time per 500 lines, a sixth of the events table's insert).  On PostgreSQL the index
now leaves them out (a partial index, used for any type other than ``SpendRecorded``); SQLite
keeps the whole index, since its planner uses a partial one only for a query that repeats its
condition.

Revision ID: 0010_type_index
Revises: 0009_lines
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_type_index"
down_revision: str | None = "0009_lines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_events_type_position"
NOT_SPEND = sa.text("event_type <> 'SpendRecorded'")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="events")
    op.create_index(INDEX, "events", ["event_type", "position"], postgresql_where=NOT_SPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="events")
    op.create_index(INDEX, "events", ["event_type", "position"])
