"""The web app for controllers under ``/ui/``: server-rendered pages in Swedish.

Routes parse a form or a query, call the same queries and service as the API routers, and
render a template; no business rule lives here.  ``install`` mounts it on the API's app.

The pages are imported on the first request under ``/ui`` (``_Pages``), not when the app is
built: with them come Jinja2, Babel and the pages' own imports (≈ 4 MB in every server worker),
which an API-only deployment never needs.  That request puts the pages' routes where the
placeholder stood, in the same order, and is then routed among them like every later one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from api.ui.access import CsrfRefused, RoleRefused, SignInRequired, current_user
from api.ui.session import Sessions

PREFIX = "/ui"


def install(app: FastAPI) -> None:
    app.state.ui_sessions = Sessions.from_env()
    app.router.routes.append(_Pages(app))
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(RoleRefused, _role_refused)
    app.add_exception_handler(CsrfRefused, _csrf_refused)


def _mount_pages(app: FastAPI) -> None:
    """The static files and the pages' routes (appended: the caller puts them in place)."""
    from fastapi.staticfiles import StaticFiles

    from api.ui.pages import router
    from api.ui.render import HERE

    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.include_router(router)


class _Pages(BaseRoute):
    """Stands for every route under ``/ui`` until the first request there imports them.

    It has no ``path``: a request it cannot place (404) is ``unmatched`` in the metrics and the
    access log, as it was when the pages were routes from the start.
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":  # as the pages' routes match: below any root_path
            path = get_route_path(scope)
            if path == PREFIX or path.startswith(f"{PREFIX}/"):
                return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        routes = self._app.router.routes
        if self in routes:  # the first request here (no await between check and swap)
            at = routes.index(self)
            after = routes[at + 1 :]
            del routes[at:]
            _mount_pages(self._app)
            routes.extend(after)
        await self._app.router.app(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the pages' names exist once they are imported

    def __repr__(self) -> str:
        return f"{type(self).__name__}({PREFIX!r}, not imported yet)"


async def _sign_in(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/ui/login", status_code=303)


async def _role_refused(request: Request, exc: Exception) -> Response:
    from api.ui.render import page

    assert isinstance(exc, RoleRefused)
    user = current_user(request, request.app.state.container)
    return page(
        request,
        "error.html",
        user,
        status_code=403,
        heading="Behörighet saknas",
        message=f"Rollen {exc.principal.role.value} får inte göra detta; "
        f"det kräver rollen {exc.needed.value}.",
    )


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    from api.ui.render import page

    user = current_user(request, request.app.state.container)
    return page(
        request,
        "error.html",
        user,
        status_code=403,
        heading="Formuläret kunde inte verifieras",
        message="Formuläret saknar eller har fel säkerhetstoken (CSRF). Ladda om sidan och "
        "försök igen.",
    )
