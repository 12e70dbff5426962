"""The database login the API serves as: a member of ``grantledger_app``, nothing more.

Migration 0001 creates the NOLOGIN role ``grantledger_app`` and each migration grants it what the
application needs on its tables (SELECT and INSERT on ``events``; never UPDATE, DELETE or
TRUNCATE there).  ``grantledger db upgrade --app-login NAME``, run by the schema's owner, makes
(or updates) the login that inherits those grants, so the owner's credentials never reach the
server that faces clients.  Only PostgreSQL has roles.
"""

from __future__ import annotations

import re

from psycopg import sql
from sqlalchemy.engine import Engine

from ledger.db import translate_errors
from ledger.errors import InvalidInput

APP_ROLE = "grantledger_app"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Every privilege a login could carry beyond its grants, switched off.
_PLAIN = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"


def ensure_app_login(engine: Engine, name: str, password: str | None) -> None:
    """Create or update login ``name`` as a plain member of ``grantledger_app``."""
    if engine.dialect.name != "postgresql":
        raise InvalidInput("an app login is a PostgreSQL role; SQLite has none", field="app_login")
    if not _NAME.match(name) or name == APP_ROLE:
        raise InvalidInput(
            f"{name!r} cannot be the app login: lower-case letters, digits and _ "
            f"(and not {APP_ROLE} itself)",
            field="app_login",
        )
    with translate_errors(), engine.begin() as conn:
        found = conn.exec_driver_sql(
            "SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = %(name)s",
            {"name": name},
        ).first()
        if found is not None and (found[0] or found[1]):
            # Demoting the owner or a superuser here would lock the operator out.
            raise InvalidInput(
                f"{name!r} is a superuser or the owner running the migration: name a login "
                "of its own for the API",
                field="app_login",
            )
        raw = conn.connection.driver_connection
        role = sql.Identifier(name)
        if found is None:
            conn.exec_driver_sql(sql.SQL("CREATE ROLE {} " + _PLAIN).format(role).as_string(raw))
        alter = sql.SQL("ALTER ROLE {} " + _PLAIN).format(role)
        if password:
            alter = sql.SQL("{} PASSWORD {}").format(alter, sql.Literal(password))
        conn.exec_driver_sql(alter.as_string(raw))
        conn.exec_driver_sql(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_ROLE), role).as_string(raw)
        )
