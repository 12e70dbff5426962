"""Inline projections: the tables an event changes, written in the same transaction as it.

``apply`` is the only code that writes projection tables; the write path calls it with the
events it has just appended, and ``replay`` calls it with every event from position 0 into
fresh tables.  It never swallows an error: a projection that cannot be written fails the write.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from ledger.db import bulk_insert, pipelined
from ledger.domain import events as ev
from ledger.domain.accounts import Transfer, transfers
from ledger.projections.tables import ProjectionTables
from ledger.store import StoredEvent


class LineContent(Protocol):
    """What a finance system sent for a line: the same fields on a command and on its event."""

    @property
    def line_id(self) -> str: ...
    @property
    def voucher(self) -> str | None: ...
    @property
    def booked_on(self) -> date: ...
    @property
    def amount(self) -> int: ...
    @property
    def cost_object(self) -> str: ...
    @property
    def activity(self) -> str | None: ...
    @property
    def account(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str | None: ...


def line_digest(source: str, line: LineContent) -> str:
    """Fingerprint of a line's content: the same (source, line_id) with another one is a 409."""
    content = [
        source,
        line.line_id,
        line.voucher,
        line.booked_on.isoformat(),
        line.amount,
        line.cost_object,
        line.activity,
        line.account,
        line.kind,
        line.text,
    ]
    return hashlib.sha256(orjson.dumps(content)).hexdigest()


def apply(
    conn: Connection,
    tables: ProjectionTables,
    stored: Sequence[StoredEvent],
    events: Sequence[ev.Event],
) -> None:
    """Project appended events (``stored``, each with its decoded domain form in ``events``)."""
    Projection.of(tables, stored, events, conn.dialect.name).write(conn)


@dataclass(slots=True)
class Plan:
    """What a group of decided events will write to the projection tables, as far as it is
    known before they are appended: each spend line's row but for its position and instant,
    and the balance and day sums of the lines (money moves the same wherever it lands).

    ``Projection.of`` is ``Plan.of(...).placed(stored)``.  A group decided before the append
    lock is planned there too (``UnitOfWork.plan``), so that the lock waits only for what
    positions decide: the rows' positions and instants, the other events, the versions.
    """

    tables: ProjectionTables
    events: Sequence[ev.Event]
    dialect: str
    # Per event, in order: a spend line's row up to its position (``LINE_COLUMNS``), or None
    # for any other event, applied on its own once it has a position.
    rows: list[tuple[Any, ...] | None]
    sums: _Sums  # the lines' sums (no postings, no versions: those need positions)
    # The sums' PostgreSQL statements, if nothing but lines adds to them.
    statements: list[tuple[str, list[Any]]] | None

    @classmethod
    def of(cls, tables: ProjectionTables, events: Sequence[ev.Event], dialect: str) -> Plan:
        sums = _Sums()
        rows: list[tuple[Any, ...] | None] = []
        for event in events:
            if not isinstance(event, ev.SpendRecorded):
                rows.append(None)
                continue
            moved = transfers(event)
            if len(moved) != 1:
                raise ProjectionError(
                    f"a SpendRecorded ({event.transaction_id}) makes {len(moved)} transfers: "
                    "a spend line's row holds exactly one"
                )
            sums.move(event.grant_id, event.effective_date, moved)
            rows.append(_line_row(event, moved[0]))
        only_lines = all(r is not None for r in rows)
        statements = (
            _sum_statements(tables, sums) if dialect == "postgresql" and only_lines else None
        )
        return cls(tables, events, dialect, rows, sums, statements)

    def placed(self, stored: Sequence[StoredEvent]) -> Projection:
        """The projection of the planned events as ``stored`` (in the same order)."""
        events = self.events
        if len(stored) != len(events):
            raise ProjectionError(f"{len(stored)} stored events for {len(events)} decoded ones")
        others = any(row is None for row in self.rows)
        # Other events add to the sums (and postings): the plan's own stay as planned.
        sums = self.sums.copy() if others else replace(self.sums, versions={})
        steps: list[list[tuple[Any, ...]] | tuple[StoredEvent, ev.Event]] = []
        run: list[tuple[Any, ...]] = []
        for s, event, row in zip(stored, events, self.rows, strict=True):
            grant_id = getattr(event, "grant_id", None)
            if grant_id is not None:
                sums.versions[grant_id] = s.stream_version
            if row is not None:  # a run of spend lines goes in one COPY ...
                run.append((*row, s.position, s.recorded_at))
                continue
            if run:  # ... and any other event is applied on its own, after the lines before it
                steps.append(run)
                run = []
            sums.add(s, event)
            steps.append((s, event))
        if run:
            steps.append(run)
        statements = None
        if self.dialect == "postgresql":
            upserts = _sum_statements(self.tables, sums) if others else self.statements
            assert upserts is not None
            statements = [*upserts, *_version_statements(self.tables, sums)]
        return Projection(self.tables, steps, sums, statements)


