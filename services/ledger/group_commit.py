"""Group commit: concurrent writers of one process share one transaction, one lock, one fsync.

Appends are serialized by the append lock anyway (the chain is one sequence), so a process that
runs each single-line post in its own transaction spends most of the lock's time waiting for
its own commit.  Here the first waiting thread leads: it decides every queued command against
one ``UnitOfWork`` (a refused command records nothing, so it fails alone), flushes their events
in one append, commits once, and hands each caller its own result or error.  A result is only
returned after the commit that made it durable.  The group is taken from the queue only once the
append lock is granted, so while another process commits, this one's writers gather into one
group; the states it commits are kept (``StateCache``) for the next group to validate and reuse.

A group whose commands all may be decided early (spend posted without If-Match or struck
lines) and carry enough lines to be worth it is decided before the lock instead, against the
kept states, and only appended under it: while one process appends, the other decides, so the
lock is held for the append alone.  Under the lock ``UnitOfWork.rebase`` proves the decisions
still hold (or carries them over another process's spend); if not, or if the flush meets a
natural key or Idempotency-Key another process used meanwhile (its unique index), the group is
decided again under the lock, as any other.  Such a group does not even read its natural keys
first (``UnitOfWork.known_lines``): a line sent again meets the same unique index, and the group
is decided again with its keys read; a source that did so lately has its keys read first.

Such a group is committed after the lead is handed on, so that the next group is decided while
this one waits for the lock and appends: one process may have two groups in flight, the second
carried over the first by ``rebase`` like any other process's spend.

Callers on an event loop ``submit`` instead of ``run``: their commands are led by the group's
own writer threads (two, for the two groups in flight) and answered through a future, so a
waiting command holds no thread.

One client's command must never fail another's: if the group's transaction fails for any reason
but an unreachable database, each of its commands is run again alone, in its own transaction, so
only the culprit fails (a value the database refuses is then its own 422).  Refusals decided in
the failed group are decided again too: they were decided against state that never committed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError

from ledger.db import write_transaction
from ledger.domain.state import GrantState
from ledger.errors import DatabaseUnavailable, InvalidInput, LedgerError, Unavailable
from ledger.projections import loader
from ledger.projections.tables import ProjectionTables
from ledger.state_cache import KeptFacts, StateCache
from ledger.store import EventStore
from ledger.store import idempotency as idem
from ledger.unit_of_work import Facts, UnitOfWork

T = TypeVar("T")


# A command's work: decide and record in the unit of work, return how to answer after flush.
Work = Callable[[UnitOfWork], Callable[[], T]]


# What a command says before any command of its group is decided (the keys it will look up).
Prepare = Callable[[UnitOfWork], None]


@dataclass(eq=False)
class _Unit(Generic[T]):
    work: Work[T]
    prepare: Prepare | None = None
    early: int = 0  # lines of a command that may be decided before the lock (module doc)
    future: Future[T] | None = None  # submitted: answered here, no thread waits for it
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: T | None = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class _Open:
    """A group decided in a unit of work, not yet flushed."""

    batch: list[_Unit[object]]
    uow: UnitOfWork
    answers: list[tuple[_Unit[object], Callable[[], object]]]


@dataclass(frozen=True, slots=True)
class _Decided:
    results: list[tuple[_Unit[object], object]]
    states: list[GrantState]  # the grants as this transaction leaves them
    facts: KeptFacts | None  # closed periods and routes, likewise


class GroupCommit:
    def __init__(
        self,
        engine: Engine,
        store: EventStore,
        tables: ProjectionTables,
        *,
        max_batch: int = 64,
        retention: timedelta = idem.DEFAULT_RETENTION,
        cache: StateCache | None = None,
    ) -> None:
        self._engine = engine
        self._retention = retention
        self._cache = cache if cache is not None else StateCache()
        self._next_sweep = 0.0
        self._store = store
        self._tables = tables
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._queue: deque[_Unit[object]] = deque()
        self._leading = False
        self._writers: list[threading.Thread] = []
        self._writer_leads = threading.Semaphore(0)
        # Sources that sent a line again lately, and until when their keys are read first.
        self._resending: dict[str, float] = {}

    def run(self, work: Work[T], prepare: Prepare | None = None, *, early: int = 0) -> T:
        """Commit ``work`` in the next group; ``early``: its lines, if it may be decided
        before the lock (``UnitOfWork.rebase`` can check everything it reads)."""
        unit: _Unit[T] = _Unit(work, prepare, early=early)
        with self._mutex:
            self._queue.append(unit)  # type: ignore[arg-type]
            lead = not self._leading
            self._leading = True
        while not unit.done:
            if not lead:
                unit.wake.wait()  # handed the lead, or done
                unit.wake.clear()
                if unit.done:
                    break
            self._lead(unit)  # type: ignore[arg-type]
            lead = False  # handed on: led again only if handed the lead again
        if unit.error is not None:
            raise unit.error
        return unit.result  # type: ignore[return-value]

    def submit(self, work: Work[T], prepare: Prepare | None = None, *, early: int = 0) -> Future[T]:
        """``run`` without waiting: the future holds the result (or the error) once committed."""
        unit: _Unit[T] = _Unit(work, prepare, early=early, future=Future())
        with self._mutex:
            self._queue.append(unit)  # type: ignore[arg-type]
            lead = not self._leading
            self._leading = True
            if lead:
                self._hand_to_writer()
        assert unit.future is not None
        return unit.future

    def _lead(self, own: _Unit[object] | None) -> None:
        """Lead until ``own`` is done (``None``: while the next queued command is submitted),
        then hand the lead on.

        A group decided early is committed after the lead is handed on: the next leader
        decides the next group while this one waits for the lock and appends."""
        while own is None or not own.done:
            if own is None:
                with self._mutex:
                    if not self._queue or self._queue[0].future is None:
                        break
            rest = self._commit_next()
            if rest is not None:
                self._hand_on()
                rest()
                return
        self._hand_on()

    def _hand_on(self) -> None:
        """Hand the lead to the next queued command's thread, or to a writer thread if that
        command was submitted; with none queued, nobody leads."""
        with self._mutex:
            if not self._queue:
                self._leading = False
            elif self._queue[0].future is None:
                self._queue[0].wake.set()
            else:
                self._hand_to_writer()

    def _hand_to_writer(self) -> None:
        """(Under the mutex.)  A writer thread leads next; started on first need.  Two of them:
        one commits the group it decided while the other decides the next."""
        if not self._writers:
            for n in range(_WRITERS):
                writer = threading.Thread(
                    target=self._write, name=f"grantledger-group-commit-{n}", daemon=True
                )
                writer.start()
                self._writers.append(writer)
        self._writer_leads.release()

    def _write(self) -> None:
        """A writer thread: whenever handed the lead, lead the submitted commands."""
        while True:
            self._writer_leads.acquire()
            self._lead(None)

    def _take(self, *, early: bool = False) -> list[_Unit[object]]:
        """The queue's next group; with ``early``, only a group to decide before the lock
        (else none)."""
        with self._mutex:
            n = min(len(self._queue), self._max_batch)
            if early:
                lines = [self._queue[i].early for i in range(n)]
                if not all(lines) or sum(lines) < _EARLY_LINES:
                    return []
            return [self._queue.popleft() for _ in range(n)]

    def _commit_next(self) -> Callable[[], None] | None:
        """Commit the queue's next group; for a group decided early, only decide it and return
        the rest (the lock, ``rebase``, the flush and commit) for after the lead is handed on.

        Any other group is gathered once the append lock is ours: while another process holds
        the lock, this process's writers keep queueing, and taking the group only after the
        lock is granted turns that wait into a bigger group instead of a queue of small ones.
        """
        batch = self._take(early=True)
        if not batch:
            self._commit_gathered()
            return None
        transaction = ExitStack()
        try:
            conn = transaction.enter_context(write_transaction(self._engine))
            opened = self._decide(conn, batch, keys_by_index=self._keys_by_index)
        except BaseException as e:
            error = e
            try:
                transaction.__exit__(type(e), e, e.__traceback__)
            except BaseException as translated:  # as the transaction reports it
                error = translated
            self._recover(batch, error)
            return None
        return lambda: self._commit_decided(transaction, conn, opened)

    def _commit_decided(self, transaction: ExitStack, conn: Connection, opened: _Open) -> None:
        """Commit a group decided before the lock, deciding it again if ``rebase`` says so."""
        batch = opened.batch
        early = True
        try:
            with transaction:
                # Waiting for another's append, the group works out its projection meanwhile;
                # with the lock free, it does so while the server inserts its events (flush).
                facts = self._lock(conn, opened.uow.read_ids(), while_waiting=opened.uow.plan)
                if not opened.uow.rebase(any(u.error is not None for u in batch), facts):
                    early = False
                    opened = self._decide(conn, _again(batch))
                decided = self._flush(conn, opened)
        except BaseException as e:
            if early and _is_key_taken(e):  # a key sent again, or used by another process
                self._resent(opened.uow.unchecked_sources)
                self._commit_late(_again(batch))
            else:
                self._recover(batch, e)
            return
        self._committed(batch, decided)

    def _commit_gathered(self) -> None:
        batch: list[_Unit[object]] = []
        try:
            with write_transaction(self._engine) as conn:
                facts = self._lock(conn, self._cache.kept_ids())
                batch = self._take()
                decided = self._flush(conn, self._decide(conn, batch, facts))
        except BaseException as e:
            self._recover(batch or self._take(), e)
            return
        self._committed(batch, decided)

    def _commit_late(self, batch: list[_Unit[object]]) -> None:
        """Commit ``batch`` decided under the lock (after its early decisions fell through)."""
        try:
            with write_transaction(self._engine) as conn:
                self._store.lock(conn)
                decided = self._flush(conn, self._decide(conn, batch))
        except BaseException as e:
            self._recover(batch, e)
            return
        self._committed(batch, decided)

    def _committed(self, batch: list[_Unit[object]], decided: _Decided) -> None:
        """Nothing here may fail the batch: its commit is done."""
        self._done(batch, decided.results)
        self._cache.keep(decided.states)
        self._cache.keep_facts(decided.facts)

    def _recover(self, batch: list[_Unit[object]], error: BaseException) -> None:
        try:
            if isinstance(error, Unavailable):  # the database is gone: nothing is durable
                self._fail(batch, error)
            elif _is_driver_connection_error(error):  # the same, met on the driver's own cursor
                self._fail(batch, DatabaseUnavailable(f"database unreachable: {error}"))
            elif len(batch) == 1:
                self._fail(batch, _as_refusal(error))
            else:
                for unit in batch:  # find the culprit: each command alone
                    unit.error = unit.result = None
                    self._commit_late([unit])
        finally:
            self._done(batch, [])

    def _lock(
        self,
        conn: Connection,
        grant_ids: list[str],
        *,
        while_waiting: Callable[[], None] | None = None,
    ) -> Facts | None:
        """Take the append lock; on PostgreSQL the ledger-wide facts and the versions of
        ``grant_ids`` come in the same round trip, and ``while_waiting`` runs if the lock is
        held by another (``EventStore.lock``)."""
        if conn.dialect.name != "postgresql":
            self._store.lock(conn)
            return None
        found = self._store.lock(
            conn, then=loader.facts_probe(self._tables, grant_ids), while_waiting=while_waiting
        )
        assert found is not None
        return loader.facts_of(found)

    def _keys_by_index(self, source: str) -> bool:
        """Whether a group decided early leaves ``source``'s natural keys to the unique index
        (``UnitOfWork.known_lines``) instead of reading them first: yes, unless the source sent
        a line again lately, when reading first is cheaper than a failed flush."""
        return self._resending.get(source, 0.0) < time.monotonic()

    def _resent(self, sources: set[str]) -> None:
        until = time.monotonic() + _RESENDING_FOR
        for source in sources:
            self._resending[source] = until

    def _decide(
        self,
        conn: Connection,
        batch: list[_Unit[object]],
        facts: Facts | None = None,
        *,
        keys_by_index: Callable[[str], bool] | None = None,
    ) -> _Open:
        uow = UnitOfWork(
            conn, self._store, self._tables, self._cache, facts=facts, keys_by_index=keys_by_index
        )
        for unit in batch:
            if unit.prepare is not None:
                unit.prepare(uow)
        answers: list[tuple[_Unit[object], Callable[[], object]]] = []
        for unit in batch:
            try:
                answers.append((unit, unit.work(uow)))
            except LedgerError as e:  # this command's refusal: it recorded nothing
                unit.error = e
            # Anything else (a lost connection, a bug) ends the whole transaction.
        return _Open(batch, uow, answers)

    def _flush(self, conn: Connection, opened: _Open) -> _Decided:
        """Append and project a decided group, under the lock."""
        self._expire_keys(conn)
        uow = opened.uow
        uow.flush()
        results = [(unit, answer()) for unit, answer in opened.answers]
        uow.flush_answers()
        return _Decided(results, uow.states(), uow.facts_to_keep())

    def _done(
        self, batch: list[_Unit[object]], results: list[tuple[_Unit[object], object]]
    ) -> None:
        for unit, result in results:  # only now: the commit made them durable
            unit.result = result
        for unit in batch:
            unit.done = True
            if unit.future is None:
                unit.wake.set()
            elif unit.future.done():  # answered already (a command retried alone, below)
                pass
            elif unit.error is not None:
                unit.future.set_exception(unit.error)
            else:
                unit.future.set_result(unit.result)

    def _fail(self, batch: list[_Unit[object]], error: BaseException) -> None:
        for unit in batch:
            unit.error = error
            unit.result = None

    def _expire_keys(self, conn: Connection) -> None:
        """Forget idempotency keys past their retention, at most once per sweep interval."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_INTERVAL
        idem.expire(conn, self._retention)


