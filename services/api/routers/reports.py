"""Reports for återrapportering: one grant as JSON, CSV (Swedish Excel) or XLSX."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.auth import Reader
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, READ_ERRORS
from api.schemas.answers import GrantReportOut
from ledger.formats.reports import MEDIA_TYPES, filename, render_file
from ledger.grant_model import GrantModel
from ledger.types import Day

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses={**READ_ERRORS, **NOT_FOUND})

Format = Literal["json", "csv", "xlsx"]


def render_report(model: GrantModel, fmt: str) -> bytes:
    """The report in one format; JSON is the grant answer with the report's members."""
    if fmt == "json":
        return GrantReportOut.of(model).model_dump_json(by_alias=True, indent=2).encode()
    return render_file(model, fmt)


@router.get(
    "/grants/{grant_id}",
    response_model=GrantReportOut,
    operation_id="getGrantReport",
    summary="A grant's report for återrapportering",
    description="The grant answer (areas, activities, figures, decisions) today or `as_of` a "
    "booking date, with every planning decision and the spend not yet placed on an area, all "
    "read in one snapshot. `format=json` (default) answers JSON; `format=csv` a `;`-separated "
    "file, every field quoted, decimal comma, UTF-8 with BOM (Swedish Excel opens it as it "
    "is); `format=xlsx` a workbook with a summary sheet and one sheet per area, amounts as "
    "numbers formatted as kronor, every text a text cell. In each, the area rows plus the "
    "unplaced rows add up to the grant row. CSV and XLSX come as attachments.",
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
        Day | None, Query(description="Booking date: only entries effective on or before it.")
    ] = None,
) -> Response:
    model = container.queries.grant(grant_id, as_of=as_of, decisions=True)
    disposition = "inline" if fmt == "json" else "attachment"
    return Response(
        render_report(model, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{filename(model, fmt)}"'},
    )