@dataclass(slots=True)
class Projection:
    """What a group of appended events writes to the projection tables, worked out in full
    before the first row is written.

    The write path makes it while the server is still inserting the events' own COPY
    (``EventStore.append_many``'s ``meanwhile``), from a ``Plan`` made before the lock if the
    group was decided there: afterwards the lock only waits for the rows to be shipped.
    """

    tables: ProjectionTables
    # In order: a run of spend lines' rows (one COPY), or an event applied on its own.
    steps: list[list[tuple[Any, ...]] | tuple[StoredEvent, ev.Event]]
    sums: _Sums
    # On PostgreSQL, the sums' statements, made here too (``_sum_statements``).
    statements: list[tuple[str, list[Any]]] | None

    @classmethod
    def of(
        cls,
        tables: ProjectionTables,
        stored: Sequence[StoredEvent],
        events: Sequence[ev.Event],
        dialect: str,
    ) -> Projection:
        return Plan.of(tables, events, dialect).placed(stored)

    def write(self, conn: Connection) -> None:
        t = self.tables
        for step in self.steps:
            if isinstance(step, list):
                bulk_insert(conn, t.spend_lines, LINE_COLUMNS, step)
            else:
                _apply_one(conn, t, *step)
        bulk_insert(conn, t.postings, POSTING_COLUMNS, self.sums.postings)
        _write_sums(conn, t, self.sums, self.statements)


def _write_sums(
    conn: Connection,
    t: ProjectionTables,
    sums: _Sums,
    statements: list[tuple[str, list[Any]]] | None,
) -> None:
    """The balance and day sums and each grant's version.  On PostgreSQL the statements go in
    one pipeline: one round trip for all of them, which the append lock waits on."""
    if statements is None:
        _upsert_add(conn, t.account_balances, _BALANCE_KEYS, "balance", sums.balances)
        _upsert_add(conn, t.daily_transfers, _DAY_KEYS, "amount", sums.daily)
        for grant_id, version in sums.versions.items():
            conn.execute(
                t.grants.update().where(t.grants.c.grant_id == grant_id).values(version=version)
            )
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    with nullcontext() if pipelined(conn) else raw.pipeline(), raw.cursor() as cursor:
        for statement in statements:
            cursor.execute(*statement)


def _sum_statements(t: ProjectionTables, sums: _Sums) -> list[tuple[str, list[Any]]]:
    """The PostgreSQL upserts of ``_write_sums`` (the versions: ``_version_statements``)."""
    statements = [
        _upsert_add_postgres(t.account_balances, _BALANCE_KEYS, "balance", sums.balances),
        _upsert_add_postgres(t.daily_transfers, _DAY_KEYS, "amount", sums.daily),
    ]
    return [s for s in statements if s is not None]


def _version_statements(t: ProjectionTables, sums: _Sums) -> list[tuple[str, list[Any]]]:
    return [
        (f"UPDATE {t.grants.name} SET version = %s WHERE grant_id = %s", [version, grant])
        for grant, version in sums.versions.items()
    ]


_BALANCE_KEYS = ["grant_id", "account"]
_DAY_KEYS = ["grant_id", "source", "target", "day"]


