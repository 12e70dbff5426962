"""Auditors' replay: rebuild every projection from position 0 and diff it with the live one.

The rebuild goes into scratch tables (``replay_*``, made and dropped here) page by page, so
memory stays flat however long the log.  The last stretch and the diff run under the append lock,
so a busy ledger is compared at one consistent position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.db import write_transaction
from ledger.domain.events import decode
from ledger.projections.projector import Applied, apply
from ledger.projections.tables import LIVE, ProjectionTables
from ledger.store import EventStore

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
    scratch = ProjectionTables.define(sa.MetaData(), prefix="replay_")
    with engine.begin() as conn:
        for table in reversed(scratch.all()):
            table.drop(conn, checkfirst=True)
        for table in scratch.all():
            table.create(conn)
    try:
        position, count = 0, 0
        while True:  # the bulk, without blocking writers
            with engine.begin() as conn:
                done = _replay_page(conn, store, scratch, position)
            if not done:
                break
            position, count = done[0], count + done[1]
            if progress is not None:
                progress(count)
        with write_transaction(engine) as conn:
            store.lock(conn)  # the rest and the diff at one consistent position
            while done := _replay_page(conn, store, scratch, position):
                position, count = done[0], count + done[1]
            if progress is not None:
                progress(count)
            diffs = tuple(
                d
                for d in (_diff(conn, a, b) for a, b in zip(live.all(), scratch.all(), strict=True))
                if d is not None
            )
        return ReplayReport(count, position, diffs)
    finally:
        with engine.begin() as conn:
            for table in reversed(scratch.all()):
                table.drop(conn, checkfirst=True)


def _replay_page(
    conn: Connection, store: EventStore, scratch: ProjectionTables, after: int
) -> tuple[int, int] | None:
    page = store.read_page(conn, after=after, limit=PAGE)
    if not page:
        return None
    apply(
        conn,
        scratch,
        [Applied(s, decode(s.event_type, s.schema_version, s.data)) for s in page],
    )
    return page[-1].position, len(page)


def _diff(conn: Connection, live: sa.Table, replayed: sa.Table) -> TableDiff | None:
    cols = [c.name for c in live.columns]

    def select(t: sa.Table) -> sa.Select[tuple[object, ...]]:
        return sa.select(*(t.c[c] for c in cols))

    only_live = select(live).except_(select(replayed)).subquery()
    only_replayed = select(replayed).except_(select(live)).subquery()
    n_live = conn.execute(sa.select(sa.func.count()).select_from(only_live)).scalar_one()
    n_replayed = conn.execute(sa.select(sa.func.count()).select_from(only_replayed)).scalar_one()
    if not n_live and not n_replayed:
        return None
    examples = [
        f"live only: {dict(r._mapping)}" for r in conn.execute(sa.select(only_live).limit(3))
    ] + [
        f"replay only: {dict(r._mapping)}" for r in conn.execute(sa.select(only_replayed).limit(3))
    ]
    return TableDiff(live.name, n_live, n_replayed, tuple(examples))
