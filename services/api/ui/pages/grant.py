"""A grant at a glance (optionally as it stood on a day), and its year-end forecast."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContainerDep
from api.ui.access import ReaderUser
from api.ui.chart import monthly_spend, stacked_bars
from api.ui.pages.common import parse_day, today, ui_router
from api.ui.render import page
from ledger.forecast import grant_forecast

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
    view = container.queries.grant(grant_id)
    figures = view.figures
    if day is not None:  # the same figures, from the postings up to that day
        (balances,) = container.queries.balances(grant_id=grant_id, as_of=day)
        figures = balances.figures
    state = view.state
    until = min(day or today(), state.spend_to)
    monthly = monthly_spend(
        container.queries, grant_id=grant_id, spend_from=state.spend_from, until=until
    )
    return page(
        request,
        "grant.html",
        user,
        state=state,
        figures=figures,
        decisions={r["code"]: r["decision"] for r in view.activity_rows},
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
    view = container.queries.grant(grant_id)
    return page(
        request,
        "forecast.html",
        user,
        state=view.state,
        forecast=grant_forecast(container.queries, grant_id, day),
        as_of=day,
    )
