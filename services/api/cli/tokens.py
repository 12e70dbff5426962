"""token create / list / revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from api.cli.common import DatabaseOpt, container, out
from ledger.auth.tokens import parse_duration
from ledger.errors import InvalidInput
from ledger.types import Instant

app = typer.Typer(help="API tokens (stored only as hashes).", no_args_is_help=True)

_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Who or what uses the token.")],
    role: Annotated[str, typer.Option(help="reader, poster, planner, auditor or admin.")],
    expires_in: Annotated[
        str | None,
        typer.Option(help="Refuse the token after this long: 30m, 12h, 90d or 8w."),
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(help="Refuse the token from this instant (ISO 8601; UTC unless it says)."),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Make a token; it is the only line printed, and the only time it is shown."""
    expiry = _expiry(expires_in, expires_at)
    secret = container(database_url).tokens.create(name, role, expires_at=expiry)
    print(secret)  # the token is the only line on stdout


def _expiry(expires_in: str | None, expires_at: str | None) -> datetime | None:
    if expires_in is not None and expires_at is not None:
        raise InvalidInput("give --expires-in or --expires-at, not both", field="expires_at")
    if expires_in is not None:
        return datetime.now(UTC) + parse_duration(expires_in)
    if expires_at is None:
        return None
    try:
        return _INSTANT.validate_python(expires_at)
    except ValidationError as e:
        reason = e.errors()[0]["msg"]
        raise InvalidInput(f"--expires-at {expires_at!r}: {reason}", field="expires_at") from e


@app.command("list")
def list_tokens(database_url: DatabaseOpt = None) -> None:
    """Names, roles and state of every token (never the secrets)."""
    now = datetime.now(UTC)
    table = Table("name", "role", "created (UTC)", "expires (UTC)", "revoked (UTC)", "state")
    for t in container(database_url).tokens.list():
        state = "revoked" if t.revoked_at else "expired" if t.expired(now) else "active"
        table.add_row(
            t.name,
            t.role.value,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
            state,
        )
    # Piped into a script or a file, one token is one line, however long its name.
    (out if out.is_terminal else Console(width=200, soft_wrap=True)).print(table)


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    database_url: DatabaseOpt = None,
) -> None:
    """Refuse the token from now on (a running server within GRANTLEDGER_TOKEN_CACHE_SECONDS)."""
    container(database_url).tokens.revoke(name)
    out.print(f"revoked {name}")
