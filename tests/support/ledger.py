"""A test harness over the real write path and read side, for store and scenario tests.

``Ledger(engine)`` wraps ``LedgerService`` and ``LedgerQueries`` on one migrated database (either
backend) with short builders for the commands tests send most, so that a scenario reads like the
seed document it protects.  Nothing here is mocked: every call is one real transaction.

``assert_books_balance(engine)`` is the check every scenario ends with (DESIGN §2): the accounts
of every grant sum to zero, the projections rebuilt from position 0 are identical to the live
ones, and the hash chain verifies.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.domain import commands as cmd
from ledger.domain.balances import ActivityFigures, AreaFigures, GrantFigures
from ledger.formats import plan
from ledger.projections.tables import LIVE
from ledger.queries import LedgerQueries
from ledger.replay import replay
from ledger.service import (
    Actor,
    ClassifyTransaction,
    Command,
    LedgerService,
    PostSpend,
    Result,
    ReverseTransaction,
    SpendLine,
)
from ledger.store import EventStore, StoredEvent
from ledger.store.schema import events

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ADMIN = Actor("test-admin", "admin", request_id="req-test")
PLANNER = Actor("controller-anna", "planner")
POSTER = Actor("erp-raindance", "poster", source_system="raindance")


def kr(amount: int | str | Decimal) -> int:
    """Kronor as written in a seed (``30_593_953``, ``"1234.50"``) → öre, exactly."""
    ore = Decimal(str(amount)) * 100
    if ore != ore.to_integral_value():
        raise ValueError(f"{amount!r} kr is not a whole number of öre")
    return int(ore)


def decision(ref: str = "RS/test/2022", on: date = date(2022, 5, 4)) -> cmd.Decision:
    return cmd.Decision(ref, on, "Regionstyrelsen")


_line_ids = itertools.count(1)


def line(
    cost_object: str,
    amount: int,
    booked_on: date,
    *,
    activity: str | None = None,
    kind: str = "expense",
    line_id: str | None = None,
    voucher: str | None = None,
    account: str | None = "4010",
    text: str | None = None,
) -> SpendLine:
    """A spend line as the ERP sends it; ``amount`` in öre (use ``kr``)."""
    lid = line_id or f"L{next(_line_ids):06d}"
    return SpendLine(
        line_id=lid,
        voucher=voucher or f"V-{lid}",
        booked_on=booked_on,
        amount=amount,
        cost_object=cost_object,
        activity=activity,
        account=account,
        kind=kind,
        text=text,
    )


@dataclass
class Ledger:
    """The service and the queries over one database, with builders for common commands."""

    engine: Engine
    actor: Actor = ADMIN
    service: LedgerService = field(init=False)
    queries: LedgerQueries = field(init=False)

    def __post_init__(self) -> None:
        self.service = LedgerService(self.engine)
        self.queries = LedgerQueries(self.engine, EventStore())

    # --- writing ---------------------------------------------------------------------------

    def run(self, command: Command, actor: Actor | None = None, **kwargs: Any) -> Result:
        """Execute one command; the answer must be a fresh ``Result`` (not a replay)."""
        result = self.service.execute(command, actor or self.actor, **kwargs)
        assert isinstance(result, Result), result
        return result

    def load_plan(self, path: Path | str) -> list[Result]:
        plan_file = plan.read(EXAMPLES / path if isinstance(path, str) else path)
        return [self.run(c, PLANNER) for c in plan.commands(plan_file)]

    def register(
        self,
        grant_id: str,
        areas: Iterable[cmd.AreaSpec],
        *,
        spend_from: date = date(2022, 1, 1),
        spend_to: date = date(2022, 12, 31),
        on: cmd.Decision | None = None,
        reporting: tuple[cmd.ReportingObligation, ...] = (),
        repayment_reference: str | None = None,
        name: str | None = None,
    ) -> Result:
        return self.run(
            cmd.RegisterGrant(
                grant_id=grant_id,
                name=name or grant_id,
                funder="Staten via SKR",
                decision=on or decision(on=spend_from),
                spend_from=spend_from,
                spend_to=spend_to,
                areas=tuple(areas),
                reporting=reporting,
                repayment_reference=repayment_reference,
            ),
            PLANNER,
        )

    def allocate(
        self,
        grant_id: str,
        code: str,
        area: str,
        amount: int,
        *,
        on: cmd.Decision | None = None,
        responsible: str = "Beställarchef",
        new_activity: bool = False,
        exit_plan: str | None = None,
        name: str | None = None,
    ) -> Result:
        return self.run(
            cmd.AllocateActivity(
                grant_id=grant_id,
                code=code,
                area=area,
                name=name or code,
                amount=amount,
                responsible=responsible,
                decision=on or decision(),
                new_activity=new_activity,
                exit_plan=exit_plan,
            ),
            PLANNER,
        )

    def reallocate(
        self,
        grant_id: str,
        source: str,
        target: str,
        amount: int,
        *,
        on: cmd.Decision | None = None,
        reason: str = "omfördelning",
    ) -> Result:
        return self.run(
            cmd.Reallocate(grant_id, source, target, amount, reason, on or decision()), PLANNER
        )

    def spend(self, *lines: SpendLine, source: str = "raindance", **kwargs: Any) -> Result:
        return self.run(PostSpend(source, tuple(lines)), POSTER, **kwargs)

    def reverse(self, transaction_id: str, booked_on: date, reason: str = "felkontering") -> Result:
        return self.run(ReverseTransaction(transaction_id, reason, booked_on), POSTER)

    def classify(self, transaction_id: str, activity: str, reason: str = "klassning") -> Result:
        return self.run(ClassifyTransaction(transaction_id, activity, reason), PLANNER)

    # --- reading ---------------------------------------------------------------------------

    def figures(self, grant_id: str, **kwargs: Any) -> GrantFigures:
        [answer] = self.queries.balances(grant_id=grant_id, **kwargs)
        return answer.figures

    def area(self, grant_id: str, code: str, **kwargs: Any) -> AreaFigures:
        found = {a.code: a for a in self.figures(grant_id, **kwargs).areas}
        return found[code]

    def activity(self, grant_id: str, code: str, **kwargs: Any) -> ActivityFigures:
        for a in self.figures(grant_id, **kwargs).areas:
            for x in a.activities:
                if x.code == code:
                    return x
        raise KeyError(code)

    def events(self, *, stream_id: str | None = None) -> list[StoredEvent]:
        return self.queries.events(limit=1_000_000, stream_id=stream_id)

    def event_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the events table and of every projection: 'nothing was written'."""
        return snapshot(self.engine)


