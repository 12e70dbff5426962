"""The one read model of a grant: its plan, figures and decisions per area and activity.

``LedgerQueries.grant_model`` reads it in one snapshot (one read transaction), so its figures and
its decision list always describe the same commits; the grant answer, the JSON, CSV and XLSX
reports and the web pages all render this model, and none of them re-assembles grant × area ×
activity × decision on its own.  Built once, with ``X.of(...)`` constructors from the domain's
own shapes: ``GrantState`` (names, responsibles, cost objects), ``GrantFigures`` (money) and the
grant's planning events (decisions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from ledger.domain import events as ev
from ledger.domain.balances import ActivityFigures, AreaFigures, GrantFigures
from ledger.domain.commands import Decision, ReportingObligation
from ledger.domain.state import ActivityInfo, AreaInfo, GrantState

# The events that carry a decision (rule 7), in the order a grant's plan is written.
PLANNING_EVENTS = (
    "GrantRegistered",
    "AwardAmended",
    "ActivityAllocated",
    "BudgetReallocated",
    "YearClosed",
)


@dataclass(frozen=True, slots=True)
class ActivityModel:
    code: str
    area: str
    name: str
    responsible: str
    new_activity: bool
    exit_plan: str | None
    decision: Decision | None  # the allocation's decision
    allocated: int
    spent: int
    remaining: int  # allocated − spent; negative when overspent
    overspent: bool

    @classmethod
    def of(
        cls, info: ActivityInfo, figures: ActivityFigures, decision: Decision | None
    ) -> ActivityModel:
        return cls(
            code=info.code,
            area=info.area,
            name=info.name,
            responsible=info.responsible,
            new_activity=info.new_activity,
            exit_plan=info.exit_plan,
            decision=decision,
            allocated=figures.allocated,
            spent=figures.spent,
            remaining=figures.remaining,
            overspent=figures.overspent,
        )


@dataclass(frozen=True, slots=True)
class AreaModel:
    code: str
    name: str
    cost_object: str
    responsible: str
    ring_fenced: bool
    awarded: int
    allocated: int
    unallocated: int
    spent: int  # its activities' spend + its unclassified spend
    unclassified_spent: int
    repaid: int
    remaining: int  # awarded − spent − repaid
    activities: tuple[ActivityModel, ...]

    @classmethod
    def of(
        cls, info: AreaInfo, figures: AreaFigures, activities: Iterable[ActivityModel]
    ) -> AreaModel:
        return cls(
            code=info.code,
            name=info.name,
            cost_object=info.cost_object,
            responsible=info.responsible,
            ring_fenced=info.ring_fenced,
            awarded=figures.awarded,
            allocated=figures.allocated,
            unallocated=figures.unallocated,
            spent=figures.spent,
            unclassified_spent=figures.unclassified_spent,
            repaid=figures.repaid,
            remaining=figures.remaining,
            activities=tuple(activities),
        )


@dataclass(frozen=True, slots=True)
class UnplacedModel:
    """Spend on a cost object serving several areas (9942) that no area holds until classified.

    A row of its own beside the areas: the areas plus these rows add up to the grant.
    """

    cost_object: str
    spent: int

    @classmethod
    def of(cls, unplaced: Mapping[str, int]) -> tuple[UnplacedModel, ...]:
        return tuple(cls(cost_object=co, spent=amount) for co, amount in sorted(unplaced.items()))


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """A planning event and the decision that authorised it."""

    decision: Decision
    event_type: str
    subject: str
    amount: int | None
    effective_date: date

    @classmethod
    def of(cls, event: ev.Event) -> DecisionEntry | None:
        """The entry of a planning event; ``None`` for an event that records no decision."""
        subject: str
        amount: int | None
        match event:
            case ev.GrantRegistered(name=name, areas=areas):
                subject, amount = name, sum(a.awarded for a in areas)
            case ev.AwardAmended(area=area, awarded=awarded):
                subject, amount = area, awarded
            case ev.ActivityAllocated(code=code, amount=allocated):
                subject, amount = code, allocated
            case ev.BudgetReallocated(from_activity=source, to_activity=target, amount=moved):
                subject, amount = f"{source} → {target}", moved
            case ev.YearClosed(year=year, released=released):
                subject, amount = str(year), sum(r.amount for r in released)
            case _:
                return None
        return cls(
            decision=event.decision,
            event_type=event.event_type,
            subject=subject,
            amount=amount,
            effective_date=event.effective_date,
        )


@dataclass(frozen=True, slots=True)
class GrantModel:
    grant_id: str
    name: str
    funder: str
    decision: Decision
    spend_from: date
    spend_to: date
    repayment_reference: str | None
    reporting: tuple[ReportingObligation, ...]  # by due date
    closed_years: tuple[int, ...]
    version: int  # the grant's stream version: its ETag
    as_of: date | None  # a booking date, or None for today
    read_at: datetime  # when the snapshot was read
    totals: GrantFigures  # the whole grant; its ``areas`` are the bare figures behind ``areas``
    areas: tuple[AreaModel, ...]
    unplaced: tuple[UnplacedModel, ...]
    # Planning decisions effective on or before ``as_of``, in the order they were recorded;
    # empty unless the reader asked for them (the report does, the grant answer does not).
    decisions: tuple[DecisionEntry, ...] = field(default=())

    @property
    def unplaced_spent(self) -> int:
        return sum(u.spent for u in self.unplaced)

    @property
    def on(self) -> date:
        """The day the figures describe: ``as_of``, or the day they were read."""
        return self.as_of or self.read_at.date()

    @classmethod
    def of(
        cls,
        state: GrantState,
        figures: GrantFigures,
        *,
        activity_decisions: Mapping[str, Decision],
        decisions: Iterable[DecisionEntry] = (),
        as_of: date | None,
        read_at: datetime,
    ) -> GrantModel:
        areas = tuple(
            AreaModel.of(
                state.areas[a.code],
                a,
                (
                    ActivityModel.of(state.activities[x.code], x, activity_decisions.get(x.code))
                    for x in a.activities
                ),
            )
            for a in figures.areas
        )
        return cls(
            grant_id=state.grant_id,
            name=state.name,
            funder=state.funder,
            decision=state.decision,
            spend_from=state.spend_from,
            spend_to=state.spend_to,
            repayment_reference=state.repayment_reference,
            reporting=tuple(sorted(state.reporting, key=lambda r: r.due)),
            closed_years=tuple(sorted(state.closed_years)),
            version=state.version,
            as_of=as_of,
            read_at=read_at,
            totals=figures,
            areas=areas,
            unplaced=UnplacedModel.of(figures.unplaced),
            decisions=tuple(d for d in decisions if as_of is None or d.effective_date <= as_of),
        )


def stored_decision(value: Mapping[str, str]) -> Decision:
    """A decision as the projections store it (JSON: ISO date)."""
    return Decision(ref=value["ref"], date=date.fromisoformat(value["date"]), body=value["body"])
