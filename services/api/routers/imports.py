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
from ledger.formats.sie.accounts import SpendAccounts
from ledger.formats.sie.importer import (
    MAX_LISTED_SKIPS,
    SOURCE,
    Booked,
    ImportOutcome,
    Prepared,
    import_sie,
    prepare,
)
from ledger.formats.sie.lines import Options
from ledger.service import Actor, Replayed, Result

router = APIRouter(prefix="/v1/imports", tags=["imports"], responses=WRITE_ERRORS)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SieWarningOut(_Out):
    code: str = Field(description="malformed-record, utf8-declared-pc8 or replacement-character.")
    message: str
    line: int = Field(description="The first line it concerns.")
    count: int = Field(description="How many lines it concerns.")


class SieFileOut(_Out):
    program: str | None
    company_name: str | None
    format: str | None = Field(description="As the file's #FORMAT declares it (PC8, UTF-8).")
    encoding: str = Field(description="How the bytes were read: cp437 or utf-8.")
    fiscal_year: str = Field(
        description="The fiscal year the lines are booked under (part of their natural key)."
    )
    fiscal_year_from: str = Field(description="`#RAR 0`, or `voucher dates` when it is absent.")
    vouchers: int
    transactions: int = Field(description="Counted #TRANS lines (#BTRANS never counts).")
    dimensions: dict[str, str] = Field(description="The file's #DIM declarations.")
    warnings: list[SieWarningOut] = Field(
        description="What the file survives but a controller should know: malformed records "
        "the import does not use, encoding trouble."
    )


class SkippedLineOut(_Out):
    line_id: str = Field(description="year:series-number-line, the line's natural key.")
    voucher: str
    file_line: int = Field(description="The #TRANS line's number in the file.")
    account: str
    amount: MoneyOut
    booked_on: date
    cost_object: str | None
    reason_code: str = Field(
        description="not-a-cost-account, no-cost-object, zero-amount, unknown-cost-object, "
        "outside-spend-period or struck-not-recorded."
    )
    reason: str


class GrantCountsOut(_Out):
    imported: int
    already_present: int
    reversed: int
    already_reversed: int


class BookedOut(_Out):
    grant_id: str
    cost_object: str
    activity: str | None
    imported_lines: int
    imported: MoneyOut = Field(description="Sum of the lines imported now.")
    reversed_lines: int
    reversed: MoneyOut = Field(description="Sum of the recorded lines reversed now.")
    net: MoneyOut = Field(description="What the import changed spend by: imported - reversed.")

    @classmethod
    def of(cls, b: Booked) -> BookedOut:
        return cls(
            grant_id=b.grant_id,
            cost_object=b.cost_object,
            activity=b.activity,
            imported_lines=b.imported_lines,
            imported=b.imported_ore,
            reversed_lines=b.reversed_lines,
            reversed=b.reversed_ore,
            net=b.net_ore,
        )


class SieImportOut(_Out):
    source: str = Field(description="The source of the lines' natural key: always `sie`.")
    dry_run: bool = Field(description="True: what an import would book; nothing was written.")
    file: SieFileOut
    cost_object_dim: int
    activity_dim: int | None
    spend_accounts: str = Field(description="The account ranges whose lines are spend.")
    imported: int = Field(description="Lines recorded now.")
    already_present: int = Field(description="Lines recorded by an earlier import: unchanged.")
    reversed: int = Field(description="Recorded lines the ERP struck (#BTRANS), reversed now.")
    already_reversed: int = Field(description="Struck lines an earlier import reversed.")
    skipped: int = Field(description="Lines not imported; `skipped_lines` says why.")
    skipped_by_reason: dict[str, int]
    grants: dict[str, GrantCountsOut]
    cost_objects: dict[str, BookedOut] = Field(
        description="Per cost object, what this import booked: tie it to the ERP's report."
    )
    booked: list[BookedOut] = Field(description="Per grant, cost object and activity.")
    skipped_lines: list[SkippedLineOut] = Field(
        description=f"The skipped lines, at most {MAX_LISTED_SKIPS} (`skipped` counts them all)."
    )

    @classmethod
    def of(cls, outcome: ImportOutcome) -> SieImportOut:
        plan, sie = outcome.plan, outcome.sie
        return cls(
            source=SOURCE,
            dry_run=outcome.dry_run,
            file=SieFileOut(
                program=sie.program,
                company_name=sie.company_name,
                format=sie.format,
                encoding=sie.encoding,
                fiscal_year=plan.fiscal_year,
                fiscal_year_from=plan.fiscal_year_from,
                vouchers=plan.vouchers,
                transactions=plan.transactions,
                dimensions={str(k): v for k, v in sorted(sie.dimensions.items())},
                warnings=[
                    SieWarningOut(code=w.code, message=w.message, line=w.line, count=w.count)
                    for w in sie.warnings
                ],
            ),
            cost_object_dim=plan.options.cost_object_dim,
            activity_dim=plan.options.activity_dim,
            spend_accounts=str(plan.options.spend_accounts),
            imported=outcome.imported,
            already_present=outcome.already_present,
            reversed=outcome.reversed,
            already_reversed=outcome.already_reversed,
            skipped=len(outcome.skipped),
            skipped_by_reason=outcome.skipped_by_reason(),
            grants={g: GrantCountsOut(**c) for g, c in outcome.grants.items()},
            cost_objects={co: BookedOut.of(b) for co, b in outcome.by_cost_object().items()},
            booked=[BookedOut.of(b) for b in outcome.booked],
            skipped_lines=[
                SkippedLineOut(
                    line_id=s.row.line_id,
                    voucher=s.row.voucher,
                    file_line=s.row.file_line,
                    account=s.row.account,
                    amount=s.row.amount_ore,
                    booked_on=s.row.booked_on,
                    cost_object=s.row.cost_object,
                    reason_code=s.reason_code,
                    reason=s.reason,
                )
                for s in outcome.skipped[:MAX_LISTED_SKIPS]
            ],
        )


