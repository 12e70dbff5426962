"""Read decision state back from the projections, under the append lock.

The projection tables are the persisted fold of each grant's events (``replay`` proves it), so
the write path loads a grant's state in a handful of indexed reads, however long its stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.db import driver_rows
from ledger.domain import events as ev
from ledger.domain.commands import CostObjectRoute, Decision, RecordedLine, ReportingObligation
from ledger.domain.state import ActivityInfo, AreaInfo, GrantState, PeriodsState
from ledger.projections.tables import ProjectionTables
from ledger.store.schema import events


def _decision(d: dict[str, str]) -> Decision:
    return Decision(ref=d["ref"], date=date.fromisoformat(d["date"]), body=d["body"])


def facts_key(
    conn: Connection, t: ProjectionTables, grant_ids: Sequence[str] = ()
) -> tuple[tuple[int, int], dict[str, int]]:
    """(closed months, registered grants): what changes whenever periods or routes do; and,
    in the same round trip, the projected versions of ``grant_ids`` (those registered)."""
    if conn.dialect.name == "postgresql":
        return facts_of(driver_rows(conn, *facts_probe(t, grant_ids)))
    count = sa.func.count()
    counts = sa.select(
        sa.select(count).select_from(t.closed_periods).scalar_subquery().label("closed"),
        sa.select(count).select_from(t.grants).scalar_subquery().label("registered"),
    ).subquery()
    g = t.grants
    rows = conn.execute(
        sa.select(counts.c.closed, counts.c.registered, g.c.grant_id, g.c.version).select_from(
            counts.outerjoin(g, g.c.grant_id.in_(list(grant_ids)) if grant_ids else sa.false())
        )
    ).all()
    versions = {r.grant_id: int(r.version) for r in rows if r.grant_id is not None}
    return (int(rows[0].closed), int(rows[0].registered)), versions


def facts_probe(t: ProjectionTables, grant_ids: Sequence[str]) -> tuple[str, list[Any]]:
    """``facts_key``'s PostgreSQL statement, to send in another's round trip (the lock's)."""
    return (
        f"SELECT (SELECT count(*) FROM {t.closed_periods.name}), "
        f"(SELECT count(*) FROM {t.grants.name}), g.grant_id, g.version "
        f"FROM (SELECT 1) AS one LEFT JOIN {t.grants.name} g ON g.grant_id = ANY(%s)",
        [list(grant_ids)],
    )


def facts_of(found: Sequence[Sequence[Any]]) -> tuple[tuple[int, int], dict[str, int]]:
    """``facts_key``'s answer from the rows of ``facts_probe``."""
    versions = {g: int(v) for _, _, g, v in found if g is not None}
    return (int(found[0][0]), int(found[0][1])), versions


def load_periods(conn: Connection, t: ProjectionTables) -> PeriodsState:
    closed = frozenset(conn.execute(sa.select(t.closed_periods.c.period)).scalars())
    return PeriodsState(closed=closed, version=len(closed))


def grant_version(conn: Connection, t: ProjectionTables, grant_id: str) -> int | None:
    """The grant's stream version as projected (None: not registered), in one probe."""
    version = conn.execute(
        sa.select(t.grants.c.version).where(t.grants.c.grant_id == grant_id)
    ).scalar()
    return None if version is None else int(version)


def stream_events(conn: Connection, stream_id: str, *, after_version: int) -> list[ev.Event]:
    """A stream's events after a version, in order, decoded (upcast where older)."""
    if conn.dialect.name == "postgresql":
        return [
            ev.decode(event_type, schema_version, data)
            for event_type, schema_version, data in driver_rows(
                conn,
                "SELECT event_type, schema_version, data FROM events "
                "WHERE stream_id = %s AND stream_version > %s ORDER BY stream_version",
                [stream_id, after_version],
            )
        ]
    q = (
        sa.select(events.c.event_type, events.c.schema_version, events.c.data)
        .where(events.c.stream_id == stream_id, events.c.stream_version > after_version)
        .order_by(events.c.stream_version)
    )
    return [ev.decode(r.event_type, r.schema_version, r.data) for r in conn.execute(q)]


def moved_since(
    conn: Connection,
    t: ProjectionTables,
    grant_id: str,
    stream_id: str,
    version: int,
    kinds: Iterable[type[ev.Event]],
) -> tuple[int, int, int]:
    """Since ``version``, in one round trip: the stream's events, how many of them are not of
    ``kinds``, and the largest balance (in magnitude) of the grant's accounts now."""
    e, b = events.c, t.account_balances.c
    types = [k.event_type for k in kinds]
    peak = (
        sa.select(sa.func.coalesce(sa.func.max(sa.func.abs(b.balance)), 0))
        .where(b.grant_id == grant_id)
        .scalar_subquery()
    )
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((e.event_type.in_(types), 0), else_=1)), 0),
            peak,
        ).where(e.stream_id == stream_id, e.stream_version > version)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def load_grant(conn: Connection, t: ProjectionTables, grant_id: str) -> GrantState | None:
    g = conn.execute(sa.select(t.grants).where(t.grants.c.grant_id == grant_id)).first()
    if g is None:
        return None
    areas = conn.execute(
        sa.select(t.areas).where(t.areas.c.grant_id == grant_id).order_by(t.areas.c.ordinal)
    ).all()
    activities = conn.execute(
        sa.select(t.activities)
        .where(t.activities.c.grant_id == grant_id)
        .order_by(t.activities.c.ordinal)
    ).all()
    balances = conn.execute(
        sa.select(t.account_balances.c.account, t.account_balances.c.balance).where(
            t.account_balances.c.grant_id == grant_id
        )
    ).all()
    return GrantState(
        grant_id=g.grant_id,
        version=g.version,
        name=g.name,
        funder=g.funder,
        decision=_decision(g.decision),
        spend_from=g.spend_from,
        spend_to=g.spend_to,
        repayment_reference=g.repayment_reference,
        areas=MappingProxyType(
            {
                a.code: AreaInfo(a.code, a.name, a.cost_object, a.responsible, a.ring_fenced)
                for a in areas
            }
        ),
        activities=MappingProxyType(
            {
                x.code: ActivityInfo(
                    x.code, x.area, x.name, x.responsible, x.new_activity, x.exit_plan
                )
                for x in activities
            }
        ),
        balances=MappingProxyType({b.account: b.balance for b in balances if b.balance}),
        reporting=tuple(
            ReportingObligation(r["kind"], date.fromisoformat(r["due"]), r["recipient"])
            for r in g.reporting
        ),
        closed_years=frozenset(g.closed_years),
    )


