"""A cost object (objekt): its spend by month, its lines, and the chores on them.

Unclassified lines get a classify form (planner); every line a reverse form (poster) that must
be confirmed.  Both go through the same request bodies and service call as the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from api.schemas.requests import ClassificationBody, ReversalBody
from api.ui.access import PlannerWrite, PosterWrite, ReaderUser, User
from api.ui.chart import monthly_spend, stacked_bars
from api.ui.pages.common import execute, parse_form, today, ui_router
from api.ui.render import page
from api.ui.rules import Refusal
from ledger.errors import LedgerError

router = ui_router()

PAGE_SIZE = 25
MESSAGES = {
    "klassad": "Raden är klassad på aktiviteten.",
    "vand": "Raden är vänd (rättelse bokförd).",
}


def _page(
    request: Request,
    user: User,
    code: str,
    *,
    sida: int = 1,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    queries = request.app.state.container.queries
    balances, totals = queries.cost_object(code)
    models = [queries.grant(b.grant_id) for b in balances]
    # The activities a line here may be classified to: those of the areas on this cost object.
    activities = [
        (m.grant_id, x.code, f"{x.name} ({x.code})")
        for m in models
        for area in m.areas
        if area.cost_object == code
        for x in area.activities
    ]
    spend_from = min(m.spend_from for m in models)
    until = min(today(), max(m.spend_to for m in models))
    monthly = monthly_spend(queries, cost_object=code, spend_from=spend_from, until=until)
    offset = (max(sida, 1) - 1) * PAGE_SIZE
    lines, total = queries.lines_on(code, offset=offset, limit=PAGE_SIZE)
    waiting, _ = queries.lines_on(code, unclassified=True, limit=200)
    return page(
        request,
        "cost_object.html",
        user,
        status_code=status_code,
        code=code,
        balances=balances,
        totals=totals,
        activities=activities,
        monthly=monthly,
        chart=stacked_bars(monthly),
        lines=lines,
        waiting=waiting,
        sida=max(sida, 1),
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        today=today(),
        **extra,
    )


@router.get("/cost-objects/{code}")
def cost_object(
    request: Request,
    code: str,
    user: ReaderUser,
    sida: int = 1,
    meddelande: str | None = None,
) -> Response:
    return _page(request, user, code, sida=sida, message=MESSAGES.get(meddelande or ""))


@router.post("/cost-objects/{code}/classify")
def classify(
    request: Request,
    code: str,
    user: PlannerWrite,
    transaction_id: Annotated[str, Form(max_length=64)],
    activity: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    body = parse_form(ClassificationBody, {"activity": activity, "reason": reason})
    form = {"transaction_id": transaction_id, "activity": activity, "reason": reason}
    if isinstance(body, Refusal):
        return _page(request, user, code, status_code=422, refusal=body, classify_form=form)
    try:
        execute(request, user, body.to_command(transaction_id))
    except LedgerError as e:
        return _page(
            request, user, code, status_code=422, refusal=Refusal.of(e), classify_form=form
        )
    return RedirectResponse(f"/ui/cost-objects/{code}?meddelande=klassad", status_code=303)


@router.post("/cost-objects/{code}/reverse")
def reverse(
    request: Request,
    code: str,
    user: PosterWrite,
    transaction_id: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    booked_on: Annotated[str, Form(max_length=20)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {"transaction_id": transaction_id, "reason": reason, "booked_on": booked_on}
    if confirm != "ja":
        return _page(
            request,
            user,
            code,
            status_code=422,
            refusal=Refusal.invalid("Kryssa i att du bekräftar att raden ska vändas."),
            reverse_form=form,
        )
    body = parse_form(ReversalBody, {"reason": reason, "booked_on": booked_on})
    if isinstance(body, Refusal):
        return _page(request, user, code, status_code=422, refusal=body, reverse_form=form)
    try:
        execute(request, user, body.to_command(transaction_id))
    except LedgerError as e:
        return _page(request, user, code, status_code=422, refusal=Refusal.of(e), reverse_form=form)
    return RedirectResponse(f"/ui/cost-objects/{code}?meddelande=vand", status_code=303)
