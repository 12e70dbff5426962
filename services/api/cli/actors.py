"""Who runs a command: recorded in every event it writes (rule 7)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from ledger.service import Actor

ActorOpt = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who is recorded as having done this (rule 7). Default: cli:<your OS user>.",
    ),
]


def cli_actor(role: str, given: str | None = None, *, source_system: str | None = None) -> Actor:
    """``given`` as it was typed, else ``cli:<OS user>``."""
    if given:
        name = given.strip()
        if not name or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise typer.BadParameter(
                "must be a name without control characters", param_hint="--actor"
            )
        return Actor(name, role, source_system=source_system)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return Actor(f"cli:{user}", role, source_system=source_system)
