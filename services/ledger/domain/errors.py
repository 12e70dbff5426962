"""The refusals of the grant domain, each a subclass of one kind in ``ledger.errors``.

Every error has a stable ``code`` (the slug a client can switch on) and puts what a person needs
to act in ``fields``: the rule of docs/rules.md it enforces (``rule``), where (grant, area,
activity), and amounts in öre (``available``, ``requested``).  The message says the same in
words, with amounts in kronor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from ledger.domain.money import InvalidAmount, format_kronor, format_money
from ledger.errors import Conflict, InvalidInput, NotFound, RuleViolation

__all__ = [
    "ActivityExists",
    "AlreadyClassified",
    "AlreadyReversed",
    "AmendmentBelowAllocated",
    "CostObjectOverlap",
    "CrossAreaReallocation",
    "DecisionRequired",
    "ExitPlanRequired",
    "GrantExists",
    "InsufficientRemaining",
    "InvalidAmount",
    "InvalidPeriod",
    "InvalidPlan",
    "LineError",
    "NotClassifiable",
    "NotReversible",
    "OutsideSpendPeriod",
    "OverAllocation",
    "PeriodAlreadyClosed",
    "PeriodClosed",
    "ReceiptOutsideAgreement",
    "RepaymentExceedsUnallocated",
    "RingFenced",
    "UnclassifiedSpendOpen",
    "UnknownActivity",
    "UnknownArea",
    "UnknownEventType",
    "UnknownGrant",
    "UnknownTransaction",
    "UnplaceableSpend",
    "UnreadableEvent",
    "YearAlreadyClosed",
    "YearClosed",
]


# --- invalid input ---------------------------------------------------------------------------


class InvalidPlan(InvalidInput):
    """A planning command that is malformed in itself (duplicate area codes, from > to, ...)."""

    code = "invalid-plan"
    title = "Invalid plan"

    def __init__(self, reason: str, *, field: str, grant_id: str | None = None) -> None:
        super().__init__(reason, field=field, grant_id=grant_id)
        self.field = field


class InvalidPeriod(InvalidInput):
    code = "invalid-period"
    title = "Invalid period"

    def __init__(self, period: str) -> None:
        super().__init__(f"period {period!r} is not a month written YYYY-MM", period=period)


class UnknownEventType(InvalidInput):
    code = "unknown-event-type"
    title = "Unknown event type"

    def __init__(self, event_type: str, schema_version: int) -> None:
        super().__init__(
            f"no event type {event_type!r} (schema version {schema_version}) is known",
            event_type=event_type,
            schema_version=schema_version,
        )


class UnreadableEvent(InvalidInput):
    code = "unreadable-event"
    title = "Unreadable event"

    def __init__(self, event_type: str, schema_version: int, reason: str) -> None:
        super().__init__(
            f"stored {event_type} (schema version {schema_version}) cannot be read: {reason}",
            event_type=event_type,
            schema_version=schema_version,
            reason=reason,
        )


# --- rules (docs/rules.md) --------------------------------------------------------------------


class OverAllocation(RuleViolation):
    """Rule 1: an area's activities may not together exceed its award."""

    code = "over-allocation"
    title = "Allocation exceeds the area's unallocated amount"

    def __init__(self, *, grant_id: str, area: str, available: int, requested: int) -> None:
        super().__init__(
            f"area {area!r} of grant {grant_id!r} has {format_kronor(available)} unallocated; "
            f"{format_kronor(requested)} requested "
            f"({format_kronor(requested - available)} too much)",
            rule="no-over-allocation",
            grant_id=grant_id,
            area=area,
            available=available,
            requested=requested,
        )
        self.available = available
        self.requested = requested


class AmendmentBelowAllocated(RuleViolation):
    """Rule 1 again: an award cut may not take money activities, spend or repayments hold."""

    code = "amendment-below-allocated"
    title = "Award cut below what the area has allocated"

    def __init__(
        self, *, grant_id: str, area: str, awarded: int, available: int, requested: int
    ) -> None:
        super().__init__(
            f"the award of area {area!r} of grant {grant_id!r} can be cut by at most "
            f"{format_kronor(available)} (its unallocated amount); a cut of "
            f"{format_kronor(requested)} was requested, leaving less than the "
            f"{format_kronor(awarded - available)} its activities, spend and repayments hold",
            rule="no-over-allocation",
            grant_id=grant_id,
            area=area,
            available=available,
            requested=requested,
            minimum_award=awarded - available,
        )
        self.available = available
        self.requested = requested


