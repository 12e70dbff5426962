"""A grant at a glance (optionally as it stood on a day), and its year-end forecast.

Both pages render the grant's one read model (``GrantModel``), read in one snapshot: names,
figures and decisions per area and activity come from it, never re-assembled here.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContainerDep
from api.ui.access import ReaderUser
from api.ui.chart import monthly_spend, stacked_bars
from api.ui.pages.common import parse_day, today, ui_router
from api.ui.render import page
from ledger import forecast as prognosis

router = ui_router()


@router.get("/grants/{grant_id}")
def grant(
    request: Request,
    grant_id: str,
    user: ReaderUser,
    container: ContainerDep,
    as_of: str | None = None,
) -> Response:
    day = parse_day(as_of)
    model = container.queries.grant(grant_id, as_of=day)
    until = min(model.on, model.spend_to)
    monthly = monthly_spend(
        container.queries, grant_id=grant_id, spend_from=model.spend_from, until=until
    )
    return page(
        request,
        "grant.html",
        user,
        model=model,
        as_of=day,
        monthly=monthly,
        chart=stacked_bars(monthly),
    )


@router.get("/grants/{grant_id}/prognos")
def forecast(
    request: Request,
    grant_id: str,
    user: ReaderUser,
    container: ContainerDep,
    as_of: str | None = None,
) -> Response:
    day = parse_day(as_of) or today()
    model = container.queries.grant(grant_id, as_of=day)
    return page(
        request,
        "forecast.html",
        user,
        model=model,
        forecast=prognosis.forecast(model),
        as_of=day,
    )
