"""Spend from finance systems: batches, reversals, classification."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import Planner, Poster, Reader, cached_principal
from api.container import Container
from api.deps import ContainerDep
from api.middleware import replay
from api.routers.common import NOT_FOUND, WRITE_ERRORS
from api.schemas.answers import SpendOut, TransactionOut
from api.schemas.requests import ClassificationBody, ReversalBody, SpendBatchBody
from api.writes import Writer, WriterDep, idempotency_key_of
from ledger.auth.tokens import Role

router = APIRouter(prefix="/v1/transactions", tags=["transactions"], responses=WRITE_ERRORS)

TransactionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


def post_transactions(body: SpendBatchBody, principal: Poster, writer: WriterDep) -> Response:
    return writer.run(body.to_command(), principal, payload=body, render=SpendOut.json_of)


class SpendLane:
    """``POST /v1/transactions``, the write a finance system makes thousands of times an hour,
    one line at a time, taken before the router: pure ASGI, the innermost middleware (inside
    request ids, the access log, the body limit and CORS, which treat it as any request).

    A request that is plainly well-formed (``Content-Type: application/json``, a bearer token
    the process has cached, of a role that may post, at most one valid Idempotency-Key, a body
    ``SpendBatchBody`` accepts as JSON) is submitted to the group commit from the event loop
    (``Writer.submit``), holding no thread while it waits; a refusal is rendered by the app's
    handler for its type, found along its MRO as Starlette's ``ExceptionMiddleware`` finds it.
    Every other request goes on to the router with its body, the long way, which decides and
    words every refusal exactly as before: the lane only ever answers what the long way would
    have answered (tests/api/test_write_hot_path.py sends each request both ways).  Routing
    (a match against every route), FastAPI's dependency solving and its parsing and
    validating of the body in two steps took about half of a single post's time on the event
    loop (issue 14, bench/README.md)."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self._api = api
        [self._route] = [
            r for r in router.routes if isinstance(r, APIRoute) and r.path == router.prefix
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != router.prefix:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        scope["route"] = self._route  # as the router would: the access log's route label
        raw: bytes | None = None
        try:
            write, raw = await _short_way(request)
            answer = None if write is None else await write
        except Exception as error:
            handler = self._handler(error)
            if handler is None:
                raise
            answer = await handler(request, error)
        if answer is None:
            await self.app(scope, receive if raw is None else replay(raw, receive), send)
            return
        await answer(scope, receive, send)

    def _handler(self, error: Exception) -> Any:
        for kind in type(error).__mro__:
            if kind is Exception:  # what no typed handler takes is the server error's
                return None
            if kind in self._api.exception_handlers:
                return self._api.exception_handlers[kind]
        return None


async def _short_way(request: Request) -> tuple[Awaitable[Response] | None, bytes | None]:
    """The write, if the request takes the short way, and the body if it was read."""
    if request.headers.get("content-type") != "application/json":
        return None, None
    container: Container = request.app.state.container
    principal = await cached_principal(request, container.tokens, Role.POSTER)
    if principal is None:
        return None, None
    plain, key = idempotency_key_of(request)
    if not plain:
        return None, None
    try:
        raw = await request.body()
    except Exception:  # a body that cannot be read: the long way words it
        return None, None
    try:
        # Parsed and validated in one step from the bytes; whatever it accepts, json.loads and
        # validating the parsed value accept as the same value (tests/api/test_write_hot_path).
        body = SpendBatchBody.model_validate_json(raw)
    except ValidationError:
        return None, raw
    writer = Writer(container, request, key)
    write = writer.submit(body.to_command(), principal, payload=body, render=SpendOut.json_of)
    return write, raw


router.add_api_route(
    "",
    post_transactions,
    methods=["POST"],
    status_code=201,
    response_model=SpendOut,
    operation_id="postTransactions",
    summary="Post a batch of spend lines",
    description="Atomic: every line is routed by (cost object, booking date) to its grant "
    "(rule 5) and recorded, or none is. Spend is never refused for exceeding a budget (rule 4: "
    "overspend is recorded and shown); a line is refused only when it cannot be placed, and the "
    "answer then lists every bad line (`errors[]` with `line_id`, `field`, `code`). A line sent "
    "again under the same (source, line_id) with the same content answers `duplicate` and adds "
    "nothing; with other content it is a 409.",
)


@router.get(
    "/{transaction_id}",
    response_model=TransactionOut,
    operation_id="getTransaction",
    summary="One spend line",
    description="A recorded line (or reversal entry) with its current placement and status.",
    responses=NOT_FOUND,
)
def get_transaction(
    transaction_id: TransactionId, _: Reader, container: ContainerDep
) -> TransactionOut:
    return TransactionOut.of(container.queries.line(transaction_id))


@router.post(
    "/{transaction_id}/reversal",
    status_code=201,
    response_model=SpendOut,
    operation_id="reverseTransaction",
    summary="Reverse a spend line",
    description="A rättelse: a new entry cancels the line, which stays on record with who "
    "reversed it and when. A line is reversed once; a reversal cannot itself be reversed.",
)
def reverse(
    transaction_id: TransactionId, body: ReversalBody, principal: Poster, writer: WriterDep
) -> Response:
    return writer.run(
        body.to_command(transaction_id), principal, payload=body, render=SpendOut.json_of
    )


@router.post(
    "/{transaction_id}/classification",
    status_code=201,
    response_model=SpendOut,
    operation_id="classifyTransaction",
    summary="Put unclassified spend on an activity",
    description="Spend booked without an activity (or on a cost object serving several areas, "
    "like 9942) moves to an activity on the same cost object.",
)
def classify(
    transaction_id: TransactionId, body: ClassificationBody, principal: Planner, writer: WriterDep
) -> Response:
    return writer.run(
        body.to_command(transaction_id), principal, payload=body, render=SpendOut.json_of
    )
