"""The accounts of a grant and the double-entry transfers each event makes (docs/domain.md).

Every money movement is a ``Transfer``: ``source`` goes down by ``amount`` and ``target`` up by
it, so the sum over all accounts of a grant is zero after any sequence of events.  ``transfers``
reads the event alone, never state, so that live balances, as-of postings and an auditor's
export all come from the same function.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, assert_never

from ledger.domain.events import (
    ActivityAllocated,
    AwardAmended,
    BudgetReallocated,
    Event,
    GrantRegistered,
    PeriodClosed,
    ReceiptRecorded,
    RepaymentRecorded,
    SpendClassified,
    SpendRecorded,
    SpendReversed,
    YearClosed,
)


class Transfer(NamedTuple):
    """One movement (a tuple: a batch makes three per spend line, so it must be cheap)."""

    source: str
    target: str
    amount: int  # always > 0: a movement the other way is a transfer the other way


# Spend on a cost object that serves several areas (9942) and names no activity sits on
# ``unplaced:{cost_object}`` until classified; ``suspense:{cost_object}`` is its counter-entry, so
# no area's money moves until then.  Per cost object, so each object's figures stay exact.
SUSPENSE = "suspense"
UNPLACED = "unplaced"
CASH_FUNDER = "cash:funder"  # minus what the funder has paid out
CASH_BANK = "cash:bank"  # grant money held by the region
CASH_REPAID = "cash:repaid"  # returned to the funder


def award(area: str) -> str:
    """Minus what the funder awarded the area (tilldelning)."""
    return f"award:{area}"


def unallocated(area: str) -> str:
    """The area's money on no activity (ofördelat); area-level unclassified spend draws on it."""
    return f"unallocated:{area}"


def budget(activity: str) -> str:
    """The activity's remaining budget; negative when overspent."""
    return f"budget:{activity}"


def spent(activity: str) -> str:
    return f"spent:{activity}"


def unclassified(area: str) -> str:
    """Spend booked on the area's own cost object without an activity."""
    return f"unclassified:{area}"


def unplaced(cost_object: str) -> str:
    """Spend on a shared cost object with no activity: no area can be told yet."""
    return f"{UNPLACED}:{cost_object}"


def suspense(cost_object: str) -> str:
    return f"{SUSPENSE}:{cost_object}"


def repaid(area: str) -> str:
    return f"repaid:{area}"


# The account vocabulary: every account ``transfers`` writes, and what its balance holds.  The
# one list docs/domain.md shows (tests/unit/test_docs.py keeps the two equal, and checks that
# every account a ledger holds matches one of these) and exports name accounts from.
VOCABULARY: tuple[tuple[str, str], ...] = (
    (award("{area}"), "minus what the funder awarded the area (tilldelning)"),
    (unallocated("{area}"), "awarded, not on an activity (ofördelat)"),
    (budget("{activity}"), "allocated to the activity, not spent: remaining (negative: overspent)"),
    (spent("{activity}"), "spent on the activity"),
    (unclassified("{area}"), "spend booked on the area's cost object without an activity"),
    (
        unplaced("{cost_object}"),
        "spend on a cost object serving several areas (9942), on no area until classified",
    ),
    (suspense("{cost_object}"), "the counter-entry of unplaced spend: minus it"),
    (repaid("{area}"), "repaid to the funder (återbetalning)"),
    (CASH_FUNDER, "minus what the funder has paid out (utbetalning): −received"),
    (CASH_BANK, "grant money the region holds"),
    (CASH_REPAID, "cash returned to the funder"),
)


def transfers(event: Event) -> tuple[Transfer, ...]:
    """The postings of ``event``, derived from the event alone."""
    match event:
        # Spend first: it is by far the most frequent event in a replay.
        case SpendRecorded(area=area, activity=activity, amount=amount, cost_object=co):
            return _move(*_placement(area, activity, co), amount)
        case SpendReversed(area=area, activity=activity, amount=amount, cost_object=co):
            source, target = _placement(area, activity, co)
            return _move(target, source, amount)
        case SpendClassified(from_area=from_area, activity=activity, amount=amount, cost_object=co):
            source, target = _placement(from_area, None, co)
            return _move(target, source, amount) + _move(*_placement(None, activity, co), amount)
        case GrantRegistered(areas=areas):
            return tuple(
                t
                for spec in areas
                for t in _move(award(spec.code), unallocated(spec.code), spec.awarded)
            )
        case AwardAmended(area=area, previous=previous, awarded=awarded):
            return _move(award(area), unallocated(area), awarded - previous)
        case ReceiptRecorded(amount=amount):
            return _move(CASH_FUNDER, CASH_BANK, amount)
        case ActivityAllocated(code=code, area=area, amount=amount):
            return _move(unallocated(area), budget(code), amount)
        case BudgetReallocated(from_activity=source, to_activity=target, amount=amount):
            return _move(budget(source), budget(target), amount)
        case RepaymentRecorded(area=area, amount=amount):
            return _move(unallocated(area), repaid(area), amount) + _move(
                CASH_BANK, CASH_REPAID, amount
            )
        case YearClosed(released=released):
            return tuple(
                t
                for r in released
                for t in _move(budget(r.activity), unallocated(r.area), r.amount)
            )
        case PeriodClosed():
            return ()
        case _:
            assert_never(event)


# A grant has tens of placements and a batch thousands of lines: the names are made once.
@lru_cache(maxsize=4096)
def _placement(area: str | None, activity: str | None, cost_object: str) -> tuple[str, str]:
    """Where spend comes from and goes to: activity, else area, else the cost object's suspense."""
    if activity is not None:
        return budget(activity), spent(activity)
    if area is not None:
        return unallocated(area), unclassified(area)
    return suspense(cost_object), unplaced(cost_object)


def _move(source: str, target: str, amount: int) -> tuple[Transfer, ...]:
    # A negative amount (a credit line, a cut award) is the same movement the other way.
    if amount > 0:
        return (Transfer(source, target, amount),)
    if amount < 0:
        return (Transfer(target, source, -amount),)
    return ()
