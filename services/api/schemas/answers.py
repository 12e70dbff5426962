"""Answers: built from the ledger's read models, never from table rows or stored events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from ledger.domain.balances import ActivityFigures, AreaFigures, GrantFigures
from ledger.domain.money import format_money
from ledger.public_events import public_event
from ledger.queries import Balances, GrantView, LineView
from ledger.service import LineOutcome, Result
from ledger.store import StoredEvent, VerifyResult

# Öre inside, a string with two decimals outside (DESIGN §1 rule 8).
MoneyOut = Annotated[
    int,
    PlainSerializer(format_money, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "examples": ["0.00"]}),
]


class Answer(BaseModel):
    # from_attributes: an answer is read off the ledger's frozen dataclasses by field name.
    model_config = ConfigDict(frozen=True, from_attributes=True)


class DecisionOut(Answer):
    ref: str
    date: date
    body: str


class EventRefOut(Answer):
    position: int
    stream_id: str
    stream_version: int
    event_type: str


class ChangeOut(Answer):
    """What a planning command did: the events it appended and the grant's new version."""

    grant_id: str | None
    version: int | None = Field(description="The grant's stream version: its new ETag.")
    events: list[EventRefOut]

    @classmethod
    def of(cls, result: Result) -> ChangeOut:
        return cls(
            grant_id=result.grant_id,
            version=result.version,
            events=[
                EventRefOut(
                    position=e.position,
                    stream_id=e.stream_id,
                    stream_version=e.stream_version,
                    event_type=e.event_type,
                )
                for e in result.events
            ],
        )


class LineOut(Answer):
    line_id: str
    transaction_id: str
    grant_id: str
    status: str = Field(description="recorded, duplicate (sent before), reversal or classified")

    @classmethod
    def of(cls, o: LineOutcome) -> LineOut:
        return cls(
            line_id=o.line_id, transaction_id=o.transaction_id, grant_id=o.grant_id, status=o.status
        )


class SpendOut(Answer):
    lines: list[LineOut]

    @classmethod
    def of(cls, result: Result) -> SpendOut:
        return cls(lines=[LineOut.of(o) for o in result.lines])


class PeriodOut(Answer):
    period: str
    closed: bool = True


class ActivityBalanceOut(Answer):
    code: str
    allocated: MoneyOut
    spent: MoneyOut
    remaining: MoneyOut
    overspent: bool

    @classmethod
    def of(cls, a: ActivityFigures) -> ActivityBalanceOut:
        return cls.model_validate(a)


class AreaBalanceOut(Answer):
    code: str
    cost_object: str
    awarded: MoneyOut
    allocated: MoneyOut
    unallocated: MoneyOut
    spent: MoneyOut
    unclassified_spent: MoneyOut
    repaid: MoneyOut
    remaining: MoneyOut
    activities: list[ActivityBalanceOut]

    @classmethod
    def of(cls, a: AreaFigures) -> AreaBalanceOut:
        return cls.model_validate(a)


class TotalsOut(Answer):
    awarded: MoneyOut
    allocated: MoneyOut
    unallocated: MoneyOut
    spent: MoneyOut
    remaining: MoneyOut
    received: MoneyOut
    unclassified_spent: MoneyOut
    repaid: MoneyOut

    @classmethod
    def of(cls, f: GrantFigures) -> TotalsOut:
        return cls.model_validate(f)


class BalanceOut(Answer):
    grant_id: str
    name: str
    version: int
    as_of: date | None
    known_at: datetime | None
    cost_object: str | None
    totals: TotalsOut
    areas: list[AreaBalanceOut]

    @classmethod
    def of(cls, b: Balances) -> BalanceOut:
        return cls(
            grant_id=b.grant_id,
            name=b.name,
            version=b.version,
            as_of=b.as_of,
            known_at=b.known_at,
            cost_object=b.cost_object,
            totals=TotalsOut.of(b.figures),
            areas=[AreaBalanceOut.of(a) for a in b.figures.areas],
        )


class BalanceListOut(Answer):
    balances: list[BalanceOut]


class CostObjectOut(Answer):
    cost_object: str
    totals: TotalsOut
    grants: list[BalanceOut]


