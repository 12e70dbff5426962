"""What every command shares: settings from the environment or --database-url, consoles."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from api.container import Container
from api.settings import Settings, get_settings

err = Console(stderr=True, soft_wrap=True)  # one line stays one line for scripts
out = Console(soft_wrap=True)

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", envvar="GRANTLEDGER_DATABASE_URL", help="Database URL."),
]


def settings(database_url: str | None) -> Settings:
    if database_url:
        os.environ["GRANTLEDGER_DATABASE_URL"] = database_url
        get_settings.cache_clear()
    return get_settings()


def container(database_url: str | None) -> Container:
    return Container.build(settings(database_url))


def engine(database_url: str | None) -> Engine:
    return container(database_url).engine
