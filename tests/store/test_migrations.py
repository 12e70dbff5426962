"""Alembic owns the schema: the migrations produce exactly the tables the code uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from ledger import migrate
from ledger.schema import metadata


def test_migrations_match_the_code_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_reaches_head(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.is_at_head(engine)
