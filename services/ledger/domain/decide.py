"""Every rule of docs/rules.md, and nowhere else: ``decide(state, command, facts) -> events``.

``decide`` either returns the events that record an accepted command or raises the domain error
that says why it is refused; it never touches a database and never changes ``state``.  Checks run
in a fixed order: the command's own shape, the decision behind it (rule 7), the things it names,
then the rules about amounts, so that a refusal names the most basic problem first.  What the
ledger holds beyond the grant's stream (other grants' routes, closed months) comes in ``facts``.

Routing (rule 5) is here too, as pure functions over ``CostObjectRoute`` rows the service loads:
``route_batch`` splits an ERP batch by grant, ``decide`` places each grant's share.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import assert_never

from ledger.domain import accounts, errors
from ledger.domain.commands import (
    AllocateActivity,
    AmendAward,
    ClassifySpend,
    ClosePeriod,
    CloseYear,
    CostObjectRoute,
    Decision,
    GrantCommand,
    Reallocate,
    RecordReceipt,
    RecordSpend,
    RegisterGrant,
    RepayUnspent,
    ReverseSpend,
    SpendLine,
)
from ledger.domain.errors import LineError
from ledger.domain.events import (
    ActivityAllocated,
    AwardAmended,
    BudgetReallocated,
    Event,
    GrantEvent,
    GrantRegistered,
    PeriodClosed,
    ReceiptRecorded,
    Release,
    RepaymentRecorded,
    SpendClassified,
    SpendRecorded,
    SpendReversed,
    YearClosed,
)
from ledger.domain.facts import NO_FACTS, LedgerFacts
from ledger.domain.money import MAX_ORE, format_money
from ledger.domain.state import ActivityInfo, AreaInfo, GrantState, PeriodsState, period_of

# Grant, area and activity codes become account names and URL segments: keep them plain.
_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")

# Only the year's depreciation may carry capital cost ("bara innevarande års avskrivning kan
# konteras mot objektet"): an investment line is refused, not placed.
SPEND_KINDS = frozenset({"expense", "depreciation", "investment"})
_PLACEABLE_KINDS = SPEND_KINDS - {"investment"}  # only its depreciation may be booked


def decide(
    state: GrantState | None, command: GrantCommand, facts: LedgerFacts = NO_FACTS
) -> list[GrantEvent]:
    """The events that record ``command`` against ``state`` (``None``: not registered) in a
    ledger where ``facts`` hold (by default: no other grant, no closed month)."""
    decided = _decide(state, command, facts)
    check_bounds(state, decided)
    return decided


def _decide(
    state: GrantState | None, command: GrantCommand, facts: LedgerFacts
) -> list[GrantEvent]:
    match command:
        case RegisterGrant():
            return _register_grant(state, command, facts.routes)
        case AmendAward():
            return _amend_award(_registered(state, command.grant_id), command)
        case RecordReceipt():
            return _record_receipt(_registered(state, command.grant_id), command, facts)
        case AllocateActivity():
            return _allocate(_registered(state, command.grant_id), command)
        case Reallocate():
            return _reallocate(_registered(state, command.grant_id), command)
        case RecordSpend():
            return _record_spend(_registered(state, command.grant_id), command, facts)
        case ReverseSpend():
            return _reverse_spend(_registered(state, command.grant_id), command, facts)
        case ClassifySpend():
            return _classify_spend(_registered(state, command.grant_id), command)
        case RepayUnspent():
            return _repay(_registered(state, command.grant_id), command, facts)
        case CloseYear():
            return _close_year(_registered(state, command.grant_id), command)
        case _:
            assert_never(command)


def decide_period(state: PeriodsState, command: ClosePeriod) -> list[PeriodClosed]:
    """Close a month for every grant: no dated entry may be booked in it afterwards."""
    month = _PERIOD.fullmatch(command.period)
    if month is None or int(month.group(1)) == 0:
        raise errors.InvalidPeriod(command.period)
    if command.period in state.closed:
        raise errors.PeriodAlreadyClosed(command.period)
    return [PeriodClosed(command.period)]


# --- planning ---------------------------------------------------------------------------------


def _register_grant(
    state: GrantState | None, c: RegisterGrant, routes: Sequence[CostObjectRoute]
) -> list[GrantEvent]:
    _check_code(c.grant_id, "grant_id", c.grant_id)
    _check_text(c.name, "name", c.grant_id)
    _check_text(c.funder, "funder", c.grant_id)
    decision = _require_decision(c.grant_id, c.decision)
    if state is not None:
        raise errors.GrantExists(c.grant_id)
    if c.spend_from > c.spend_to:
        raise errors.InvalidPlan(
            f"the spend period starts ({c.spend_from}) after it ends ({c.spend_to})",
            field="spend_period",
            grant_id=c.grant_id,
        )
    if not c.areas:
        raise errors.InvalidPlan(
            "a grant needs at least one area", field="areas", grant_id=c.grant_id
        )
    seen: set[str] = set()
    for i, area in enumerate(c.areas):
        _check_code(area.code, f"areas[{i}].code", c.grant_id)
        if area.code in seen:
            raise errors.InvalidPlan(
                f"area code {area.code!r} appears twice",
                field=f"areas[{i}].code",
                grant_id=c.grant_id,
            )
        seen.add(area.code)
        _check_text(area.name, f"areas[{i}].name", c.grant_id)
        _check_text(area.cost_object, f"areas[{i}].cost_object", c.grant_id)
        _check_award(area.awarded, f"areas[{i}].awarded", c.grant_id)
    for i, report in enumerate(c.reporting):
        _check_text(report.kind, f"reporting[{i}].kind", c.grant_id)
        _check_text(report.recipient, f"reporting[{i}].recipient", c.grant_id)
    _check_routing(c, routes)
    return [
        GrantRegistered(
            grant_id=c.grant_id,
            name=c.name,
            funder=c.funder,
            decision=decision,
            spend_from=c.spend_from,
            spend_to=c.spend_to,
            areas=c.areas,
            reporting=c.reporting,
            repayment_reference=c.repayment_reference,
        )
    ]


def _check_routing(c: RegisterGrant, routes: Sequence[CostObjectRoute]) -> None:
    """Rule 5: a cost object and a booking date find one grant, so periods may not overlap.

    Areas of the same grant may share a cost object (9942 serves e-hälsa and ambulans): that is
    one grant, and its unclassified spend is the grant's until classified.
    """
    cost_objects = {area.cost_object for area in c.areas}
    for route in routes:  # every other grant's
        if (
            route.cost_object in cost_objects
            and route.spend_from <= c.spend_to
            and c.spend_from <= route.spend_to
        ):
            raise errors.CostObjectOverlap(
                grant_id=c.grant_id,
                cost_object=route.cost_object,
                other_grant_id=route.grant_id,
                overlap_from=max(route.spend_from, c.spend_from),
                overlap_to=min(route.spend_to, c.spend_to),
            )


def _amend_award(grant: GrantState, c: AmendAward) -> list[GrantEvent]:
    decision = _require_decision(grant.grant_id, c.decision)
    area = _area(grant, c.area)
    _check_award(c.awarded, "awarded", grant.grant_id)
    _require_open_year(grant, decision.date)
    previous = grant.awarded(area.code)
    cut = previous - c.awarded
    available = _unplanned(grant, area.code)
    # Rule 1 seen from the other side: a cut may only take money that no activity, spend or
    # repayment holds.
    if cut > 0 and cut > available:
        raise errors.AmendmentBelowAllocated(
            grant_id=grant.grant_id,
            area=area.code,
            awarded=previous,
            available=available,
            requested=cut,
        )
    return [
        AwardAmended(
            grant_id=grant.grant_id,
            area=area.code,
            previous=previous,
            awarded=c.awarded,
            decision=decision,
            reason=c.reason,
        )
    ]


def _allocate(grant: GrantState, c: AllocateActivity) -> list[GrantEvent]:
    _check_code(c.code, "code", grant.grant_id)
    _check_text(c.name, "name", grant.grant_id)
    decision = _require_decision(grant.grant_id, c.decision)
    area = _area(grant, c.area)
    if c.code in grant.activities:
        raise errors.ActivityExists(grant_id=grant.grant_id, activity=c.code)
    _require_positive(c.amount, "amount")
    # Rule 6: "Nya aktiviteter får inte beviljas utan en budgetkalkyl för hur aktiviteten ska
    # finansieras om/när riktad nationell satsning upphör".
    if c.new_activity and not (c.exit_plan or "").strip():
        raise errors.ExitPlanRequired(grant_id=grant.grant_id, activity=c.code)
    _require_open_year(grant, decision.date)
    # Rule 1: an area's activities may not together exceed its award.
    available = _unplanned(grant, area.code)
    if c.amount > available:
        raise errors.OverAllocation(
            grant_id=grant.grant_id, area=area.code, available=available, requested=c.amount
        )
    return [
        ActivityAllocated(
            grant_id=grant.grant_id,
            code=c.code,
            area=area.code,
            name=c.name,
            amount=c.amount,
            responsible=c.responsible,
            decision=decision,
            new_activity=c.new_activity,
            exit_plan=c.exit_plan,
        )
    ]


def _reallocate(grant: GrantState, c: Reallocate) -> list[GrantEvent]:
    decision = _require_decision(grant.grant_id, c.decision)
    if c.from_activity == c.to_activity:
        raise errors.InvalidPlan(
            f"activity {c.from_activity!r} cannot reallocate to itself",
            field="to_activity",
            grant_id=grant.grant_id,
        )
    source = _activity(grant, c.from_activity)
    target = _activity(grant, c.to_activity)
    _require_positive(c.amount, "amount")
    _require_open_year(grant, decision.date)
    # Rule 2: "dock inte satsningen på vidareutbildning för sjuksköterskor och karriärtjänster".
    for activity in (source, target):
        if grant.areas[activity.area].ring_fenced:
            raise errors.RingFenced(
                grant_id=grant.grant_id, area=activity.area, activity=activity.code
            )
    # Rule 3: inside one area, and no more than the source has left (allocated − spent).
    if source.area != target.area:
        raise errors.CrossAreaReallocation(
            grant_id=grant.grant_id, from_area=source.area, to_area=target.area
        )
    available = grant.remaining(source.code)
    if c.amount > available:
        raise errors.InsufficientRemaining(
            grant_id=grant.grant_id,
            activity=source.code,
            available=available,
            requested=c.amount,
        )
    return [
        BudgetReallocated(
            grant_id=grant.grant_id,
            from_activity=source.code,
            to_activity=target.code,
            area=source.area,
            amount=c.amount,
            reason=c.reason,
            decision=decision,
        )
    ]


def _close_year(grant: GrantState, c: CloseYear) -> list[GrantEvent]:
    decision = _require_decision(grant.grant_id, c.decision)
    if c.year in grant.closed_years:
        raise errors.YearAlreadyClosed(grant_id=grant.grant_id, year=c.year)
    if not grant.spend_from.year <= c.year <= grant.spend_to.year:
        raise errors.OutsideSpendPeriod(
            grant_id=grant.grant_id,
            on=str(c.year),
            spend_from=grant.spend_from,
            spend_to=grant.spend_to,
        )
    # Spend on no area cannot be released or reported per area: it must be classified first.
    open_spend = grant.unplaced()
    if open_spend:
        raise errors.UnclassifiedSpendOpen(
            grant_id=grant.grant_id, year=c.year, unclassified=open_spend
        )
    released = tuple(
        Release(activity=a.code, area=a.area, amount=remaining)
        for a in grant.activities.values()
        if (remaining := grant.remaining(a.code)) > 0
    )
    return [YearClosed(grant_id=grant.grant_id, year=c.year, decision=decision, released=released)]


# --- money in and out -------------------------------------------------------------------------


def _record_receipt(grant: GrantState, c: RecordReceipt, facts: LedgerFacts) -> list[GrantEvent]:
    """Rule 9: a receipt is dated in the agreement's years; more than the award is flagged.

    "Överenskommelsen omfattar 2022 totalt 6 373 miljoner kronor" (003): the funder pays an
    agreement's money in its years, the last payment at the latest in the year after (after the
    slutredovisning, "senast den 31 mars 2023").  A date outside those years (a receipt 22 years
    before the decision) is a typing error or another grant's money: refused.  An amount beyond
    the award is not refused: like overspend (rule 4) it is cash that did move, so it is
    recorded and the grant's figures flag it (``overreceived``) until it is repaid or reversed.
    """
    _require_positive(c.amount, "amount")
    earliest, latest = receipt_window(grant)
    if not earliest <= c.received_on <= latest:
        raise errors.ReceiptOutsideAgreement(
            grant_id=grant.grant_id, received_on=c.received_on, earliest=earliest, latest=latest
        )
    _require_open_period(grant, facts.closed_periods, c.received_on)
    return [
        ReceiptRecorded(
            grant_id=grant.grant_id,
            amount=c.amount,
            received_on=c.received_on,
            reference=c.reference,
        )
    ]


def receipt_window(grant: GrantState) -> tuple[date, date]:
    """The days a receipt of ``grant`` may be dated: its spend period's years and the next."""
    return date(grant.spend_from.year, 1, 1), date(grant.spend_to.year + 1, 12, 31)


