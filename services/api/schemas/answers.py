"""Answers: built from the ledger's read models, never from table rows or stored events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from api.schemas.events import EventOut
from ledger.domain.balances import ActivityFigures, AreaFigures, GrantFigures
from ledger.domain.money import format_money
from ledger.grant_model import DecisionEntry, GrantModel
from ledger.periods import Month
from ledger.queries import Balances, LineView
from ledger.service import LineOutcome, Result
from ledger.store import VerifyResult

# Öre inside, a string with two decimals outside (docs/rules.md, conventions: money).
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

    @classmethod
    def json_of(cls, result: Result) -> bytes:
        """``of(result)`` as JSON, byte for byte, without a model per line (a 500-line answer
        took 0.6 ms through the models, 0.06 ms this way).  A line whose fields are not all
        strings goes through the models, and so fails as they fail."""
        lines = []
        for o in result.lines:
            line_id, transaction_id, grant_id, status = (
                o.line_id,
                o.transaction_id,
                o.grant_id,
                o.status,
            )
            if not (
                type(line_id) is str
                and type(transaction_id) is str
                and type(grant_id) is str
                and type(status) is str
            ):
                return orjson.dumps(cls.of(result).model_dump(mode="json", by_alias=True))
            lines.append(
                {
                    "line_id": line_id,
                    "transaction_id": transaction_id,
                    "grant_id": grant_id,
                    "status": status,
                }
            )
        return orjson.dumps({"lines": lines})


class PeriodOut(Answer):
    period: str
    closed: bool = True


class MonthOut(Answer):
    period: str = Field(examples=["2022-03"])
    closed: bool
    closed_by: Literal["period-close", "year-close"] | None = Field(
        description="`period-close`: closed for every grant (POST /v1/periods/{period}/close); "
        "`year-close`: the grant's year is closed (only with `grant_id`); null while open."
    )

    @classmethod
    def of(cls, m: Month) -> MonthOut:
        return cls.model_validate(m)


class MonthListOut(Answer):
    periods: list[MonthOut]


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
    received: MoneyOut | None = Field(
        description="Cash the funder has paid out (utbetalning). A whole grant's: null when the "
        "figures are narrowed to a cost object, area or activity, which hold no cash of their own."
    )
    overreceived: bool | None = Field(
        description="Received exceeds awarded: recorded (a receipt is a fact from the bank), "
        "flagged here for repayment or correction (rule 9). Null where `received` is."
    )
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


class UnplacedOut(Answer):
    cost_object: str
    spent: MoneyOut


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
    unplaced: list[UnplacedOut] = Field(
        description="Spend on a cost object serving several areas (9942), on no area until "
        "classified: the areas plus these add up to the totals."
    )

    @classmethod
    def of(cls, m: GrantModel) -> GrantOut:
        return cls(**_grant_fields(m))


def _grant_fields(m: GrantModel) -> dict[str, Any]:
    """The grant answer's members, read off the one read model (areas and below by name)."""
    return {
        "grant_id": m.grant_id,
        "name": m.name,
        "funder": m.funder,
        "decision": DecisionOut.model_validate(m.decision),
        "spend_period": PeriodRangeOut(from_=m.spend_from, to=m.spend_to),
        "repayment_reference": m.repayment_reference,
        "reporting": [ReportingOut.model_validate(r) for r in m.reporting],
        "closed_years": list(m.closed_years),
        "version": m.version,
        "totals": TotalsOut.of(m.totals),
        "areas": [AreaOut.model_validate(a) for a in m.areas],
        "unplaced": [UnplacedOut.model_validate(u) for u in m.unplaced],
    }


class DecisionEntryOut(DecisionOut):
    event_type: str = Field(
        description="What the decision did: GrantRegistered, AwardAmended, "
        "ActivityAllocated, BudgetReallocated or YearClosed."
    )
    subject: str
    amount: MoneyOut | None
    effective_date: date

    @classmethod
    def of(cls, d: DecisionEntry) -> DecisionEntryOut:
        return cls(
            ref=d.decision.ref,
            date=d.decision.date,
            body=d.decision.body,
            event_type=d.event_type,
            subject=d.subject,
            amount=d.amount,
            effective_date=d.effective_date,
        )


class GrantReportOut(GrantOut):
    """The grant answer as of a booking date, with every planning decision: återrapportering."""

    as_of: date | None
    generated_at: datetime
    unplaced_spent: MoneyOut = Field(description="The sum of `unplaced`.")
    decisions: list[DecisionEntryOut]

    @classmethod
    def of(cls, m: GrantModel) -> GrantReportOut:
        return cls(
            **_grant_fields(m),
            as_of=m.as_of,
            generated_at=m.read_at,
            unplaced_spent=m.unplaced_spent,
            decisions=[DecisionEntryOut.of(d) for d in m.decisions],
        )


class GrantListOut(Answer):
    grants: list[GrantOut]


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
