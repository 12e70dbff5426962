"""The composition root: engine and services built once, from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from api.settings import Settings
from ledger.auth.tokens import TokenRegistry
from ledger.db import create_engine
from ledger.queries import LedgerQueries
from ledger.service import LedgerService
from ledger.store import EventStore


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: EventStore
    service: LedgerService
    queries: LedgerQueries
    tokens: TokenRegistry

    @classmethod
    def build(cls, settings: Settings) -> Container:
        # create_engine does not connect: nothing touches the database until a request does.
        engine = create_engine(settings.database_url, pool_size=settings.pool_size)
        store = EventStore()
        return cls(
            settings=settings,
            engine=engine,
            store=store,
            service=LedgerService(
                engine,
                store,
                idempotency_retention=timedelta(days=settings.idempotency_retention_days),
            ),
            queries=LedgerQueries(engine, store),
            tokens=TokenRegistry(engine, cache_seconds=settings.token_cache_seconds),
        )

    def close(self) -> None:
        self.engine.dispose()