def _repay(grant: GrantState, c: RepayUnspent, facts: LedgerFacts) -> list[GrantEvent]:
    area = _area(grant, c.area)
    _require_positive(c.amount, "amount")
    _require_open_period(grant, facts.closed_periods, c.paid_on)
    # Only money neither planned nor spent goes back: an overspent activity has used part of
    # what its area shows as unallocated.
    unallocated = _unplanned(grant, area.code)
    unspent = _unspent(grant, area.code)
    available = min(unallocated, unspent)
    if c.amount > available:
        raise errors.RepaymentExceedsUnallocated(
            grant_id=grant.grant_id,
            area=area.code,
            available=available,
            requested=c.amount,
            unallocated=unallocated,
            unspent=unspent,
        )
    reference = c.reference if c.reference and c.reference.strip() else grant.repayment_reference
    return [
        RepaymentRecorded(
            grant_id=grant.grant_id,
            area=area.code,
            amount=c.amount,
            paid_on=c.paid_on,
            reference=reference,
        )
    ]


# --- spend ------------------------------------------------------------------------------------


def _record_spend(grant: GrantState, c: RecordSpend, facts: LedgerFacts) -> list[GrantEvent]:
    """Rule 4: place every line or refuse the batch, naming every line that cannot be placed.

    Budget is never a reason: overspend is a fact from the ERP and is shown, not refused.
    """
    placed: list[GrantEvent] = []
    problems: list[LineError] = []
    seen_keys: set[str] = set()
    seen_ids: set[str] = set()
    closed = facts.closed_periods
    for line, transaction_id in zip(c.lines, c.transaction_ids, strict=True):
        # A repeated line is reported as that alone: its other problems are the first copy's.
        line_problems = (
            _duplicate_in_batch(c.source, line, seen_keys)
            or _reused_id(line, transaction_id, seen_ids)
            or ([] if _placeable(grant, line, closed) else _placement_problems(grant, line, closed))
        )
        if line_problems:
            problems.extend(line_problems)
        else:
            placed.append(_spend_recorded(grant, c.source, line, transaction_id))
    if problems:
        raise errors.UnplaceableSpend(problems, grant_id=grant.grant_id)
    return placed


