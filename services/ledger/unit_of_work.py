"""A unit of work over one write transaction, under the append lock.

Commands are decided against state held here in memory: each grant's state is loaded from the
projections once, then evolved by the events the transaction records, so a group of commands
(group commit) or a long plan costs a handful of round trips, not a dozen per command.  Events
are only written by ``flush``: one append of every stream, one projection pass, one insert of
the idempotent answers.  A refused command has recorded nothing, so nothing needs undoing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import Connection

from ledger.domain import events as ev
from ledger.domain.commands import CostObjectRoute, RecordedLine
from ledger.domain.decide import routes_of
from ledger.domain.state import GrantState, PeriodsState, evolve_periods, fold
from ledger.errors import ConcurrencyError, IdempotencyKeyReused
from ledger.projections import loader
from ledger.projections.projector import Applied, apply, line_digest
from ledger.projections.tables import ProjectionTables
from ledger.store import EventStore, NewEvent, StoredEvent
from ledger.store import idempotency as idem
from ledger.store.eventstore import StreamAppend

PERIODS_STREAM = "periods"


def grant_stream(grant_id: str) -> str:
    return f"grant-{grant_id}"


@dataclass(frozen=True, slots=True)
class Recorded:
    """Where a command's events sit in the transaction's append; resolved after ``flush``."""

    start: int
    end: int


@dataclass(slots=True)
class _Append:
    stream_id: str
    expected_version: int
    events: Sequence[ev.Event]
    meta: Mapping[str, Any]


class UnitOfWork:
    def __init__(self, conn: Connection, store: EventStore, tables: ProjectionTables) -> None:
        self.conn = conn
        self.store = store
        self.tables = tables
        self._grants: dict[str, GrantState | None] = {}
        self._periods: PeriodsState | None = None
        self._routes: list[CostObjectRoute] | None = None
        self._lines: dict[str, loader.LineRecord] = {}
        # Lines recorded earlier in this transaction, by natural key; their digest is only
        # computed if a later command sends the same key (the projector computes it anyway).
        self._keys: dict[tuple[str, str], ev.SpendRecorded] = {}
        self._appends: list[_Append] = []
        self._count = 0
        self._stored: list[StoredEvent] = []
        self._answers: dict[tuple[str, str], tuple[str, idem.StoredAnswer]] = {}

    # --- state -----------------------------------------------------------------------------

    def periods(self) -> PeriodsState:
        if self._periods is None:
            self._periods = loader.load_periods(self.conn, self.tables)
        return self._periods

    def grant(self, grant_id: str) -> GrantState | None:
        if grant_id not in self._grants:
            self._grants[grant_id] = loader.load_grant(
                self.conn, self.tables, grant_id, self.periods().closed
            )
        state = self._grants[grant_id]
        if state is not None and state.closed_periods != self.periods().closed:
            state = state.with_closed_periods(self.periods().closed)
            self._grants[grant_id] = state
        return state

    def routes(self) -> tuple[CostObjectRoute, ...]:
        if self._routes is None:
            self._routes = list(loader.load_routes(self.conn, self.tables))
        return tuple(self._routes)

    def known_lines(self, source: str, line_ids: Iterable[str]) -> dict[str, loader.KnownLine]:
        """Lines already recorded under (source, line_id), in the database or earlier here."""
        ids = list(line_ids)
        found = loader.find_lines(self.conn, self.tables, source, ids)
        for line_id in ids:
            pending = self._keys.get((source, line_id))
            if pending is not None:
                found[line_id] = loader.KnownLine(
                    pending.transaction_id, pending.grant_id, line_digest(pending)
                )
        return found

    def line(self, transaction_id: str) -> loader.LineRecord | None:
        if transaction_id not in self._lines:
            record = loader.load_line(self.conn, self.tables, transaction_id)
            if record is None:
                return None
            self._lines[transaction_id] = record
        return self._lines[transaction_id]

    # --- recording -------------------------------------------------------------------------

    def record(
        self, appends: Sequence[tuple[str, int, Sequence[ev.Event]]], meta: Mapping[str, Any]
    ) -> Recorded:
        """Take a decided command's events; the state seen by later commands moves on."""
        for stream_id, expected, _ in appends:
            current = self._version(stream_id)
            if current != expected:
                raise ConcurrencyError(stream_id, expected, current)
        start = self._count
        for stream_id, expected, new in appends:
            self._appends.append(_Append(stream_id, expected, new, meta))
            self._count += len(new)
            self._evolve(stream_id, new)
        return Recorded(start, self._count)

    def _version(self, stream_id: str) -> int:
        if stream_id == PERIODS_STREAM:
            return self.periods().version
        state = self.grant(stream_id.removeprefix("grant-"))
        return 0 if state is None else state.version

    def _evolve(self, stream_id: str, new: Sequence[ev.Event]) -> None:
        if stream_id == PERIODS_STREAM:
            periods = self.periods()
            for e in new:
                assert isinstance(e, ev.PeriodClosed)
                periods = evolve_periods(periods, e)
            self._periods = periods
            return
        grant_events = [e for e in new if not isinstance(e, ev.PeriodClosed)]
        grant_id = stream_id.removeprefix("grant-")
        state = fold(self.grant(grant_id), grant_events)
        self._grants[grant_id] = state
        for e in grant_events:
            self._track(e, state)

    def _track(self, e: ev.GrantEvent, state: GrantState | None) -> None:
        """Keep routes and line records current for later commands of this transaction."""
        match e:
            case ev.GrantRegistered() if state is not None and self._routes is not None:
                self._routes.extend(routes_of(state))
            case ev.SpendRecorded():
                self._keys[(e.source, e.line_id)] = e
                self._lines[e.transaction_id] = loader.LineRecord(
                    e.grant_id,
                    RecordedLine(
                        e.transaction_id,
                        e.source,
                        e.line_id,
                        e.booked_on,
                        e.amount,
                        e.cost_object,
                        e.area,
                        e.activity,
                        "recorded",
                    ),
                )
            case ev.SpendReversed():
                original = self.line(e.reversal_of)
                if original is not None:
                    self._lines[e.reversal_of] = replace(
                        original, line=replace(original.line, status="reversed")
                    )
                self._lines[e.transaction_id] = loader.LineRecord(
                    e.grant_id,
                    RecordedLine(
                        e.transaction_id,
                        "",
                        "",
                        e.booked_on,
                        -e.amount,
                        e.cost_object,
                        e.area,
                        e.activity,
                        "reversal",
                        e.reversal_of,
                    ),
                )
            case ev.SpendClassified():
                line = self.line(e.transaction_id)
                if line is not None:
                    self._lines[e.transaction_id] = replace(
                        line, line=replace(line.line, activity=e.activity, area=e.area)
                    )
            case _:
                pass

    # --- idempotency -----------------------------------------------------------------------

    def answer_for(self, scope: str, key: str, request_hash: str) -> idem.StoredAnswer | None:
        pending = self._answers.get((scope, key))
        if pending is not None:
            if pending[0] != request_hash:
                raise IdempotencyKeyReused(key)
            return pending[1]
        return idem.lookup(self.conn, scope, key, request_hash)

    def remember(self, scope: str, key: str, request_hash: str, answer: idem.StoredAnswer) -> None:
        self._answers[(scope, key)] = (request_hash, answer)

    # --- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Append every recorded event and project it, in this transaction."""
        if not self._appends:
            return
        appends = [
            StreamAppend(a.stream_id, a.expected_version, [_to_new(e) for e in a.events], a.meta)
            for a in self._appends
        ]
        stored = self.store.append_many(self.conn, appends)
        domain = [e for a in self._appends for e in a.events]
        apply(self.conn, self.tables, [Applied(s, e) for s, e in zip(stored, domain, strict=True)])
        self._stored.extend(stored)
        self._appends = []

    def stored(self, recorded: Recorded) -> tuple[StoredEvent, ...]:
        return tuple(self._stored[recorded.start : recorded.end])

    def flush_answers(self) -> None:
        for (scope, key), (request_hash, answer) in self._answers.items():
            idem.remember(self.conn, scope, key, request_hash, answer)
        self._answers = {}


def _to_new(e: ev.Event) -> NewEvent:
    event_type, schema_version, data = ev.encode(e)
    return NewEvent(event_type, data, schema_version, e.effective_date)
