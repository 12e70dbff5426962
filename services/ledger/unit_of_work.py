"""A unit of work over one write transaction, under the append lock.

Commands are decided against state held here in memory: each grant's state is loaded from the
projections once, then evolved by the events the transaction records, so a group of commands
(group commit) or a long plan costs a handful of round trips, not a dozen per command.  Events
are only written by ``flush``: one append of every stream, one projection pass, one insert of
the idempotent answers.  A refused command has recorded nothing, so nothing needs undoing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import Connection

from ledger.db import one_round_trip
from ledger.domain import events as ev
from ledger.domain.commands import CostObjectRoute
from ledger.domain.decide import routes_of, within_bound
from ledger.domain.facts import LedgerFacts
from ledger.domain.state import GrantState, PeriodsState, evolve_periods, fold
from ledger.errors import IdempotencyKeyReused
from ledger.projections import loader
from ledger.projections.projector import Plan, Projection, line_digest
from ledger.projections.tables import ProjectionTables
from ledger.state_cache import KeptFacts, StateCache
from ledger.store import EventStore, NewEvent, StoredEvent, storable
from ledger.store import idempotency as idem
from ledger.store.eventstore import StreamAppend

PERIODS_STREAM = "periods"
# Up to this many spend lines are flushed in one pipeline rather than by COPY.
_ONE_TRIP = 64
# A kept grant state this many events behind is brought up to date from its stream; further
# behind, its state is loaded from the projections instead.
_CATCH_UP = 1000


# Events that move a grant's balances and nothing else a spend decision reads (areas,
# activities, spend period, closed months): a spend line placed before them is placed the same
# after them, so a decision made before the lock survives them (``UnitOfWork.rebase``).
_BALANCES_ONLY = (ev.SpendRecorded, ev.SpendReversed, ev.SpendClassified)


# ``loader.facts_key``: (closed months, registered grants) and the probed grants' versions.
Facts = tuple[tuple[int, int], dict[str, int]]


def grant_stream(grant_id: str) -> str:
    return f"grant-{grant_id}"


@dataclass(eq=False, slots=True)
class Recorded:
    """A command's events; ``flush`` fills in how they were stored (positions, hashes)."""

    events: tuple[StoredEvent, ...] = ()


@dataclass(eq=False, slots=True)
class Claim:
    """An Idempotency-Key taken by a command decided in this transaction.

    Claimed when the command is decided, so a second command with the key in the same group is
    a replay of the first; ``answer`` is filled when the first's answer is rendered after flush.
    """

    request_hash: str
    answer: idem.StoredAnswer | None = None


@dataclass(slots=True)
class _Append:
    stream_id: str
    expected_version: int
    events: Sequence[ev.Event]
    new: list[NewEvent]
    meta: Mapping[str, Any]
    recorded: Recorded


