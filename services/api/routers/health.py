"""Liveness and readiness, for load balancers and orchestrators (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import ContainerDep
from api.problems import problem
from ledger import migrate
from ledger.errors import SchemaNotReady, Unavailable

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
def readyz(container: ContainerDep) -> Response:
    try:
        ready = migrate.is_at_head(container.engine)
    except Unavailable as e:
        return _unready(e.code, e.title, e.detail)
    if not ready:
        not_ready = SchemaNotReady("database schema is not at head: run `grantledger db upgrade`")
        return _unready(not_ready.code, not_ready.title, not_ready.detail)
    return JSONResponse({"status": "ready"})


def _unready(code: str, title: str, reason: str) -> Response:
    # A problem document like every other error answer; `reason` kept for probes that read it.
    return problem(503, code, title, reason, instance="/readyz", reason=reason)
