"""The year-end forecast (prognos): spend projected at the run rate so far, and what is at risk.

A straight line through the spend period, nothing cleverer: an activity that has spent ``s`` in
the first ``e`` days of a ``p``-day spend period is projected to spend ``s × p / e`` by its end.
Its run rate is shown per month (``s × 365 / 12 / e``).  What the projection leaves unspent of
its allocation is that activity's projected unspent; per area, the award minus repayments minus
the area's projected spend (its activities' and its unclassified spend) is the
**återbetalningsrisk**: the kronor that will go back to the funder if nothing changes.  Money
left unallocated on the area counts, because nothing will spend it; one activity's projected
overspend offsets another's unspent only inside the same area, as the funder reckons it.

Pure over the grant's one read model (``GrantModel``, read as of the forecast's day): the HTTP
answer and the web page call ``forecast`` on the same model and show the same numbers; the
names shown beside them come from that model too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from ledger.grant_model import ActivityModel, AreaModel, GrantModel
from ledger.queries import LedgerQueries

DAYS_PER_MONTH = Fraction(365, 12)


@dataclass(frozen=True, slots=True)
class SpendWindow:
    """How far into the spend period the forecast stands."""

    spend_from: date
    spend_to: date
    on: date  # the forecast's date: spend is counted up to and including it

    @classmethod
    def of(cls, model: GrantModel) -> SpendWindow:
        """The window of a grant's model, standing on the day its figures describe."""
        return cls(spend_from=model.spend_from, spend_to=model.spend_to, on=model.on)

    @property
    def period_days(self) -> int:
        return (self.spend_to - self.spend_from).days + 1

    @property
    def elapsed_days(self) -> int:
        """Days of the period up to ``on`` (0 before it starts, all of them after it ends)."""
        return max(0, min((self.on - self.spend_from).days + 1, self.period_days))

    def projected(self, spent: int) -> int:
        """Spend at the period's end at the run rate so far (spend so far when none has run)."""
        if self.elapsed_days == 0:
            return spent
        return _round(Fraction(spent * self.period_days, self.elapsed_days))

    def monthly_rate(self, spent: int) -> int:
        if self.elapsed_days == 0:
            return 0
        return _round(spent * DAYS_PER_MONTH / self.elapsed_days)


@dataclass(frozen=True, slots=True)
class ActivityForecast:
    code: str
    area: str
    name: str
    allocated: int
    spent: int
    monthly_rate: int
    projected_spent: int
    projected_unspent: int  # allocated − projected spend, never below zero
    projected_overspend: int  # projected spend − allocated, never below zero

    @classmethod
    def of(cls, a: ActivityModel, window: SpendWindow) -> ActivityForecast:
        projected = window.projected(a.spent)
        return cls(
            code=a.code,
            area=a.area,
            name=a.name,
            allocated=a.allocated,
            spent=a.spent,
            monthly_rate=window.monthly_rate(a.spent),
            projected_spent=projected,
            projected_unspent=max(0, a.allocated - projected),
            projected_overspend=max(0, projected - a.allocated),
        )


@dataclass(frozen=True, slots=True)
class AreaForecast:
    code: str
    name: str
    awarded: int
    repaid: int
    unallocated: int
    spent: int
    projected_spent: int
    repayment_risk: int  # awarded − repaid − projected spend, never below zero
    activities: tuple[ActivityForecast, ...]

    @classmethod
    def of(cls, a: AreaModel, window: SpendWindow) -> AreaForecast:
        activities = tuple(ActivityForecast.of(x, window) for x in a.activities)
        projected = sum(x.projected_spent for x in activities) + window.projected(
            a.unclassified_spent
        )
        return cls(
            code=a.code,
            name=a.name,
            awarded=a.awarded,
            repaid=a.repaid,
            unallocated=a.unallocated,
            spent=a.spent,
            projected_spent=projected,
            repayment_risk=max(0, a.awarded - a.repaid - projected),
            activities=activities,
        )


@dataclass(frozen=True, slots=True)
class Forecast:
    window: SpendWindow
    awarded: int
    spent: int
    projected_spent: int
    repayment_risk: int  # Σ areas' risk: one area's overspend does not cover another's unspent
    areas: tuple[AreaForecast, ...]


def forecast(model: GrantModel) -> Forecast:
    """The forecast on the day the model describes (its ``as_of``, or the day it was read)."""
    window = SpendWindow.of(model)
    areas = tuple(AreaForecast.of(a, window) for a in model.areas)
    unplaced = window.projected(model.unplaced_spent)
    return Forecast(
        window=window,
        awarded=model.totals.awarded,
        spent=model.totals.spent,
        projected_spent=sum(a.projected_spent for a in areas) + unplaced,
        repayment_risk=sum(a.repayment_risk for a in areas),
        areas=areas,
    )


def _round(value: Fraction) -> int:
    """Half away from zero, to the öre: how a controller rounds by hand."""
    whole, rest = divmod(abs(value.numerator), value.denominator)
    if 2 * rest >= value.denominator:
        whole += 1
    return whole if value >= 0 else -whole


def grant_forecast(queries: LedgerQueries, grant_id: str, on: date) -> Forecast:
    """The forecast of one grant on a day, from its read model as of that day."""
    return forecast(queries.grant(grant_id, as_of=on))
