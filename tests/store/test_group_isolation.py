"""Group commit keeps every command its own (issue 16 §0, §1, §4), through ``LedgerService``.

Commands are forced into one group by holding the append lock from another transaction while
they queue, then letting go: the leader's next transaction decides them all together.

- An Idempotency-Key is claimed when its command is decided: the same key twice in one group
  records once and both callers get the first answer; another body is the key-reused refusal.
- A value no database can store is refused as the one command's 422 before the flush.
- A group whose flush fails runs each command again alone: only the culprit fails.
- Stored answers are compact (deflated, with their headers) and expire after the retention.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.db import write_transaction
from ledger.domain import commands as cmd
from ledger.domain import errors
from ledger.errors import IdempotencyKeyReused, InvalidInput
from ledger.service import (
    Command,
    Idempotency,
    LedgerService,
    NaturalKeyConflict,
    PostSpend,
    Replayed,
    Result,
)
from ledger.store import EventStore
from ledger.store import idempotency as idem
from ledger.store.idempotency import StoredAnswer
from ledger.store.schema import idempotency_keys
from ledger.store.storable import Unstorable
from tests.support.ledger import ADMIN, POSTER, Ledger, decision, kr, line

G = "g-2022"


@pytest.fixture
def ledger(engine: Engine) -> Ledger:
    ledger = Ledger(engine)
    ledger.register(G, [cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "9916", "HOSPA")])
    ledger.allocate(G, "a1", "nara", kr(400_000))
    return ledger


def _render(result: Result) -> StoredAnswer:
    body = {"lines": [[o.line_id, o.transaction_id] for o in result.lines], "v": result.version}
    return StoredAnswer(201, orjson.dumps(body), {"ETag": f'"{result.version}"'})


@contextmanager
def _held_lock(engine: Engine) -> Iterator[None]:
    """Hold the append lock in another transaction: writers queue until the block ends."""
    with write_transaction(engine) as conn:
        EventStore().lock(conn)
        yield


def _in_one_group(
    ledger: Ledger, calls: list[Callable[[], object]]
) -> list[object | BaseException]:
    """Run ``calls`` concurrently so that they queue behind the held lock and share a group."""
    pool = ThreadPoolExecutor(len(calls) + 1)
    try:
        with _held_lock(ledger.engine):
            # A first caller leads and waits for the lock; the others queue behind it.
            lead: Future[object] = pool.submit(
                ledger.service.execute,
                PostSpend("lead", (line("9916", kr(1), date(2022, 5, 2)),)),
                POSTER,
            )
            time.sleep(0.2)
            futures = [pool.submit(c) for c in calls]
            time.sleep(0.3)
        lead.result(timeout=60)
        answers: list[object | BaseException] = []
        for f in futures:
            try:
                answers.append(f.result(timeout=60))
            except BaseException as e:
                answers.append(e)
        return answers
    finally:
        pool.shutdown()


def _receipts(ledger: Ledger, reference: str) -> int:
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT data FROM events WHERE event_type = 'ReceiptRecorded'")
        ).scalars()
        return sum(
            1
            for data in rows
            if (orjson.loads(data) if isinstance(data, str) else data)["reference"] == reference
        )


def test_one_key_twice_in_one_group_records_once_and_answers_alike(ledger: Ledger) -> None:
    """Rule: exactly once under retries, also when the retries share a group commit."""
    receipt = cmd.RecordReceipt(G, kr(500), date(2022, 6, 1), "U-1")
    key = Idempotency("poster", "erp-retry-1", "hash-1", _render)
    other = Idempotency("poster", "erp-retry-1", "hash-2", _render)

    def send(k: Idempotency) -> Callable[[], object]:
        return lambda: ledger.service.execute(receipt, POSTER, idempotency=k)

    answers = _in_one_group(ledger, [send(key), send(key), send(key), send(other)])
    first, *replays, reused = answers
    assert isinstance(first, Result)
    assert all(isinstance(r, Replayed) for r in replays)
    assert all(r.answer == first.answer for r in replays if isinstance(r, Replayed))
    assert first.answer is not None
    assert first.answer.headers == {"ETag": f'"{first.version}"'}
    assert isinstance(reused, IdempotencyKeyReused)
    assert _receipts(ledger, "U-1") == 1


def test_a_value_no_database_can_store_fails_its_command_alone(ledger: Ledger) -> None:
    """Rule: one client's bad request never fails another's (NUL text, a 65-bit integer)."""
    bad_text = PostSpend("erp", (line("9916", kr(1), date(2022, 5, 2), voucher="A\x00B"),))
    good = [PostSpend("erp", (line("9916", kr(10 + i), date(2022, 5, 2)),)) for i in range(5)]

    def run(c: Command) -> Callable[[], object]:
        return lambda: ledger.service.execute(c, POSTER)

    answers = _in_one_group(ledger, [run(good[0]), run(bad_text), *map(run, good[1:])])
    assert isinstance(answers[1], Unstorable)
    assert answers[1].fields["field"] == "SpendRecorded.voucher"
    assert all(isinstance(a, Result) for i, a in enumerate(answers) if i != 1)


def test_a_group_whose_flush_fails_retries_each_command_alone(ledger: Ledger, backend: str) -> None:
    """Rule: a group's failure is retried command by command, so only the culprit fails.

    PostgreSQL refuses a text longer than its column at the flush, after every guard; SQLite
    stores any length, so there is no such value to send it.
    """
    if backend != "postgresql":
        pytest.skip("SQLite stores text of any length: no value fails only at its flush")
    too_long = PostSpend("erp", (line("9916", kr(1), date(2022, 5, 2), text="x" * 1001),))
    good = [PostSpend("erp", (line("9916", kr(20 + i), date(2022, 5, 2)),)) for i in range(5)]

    def run(c: Command) -> Callable[[], object]:
        return lambda: ledger.service.execute(c, POSTER)

    before = ledger.event_count()
    answers = _in_one_group(ledger, [run(good[0]), run(too_long), *map(run, good[1:])])
    assert isinstance(answers[1], InvalidInput)
    assert "cannot be stored" in answers[1].detail
    assert all(isinstance(a, Result) for i, a in enumerate(answers) if i != 1)
    assert ledger.event_count() == before + 1 + len(good)  # the lead's line and the good ones


def test_a_stored_answer_is_deflated_and_keeps_its_headers(ledger: Ledger) -> None:
    """A 5 000-line answer is stored in a fraction of its size, and replays byte for byte."""
    lines = tuple(line("9916", kr(1), date(2022, 5, 2), line_id=f"Z{i:05d}") for i in range(5000))
    key = Idempotency("poster", "big-batch", "hash-big", _render)
    first = ledger.service.execute(PostSpend("erp", lines), POSTER, idempotency=key)
    assert isinstance(first, Result)
    assert first.answer is not None
    with ledger.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.length(idempotency_keys.c.body))).scalar_one()
    assert stored < len(first.answer.body) * 0.6
    again = ledger.service.execute(PostSpend("erp", lines), POSTER, idempotency=key)
    assert isinstance(again, Replayed)
    assert again.answer == first.answer


def test_keys_past_the_retention_expire_and_younger_ones_stay(ledger: Ledger) -> None:
    """A retry within the retention always replays; afterwards the key may be forgotten."""
    receipt = cmd.RecordReceipt(G, kr(5), date(2022, 6, 1), "U-old")
    old = Idempotency("poster", "old-key", "h-old", _render)
    young = Idempotency("poster", "young-key", "h-young", _render)
    ledger.service.execute(receipt, POSTER, idempotency=old)
    ledger.service.execute(replace_reference(receipt, "U-young"), POSTER, idempotency=young)
    with ledger.engine.begin() as conn:
        conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.key == "old-key")
            .values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
    with write_transaction(ledger.engine) as conn:
        assert idem.expire(conn, timedelta(days=30)) == 1
    assert isinstance(
        ledger.service.execute(replace_reference(receipt, "U-young"), POSTER, idempotency=young),
        Replayed,
    )
    # The forgotten key is a new request now.
    assert isinstance(ledger.service.execute(receipt, POSTER, idempotency=old), Result)


def replace_reference(receipt: cmd.RecordReceipt, reference: str) -> cmd.RecordReceipt:
    return replace(receipt, reference=reference)


def test_the_leader_sweeps_expired_keys(engine: Engine) -> None:
    """The retention setting reaches the write path: a group sweeps keys older than it."""
    ledger = Ledger(engine)
    ledger.register(G, [cmd.AreaSpec("nara", "Nära vård", kr(1_000), "9916", "HOSPA")])
    with engine.begin() as conn:
        conn.execute(
            idempotency_keys.insert().values(
                scope="poster",
                key="ancient",
                request_hash="h",
                status_code=201,
                body=b"{}",
                created_at=datetime.now(UTC) - timedelta(days=2),
            )
        )
    service = LedgerService(engine, idempotency_retention=timedelta(days=1))
    service.execute(cmd.RecordReceipt(G, kr(1), date(2022, 6, 1), "U"), POSTER)
    with engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys)).scalar()
    assert left == 0


def test_a_kept_state_is_never_decided_against_after_another_process_wrote(
    ledger: Ledger,
) -> None:
    """Rule 1 across processes: each process keeps the states it committed, but decides only
    against one whose version is still the grant's; another process's write makes it reload."""
    one, other = LedgerService(ledger.engine), LedgerService(ledger.engine)

    def allocation(code: str, amount: int) -> cmd.AllocateActivity:
        return cmd.AllocateActivity(G, code, "nara", code, amount, "HOSPA", decision())

    one.execute(allocation("x1", kr(300_000)), POSTER)  # kept by `one`: 300 000 left
    other.execute(allocation("x2", kr(300_000)), POSTER)  # `other` took the rest
    with pytest.raises(errors.OverAllocation) as refused:
        one.execute(allocation("x3", kr(1)), POSTER)
    assert refused.value.available == 0


def test_kept_periods_and_routes_follow_another_processes_writes(ledger: Ledger) -> None:
    """Rules 5 and the closed month across processes: kept facts are reloaded once they moved."""
    one, other = LedgerService(ledger.engine), LedgerService(ledger.engine)
    may = PostSpend("erp", (line("9916", kr(1), date(2022, 5, 2)),))
    assert isinstance(one.execute(may, POSTER), Result)  # `one` keeps periods and routes
    other.execute(cmd.ClosePeriod("2022-05"), ADMIN)
    with pytest.raises(errors.UnplaceableSpend) as refused:
        one.execute(PostSpend("erp", (line("9916", kr(1), date(2022, 5, 3)),)), POSTER)
    assert [e.code for e in refused.value.errors] == ["closed-period"]
    other.execute(
        cmd.RegisterGrant(
            "h-2022",
            "Annan",
            "Staten",
            decision(),
            date(2022, 1, 1),
            date(2022, 12, 31),
            (cmd.AreaSpec("annan", "Annan", kr(1_000), "9950", "HOSPA"),),
        ),
        ADMIN,
    )
    routed = one.execute(PostSpend("erp", (line("9950", kr(1), date(2022, 6, 1)),)), POSTER)
    assert isinstance(routed, Result)
    assert routed.lines[0].grant_id == "h-2022"


def test_a_group_s_lines_are_looked_up_together_and_still_see_each_other(
    ledger: Ledger,
) -> None:
    """Rule: a (source, line_id) is recorded once.  A group looks all its commands' keys up in
    one query before deciding; lines recorded by earlier commands of the group, and lines
    recorded before it, are still seen as they are."""
    before = line("9916", kr(3), date(2022, 5, 2), line_id="X-0")
    recorded_before = ledger.spend(before, source="erp").lines[0].transaction_id
    same = line("9916", kr(5), date(2022, 5, 2), line_id="X-1")
    changed = replace(same, amount=kr(6))
    fresh = line("9916", kr(7), date(2022, 5, 2), line_id="X-2")

    def post(*lines: object) -> Callable[[], object]:
        return lambda: ledger.service.execute(PostSpend("erp", tuple(lines)), POSTER)  # type: ignore[arg-type]

    first, second, conflict, again, new = _in_one_group(
        ledger, [post(same), post(same), post(changed), post(before), post(fresh)]
    )
    assert isinstance(first, Result)
    assert isinstance(second, Result)
    assert [o.status for o in first.lines] == ["recorded"]
    assert [(o.status, o.transaction_id) for o in second.lines] == [
        ("duplicate", first.lines[0].transaction_id)
    ]
    assert isinstance(conflict, NaturalKeyConflict)
    assert isinstance(again, Result)
    assert [(o.status, o.transaction_id) for o in again.lines] == [("duplicate", recorded_before)]
    assert isinstance(new, Result)
    assert [o.status for o in new.lines] == ["recorded"]