def _placeable(grant: GrantState, line: SpendLine, closed_months: frozenset[str]) -> bool:
    """Whether ``_placement_problems`` finds nothing, in a few comparisons: the answer for
    almost every line of a batch, asked once per line (the problems are only worked out, in
    their documented order, for a line that has some)."""
    areas = grant.areas_on(line.cost_object)
    if line.activity is not None:
        activity = grant.activities.get(line.activity)
        if activity is None or activity.area not in areas:
            return False
    return (
        bool(areas)
        and 0 < abs(line.amount) <= MAX_ORE
        and line.kind in _PLACEABLE_KINDS
        and grant.spend_from <= line.booked_on <= grant.spend_to
        and _closed_period(grant, closed_months, line.booked_on) is None
    )


def _placement_problems(
    grant: GrantState, line: SpendLine, closed_months: frozenset[str]
) -> list[LineError]:
    found: list[LineError] = []

    def problem(field: str, code: str, reason: str) -> None:
        found.append(LineError(line_id=line.line_id, field=field, reason=reason, code=code))

    if line.amount == 0:
        problem("amount", "zero-amount", "a line of 0.00 kr records nothing")
    elif abs(line.amount) > MAX_ORE:  # the API's parser bounds it; a file reader may not
        problem(
            "amount",
            "amount-out-of-range",
            f"{format_money(line.amount)} kr is beyond the ledger's bound of "
            f"{format_money(MAX_ORE)} kr a line",
        )
    if line.kind == "investment":
        problem(
            "kind",
            "investment-not-allowed",
            "only the year's depreciation of an investment may be booked on the cost object",
        )
    elif line.kind not in SPEND_KINDS:
        problem("kind", "unknown-kind", f"kind {line.kind!r} is not one of expense, depreciation")
    if not grant.spend_from <= line.booked_on <= grant.spend_to:
        problem(
            "booked_on",
            "outside-spend-period",
            f"{line.booked_on} is outside the spend period {grant.spend_from} – {grant.spend_to}",
        )
    elif (closed := _closed_period(grant, closed_months, line.booked_on)) is not None:
        problem("booked_on", "closed-period", f"{line.booked_on} is in closed period {closed}")
    areas = grant.areas_on(line.cost_object)
    if not areas:
        problem(
            "cost_object",
            "unknown-cost-object",
            f"grant {grant.grant_id!r} has no area on cost object {line.cost_object!r}",
        )
    if line.activity is not None:
        activity = grant.activities.get(line.activity)
        if activity is None:
            problem("activity", "unknown-activity", f"no activity {line.activity!r}")
        elif areas and activity.area not in areas:
            problem(
                "activity",
                "activity-not-on-cost-object",
                f"activity {activity.code!r} is booked on cost object "
                f"{grant.areas[activity.area].cost_object!r}, not {line.cost_object!r}",
            )
    return found