class RingFenced(RuleViolation):
    """Rule 2: a ring-fenced area allows no reallocation in or out."""

    code = "ring-fenced"
    title = "Ring-fenced area"

    def __init__(self, *, grant_id: str, area: str, activity: str) -> None:
        super().__init__(
            f"activity {activity!r} is in ring-fenced area {area!r} of grant {grant_id!r}: "
            "its budget cannot be reallocated in or out",
            rule="ring-fenced",
            grant_id=grant_id,
            area=area,
            activity=activity,
        )


class CrossAreaReallocation(RuleViolation):
    """Rule 3: reallocation stays inside its area."""

    code = "cross-area-reallocation"
    title = "Reallocation between areas"

    def __init__(self, *, grant_id: str, from_area: str, to_area: str) -> None:
        super().__init__(
            f"budget of grant {grant_id!r} cannot move from area {from_area!r} to area "
            f"{to_area!r}: reallocation stays inside one area",
            rule="reallocation-within-area",
            grant_id=grant_id,
            from_area=from_area,
            to_area=to_area,
        )


class InsufficientRemaining(RuleViolation):
    """Rule 3: a reallocation cannot move more than the source activity has left."""

    code = "insufficient-remaining"
    title = "Reallocation exceeds the activity's remaining budget"

    def __init__(self, *, grant_id: str, activity: str, available: int, requested: int) -> None:
        super().__init__(
            f"activity {activity!r} of grant {grant_id!r} has {format_kronor(available)} "
            f"remaining; {format_kronor(requested)} requested",
            rule="reallocation-within-remaining",
            grant_id=grant_id,
            activity=activity,
            available=available,
            requested=requested,
        )
        self.available = available
        self.requested = requested


class BalanceOutOfRange(RuleViolation):
    """One bound for money: no account may hold more than ``money.MAX_ORE`` either way.

    A balance beyond it could not be stored (a 64-bit column) or added up safely, and would jam
    every later command on the account; the command that would cross it is refused instead.
    """

    code = "balance-out-of-range"
    title = "An account would exceed the ledger's money bound"

    def __init__(
        self, *, grant_id: str, account: str, balance: int, available: int, requested: int
    ) -> None:
        super().__init__(
            f"account {account!r} of grant {grant_id!r} holds {format_kronor(balance)} and can "
            f"take {format_kronor(available)} more in that direction; "
            f"{format_kronor(requested)} requested",
            rule="money-bound",
            grant_id=grant_id,
            account=account,
            balance=format_money(balance),
            available=available,
            requested=requested,
        )
        self.account = account
        self.available = available
        self.requested = requested


@dataclass(frozen=True, slots=True)
class LineError:
    """Why one spend line of a batch cannot be placed."""

    line_id: str
    field: str
    reason: str
    code: str  # "unknown-cost-object", "closed-period", ...


class UnplaceableSpend(RuleViolation):
    """Rule 4: spend is refused only when it cannot be placed; the batch names every bad line."""

    code = "unplaceable-spend"
    title = "Spend cannot be placed"

    def __init__(self, errors: list[LineError], *, grant_id: str | None = None) -> None:
        lines = len({e.line_id for e in errors})
        detail = "; ".join(f"line {e.line_id!r}: {e.reason}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(
            f"{lines} line(s) cannot be placed: {detail}{more}",
            rule="spend-placement",
            grant_id=grant_id,
            errors=[asdict(e) for e in errors],
        )
        self.errors = errors


class CostObjectOverlap(RuleViolation):
    """Rule 5: a cost object and a booking date must find exactly one grant."""

    code = "cost-object-overlap"
    title = "Cost object already routed to another grant"

    def __init__(
        self,
        *,
        grant_id: str,
        cost_object: str,
        other_grant_id: str,
        overlap_from: date,
        overlap_to: date,
    ) -> None:
        super().__init__(
            f"cost object {cost_object!r} already routes spend from {overlap_from} to "
            f"{overlap_to} to grant {other_grant_id!r}; grant {grant_id!r} cannot claim it too",
            rule="cost-object-routing",
            grant_id=grant_id,
            cost_object=cost_object,
            other_grant_id=other_grant_id,
            overlap_from=overlap_from.isoformat(),
            overlap_to=overlap_to.isoformat(),
        )


