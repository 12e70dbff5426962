"""What every page module shares: the route class that renders refusals as a page, dates."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from api.container import Container
from api.problems import STATUS_BY_KIND
from api.ui.access import User, current_user
from api.ui.render import page
from api.ui.rules import Refusal
from ledger.errors import InvalidInput, LedgerError
from ledger.service import Actor, Command, Replayed, Result

M = TypeVar("M", bound=BaseModel)


class UiRoute(APIRoute):
    """A ledger error on a page (an unknown grant, a bad date) is an HTML page, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def render_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except LedgerError as e:
                status = next((s for kind, s in STATUS_BY_KIND.items() if isinstance(e, kind)), 500)
                user = current_user(request, request.app.state.container)
                refusal = Refusal.of(e)
                return page(
                    request,
                    "error.html",
                    user,
                    status_code=status,
                    heading=refusal.heading,
                    message=refusal.detail,
                )

        return render_errors


def ui_router() -> APIRouter:
    # Pages are not part of the API's contract: kept out of the OpenAPI document.
    return APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)


def today() -> date:
    return datetime.now(UTC).date()


def parse_day(value: str | None, field: str = "as_of") -> date | None:
    """An ISO date from a query or a form; an empty field is none."""
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as e:
        raise InvalidInput(f"{value!r} är inget datum på formen ÅÅÅÅ-MM-DD", field=field) from e


def actor_of(request: Request, user: User) -> Actor:
    """Who writes: the signed-in principal, with the request's id for the event's metadata."""
    return Actor(
        user.principal.name,
        user.principal.role.value,
        request_id=getattr(request.state, "request_id", None),
    )


def execute(request: Request, user: User, command: Command) -> Result | Replayed:
    """The command through the ledger service, as the API's writer runs it, by this user."""
    container: Container = request.app.state.container
    return container.service.execute(command, actor_of(request, user))


def parse_form(model: type[M], data: dict[str, Any]) -> M | Refusal:
    """A request body from a form's fields, or what is wrong with them, in words."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        return Refusal.invalid(
            "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        )