def _spend_recorded(
    grant: GrantState, source: str, line: SpendLine, transaction_id: str
) -> SpendRecorded:
    # Placement: the activity's area; else the one area on the cost object; else the grant.
    if line.activity is not None:
        area: str | None = grant.activities[line.activity].area
    else:
        areas = grant.areas_on(line.cost_object)
        area = areas[0] if len(areas) == 1 else None
    return SpendRecorded(
        grant_id=grant.grant_id,
        transaction_id=transaction_id,
        source=source,
        line_id=line.line_id,
        voucher=line.voucher,
        booked_on=line.booked_on,
        amount=line.amount,
        cost_object=line.cost_object,
        area=area,
        activity=line.activity,
        account=line.account,
        kind=line.kind,
        text=line.text,
    )


def _reverse_spend(grant: GrantState, c: ReverseSpend, facts: LedgerFacts) -> list[GrantEvent]:
    line = c.line
    if line.status == "reversed":
        raise errors.AlreadyReversed(grant_id=grant.grant_id, transaction_id=line.transaction_id)
    if line.status == "reversal":
        raise errors.NotReversible(
            grant_id=grant.grant_id,
            transaction_id=line.transaction_id,
            reversal_of=line.reversal_of,
        )
    _require_in_spend_period(grant, c.booked_on)
    _require_open_period(grant, facts.closed_periods, c.booked_on)
    return [
        SpendReversed(
            grant_id=grant.grant_id,
            transaction_id=c.transaction_id,
            reversal_of=line.transaction_id,
            source=line.source,
            line_id=line.line_id,
            booked_on=c.booked_on,
            amount=line.amount,
            cost_object=line.cost_object,
            area=line.area,
            activity=line.activity,
            reason=c.reason,
        )
    ]


