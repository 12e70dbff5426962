"""Bearer tokens and roles: who is asking, and may they."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.deps import ContainerDep
from ledger.auth.tokens import Principal, Role
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


Reader = Annotated[Principal, Depends(require(Role.READER))]
Poster = Annotated[Principal, Depends(require(Role.POSTER))]
Planner = Annotated[Principal, Depends(require(Role.PLANNER))]
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
