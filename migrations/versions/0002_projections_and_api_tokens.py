"""Projections (derived from events, rebuilt by replay) and API tokens.

The application role may change projections (they are derived state) but never ``events``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:05:25.425182
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account_balances',
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=200), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('grant_id', 'account', name=op.f('pk_account_balances'))
    )
    op.create_table('activities',
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('area', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('responsible', sa.String(length=500), nullable=False),
    sa.Column('new_activity', sa.Boolean(), nullable=False),
    sa.Column('exit_plan', sa.Text(), nullable=True),
    sa.Column('decision', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('grant_id', 'code', name=op.f('pk_activities'))
    )
    op.create_table('api_tokens',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('areas',
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('cost_object', sa.String(length=64), nullable=False),
    sa.Column('responsible', sa.String(length=500), nullable=False),
    sa.Column('ring_fenced', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('grant_id', 'code', name=op.f('pk_areas'))
    )
    op.create_table('closed_periods',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_closed_periods'))
    )
    op.create_table('cost_object_routes',
    sa.Column('cost_object', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('spend_from', sa.Date(), nullable=False),
    sa.Column('spend_to', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('cost_object', 'grant_id', name=op.f('pk_cost_object_routes'))
    )
    op.create_table('grants',
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('funder', sa.String(length=500), nullable=False),
    sa.Column('decision', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('spend_from', sa.Date(), nullable=False),
    sa.Column('spend_to', sa.Date(), nullable=False),
    sa.Column('repayment_reference', sa.String(length=200), nullable=True),
    sa.Column('reporting', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('closed_years', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('grant_id', name=op.f('pk_grants'))
    )
    op.create_table('postings',
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('seq', sa.SmallInteger(), nullable=False),
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('position', 'seq', name=op.f('pk_postings'))
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_grant_date', ['grant_id', 'effective_date'], unique=False)

    op.create_table('spend_lines',
    sa.Column('transaction_id', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('line_id', sa.String(length=200), nullable=True),
    sa.Column('voucher', sa.String(length=200), nullable=True),
    sa.Column('booked_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('cost_object', sa.String(length=64), nullable=False),
    sa.Column('area', sa.String(length=64), nullable=True),
    sa.Column('activity', sa.String(length=64), nullable=True),
    sa.Column('account', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.String(length=1000), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reversal_of', sa.String(length=64), nullable=True),
    sa.Column('reversed_by', sa.String(length=64), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('transaction_id', name=op.f('pk_spend_lines')),
    sa.UniqueConstraint('line_id', 'source', name='uq_spend_lines_natural_key')
    )
    with op.batch_alter_table('spend_lines', schema=None) as batch_op:
        batch_op.create_index('ix_spend_lines_cost_object', ['cost_object'], unique=False)
        batch_op.create_index('ix_spend_lines_grant', ['grant_id', 'position'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON account_balances, activities, api_tokens, "
            "areas, closed_periods, cost_object_routes, grants, postings, spend_lines "
            "TO grantledger_app"
        )


def downgrade() -> None:
    with op.batch_alter_table('spend_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_spend_lines_grant')
        batch_op.drop_index('ix_spend_lines_cost_object')

    op.drop_table('spend_lines')
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index('ix_postings_grant_date')

    op.drop_table('postings')
    op.drop_table('grants')
    op.drop_table('cost_object_routes')
    op.drop_table('closed_periods')
    op.drop_table('areas')
    op.drop_table('api_tokens')
    op.drop_table('activities')
    op.drop_table('account_balances')
