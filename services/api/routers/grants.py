"""Grants and their planning: register, allocate, reallocate, amend, receipts, repayments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.auth import Planner, Poster, Reader
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, WRITE_ERRORS
from api.schemas.answers import ChangeOut, GrantListOut, GrantOut
from api.schemas.requests import (
    ActivityBody,
    AmendmentBody,
    GrantBody,
    ReallocationBody,
    ReceiptBody,
    RepaymentBody,
    YearCloseBody,
)
from api.writes import IfMatch, WriterDep, etag

router = APIRouter(prefix="/v1/grants", tags=["grants"], responses=WRITE_ERRORS)

GrantId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", examples=["gnv-2022"])]


@router.post(
    "",
    status_code=201,
    response_model=ChangeOut,
    operation_id="registerGrant",
    summary="Register a grant",
    description="A grant with its areas (award, cost object, responsible, ring-fenced), spend "
    "period, reporting obligations and the decision that authorises it. Refused when an area's "
    "cost object already routes to another grant in an overlapping spend period (rule 5).",
)
def register_grant(body: GrantBody, principal: Planner, writer: WriterDep) -> Response:
    return writer.run(body.to_command(), principal, payload=body, render=ChangeOut.of)


@router.get(
    "",
    response_model=GrantListOut,
    operation_id="listGrants",
    summary="List grants",
    description="Every registered grant with its areas, activities and totals today.",
)
def list_grants(_: Reader, container: ContainerDep) -> GrantListOut:
    return GrantListOut(grants=[GrantOut.of(v) for v in container.queries.grants()])


@router.get(
    "/{grant_id}",
    response_model=GrantOut,
    operation_id="getGrant",
    summary="One grant",
    description="The grant with its areas, activities, decisions and figures today. The `ETag` "
    "is the grant's stream version: send it as `If-Match` on a planning POST to be refused "
    "(409) if someone changed the grant in between.",
    responses=NOT_FOUND,
)
def get_grant(
    grant_id: GrantId, _: Reader, container: ContainerDep, response: Response
) -> GrantOut:
    out = GrantOut.of(container.queries.grant(grant_id))
    response.headers["ETag"] = etag(out.version)
    return out


@router.post(
    "/{grant_id}/activities",
    status_code=201,
    response_model=ChangeOut,
    operation_id="allocateActivity",
    summary="Allocate: create an activity",
    description="Part of an area's money to a new activity (fördelning). Refused when the "
    "area's unallocated money is less than the amount (rule 1, with `available` and "
    "`requested`), when a new activity has no exit plan (rule 6), or without a decision "
    "reference (rule 7).",
)
def allocate(
    grant_id: GrantId,
    body: ActivityBody,
    principal: Planner,
    writer: WriterDep,
    if_match: IfMatch = None,
) -> Response:
    return writer.run(
        body.to_command(grant_id), principal, payload=body, render=ChangeOut.of, if_match=if_match
    )


@router.post(
    "/{grant_id}/reallocations",
    status_code=201,
    response_model=ChangeOut,
    operation_id="reallocate",
    summary="Move budget between activities",
    description="Omfördelning inside one area (rule 3), never in or out of a ring-fenced area "
    "(rule 2), and never more than the source activity has left (allocated − spent).",
)
def reallocate(
    grant_id: GrantId,
    body: ReallocationBody,
    principal: Planner,
    writer: WriterDep,
    if_match: IfMatch = None,
) -> Response:
    return writer.run(
        body.to_command(grant_id), principal, payload=body, render=ChangeOut.of, if_match=if_match
    )


@router.post(
    "/{grant_id}/amendments",
    status_code=201,
    response_model=ChangeOut,
    operation_id="amendAward",
    summary="Change an area's award",
    description="A tilläggsöverenskommelse: the area's new award. A cut may not take the award "
    "below what the area's activities hold (rule 1).",
)
def amend(
    grant_id: GrantId,
    body: AmendmentBody,
    principal: Planner,
    writer: WriterDep,
    if_match: IfMatch = None,
) -> Response:
    return writer.run(
        body.to_command(grant_id), principal, payload=body, render=ChangeOut.of, if_match=if_match
    )


@router.post(
    "/{grant_id}/receipts",
    status_code=201,
    response_model=ChangeOut,
    operation_id="recordReceipt",
    summary="Record cash received",
    description="Money actually paid out by the funder (utbetalning), on the cash ledger.",
)
def receipt(grant_id: GrantId, body: ReceiptBody, principal: Poster, writer: WriterDep) -> Response:
    return writer.run(body.to_command(grant_id), principal, payload=body, render=ChangeOut.of)


@router.post(
    "/{grant_id}/repayments",
    status_code=201,
    response_model=ChangeOut,
    operation_id="repayUnspent",
    summary="Repay unspent money",
    description="Unspent money of an area returned to the funder (återbetalning), at most the "
    "area's unallocated money; quotes the grant's repayment reference unless given one.",
)
def repay(
    grant_id: GrantId, body: RepaymentBody, principal: Planner, writer: WriterDep
) -> Response:
    return writer.run(body.to_command(grant_id), principal, payload=body, render=ChangeOut.of)


@router.post(
    "/{grant_id}/year-close",
    status_code=201,
    response_model=ChangeOut,
    operation_id="closeGrantYear",
    summary="Close the grant's year",
    description="No more planning or spend in the year; each activity's unspent budget returns "
    "to its area, where it can be repaid. Refused while spend awaits classification.",
)
def close_year(
    grant_id: GrantId, body: YearCloseBody, principal: Planner, writer: WriterDep
) -> Response:
    return writer.run(body.to_command(grant_id), principal, payload=body, render=ChangeOut.of)
