"""The composition root: engine and services built once, from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from api.settings import Settings
from ledger.db import create_engine
from ledger.store import EventStore


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: EventStore

    @classmethod
    def build(cls, settings: Settings) -> Container:
        # create_engine does not connect: nothing touches the database until a request does.
        engine = create_engine(settings.database_url, pool_size=settings.pool_size)
        return cls(settings=settings, engine=engine, store=EventStore())

    def close(self) -> None:
        self.engine.dispose()
