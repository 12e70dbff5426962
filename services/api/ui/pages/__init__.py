"""The pages of the web app, one module per page family, under one router."""

from __future__ import annotations

from fastapi import APIRouter

from api.ui.pages import (
    audit,
    auth,
    cost_object,
    grant,
    imports,
    overview,
    periods,
    planning,
    reports,
)

router = APIRouter()
for module in (auth, overview, grant, cost_object, planning, periods, audit, reports, imports):
    router.include_router(module.router)
