"""Periods: which months are open or closed, and closing one (no entry dated in it after)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.auth import Admin, Reader
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, PERIOD, READ_ERRORS, WRITE_ERRORS
from api.schemas.answers import MonthListOut, MonthOut, PeriodOut
from api.writes import WriterDep
from ledger.domain.commands import ClosePeriod

router = APIRouter(prefix="/v1/periods", tags=["periods"])


@router.get(
    "",
    response_model=MonthListOut,
    operation_id="listPeriods",
    summary="Open and closed months",
    description="Every month of the grants' spend periods (or of `grant_id`'s), and every "
    "closed month, each open or closed and by what: where a line refused as `closed-period` "
    "could still be dated. A period close closes the month for every grant; a grant's year "
    "close closes its months for that grant, shown when `grant_id` is given.",
    responses={**READ_ERRORS, **NOT_FOUND},
)
def list_periods(
    _: Reader,
    container: ContainerDep,
    grant_id: Annotated[
        str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", examples=["gnv-2022"])
    ] = None,
) -> MonthListOut:
    return MonthListOut(periods=[MonthOut.of(m) for m in container.queries.periods(grant_id)])


@router.post(
    "/{period}/close",
    status_code=201,
    response_model=PeriodOut,
    operation_id="closePeriod",
    responses=WRITE_ERRORS,
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
