"""A realistic year for the demo database: the seed 003 plan, receipts, spend, corrections.

Deterministic (seeded), so every ``make run`` shows the same figures.  Spend runs near each
activity's budget with some months heavier than others; a few lines arrive without an activity
(to be classified), one is reversed as felkontering, and the books of January–October are closed.
"""

from __future__ import annotations

import calendar
import random
from datetime import date

from ledger.domain import commands as cmd
from ledger.domain.state import GrantState
from ledger.formats import plan as plans
from ledger.projections import loader
from ledger.service import (
    Actor,
    ClassifyTransaction,
    LedgerService,
    PostSpend,
    Result,
    ReverseTransaction,
    SpendLine,
)

YEAR = 2022
SOURCE = "raindance"
_ACCOUNTS = ("4010", "5420", "6550", "7010", "7699")  # konsulter, programvaror, kurser, löner …


def populate(service: LedgerService, plan: plans.PlanFile, actor: Actor) -> None:
    state, problems = plans.check(plan)
    if problems or state is None:
        raise problems[0] if problems else ValueError("empty plan")
    service.execute_all(plans.commands(plan), actor)
    total = sum(-b for a, b in state.balances.items() if a.startswith("award:"))
    for month, share in ((2, 50), (6, 30), (10, 20)):  # the funder pays in three instalments
        service.execute(
            cmd.RecordReceipt(
                state.grant_id,
                total * share // 100,
                date(YEAR, month, 25),
                f"Utbetalning {share}% {state.name}",
            ),
            actor,
        )
    rng = random.Random(YEAR)  # noqa: S311 - demo data, not secrets
    unclassified: list[str] = []
    first: str | None = None
    for month in range(1, 13):
        result = service.execute(PostSpend(SOURCE, _month_lines(state, month, rng)), actor)
        assert isinstance(result, Result)
        for line in result.lines:
            if line.line_id.endswith("-u"):
                unclassified.append(line.transaction_id)
            elif first is None:
                first = line.transaction_id
    if first is not None:
        service.execute(
            ReverseTransaction(first, "Felkontering: fel objekt", date(YEAR, 2, 28)), actor
        )
    targets = {"9942": "e-halsa-standarder", "9917": "webbplatser"}
    for transaction_id in unclassified[:-2]:  # two stay unclassified, as in real life
        cost_object = _cost_object_of(service, transaction_id)
        service.execute(
            ClassifyTransaction(
                transaction_id, targets[cost_object], "Klassad vid månadsavstämning"
            ),
            actor,
        )
    for month in range(1, 11):
        service.execute(cmd.ClosePeriod(f"{YEAR}-{month:02d}"), actor)


def _cost_object_of(service: LedgerService, transaction_id: str) -> str:
    with service.engine.connect() as conn:
        record = loader.load_line(conn, service.tables, transaction_id)
    assert record is not None
    return record.line.cost_object


def _month_lines(state: GrantState, month: int, rng: random.Random) -> tuple[SpendLine, ...]:
    last = date(YEAR, month, calendar.monthrange(YEAR, month)[1])
    lines: list[SpendLine] = []
    for code, activity in state.activities.items():
        monthly = state.allocated(code) // 12
        # Summer is quiet, autumn catches up; some activities overshoot their budget.
        weight = {7: 0.3, 8: 0.6, 11: 1.4, 12: 1.6}.get(month, 1.0) * rng.uniform(0.6, 1.25)
        amount = int(monthly * weight)
        if amount <= 0:
            continue
        area = state.areas[activity.area]
        lines.append(
            SpendLine(
                line_id=f"{YEAR}{month:02d}-{code}",
                voucher=f"V{YEAR}-{month:02d}{len(lines):03d}",
                booked_on=last,
                amount=amount,
                cost_object=area.cost_object,
                activity=code,
                account=rng.choice(_ACCOUNTS),
                kind="expense",
                text=f"{activity.name[:60]} {calendar.month_abbr[month]}",
            )
        )
    for cost_object in ("9942", "9917"):
        lines.append(
            SpendLine(
                line_id=f"{YEAR}{month:02d}-{cost_object}-u",
                voucher=f"V{YEAR}-{month:02d}9{cost_object[-2:]}",
                booked_on=last,
                amount=rng.randrange(5_000_00, 40_000_00),
                cost_object=cost_object,
                activity=None,
                account="4010",
                kind="expense",
                text="Faktura utan aktivitet",
            )
        )
    return tuple(lines)