class ExitPlanRequired(RuleViolation):
    """Rule 6: a new activity must say how it is financed when the state money ends."""

    code = "exit-plan-required"
    title = "New activity without an exit plan"

    def __init__(self, *, grant_id: str, activity: str) -> None:
        super().__init__(
            f"new activity {activity!r} of grant {grant_id!r} needs an exit plan: how it is "
            "financed, absorbed or wound down when the earmarked money ends",
            rule="exit-plan-required",
            grant_id=grant_id,
            activity=activity,
        )


class DecisionRequired(RuleViolation):
    """Rule 7: a planning entry carries the decision that authorises it."""

    code = "decision-required"
    title = "Decision reference required"

    def __init__(self, *, grant_id: str, missing: str) -> None:
        super().__init__(
            f"a planning entry on grant {grant_id!r} needs the decision that authorises it "
            f"(reference, date and deciding body); {missing} is missing",
            rule="decision-reference-required",
            grant_id=grant_id,
            missing=missing,
        )


class PeriodClosed(RuleViolation):
    """A dated entry (receipt, reversal, repayment) in a closed month or closed year."""

    code = "period-closed"
    title = "Period closed"

    def __init__(self, *, grant_id: str, period: str, on: date) -> None:
        super().__init__(
            f"{on} is in closed period {period} of grant {grant_id!r}: book the entry in an "
            "open period",
            rule="closed-period",
            grant_id=grant_id,
            period=period,
            date=on.isoformat(),
        )


class YearClosed(RuleViolation):
    """Planning in a year the grant has closed."""

    code = "year-closed"
    title = "Year closed"

    def __init__(self, *, grant_id: str, year: int) -> None:
        super().__init__(
            f"year {year} of grant {grant_id!r} is closed: its plan can no longer change",
            rule="year-closed",
            grant_id=grant_id,
            year=year,
        )


class OutsideSpendPeriod(RuleViolation):
    """A dated entry or year close outside the grant's spend period."""

    code = "outside-spend-period"
    title = "Outside the spend period"

    def __init__(self, *, grant_id: str, on: str, spend_from: date, spend_to: date) -> None:
        super().__init__(
            f"{on} is outside the spend period {spend_from} – {spend_to} of grant {grant_id!r}",
            rule="spend-period",
            grant_id=grant_id,
            date=on,
            spend_from=spend_from.isoformat(),
            spend_to=spend_to.isoformat(),
        )


class ReceiptOutsideAgreement(RuleViolation):
    """Rule 9: a receipt is dated in the agreement's years (its spend period's and the next)."""

    code = "receipt-outside-agreement"
    title = "Receipt dated outside the agreement's years"

    def __init__(self, *, grant_id: str, received_on: date, earliest: date, latest: date) -> None:
        super().__init__(
            f"a receipt of grant {grant_id!r} dated {received_on} is outside the agreement's "
            f"years ({earliest} – {latest}): check the date, or the grant it belongs to",
            rule="receipt-in-agreement-years",
            grant_id=grant_id,
            received_on=received_on.isoformat(),
            earliest=earliest.isoformat(),
            latest=latest.isoformat(),
        )


class UnclassifiedSpendOpen(RuleViolation):
    """A year is closed only when no spend is left without an area."""

    code = "unclassified-spend-open"
    title = "Unclassified spend must be classified first"

    def __init__(self, *, grant_id: str, year: int, unclassified: int) -> None:
        super().__init__(
            f"grant {grant_id!r} still has {format_kronor(unclassified)} of spend on no area; "
            f"classify it before closing {year}",
            rule="classify-before-close",
            grant_id=grant_id,
            year=year,
            unclassified=unclassified,
        )


class RepaymentExceedsUnallocated(RuleViolation):
    """Only money that is neither planned nor spent can be repaid."""

    code = "repayment-exceeds-unallocated"
    title = "Repayment exceeds what the area has unallocated and unspent"

    def __init__(
        self,
        *,
        grant_id: str,
        area: str,
        available: int,
        requested: int,
        unallocated: int,
        unspent: int,
    ) -> None:
        super().__init__(
            f"area {area!r} of grant {grant_id!r} can repay at most {format_kronor(available)} "
            f"({format_kronor(unallocated)} unallocated, {format_kronor(unspent)} unspent); "
            f"{format_kronor(requested)} requested",
            rule="repayment-within-unallocated",
            grant_id=grant_id,
            area=area,
            available=available,
            requested=requested,
            unallocated=unallocated,
            unspent=unspent,
        )
        self.available = available
        self.requested = requested