def _classify_spend(grant: GrantState, c: ClassifySpend) -> list[GrantEvent]:
    line = c.line
    if line.status == "reversed":
        raise errors.AlreadyReversed(grant_id=grant.grant_id, transaction_id=line.transaction_id)
    if line.status == "reversal":
        raise errors.NotClassifiable(grant_id=grant.grant_id, transaction_id=line.transaction_id)
    if line.activity is not None:
        raise errors.AlreadyClassified(
            grant_id=grant.grant_id, transaction_id=line.transaction_id, activity=line.activity
        )
    activity = _activity(grant, c.activity)
    cost_object = grant.areas[activity.area].cost_object
    if cost_object != line.cost_object:
        raise _unplaceable(
            grant,
            line.line_id,
            "activity-not-on-cost-object",
            f"activity {activity.code!r} is booked on cost object {cost_object!r}, "
            f"not {line.cost_object!r}",
        )
    if line.area is not None and line.area != activity.area:
        raise _unplaceable(
            grant,
            line.line_id,
            "activity-not-in-area",
            f"the line is spend of area {line.area!r}; activity {activity.code!r} is in area "
            f"{activity.area!r}",
        )
    # Classification is allowed in a closed month (it books nothing new in the ERP, it says which
    # activity a booked cost was for) but not once the year's budgets are released.
    if line.booked_on.year in grant.closed_years:
        raise errors.YearClosed(grant_id=grant.grant_id, year=line.booked_on.year)
    return [
        SpendClassified(
            grant_id=grant.grant_id,
            transaction_id=line.transaction_id,
            booked_on=line.booked_on,
            amount=line.amount,
            cost_object=line.cost_object,
            from_area=line.area,
            activity=activity.code,
            area=activity.area,
            reason=c.reason,
        )
    ]


