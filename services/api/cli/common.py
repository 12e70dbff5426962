"""What every command shares: settings from the environment or --database-url, consoles.

A command that reads or writes the ledger first makes sure there is one: a database at the
schema's head.  Without it (a fresh clone typing ``grantledger verify``) it says so in one line
and names the command that makes one, instead of creating an empty ``./grantledger.db`` and
dying in a traceback on ``no such table: events``.  The commands that make a schema
(``db upgrade``, ``serve``, ``demo``, ``import events``) ask for the engine with ``schema=False``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import Engine, make_url

from api.container import Container
from api.settings import Settings, get_settings
from ledger import migrate
from ledger.db import normalize_url, translate_errors
from ledger.errors import SchemaNotReady

err = Console(stderr=True, soft_wrap=True)  # one line stays one line for scripts
out = Console(soft_wrap=True)

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", envvar="GRANTLEDGER_DATABASE_URL", help="Database URL."),
]

DEMO_DATABASE = "sqlite:///grantledger-demo.db"
_HOW = (
    "run `grantledger db upgrade` to create the schema there, or point --database-url "
    f"(GRANTLEDGER_DATABASE_URL) at a ledger, e.g. the demo's {DEMO_DATABASE} that `make run` "
    "fills"
)


def settings(database_url: str | None) -> Settings:
    if database_url:
        os.environ["GRANTLEDGER_DATABASE_URL"] = database_url
        get_settings.cache_clear()
    return get_settings()


def container(database_url: str | None, *, schema: bool = True) -> Container:
    config = settings(database_url)
    if schema:
        _no_new_file(config.database_url)
    built = Container.build(config)
    if schema:
        require_schema(built.engine, config.database_url)
    return built


def engine(database_url: str | None, *, schema: bool = True) -> Engine:
    return container(database_url, schema=schema).engine


def _no_new_file(raw_url: str) -> None:
    """SQLite creates a missing file on connect: refuse before, so no empty ledger appears."""
    url = normalize_url(raw_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database or "")
    if not path.exists():
        raise SchemaNotReady(f"no database at {path}: {_HOW}", url=_shown(raw_url))


def require_schema(eng: Engine, raw_url: str) -> None:
    """The database has grantledger's schema at the head revision, or a one-line error."""
    with translate_errors(), eng.connect() as conn:
        current = migrate.current_revision(conn)
    head = migrate.head_revision()
    if current == head:
        return
    where = _shown(raw_url)
    if current is None:
        raise SchemaNotReady(f"{where} has no grantledger schema: {_HOW}", url=where)
    raise SchemaNotReady(
        f"{where} is at schema {current}, this grantledger needs {head}: "
        "run `grantledger db upgrade`",
        url=where,
    )


def _shown(raw_url: str) -> str:
    """The URL as the user wrote it, without its password."""
    return make_url(raw_url.strip()).render_as_string(hide_password=True)
