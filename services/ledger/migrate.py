"""Run Alembic from inside grantledger: upgrade, and ask whether the schema is at head."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from ledger.db import translate_errors

_REPO_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def alembic_config() -> Config:
    ini = Path(os.environ.get("GRANTLEDGER_ALEMBIC_INI", _REPO_INI))
    return Config(str(ini))


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def is_at_head(engine: Engine) -> bool:
    with translate_errors(), engine.connect() as conn:
        return current_revision(conn) == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with translate_errors(), engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