def _unplaceable(
    grant: GrantState, line_id: str, code: str, reason: str
) -> errors.UnplaceableSpend:
    error = LineError(line_id=line_id, field="activity", reason=reason, code=code)
    return errors.UnplaceableSpend([error], grant_id=grant.grant_id)


# --- routing (rule 5) -------------------------------------------------------------------------

RouteIndex = Mapping[str, Sequence[CostObjectRoute]]


def routes_of(grant: GrantState) -> tuple[CostObjectRoute, ...]:
    """The routing rows a registered grant contributes: one per cost object it uses."""
    cost_objects = dict.fromkeys(a.cost_object for a in grant.areas.values())
    return tuple(
        CostObjectRoute(co, grant.grant_id, grant.spend_from, grant.spend_to) for co in cost_objects
    )


def index_routes(routes: Iterable[CostObjectRoute]) -> dict[str, tuple[CostObjectRoute, ...]]:
    """Routes by cost object, for ``route_spend`` and ``route_batch``."""
    index: dict[str, list[CostObjectRoute]] = {}
    for route in routes:
        index.setdefault(route.cost_object, []).append(route)
    return {co: tuple(rows) for co, rows in index.items()}


def route_spend(index: RouteIndex, cost_object: str, booked_on: date) -> str | None:
    """The one grant that spend on ``cost_object`` booked on ``booked_on`` belongs to, if any."""
    grants = _covering(index, cost_object, booked_on)
    return next(iter(grants)) if len(grants) == 1 else None


def route_batch(
    index: RouteIndex, source: str, lines: Iterable[SpendLine]
) -> tuple[dict[str, tuple[SpendLine, ...]], list[LineError]]:
    """Split an ERP batch from ``source`` by grant; lines no grant can take come back as errors.

    The batch is atomic: the service records nothing unless the errors here and those of every
    grant's ``decide(RecordSpend)`` are all empty, and then reports them all in one refusal.
    """
    by_grant: dict[str, list[SpendLine]] = {}
    problems: list[LineError] = []
    seen_keys: set[str] = set()
    for line in lines:
        duplicate = _duplicate_in_batch(source, line, seen_keys)
        if duplicate:
            problems.extend(duplicate)
            continue
        grants = _covering(index, line.cost_object, line.booked_on)
        if len(grants) == 1:
            by_grant.setdefault(next(iter(grants)), []).append(line)
        elif line.cost_object not in index:
            problems.append(
                LineError(
                    line_id=line.line_id,
                    field="cost_object",
                    reason=f"no grant is booked on cost object {line.cost_object!r}",
                    code="unknown-cost-object",
                )
            )
        elif not grants:
            problems.append(
                LineError(
                    line_id=line.line_id,
                    field="booked_on",
                    reason=f"no grant on cost object {line.cost_object!r} has "
                    f"{line.booked_on} in its spend period",
                    code="outside-spend-period",
                )
            )
        else:  # only data registered before rule 5 existed can get here
            problems.append(
                LineError(
                    line_id=line.line_id,
                    field="cost_object",
                    reason=f"grants {sorted(grants)} all claim cost object "
                    f"{line.cost_object!r} on {line.booked_on}",
                    code="ambiguous-cost-object",
                )
            )
    return {grant: tuple(rows) for grant, rows in by_grant.items()}, problems


