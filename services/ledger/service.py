"""The one write path: load → decide → append → project → commit, in one transaction.

Every command goes through ``LedgerService.execute``.  The append lock is taken first, so the
state a decision reads cannot change before its events commit: decisions are serialized exactly
like the chain they extend, and the optimistic version check is a second line of defence (and
what ``If-Match`` compares against).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection, Engine

from ledger.db import write_transaction
from ledger.domain import commands as cmd
from ledger.domain import events as ev
from ledger.domain.decide import decide, decide_period, index_routes, route_batch
from ledger.domain.errors import UnknownGrant, UnknownTransaction, UnplaceableSpend
from ledger.errors import ConcurrencyError, Conflict
from ledger.projections import loader
from ledger.projections.projector import Applied, apply, line_digest
from ledger.projections.tables import LIVE, ProjectionTables
from ledger.store import EventStore, NewEvent, StoredEvent
from ledger.store import idempotency as idem
from ledger.store.eventstore import StreamAppend

PERIODS_STREAM = "periods"


def grant_stream(grant_id: str) -> str:
    return f"grant-{grant_id}"


# --- what the service is asked -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineInput:
    """A spend line as a finance system sends it; the ledger gives it a transaction id."""

    line_id: str
    voucher: str | None
    booked_on: date
    amount: int
    cost_object: str
    activity: str | None
    account: str | None
    kind: str
    text: str | None


@dataclass(frozen=True, slots=True)
class PostSpend:
    """A batch of spend lines, atomic, routed to grants by cost object and date (rule 5)."""

    source: str
    lines: tuple[LineInput, ...]


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
    request_id: str | None = None
    source_system: str | None = None


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
    grant_id: str
    status: str  # "recorded" | "duplicate" | "reversal"


@dataclass(frozen=True, slots=True)
class Result:
    events: tuple[StoredEvent, ...]
    grant_id: str | None = None
    version: int | None = None  # the grant's stream version after the command (its ETag)
    lines: tuple[LineOutcome, ...] = ()
    period: str | None = None


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
            source=source,
            errors=[
                {"line_id": i, "field": "line_id", "reason": "recorded before with other content"}
                for i in line_ids
            ],
        )


# --- the service ---------------------------------------------------------------------------


@dataclass
class LedgerService:
    engine: Engine
    store: EventStore = field(default_factory=EventStore)
    tables: ProjectionTables = LIVE

    def execute(
        self,
        command: Command,
        actor: Actor,
        *,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Result | Replayed:
        with write_transaction(self.engine) as conn:
            self.store.lock(conn)
            if idempotency is not None:
                known = idem.lookup(
                    conn, idempotency.scope, idempotency.key, idempotency.request_hash
                )
                if known is not None:
                    return Replayed(known)
            result = self._dispatch(conn, command, actor, expected_version)
            if idempotency is not None:
                idem.remember(
                    conn,
                    idempotency.scope,
                    idempotency.key,
                    idempotency.request_hash,
                    idempotency.render(result),
                )
            return result

    def execute_all(self, commands: Sequence[Command], actor: Actor) -> list[Result]:
        """Several commands in one transaction: all of them or none (plan files)."""
        with write_transaction(self.engine) as conn:
            self.store.lock(conn)
            return [self._dispatch(conn, c, actor, None) for c in commands]

    def _dispatch(
        self, conn: Connection, command: Command, actor: Actor, expected: int | None
    ) -> Result:
        match command:
            case PostSpend():
                return self._post_spend(conn, command, actor)
            case ReverseTransaction():
                return self._reverse(conn, command, actor)
            case ClassifyTransaction():
                return self._classify(conn, command, actor)
            case cmd.ClosePeriod():
                return self._close_period(conn, command, actor)
            case cmd.RegisterGrant():
                routes = loader.load_routes(conn, self.tables)
                return self._grant_command(
                    conn, replace(command, existing_routes=routes), actor, expected
                )
            case _:
                return self._grant_command(conn, command, actor, expected)

    # --- grants ----------------------------------------------------------------------------

    def _state(self, conn: Connection, grant_id: str) -> Any:
        closed = loader.load_periods(conn, self.tables).closed
        return loader.load_grant(conn, self.tables, grant_id, closed)

    def _grant_command(
        self,
        conn: Connection,
        command: PlanningCommand | cmd.ReverseSpend | cmd.ClassifySpend,
        actor: Actor,
        expected: int | None,
    ) -> Result:
        state = self._state(conn, command.grant_id)
        version = 0 if state is None else state.version
        if expected is not None and expected != version:
            raise ConcurrencyError(grant_stream(command.grant_id), expected, version)
        new = decide(state, command)
        stored = self._append(
            conn, [(grant_stream(command.grant_id), version, new)], _meta(actor, command)
        )
        return Result(tuple(stored), command.grant_id, version + len(new))

    def _append(
        self,
        conn: Connection,
        appends: Sequence[tuple[str, int, Sequence[ev.Event]]],
        meta: Mapping[str, Any],
    ) -> list[StoredEvent]:
        encoded = [
            StreamAppend(stream, version, [_to_new(e) for e in new])
            for stream, version, new in appends
        ]
        stored = self.store.append_many(conn, encoded, meta)
        domain_events = [e for _, _, new in appends for e in new]
        apply(
            conn,
            self.tables,
            [Applied(s, e) for s, e in zip(stored, domain_events, strict=True)],
        )
        return stored

    # --- spend -----------------------------------------------------------------------------

    def _post_spend(self, conn: Connection, command: PostSpend, actor: Actor) -> Result:
        known = loader.find_lines(
            conn, self.tables, command.source, (line.line_id for line in command.lines)
        )
        outcomes: dict[str, LineOutcome] = {}
        conflicts: list[str] = []
        fresh: list[cmd.SpendLine] = []
        for line in command.lines:
            spend = cmd.SpendLine(
                transaction_id=str(uuid.uuid4()),
                source=command.source,
                line_id=line.line_id,
                voucher=line.voucher,
                booked_on=line.booked_on,
                amount=line.amount,
                cost_object=line.cost_object,
                activity=line.activity,
                account=line.account,
                kind=line.kind,
                text=line.text,
            )
            before = known.get(line.line_id)
            if before is None:
                fresh.append(spend)
            elif before.content_hash == line_digest(spend):
                outcomes[line.line_id] = LineOutcome(
                    line.line_id, before.transaction_id, before.grant_id, "duplicate"
                )
            else:
                conflicts.append(line.line_id)
        if conflicts:
            raise NaturalKeyConflict(command.source, conflicts)

        routes = loader.load_routes(conn, self.tables, (s.cost_object for s in fresh))
        by_grant, errors = route_batch(index_routes(routes), fresh)
        closed = loader.load_periods(conn, self.tables).closed
        appends: list[tuple[str, int, Sequence[ev.Event]]] = []
        for grant_id, lines in by_grant.items():
            state = loader.load_grant(conn, self.tables, grant_id, closed)
            if state is None:  # a route always names a registered grant
                raise UnknownGrant(grant_id)
            try:
                new = decide(state, cmd.RecordSpend(grant_id, lines))
            except UnplaceableSpend as e:
                errors.extend(e.errors)
                continue
            appends.append((grant_stream(grant_id), state.version, new))
            for spend in lines:
                outcomes[spend.line_id] = LineOutcome(
                    spend.line_id, spend.transaction_id, grant_id, "recorded"
                )
        if errors:
            # Atomic: one bad line refuses the batch, and the answer lists every bad line.
            raise UnplaceableSpend(errors)
        stored = self._append(conn, appends, _meta(actor, command))
        return Result(
            tuple(stored),
            lines=tuple(outcomes[line.line_id] for line in command.lines),
        )

    def _line(self, conn: Connection, transaction_id: str) -> loader.LineRecord:
        record = loader.load_line(conn, self.tables, transaction_id)
        if record is None:
            raise UnknownTransaction(transaction_id)
        return record

    def _reverse(self, conn: Connection, command: ReverseTransaction, actor: Actor) -> Result:
        record = self._line(conn, command.transaction_id)
        reversal_id = str(uuid.uuid4())
        result = self._grant_command(
            conn,
            cmd.ReverseSpend(
                record.grant_id, reversal_id, record.line, command.reason, command.booked_on
            ),
            actor,
            None,
        )
        outcome = LineOutcome(record.line.line_id, reversal_id, record.grant_id, "reversal")
        return replace(result, lines=(outcome,))

    def _classify(self, conn: Connection, command: ClassifyTransaction, actor: Actor) -> Result:
        record = self._line(conn, command.transaction_id)
        result = self._grant_command(
            conn,
            cmd.ClassifySpend(record.grant_id, record.line, command.activity, command.reason),
            actor,
            None,
        )
        outcome = LineOutcome(
            record.line.line_id, command.transaction_id, record.grant_id, "classified"
        )
        return replace(result, lines=(outcome,))

    # --- periods ---------------------------------------------------------------------------

    def _close_period(self, conn: Connection, command: cmd.ClosePeriod, actor: Actor) -> Result:
        state = loader.load_periods(conn, self.tables)
        new = decide_period(state, command)
        stored = self._append(conn, [(PERIODS_STREAM, state.version, new)], _meta(actor, command))
        return Result(tuple(stored), period=command.period)


def _to_new(e: ev.Event) -> NewEvent:
    event_type, schema_version, data = ev.encode(e)
    return NewEvent(event_type, data, schema_version, e.effective_date)


def _meta(actor: Actor, command: object) -> dict[str, Any]:
    meta: dict[str, Any] = {"actor": actor.name, "role": actor.role}
    if actor.request_id:
        meta["request_id"] = actor.request_id
    if actor.source_system:
        meta["source_system"] = actor.source_system
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
