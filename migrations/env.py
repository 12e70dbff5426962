"""Alembic environment: runs on the connection grantledger hands it, or on the configured URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import text

from ledger.db import create_engine
from ledger.schema import metadata

config = context.config
target_metadata = metadata

# Any constant: two servers starting at once must not both migrate.
_MIGRATION_LOCK_KEY = 0x6D6967726174


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(
        "GRANTLEDGER_DATABASE_URL", "sqlite:///grantledger.db"
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("grantledger migrations run online only: set GRANTLEDGER_DATABASE_URL")
run_migrations_online()
