"""Spend from finance systems: batches, reversals, classification."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from api.auth import Planner, Poster, Reader, cached_principal
from api.container import Container
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, WRITE_ERRORS
from api.schemas.answers import SpendOut, TransactionOut
from api.schemas.requests import ClassificationBody, ReversalBody, SpendBatchBody
from api.writes import Writer, WriterDep, idempotency_key_of
from ledger.auth.tokens import Role

router = APIRouter(prefix="/v1/transactions", tags=["transactions"], responses=WRITE_ERRORS)

TransactionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


def post_transactions(body: SpendBatchBody, principal: Poster, writer: WriterDep) -> Response:
    return writer.run(body.to_command(), principal, payload=body, render=SpendOut.json_of)


class _SpendRoute(APIRoute):
    """``POST /v1/transactions``, the write a finance system makes thousands of times an hour,
    one line at a time: a request that is plainly well-formed (``Content-Type:
    application/json``, a bearer token the process has cached, of a role that may post, at most
    one valid Idempotency-Key, a body ``SpendBatchBody`` accepts as JSON) is submitted to the
    group commit from the event loop (``Writer.submit``), holding no thread while it waits.
    FastAPI's dependency solving and its ``json.loads`` + validation of the parsed body took
    about a third of the request's time on the event loop (issue 14).  Every other request
    takes the long way, which decides and words every refusal exactly as before; the short way
    only ever answers what the long way would have answered."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        long_way = super().get_route_handler()

        async def handler(request: Request) -> Response:
            answer = await _short_way(request)
            return answer if answer is not None else await long_way(request)

        return handler


async def _short_way(request: Request) -> Response | None:
    if request.headers.get("content-type") != "application/json":
        return None
    container: Container = request.app.state.container
    principal = await cached_principal(request, container.tokens, Role.POSTER)
    if principal is None:
        return None
    plain, key = idempotency_key_of(request)
    if not plain:
        return None
    try:
        raw = await request.body()  # kept by Starlette: the long way reads the same bytes
    except Exception:  # a body that cannot be read: the long way words it
        return None
    try:
        # Parsed and validated in one step from the bytes; whatever it accepts, json.loads and
        # validating the parsed value accept as the same value (tests/api/test_write_hot_path).
        body = SpendBatchBody.model_validate_json(raw)
    except ValidationError:
        return None
    writer = Writer(container, request, key)
    return await writer.submit(body.to_command(), principal, payload=body, render=SpendOut.json_of)


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
    route_class_override=_SpendRoute,
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
