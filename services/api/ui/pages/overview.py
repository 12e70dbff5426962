"""Översikt: every grant's figures, and what needs a controller's attention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContainerDep
from api.ui.access import ReaderUser
from api.ui.pages.common import today, ui_router
from api.ui.render import page
from ledger.forecast import grant_forecast
from ledger.queries import GrantView

router = ui_router()

DEADLINE_DAYS = 60


@dataclass(frozen=True, slots=True)
class Attention:
    grant_id: str
    kind: str  # "overspent", "unclassified", "deadline", "risk"
    text: str
    amount: int | None = None
    link: str | None = None


def attention(view: GrantView, risk: int) -> list[Attention]:
    s, f = view.state, view.figures
    found: list[Attention] = []
    for area in f.areas:
        for a in area.activities:
            if a.overspent:
                found.append(
                    Attention(
                        s.grant_id,
                        "overspent",
                        f"{s.activities[a.code].name} ({a.code}) är överskriden med",
                        -a.remaining,
                        f"/ui/grants/{s.grant_id}#akt-{a.code}",
                    )
                )
    for area in f.areas:
        if area.unclassified_spent:
            found.append(
                Attention(
                    s.grant_id,
                    "unclassified",
                    f"Oklassat utfall på objekt {area.cost_object} ({area.code}) väntar",
                    area.unclassified_spent,
                    f"/ui/cost-objects/{area.cost_object}",
                )
            )
    for cost_object, amount in f.unplaced.items():
        found.append(
            Attention(
                s.grant_id,
                "unclassified",
                f"Oklassat utfall på delat objekt {cost_object} väntar",
                amount,
                f"/ui/cost-objects/{cost_object}",
            )
        )
    now = today()
    for r in s.reporting:
        if now <= r.due <= now + timedelta(days=DEADLINE_DAYS):
            found.append(
                Attention(
                    s.grant_id,
                    "deadline",
                    f"{r.kind.capitalize()} till {r.recipient} ska lämnas {r.due.isoformat()}",
                )
            )
    if risk:
        found.append(
            Attention(
                s.grant_id,
                "risk",
                "Återbetalningsrisk enligt prognosen",
                risk,
                f"/ui/grants/{s.grant_id}/prognos",
            )
        )
    return found


@router.get("/")
def overview(request: Request, user: ReaderUser, container: ContainerDep) -> Response:
    views = container.queries.grants()
    now = today()
    items: list[Attention] = []
    for v in views:
        risk = grant_forecast(container.queries, v.state.grant_id, now).repayment_risk
        items += attention(v, risk)
    return page(
        request,
        "overview.html",
        user,
        grants=views,
        attention=items,
        deadline_days=DEADLINE_DAYS,
    )
