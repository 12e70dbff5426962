"""token create / list / revoke."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import DatabaseOpt, container, out

app = typer.Typer(help="API tokens (stored only as hashes).", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Who or what uses the token.")],
    role: Annotated[str, typer.Option(help="reader, poster, planner, auditor or admin.")],
    database_url: DatabaseOpt = None,
) -> None:
    """Make a token; it is the only line printed, and the only time it is shown."""
    print(container(database_url).tokens.create(name, role))  # the token is the only line on stdout


@app.command("list")
def list_tokens(database_url: DatabaseOpt = None) -> None:
    """Names, roles and state of every token (never the secrets)."""
    table = Table("name", "role", "created", "revoked")
    for t in container(database_url).tokens.list():
        table.add_row(
            t.name,
            t.role.value,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    out.print(table)


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    database_url: DatabaseOpt = None,
) -> None:
    """Refuse the token from now on."""
    container(database_url).tokens.revoke(name)
    out.print(f"revoked {name}")
