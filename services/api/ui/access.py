"""Who is using the web app, and may they: the session cookie checked on every request.

The same roles as the API (``Role.may``, the check ``api.auth.require`` makes), so a page or a
form a role may not use is refused by the server whatever the browser sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request

from api.deps import ContainerDep
from api.ui.session import COOKIE, Session, Sessions
from ledger.auth.tokens import Principal, Role


class SignInRequired(Exception):
    """No valid session: the browser goes to the sign-in page."""


class RoleRefused(Exception):
    def __init__(self, principal: Principal, needed: Role) -> None:
        super().__init__(needed.value)
        self.principal = principal
        self.needed = needed


class CsrfRefused(Exception):
    """A writing form came without this session's CSRF token."""


def sessions(request: Request) -> Sessions:
    found: Sessions = request.app.state.ui_sessions
    return found


@dataclass(frozen=True, slots=True)
class User:
    """The signed-in principal, their session, and its CSRF token for the forms."""

    principal: Principal
    session: Session
    csrf: str

    def may(self, role: str) -> bool:
        return self.principal.role.may(Role(role))


def current_user(request: Request, container: ContainerDep) -> User | None:
    store = sessions(request)
    session = store.read(request.cookies.get(COOKIE))
    if session is None:
        return None
    principal = container.tokens.principal_of_hash(session.token_hash)
    if principal is None:  # revoked since sign-in
        return None
    return User(principal, session, store.csrf(session))


def require(role: Role) -> Callable[..., User]:
    def dependency(request: Request, container: ContainerDep) -> User:
        user = current_user(request, container)
        if user is None:
            raise SignInRequired
        if not user.principal.role.may(role):
            raise RoleRefused(user.principal, role)
        return user

    return dependency


def writing(role: Role) -> Callable[..., User]:
    """``require`` for a form that writes: the CSRF token must come with it."""
    read = require(role)

    def dependency(
        request: Request, container: ContainerDep, csrf: Annotated[str, Form()] = ""
    ) -> User:
        user = read(request, container)
        if not sessions(request).csrf_ok(user.session, csrf):
            raise CsrfRefused
        return user

    return dependency


ReaderUser = Annotated[User, Depends(require(Role.READER))]
AuditorUser = Annotated[User, Depends(require(Role.AUDITOR))]
PlannerUser = Annotated[User, Depends(require(Role.PLANNER))]
PosterUser = Annotated[User, Depends(require(Role.POSTER))]
PlannerWrite = Annotated[User, Depends(writing(Role.PLANNER))]
PosterWrite = Annotated[User, Depends(writing(Role.POSTER))]
ReaderWrite = Annotated[User, Depends(writing(Role.READER))]
AdminWrite = Annotated[User, Depends(writing(Role.ADMIN))]
