"""The state ``decide`` needs, rebuilt by folding events with ``evolve``.

``GrantState`` is what one grant's stream says: its plan (areas, activities), the balance of every
account (``accounts.transfers`` applied in order) and the years it has closed.  A grant that is
not registered yet has no state: ``None``.

Closed months are not in a grant's stream: they live in the ``periods`` stream, shared by every
grant, folded into a ``PeriodsState``; ``decide`` is given them beside the grant's state
(``facts.LedgerFacts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import overload

from ledger.domain import accounts
from ledger.domain.commands import Decision, ReportingObligation
from ledger.domain.events import (
    ActivityAllocated,
    Event,
    GrantEvent,
    GrantRegistered,
    PeriodClosed,
    YearClosed,
)


@dataclass(frozen=True, slots=True)
class AreaInfo:
    code: str
    name: str
    cost_object: str
    responsible: str
    ring_fenced: bool


@dataclass(frozen=True, slots=True)
class ActivityInfo:
    code: str
    area: str
    name: str
    responsible: str
    new_activity: bool
    exit_plan: str | None


@dataclass(frozen=True, slots=True)
class GrantState:
    grant_id: str
    version: int  # events in the grant's stream: the expected version of the next append
    name: str
    funder: str
    decision: Decision
    spend_from: date
    spend_to: date
    repayment_reference: str | None
    areas: Mapping[str, AreaInfo]
    activities: Mapping[str, ActivityInfo]
    balances: Mapping[str, int]  # account -> öre; an absent account is 0
    reporting: tuple[ReportingObligation, ...] = ()
    closed_years: frozenset[int] = frozenset()
    # At least the largest balance in magnitude (exact when built from balances, then raised by
    # each fold): the bound check of a spend batch asks it instead of a walk of every account.
    peak: int = field(default=-1, repr=False, compare=False)
    # Derived from ``areas`` once per state: ``areas_on`` is asked for every spend line.
    _areas_by_cost_object: Mapping[str, tuple[str, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index: dict[str, tuple[str, ...]] = {}
        for a in self.areas.values():
            index[a.cost_object] = (*index.get(a.cost_object, ()), a.code)
        object.__setattr__(self, "_areas_by_cost_object", index)
        if self.peak < 0:
            object.__setattr__(
                self, "peak", max((abs(b) for b in self.balances.values()), default=0)
            )

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def awarded(self, area: str) -> int:
        return -self.balance(accounts.award(area))

    def unallocated(self, area: str) -> int:
        return self.balance(accounts.unallocated(area))

    def remaining(self, activity: str) -> int:
        return self.balance(accounts.budget(activity))

    def spent(self, activity: str) -> int:
        return self.balance(accounts.spent(activity))

    def allocated(self, activity: str) -> int:
        return self.remaining(activity) + self.spent(activity)

    def unclassified(self, area: str) -> int:
        """Spend booked on the area's cost object without an activity."""
        return self.balance(accounts.unclassified(area))

    def unplaced(self) -> int:
        """Spend on shared cost objects that no area can take until it is classified."""
        prefix = accounts.UNPLACED + ":"
        return sum(b for a, b in self.balances.items() if a.startswith(prefix))

    def areas_on(self, cost_object: str) -> tuple[str, ...]:
        """The areas whose spend is booked on ``cost_object`` (9942 serves two)."""
        return self._areas_by_cost_object.get(cost_object, ())


def evolve(state: GrantState | None, event: Event) -> GrantState:
    """The state after ``event``.

    Takes any ``Event`` because a stream's content is known only when it is read: an event that
    cannot belong to a grant's stream (``PeriodClosed``) raises ``CorruptStreamError``.
    """
    return _apply(_Draft.of(state), event).freeze()


@overload
def fold(state: GrantState, events: Iterable[Event]) -> GrantState: ...
@overload
def fold(state: None, events: Iterable[Event]) -> GrantState | None: ...
def fold(state: GrantState | None, events: Iterable[Event]) -> GrantState | None:
    """``evolve`` over ``events`` in order, copying the maps once instead of once per event.

    ``None`` only when there was no state and there are no events.
    """
    draft = _Draft.of(state)
    for event in events:
        draft = _apply(draft, event)
    return draft.freeze() if draft is not None else None


