"""Database URLs as people write them, and engines that behave the same on both backends.

Users write ``sqlite:///path`` or ``postgresql://user@host:port/db``; we pick the driver
(psycopg 3 for PostgreSQL) so nobody has to know SQLAlchemy's ``+driver`` syntax.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from ledger.errors import BadDatabaseUrl, DatabaseUnavailable, InvalidInput

_DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}


def normalize_url(raw: str) -> URL:
    """Parse a database URL as a person writes it and choose our driver for it."""
    try:
        url = make_url(raw.strip())
    except ArgumentError as e:
        raise BadDatabaseUrl(
            f"cannot parse database URL {_redact(raw)!r}: expected sqlite:///path or "
            "postgresql://user@host:port/dbname",
            url=_redact(raw),
        ) from e
    backend = url.drivername.split("+", 1)[0]
    if backend not in _DRIVERS:
        raise BadDatabaseUrl(
            f"unsupported database {backend!r} in {_redact(raw)!r}: use sqlite or postgresql",
            url=_redact(raw),
        )
    if backend == "sqlite" and url.database in (None, ""):
        raise BadDatabaseUrl(
            "a SQLite URL needs a file path: sqlite:///grantledger.db", url=_redact(raw)
        )
    if backend != "sqlite" and not url.database:
        raise BadDatabaseUrl(
            f"{_redact(raw)!r} names no database: postgresql://user@host:port/dbname",
            url=_redact(raw),
        )
    return url.set(drivername=_DRIVERS[backend])


def _redact(raw: str) -> str:
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except ArgumentError:
        return raw.split("@")[-1]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(raw_url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for a URL as people write it; SQLite gets WAL and real transactions."""
    url = normalize_url(raw_url)
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            url,
            echo=echo,
            json_serializer=_dumps,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
        )
        _make_sqlite_transactional(engine)
        return engine
    return sa.create_engine(
        url,
        echo=echo,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No ping per checkout (a round trip per request): a connection the server dropped fails
        # its first use, is invalidated, and that request answers 503 with Retry-After.
        pool_pre_ping=False,
        connect_args={"connect_timeout": 10},
    )