def _covering(index: RouteIndex, cost_object: str, booked_on: date) -> set[str]:
    return {
        r.grant_id for r in index.get(cost_object, ()) if r.spend_from <= booked_on <= r.spend_to
    }


def _duplicate_in_batch(source: str, line: SpendLine, seen_keys: set[str]) -> list[LineError]:
    """A line whose key (``source``, ``line_id``) came earlier in the same batch."""
    if line.line_id in seen_keys:
        return [
            LineError(
                line_id=line.line_id,
                field="line_id",
                reason=f"line {line.line_id!r} of {source!r} appears twice in the batch",
                code="duplicate-line-in-batch",
            )
        ]
    seen_keys.add(line.line_id)
    return []


def _reused_id(line: SpendLine, transaction_id: str, seen_ids: set[str]) -> list[LineError]:
    """A transaction id given to two lines: the service never does, a caller of ``decide`` may."""
    if transaction_id in seen_ids:
        return [
            LineError(
                line_id=line.line_id,
                field="transaction_id",
                reason=f"transaction id {transaction_id!r} is given to two lines of the batch",
                code="duplicate-line-in-batch",
            )
        ]
    seen_ids.add(transaction_id)
    return []


# --- shared checks ----------------------------------------------------------------------------


def _registered(state: GrantState | None, grant_id: str) -> GrantState:
    if state is None or state.grant_id != grant_id:
        raise errors.UnknownGrant(grant_id)
    return state


def _area(grant: GrantState, code: str) -> AreaInfo:
    area = grant.areas.get(code)
    if area is None:
        raise errors.UnknownArea(grant_id=grant.grant_id, area=code)
    return area


def _activity(grant: GrantState, code: str) -> ActivityInfo:
    activity = grant.activities.get(code)
    if activity is None:
        raise errors.UnknownActivity(grant_id=grant.grant_id, activity=code)
    return activity


def _unplanned(grant: GrantState, area: str) -> int:
    """What planning may still take from an area under rule 1.

    That is its unallocated amount, except that a net credit of unclassified spend on the area
    does not count: the credit raises unallocated only until it is classified to an activity,
    and money allocated on the strength of it would then exceed the award.
    """
    return grant.unallocated(area) + min(0, grant.unclassified(area))


def _unspent(grant: GrantState, area: str) -> int:
    """What the area has left: awarded − spent − repaid (overspent activities count negative)."""
    budgets = sum(grant.remaining(a.code) for a in grant.activities.values() if a.area == area)
    return budgets + grant.unallocated(area)


def _require_decision(grant_id: str, decision: Decision | None) -> Decision:
    """Rule 7: a planning entry names the decision (ref, date, body) that authorises it."""
    if decision is None:
        raise errors.DecisionRequired(grant_id=grant_id, missing="decision")
    if not decision.ref.strip():
        raise errors.DecisionRequired(grant_id=grant_id, missing="decision.ref")
    if not decision.body.strip():
        raise errors.DecisionRequired(grant_id=grant_id, missing="decision.body")
    return decision


def _require_open_year(grant: GrantState, decided_on: date) -> None:
    """Planning is dated by its decision; a closed year's plan is final."""
    if decided_on.year in grant.closed_years:
        raise errors.YearClosed(grant_id=grant.grant_id, year=decided_on.year)