class UnitOfWork:
    def __init__(
        self,
        conn: Connection,
        store: EventStore,
        tables: ProjectionTables,
        cache: StateCache | None = None,
        *,
        facts: Facts | None = None,
        keys_by_index: Callable[[str], bool] | None = None,
    ) -> None:
        self.conn = conn
        self.store = store
        self.tables = tables
        self._cache = cache
        self._probed = facts  # ``loader.facts_key`` of the cache's grants, read with the lock
        self._grants: dict[str, GrantState | None] = {}
        self._periods: PeriodsState | None = None
        self._routes: list[CostObjectRoute] | None = None
        self._facts_key: tuple[int, int] | None = None
        self._versions: dict[str, int] = {}  # kept grants' versions, read with the facts
        self._registered = 0  # grants registered here: the facts' key moves on by them
        self._lines: dict[str, loader.LineRecord] = {}
        # Lines recorded earlier in this transaction, by transaction id: their record is only
        # made if a later command of the transaction reverses or classifies one.
        self._recorded: dict[str, ev.SpendRecorded] = {}
        # Lines recorded earlier in this transaction, by natural key; their digest is only
        # computed if a later command sends the same key (the projector computes it anyway).
        self._keys: dict[tuple[str, str], ev.SpendRecorded] = {}
        self._appends: list[_Append] = []
        self._plan: Plan | None = None
        self._claims: dict[tuple[str, str], Claim] = {}
        # Natural keys commands of this group will ask about, looked up together on first need;
        # what the database held for each key looked up (absent: no such line).
        self._expected: dict[str, set[str]] = {}
        self._looked_up: set[tuple[str, str]] = set()
        self._found: dict[tuple[str, str], loader.KnownLine] = {}
        # What the decisions read, for ``rebase``: each grant as first read, whether a line
        # record was read from the database.
        self._read: dict[str, GrantState | None] = {}
        self._read_lines = False
        # Whether a source's natural keys are left to the unique index (``known_lines``), and
        # the sources a command of this unit asked about so.
        self._keys_by_index = keys_by_index
        self.unchecked_sources: set[str] = set()

    # --- state -----------------------------------------------------------------------------

    def periods(self) -> PeriodsState:
        if self._periods is None:
            self._kept_facts()
        if self._periods is None:
            self._periods = loader.load_periods(self.conn, self.tables)
        return self._periods

    def _kept_facts(self) -> None:
        """Closed periods and routes as this process kept them, if no one changed them since.

        Both change only by events that add rows (a closed month, a registered grant), so the
        two counts, read under the lock in one probe, tell whether the kept ones are current.
        """
        if self._cache is None or self._facts_key is not None:
            return
        # The kept grants' versions ride along: a command then needs no probe of its own.
        self._facts_key, self._versions = self._probed or loader.facts_key(
            self.conn, self.tables, self._cache.kept_ids()
        )
        kept = self._cache.facts(self._facts_key)
        if kept is not None:
            self._periods, self._routes = kept.periods, list(kept.routes)

    def facts_to_keep(self) -> KeptFacts | None:
        """The ledger-wide facts as this transaction leaves them, to keep after its commit."""
        if self._facts_key is None or self._periods is None or self._routes is None:
            return None
        key = (self._periods.version, self._facts_key[1] + self._registered)
        return KeptFacts(key, self._periods, tuple(self._routes))

    def ledger_facts(self) -> LedgerFacts:
        """What ``decide`` checks beyond a grant's own state, as this transaction sees it."""
        return LedgerFacts(routes=self.routes(), closed_periods=self.periods().closed)

    def grant(self, grant_id: str) -> GrantState | None:
        if grant_id not in self._grants:
            self._grants[grant_id] = self._load(grant_id)
        state = self._grants[grant_id]
        self._read.setdefault(grant_id, state)
        return state

    def _load(self, grant_id: str) -> GrantState | None:
        """The grant as committed: this process's kept state, brought up to date, else read.

        Another process writing the same grant (the other server worker) moves its version on
        between this process's transactions; folding the few events it appended onto the kept
        state is one indexed read of the stream, where loading the state is four queries.
        """
        if self._cache is not None:
            self._kept_facts()
            version = self._versions.pop(grant_id, None)
            if version is None:
                version = loader.grant_version(self.conn, self.tables, grant_id)
            if version is None:
                return None
            kept = self._cache.latest(grant_id)
            if kept is not None and kept.version == version:
                return kept
            if kept is not None and kept.version < version <= kept.version + _CATCH_UP:
                later = loader.stream_events(
                    self.conn, grant_stream(grant_id), after_version=kept.version
                )
                if len(later) == version - kept.version:
                    return fold(kept, later)
        return loader.load_grant(self.conn, self.tables, grant_id)

    def states(self) -> list[GrantState]:
        """Every grant state this unit of work holds, as its events leave them."""
        return [s for s in self._grants.values() if s is not None]

    def routes(self) -> tuple[CostObjectRoute, ...]:
        if self._routes is None:
            self._kept_facts()
        if self._routes is None:
            self._routes = list(loader.load_routes(self.conn, self.tables))
        return tuple(self._routes)

    def expect_lines(self, source: str, line_ids: Iterable[str]) -> None:
        """Say which natural keys a command will look up, before any command is decided, so
        that a group of single-line posts looks its keys up in one query, not one each."""
        self._expected.setdefault(source, set()).update(line_ids)

    def known_lines(self, source: str, line_ids: Iterable[str]) -> dict[str, loader.KnownLine]:
        """Lines already recorded under (source, line_id), in the database or earlier here.

        For a source in ``keys_by_index`` the database is not asked: the group is decided as if
        none were recorded, and a key that was meets the unique index of ``spend_lines`` at the
        flush, which fails the whole transaction before anything is committed; the caller then
        decides the group again with the keys looked up (``GroupCommit``).  A finance system
        that sends a line again is answered exactly as if its key had been read first.
        """
        ids = list(line_ids)
        if self._keys_by_index is not None and self._keys_by_index(source):
            self.unchecked_sources.add(source)
        elif any((source, i) not in self._looked_up for i in ids):
            self._look_up({source: set(ids)})
        found = {i: self._found[(source, i)] for i in ids if (source, i) in self._found}
        for line_id in ids:
            pending = self._keys.get((source, line_id))
            if pending is not None:
                found[line_id] = loader.KnownLine(
                    transaction_id=pending.transaction_id,
                    grant_id=pending.grant_id,
                    content_hash=line_digest(source, pending),
                )
        return found

    def _look_up(self, wanted: dict[str, set[str]]) -> None:
        """Look up these keys and every expected one not looked up yet, one query per source.

        A key's answer stays valid for the whole transaction: a recorded line's key, id and
        content never change, and lines recorded here are seen through ``_keys``.
        """
        for source, ids in self._expected.items():
            wanted.setdefault(source, set()).update(ids)
        self._expected = {}
        for source, ids in wanted.items():
            ids -= {i for i in ids if (source, i) in self._looked_up}
            if not ids:
                continue
            for line_id, known in loader.find_lines(self.conn, self.tables, source, ids).items():
                self._found[(source, line_id)] = known
            self._looked_up.update((source, i) for i in ids)

    def line(self, transaction_id: str) -> loader.LineRecord | None:
        if transaction_id not in self._lines:
            recorded = self._recorded.get(transaction_id)
            if recorded is not None:
                record: loader.LineRecord | None = loader.LineRecord.of(recorded)
            else:
                self._read_lines = True
                record = loader.load_line(self.conn, self.tables, transaction_id)
            if record is None:
                return None
            self._lines[transaction_id] = record
        return self._lines[transaction_id]

    # --- recording -------------------------------------------------------------------------

    def version(self, stream_id: str) -> int:
        """The stream's version as this transaction sees it (its own records included)."""
        return self._version(stream_id)

    def record(
        self, appends: Sequence[tuple[str, Sequence[ev.Event]]], meta: Mapping[str, Any]
    ) -> Recorded:
        """Take a decided command's events; the state seen by later commands moves on.

        Each stream is appended at the version this unit of work holds for it; the events were
        decided against that same state, so no version check is needed here.  A value no
        database can store refuses this command alone (``storable.check``) before it can fail
        the whole group's flush.
        """
        storable.check(meta, "meta")
        encoded = [(stream_id, new, [_to_new(e) for e in new]) for stream_id, new in appends]
        recorded = Recorded()
        for stream_id, new, rows in encoded:
            self._appends.append(
                _Append(stream_id, self._version(stream_id), new, rows, meta, recorded)
            )
            self._evolve(stream_id, new)
        return recorded

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
            case ev.GrantRegistered() if state is not None:
                self._registered += 1
                if self._routes is not None:
                    self._routes.extend(routes_of(state))
            case ev.SpendRecorded():
                self._keys[(e.source, e.line_id)] = e
                self._recorded[e.transaction_id] = e
            case ev.SpendReversed():
                original = self.line(e.reversal_of)
                if original is not None:
                    self._lines[e.reversal_of] = replace(
                        original, line=replace(original.line, status="reversed")
                    )
                self._lines[e.transaction_id] = loader.LineRecord.of(e)
            case ev.SpendClassified():
                line = self.line(e.transaction_id)
                if line is not None:
                    self._lines[e.transaction_id] = replace(
                        line, line=replace(line.line, activity=e.activity, area=e.area)
                    )
            case _:
                pass

    # --- idempotency -----------------------------------------------------------------------

    def claimed(self, scope: str, key: str, request_hash: str) -> Claim | None:
        """The key's earlier claim: in this transaction, or stored by a committed one.

        Raises ``IdempotencyKeyReused`` if it was claimed for another request.
        """
        claim = self._claims.get((scope, key))
        if claim is not None:
            if claim.request_hash != request_hash:
                raise IdempotencyKeyReused(key)
            return claim
        stored = idem.lookup(self.conn, scope, key, request_hash)
        return None if stored is None else Claim(request_hash, stored)

    def claim(self, scope: str, key: str, request_hash: str) -> Claim:
        """Take the key for a command just decided; its answer is stored with its events."""
        claim = Claim(request_hash)
        self._claims[(scope, key)] = claim
        return claim

    # --- deciding before the lock ----------------------------------------------------------

    def read_ids(self) -> list[str]:
        """The grants the decisions read (``rebase`` probes their versions)."""
        return list(self._read)

    def rebase(self, refused: bool, facts: Facts | None = None) -> bool:
        """Whether what was decided here before the append lock still holds under it.

        Called once the lock is held.  The decisions stand if the ledger-wide facts are
        unchanged, no line record was read, and every grant they read is where it was or has
        moved on only by events that change balances (``_BALANCES_ONLY``: another process's
        spend).  Those change no placement, so the decided events are appended after them, at
        the stream's new version, once the bound is checked again on the balances the database
        holds now (no account past ``MAX_ORE``, rule of ``check_bounds``).  A refusal may depend
        on a balance: with any command refused, only an unmoved ledger keeps the decisions.
        A natural key or Idempotency-Key used since by another process is caught by its unique
        index at the flush, and the group is then decided again (``GroupCommit``).
        ``False``: decide again, under the lock.  ``facts``: ``loader.facts_key`` of
        ``read_ids``, if the caller read it with the lock.
        """
        if self._read_lines:
            return False
        key, versions = facts or loader.facts_key(self.conn, self.tables, list(self._read))
        if self._facts_key is not None and key != self._facts_key:
            return False
        moved = {
            g: (s, versions[g])
            for g, s in self._read.items()
            if (s.version if s is not None else None) != versions.get(g)
        }
        if moved and refused:
            return False
        for grant_id, (read, now) in moved.items():
            if read is None or now < read.version:
                return False
            stream = grant_stream(grant_id)
            later, other, peak = loader.moved_since(
                self.conn, self.tables, grant_id, stream, read.version, _BALANCES_ONLY
            )
            ours = [e for a in self._appends if a.stream_id == stream for e in a.events]
            if later != now - read.version or other or not within_bound(peak, ours):
                return False
            for a in self._appends:
                if a.stream_id == stream:
                    a.expected_version += later
            # This process has not seen the events in between: the state it keeps for the grant
            # stays the one it had, and the next transaction folds them on (``_load``).
            del self._grants[grant_id]
        return True

    # --- writing ---------------------------------------------------------------------------

    def plan(self) -> None:
        """Work out what the recorded events write to the projections, as far as it is known
        before they are appended (``projector.Plan``): a group decided before the append lock
        does it there, so that the lock does not wait for it.  Nothing may be recorded after."""
        domain = [e for a in self._appends for e in a.events]
        self._plan = Plan.of(self.tables, domain, self.conn.dialect.name) if domain else None

    def flush(self) -> None:
        """Append every recorded event and project it, in this transaction."""
        if not self._appends:
            return
        appends = [
            StreamAppend(a.stream_id, a.expected_version, a.new, a.meta) for a in self._appends
        ]
        domain = [e for a in self._appends for e in a.events]
        # A few spend lines (a group of single posts): events, lines and sums in one round trip
        # (``one_round_trip``); more go by COPY, streamed as they are made.
        small = len(domain) < _ONE_TRIP and all(isinstance(e, ev.SpendRecorded) for e in domain)
        plan = self._plan
        if plan is not None and len(plan.events) != len(domain):
            raise AssertionError("events were recorded after the unit of work was planned")
        projection: Projection | None = None

        def project(stored: list[StoredEvent]) -> None:
            nonlocal projection  # worked out while the server inserts the events' rows
            if plan is None:  # decided under the lock, or planned nowhere else
                projection = Plan.of(self.tables, domain, self.conn.dialect.name).placed(stored)
            else:
                projection = plan.placed(stored)

        with one_round_trip(self.conn) if small else nullcontext():
            # The versions are this unit of work's own, read under the lock it still holds.
            stored = self.store.append_many(
                self.conn, appends, versions_checked=True, meanwhile=project
            )
            assert projection is not None
            projection.write(self.conn)
        at = 0
        for a in self._appends:
            a.recorded.events += tuple(stored[at : at + len(a.new)])
            at += len(a.new)
        self._appends = []
        self._plan = None

    def flush_answers(self) -> None:
        """Store the answers of the keys claimed here (each rendered after ``flush``)."""
        answers = {
            k: (c.request_hash, c.answer) for k, c in self._claims.items() if c.answer is not None
        }
        idem.remember_all(self.conn, answers)
        self._claims = {}


def _to_new(e: ev.Event) -> NewEvent:
    """The event as the store takes it, its data encoded once (and checked storable) here."""
    event_type, schema_version, data = ev.encode(e)
    json = storable.encode(data, event_type)
    return NewEvent(event_type, data, schema_version, e.effective_date, json)
