"""Auditors' replay: rebuild every projection from position 0 and diff it with the live one.

Spend lines, nearly every event of a ledger, are rebuilt set-based (``replay_spend``): their
rows, postings and balance sums are computed by SQL straight from the events table, with the
postings taken from ``accounts.transfers`` itself (one call per distinct placement, not per
line).  Every other event goes through the projector's ``apply``, as on the write path.  Two
implementations of the spend projection meeting in the diff make replay a stronger check, not a
weaker one: a difference in either shows.

The rebuild goes into temporary tables of this connection (``replay_*``), so two replays never
see, or drop, each other's; they vanish with the session if the process dies.  The bulk runs
without blocking writers; the last stretch and the diff run under the append lock, so a busy
ledger is compared at one consistent position.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.db import translate_errors
from ledger.domain.events import decode
from ledger.projections.projector import apply
from ledger.projections.tables import LIVE, ProjectionTables
from ledger.replay_spend import SPEND, rebuild_spend, spend_versions
from ledger.store import EventStore, StoredEvent
from ledger.store.eventstore import EVENT_COLUMNS
from ledger.store.schema import events

PAGE = 5000


@dataclass(frozen=True, slots=True)
class TableDiff:
    table: str
    only_live: int
    only_replayed: int
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReplayReport:
    events: int
    position: int
    differences: tuple[TableDiff, ...] = field(default=())

    @property
    def identical(self) -> bool:
        return not self.differences


def replay(
    engine: Engine,
    *,
    store: EventStore | None = None,
    live: ProjectionTables = LIVE,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    store = store or EventStore()
    scratch = _scratch(live)
    with translate_errors(), engine.connect() as conn:
        with conn.begin():
            for table in scratch.all():
                table.create(conn)
        try:
            with conn.begin():  # the bulk, without blocking writers
                position = store.head_position(conn)
                count = _rebuild(conn, scratch, 0, position, lambda: _add_keys(conn, live, scratch))
            if progress is not None:
                progress(count)
            conn.execution_options(grantledger_write=True)  # SQLite: BEGIN IMMEDIATE
            with conn.begin():
                store.lock(conn)  # the rest and the diff at one consistent position
                head = store.head_position(conn)
                count += _rebuild(conn, scratch, position, head)
                diffs = tuple(
                    d
                    for d in (
                        _diff(conn, a, b) for a, b in zip(live.all(), scratch.all(), strict=True)
                    )
                    if d is not None
                )
            if progress is not None:
                progress(count)
            return ReplayReport(count, head, diffs)
        finally:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                for table in reversed(scratch.all()):
                    table.drop(conn, checkfirst=True)


def _scratch(live: ProjectionTables) -> ProjectionTables:
    """The live tables' columns in temporary tables of this connection, under ``replay_`` names.

    Temporary: private to the connection, so concurrent replays cannot collide.  Made without
    keys or indexes: the bulk goes in first and ``_add_keys`` indexes what needs it afterwards
    (one sort instead of an index insertion per row).
    """
    md = sa.MetaData()
    made: dict[str, sa.Table] = {}
    for f in dataclasses.fields(ProjectionTables):
        table: sa.Table = getattr(live, f.name)
        made[f.name] = sa.Table(
            f"replay_{table.name}",
            md,
            *(sa.Column(c.name, c.type, nullable=c.nullable) for c in table.columns),
            prefixes=["TEMPORARY"],
        )
    return ProjectionTables(**made)


def _add_keys(conn: Connection, live: ProjectionTables, scratch: ProjectionTables) -> None:
    """The live primary keys, as unique indexes: what upserts and updates by key need.

    Postings, the largest table, and the secondary indexes are left out: nothing looks rows
    up by them here, and the diff counts rows, so a row made twice still shows.
    """
    for f in dataclasses.fields(ProjectionTables):
        table: sa.Table = getattr(live, f.name)
        if table is live.postings:
            continue
        copy: sa.Table = getattr(scratch, f.name)
        sa.Index(
            f"{copy.name}_key", *(copy.c[c.name] for c in table.primary_key), unique=True
        ).create(conn)


# Room for the sums' sorts and hashes in memory (the default 4 MB spills them to disk): a
# replay is an auditor's occasional command, not one of many concurrent requests.
_WORK_MEM = "SET LOCAL work_mem = '128MB'"


def _rebuild(
    conn: Connection,
    scratch: ProjectionTables,
    after: int,
    until: int,
    then_index: Callable[[], None] | None = None,
) -> int:
    """Project positions after..until into the scratch tables; the number of events.

    ``then_index`` (the first range only) runs after the set-based bulk, before ``apply``.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_WORK_MEM)
    # Spend lines first: a later reversal or classification updates their rows.
    count = rebuild_spend(conn, scratch, after, until, empty=then_index is not None)
    if then_index is not None:
        then_index()
    done = after
    while page := _other_events(conn, done, until):
        apply(conn, scratch, page, [decode(s.event_type, s.schema_version, s.data) for s in page])
        count += len(page)
        done = page[-1].position
    # ``apply`` keeps each grant's version as of its own events; spend lines move it on too.
    grants = scratch.grants
    for grant_id, version in spend_versions(conn, after, until).items():
        conn.execute(
            grants.update()
            .where(grants.c.grant_id == grant_id, grants.c.version < version)
            .values(version=version)
        )
    return count


