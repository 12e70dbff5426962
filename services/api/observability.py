"""Operations: JSON logs with the request id on every line, an access log, Prometheus metrics.

``install(app, settings)`` does it all:

- **Logs.** structlog renders every line as one JSON object (``log_json``, the default; a
  console renderer otherwise) with ``timestamp``, ``level``, ``logger``, ``event`` and whatever
  is bound in the context: ``RequestContext`` binds ``request_id`` for the whole request, so every
  line logged while it runs carries it.  Standard-library records (uvicorn, SQLAlchemy) go
  through the same renderer.
- **Access log.** One ``request`` line per request: method, path (never the query string),
  route template, status and duration_ms.  Headers are never logged, so neither is the
  ``Authorization`` token.
- **Metrics** at ``GET /metrics`` (Prometheus text format), behind a bearer token whose role may
  act as ``GRANTLEDGER_METRICS_ACCESS`` (default ``reader``: any valid token), or with no token
  when that setting is ``open``: ``grantledger_http_requests_total{method,route,status}``,
  ``grantledger_http_request_duration_seconds{method,route}``,
  ``grantledger_events_appended_total{event_type}`` and ``grantledger_append_conflicts_total``.
  The last two are counted where the API calls the write path (``MeteredLedgerService``): the
  events of every committed command, and every stream-version conflict.  With several worker
  processes set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) and
  ``/metrics`` aggregates them.
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import time
from concurrent.futures import Future
from typing import Any

import structlog
from fastapi import Depends, FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import require
from api.routers.common import FORBIDDEN, UNAUTHORIZED
from api.settings import Settings
from ledger.auth.tokens import Role
from ledger.errors import ConcurrencyError
from ledger.service import LedgerService, Replayed, Result

HTTP_REQUESTS = Counter(
    "grantledger_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "grantledger_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_APPENDED = Counter(
    "grantledger_events_appended",
    "Events appended to the store by committed API writes.",
    ["event_type"],
)
APPEND_CONFLICTS = Counter(
    "grantledger_append_conflicts",
    "Writes refused because the stream moved on (stale If-Match or a concurrent append).",
)

# Unmatched paths share one label, so scanners cannot blow up the metric's cardinality.
UNMATCHED = "unmatched"

access_log = structlog.get_logger("api.access")


# --- logging ---------------------------------------------------------------------------------

_configured: tuple[str, bool] | None = None


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """structlog and the standard library, both rendered by structlog (idempotent)."""
    global _configured
    if _configured == (level, json):
        return
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Exceptions are text before they reach the renderer (format_exc_info); the console one is
    # told so, rather than left to pick rich's formatter when rich is importable (the server's
    # processes keep rich out: api.serve).
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # Standard-library records (uvicorn's 500s) carry exc_info: render it, not its repr.
        foreign_pre_chain=[*shared, structlog.processors.format_exc_info],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("grantledger")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "grantledger"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own loggers would print a second, plain copy of each line.
    for name in ("uvicorn", "uvicorn.error"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    # Our access line logs the path without its query; uvicorn's would log the raw request
    # line, and with it any secret a client put in the URL.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
    _configured = (level, json)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is logged (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


# --- access log and request metrics ------------------------------------------------------------


class AccessLog:
    """Pure ASGI: one access-log line and the request metrics per HTTP request.

    Installed inside ``RequestContext`` (so the request id is bound) and outside ``BodyLimit``
    (so a 413 is counted and logged too).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            route = _route(scope)
            count, latency = _series(method, route, status)
            count.inc()
            latency.observe(elapsed)
            # structlog runs its processors before the standard library drops a line below
            # the level; a server at `warning` skips the whole line instead (issue 14).
            if _ACCESS.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    method=method,
                    path=scope.get("path", ""),
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )


_ACCESS = logging.getLogger("api.access")  # access_log's standard-library logger
_Series = tuple[Any, Any]
_SERIES: dict[tuple[str, str, int], _Series] = {}


def _series(method: str, route: str, status: int) -> _Series:
    """The request counter's and the latency histogram's series for these labels, kept: their
    labels are bounded (route templates, not paths), and ``labels()`` costs a lock and a
    validation per call."""
    key = (method, route, status)
    found = _SERIES.get(key)
    if found is None:
        found = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_LATENCY.labels(method, route),
        )
        _SERIES[key] = found
    return found


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


# --- write metrics -----------------------------------------------------------------------------


class MeteredLedgerService(LedgerService):
    """The service the API writes through, counting appended events and append conflicts."""

    def execute(self, *args: Any, **kwargs: Any) -> Result | Replayed:
        try:
            outcome = super().execute(*args, **kwargs)
        except ConcurrencyError:
            APPEND_CONFLICTS.inc()
            raise
        _count(outcome)
        return outcome

    def submit(self, *args: Any, **kwargs: Any) -> Future[Result | Replayed]:
        future = super().submit(*args, **kwargs)
        future.add_done_callback(_counted)
        return future


def _counted(future: Future[Result | Replayed]) -> None:
    error = future.exception()
    if isinstance(error, ConcurrencyError):
        APPEND_CONFLICTS.inc()
    elif error is None:
        _count(future.result())


def _count(outcome: Result | Replayed) -> None:
    if isinstance(outcome, Result) and outcome.events:
        # One increment per event type, not per event (a batch is 500 events of one type).
        counts = collections.Counter(e.event_type for e in outcome.events)
        for event_type, n in counts.items():
            EVENTS_APPENDED.labels(event_type).inc(n)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def metrics() -> Response:
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


# --- wiring ------------------------------------------------------------------------------------


def install(app: FastAPI, settings: Settings) -> None:
    """Logs, the metered write path and GET /metrics.  ``AccessLog`` is added by the app, in
    its place among the middleware."""
    configure_logging(settings.log_level, json=settings.log_json)
    container = app.state.container
    service = container.service
    if not isinstance(service, MeteredLedgerService):
        container.service = MeteredLedgerService(service.engine, service.store, service.tables)
    guarded = settings.metrics_access != "open"
    app.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        tags=["health"],
        operation_id="metrics",
        summary="Prometheus metrics",
        description="Requests by route template and status, latency, events appended and "
        "append conflicts, in the Prometheus text format. "
        + (
            f"Needs a token of a role that may act as `{settings.metrics_access}` "
            "(GRANTLEDGER_METRICS_ACCESS)."
            if guarded
            else "No token (GRANTLEDGER_METRICS_ACCESS=open): reachable only inside the network."
        ),
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}},
            **({**UNAUTHORIZED, **FORBIDDEN} if guarded else {}),
        },
        dependencies=[Depends(require(Role(settings.metrics_access)))] if guarded else [],
    )
