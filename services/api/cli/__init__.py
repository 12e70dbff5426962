"""The ``grantledger`` command line: one entry point, a sub-command per job."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from rich.markup import escape

from api.cli import audit, backup, demo, integrations, keys, planning, relay, server, tokens
from api.cli.common import err
from ledger.errors import LedgerError

app = typer.Typer(
    help="grantledger: the ledger of earmarked state grants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
server.register(app)
audit.register(app)
app.add_typer(tokens.app, name="token")
app.add_typer(planning.app, name="plan")
demo.register(app)
backup.register(app)
integrations.register(app)
relay.register(app)
app.add_typer(keys.app, name="keys")


def main() -> None:
    try:
        app()
    except LedgerError as e:
        err.print(f"[red]error[/]: {escape(e.detail)}")  # details quote files: no markup
        sys.exit(2)
    except ValidationError as e:  # settings from the environment
        for problem in e.errors():
            err.print(f"[red]configuration error[/]: {problem['loc']}: {problem['msg']}")
        sys.exit(2)
