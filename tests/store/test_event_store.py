"""The event store contract, run against SQLite and PostgreSQL alike (DESIGN §2)."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import threading
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ledger.db import read_transaction, write_transaction
from ledger.errors import ConcurrencyError
from ledger.store import GENESIS_HASH, EventStore, NewEvent
from ledger.store import verify as chain_walk
from ledger.store.eventstore import StreamAppend
from ledger.store.schema import events
from tests.support import workers

store = EventStore()
META = {"actor": "test", "role": "admin"}


def _append(engine: Engine, stream: str, expected: int, n: int = 1) -> None:
    with write_transaction(engine) as conn:
        store.append(
            conn,
            stream,
            expected,
            [NewEvent("Ticked", {"n": i, "text": "åäö"}, 1, date(2022, 3, 31)) for i in range(n)],
            META,
        )


def _positions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT position FROM events ORDER BY 1"))]


def test_append_then_read_stream_in_version_order(engine: Engine) -> None:
    _append(engine, "grant-a", 0, 3)
    _append(engine, "grant-b", 0, 1)
    _append(engine, "grant-a", 3, 2)
    with read_transaction(engine) as conn:
        got = list(store.read_stream(conn, "grant-a"))
    assert [e.stream_version for e in got] == [1, 2, 3, 4, 5]
    assert [e.position for e in got] == [1, 2, 3, 5, 6]
    assert got[0].data == {"n": 0, "text": "åäö"}
    assert got[0].meta == META
    assert got[0].effective_date == date(2022, 3, 31)
    assert got[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(got[:3]))
    assert got[0].recorded_at.tzinfo is not None


def test_stale_expected_version_is_refused_and_writes_nothing(engine: Engine) -> None:
    _append(engine, "grant-a", 0, 2)

    def both() -> None:
        with write_transaction(engine) as conn:
            # A good append to another stream in the same transaction must vanish too.
            store.append(conn, "grant-b", 0, [NewEvent("Ticked", {})], META)
            store.append(conn, "grant-a", 1, [NewEvent("Ticked", {})], META)

    with pytest.raises(ConcurrencyError) as caught:
        both()
    assert caught.value.expected == 1
    assert caught.value.actual == 2
    assert "grant-a" in caught.value.detail
    assert _positions(engine) == [1, 2]


def test_several_streams_in_one_transaction_get_consecutive_positions(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        stored = store.append_many(
            conn,
            [
                StreamAppend("grant-a", 0, [NewEvent("X", {}), NewEvent("Y", {})]),
                StreamAppend("grant-b", 0, [NewEvent("Z", {})]),
            ],
            META,
        )
    assert [(e.stream_id, e.stream_version, e.position) for e in stored] == [
        ("grant-a", 1, 1),
        ("grant-a", 2, 2),
        ("grant-b", 1, 3),
    ]
    assert store.verify(engine).ok


def test_read_page_filters_by_stream_and_type(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        store.append(conn, "grant-a", 0, [NewEvent("X", {}), NewEvent("Y", {})], META)
        store.append(conn, "periods", 0, [NewEvent("PeriodClosed", {"period": "2022-03"})], META)
    with read_transaction(engine) as conn:
        assert [e.position for e in store.read_page(conn, after=1, limit=10)] == [2, 3]
        assert [e.position for e in store.read_page(conn, stream_id="periods")] == [3]
        assert [e.event_type for e in store.read_page(conn, event_types=["Y"])] == ["Y"]
        assert [e.position for e in store.read_page(conn, limit=1)] == [1]


def test_verify_accepts_an_untouched_chain(engine: Engine) -> None:
    for v in range(0, 10, 2):
        _append(engine, "grant-a", v, 2)
    result = store.verify(engine)
    assert result.ok
    assert result.checked == 10
    assert result.head_position == 10


def test_verify_on_an_empty_store(engine: Engine) -> None:
    result = store.verify(engine)
    assert result.ok
    assert result.checked == 0
    assert result.head_hash == GENESIS_HASH


@pytest.mark.parametrize("statement", ["UPDATE events SET meta = data", "DELETE FROM events"])
def test_database_refuses_update_and_delete(engine: Engine, statement: str) -> None:
    _append(engine, "grant-a", 0, 2)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert _positions(engine) == [1, 2]


def test_database_refuses_truncate(engine: Engine) -> None:
    _append(engine, "grant-a", 0, 1)
    statement = "TRUNCATE events" if engine.dialect.name == "postgresql" else "DELETE FROM events"
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert _positions(engine) == [1]


def _tamper(engine: Engine, *statements: str) -> None:
    """What a superuser can do: switch the guard off, change rows, switch it on again."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE events DISABLE TRIGGER USER"))
            for s in statements:
                conn.execute(sa.text(s))
            conn.execute(sa.text("ALTER TABLE events ENABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER events_no_update"))
            conn.execute(sa.text("DROP TRIGGER events_no_delete"))
            for s in statements:
                conn.execute(sa.text(s))


