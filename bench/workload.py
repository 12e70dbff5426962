"""Spend lines like a region's ERP sends them, spread over the seed 003 grant.

Deterministic (seeded).  Lines cycle over every activity of *God och nära vård 2022* on its
area's cost object (9916, 9917, 9942), with a few unclassified lines (no activity) on each cost
object, booking dates over the whole spend year and öre amounts from 100 kr to 50 000 kr.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bench.config import PLAN
from ledger.formats import plan as plans
from ledger.service import SpendLine

ACCOUNTS = ("4010", "4090", "5420", "6550", "7010", "7699")
TEXTS = (
    "Konsultarvode enligt avtal",
    "Licenser och programvaror",
    "Kurs- och konferensavgifter",
    "Lönekostnad projektanställd",
    "Resor i tjänsten",
)
YEAR_START = date(2022, 1, 1)


@dataclass(frozen=True, slots=True)
class Target:
    activity: str | None
    cost_object: str


def targets() -> tuple[str, tuple[Target, ...]]:
    """The grant id and where its spend can go: every activity, plus unclassified per object."""
    parsed = plans.read(PLAN)
    state, problems = plans.check(parsed)
    if problems or state is None:
        raise RuntimeError(f"the seed plan {PLAN} does not check: {problems}")
    found = [Target(code, state.areas[a.area].cost_object) for code, a in state.activities.items()]
    found += [Target(None, co) for co in sorted({a.cost_object for a in state.areas.values()})]
    return state.grant_id, tuple(found)


class Workload:
    """A stream of unique spend lines of one source, in batches."""

    def __init__(self, source: str, seed: int = 2022) -> None:
        self.source = source
        self.grant_id, self._targets = targets()
        self._classified = [t for t in self._targets if t.activity is not None]
        self._unclassified = [t for t in self._targets if t.activity is None]
        self._rng = random.Random(seed)
        self._serial = 0

    def _target(self) -> Target:
        if self._rng.random() < 0.02:
            return self._rng.choice(self._unclassified)
        return self._classified[self._serial % len(self._classified)]

    def line(self) -> SpendLine:
        self._serial += 1
        n, rng, t = self._serial, self._rng, self._target()
        return SpendLine(
            line_id=f"{self.source}-{n:08d}",
            voucher=f"V2022-{n // 4:07d}",
            booked_on=YEAR_START + timedelta(days=rng.randrange(365)),
            amount=rng.randrange(100_00, 50_000_00),
            cost_object=t.cost_object,
            activity=t.activity,
            account=rng.choice(ACCOUNTS),
            kind="depreciation" if rng.random() < 0.01 else "expense",
            text=rng.choice(TEXTS),
        )

    def batch(self, n: int) -> tuple[SpendLine, ...]:
        return tuple(self.line() for _ in range(n))

    def batches(self, size: int) -> Iterator[tuple[SpendLine, ...]]:
        while True:
            yield self.batch(size)


def line_json(line: SpendLine) -> dict[str, Any]:
    """A line as POST /v1/transactions takes it (money as a string with two decimals)."""
    return {
        "line_id": line.line_id,
        "voucher": line.voucher,
        "booked_on": line.booked_on.isoformat(),
        "amount": f"{line.amount // 100}.{line.amount % 100:02d}",
        "cost_object": line.cost_object,
        "activity": line.activity,
        "account": line.account,
        "kind": line.kind,
        "text": line.text,
    }


def batch_json(source: str, lines: tuple[SpendLine, ...]) -> dict[str, Any]:
    return {"source": source, "lines": [line_json(x) for x in lines]}
