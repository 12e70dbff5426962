"""Bearer tokens and roles: who is asking, and may they."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.deps import ContainerDep
from ledger.auth.tokens import Principal, Role, TokenRegistry
from ledger.errors import LedgerError


class UnauthenticatedError(LedgerError):
    code = "unauthenticated"
    title = "Missing or invalid token"


class ForbiddenError(LedgerError):
    code = "forbidden"
    title = "Role not allowed"


# auto_error=False: we answer 401 ourselves, as problem+json, not FastAPI's plain 403.
_bearer = HTTPBearer(auto_error=False, description="A token from `grantledger token create`.")


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    # async: a token found in the process's cache (the common case) is checked on the event
    # loop; only a lookup in the database goes to the thread pool.
    async def dependency(
        container: ContainerDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise UnauthenticatedError("send Authorization: Bearer <token>")
        tokens = container.tokens
        decided, principal = tokens.authenticate_cached(credentials.credentials)
        if not decided:
            principal = await run_in_threadpool(tokens.authenticate, credentials.credentials)
        if principal is None:
            raise UnauthenticatedError("the token is unknown, revoked or expired")
        if not principal.role.may(role):
            raise ForbiddenError(
                f"role {principal.role.value!r} may not do this; it needs {role.value!r}",
                role=principal.role.value,
                required=role.value,
            )
        return principal

    return dependency


async def cached_principal(request: Request, tokens: TokenRegistry, role: Role) -> Principal | None:
    """The principal the request's bearer token proves, from the token cache alone, if it may act
    as ``role``; None whenever anything else must decide (no or another scheme, a token not
    cached, expired, or of a role that may not): then ``require(role)`` does, the long way."""
    credentials = await _bearer(request)
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    decided, principal = tokens.authenticate_cached(credentials.credentials)
    if not decided or principal is None or not principal.role.may(role):
        return None
    return principal


Reader = Annotated[Principal, Depends(require(Role.READER))]
Poster = Annotated[Principal, Depends(require(Role.POSTER))]
Planner = Annotated[Principal, Depends(require(Role.PLANNER))]
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
