"""Which months are open and which are closed: what a caller refused as ``closed-period`` asks.

A month is closed for every grant by a period close (``POST /v1/periods/{YYYY-MM}/close``), and
for one grant by its year close (its every month).  ``calendar`` lists the months of the grants'
spend periods (or of one grant's) and any closed month outside them, each open or closed and by
what, so a client can see where a line may still be dated without trying it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from ledger.domain.state import period_of

ClosedBy = Literal["period-close", "year-close"]


@dataclass(frozen=True, slots=True)
class Month:
    period: str  # "2022-03"
    closed: bool
    closed_by: ClosedBy | None  # a period close (every grant) or the grant's year close


@dataclass(frozen=True, slots=True)
class Span:
    """A grant's spend period and the years it has closed."""

    spend_from: date
    spend_to: date
    closed_years: frozenset[int]


def calendar(
    spans: Iterable[Span], closed_months: Iterable[str], *, per_grant: bool
) -> tuple[Month, ...]:
    """Every month of ``spans`` and every closed month, in order.

    ``per_grant``: the spans are one grant's, so its closed years close their months too; across
    grants a year close is one grant's business and only period closes count.
    """
    spans = tuple(spans)
    closed = frozenset(closed_months)
    years = frozenset(y for s in spans for y in s.closed_years) if per_grant else frozenset()
    months = set(closed)
    for s in spans:
        months.update(_months(s.spend_from, s.spend_to))
    return tuple(_month(p, closed, years) for p in sorted(months))


def _month(period: str, closed: frozenset[str], years: frozenset[int]) -> Month:
    if period in closed:
        return Month(period=period, closed=True, closed_by="period-close")
    if int(period[:4]) in years:
        return Month(period=period, closed=True, closed_by="year-close")
    return Month(period=period, closed=False, closed_by=None)


def _months(first: date, last: date) -> Iterable[str]:
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        yield period_of(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
