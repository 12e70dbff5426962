"""Planering: reallocate within an area, allocate a new activity (planner).

A refused request comes back on the same form, with what was typed, the rule and the amounts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from api.schemas.requests import ActivityBody, ReallocationBody
from api.ui.access import PlannerUser, PlannerWrite, User
from api.ui.pages.common import execute, parse_form, ui_router
from api.ui.render import page
from api.ui.rules import Refusal
from ledger.errors import LedgerError

router = ui_router()

MESSAGES = {
    "omfordelad": "Omfördelningen är bokförd.",
    "fordelad": "Aktiviteten är skapad.",
}

Text = Annotated[str, Form(max_length=2000)]


def _page(
    request: Request, user: User, grant_id: str, *, status_code: int = 200, **extra: Any
) -> Response:
    model = request.app.state.container.queries.grant(grant_id)
    return page(request, "planning.html", user, status_code=status_code, model=model, **extra)


def _decision(ref: str, day: str, body: str) -> dict[str, str] | None:
    if not (ref or day or body):
        return None  # no decision given: the ledger says whether one is needed (rule 7)
    return {"ref": ref, "date": day, "body": body}


@router.get("/grants/{grant_id}/planering")
def planning(
    request: Request, grant_id: str, user: PlannerUser, meddelande: str | None = None
) -> Response:
    return _page(request, user, grant_id, message=MESSAGES.get(meddelande or ""))


@router.post("/grants/{grant_id}/planering/omfordelning")
def reallocate(
    request: Request,
    grant_id: str,
    user: PlannerWrite,
    from_activity: Text = "",
    to_activity: Text = "",
    amount: Text = "",
    reason: Text = "",
    decision_ref: Text = "",
    decision_date: Text = "",
    decision_body: Text = "",
) -> Response:
    form = {
        "from_activity": from_activity,
        "to_activity": to_activity,
        "amount": amount,
        "reason": reason,
        "decision_ref": decision_ref,
        "decision_date": decision_date,
        "decision_body": decision_body,
    }
    body = parse_form(
        ReallocationBody,
        {
            "from_activity": from_activity,
            "to_activity": to_activity,
            "amount": _decimal_point(amount),
            "reason": reason,
            "decision": _decision(decision_ref, decision_date, decision_body),
        },
    )
    if isinstance(body, Refusal):
        return _refused(request, user, grant_id, body, realloc=form)
    try:
        execute(request, user, body.to_command(grant_id))
    except LedgerError as e:
        return _refused(request, user, grant_id, Refusal.of(e), realloc=form)
    return RedirectResponse(
        f"/ui/grants/{grant_id}/planering?meddelande=omfordelad", status_code=303
    )


@router.post("/grants/{grant_id}/planering/aktivitet")
def allocate(
    request: Request,
    grant_id: str,
    user: PlannerWrite,
    code: Text = "",
    area: Text = "",
    name: Text = "",
    amount: Text = "",
    responsible: Text = "",
    exit_plan: Text = "",
    decision_ref: Text = "",
    decision_date: Text = "",
    decision_body: Text = "",
) -> Response:
    form = {
        "code": code,
        "area": area,
        "name": name,
        "amount": amount,
        "responsible": responsible,
        "exit_plan": exit_plan,
        "decision_ref": decision_ref,
        "decision_date": decision_date,
        "decision_body": decision_body,
    }
    body = parse_form(
        ActivityBody,
        {
            "code": code,
            "area": area,
            "name": name,
            "amount": _decimal_point(amount),
            "responsible": responsible,
            "new_activity": True,
            "exit_plan": exit_plan or None,
            "decision": _decision(decision_ref, decision_date, decision_body),
        },
    )
    if isinstance(body, Refusal):
        return _refused(request, user, grant_id, body, alloc=form)
    try:
        execute(request, user, body.to_command(grant_id))
    except LedgerError as e:
        return _refused(request, user, grant_id, Refusal.of(e), alloc=form)
    return RedirectResponse(f"/ui/grants/{grant_id}/planering?meddelande=fordelad", status_code=303)


def _refused(
    request: Request, user: User, grant_id: str, refusal: Refusal, **form: Any
) -> Response:
    return _page(request, user, grant_id, status_code=422, refusal=refusal, **form)


def _decimal_point(amount: str) -> str:
    """Kronor as a Swede types them (``1 000 000,50``) to the API's form (``1000000.50``)."""
    return amount.replace("\u00a0", "").replace(" ", "").replace(",", ".")
