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
from ledger.grant_model import GrantModel

router = ui_router()

DEADLINE_DAYS = 60


@dataclass(frozen=True, slots=True)
class Attention:
    grant_id: str
    kind: str  # "overspent", "unclassified", "deadline", "risk"
    text: str
    amount: int | None = None
    link: str | None = None


def attention(model: GrantModel, risk: int) -> list[Attention]:
    gid = model.grant_id
    found = [
        Attention(
            gid,
            "overspent",
            f"{a.name} ({a.code}) är överskriden med",
            -a.remaining,
            f"/ui/grants/{gid}#akt-{a.code}",
        )
        for area in model.areas
        for a in area.activities
        if a.overspent
    ]
    found += [
        Attention(
            gid,
            "unclassified",
            f"Oklassat utfall på objekt {area.cost_object} ({area.code}) väntar",
            area.unclassified_spent,
            f"/ui/cost-objects/{area.cost_object}",
        )
        for area in model.areas
        if area.unclassified_spent
    ]
    found += [
        Attention(
            gid,
            "unclassified",
            f"Oklassat utfall på delat objekt {u.cost_object} väntar",
            u.spent,
            f"/ui/cost-objects/{u.cost_object}",
        )
        for u in model.unplaced
    ]
    now = today()
    found += [
        Attention(
            gid,
            "deadline",
            f"{r.kind.capitalize()} till {r.recipient} ska lämnas {r.due.isoformat()}",
        )
        for r in model.reporting
        if now <= r.due <= now + timedelta(days=DEADLINE_DAYS)
    ]
    if risk:
        found.append(
            Attention(
                gid,
                "risk",
                "Återbetalningsrisk enligt prognosen",
                risk,
                f"/ui/grants/{gid}/prognos",
            )
        )
    return found


@router.get("/")
def overview(request: Request, user: ReaderUser, container: ContainerDep) -> Response:
    models = container.queries.grants()
    now = today()
    items: list[Attention] = []
    for m in models:
        # The prognos page's figure: the forecast on today's booking date.
        risk = grant_forecast(container.queries, m.grant_id, now).repayment_risk
        items += attention(m, risk)
    return page(
        request,
        "overview.html",
        user,
        grants=models,
        attention=items,
        deadline_days=DEADLINE_DAYS,
    )