def load_routes(
    conn: Connection, t: ProjectionTables, cost_objects: Iterable[str] | None = None
) -> tuple[CostObjectRoute, ...]:
    q = sa.select(t.cost_object_routes)
    if cost_objects is not None:
        q = q.where(t.cost_object_routes.c.cost_object.in_(sorted(set(cost_objects))))
    return tuple(
        CostObjectRoute(r.cost_object, r.grant_id, r.spend_from, r.spend_to)
        for r in conn.execute(q)
    )


@dataclass(frozen=True, slots=True)
class LineRecord:
    grant_id: str
    line: RecordedLine

    @classmethod
    def of(cls, e: ev.SpendRecorded | ev.SpendReversed) -> LineRecord:
        """The record a line's own event leaves (a reversal is a line of its own, negated)."""
        if isinstance(e, ev.SpendReversed):
            return cls(
                e.grant_id,
                RecordedLine(
                    transaction_id=e.transaction_id,
                    source="",
                    line_id="",
                    booked_on=e.booked_on,
                    amount=-e.amount,
                    cost_object=e.cost_object,
                    area=e.area,
                    activity=e.activity,
                    status="reversal",
                    reversal_of=e.reversal_of,
                ),
            )
        return cls(
            e.grant_id,
            RecordedLine(
                transaction_id=e.transaction_id,
                source=e.source,
                line_id=e.line_id,
                booked_on=e.booked_on,
                amount=e.amount,
                cost_object=e.cost_object,
                area=e.area,
                activity=e.activity,
                status="recorded",
            ),
        )


def load_line(conn: Connection, t: ProjectionTables, transaction_id: str) -> LineRecord | None:
    r = conn.execute(
        sa.select(t.spend_lines).where(t.spend_lines.c.transaction_id == transaction_id)
    ).first()
    if r is None:
        return None
    return LineRecord(
        r.grant_id,
        RecordedLine(
            transaction_id=r.transaction_id,
            source=r.source or "",
            line_id=r.line_id or "",
            booked_on=r.booked_on,
            amount=r.amount,
            cost_object=r.cost_object,
            area=r.area,
            activity=r.activity,
            status=r.status,
            reversal_of=r.reversal_of,
        ),
    )


@dataclass(frozen=True, slots=True)
class KnownLine:
    transaction_id: str
    grant_id: str
    content_hash: str


def find_lines(
    conn: Connection, t: ProjectionTables, source: str, line_ids: Iterable[str]
) -> dict[str, KnownLine]:
    """Lines already recorded under these natural keys, by line_id."""
    ids = sorted(set(line_ids))
    found: dict[str, KnownLine] = {}
    lines = t.spend_lines
    columns = (lines.c.line_id, lines.c.transaction_id, lines.c.grant_id, lines.c.content_hash)
    if conn.dialect.name == "postgresql":
        # One array parameter: an IN of 500 parameters costs more to compile than to run.  (A
        # JSON parameter is cheaper to send but makes the planner scan the table.)
        for line_id, transaction_id, grant_id, content_hash in driver_rows(
            conn,
            "SELECT line_id, transaction_id, grant_id, content_hash FROM "
            f"{lines.name} WHERE source = %s AND line_id = ANY(%s)",
            [source, ids],
        ):
            found[line_id] = KnownLine(transaction_id, grant_id, content_hash or "")
        return found
    # SQLite caps bound parameters per statement
    chunks = [
        sa.select(*columns).where(
            lines.c.source == source, lines.c.line_id.in_(ids[start : start + 900])
        )
        for start in range(0, len(ids), 900)
    ]
    for query in chunks:
        for r in conn.execute(query):
            found[r.line_id] = KnownLine(
                transaction_id=r.transaction_id,
                grant_id=r.grant_id,
                content_hash=r.content_hash or "",
            )
    return found
