"""The year-end forecast of a grant (prognos), for other apps: the web page's figures as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Reader
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, READ_ERRORS
from api.schemas.answers import MoneyOut
from ledger.forecast import AreaForecast, Forecast, grant_forecast
from ledger.types import Day

router = APIRouter(prefix="/v1/grants", tags=["grants"], responses={**READ_ERRORS, **NOT_FOUND})


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class ActivityForecastOut(_Out):
    code: str
    area: str
    allocated: MoneyOut
    spent: MoneyOut = Field(description="Spend to date (up to and including `on`).")
    monthly_rate: MoneyOut = Field(description="Spend per month since the spend period began.")
    projected_spent: MoneyOut = Field(description="Spend at the period's end at that rate.")
    projected_unspent: MoneyOut = Field(description="Allocated − projected spend, at least 0.")
    projected_overspend: MoneyOut = Field(description="Projected spend − allocated, at least 0.")


class AreaForecastOut(_Out):
    code: str
    awarded: MoneyOut
    repaid: MoneyOut
    unallocated: MoneyOut
    spent: MoneyOut
    projected_spent: MoneyOut
    repayment_risk: MoneyOut = Field(
        description="Återbetalningsrisk: awarded − repaid − projected spend, at least 0."
    )
    activities: list[ActivityForecastOut]

    @classmethod
    def of(cls, a: AreaForecast) -> AreaForecastOut:
        return cls.model_validate(
            {
                **{f: getattr(a, f) for f in AreaForecast.__dataclass_fields__},
                "activities": [ActivityForecastOut.model_validate(x) for x in a.activities],
            }
        )


class ForecastOut(_Out):
    grant_id: str
    on: dt.date = Field(description="The day the forecast stands on: spend is counted up to it.")
    spend_from: dt.date
    spend_to: dt.date
    elapsed_days: int = Field(description="Days of the spend period up to `on`.")
    period_days: int
    awarded: MoneyOut
    spent: MoneyOut
    projected_spent: MoneyOut
    repayment_risk: MoneyOut = Field(description="Σ of the areas' återbetalningsrisk.")
    areas: list[AreaForecastOut]

    @classmethod
    def of(cls, grant_id: str, f: Forecast) -> ForecastOut:
        w = f.window
        return cls(
            grant_id=grant_id,
            on=w.on,
            spend_from=w.spend_from,
            spend_to=w.spend_to,
            elapsed_days=w.elapsed_days,
            period_days=w.period_days,
            awarded=f.awarded,
            spent=f.spent,
            projected_spent=f.projected_spent,
            repayment_risk=f.repayment_risk,
            areas=[AreaForecastOut.of(a) for a in f.areas],
        )


@router.get(
    "/{grant_id}/forecast",
    response_model=ForecastOut,
    operation_id="getGrantForecast",
    summary="Year-end forecast (prognos)",
    description="Per activity: spend to date, the run rate per month since the spend period "
    "began, the spend projected at the period's end at that rate (a straight line), and the "
    "projected unspent. Per area the återbetalningsrisk: award − repaid − projected spend, the "
    "kronor that go back to the funder if nothing changes. `as_of` sets the day the forecast "
    "stands on (default today).",
)
def get_forecast(
    grant_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", examples=["gnv-2022"])],
    _: Reader,
    container: ContainerDep,
    as_of: Annotated[
        Day | None, Query(description="Forecast as this booking date (default today).")
    ] = None,
) -> ForecastOut:
    on = as_of or dt.datetime.now(dt.UTC).date()
    return ForecastOut.of(grant_id, grant_forecast(container.queries, grant_id, on))
