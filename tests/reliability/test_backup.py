"""Backup and restore (issue 6 §6): export events → import into an empty database.

The demo year (seed 003 plan, receipts, a year of spend, a reversal, classifications, ten closed
months: every kind of event) is exported as JSON lines and imported into an empty database of
each backend and across them (SQLite → PostgreSQL, PostgreSQL → SQLite).  The copy has the same
events byte for byte (its own export is identical), the same head hash, and the same balances;
its projections replay identical.  A file whose chain is broken anywhere is refused naming the
line and position, and nothing at all is written, even after several batches were inserted.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import migrate
from ledger.db import create_engine
from ledger.demo import populate
from ledger.formats import backup
from ledger.formats import plan as plans
from ledger.formats.backup import (
    BrokenChainInFile,
    TargetNotEmpty,
    UnreadableLine,
    export_events,
    import_events,
)
from ledger.projections.tables import LIVE
from ledger.queries import LedgerQueries
from ledger.service import Actor, LedgerService
from ledger.store import EventStore
from ledger.store.chain import format_recorded_at
from ledger.store.schema import events
from tests.support.databases import fresh_database, postgres_reason
from tests.support.ledger import EXAMPLES, assert_books_balance, snapshot
from tests.support.servers import cli

PAIRS = [
    ("sqlite", "sqlite"),
    ("postgresql", "postgresql"),
    ("sqlite", "postgresql"),
    ("postgresql", "sqlite"),
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, bytes]]]:
    """The demo year on each backend, with its export: {backend: (url, exported bytes)}."""
    found: dict[str, tuple[str, bytes]] = {}
    with fresh_database("sqlite", tmp_path_factory.mktemp("backup")) as sqlite_url:
        found["sqlite"] = _demo(sqlite_url)
        if postgres_reason() is None:
            with fresh_database("postgresql", tmp_path_factory.mktemp("backup")) as pg_url:
                found["postgresql"] = _demo(pg_url)
                yield found
        else:
            yield found


def _demo(url: str) -> tuple[str, bytes]:
    engine = create_engine(url)
    migrate.upgrade(engine)
    parsed = plans.read(EXAMPLES / "god-och-nara-vard-2022.yaml")
    populate(LedgerService(engine), parsed, Actor("backup-test", "admin"))
    engine.dispose()
    return url, _export(url)


def _export(url: str) -> bytes:
    engine = create_engine(url)
    try:
        out = io.BytesIO()
        export_events(engine, out)
        return out.getvalue()
    finally:
        engine.dispose()


@pytest.fixture
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    backend = request.param
    if backend == "postgresql" and postgres_reason() is not None:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        yield engine
        engine.dispose()


def _balances(engine: Engine) -> list[Any]:
    queries = LedgerQueries(engine, EventStore())
    return [(b.grant_id, b.figures) for b in queries.balances()] + [
        (b.grant_id, b.figures) for b in queries.balances(as_of=date(2022, 6, 30))
    ]


def _value(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(v, datetime):
        return format_recorded_at(v)
    return repr(v)


def _tables(engine: Engine) -> dict[str, list[tuple[str, ...]]]:
    """Every row of events and of every projection, alike on both backends (JSON key order
    and the time zone of a timestamp are how a database stores them, not what they say)."""
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(_value(v) for v in row) for row in conn.execute(sa.select(t)))
            for t in (events, *LIVE.all())
        }


def _nothing_written(engine: Engine) -> None:
    with engine.connect() as conn:
        for table in (events, *LIVE.all()):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0, (
                f"{table.name} has rows after a refused import"
            )


@pytest.mark.parametrize(
    ("source", "empty"), PAIRS, indirect=["empty"], ids=[f"{a}-to-{b}" for a, b in PAIRS]
)
def test_export_then_import_gives_the_same_ledger(
    sources: dict[str, tuple[str, bytes]], source: str, empty: Engine
) -> None:
    if source not in sources:
        pytest.skip("PostgreSQL unavailable")
    url, exported = sources[source]
    lines = exported.splitlines(keepends=True)
    assert len(lines) > 250
    assert {orjson.loads(x)["event_type"] for x in lines} >= {
        "GrantRegistered",
        "ActivityAllocated",
        "ReceiptRecorded",
        "SpendRecorded",
        "SpendReversed",
        "SpendClassified",
        "PeriodClosed",
    }

    summary = import_events(empty, io.BytesIO(exported))
    assert summary.events == len(lines)

    # Same events, column for column: the copy's own export is the same bytes.
    assert _export(str(empty.url.render_as_string(hide_password=False))) == exported
    verified = EventStore().verify(empty)
    assert verified.ok
    assert verified.head_hash == orjson.loads(lines[-1])["hash"]
    assert verified.head_position == len(lines) == summary.head_position

    source_engine = create_engine(url)
    try:
        assert _balances(empty) == _balances(source_engine)
        assert _tables(empty) == _tables(source_engine)
    finally:
        source_engine.dispose()
    assert_books_balance(empty)  # accounts sum to zero, chain verifies, replay identical


def _edit(lines: list[bytes], index: int, **changes: Any) -> list[bytes]:
    obj = orjson.loads(lines[index])
    for key, value in changes.items():
        if key.startswith("data."):
            obj["data"][key[5:]] = value
        else:
            obj[key] = value
    return [*lines[:index], orjson.dumps(obj) + b"\n", *lines[index + 1 :]]


Breaker = Callable[[list[bytes]], list[bytes]]

BROKEN: dict[str, tuple[Breaker, int, int, str]] = {
    # name: (how the file is broken, the line and position the refusal must name, words)
    "edited-amount": (lambda ls: _edit(ls, 199, **{"data.amount": 1}), 200, 200, "altered"),
    "edited-actor": (lambda ls: _edit(ls, 120, meta={"actor": "mallory"}), 121, 121, "altered"),
    "line-deleted": (lambda ls: ls[:150] + ls[151:], 151, 151, "missing"),
    "lines-swapped": (lambda ls: [*ls[:80], ls[81], ls[80], *ls[82:]], 81, 81, "missing"),
    "first-line-missing": (lambda ls: ls[1:], 1, 1, "missing"),
    "hash-relinked": (lambda ls: _edit(ls, 230, prev_hash="0" * 64), 231, 231, "link"),
}


@pytest.mark.parametrize("name", list(BROKEN))
@pytest.mark.parametrize("empty", ["sqlite", "postgresql"], indirect=True)
def test_a_broken_chain_is_refused_naming_line_and_position_and_nothing_is_written(
    sources: dict[str, tuple[str, bytes]],
    empty: Engine,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backup, "BATCH", 40)  # several batches are in before the break
    breaks, line_no, position, words = BROKEN[name]
    lines = breaks(sources["sqlite"][1].splitlines(keepends=True))
    with pytest.raises(BrokenChainInFile) as refused:
        import_events(empty, iter(lines))
    assert refused.value.line == line_no
    assert refused.value.position == position
    assert words in refused.value.reason
    assert f"line {line_no}" in refused.value.detail
    _nothing_written(empty)


@pytest.mark.parametrize("empty", ["sqlite"], indirect=True)
def test_an_unreadable_line_is_refused_naming_it(
    sources: dict[str, tuple[str, bytes]], empty: Engine
) -> None:
    lines = sources["sqlite"][1].splitlines(keepends=True)
    for broken, words in (
        ([*lines[:10], lines[10][:40] + b"\n", *lines[11:]], "not JSON"),
        ([*lines[:10], b"[1, 2]\n", *lines[11:]], "not a JSON object"),
        (_edit(lines, 10, position="11"), "integer"),
        (_edit(lines, 10, recorded_at="yesterday"), "isoformat"),
        (_edit(lines, 10, colour="red"), "unknown: colour"),
    ):
        with pytest.raises(UnreadableLine) as refused:
            import_events(empty, iter(broken))
        assert refused.value.line == 11
        assert words in refused.value.reason
        _nothing_written(empty)


@pytest.mark.parametrize("empty", ["sqlite", "postgresql"], indirect=True)
def test_import_into_a_database_that_is_not_empty_is_refused(
    sources: dict[str, tuple[str, bytes]], empty: Engine
) -> None:
    exported = sources["sqlite"][1]
    import_events(empty, io.BytesIO(exported))
    before = snapshot(empty)
    with pytest.raises(TargetNotEmpty):
        import_events(empty, io.BytesIO(exported))
    assert snapshot(empty) == before


def test_the_cli_exports_and_imports_across_backends(
    sources: dict[str, tuple[str, bytes]], tmp_path: Path
) -> None:
    if postgres_reason() is not None:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    url, exported = sources["sqlite"]
    file = tmp_path / "events.jsonl"
    done = cli("export", "events", "--output", str(file), database_url=url)
    assert done.returncode == 0, done.stderr
    assert file.read_bytes() == exported
    assert not (tmp_path / "events.jsonl.partial").exists()
    to_stdout = cli("export", "events", database_url=url)
    assert to_stdout.stdout.encode() == exported
    count = len(exported.splitlines())
    assert f"exported {count} events" in " ".join(done.stderr.split())

    with fresh_database("postgresql", tmp_path) as target:
        imported = cli("import", "events", str(file), database_url=target)
        assert imported.returncode == 0, imported.stderr
        assert f"imported {count} events" in imported.stdout
        replayed = cli("replay", database_url=target)
        assert "identical" in replayed.stdout

    lines = exported.splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join(_edit(lines, 99, **{"data.amount": 7})))
    with fresh_database("postgresql", tmp_path) as target:
        refused = cli("import", "events", str(broken), database_url=target)
        assert refused.returncode == 1
        message = " ".join(refused.stderr.split())
        assert "line 100" in message, message
        assert "position 100" in message, message
        engine = create_engine(target)
        try:
            _nothing_written(engine)
        finally:
            engine.dispose()
