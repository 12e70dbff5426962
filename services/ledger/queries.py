"""The read side: grants, balances (today, as of a date, as known at a time), lines, events.

Today's balances read the live balance table (O(accounts)); ``as_of`` and ``known_at`` sum the
postings projection up to a booking date and/or a recording time.  Both feed the same pure
``figures`` function, so the two can never disagree on what a figure means.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.db import read_transaction, translate_errors
from ledger.domain import events as ev
from ledger.domain.balances import AreaFigures, GrantFigures, figures
from ledger.domain.errors import (
    UnknownActivity,
    UnknownArea,
    UnknownEventType,
    UnknownGrant,
    UnknownTransaction,
    UnreadableEvent,
)
from ledger.domain.state import GrantState
from ledger.errors import CorruptStoredEvent, NotFound
from ledger.grant_model import PLANNING_EVENTS, DecisionEntry, GrantModel, stored_decision
from ledger.periods import Month, Span, calendar
from ledger.projections import loader
from ledger.projections.tables import LIVE, ProjectionTables
from ledger.store import EventStore, StoredEvent
from ledger.unit_of_work import grant_stream

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Balances:
    grant_id: str
    name: str
    version: int
    as_of: date | None
    known_at: datetime | None
    cost_object: str | None
    figures: GrantFigures


@dataclass(frozen=True, slots=True)
class LineView:
    transaction_id: str
    grant_id: str
    source: str | None
    line_id: str | None
    voucher: str | None
    booked_on: date
    amount: int
    cost_object: str
    area: str | None
    activity: str | None
    account: str | None
    kind: str
    text: str | None
    status: str
    reversal_of: str | None
    reversed_by: str | None
    position: int


@dataclass
class LedgerQueries:
    engine: Engine
    store: EventStore
    tables: ProjectionTables = LIVE
    # The last state read of each grant, for today's balances: reused while the grant's stream
    # version is unchanged (every event that moves its money bumps it), so a read is one probe.
    _states: dict[str, GrantState] = field(default_factory=dict, repr=False)
    # That probe, built once: a statement made per read cost a fifth of a cached read's time in
    # SQLAlchemy (building the clause and its cache key), measured with py-spy.
    _version_of: sa.Select[Any] = field(init=False, repr=False)
    # ... sent alone, as one statement (PostgreSQL: no BEGIN and COMMIT round trips).
    _probe_engine: Engine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        grants = self.tables.grants
        self._version_of = sa.select(grants.c.version).where(
            grants.c.grant_id == sa.bindparam("grant_id")
        )
        postgres = self.engine.dialect.name == "postgresql"
        self._probe_engine = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else self.engine
        )

    # --- grants ----------------------------------------------------------------------------

    def grant_ids(self, conn: Connection, cost_object: str | None = None) -> list[str]:
        if cost_object is not None:
            routes = self.tables.cost_object_routes
            q = sa.select(routes.c.grant_id).where(routes.c.cost_object == cost_object)
        else:
            q = sa.select(self.tables.grants.c.grant_id)
        return sorted(set(conn.execute(q).scalars()))

    def _state(self, conn: Connection, grant_id: str) -> GrantState:
        state = loader.load_grant(conn, self.tables, grant_id)
        if state is None:
            raise UnknownGrant(grant_id)
        return state

    def grant_state(self, grant_id: str) -> GrantState:
        with read_transaction(self.engine) as conn:
            return self._state(conn, grant_id)

    def grant(
        self,
        grant_id: str,
        *,
        as_of: date | None = None,
        decisions: bool = False,
        now: datetime | None = None,
    ) -> GrantModel:
        """The read model of one grant, today or as of a booking date, in one snapshot.

        ``decisions``: also the list of the grant's planning decisions (what a report shows).
        """
        with read_transaction(self.engine) as conn:
            return self._grant_model(conn, grant_id, as_of=as_of, decisions=decisions, now=now)

    def grants(self) -> list[GrantModel]:
        """Every grant today, all read in one snapshot."""
        with read_transaction(self.engine) as conn:
            return [self._grant_model(conn, g) for g in self.grant_ids(conn)]

    def _grant_model(
        self,
        conn: Connection,
        grant_id: str,
        *,
        as_of: date | None = None,
        decisions: bool = False,
        now: datetime | None = None,
    ) -> GrantModel:
        state = self._state(conn, grant_id)
        balances: Mapping[str, int] = state.balances
        if as_of is not None:
            balances = self._balances_at(conn, grant_id, as_of, None)
        acts = self.tables.activities
        allocated_on = conn.execute(
            sa.select(acts.c.code, acts.c.decision).where(acts.c.grant_id == grant_id)
        )
        return GrantModel.of(
            state,
            figures(balances, state.areas, state.activities),
            activity_decisions={code: stored_decision(d) for code, d in allocated_on if d},
            decisions=self._decisions(conn, grant_id) if decisions else (),
            as_of=as_of,
            read_at=now or datetime.now(UTC),
        )

    def _decisions(self, conn: Connection, grant_id: str) -> list[DecisionEntry]:
        """The grant's planning decisions, in the order they were recorded."""
        found: list[DecisionEntry] = []
        after = 0
        while True:
            page = self.store.read_page(
                conn,
                after=after,
                limit=1000,
                stream_id=grant_stream(grant_id),
                event_types=PLANNING_EVENTS,
            )
            for stored in page:
                entry = DecisionEntry.of(_decode(stored))
                if entry is not None:
                    found.append(entry)
            if len(page) < 1000:
                return found
            after = page[-1].position

    def has_grant(self, grant_id: str) -> bool:
        with read_transaction(self.engine) as conn:
            return grant_id in self.grant_ids(conn)

    def stream_version(self, grant_id: str) -> int:
        with read_transaction(self.engine) as conn:
            v = conn.execute(
                sa.select(self.tables.grants.c.version).where(
                    self.tables.grants.c.grant_id == grant_id
                )
            ).scalar()
        if v is None:
            raise UnknownGrant(grant_id)
        return int(v)

    # --- periods ---------------------------------------------------------------------------

    def periods(self, grant_id: str | None = None) -> tuple[Month, ...]:
        """The months of every grant's spend period (or one grant's), open or closed."""
        g = self.tables.grants
        q = sa.select(g.c.spend_from, g.c.spend_to, g.c.closed_years)
        if grant_id is not None:
            q = q.where(g.c.grant_id == grant_id)
        with read_transaction(self.engine) as conn:
            spans = [
                Span(spend_from=r.spend_from, spend_to=r.spend_to, closed_years=frozenset(r[2]))
                for r in conn.execute(q)
            ]
            closed = loader.load_periods(conn, self.tables).closed
        if grant_id is not None and not spans:
            raise UnknownGrant(grant_id)
        return calendar(spans, closed, per_grant=grant_id is not None)

    # --- balances --------------------------------------------------------------------------

    def balances(
        self,
        *,
        grant_id: str | None = None,
        cost_object: str | None = None,
        area: str | None = None,
        activity: str | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[Balances]:
        if grant_id is not None and as_of is None and known_at is None:
            state = self._current(grant_id)
            return [self._answer(state, state.balances, None, None, cost_object, area, activity)]
        with read_transaction(self.engine) as conn:
            ids = [grant_id] if grant_id is not None else self.grant_ids(conn, cost_object)
            states = [self._state(conn, gid) for gid in ids]
            if grant_id is None and (area is not None or activity is not None):
                # Across grants (a cost object's, or all), a filter keeps the grants that have
                # the area or activity: one grant lacking it is no reason to refuse the others.
                having = [s for s in states if _has(s, area, activity)]
                states = having or states[:1]  # none has it: the first one says why (404)
            answers = []
            for state in states:  # an area or activity it lacks is a 404 in _answer
                balances: Mapping[str, int] = state.balances
                if as_of is not None or known_at is not None:
                    balances = self._balances_at(conn, state.grant_id, as_of, known_at)
                answers.append(
                    self._answer(state, balances, as_of, known_at, cost_object, area, activity)
                )
        return answers

    def _current(self, grant_id: str) -> GrantState:
        """The grant's state now: one indexed probe of its version while nothing changed it."""
        cached = self._states.get(grant_id)
        if cached is not None:
            with translate_errors(), self._probe_engine.connect() as conn:
                version = conn.execute(self._version_of, {"grant_id": grant_id}).scalar()
            if version == cached.version:
                return cached
        with read_transaction(self.engine) as conn:
            state = self._state(conn, grant_id)
        if len(self._states) >= _CACHED_GRANTS:
            self._states.clear()
        self._states[grant_id] = state
        return state

    @staticmethod
    def _answer(
        state: GrantState,
        balances: Mapping[str, int],
        as_of: date | None,
        known_at: datetime | None,
        cost_object: str | None,
        area: str | None,
        activity: str | None,
    ) -> Balances:
        if area is not None and area not in state.areas:
            raise UnknownArea(grant_id=state.grant_id, area=area)
        if activity is not None and activity not in state.activities:
            raise UnknownActivity(grant_id=state.grant_id, activity=activity)
        full = figures(balances, state.areas, state.activities)
        return Balances(
            state.grant_id,
            state.name,
            state.version,
            as_of,
            known_at,
            cost_object,
            _narrow(full, cost_object, area, activity),
        )

    def _balances_at(
        self, conn: Connection, grant_id: str, as_of: date | None, known_at: datetime | None
    ) -> dict[str, int]:
        if known_at is None and as_of is not None:
            d = self.tables.daily_transfers
            until = (d.c.grant_id == grant_id, d.c.day <= as_of)
            day_legs = sa.union_all(
                sa.select(d.c.target.label("account"), d.c.amount.label("amount")).where(*until),
                sa.select(d.c.source.label("account"), (-d.c.amount).label("amount")).where(*until),
            ).subquery()
            rows = conn.execute(
                sa.select(day_legs.c.account, sa.func.sum(day_legs.c.amount)).group_by(
                    day_legs.c.account
                )
            )
            return {account: int(total) for account, total in rows if total}
        p = self.tables.every_posting()
        where = [p.c.grant_id == grant_id]
        if as_of is not None:
            where.append(p.c.effective_date <= as_of)
        if known_at is not None:
            # One instant whatever the caller's offset; SQLite compares the UTC text we store.
            utc = (
                known_at.replace(tzinfo=UTC) if known_at.tzinfo is None else known_at
            ).astimezone(UTC)
            if conn.dialect.name == "sqlite":
                utc = utc.replace(tzinfo=None)
            where.append(p.c.recorded_at <= utc)
        credited = sa.select(p.c.target.label("account"), p.c.amount.label("amount")).where(*where)
        debited = sa.select(p.c.source.label("account"), (-p.c.amount).label("amount")).where(
            *where
        )
        legs = sa.union_all(credited, debited).subquery()
        rows = conn.execute(
            sa.select(legs.c.account, sa.func.sum(legs.c.amount)).group_by(legs.c.account)
        )
        return {account: int(total) for account, total in rows if total}

    def cost_object(
        self, code: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> tuple[list[Balances], GrantFigures]:
        """Every grant area booked on a cost object, and the figures summed over them."""
        found = self.balances(cost_object=code, as_of=as_of, known_at=known_at)
        if not found:
            raise UnknownCostObject(code)
        totals = [b.figures for b in found]
        summed = {f: sum(getattr(t, f) for t in totals) for f in _TOTALS}
        return found, replace(totals[0], areas=(), received=None, overreceived=None, **summed)

    # --- lines and events ------------------------------------------------------------------

    def line(self, transaction_id: str) -> LineView:
        with read_transaction(self.engine) as conn:
            r = (
                conn.execute(
                    sa.select(self.tables.spend_lines).where(
                        self.tables.spend_lines.c.transaction_id == transaction_id
                    )
                )
                .mappings()
                .first()
            )
        if r is None:
            raise UnknownTransaction(transaction_id)
        return LineView(**{k: r[k] for k in LineView.__dataclass_fields__})

    def lines_on(
        self, cost_object: str, *, offset: int = 0, limit: int = 50, unclassified: bool = False
    ) -> tuple[list[LineView], int]:
        """A page of the lines booked on a cost object, newest first, and how many there are."""
        t = self.tables.spend_lines
        where = [t.c.cost_object == cost_object]
        if unclassified:  # spend still waiting for an activity, not reversed
            where += [t.c.activity.is_(None), t.c.status == "recorded"]
        with read_transaction(self.engine) as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar()
            rows = conn.execute(
                sa.select(t)
                .where(*where)
                .order_by(t.c.booked_on.desc(), t.c.position.desc())
                .offset(offset)
                .limit(limit)
            ).mappings()
            found = [LineView(**{k: r[k] for k in LineView.__dataclass_fields__}) for r in rows]
        return found, int(total or 0)

    def events(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        stream_id: str | None = None,
        event_types: tuple[str, ...] = (),
    ) -> list[StoredEvent]:
        with read_transaction(self.engine) as conn:
            return self.store.read_page(
                conn, after=after, limit=limit, stream_id=stream_id, event_types=event_types
            )


# A region keeps a handful of grants; the cache starts over beyond this many.
_CACHED_GRANTS = 256

_TOTALS = (
    "awarded",
    "allocated",
    "unallocated",
    "spent",
    "remaining",
    "unclassified_spent",
    "repaid",
)


def _decode(stored: StoredEvent) -> ev.Event:
    """A stored event as the domain reads it; one that cannot be read is the server's fault."""
    try:
        return ev.decode(stored.event_type, stored.schema_version, stored.data)
    except (UnknownEventType, UnreadableEvent) as e:
        log.error("stored event at position %d cannot be read: %s", stored.position, e.detail)
        raise CorruptStoredEvent(position=stored.position, reason=e.detail) from e


class UnknownCostObject(NotFound):
    code = "unknown-cost-object"
    title = "Unknown cost object"

    def __init__(self, cost_object: str) -> None:
        super().__init__(
            f"no grant books spend on cost object {cost_object!r}", cost_object=cost_object
        )


def _has(state: GrantState, area: str | None, activity: str | None) -> bool:
    return (area is None or area in state.areas) and (
        activity is None or activity in state.activities
    )


def _narrow(
    f: GrantFigures, cost_object: str | None, area: str | None, activity: str | None
) -> GrantFigures:
    """The same figures for part of a grant: totals are re-summed over what is shown."""
    if cost_object is None and area is None and activity is None:
        return f
    areas: list[AreaFigures] = []
    for a in f.areas:
        if cost_object is not None and a.cost_object != cost_object:
            continue
        if area is not None and a.code != area:
            continue
        if activity is not None:
            acts = tuple(x for x in a.activities if x.code == activity)
            if not acts:
                continue
            a = replace(a, activities=acts)
        areas.append(a)
    # Spend on a shared cost object that no area has yet still belongs to that cost object.
    unplaced = {
        co: amount
        for co, amount in f.unplaced.items()
        if area is None and activity is None and cost_object in (None, co)
    }
    awarded = sum(a.awarded for a in areas)
    spent = sum(a.spent for a in areas) + sum(unplaced.values())
    repaid = sum(a.repaid for a in areas)
    return replace(
        f,
        awarded=awarded,
        allocated=sum(a.allocated for a in areas),
        unallocated=sum(a.unallocated for a in areas),
        spent=spent,
        remaining=awarded - spent - repaid,
        unclassified_spent=sum(a.unclassified_spent for a in areas) + sum(unplaced.values()),
        repaid=repaid,
        areas=tuple(areas),
        unplaced=unplaced,
        # Cash is the grant's, not a cost object's or an area's (9942 showed the whole grant's
        # 64 410 035.00 received beside its own award).
        received=None,
        overreceived=None,
    )
