"""Rapporter: the återrapportering of each grant as XLSX and CSV, the API's own files."""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContainerDep
from api.ui.access import ReaderUser
from api.ui.pages.common import parse_day, ui_router
from api.ui.render import page
from ledger.formats.reports import MEDIA_TYPES, filename, render_file

router = ui_router()


@router.get("/rapporter")
def reports(request: Request, user: ReaderUser, container: ContainerDep) -> Response:
    return page(request, "reports.html", user, grants=container.queries.grants())


@router.get("/grants/{grant_id}/rapport.{fmt}")
def download(
    grant_id: str,
    fmt: Literal["xlsx", "csv"],
    _: ReaderUser,
    container: ContainerDep,
    as_of: str | None = None,
) -> Response:
    # The same read model and renderer as GET /v1/reports/grants/{id}?format=csv|xlsx.
    model = container.queries.grant(grant_id, as_of=parse_day(as_of), decisions=True)
    return Response(
        render_file(model, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename(model, fmt)}"'},
    )
