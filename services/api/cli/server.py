"""serve, db upgrade, openapi."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import orjson
import typer

from api.cli.common import DatabaseOpt, engine, out, settings
from api.serve import exec_server
from api.settings import get_settings
from ledger import migrate
from ledger.app_login import APP_ROLE, ensure_app_login

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
    max_header_bytes: Annotated[
        int | None,
        typer.Option(help="Largest request headers [GRANTLEDGER_HTTP_MAX_HEADER_BYTES]."),
    ] = None,
    header_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to receive a request's headers [GRANTLEDGER_HTTP_HEADER_TIMEOUT]."
        ),
    ] = None,
    read_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a request body may stall [GRANTLEDGER_HTTP_READ_TIMEOUT]."),
    ] = None,
    timeout_keep_alive: Annotated[
        int | None,
        typer.Option(
            help="Seconds an idle connection stays [GRANTLEDGER_HTTP_KEEP_ALIVE_TIMEOUT]."
        ),
    ] = None,
    limit_concurrency: Annotated[
        int | None,
        typer.Option(
            help="Connections per worker before 503 [GRANTLEDGER_HTTP_LIMIT_CONCURRENCY]."
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the HTTP API (uvicorn with h11, bounded headers and deadlines: docs/operations.md)."""
    # Options become the settings every worker process reads (they inherit the environment).
    for name, value in (
        ("HTTP_MAX_HEADER_BYTES", max_header_bytes),
        ("HTTP_HEADER_TIMEOUT", header_timeout),
        ("HTTP_READ_TIMEOUT", read_timeout),
        ("HTTP_KEEP_ALIVE_TIMEOUT", timeout_keep_alive),
        ("HTTP_LIMIT_CONCURRENCY", limit_concurrency),
    ):
        if value is not None:
            os.environ[f"GRANTLEDGER_{name}"] = str(value)
    get_settings.cache_clear()
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
            # h11, never httptools: h11 bounds the headers; api.http_protocol adds the deadlines.
            "http": "api.http_protocol:DeadlineH11Protocol",
            "h11_max_incomplete_event_size": config.http_max_header_bytes,
            "timeout_keep_alive": config.http_keep_alive_timeout,
            "limit_concurrency": config.http_limit_concurrency,
        }
    )


@db_app.command("upgrade")
def db_upgrade(
    app_login: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL: then make (or update) this login as a plain member of "
            "grantledger_app, for the API to serve as; its password is "
            "GRANTLEDGER_APP_DB_PASSWORD."
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Apply every migration the database does not have yet (run as the schema's owner)."""
    eng = engine(database_url, schema=False)
    migrate.upgrade(eng)
    out.print(f"schema at {migrate.head_revision()}")
    if app_login is not None:
        ensure_app_login(eng, app_login, os.environ.get("GRANTLEDGER_APP_DB_PASSWORD"))
        out.print(f"login {app_login} may serve the API as {APP_ROLE}")


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
