"""Liveness and readiness, for load balancers and orchestrators (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ContainerDep
from ledger import migrate
from ledger.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Liveness",
    description="Answers 200 while the process runs; touches nothing else.",
    operation_id="healthz",
)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness",
    description="200 when the database answers and its schema is at the newest migration; "
    "503 otherwise, with the reason.",
    operation_id="readyz",
    responses={503: {"description": "Database unreachable or schema not at head"}},
)
def readyz(container: ContainerDep) -> JSONResponse:
    try:
        ready = migrate.is_at_head(container.engine)
    except Unavailable as e:
        return JSONResponse({"status": "unavailable", "reason": e.detail}, status_code=503)
    if not ready:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": "database schema is not at head: run `grantledger db upgrade`",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready"})
