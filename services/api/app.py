"""The FastAPI application, built by ``create_app()`` (nothing happens at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.routing import APIRoute

from api import docs, observability, problems, spec, ui
from api.auth import ForbiddenError, UnauthenticatedError
from api.container import Container
from api.middleware import BodyLimit, RequestContext
from api.routers import (
    audit,
    balances,
    checkpoints,
    forecast,
    grants,
    health,
    imports,
    periods,
    reports,
    transactions,
)
from api.settings import Settings, get_settings

DESCRIPTION = """\
The ledger of earmarked state grants (stimulansmedel): who got how much, what was reallocated on
whose decision, what is spent, what must be repaid. Money is a string with two decimals
(`"24000000.00"`); errors are RFC 9457 `application/problem+json` naming the rule, where, and by
how much. Authenticate with `Authorization: Bearer <token>` (`grantledger token create`); every
POST accepts an `Idempotency-Key`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.container.close()

    app = _GrantLedgerAPI(
        title="grantledger",
        version="1.0.0",
        summary="Event-sourced ledger for earmarked state grants",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served offline by api.docs
        redoc_url=None,
    )
    app.state.container = Container.build(settings)
    problems.install(app)
    app.add_exception_handler(UnauthenticatedError, _unauthenticated)
    app.add_exception_handler(ForbiddenError, _forbidden)
    for module in (
        health,
        grants,
        forecast,
        transactions,
        balances,
        audit,
        periods,
        imports,
        reports,
    ):
        app.include_router(module.router)
    app.include_router(checkpoints.router)  # after audit: the auditor's signed-checkpoint check
    ui.install(app)  # the web app for controllers, under /ui/
    observability.install(app, settings)
    docs.install(app)
    # Innermost: what is outside it (CORS, the body limit, the access log, request ids) sees
    # the short way of POST /v1/transactions as any other request.
    app.add_middleware(transactions.SpendLane, api=app)
    if settings.cors_origins:  # closed unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match"],
            expose_headers=["ETag", "X-Request-ID"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(observability.AccessLog)  # inside RequestContext: has the request id
    app.add_middleware(RequestContext)
    return app


class _GrantLedgerAPI(FastAPI):
    def openapi(self) -> dict[str, Any]:
        # FastAPI caches its document; finishing it is idempotent, so a cached one is fine too.
        return spec.finish(super().openapi())


def _operation_id(route: APIRoute) -> str:
    # Every route names its operation_id; this is the fallback that keeps the spec stable.
    return route.operation_id or route.name


async def _unauthenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnauthenticatedError)
    return problems.problem(
        401,
        exc.code,
        exc.title,
        exc.detail,
        instance=request.url.path,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ForbiddenError)
    return problems.ledger_problem(exc, 403, instance=request.url.path)


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()
