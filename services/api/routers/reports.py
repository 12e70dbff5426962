"""Reports for återrapportering: one grant as JSON, CSV (Swedish Excel) or XLSX."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Reader
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, READ_ERRORS
from ledger.reports import MEDIA_TYPES, grant_report, render

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses={**READ_ERRORS, **NOT_FOUND})

Amount = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["1263169.00"])]


class _Out(BaseModel):
    # Forbid: the schema must say exactly what ledger.reports.report_dict writes.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportDecisionOut(_Out):
    ref: str
    date: dt.date
    body: str


class ReportActivityOut(_Out):
    code: str
    name: str
    responsible: str
    new_activity: bool
    exit_plan: str | None
    decision: ReportDecisionOut | None
    allocated: Amount
    spent: Amount
    remaining: Amount
    overspent: bool


class ReportAreaOut(_Out):
    code: str
    name: str
    cost_object: str
    responsible: str
    ring_fenced: bool
    awarded: Amount
    allocated: Amount
    unallocated: Amount
    spent: Amount
    unclassified_spent: Amount
    repaid: Amount
    remaining: Amount
    activities: list[ReportActivityOut]


class ReportTotalsOut(_Out):
    awarded: Amount
    allocated: Amount
    unallocated: Amount
    spent: Amount
    remaining: Amount
    received: Amount
    unclassified_spent: Amount
    repaid: Amount


class ReportObligationOut(_Out):
    kind: str
    due: dt.date
    recipient: str


class ReportDecisionEntryOut(_Out):
    ref: str
    date: dt.date
    body: str
    event_type: str = Field(
        description="What the decision did: GrantRegistered, AwardAmended, "
        "ActivityAllocated, BudgetReallocated or YearClosed."
    )
    subject: str
    amount: Amount | None
    effective_date: dt.date


class ReportPeriodOut(_Out):
    from_: dt.date = Field(alias="from")
    to: dt.date


class GrantReportOut(_Out):
    grant_id: str
    name: str
    funder: str
    decision: ReportDecisionOut
    spend_period: ReportPeriodOut
    repayment_reference: str | None
    as_of: dt.date | None
    generated_at: dt.datetime
    totals: ReportTotalsOut
    unplaced_spent: Amount = Field(
        description="Spend on a cost object serving several areas, not yet classified."
    )
    areas: list[ReportAreaOut]
    reporting: list[ReportObligationOut]
    decisions: list[ReportDecisionEntryOut]


Format = Literal["json", "csv", "xlsx"]


@router.get(
    "/grants/{grant_id}",
    response_model=GrantReportOut,
    response_class=JSONResponse,
    operation_id="getGrantReport",
    summary="A grant's report for återrapportering",
    description="Per area and activity: awarded, allocated, unallocated, spent, remaining, "
    "responsible, cost object and decision references, with the reporting obligations and "
    "their due dates, today or `as_of` a booking date. `format=json` (default) answers JSON; "
    "`format=csv` a `;`-separated file with decimal comma in UTF-8 with BOM (Swedish Excel "
    "opens it as it is); `format=xlsx` a workbook with a summary sheet and one sheet per area, "
    "amounts as numbers formatted as kronor. CSV and XLSX come as attachments.",
    responses={
        200: {
            "description": "The report",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def get_grant_report(
    grant_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")],
    _: Reader,
    container: ContainerDep,
    fmt: Annotated[Format, Query(alias="format", description="json, csv or xlsx.")] = "json",
    as_of: Annotated[
        dt.date | None, Query(description="Booking date: only entries effective on or before it.")
    ] = None,
) -> Response:
    report = grant_report(container.queries, grant_id, as_of=as_of)
    disposition = "inline" if fmt == "json" else "attachment"
    return Response(
        render(report, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{report.filename(fmt)}"'},
    )