class PeriodRangeOut(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", serialization_alias="from")
    to: date


class ReportingOut(Answer):
    kind: str
    due: date
    recipient: str


class ActivityOut(ActivityBalanceOut):
    """An activity's figures with what planning said about it."""

    area: str
    name: str
    responsible: str
    new_activity: bool
    exit_plan: str | None
    decision: DecisionOut | None


class AreaOut(AreaBalanceOut):
    """An area's figures with its name, responsible and ring-fencing."""

    name: str
    responsible: str
    ring_fenced: bool
    activities: list[ActivityOut]  # type: ignore[assignment]


class GrantOut(Answer):
    grant_id: str
    name: str
    funder: str
    decision: DecisionOut
    spend_period: PeriodRangeOut
    repayment_reference: str | None
    reporting: list[ReportingOut]
    closed_years: list[int]
    version: int
    totals: TotalsOut
    areas: list[AreaOut]

    @classmethod
    def of(cls, view: GrantView) -> GrantOut:
        s, f = view.state, view.figures
        decisions = {r["code"]: r["decision"] for r in view.activity_rows}
        areas = []
        for af in f.areas:
            info = s.areas[af.code]
            acts = []
            for x in af.activities:
                a = s.activities[x.code]
                acts.append(
                    ActivityOut(
                        code=a.code,
                        area=a.area,
                        name=a.name,
                        responsible=a.responsible,
                        new_activity=a.new_activity,
                        exit_plan=a.exit_plan,
                        decision=DecisionOut(**decisions[a.code])
                        if decisions.get(a.code)
                        else None,
                        allocated=x.allocated,
                        spent=x.spent,
                        remaining=x.remaining,
                        overspent=x.overspent,
                    )
                )
            areas.append(
                AreaOut(
                    code=info.code,
                    name=info.name,
                    cost_object=info.cost_object,
                    responsible=info.responsible,
                    ring_fenced=info.ring_fenced,
                    awarded=af.awarded,
                    allocated=af.allocated,
                    unallocated=af.unallocated,
                    spent=af.spent,
                    unclassified_spent=af.unclassified_spent,
                    repaid=af.repaid,
                    remaining=af.remaining,
                    activities=acts,
                )
            )
        return cls(
            grant_id=s.grant_id,
            name=s.name,
            funder=s.funder,
            decision=DecisionOut(ref=s.decision.ref, date=s.decision.date, body=s.decision.body),
            spend_period=PeriodRangeOut(from_=s.spend_from, to=s.spend_to),
            repayment_reference=s.repayment_reference,
            reporting=[
                ReportingOut(kind=r.kind, due=r.due, recipient=r.recipient) for r in s.reporting
            ],
            closed_years=sorted(s.closed_years),
            version=s.version,
            totals=TotalsOut.of(f),
            areas=areas,
        )


class GrantListOut(Answer):
    grants: list[GrantOut]


class EventOut(Answer):
    position: int
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    meta: dict[str, Any]
    effective_date: date | None
    recorded_at: datetime
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, e: StoredEvent) -> EventOut:
        return cls.model_validate(public_event(e))


class EventPageOut(Answer):
    events: list[EventOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )
    next: str | None = Field(description="The URL of the next page; null at the end.")


class VerifyOut(Answer):
    ok: bool
    checked: int
    head_position: int
    head_hash: str
    first_bad_position: int | None
    reason: str | None
    complete: bool = Field(description="Whether the check reached the newest event.")
    next_after: int | None = Field(
        description="Where to continue (`after`) when the check stopped before the newest event."
    )

    @classmethod
    def of(cls, r: VerifyResult) -> VerifyOut:
        return cls(
            ok=r.ok,
            checked=r.checked,
            head_position=r.head_position,
            head_hash=r.head_hash,
            first_bad_position=r.first_bad_position,
            reason=r.reason,
            complete=r.complete,
            next_after=None if r.complete or not r.ok else r.head_position,
        )


class TransactionOut(Answer):
    transaction_id: str
    grant_id: str
    source: str | None
    line_id: str | None
    voucher: str | None
    booked_on: date
    amount: MoneyOut
    cost_object: str
    area: str | None
    activity: str | None
    account: str | None
    kind: str
    text: str | None
    status: str
    reversal_of: str | None
    reversed_by: str | None
    position: int

    @classmethod
    def of(cls, v: LineView) -> TransactionOut:
        return cls.model_validate(v)