@dataclass(slots=True)
class _Sums:
    """What a group of events adds up to: postings, balance and day sums, grant versions."""

    balances: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    daily: dict[tuple[str, str, str, date], int] = field(default_factory=lambda: defaultdict(int))
    postings: list[tuple[Any, ...]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def copy(self) -> _Sums:
        return _Sums(
            defaultdict(int, self.balances),
            defaultdict(int, self.daily),
            list(self.postings),
            dict(self.versions),
        )

    def move(self, grant_id: str, day: date, moved: Sequence[Transfer]) -> None:
        """Sum transfers on ``day`` into the balances and the day sums."""
        balances, daily = self.balances, self.daily
        for t in moved:
            source, target, amount = t.source, t.target, t.amount
            balances[(grant_id, source)] -= amount
            balances[(grant_id, target)] += amount
            daily[(grant_id, source, target, day)] += amount

    def add(self, stored: StoredEvent, event: ev.Event) -> None:
        """Sum an event's transfers, and keep each as a ``postings`` row (a spend line's one
        transfer is kept on its own row instead: ``Plan``)."""
        moved = transfers(event)
        if not moved:
            return
        grant_id = getattr(event, "grant_id", None)
        assert grant_id is not None
        day = event.effective_date
        self.move(grant_id, day, moved)
        position, recorded_at = stored.position, stored.recorded_at
        for seq, t in enumerate(moved):
            self.postings.append(
                (position, seq, grant_id, t.source, t.target, t.amount, day, recorded_at)
            )


POSTING_COLUMNS = (
    "position",
    "seq",
    "grant_id",
    "source",
    "target",
    "amount",
    "effective_date",
    "recorded_at",
)
# A spend line's row: ``_line_row`` up to the posted target, then its position and instant.
LINE_COLUMNS = (
    "transaction_id",
    "grant_id",
    "source",
    "line_id",
    "voucher",
    "booked_on",
    "amount",
    "cost_object",
    "area",
    "activity",
    "account",
    "kind",
    "text",
    "status",
    "reversal_of",
    "reversed_by",
    "content_hash",
    "posted_source",
    "posted_target",
    "position",
    "posted_at",
)


def _line_row(e: ev.SpendRecorded, posted: Transfer) -> tuple[Any, ...]:
    return (
        e.transaction_id,
        e.grant_id,
        e.source,
        e.line_id,
        e.voucher,
        e.booked_on,
        e.amount,
        e.cost_object,
        e.area,
        e.activity,
        e.account,
        e.kind,
        e.text,
        "recorded",
        None,  # reversal_of
        None,  # reversed_by
        line_digest(e.source, e),
        posted.source,
        posted.target,
    )


def _decision(d: Any) -> dict[str, str]:
    return {"ref": d.ref, "date": d.date.isoformat(), "body": d.body}


def _apply_one(conn: Connection, t: ProjectionTables, stored: StoredEvent, e: ev.Event) -> None:
    match e:
        case ev.GrantRegistered():
            conn.execute(
                t.grants.insert().values(
                    grant_id=e.grant_id,
                    name=e.name,
                    funder=e.funder,
                    decision=_decision(e.decision),
                    spend_from=e.spend_from,
                    spend_to=e.spend_to,
                    repayment_reference=e.repayment_reference,
                    reporting=[
                        {"kind": r.kind, "due": r.due.isoformat(), "recipient": r.recipient}
                        for r in e.reporting
                    ],
                    closed_years=[],
                    version=stored.stream_version,
                )
            )
            conn.execute(
                t.areas.insert(),
                [
                    {
                        "grant_id": e.grant_id,
                        "code": a.code,
                        "ordinal": i,
                        "name": a.name,
                        "cost_object": a.cost_object,
                        "responsible": a.responsible,
                        "ring_fenced": a.ring_fenced,
                    }
                    for i, a in enumerate(e.areas)
                ],
            )
            conn.execute(
                t.cost_object_routes.insert(),
                [
                    {
                        "cost_object": co,
                        "grant_id": e.grant_id,
                        "spend_from": e.spend_from,
                        "spend_to": e.spend_to,
                    }
                    for co in sorted({a.cost_object for a in e.areas})
                ],
            )
        case ev.ActivityAllocated():
            conn.execute(
                t.activities.insert().values(
                    grant_id=e.grant_id,
                    code=e.code,
                    ordinal=stored.position,
                    area=e.area,
                    name=e.name,
                    responsible=e.responsible,
                    new_activity=e.new_activity,
                    exit_plan=e.exit_plan,
                    decision=_decision(e.decision),
                )
            )
        case ev.SpendReversed():
            lines = t.spend_lines
            _exactly_one(
                conn.execute(
                    lines.update()
                    .where(lines.c.transaction_id == e.reversal_of)
                    .values(status="reversed", reversed_by=e.transaction_id)
                ),
                stored,
            )
            conn.execute(
                lines.insert().values(
                    transaction_id=e.transaction_id,
                    grant_id=e.grant_id,
                    source=None,
                    line_id=None,
                    voucher=None,
                    booked_on=e.booked_on,
                    amount=-e.amount,
                    cost_object=e.cost_object,
                    area=e.area,
                    activity=e.activity,
                    account=None,
                    kind="reversal",
                    text=e.reason,
                    status="reversal",
                    reversal_of=e.reversal_of,
                    reversed_by=None,
                    content_hash=None,
                    position=stored.position,
                    posted_source=None,  # a reversal's postings are rows of their own
                    posted_target=None,
                    posted_at=None,
                )
            )
        case ev.SpendClassified():
            lines = t.spend_lines
            _exactly_one(
                conn.execute(
                    lines.update()
                    .where(lines.c.transaction_id == e.transaction_id)
                    .values(activity=e.activity, area=e.area)
                ),
                stored,
            )
        case ev.YearClosed():
            years = conn.execute(
                sa.select(t.grants.c.closed_years).where(t.grants.c.grant_id == e.grant_id)
            ).scalar_one()
            conn.execute(
                t.grants.update()
                .where(t.grants.c.grant_id == e.grant_id)
                .values(closed_years=sorted({*years, e.year}))
            )
        case ev.PeriodClosed():
            conn.execute(
                t.closed_periods.insert().values(period=e.period, position=stored.position)
            )
        case _:
            pass  # money only: its postings and balances are written by ``apply``


class ProjectionError(RuntimeError):
    """An event the projection cannot apply: a bug or a corrupted log, never to be skipped."""


def _exactly_one(result: sa.CursorResult[Any], stored: StoredEvent) -> None:
    if result.rowcount != 1:
        raise ProjectionError(
            f"event {stored.position} ({stored.event_type}) changed {result.rowcount} "
            "projection rows instead of 1"
        )


def _upsert_add(
    conn: Connection, table: sa.Table, keys: list[str], column: str, sums: dict[Any, int]
) -> None:
    """INSERT … ON CONFLICT DO UPDATE SET column = column + excluded.column (SQLite).

    ``sums`` maps a key (a tuple in ``keys`` order) to what is added to ``column``; rows go in
    key order.  Zero sums too: an account once touched has a row, however events are batched.
    """
    if not sums:
        return
    names = [*keys, column]
    stmt = sqlite.insert(table)
    conn.execute(  # SQLite's executemany loops in C: one prepared statement, many rows
        stmt.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={column: table.c[column] + stmt.excluded[column]},
        ),
        [dict(zip(names, (*key, value), strict=True)) for key, value in sorted(sums.items())],
    )


# How each column of a JSON row array becomes its SQL type (``json_array_elements``).
_PG_CAST = {sa.String: "", sa.Date: "::date", sa.BigInteger: "::bigint"}


def _upsert_add_postgres(
    table: sa.Table, keys: list[str], column: str, sums: dict[Any, int]
) -> tuple[str, list[str]] | None:
    """The same upsert as one statement whatever the row count (None: nothing to add): the
    rows travel as one JSON array of arrays, in key order.

    orjson writes the array in C, and the server reads it in one pass; a parameter per column as
    a PostgreSQL array costs ten times the client CPU (psycopg dumps each element in Python).
    """
    if not sums:
        return None
    columns = [*keys, column]
    casts = [_PG_CAST[next(t for t in _PG_CAST if isinstance(table.c[c].type, t))] for c in columns]
    picked = ", ".join(f"(r->>{i}){cast}" for i, cast in enumerate(casts))
    names = ", ".join(columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) SELECT {picked} FROM json_array_elements(%s) r "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE "
        f"SET {column} = {table.name}.{column} + excluded.{column}"
    )
    rows = [(*key, value) for key, value in sorted(sums.items())]
    return sql, [orjson.dumps(rows).decode()]