def test_verify_finds_an_edited_row_at_its_position(engine: Engine) -> None:
    _append(engine, "grant-a", 0, 6)
    _tamper(engine, "UPDATE events SET data = '{\"n\": 99}' WHERE position = 4")
    result = store.verify(engine)
    assert not result.ok
    assert result.first_bad_position == 4
    assert result.checked == 3


def test_verify_finds_a_deleted_row_by_the_gap(engine: Engine) -> None:
    _append(engine, "grant-a", 0, 5)
    _tamper(engine, "DELETE FROM events WHERE position = 3")
    result = store.verify(engine)
    assert result.first_bad_position == 3
    assert "deleted" in (result.reason or "")


def test_verify_finds_an_inserted_row(engine: Engine) -> None:
    _append(engine, "grant-a", 0, 2)
    with engine.connect() as conn:
        row = conn.execute(sa.select(events).where(events.c.position == 2)).mappings().one()
    forged = dict(row, position=3, stream_version=3, prev_hash=row["hash"], hash="f" * 64)
    with engine.begin() as conn:
        conn.execute(events.insert(), [forged])
    result = store.verify(engine)
    assert result.first_bad_position == 3


def test_verify_finds_a_recomputed_but_relinked_row(engine: Engine) -> None:
    """Editing a row and fixing its own hash still breaks the link of the next row."""
    _append(engine, "grant-a", 0, 3)
    _tamper(engine, "UPDATE events SET hash = 'aaaa' WHERE position = 2")
    result = store.verify(engine)
    assert result.first_bad_position == 2


def test_concurrent_processes_on_one_stream_exactly_one_wins_per_version(
    database_url: str, engine: Engine
) -> None:
    ctx = mp.get_context("spawn")
    with ctx.Pool(4) as pool:
        wins = pool.starmap(
            workers.race_one_stream, [(database_url, "grant-x", 15, w) for w in range(4)]
        )
    with read_transaction(engine) as conn:
        stored = list(store.read_stream(conn, "grant-x"))
    assert sum(wins) == len(stored)
    assert [e.stream_version for e in stored] == list(range(1, len(stored) + 1))
    assert store.verify(engine).ok


def test_concurrent_processes_on_many_streams_keep_positions_gap_free(
    database_url: str, engine: Engine
) -> None:
    ctx = mp.get_context("spawn")
    with ctx.Pool(4) as pool:
        written = pool.starmap(
            workers.append_many_streams, [(database_url, w, 20) for w in range(4)]
        )
    positions = _positions(engine)
    assert positions == list(range(1, sum(written) + 1))
    assert store.verify(engine).ok


def test_a_reader_paging_by_position_never_skips_a_later_commit(engine: Engine) -> None:
    """Pages read while writers commit are contiguous: no lower position appears later."""
    done = threading.Event()

    def writer(n: int) -> None:
        for i in range(40):
            _append(engine, f"grant-{n}", i, 1)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    seen: list[int] = []
    after = 0
    while True:
        with engine.connect() as conn:
            page = store.read_page(conn, after=after, limit=7)
        seen.extend(e.position for e in page)
        if page:
            after = page[-1].position
        elif done.is_set():
            break
        if all(not t.is_alive() for t in threads):
            done.set()
    assert seen == list(range(1, 121))


@pytest.mark.parametrize(
    ("statement", "bad"),
    [
        (None, None),
        ("UPDATE events SET data = '{\"n\": 7}' WHERE position = 9", 9),
        ("DELETE FROM events WHERE position = 13", 13),
        ("DELETE FROM events WHERE position = 1", 1),
    ],
)
@pytest.mark.parametrize("by", ["threads", "processes"])
def test_verify_in_parallel_ranges_finds_what_one_walk_finds(
    engine: Engine,
    statement: str | None,
    bad: int | None,
    by: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ranges checked by separate threads (each with its own connection) or processes are
    joined where they meet: the same verdict as one walk."""
    if by == "processes":  # a chain this short is checked by threads unless told otherwise
        monkeypatch.setattr(chain_walk, "PARALLEL_FROM", 10)
    _append(engine, "grant-a", 0, 20)
    if statement:
        _tamper(engine, statement)
    alone = store.verify(engine, workers=1)
    together = store.verify(engine, workers=2)
    assert (together.ok, together.first_bad_position) == (alone.ok, alone.first_bad_position)
    assert together.first_bad_position == bad
    if bad is None:
        assert together.checked == alone.checked == 20
        assert together.head_hash == alone.head_hash
