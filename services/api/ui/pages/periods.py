"""Perioder: which months are open or closed, and closing one (periodstängning, admin).

The list is the API's ``GET /v1/periods`` query; the close form runs the API's command
(``ClosePeriod``, the decider checks the month).  Closing cannot be undone, so the form must be
confirmed; a refusal comes back on the form with what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from api.ui.access import AdminWrite, ReaderUser, User
from api.ui.pages.common import execute, ui_router
from api.ui.render import page
from api.ui.rules import Refusal
from ledger.domain.commands import ClosePeriod
from ledger.errors import LedgerError

router = ui_router()

MESSAGES = {"stangd": "Månaden är stängd."}


def _page(request: Request, user: User, *, status_code: int = 200, **extra: Any) -> Response:
    months = request.app.state.container.queries.periods()
    return page(request, "periods.html", user, status_code=status_code, months=months, **extra)


@router.get("/perioder")
def periods(request: Request, user: ReaderUser, meddelande: str | None = None) -> Response:
    return _page(request, user, message=MESSAGES.get(meddelande or ""))


@router.post("/perioder/stang")
def close(
    request: Request,
    user: AdminWrite,
    period: Annotated[str, Form(max_length=20)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {"period": period.strip()}
    if confirm != "ja":
        refusal = Refusal.invalid("Kryssa i att du bekräftar att månaden ska stängas.")
        return _page(request, user, status_code=422, refusal=refusal, close_form=form)
    try:
        execute(request, user, ClosePeriod(form["period"]))
    except LedgerError as e:
        return _page(request, user, status_code=422, refusal=Refusal.of(e), close_form=form)
    return RedirectResponse("/ui/perioder?meddelande=stangd", status_code=303)
