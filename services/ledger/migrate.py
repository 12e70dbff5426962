"""Run Alembic from inside grantledger: upgrade, and ask whether the schema is at head.

Alembic is imported inside the functions: the API server's workers import this module (for
``/readyz``) and should not carry Alembic's ≈ 20 MB until a readiness check asks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection, Engine

from ledger.db import translate_errors

if TYPE_CHECKING:
    from alembic.config import Config

_REPO_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def alembic_config() -> Config:
    from alembic.config import Config

    ini = Path(os.environ.get("GRANTLEDGER_ALEMBIC_INI", _REPO_INI))
    return Config(str(ini))


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def is_at_head(engine: Engine) -> bool:
    with translate_errors(), engine.connect() as conn:
        return current_revision(conn) == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    cfg = alembic_config()
    with translate_errors(), engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (each migration's ``downgrade``, newest first)."""
    from alembic import command

    cfg = alembic_config()
    with translate_errors(), engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()
