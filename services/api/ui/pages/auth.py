"""Sign in with a token, sign out: the session cookie's whole life."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import ContainerDep
from api.ui.access import ReaderWrite, current_user, sessions
from api.ui.pages.common import ui_router
from api.ui.render import page
from api.ui.session import COOKIE
from ledger.auth.tokens import hash_token

router = ui_router()


@router.get("/login")
def login_form(request: Request, container: ContainerDep) -> Response:
    if current_user(request, container) is not None:
        return RedirectResponse("/ui/", status_code=303)
    return page(request, "login.html", None)


@router.post("/login")
def login(
    request: Request, container: ContainerDep, token: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    if not _same_origin(request):
        # Login CSRF: another site posting its own token would sign this browser in as that token.
        return page(
            request,
            "login.html",
            None,
            status_code=403,
            error="Inloggning från en annan webbplats.",
        )
    principal = container.tokens.authenticate(token.strip()) if token.strip() else None
    if principal is None:
        return page(
            request,
            "login.html",
            None,
            status_code=401,
            error="Okänd eller återkallad token. Kontrollera att hela token kom med.",
        )
    store = sessions(request)
    _, cookie = store.issue(hash_token(token.strip()))
    answer = RedirectResponse("/ui/", status_code=303)
    answer.set_cookie(
        COOKIE,
        cookie,
        max_age=store.lifetime_seconds,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",  # behind HTTPS (uvicorn trusts X-Forwarded-Proto)
    )
    return answer


@router.post("/logout")
def logout(request: Request, user: ReaderWrite) -> Response:
    sessions(request).end(user.session)
    answer = RedirectResponse("/ui/login", status_code=303)
    answer.delete_cookie(
        COOKIE, path="/ui", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return answer


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST came from (Origin); it must be this server.

    The API answers ``Referrer-Policy: no-referrer``, under which a browser sends ``Origin:
    null``; the pages set ``same-origin`` for themselves (base.html) so it names this server.
    """
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or one that sends no Origin: the cookie rules apply
        return True
    served = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return urlsplit(origin).netloc in served - {None}
