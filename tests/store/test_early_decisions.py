"""Spend decided before the append lock (``GroupCommit``, ``UnitOfWork.rebase``), raced by
another process's writes between the decision and the lock.

Two ``LedgerService``s on one database stand for the two server workers.  A held append lock
orders them: the other process's command queues for the lock first; then a batch of spend
(enough lines to be decided early) is decided and queues behind it; the lock is let go, the
other commits, and the batch meets a ledger that moved since it was decided.

- Another process's spend moved the grant: the batch is appended after it, at the stream's new
  version, and every figure equals a rebuild from the events (rule: decided against current
  state; the chain and the versions gap-free).
- Another process recorded one of the batch's natural keys meanwhile: the batch is decided
  again and the line answers ``duplicate`` (rule: a line is recorded once per natural key).
- Another process changed what placement reads (an allocation): decided again, under the lock.

PostgreSQL only: SQLite's writer holds the write lock from its first statement, so no write
can come between a decision and its append there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.db import write_transaction
from ledger.domain import commands as cmd
from ledger.projections import projector
from ledger.service import LedgerService, PostSpend, Result
from ledger.store import EventStore
from tests.support.ledger import (
    PLANNER,
    POSTER,
    Ledger,
    assert_replay_identical,
    decision,
    kr,
    line,
)

G = "g-2022"
EARLY = 80  # lines: a batch decided before the lock (over the group commit's threshold)


@pytest.fixture
def ledger(engine: Engine, backend: str) -> Ledger:
    if backend != "postgresql":
        pytest.skip("SQLite's writer holds the write lock from its first statement")
    ledger = Ledger(engine)
    ledger.register(G, [cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "9916", "HOSPA")])
    ledger.allocate(G, "a1", "nara", kr(400_000))
    return ledger


def _waiting_for_the_lock(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        )


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "no writer queued for the append lock"
        time.sleep(0.02)


def _raced(
    engine: Engine, other: Callable[[], object], batch: Callable[[], object]
) -> tuple[Result, Result]:
    """``other`` takes the append lock before ``batch`` does, and after ``batch`` decided;
    both answers."""
    pool = ThreadPoolExecutor(2)
    try:
        with write_transaction(engine) as conn:
            EventStore().lock(conn)
            first = pool.submit(other)
            _until(lambda: _waiting_for_the_lock(engine) == 1)
            second = pool.submit(batch)  # decides now, then queues for the lock
            _until(lambda: _waiting_for_the_lock(engine) == 2)
        before, after = first.result(timeout=60), second.result(timeout=60)
    finally:
        pool.shutdown()
    assert isinstance(before, Result)
    assert isinstance(after, Result)
    return before, after


def _batch(n: int, *extra: cmd.SpendLine) -> PostSpend:
    lines = tuple(line("9916", kr(100 + i), date(2022, 5, 2)) for i in range(n))
    return PostSpend("erp", (*extra, *lines))


def _spent(ledger: Ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT coalesce(sum(amount), 0) FROM spend_lines WHERE grant_id = :g"),
                {"g": G},
            ).scalar_one()
        )


def test_spend_decided_early_is_appended_after_another_process_spend(ledger: Ledger) -> None:
    """Rule: every command decided against current state; versions gap-free, replay equal."""
    other = LedgerService(ledger.engine)  # the other worker
    single = PostSpend("erp", (line("9916", kr(7), date(2022, 5, 3)),))
    batch = _batch(EARLY)
    _, after = _raced(
        ledger.engine,
        lambda: other.execute(single, POSTER),
        lambda: ledger.service.execute(batch, POSTER),
    )
    assert [o.status for o in after.lines] == ["recorded"] * EARLY
    versions = [e.stream_version for e in ledger.events(stream_id=f"grant-{G}")]
    assert versions == list(range(1, len(versions) + 1))
    assert _spent(ledger) == kr(7) + sum(kr(100 + i) for i in range(EARLY))
    # Both processes go on from what they keep: each sees the other's lines.
    more = ledger.service.execute(_batch(EARLY), POSTER)
    again = other.execute(PostSpend("erp", (line("9916", kr(9), date(2022, 5, 4)),)), POSTER)
    assert isinstance(more, Result)
    assert isinstance(again, Result)
    assert _spent(ledger) == kr(16) + 2 * sum(kr(100 + i) for i in range(EARLY))
    assert_replay_identical(ledger.engine)


def test_a_natural_key_recorded_meanwhile_answers_duplicate(ledger: Ledger) -> None:
    """Rule: a line is recorded once per (source, line_id), also when two processes race."""
    other = LedgerService(ledger.engine)
    shared = line("9916", kr(55), date(2022, 5, 3), line_id="ERP-RACE-1")
    batch = _batch(EARLY, shared)
    recorded, after = _raced(
        ledger.engine,
        lambda: other.execute(PostSpend("erp", (shared,)), POSTER),
        lambda: ledger.service.execute(batch, POSTER),
    )
    dup = after.lines[0]
    assert (dup.line_id, dup.status) == ("ERP-RACE-1", "duplicate")
    assert dup.transaction_id == recorded.lines[0].transaction_id
    assert [o.status for o in after.lines[1:]] == ["recorded"] * EARLY
    assert _spent(ledger) == kr(55) + sum(kr(100 + i) for i in range(EARLY))
    assert_replay_identical(ledger.engine)


def test_a_plan_change_meanwhile_has_the_batch_decided_again(ledger: Ledger) -> None:
    """Rule 4/5: placement is decided against the grant as it is when the batch is appended."""
    other = LedgerService(ledger.engine)
    # An activity allocated meanwhile: lines booked on it are placed only if decided after it.
    allocate = cmd.AllocateActivity(
        grant_id=G,
        code="a2",
        area="nara",
        name="Ny aktivitet",
        amount=kr(1_000),
        responsible="Lena",
        decision=decision(),
    )
    on_new = line("9916", kr(3), date(2022, 5, 3), activity="a2")
    batch = _batch(EARLY, on_new)
    _, after = _raced(
        ledger.engine,
        lambda: other.execute(allocate, PLANNER),
        lambda: ledger.service.execute(batch, POSTER),
    )
    assert [o.status for o in after.lines] == ["recorded"] * (EARLY + 1)
    assert ledger.activity(G, "a2").spent == kr(3)
    assert_replay_identical(ledger.engine)


def test_a_process_decides_its_next_batch_while_the_last_waits_to_commit(ledger: Ledger) -> None:
    """Rule: exactly once per natural key, versions gap-free, also when one process has two
    batches decided before the lock at once (``GroupCommit``'s two writer threads), the second
    repeating a line of the first."""
    shared = line("9916", kr(31), date(2022, 5, 3), line_id="ERP-TWICE-1")
    batches = [_batch(EARLY, shared), _batch(EARLY, shared), _batch(EARLY), _batch(EARLY)]
    with write_transaction(ledger.engine) as conn:
        EventStore().lock(conn)
        futures = [ledger.service.submit(batches[0], POSTER)]
        _until(lambda: _waiting_for_the_lock(ledger.engine) == 1)
        # The first group is decided and waits; the next one is decided meanwhile.
        futures += [ledger.service.submit(b, POSTER) for b in batches[1:]]
        _until(lambda: _waiting_for_the_lock(ledger.engine) == 2)
    answers = [f.result(timeout=60) for f in futures]
    assert all(isinstance(a, Result) for a in answers)
    first, second = answers[0], answers[1]
    assert isinstance(first, Result)
    assert isinstance(second, Result)
    assert (first.lines[0].status, second.lines[0].status) == ("recorded", "duplicate")
    assert second.lines[0].transaction_id == first.lines[0].transaction_id
    for answer in answers:
        assert isinstance(answer, Result)
        assert [o.status for o in answer.lines[-EARLY:]] == ["recorded"] * EARLY
    versions = [e.stream_version for e in ledger.events(stream_id=f"grant-{G}")]
    assert versions == list(range(1, len(versions) + 1))
    assert _spent(ledger) == kr(31) + 4 * sum(kr(100 + i) for i in range(EARLY))
    assert_replay_identical(ledger.engine)


def test_a_batch_waiting_for_the_lock_works_out_its_projection_meanwhile(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The append lock waits only for what positions decide: a batch decided early that finds
    the lock taken works out its projection (line rows, sums) while it waits; with the lock
    free, while the server inserts its events.  Once either way, and every figure equals a
    rebuild from the events (rule: projections are the events' sums)."""
    planned_while_held: list[bool] = []
    held = threading.Event()
    real = projector.Plan.of.__func__  # type: ignore[attr-defined]

    def spy(cls: type[projector.Plan], *args: object) -> projector.Plan:
        planned_while_held.append(held.is_set())
        return real(cls, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(projector.Plan, "of", classmethod(spy))
    pool = ThreadPoolExecutor(1)
    try:
        with write_transaction(ledger.engine) as conn:
            EventStore().lock(conn)
            held.set()
            waiting = pool.submit(ledger.service.execute, _batch(EARLY), POSTER)
            _until(lambda: _waiting_for_the_lock(ledger.engine) == 1)
            held.clear()
        assert isinstance(waiting.result(timeout=60), Result)
    finally:
        pool.shutdown()
    assert planned_while_held == [True]

    assert isinstance(ledger.service.execute(_batch(EARLY), POSTER), Result)
    assert planned_while_held == [True, False]
    assert _spent(ledger) == 2 * sum(kr(100 + i) for i in range(EARLY))
    assert_replay_identical(ledger.engine)
