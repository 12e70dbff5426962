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
from dataclasses import dataclass, field
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
    def source(self) -> str: ...
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


def line_digest(line: LineContent) -> str:
    """Fingerprint of a line's content: the same (source, line_id) with another one is a 409."""
    content = [
        line.source,
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
class Projection:
    """What a group of appended events writes to the projection tables, worked out in full
    before the first row is written.

    The write path makes it while the server is still inserting the events' own COPY
    (``EventStore.append_many``'s ``while_inserting``): the line rows, postings and sums are
    built in Python meanwhile, so that afterwards the lock only waits for them to be shipped.
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
        if len(stored) != len(events):
            raise ProjectionError(f"{len(stored)} stored events for {len(events)} decoded ones")
        sums = _Sums()
        steps: list[list[tuple[Any, ...]] | tuple[StoredEvent, ev.Event]] = []
        at = 0
        while at < len(events):
            # A run of spend lines goes in one COPY ...
            end = at
            while end < len(events) and isinstance(events[end], ev.SpendRecorded):
                end += 1
            if end > at:
                steps.append(sums.lines(stored[at:end], events[at:end]))
                at = end
                continue
            # ... and any other event is applied on its own, after the lines before it.
            sums.add(stored[at], events[at])
            steps.append((stored[at], events[at]))
            at += 1
        statements = _sum_statements(tables, sums) if dialect == "postgresql" else None
        return cls(tables, steps, sums, statements)

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
    """The PostgreSQL statements of ``_write_sums``."""
    statements = [
        _upsert_add_postgres(t.account_balances, _BALANCE_KEYS, "balance", sums.balances),
        _upsert_add_postgres(t.daily_transfers, _DAY_KEYS, "amount", sums.daily),
        *(
            (f"UPDATE {t.grants.name} SET version = %s WHERE grant_id = %s", [version, grant])
            for grant, version in sums.versions.items()
        ),
    ]
    return [s for s in statements if s is not None]


_BALANCE_KEYS = ["grant_id", "account"]
_DAY_KEYS = ["grant_id", "source", "target", "day"]


@dataclass(slots=True)
class _Sums:
    """What a group of events adds up to: postings, balance and day sums, grant versions."""

    balances: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    daily: dict[tuple[str, str, str, date], int] = field(default_factory=lambda: defaultdict(int))
    postings: list[tuple[Any, ...]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        stored: StoredEvent,
        event: ev.Event,
        moved: tuple[Transfer, ...] | None = None,
        *,
        posted: bool = True,
    ) -> None:
        """Sum the event's transfers (``moved``, if the caller has them already); ``posted``:
        also as ``postings`` rows (a spend line's one transfer is kept on its own row instead)."""
        grant_id = getattr(event, "grant_id", None)
        if grant_id is not None:
            self.versions[grant_id] = stored.stream_version
        if moved is None:
            moved = transfers(event)
        if not moved:
            return
        assert grant_id is not None
        balances, daily, postings = self.balances, self.daily, self.postings
        position, day, recorded_at = stored.position, event.effective_date, stored.recorded_at
        for seq, t in enumerate(moved):
            source, target, amount = t.source, t.target, t.amount
            balances[(grant_id, source)] -= amount
            balances[(grant_id, target)] += amount
            daily[(grant_id, source, target, day)] += amount
            if posted:
                postings.append((position, seq, grant_id, source, target, amount, day, recorded_at))

    def lines(
        self, stored: Sequence[StoredEvent], events: Sequence[ev.Event]
    ) -> list[tuple[Any, ...]]:
        """The ``spend_lines`` rows of a run of ``SpendRecorded``, summed as they are made."""
        rows = []
        for s, event in zip(stored, events, strict=True):
            assert isinstance(event, ev.SpendRecorded)
            moved = transfers(event)
            if len(moved) != 1:
                raise ProjectionError(
                    f"event {s.position} (SpendRecorded) makes {len(moved)} transfers: "
                    "a spend line's row holds exactly one"
                )
            self.add(s, event, moved, posted=False)
            rows.append(_line_row(event, s, moved[0]))
        return rows


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
# A spend line's row as ``_line_row`` builds it.
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
    "position",
    "posted_source",
    "posted_target",
    "posted_at",
)


def _line_row(e: ev.SpendRecorded, stored: StoredEvent, posted: Transfer) -> tuple[Any, ...]:
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
        line_digest(e),
        stored.position,
        posted.source,
        posted.target,
        stored.recorded_at,
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
