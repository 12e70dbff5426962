"""Command groups that several modules add sub-commands to: ``export …`` and ``import …``.

A module contributes with ``@export_app.command("NAME")`` / ``@import_app.command("NAME")`` and
calls ``register(app)`` from its own ``register``; registering twice is harmless, so every
contributor can do so without knowing about the others.
"""

from __future__ import annotations

import typer

export_app = typer.Typer(help="Export ledger data (events as JSON lines, …).", no_args_is_help=True)
import_app = typer.Typer(help="Import ledger data (events as JSON lines, …).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach ``export`` and ``import`` to the root command, once."""
    present = [info.typer_instance for info in app.registered_groups]
    if not any(group is export_app for group in present):
        app.add_typer(export_app, name="export")
    if not any(group is import_app for group in present):
        app.add_typer(import_app, name="import")