def _make_sqlite_transactional(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, issue BEGIN, so transactions are real.

    A write transaction begins IMMEDIATE: it takes SQLite's write lock at the start, which is
    what serializes appends there (the chain and positions follow commit order) and avoids
    the deadlock of two readers upgrading to writers at once.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("grantledger_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_sqlite(conn_or_engine: Connection | Engine) -> bool:
    return conn_or_engine.dialect.name == "sqlite"


@contextmanager
def translate_errors(what: str = "database") -> Iterator[None]:
    """Re-raise a lost or refused connection as ours, naming what failed and why."""
    try:
        yield
    except SQLAlchemyTimeoutError as e:  # every pooled connection busy: overload, not a bug
        raise DatabaseUnavailable(
            f"{what} busy: no connection free in time", reason="pool exhausted"
        ) from e
    except DataError as e:  # a value the database cannot hold (a NUL byte in text, …)
        raise InvalidInput(
            f"a value cannot be stored or compared: {_first_line(e)}", reason=_first_line(e)
        ) from e
    except OperationalError as e:
        if _is_connection_error(e):
            raise DatabaseUnavailable(
                f"{what} unreachable: {_first_line(e)}", reason=_first_line(e)
            ) from e
        raise


def _is_connection_error(e: DBAPIError) -> bool:
    if e.connection_invalidated:
        return True
    text = str(e.orig).lower()
    return any(
        s in text
        for s in ("connection", "could not connect", "server closed", "unable to open database")
    )


def _first_line(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it holds the write lock from its first statement."""
    with translate_errors(), engine.connect() as conn:
        conn = conn.execution_options(grantledger_write=True)
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only unit of work: one consistent snapshot.

    REPEATABLE READ on PostgreSQL, so the several statements of one answer (a grant, its areas,
    its balances) all see the same commits; SQLite's read transactions are snapshots already.
    """
    with translate_errors(), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def driver_rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one PostgreSQL statement on the driver's cursor in the caller's transaction.

    For the few statements every group commit runs (the lock, the head, the probes): SQLAlchemy
    Core builds, caches by key and wraps each execution, which costs more CPU than the round trip
    itself while the append lock is held.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(sql, params)
        if pipelined(conn):  # a row-returning statement: its answer (and description) waits
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
        return cursor.fetchall() if cursor.description is not None else []


@contextmanager
def one_round_trip(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, what ``bulk_insert`` and the projector's sums send inside this block goes
    in one psycopg pipeline: sent as it comes, answered together when the block ends (a fetch
    inside, like the head's, waits for what was sent before it).  For a small flush: each COPY
    costs two round trips of its own, which the append lock waits on.  Elsewhere: nothing."""
    if conn.dialect.name != "postgresql":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.pipeline():
        conn.info[_PIPELINED] = True
        try:
            yield
        finally:
            conn.info.pop(_PIPELINED, None)


def pipelined(conn: Connection) -> bool:
    """Whether ``one_round_trip`` is open on ``conn`` (its statements must not sync)."""
    return bool(conn.info.get(_PIPELINED))


_PIPELINED = "grantledger_pipelined"


def bulk_insert(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    count: int | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Insert many rows (tuples in ``columns`` order) in the caller's transaction: COPY on
    PostgreSQL, executemany elsewhere.

    psycopg's executemany sends one statement per row; COPY streams them in one command, which
    is what makes batch ingest approach the speed of the raw table.  ``rows`` may be a generator
    that makes each row as it is written (then ``count`` says how many it makes): COPY ships
    every 32 KiB, so the server inserts the first rows while the caller computes the rest.
    ``meanwhile`` runs once the rows are made and sent, before the insert is waited for: the
    caller's next Python work, done while the server is still inserting (COPY only; elsewhere
    it simply runs after the insert).
    """
    if pipelined(conn):
        _insert_pipelined(conn, table, tuple(columns), rows)
        if meanwhile is not None:
            meanwhile()
        return
    if count is None or conn.dialect.name != "postgresql" or count < _COPY_THRESHOLD:
        rows = list(rows)
        count = len(rows)
    if not count or conn.dialect.name != "postgresql" or count < _COPY_THRESHOLD:
        if count:
            conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
        if meanwhile is not None:
            meanwhile()
        return
    as_text = _as_text(table, tuple(columns))
    names = ", ".join(f'"{c}"' for c in columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    # Text, not binary: the server inserts a text COPY's rows as they arrive (a buffer at a
    # time), so it works while this process still makes the later rows and runs
    # ``meanwhile``; a binary COPY's rows are buffered until 1 000 have come or the COPY ends
    # (PostgreSQL counts a buffer's bytes by its text line, which binary rows leave empty), so
    # every insert of a group's COPY waited for its end.
    sql = f'COPY "{table.name}" ({names}) FROM STDIN'
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(_texted(row, as_text) if as_text else row)
        if meanwhile is not None:
            meanwhile()


def _insert_pipelined(
    conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: Iterable[Sequence[Any]]
) -> None:
    """The rows as one INSERT each, queued in the open pipeline (COPY cannot run in one)."""
    sql = _pipelined_insert(table, columns)
    as_text = _as_text(table, columns)
    params = [_texted(row, as_text) for row in rows]
    if not params:
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.executemany(sql, params)


@lru_cache(maxsize=64)
def _pipelined_insert(table: sa.Table, columns: tuple[str, ...]) -> str:
    json_at = {i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)}
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("%s::jsonb" if i in json_at else "%s" for i in range(len(columns)))
    return f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'


def _json_text(value: Any) -> str:
    # An orjson.Fragment (JSON encoded once, where it was hashed) goes as it is; None is JSON's
    # null, as SQLAlchemy stores it on SQLite.
    return orjson.dumps(value).decode()


# A group's rows share one instant and a year's days, and psycopg's text dumpers cost 0.7 µs a
# date and 1.9 µs an aware datetime (measured): each distinct value is spelled once, in the ISO
# form PostgreSQL reads whatever its DateStyle.
@lru_cache(maxsize=4096)
def _day_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@lru_cache(maxsize=256)
def _instant_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# Where in a row a value goes as text made here, and what makes it.
_AsText = tuple[tuple[int, Callable[[Any], str | None]], ...]


def _texted(row: Sequence[Any], as_text: _AsText) -> list[Any]:
    values = list(row)
    for i, text in as_text:
        values[i] = text(values[i])
    return values


@lru_cache(maxsize=64)
def _as_text(table: sa.Table, columns: tuple[str, ...]) -> _AsText:
    """The columns whose values go as text made here (COPY and the pipelined INSERT take every
    other value as psycopg adapts it): JSON as its JSON text, days and instants cached."""
    found: list[tuple[int, Callable[[Any], str | None]]] = []
    for i, c in enumerate(columns):
        kind = table.c[c].type
        if isinstance(kind, sa.JSON):
            found.append((i, _json_text))
        elif isinstance(kind, sa.DateTime):
            found.append((i, _instant_text))
        elif isinstance(kind, sa.Date):
            found.append((i, _day_text))
    return tuple(found)


# Below this a plain INSERT is as quick and keeps statement logs readable.
_COPY_THRESHOLD = 8
