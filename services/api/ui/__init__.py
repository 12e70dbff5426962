"""The web app for controllers under ``/ui/``: server-rendered pages in Swedish.

Routes parse a form or a query, call the same queries and service as the API routers, and
render a template; no business rule lives here.  ``install`` mounts it on the API's app.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.ui.access import CsrfRefused, RoleRefused, SignInRequired, current_user
from api.ui.pages import router
from api.ui.render import HERE, page
from api.ui.session import Sessions


def install(app: FastAPI) -> None:
    app.state.ui_sessions = Sessions.from_env()
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.include_router(router)
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(RoleRefused, _role_refused)
    app.add_exception_handler(CsrfRefused, _csrf_refused)


async def _sign_in(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/ui/login", status_code=303)


async def _role_refused(request: Request, exc: Exception) -> Response:
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