# --- not found -------------------------------------------------------------------------------


class UnknownGrant(NotFound):
    code = "unknown-grant"
    title = "Unknown grant"

    def __init__(self, grant_id: str) -> None:
        super().__init__(f"no grant {grant_id!r} is registered", grant_id=grant_id)


class UnknownArea(NotFound):
    code = "unknown-area"
    title = "Unknown area"

    def __init__(self, *, grant_id: str, area: str) -> None:
        super().__init__(f"grant {grant_id!r} has no area {area!r}", grant_id=grant_id, area=area)


class UnknownActivity(NotFound):
    code = "unknown-activity"
    title = "Unknown activity"

    def __init__(self, *, grant_id: str, activity: str) -> None:
        super().__init__(
            f"grant {grant_id!r} has no activity {activity!r}",
            grant_id=grant_id,
            activity=activity,
        )


class UnknownTransaction(NotFound):
    code = "unknown-transaction"
    title = "Unknown transaction"

    def __init__(self, transaction_id: str) -> None:
        super().__init__(
            f"no transaction {transaction_id!r} is recorded", transaction_id=transaction_id
        )


# --- conflicts: the state does not allow it (now) --------------------------------------------


class GrantExists(Conflict):
    code = "grant-exists"
    title = "Grant already registered"

    def __init__(self, grant_id: str) -> None:
        super().__init__(f"grant {grant_id!r} is already registered", grant_id=grant_id)


class ActivityExists(Conflict):
    code = "activity-exists"
    title = "Activity already allocated"

    def __init__(self, *, grant_id: str, activity: str) -> None:
        super().__init__(
            f"grant {grant_id!r} already has an activity {activity!r}",
            grant_id=grant_id,
            activity=activity,
        )


class AlreadyReversed(Conflict):
    code = "already-reversed"
    title = "Transaction already reversed"

    def __init__(self, *, grant_id: str, transaction_id: str) -> None:
        super().__init__(
            f"transaction {transaction_id!r} of grant {grant_id!r} has been reversed",
            grant_id=grant_id,
            transaction_id=transaction_id,
        )


class NotReversible(Conflict):
    code = "not-reversible"
    title = "A reversal cannot be reversed"

    def __init__(self, *, grant_id: str, transaction_id: str, reversal_of: str | None) -> None:
        super().__init__(
            f"transaction {transaction_id!r} of grant {grant_id!r} is itself a reversal"
            f" (of {reversal_of!r}); book the line again instead",
            grant_id=grant_id,
            transaction_id=transaction_id,
            reversal_of=reversal_of,
        )


class NotClassifiable(Conflict):
    code = "not-classifiable"
    title = "A reversal cannot be classified"

    def __init__(self, *, grant_id: str, transaction_id: str) -> None:
        super().__init__(
            f"transaction {transaction_id!r} of grant {grant_id!r} is a reversal entry: it "
            "follows the line it reverses and cannot be classified on its own",
            grant_id=grant_id,
            transaction_id=transaction_id,
        )


class AlreadyClassified(Conflict):
    code = "already-classified"
    title = "Transaction already on an activity"

    def __init__(self, *, grant_id: str, transaction_id: str, activity: str) -> None:
        super().__init__(
            f"transaction {transaction_id!r} of grant {grant_id!r} is already on activity "
            f"{activity!r}; reverse it and book it again to move it",
            grant_id=grant_id,
            transaction_id=transaction_id,
            activity=activity,
        )


class PeriodAlreadyClosed(Conflict):
    code = "period-already-closed"
    title = "Period already closed"

    def __init__(self, period: str) -> None:
        super().__init__(f"period {period} is already closed", period=period)


class YearAlreadyClosed(Conflict):
    code = "year-already-closed"
    title = "Year already closed"

    def __init__(self, *, grant_id: str, year: int) -> None:
        super().__init__(
            f"year {year} of grant {grant_id!r} is already closed", grant_id=grant_id, year=year
        )
