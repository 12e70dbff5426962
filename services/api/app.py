"""The FastAPI application, built by ``create_app()`` (nothing happens at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.container import Container
from api.routers import health
from api.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.container.close()

    app = FastAPI(
        title="grantledger",
        version="1.0.0",
        summary="Event-sourced ledger for earmarked state grants",
        lifespan=lifespan,
    )
    app.state.container = Container.build(settings)
    app.include_router(health.router)
    return app