def relax_durability(engine: Engine) -> Engine:
    """Skip the WAL flush at commit on a throwaway PostgreSQL test database (many small commits).

    Only durability after a crash changes; what each transaction sees and writes does not.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            name = conn.exec_driver_sql("SELECT current_database()").scalar_one()
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        engine.dispose()  # pooled connections were opened with the old setting
    return engine


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = [events, *LIVE.all()]
    with engine.connect() as conn:
        return {
            t.name: sorted(
                (tuple(repr(v) for v in row) for row in conn.execute(sa.select(t))), key=str
            )
            for t in tables
        }


def account_sums(engine: Engine) -> dict[str, int]:
    """SUM(balance) over ``account_balances`` per grant: zero for every grant, always."""
    b = LIVE.account_balances
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(b.c.grant_id, sa.func.sum(b.c.balance)).group_by(b.c.grant_id)
        )
        return {grant_id: int(total) for grant_id, total in rows}


class ReplayDiffers(AssertionError):
    """The projections rebuilt from position 0 differ from the live ones.

    Its own class so that a test marked ``xfail(raises=ReplayDiffers)`` for a known replay bug
    still fails loudly when anything *else* in it goes wrong.
    """


def assert_accounts_sum_to_zero(engine: Engine) -> None:
    sums = account_sums(engine)
    assert sums, "no grant has any account"
    assert {g: s for g, s in sums.items() if s != 0} == {}, "accounts do not sum to zero"


def assert_replay_identical(engine: Engine) -> None:
    report = replay(engine)
    if not report.identical:
        raise ReplayDiffers(
            "replay differs from the live projections:\n"
            + "\n".join(
                f"{d.table}: {d.only_live} live-only, {d.only_replayed} replay-only; {d.examples}"
                for d in report.differences
            )
        )


def assert_chain_verifies(engine: Engine) -> None:
    verified = EventStore().verify(engine)
    assert verified.ok, verified


def assert_books_balance(engine: Engine) -> None:
    """Double entry holds, the projections are what the events say, and the chain is intact."""
    assert_accounts_sum_to_zero(engine)
    assert_chain_verifies(engine)
    assert_replay_identical(engine)


def meta_of(events_: Iterable[StoredEvent]) -> list[Mapping[str, Any]]:
    return [e.meta for e in events_]


def recorded_at(result: Result) -> datetime:
    """When the result's events were recorded (the database clock): a ``known_at`` to ask with."""
    return result.events[-1].recorded_at
