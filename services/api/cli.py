"""The ``grantledger`` command line."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from api.settings import Settings, get_settings
from ledger import migrate
from ledger.db import create_engine
from ledger.errors import LedgerError
from ledger.store import EventStore

app = typer.Typer(help="grantledger: the ledger of earmarked state grants.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

err = Console(stderr=True)
out = Console()

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", envvar="GRANTLEDGER_DATABASE_URL", help="Database URL."),
]


def _settings(database_url: str | None) -> Settings:
    if database_url:
        os.environ["GRANTLEDGER_DATABASE_URL"] = database_url
        get_settings.cache_clear()
    return get_settings()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before serving.")
    ] = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the HTTP API."""
    settings = _settings(database_url)
    if migrate_first:
        engine = create_engine(settings.database_url)
        migrate.upgrade(engine)
        engine.dispose()
    out.print(f"grantledger listening on http://{host}:{port} (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
    )


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOpt = None) -> None:
    """Apply every migration the database does not have yet."""
    settings = _settings(database_url)
    engine = create_engine(settings.database_url)
    migrate.upgrade(engine)
    out.print(f"schema at {migrate.head_revision()}")


@app.command()
def verify(database_url: DatabaseOpt = None) -> None:
    """Walk the whole hash chain; exit 1 naming the first bad position if it is broken."""
    settings = _settings(database_url)
    engine = create_engine(settings.database_url)
    result = EventStore().verify(engine)
    if result.ok:
        out.print(f"chain valid: {result.checked} events, head {result.head_hash}")
        return
    err.print(f"[red]chain broken at position {result.first_bad_position}[/]: {result.reason}")
    raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except LedgerError as e:
        err.print(f"[red]error[/]: {e.detail}")
        sys.exit(2)