# Writer threads of submitted commands: one commits while the other decides.
_WRITERS = 2

# A group of fewer lines is decided under the lock: its decisions cost less than the checks
# and the smaller groups that deciding early brings (single-line posts, measured).
_EARLY_LINES = 64


# The unique indexes a key sent again, or used by another process meanwhile, runs into
# (migrations name them); SQLite names their columns instead.
_KEY_INDEXES = frozenset({"uq_spend_lines_natural_key", "pk_idempotency_keys"})
_KEY_COLUMNS = frozenset(
    {
        "UNIQUE constraint failed: spend_lines.line_id, spend_lines.source",
        "UNIQUE constraint failed: idempotency_keys.scope, idempotency_keys.key",
    }
)


def _again(batch: list[_Unit[object]]) -> list[_Unit[object]]:
    """The batch, its early refusals forgotten: they are decided again."""
    for unit in batch:
        unit.error = None
    return batch


# How long a source that sent a line again has its keys read first in groups decided early: an
# import sent twice sends many batches again, and each would otherwise fail its first flush.
_RESENDING_FOR = 600.0


# A sweep deletes by the created_at index; once in a while per process is plenty.
_SWEEP_INTERVAL = 600.0


def _as_refusal(error: BaseException) -> BaseException:
    """A value the database refused, as the one command's 422; anything else as it is."""
    if isinstance(error, LedgerError):
        return error
    if isinstance(error, DataError | OverflowError) or _is_driver_data_error(error):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        return InvalidInput(
            f"a value cannot be stored: {reason[0] if reason else type(error).__name__}",
            reason=reason[0] if reason else type(error).__name__,
        )
    return error


def _is_key_taken(error: BaseException) -> bool:
    """A natural key or an Idempotency-Key already stored: its unique index refused the row
    (met through SQLAlchemy or on the driver's own COPY)."""
    cause = getattr(error, "orig", None) if isinstance(error, IntegrityError) else error
    diag = getattr(cause, "diag", None)
    if diag is None:
        return str(cause) in _KEY_COLUMNS
    return getattr(diag, "constraint_name", None) in _KEY_INDEXES


def _is_driver_connection_error(error: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.OperationalError)


def _is_driver_data_error(error: BaseException) -> bool:
    # COPY runs on the driver's own cursor, so its errors are not wrapped by SQLAlchemy.
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.DataError)