def _require_open_period(grant: GrantState, closed_months: frozenset[str], day: date) -> None:
    closed = _closed_period(grant, closed_months, day)
    if closed is not None:
        raise errors.PeriodClosed(grant_id=grant.grant_id, period=closed, on=day)


def _closed_period(grant: GrantState, closed_months: frozenset[str], day: date) -> str | None:
    """The closed period ``day`` falls in: its month (closed ledger-wide), or its year once the
    grant closed it."""
    if not closed_months and not grant.closed_years:  # asked once per spend line
        return None
    month = period_of(day)
    if month in closed_months:
        return month
    if day.year in grant.closed_years:
        return str(day.year)
    return None


def _require_in_spend_period(grant: GrantState, day: date) -> None:
    if not grant.spend_from <= day <= grant.spend_to:
        raise errors.OutsideSpendPeriod(
            grant_id=grant.grant_id,
            on=day.isoformat(),
            spend_from=grant.spend_from,
            spend_to=grant.spend_to,
        )


def _require_positive(amount: int, field: str) -> None:
    if amount <= 0:
        raise errors.InvalidAmount(
            field=field, value=format_money(amount), reason="must be greater than zero"
        )


def check_bounds(state: GrantState | None, decided: Sequence[GrantEvent]) -> None:
    """No account may pass ``MAX_ORE`` either way, checked after every transfer in order.

    Every balance a projection stores (the running one, a day's, an as-of) is then a sum of
    bounded prefixes, far inside 64 bits; a command that would cross the bound is refused here
    rather than failing at the database and jamming the account.
    """
    if _far_from_the_bound(state, decided):
        return
    moved: dict[str, int] = {}
    for event in decided:
        for t in accounts.transfers(event):
            for account, delta in ((t.source, -t.amount), (t.target, t.amount)):
                before = moved.get(account)
                if before is None:
                    before = state.balance(account) if state is not None else 0
                after = before + delta
                if abs(after) > MAX_ORE:
                    room = MAX_ORE - before if delta > 0 else MAX_ORE + before
                    raise errors.BalanceOutOfRange(
                        grant_id=event.grant_id,
                        account=account,
                        balance=before,
                        available=max(room, 0),
                        requested=abs(delta),
                    )
                moved[account] = after


def within_bound(peak: int, decided: Sequence[Event]) -> bool:
    """Whether spend ``decided`` keeps every account within ``MAX_ORE`` from balances whose
    largest magnitude is ``peak``: the quick check of ``check_bounds``, for a decision carried
    over balances it was not made against (``UnitOfWork.rebase``)."""
    moved = 0
    for e in decided:
        if not isinstance(e, SpendRecorded):
            return False
        moved += abs(e.amount)
    return peak + moved <= MAX_ORE


def _far_from_the_bound(state: GrantState | None, decided: Sequence[GrantEvent]) -> bool:
    """Whether no account can reach ``MAX_ORE`` in whatever order the transfers come: the
    largest balance now plus everything the events move stays within it.

    Sound because a balance after any prefix of transfers is at most its start plus what moved,
    and ``state.peak`` is at least the largest start.
    Asked first since a batch of spend lines (each moves its amount once), as far from the bound
    as real ledgers are, then costs one sum instead of a walk of its transfers.
    """
    return within_bound(state.peak if state is not None else 0, decided)


def _check_award(amount: int, field: str, grant_id: str) -> None:
    if not 0 <= amount <= MAX_ORE:
        raise errors.InvalidPlan(
            f"an award must be between 0 and {format_money(MAX_ORE)} kr, not "
            f"{format_money(amount)}",
            field=field,
            grant_id=grant_id,
        )


def _check_code(code: str, field: str, grant_id: str) -> None:
    if not _CODE.fullmatch(code):
        raise errors.InvalidPlan(
            f"{field} {code!r} must be 1-64 lowercase letters, digits or '-', "
            "starting with a letter or digit",
            field=field,
            grant_id=grant_id,
        )


def _check_text(text: str, field: str, grant_id: str) -> None:
    if not text.strip():
        raise errors.InvalidPlan(f"{field} must not be blank", field=field, grant_id=grant_id)