class _ImportRequest(BaseModel):
    """What an Idempotency-Key is compared against: the file's bytes and how it is read."""

    sha256: str
    cost_object_dim: int
    activity_dim: int | None
    spend_accounts: str


@router.post(
    "/sie",
    response_model=SieImportOut,
    operation_id="importSie",
    summary="Import a SIE 4 file from the ERP",
    description="Upload a SIE 4 file (multipart field `file`; PC8/CP437 or UTF-8). Every "
    "counted #TRANS on a cost account (`spend_accounts`, default 4000-7999) whose object in "
    "dimension `cost_object_dim` is a grant's cost object becomes a spend line with natural key "
    "(fiscal year, series, voucher number, line number), `line_id` `year:series-number-line` "
    "under source `sie`, the activity taken from dimension `activity_dim` when given. Rows the "
    "ERP struck (#BTRANS) that an earlier import recorded are reversed; rows it added "
    "(#RTRANS) are new spend. The whole file is one transaction: all its lines are recorded or "
    "none is. Importing the same file again adds nothing (`already_present`). Every other line "
    "is listed in `skipped_lines` with its reason. `dry_run=true` answers the same and writes "
    "nothing. A file that cannot be read is a 422 listing every bad line; a SIE 1-3 file "
    "(balances, no vouchers) is a 422 asking for a SIE 4 export.",
)
def import_sie_file(
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
    spend_accounts: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[0-9]{1,10}(-[0-9]{1,10})?(,[0-9]{1,10}(-[0-9]{1,10})?)*$",
            description="Account ranges whose lines are spend, e.g. 4000-7999,8400-8499 "
            "(default: settings, 4000-7999).",
            examples=["4000-7999"],
        ),
    ] = None,
    dry_run: Annotated[
        bool, Query(description="Answer what the import would book; write nothing.")
    ] = False,
) -> Response:
    settings = container.settings
    options = Options(
        cost_object_dim=cost_object_dim or settings.sie_cost_object_dim,
        activity_dim=(settings.sie_activity_dim if activity_dim is None else activity_dim) or None,
        spend_accounts=SpendAccounts.parse(spend_accounts or settings.sie_spend_accounts),
    )
    raw = file.file.read()
    prepared: Prepared = prepare(raw, options, max_lines=settings.sie_max_lines)
    if dry_run or prepared.writes_nothing:
        actor = Actor(principal.name, principal.role.value)
        outcome = import_sie(container.service, prepared, actor, dry_run=dry_run)
        assert not isinstance(outcome, Replayed)  # no idempotency without a write
        return Response(SieImportOut.of(outcome).model_dump_json(), media_type="application/json")

    def render(result: Result) -> SieImportOut:
        return SieImportOut.of(prepared.outcome(result))

    return writer.run(
        prepared.command,
        principal,
        payload=_ImportRequest(
            sha256=hashlib.sha256(raw).hexdigest(),
            cost_object_dim=options.cost_object_dim,
            activity_dim=options.activity_dim,
            spend_accounts=str(options.spend_accounts),
        ),
        render=render,
        status=200,
    )