def _other_events(conn: Connection, after: int, until: int) -> list[StoredEvent]:
    """The next page of events the set-based step did not project, in position order."""
    rows = conn.execute(
        sa.select(*EVENT_COLUMNS)
        .where(events.c.position > after, events.c.position <= until, sa.not_(SPEND))
        .order_by(events.c.position)
        .limit(PAGE)
    )
    return [_stored(r) for r in rows]


def _stored(row: Any) -> StoredEvent:
    recorded: datetime = row.recorded_at
    recorded = recorded.replace(tzinfo=UTC) if recorded.tzinfo is None else recorded
    return StoredEvent(**{**row._mapping, "recorded_at": recorded.astimezone(UTC)})


def _diff(conn: Connection, live: sa.Table, replayed: sa.Table) -> TableDiff | None:
    """Rows only in one of the tables; a row the replay made twice counts as a difference too."""
    if conn.dialect.name == "postgresql" and _same(conn, live, replayed):
        return None
    cols = [c.name for c in live.columns]

    def select(t: sa.Table) -> sa.Select[tuple[object, ...]]:
        return sa.select(*(t.c[c] for c in cols))

    def count(q: sa.FromClause) -> sa.ScalarSelect[int]:
        return sa.select(sa.func.count()).select_from(q).scalar_subquery()

    only_live = select(live).except_(select(replayed)).subquery()
    only_replayed = select(replayed).except_(select(live)).subquery()
    n_live, n_replayed, rows_live, rows_replayed = conn.execute(
        sa.select(count(only_live), count(only_replayed), count(live), count(replayed))
    ).one()
    if not n_live and not n_replayed:
        if rows_live == rows_replayed:
            return None
        return TableDiff(
            live.name,
            max(0, rows_live - rows_replayed),
            max(0, rows_replayed - rows_live),
            (f"the same rows, but {rows_live} live and {rows_replayed} replayed",),
        )
    examples = [
        f"live only: {dict(r._mapping)}" for r in conn.execute(sa.select(only_live).limit(3))
    ] + [
        f"replay only: {dict(r._mapping)}" for r in conn.execute(sa.select(only_replayed).limit(3))
    ]
    return TableDiff(live.name, n_live, n_replayed, tuple(examples))


def _same(conn: Connection, live: sa.Table, replayed: sa.Table) -> bool:
    """Whether the tables hold the same rows, in one pass: joined on the live primary key, no
    row unmatched or different, and as many rows on each side (a key the replay made twice).

    The common answer, found by one hash join instead of two ``EXCEPT``s; ``_diff`` counts and
    shows the differences only when there are some.
    """
    a, b = live.alias("l"), replayed.alias("r")
    keys = [c.name for c in live.primary_key]
    cols = [c.name for c in live.columns]
    differs = sa.or_(
        a.c[keys[0]].is_(None),
        b.c[keys[0]].is_(None),
        sa.tuple_(*(a.c[c] for c in cols)).is_distinct_from(sa.tuple_(*(b.c[c] for c in cols))),
    )
    joined = a.join(b, sa.and_(*(a.c[k] == b.c[k] for k in keys)), full=True)
    unmatched = sa.select(sa.func.count()).select_from(joined).where(differs).scalar_subquery()
    counts = [sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in (live, replayed)]
    n_unmatched, n_live, n_replayed = conn.execute(sa.select(unmatched, *counts)).one()
    return bool(n_unmatched == 0 and n_live == n_replayed)
