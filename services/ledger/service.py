"""The one write path: load → decide → append → project → commit, in one transaction.

Every command goes through ``LedgerService.execute``.  The append lock is taken first, so the
state a decision reads cannot change before its events commit: decisions are serialized exactly
like the chain they extend, and the optimistic version check is a second line of defence (and
what ``If-Match`` compares against).  Concurrent callers in one process share a transaction
(``group_commit``); state is read and events are written through a ``UnitOfWork``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from ledger.db import read_transaction, write_transaction
from ledger.domain import commands as cmd
from ledger.domain import events as ev
from ledger.domain.commands import SpendLine
from ledger.domain.decide import decide, decide_period, index_routes, route_batch
from ledger.domain.errors import LineError, UnknownGrant, UnknownTransaction, UnplaceableSpend
from ledger.errors import ConcurrencyError, Conflict
from ledger.group_commit import GroupCommit, Work
from ledger.ids import time_ordered_id, time_ordered_ids
from ledger.projections.loader import KnownLine, LineRecord
from ledger.projections.projector import line_digest
from ledger.projections.tables import LIVE, ProjectionTables
from ledger.store import EventStore, StoredEvent
from ledger.store import idempotency as idem
from ledger.unit_of_work import PERIODS_STREAM, Claim, Recorded, UnitOfWork, grant_stream

__all__ = ["PERIODS_STREAM", "LedgerService", "SpendLine", "grant_stream"]

# --- what the service is asked -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StruckLine:
    """A line the sender struck after sending it (SIE ``#BTRANS``): reversed if recorded."""

    line: SpendLine
    booked_on: date  # when the reversal is booked: the day of the correction
    reason: str


@dataclass(frozen=True, slots=True)
class PostSpend:
    """A batch of spend lines, atomic, routed to grants by cost object and date (rule 5).

    An import of a file (SIE) sets ``skip_unroutable``: a line no grant's route takes comes back
    skipped with the routing's own reason instead of refusing the batch, since a ledger export
    holds every cost object of the region.  ``struck`` lines are reversed where recorded.
    """

    source: str
    lines: tuple[SpendLine, ...]
    skip_unroutable: bool = False
    struck: tuple[StruckLine, ...] = ()


@dataclass(frozen=True, slots=True)
class ReverseTransaction:
    transaction_id: str
    reason: str
    booked_on: date


@dataclass(frozen=True, slots=True)
class ClassifyTransaction:
    transaction_id: str
    activity: str
    reason: str


PlanningCommand = (
    cmd.RegisterGrant
    | cmd.AmendAward
    | cmd.RecordReceipt
    | cmd.AllocateActivity
    | cmd.Reallocate
    | cmd.RepayUnspent
    | cmd.CloseYear
)
Command = PlanningCommand | PostSpend | ReverseTransaction | ClassifyTransaction | cmd.ClosePeriod


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks (from the credentials), recorded in every event's meta (rule 7)."""

    name: str
    role: str
    request_id: str | None = None  # ours, made by the API for each request
    client_request_id: str | None = None  # what the caller sent as X-Request-ID, if anything
    source_system: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Idempotency:
    scope: str
    key: str
    request_hash: str
    render: Callable[[Result], idem.StoredAnswer]


# --- what it answers -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineOutcome:
    line_id: str
    transaction_id: str
    grant_id: str | None
    # "recorded" | "duplicate" | "reversal"; for imports also "reversed" (a struck line, its
    # reversal now recorded), "already-reversed" and "skipped" (with the reason)
    status: str
    reason_code: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    events: tuple[StoredEvent, ...]
    grant_id: str | None = None
    version: int | None = None  # the grant's stream version after the command (its ETag)
    lines: tuple[LineOutcome, ...] = ()
    period: str | None = None
    answer: idem.StoredAnswer | None = None  # as stored for its Idempotency-Key, if it had one


@dataclass(frozen=True, slots=True)
class Replayed:
    """The stored answer to a request already made with this Idempotency-Key."""

    answer: idem.StoredAnswer


class NaturalKeyConflict(Conflict):
    code = "natural-key-conflict"
    title = "A different line exists under the same (source, line_id)"

    def __init__(self, source: str, line_ids: Sequence[str]) -> None:
        super().__init__(
            f"{len(line_ids)} line(s) of source {source!r} were recorded before with other "
            f"content: {', '.join(line_ids[:5])}",
            rule="natural-key",
            source=source,
            errors=[
                {
                    "line_id": i,
                    "field": "line_id",
                    "reason": "recorded before with other content",
                    "code": "natural-key-conflict",
                }
                for i in line_ids
            ],
        )


# --- the service ---------------------------------------------------------------------------


@dataclass
class LedgerService:
    engine: Engine
    store: EventStore = field(default_factory=EventStore)
    tables: ProjectionTables = LIVE
    # How long an Idempotency-Key is kept at least (store/idempotency.py).
    idempotency_retention: timedelta = idem.DEFAULT_RETENTION

    def __post_init__(self) -> None:
        self._group = GroupCommit(
            self.engine, self.store, self.tables, retention=self.idempotency_retention
        )

    def execute(
        self,
        command: Command,
        actor: Actor,
        *,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result | Replayed:
        """Run one command; concurrent callers of this process share a commit (group commit)."""
        work, prepare, early = self._work(command, actor, expected_version, idempotency)
        return self._group.run(work, prepare, early=early)

    def submit(
        self,
        command: Command,
        actor: Actor,
        *,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Future[Result | Replayed]:
        """``execute`` for a caller on an event loop: the future is answered after the commit
        (or with the refusal), by the group commit's writer thread."""
        work, prepare, early = self._work(command, actor, expected_version, idempotency)
        return self._group.submit(work, prepare, early=early)

    def _work(
        self,
        command: Command,
        actor: Actor,
        expected_version: int | None,
        idempotency: Idempotency | None,
    ) -> tuple[Work[Result | Replayed], Callable[[UnitOfWork], None] | None, int]:
        """The command as the group commit takes it: its work, what it looks up, and its
        lines if it may be decided before the lock."""
        if idempotency is not None:  # an auditor can tell which retried request wrote an event
            actor = replace(actor, idempotency_key=idempotency.key)

        def work(uow: UnitOfWork) -> Callable[[], Result | Replayed]:
            if idempotency is None:
                pending = self._dispatch(uow, command, actor, expected_version)
                return pending.resolve
            scope, key, request_hash = idempotency.scope, idempotency.key, idempotency.request_hash
            earlier = uow.claimed(scope, key, request_hash)
            if earlier is not None:
                # Committed before, or decided earlier in this very group: its answer either
                # way (the group renders answers in order, so the first's is there by then).
                return lambda: Replayed(_answer_of(earlier))
            pending = self._dispatch(uow, command, actor, expected_version)
            claim = uow.claim(scope, key, request_hash)

            def answer() -> Result:
                result = pending.resolve()
                claim.answer = idempotency.render(result)
                return replace(result, answer=claim.answer)

            return answer

        # Spend alone, without If-Match or struck lines, reads only what ``UnitOfWork.rebase``
        # can check under the lock: it may be decided before the lock.
        early = (
            len(command.lines)
            if isinstance(command, PostSpend) and not command.struck and expected_version is None
            else 0
        )
        return work, _prepare(command), early

    def preview(self, command: Command, actor: Actor) -> Result:
        """What ``execute`` would decide, against the state now; nothing is written (dry run)."""
        with read_transaction(self.engine) as conn:
            uow = UnitOfWork(conn, self.store, self.tables)
            return self._dispatch(uow, command, actor, None).resolve()

    def execute_all(self, commands: Sequence[Command], actor: Actor) -> list[Result]:
        """Several commands in one transaction: all of them or none (plan files, imports)."""
        with write_transaction(self.engine) as conn:
            self.store.lock(conn)
            uow = UnitOfWork(conn, self.store, self.tables)
            pending = [self._dispatch(uow, c, actor, None) for c in commands]
            uow.flush()
            return [p.resolve() for p in pending]

    def _dispatch(
        self, uow: UnitOfWork, command: Command, actor: Actor, expected: int | None
    ) -> _Pending:
        match command:
            case PostSpend():
                return self._post_spend(uow, command, actor)
            case ReverseTransaction():
                return self._reverse(uow, command, actor)
            case ClassifyTransaction():
                return self._classify(uow, command, actor)
            case cmd.ClosePeriod():
                state = uow.periods()
                new = decide_period(state, command)
                recorded = uow.record([(PERIODS_STREAM, new)], _meta(actor, command))
                return _Pending(recorded, period=command.period)
            case _:
                return self._grant_command(uow, command, actor, expected)

    def _grant_command(
        self,
        uow: UnitOfWork,
        command: PlanningCommand | cmd.ReverseSpend | cmd.ClassifySpend,
        actor: Actor,
        expected: int | None,
    ) -> _Pending:
        state = uow.grant(command.grant_id)
        version = 0 if state is None else state.version
        stream = grant_stream(command.grant_id)
        if expected is not None and expected != version:
            raise ConcurrencyError(stream, expected, version)
        new = decide(state, command, uow.ledger_facts())
        recorded = uow.record([(stream, new)], _meta(actor, command))
        return _Pending(recorded, grant_id=command.grant_id, version=version + len(new))

    # --- spend -----------------------------------------------------------------------------

    def _post_spend(self, uow: UnitOfWork, command: PostSpend, actor: Actor) -> _Pending:
        ids = [line.line_id for line in command.lines]
        ids.extend(s.line.line_id for s in command.struck)
        known = uow.known_lines(command.source, ids)
        outcomes: dict[str, LineOutcome] = {}
        conflicts: list[str] = []
        fresh: list[SpendLine] = []
        for line in command.lines:
            before = known.get(line.line_id)
            if before is None:
                fresh.append(line)
            elif before.content_hash == line_digest(command.source, line):
                outcomes[line.line_id] = LineOutcome(
                    line_id=line.line_id,
                    transaction_id=before.transaction_id,
                    grant_id=before.grant_id,
                    status="duplicate",
                )
            else:
                conflicts.append(line.line_id)
        if conflicts:
            raise NaturalKeyConflict(command.source, conflicts)

        strikes = self._strikes(uow, command, known, outcomes, conflicts)
        if conflicts:
            raise NaturalKeyConflict(command.source, conflicts)

        by_grant, errors = route_batch(index_routes(uow.routes()), command.source, fresh)
        if command.skip_unroutable:
            errors = _skip_unroutable(errors, outcomes)
        appends: list[tuple[str, Sequence[ev.Event]]] = []
        facts = uow.ledger_facts()
        for grant_id, lines in by_grant.items():
            state = uow.grant(grant_id)
            if state is None:  # a route always names a registered grant
                raise UnknownGrant(grant_id)
            transaction_ids = tuple(time_ordered_ids(len(lines)))
            try:
                new = decide(
                    state, cmd.RecordSpend(grant_id, command.source, lines, transaction_ids), facts
                )
            except UnplaceableSpend as e:
                errors.extend(e.errors)
                continue
            appends.append((grant_stream(grant_id), new))
            for line, transaction_id in zip(lines, transaction_ids, strict=True):
                outcomes[line.line_id] = LineOutcome(
                    line_id=line.line_id,
                    transaction_id=transaction_id,
                    grant_id=grant_id,
                    status="recorded",
                )
        if errors:
            # Atomic: one bad line refuses the batch, and the answer lists every bad line.
            raise UnplaceableSpend(errors)
        recorded = uow.record(appends, _meta(actor, command))
        # After the new lines: a correction books both in one command.
        reversals = tuple(self._grant_command(uow, s, actor, None).recorded for s in strikes)
        return _Pending(recorded, lines=tuple(outcomes[i] for i in ids), also=reversals)

    def _strikes(
        self,
        uow: UnitOfWork,
        command: PostSpend,
        known: dict[str, KnownLine],
        outcomes: dict[str, LineOutcome],
        conflicts: list[str],
    ) -> list[cmd.ReverseSpend]:
        """The reversals of the struck lines that were recorded and are not reversed yet."""
        reversals: list[cmd.ReverseSpend] = []
        for struck in command.struck:
            line_id = struck.line.line_id
            before = known.get(line_id)
            if before is None:
                outcomes[line_id] = LineOutcome(
                    line_id,
                    "",
                    None,
                    "skipped",
                    "struck-not-recorded",
                    "struck by the sender before it was ever recorded here: nothing to reverse",
                )
                continue
            record = self._line(uow, before.transaction_id)
            line = record.line
            if (line.amount, line.cost_object) != (struck.line.amount, struck.line.cost_object):
                # The sender strikes a line other than the one recorded under its key.
                conflicts.append(line_id)
                continue
            if line.status == "reversed":
                outcomes[line_id] = LineOutcome(
                    line_id, line.transaction_id, record.grant_id, "already-reversed"
                )
                continue
            reversal_id = time_ordered_id()
            reversals.append(
                cmd.ReverseSpend(
                    record.grant_id, reversal_id, line, struck.reason, struck.booked_on
                )
            )
            outcomes[line_id] = LineOutcome(line_id, reversal_id, record.grant_id, "reversed")
        return reversals

    def _line(self, uow: UnitOfWork, transaction_id: str) -> LineRecord:
        record = uow.line(transaction_id)
        if record is None:
            raise UnknownTransaction(transaction_id)
        return record

    def _reverse(self, uow: UnitOfWork, command: ReverseTransaction, actor: Actor) -> _Pending:
        record = self._line(uow, command.transaction_id)
        reversal_id = time_ordered_id()
        pending = self._grant_command(
            uow,
            cmd.ReverseSpend(
                record.grant_id, reversal_id, record.line, command.reason, command.booked_on
            ),
            actor,
            None,
        )
        outcome = LineOutcome(
            line_id=record.line.line_id,
            transaction_id=reversal_id,
            grant_id=record.grant_id,
            status="reversal",
        )
        return replace(pending, lines=(outcome,))

    def _classify(self, uow: UnitOfWork, command: ClassifyTransaction, actor: Actor) -> _Pending:
        record = self._line(uow, command.transaction_id)
        pending = self._grant_command(
            uow,
            cmd.ClassifySpend(record.grant_id, record.line, command.activity, command.reason),
            actor,
            None,
        )
        outcome = LineOutcome(
            line_id=record.line.line_id,
            transaction_id=command.transaction_id,
            grant_id=record.grant_id,
            status="classified",
        )
        return replace(pending, lines=(outcome,))


def _prepare(command: Command) -> Callable[[UnitOfWork], None] | None:
    """What a command tells its group before any is decided: the natural keys it looks up."""
    if not isinstance(command, PostSpend):
        return None
    ids = [line.line_id for line in command.lines]
    ids.extend(s.line.line_id for s in command.struck)
    return lambda uow: uow.expect_lines(command.source, ids)


# Routing refusals an import skips: the line is on no grant's cost object (or date), which in a
# whole ledger export is what most lines are.
_SKIPPABLE = frozenset({"unknown-cost-object", "outside-spend-period"})


def _skip_unroutable(errors: list[LineError], outcomes: dict[str, LineOutcome]) -> list[LineError]:
    kept: list[LineError] = []
    for e in errors:
        if e.code in _SKIPPABLE and e.line_id not in outcomes:
            outcomes[e.line_id] = LineOutcome(e.line_id, "", None, "skipped", e.code, e.reason)
        else:
            kept.append(e)
    return kept


@dataclass(frozen=True, slots=True)
class _Pending:
    """A decided command whose events get their positions when the unit of work flushes."""

    recorded: Recorded
    grant_id: str | None = None
    version: int | None = None
    lines: tuple[LineOutcome, ...] = ()
    period: str | None = None
    also: tuple[Recorded, ...] = ()  # further events of the same command (an import's reversals)

    def resolve(self) -> Result:
        """The answer, once the unit of work's flush has stored the events."""
        events = self.recorded.events + tuple(e for r in self.also for e in r.events)
        return Result(events, self.grant_id, self.version, self.lines, self.period)


def _answer_of(claim: Claim) -> idem.StoredAnswer:
    assert claim.answer is not None, "a claim is answered before any replay of it is"
    return claim.answer


def _meta(actor: Actor, command: object) -> dict[str, Any]:
    meta: dict[str, Any] = {"actor": actor.name, "role": actor.role}
    if actor.request_id:
        meta["request_id"] = actor.request_id
    if actor.client_request_id:
        meta["client_request_id"] = actor.client_request_id
    if actor.source_system:
        meta["source_system"] = actor.source_system
    if actor.idempotency_key:
        meta["idempotency_key"] = actor.idempotency_key
    if isinstance(command, PostSpend):
        meta["source"] = command.source
    decision = getattr(command, "decision", None)
    if decision is not None:
        meta["decision"] = {
            "ref": decision.ref,
            "date": decision.date.isoformat(),
            "body": decision.body,
        }
    return meta
