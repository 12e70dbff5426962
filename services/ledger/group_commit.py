"""Group commit: concurrent writers of one process share one transaction, one lock, one fsync.

Appends are serialized by the append lock anyway (the chain is one sequence), so a process that
runs each single-line post in its own transaction spends most of the lock's time waiting for
its own commit.  Here the first waiting thread leads: it decides every queued command against
one ``UnitOfWork`` (a refused command records nothing, so it fails alone), flushes their events
in one append, commits once, and hands each caller its own result or error.  A result is only
returned after the commit that made it durable; if that commit fails, every command in it fails.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.engine import Engine

from ledger.db import write_transaction
from ledger.errors import LedgerError
from ledger.projections.tables import ProjectionTables
from ledger.store import EventStore
from ledger.unit_of_work import UnitOfWork

T = TypeVar("T")


# A command's work: decide and record in the unit of work, return how to answer after flush.
Work = Callable[[UnitOfWork], Callable[[], T]]


@dataclass(eq=False)
class _Unit(Generic[T]):
    work: Work[T]
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: T | None = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(
        self, engine: Engine, store: EventStore, tables: ProjectionTables, max_batch: int = 64
    ) -> None:
        self._engine = engine
        self._store = store
        self._tables = tables
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._queue: deque[_Unit[object]] = deque()
        self._leading = False

    def run(self, work: Work[T]) -> T:
        unit: _Unit[T] = _Unit(work)
        with self._mutex:
            self._queue.append(unit)  # type: ignore[arg-type]
            lead = not self._leading
            self._leading = True
        if not lead:
            unit.wake.wait()
        if not unit.done:  # we lead: commit batches until our own unit is in one
            self._lead(unit)
        if unit.error is not None:
            raise unit.error
        return unit.result  # type: ignore[return-value]

    def _lead(self, own: _Unit[T]) -> None:
        while not own.done:
            with self._mutex:
                n = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(n)]
            self._commit(batch)
        with self._mutex:  # hand the lead to the next waiter, if any
            if self._queue:
                self._queue[0].wake.set()
            else:
                self._leading = False

    def _commit(self, batch: list[_Unit[object]]) -> None:
        try:
            with write_transaction(self._engine) as conn:
                self._store.lock(conn)
                uow = UnitOfWork(conn, self._store, self._tables)
                answers: list[tuple[_Unit[object], Callable[[], object]]] = []
                for unit in batch:
                    try:
                        answers.append((unit, unit.work(uow)))
                    except LedgerError as e:  # this command's refusal: it recorded nothing
                        unit.error = e
                    # Anything else (a lost connection, a bug) ends the whole transaction.
                uow.flush()
                for unit, answer in answers:
                    unit.result = answer()
                uow.flush_answers()
        except BaseException as e:  # the commit itself failed: nothing in the batch is durable
            for unit in batch:
                if unit.error is None:
                    unit.error = e
                    unit.result = None
        finally:
            for unit in batch:
                unit.done = True
                unit.wake.set()
