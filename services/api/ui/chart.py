"""Spend per month per area, and the SVG bar chart drawn from it on the server.

The months come from the ledger's own figures: the spend of a month is what ``spent`` was at
its last day minus what it was at the last day before it (``LedgerQueries.balances`` as of
each month's end), so the chart can never disagree with the grant's figures.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from api.ui.format import kronor
from ledger.queries import LedgerQueries

PALETTE = ("#1f5f8b", "#b35900", "#2e7d32", "#6a1b9a", "#8d6e00", "#c62828", "#37474f")


@dataclass(frozen=True, slots=True)
class MonthlySpend:
    months: tuple[str, ...]  # "2022-01" …
    areas: tuple[str, ...]
    spend: dict[tuple[str, str], int]  # (area, month) → öre spent in that month

    def total(self, month: str) -> int:
        return sum(self.spend.get((a, month), 0) for a in self.areas)

    def stacked(self, month: str) -> int:
        """The height of the month's bar: its positive parts (a reversal's minus sits at 0)."""
        return sum(max(0, self.spend.get((a, month), 0)) for a in self.areas)


def month_ends(start: date, end: date) -> list[date]:
    ends, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        ends.append(date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ends


def monthly_spend(
    queries: LedgerQueries,
    *,
    grant_id: str | None = None,
    cost_object: str | None = None,
    spend_from: date,
    until: date,
) -> MonthlySpend:
    """Spend per area per month of the spend period up to ``until`` (its month included),
    with unclassified spend on a shared cost object as a series of its own."""
    previous: dict[str, int] = {}
    spend: dict[tuple[str, str], int] = {}
    months: list[str] = []
    areas: list[str] = []
    for end in month_ends(spend_from, until):
        month = end.strftime("%Y-%m")
        months.append(month)
        found = queries.balances(grant_id=grant_id, cost_object=cost_object, as_of=min(end, until))
        now: dict[str, int] = {}
        for b in found:
            prefix = "" if grant_id is not None else f"{b.grant_id}/"
            # Spend on a shared cost object that is on no area yet is spend all the same.
            shares = [(a.code, a.spent) for a in b.figures.areas] + [
                (f"oklassat {co}", amount) for co, amount in b.figures.unplaced.items()
            ]
            for name, spent in shares:
                key = prefix + name
                now[key] = spent
                if key not in areas:
                    areas.append(key)
        for key in now.keys() | previous.keys():  # a series classified away drops to 0
            spend[(key, month)] = now.get(key, 0) - previous.get(key, 0)
        previous = now
    return MonthlySpend(tuple(months), tuple(areas), spend)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # for the <title>: what a mouse-over (and a screen reader) tells


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]  # (x of the month's centre, "01")
    colours: tuple[tuple[str, str], ...]  # (area, colour) for the legend
    top: int  # öre at the chart's top line


def stacked_bars(data: MonthlySpend, width: int = 720, height: int = 240) -> Chart:
    """One stacked bar per month, one colour per area; negative months (reversals) sit at 0."""
    colours = {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(data.areas)}
    top = max([data.stacked(m) for m in data.months] + [1])
    slot = width / max(len(data.months), 1)
    bars: list[Bar] = []
    for i, month in enumerate(data.months):
        y = float(height)
        for area in data.areas:
            amount = max(0, data.spend.get((area, month), 0))
            h = height * amount / top
            if h <= 0:
                continue
            y -= h
            label = f"{area} {month}: {kronor(amount)}"
            bars.append(Bar(i * slot + slot * 0.15, y, slot * 0.7, h, colours[area], label))
    ticks = tuple((i * slot + slot / 2, m[5:]) for i, m in enumerate(data.months))
    return Chart(width, height, tuple(bars), ticks, tuple(colours.items()), top)
