"""Period close: after it, no entry may be booked in the month."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.auth import Admin
from api.routers.common import PERIOD, WRITE_ERRORS
from api.schemas.answers import PeriodOut
from api.writes import WriterDep
from ledger.domain.commands import ClosePeriod

router = APIRouter(prefix="/v1/periods", tags=["periods"], responses=WRITE_ERRORS)


@router.post(
    "/{period}/close",
    status_code=201,
    response_model=PeriodOut,
    operation_id="closePeriod",
    summary="Close a month",
    description="Periodstängning for every grant: spend, reversals, receipts and repayments "
    "dated in the month are refused afterwards. Closing a closed month is a 409.",
)
def close_period(
    period: Annotated[str, Path(pattern=PERIOD, examples=["2022-03"])],
    principal: Admin,
    writer: WriterDep,
) -> Response:
    return writer.run(
        ClosePeriod(period),
        principal,
        payload=None,
        render=lambda r: PeriodOut(period=r.period or period),
    )
