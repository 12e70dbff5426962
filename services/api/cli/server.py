"""serve, db upgrade, openapi."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from api.cli.common import DatabaseOpt, engine, out, settings
from api.serve import exec_server
from ledger import migrate

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(openapi)
    app.add_typer(db_app, name="db")


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
    config = settings(database_url)
    if migrate_first:
        migrate.upgrade(engine(database_url, schema=False))
    out.print(f"grantledger on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    exec_server(  # a fresh process without the CLI's imports (api/serve.py)
        {
            "host": host,
            "port": port,
            "workers": workers,
            "log_level": config.log_level,
            "access_log": False,
        }
    )


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOpt = None) -> None:
    """Apply every migration the database does not have yet."""
    migrate.upgrade(engine(database_url, schema=False))
    out.print(f"schema at {migrate.head_revision()}")


def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI document of the app (what openapi/openapi.json must equal)."""
    from api.app import create_app
    from api.settings import Settings

    spec = create_app(Settings()).openapi()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(orjson.dumps(spec, option=orjson.OPT_INDENT_2) + b"\n")
    out.print(f"wrote {output}")
