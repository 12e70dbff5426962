"""Spend from finance systems: batches, reversals, classification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.auth import Planner, Poster, Reader
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, WRITE_ERRORS
from api.schemas.answers import SpendOut, TransactionOut
from api.schemas.requests import ClassificationBody, ReversalBody, SpendBatchBody
from api.writes import WriterDep

router = APIRouter(prefix="/v1/transactions", tags=["transactions"], responses=WRITE_ERRORS)

TransactionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


@router.post(
    "",
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
def post_transactions(body: SpendBatchBody, principal: Poster, writer: WriterDep) -> Response:
    return writer.run(body.to_command(), principal, payload=body, render=SpendOut.json_of)


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