class CorruptStreamError(ValueError):
    """A stream that no sequence of accepted commands could have written."""


@dataclass(slots=True)
class _Draft:
    """A GrantState under construction: mutable, private to one fold."""

    grant_id: str
    version: int
    name: str
    funder: str
    decision: Decision
    spend_from: date
    spend_to: date
    repayment_reference: str | None
    reporting: tuple[ReportingObligation, ...]
    areas: dict[str, AreaInfo]
    activities: dict[str, ActivityInfo] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    closed_years: set[int] = field(default_factory=set)
    peak: int = 0  # see GrantState.peak

    @classmethod
    def of(cls, state: GrantState | None) -> _Draft | None:
        if state is None:
            return None
        return cls(
            grant_id=state.grant_id,
            version=state.version,
            name=state.name,
            funder=state.funder,
            decision=state.decision,
            spend_from=state.spend_from,
            spend_to=state.spend_to,
            repayment_reference=state.repayment_reference,
            reporting=state.reporting,
            areas=dict(state.areas),
            activities=dict(state.activities),
            balances=dict(state.balances),
            closed_years=set(state.closed_years),
            peak=state.peak,
        )

    @classmethod
    def registered(cls, event: GrantRegistered) -> _Draft:
        return cls(
            grant_id=event.grant_id,
            version=0,
            name=event.name,
            funder=event.funder,
            decision=event.decision,
            spend_from=event.spend_from,
            spend_to=event.spend_to,
            repayment_reference=event.repayment_reference,
            reporting=event.reporting,
            areas={
                a.code: AreaInfo(a.code, a.name, a.cost_object, a.responsible, a.ring_fenced)
                for a in event.areas
            },
        )

    def freeze(self) -> GrantState:
        return GrantState(
            grant_id=self.grant_id,
            version=self.version,
            name=self.name,
            funder=self.funder,
            decision=self.decision,
            spend_from=self.spend_from,
            spend_to=self.spend_to,
            repayment_reference=self.repayment_reference,
            areas=MappingProxyType(self.areas),
            activities=MappingProxyType(self.activities),
            balances=MappingProxyType(self.balances),
            reporting=self.reporting,
            closed_years=frozenset(self.closed_years),
            peak=self.peak,
        )

    def post(self, event: GrantEvent) -> None:
        balances = self.balances
        for t in accounts.transfers(event):
            for account, delta in ((t.source, -t.amount), (t.target, t.amount)):
                # Zero balances are dropped so that equal histories give equal maps.
                value = balances.get(account, 0) + delta
                if value:
                    balances[account] = value
                    self.peak = max(self.peak, abs(value))
                else:
                    balances.pop(account, None)


def _apply(draft: _Draft | None, event: Event) -> _Draft:
    if isinstance(event, PeriodClosed):
        raise CorruptStreamError("PeriodClosed belongs to the periods stream, not a grant's")
    if isinstance(event, GrantRegistered):
        if draft is not None:
            raise CorruptStreamError(f"grant {draft.grant_id!r} is registered twice")
        draft = _Draft.registered(event)
    elif draft is None:
        raise CorruptStreamError(f"{event.event_type} before GrantRegistered")
    elif isinstance(event, ActivityAllocated):
        draft.activities[event.code] = ActivityInfo(
            event.code,
            event.area,
            event.name,
            event.responsible,
            event.new_activity,
            event.exit_plan,
        )
    elif isinstance(event, YearClosed):
        draft.closed_years.add(event.year)
    draft.post(event)
    draft.version += 1
    return draft


# --- the periods stream ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodsState:
    closed: frozenset[str] = frozenset()  # "YYYY-MM"
    version: int = 0


def evolve_periods(state: PeriodsState, event: PeriodClosed) -> PeriodsState:
    return PeriodsState(closed=state.closed | {event.period}, version=state.version + 1)


def period_of(day: date) -> str:
    """The month ``day`` is booked in, as a period is named: ``"2022-03"``."""
    return f"{day.year:04d}-{day.month:02d}"
