"""Imports from the region's ERP: SIE 4 files of vouchers become spend lines."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Poster
from api.deps import ContainerDep
from api.routers.common import WRITE_ERRORS
from api.schemas.answers import MoneyOut
from api.writes import WriterDep
from ledger.integrations import spend_periods
from ledger.service import PostSpend, Result
from ledger.sie import SieFile, read_sie
from ledger.sie.importer import SOURCE, ImportOutcome, ImportPlan, plan_import

router = APIRouter(prefix="/v1/imports", tags=["imports"], responses=WRITE_ERRORS)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SieFileOut(_Out):
    program: str | None
    company_name: str | None
    format: str | None = Field(description="As the file's #FORMAT declares it (PC8, UTF-8).")
    encoding: str = Field(description="How the bytes were read: cp437 or utf-8.")
    vouchers: int
    transactions: int = Field(description="Counted #TRANS lines (#BTRANS never counts).")
    dimensions: dict[str, str] = Field(description="The file's #DIM declarations.")


class SkippedLineOut(_Out):
    line_id: str = Field(description="series-number-line, the line's natural key.")
    voucher: str
    file_line: int = Field(description="The #TRANS line's number in the file.")
    account: str
    amount: MoneyOut
    booked_on: date
    cost_object: str | None
    reason_code: str = Field(
        description="no-cost-object, unknown-cost-object, outside-spend-period or zero-amount."
    )
    reason: str


class GrantCountsOut(_Out):
    imported: int
    already_present: int


class SieImportOut(_Out):
    source: str = Field(description="The source of the lines' natural key: always `sie`.")
    file: SieFileOut
    cost_object_dim: int
    activity_dim: int | None
    imported: int = Field(description="Lines recorded now.")
    already_present: int = Field(description="Lines recorded by an earlier import: unchanged.")
    skipped: int = Field(description="Lines not imported; `skipped_lines` says why.")
    skipped_by_reason: dict[str, int]
    grants: dict[str, GrantCountsOut]
    skipped_lines: list[SkippedLineOut]

    @classmethod
    def of(cls, sie: SieFile, outcome: ImportOutcome) -> SieImportOut:
        plan = outcome.plan
        return cls(
            source=SOURCE,
            file=SieFileOut(
                program=sie.program,
                company_name=sie.company_name,
                format=sie.format,
                encoding=sie.encoding,
                vouchers=plan.vouchers,
                transactions=plan.transactions,
                dimensions={str(k): v for k, v in sorted(sie.dimensions.items())},
            ),
            cost_object_dim=plan.cost_object_dim,
            activity_dim=plan.activity_dim,
            imported=outcome.imported,
            already_present=outcome.already_present,
            skipped=outcome.skipped,
            skipped_by_reason=plan.skipped_by_reason(),
            grants={g: GrantCountsOut(**c) for g, c in outcome.by_grant.items()},
            skipped_lines=[
                SkippedLineOut(
                    line_id=s.line_id,
                    voucher=s.voucher,
                    file_line=s.file_line,
                    account=s.account,
                    amount=s.amount_ore,
                    booked_on=s.booked_on,
                    cost_object=s.cost_object,
                    reason_code=s.reason_code,
                    reason=s.reason,
                )
                for s in plan.skipped
            ],
        )


class _ImportRequest(BaseModel):
    """What an Idempotency-Key is compared against: the file's bytes and the dimensions."""

    sha256: str
    cost_object_dim: int
    activity_dim: int | None


@router.post(
    "/sie",
    response_model=SieImportOut,
    operation_id="importSie",
    summary="Import a SIE 4 file from the ERP",
    description="Upload a SIE 4 file (multipart field `file`; PC8/CP437 or UTF-8). Every "
    "counted #TRANS whose object in dimension `cost_object_dim` is a grant's cost object "
    "becomes a spend line with natural key (series, voucher number, line number), `line_id` "
    "`series-number-line` under source `sie`, the activity taken from dimension "
    "`activity_dim` when given. The whole file is one transaction: all its lines are "
    "recorded or none is. Importing the same file again adds nothing (`already_present`). "
    "Lines on other objects, without the cost-object dimension, outside every grant's spend "
    "period or of 0.00 kr are listed in `skipped_lines` with their reasons. A file that "
    "cannot be read is a 422 naming the line.",
)
def import_sie(
    file: Annotated[UploadFile, File(description="The SIE 4 file (.se, .si).")],
    principal: Poster,
    container: ContainerDep,
    writer: WriterDep,
    cost_object_dim: Annotated[
        int | None,
        Query(ge=1, le=9999, description="Dimension holding the cost object (default: settings)."),
    ] = None,
    activity_dim: Annotated[
        int | None,
        Query(
            ge=0,
            le=9999,
            description="Dimension holding the activity (default: settings); 0: none.",
        ),
    ] = None,
) -> Response:
    settings = container.settings
    co_dim = cost_object_dim if cost_object_dim is not None else settings.sie_cost_object_dim
    act_dim = activity_dim if activity_dim is not None else settings.sie_activity_dim
    raw = file.file.read()
    sie = read_sie(raw)
    periods = spend_periods(container.engine, container.service.tables)
    plan: ImportPlan = plan_import(
        sie,
        cost_object_dim=co_dim,
        activity_dim=act_dim or None,
        known_cost_objects=set(periods),
        spend_periods=periods,
    )

    def render(result: Result | None) -> SieImportOut:
        return SieImportOut.of(sie, ImportOutcome.of(plan, result))

    if not plan.lines:  # nothing to write: the answer is the same every time
        return Response(render(None).model_dump_json(), media_type="application/json")
    return writer.run(
        PostSpend(SOURCE, plan.lines),
        principal,
        payload=_ImportRequest(
            sha256=hashlib.sha256(raw).hexdigest(),
            cost_object_dim=co_dim,
            activity_dim=act_dim or None,
        ),
        render=render,
        status=200,
    )
