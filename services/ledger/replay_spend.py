"""Replay of spend lines, set-based: their projection rows computed by SQL from the events table.

A ``SpendRecorded`` event writes a ``spend_lines`` row holding its one posting, and the sums
(see ``projections.projector.apply``).  Here each of those is one ``INSERT … SELECT`` over a
range of positions instead of a decode and an ``apply`` per event.  The posting still comes from
``accounts.transfers``: it is called once per distinct placement (area, activity, cost object,
sign of the amount) on a probe event, and the SQL scales its transfer by each line's amount.
That holds because a spend line makes one transfer proportional to its amount, which is checked
here for every placement; if ``transfers`` or the projector change shape, the replay diff shows
it at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.domain.accounts import transfers
from ledger.domain.events import SpendRecorded
from ledger.projections.projector import ProjectionError
from ledger.projections.tables import ProjectionTables
from ledger.store.schema import events

SPEND = sa.and_(
    events.c.event_type == SpendRecorded.event_type,
    events.c.schema_version == SpendRecorded.schema_version,
)

_data = events.c.data


def _text(key: str) -> sa.ColumnElement[Any]:
    text: sa.ColumnElement[Any] = _data[key].as_string()
    return text


def _amount() -> sa.ColumnElement[Any]:
    return sa.cast(_text("amount"), sa.BigInteger)


def _sign() -> sa.ColumnElement[Any]:
    return sa.case((_amount() > 0, 1), (_amount() < 0, -1), else_=0)


def _in_range(after: int, until: int) -> sa.ColumnElement[bool]:
    return sa.and_(SPEND, events.c.position > after, events.c.position <= until)


def _booked_on(conn: Connection) -> sa.ColumnElement[Any]:
    # SQLite keeps dates as the ISO text the event carries; PostgreSQL casts it.
    return sa.cast(_text("booked_on"), sa.Date) if _postgres(conn) else _text("booked_on")


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


_DIGEST_FIELDS = (
    "source",
    "line_id",
    "voucher",
    "booked_on",
    "amount",
    "cost_object",
    "activity",
    "account",
    "kind",
    "text",
)


def _content_hash(conn: Connection) -> sa.ColumnElement[Any]:
    """``projector.line_digest`` of the line: sha256 of the JSON list of its ten fields."""
    if not _postgres(conn):
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.create_function("gl_line_digest", 10, _sqlite_digest, deterministic=True)
        return sa.func.gl_line_digest(
            *(_amount() if f == "amount" else _text(f) for f in _DIGEST_FIELDS)
        )
    # The same bytes orjson writes: to_json escapes strings as it does (", \, \b \f \n \r \t,
    # other controls as lowercase \u00xx, the rest as UTF-8).
    parts: list[sa.ColumnElement[Any]] = []
    for f in _DIGEST_FIELDS:
        if f == "amount":
            parts.append(sa.cast(_amount(), sa.Text))
        else:
            parts.append(
                sa.func.coalesce(sa.cast(sa.func.to_json(_text(f)), sa.Text), sa.literal("null"))
            )
    listed: sa.ColumnElement[Any] = sa.literal("[")
    for i, p in enumerate(parts):
        listed = listed + (sa.literal(",") if i else sa.literal("")) + p
    listed = listed + sa.literal("]")
    return sa.func.encode(sa.func.sha256(sa.func.convert_to(listed, "UTF8")), "hex")


def _sqlite_digest(*values: Any) -> str:
    content = list(values)
    content[3] = date.fromisoformat(content[3]).isoformat()
    return hashlib.sha256(orjson.dumps(content)).hexdigest()


def rebuild_spend(
    conn: Connection, t: ProjectionTables, after: int, until: int, *, empty: bool = False
) -> int:
    """Project the spend lines of positions after..until; how many there were.

    It adds to the balance and day sums the postings of the range's spend lines (kept on their
    rows); ``apply`` adds those of the range's other events.  ``empty``: the sum tables have no
    rows (nor keys) yet, so the sums are inserted, not added.
    """
    placements = _placements(conn, after, until)
    try:
        with _hash_joins(conn):
            _insert_lines(conn, t, placements, after, until)
    finally:
        placements.drop(conn)
    lines = t.spend_lines
    inserted = conn.execute(
        sa.select(sa.func.count()).where(lines.c.position > after, lines.c.position <= until)
    ).scalar_one()
    if not inserted:
        return 0
    _add_sums(
        conn,
        t.account_balances,
        "balance",
        ["grant_id", "account"],
        _account_legs(t, after, until),
        empty=empty,
    )
    _add_sums(
        conn,
        t.daily_transfers,
        "amount",
        ["grant_id", "source", "target", "day"],
        _day_moves(t, after, until),
        empty=empty,
    )
    return int(inserted)


# The planner knows nothing of the events table after a bulk load (no ANALYZE yet: it guessed
# 58 rows for 20 000) nor of the placements (a temporary table): a hash join, not a nested loop
# that extracts every line's fields once per placement (336 against 143 ms for 20 000 lines).
@contextmanager
def _hash_joins(conn: Connection) -> Iterator[None]:
    if not _postgres(conn):
        yield
        return
    conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
    yield
    conn.exec_driver_sql("SET LOCAL enable_nestloop TO DEFAULT")  # the replay's other statements


def _insert_lines(
    conn: Connection, t: ProjectionTables, p: sa.Table, after: int, until: int
) -> None:
    """The range's ``spend_lines`` rows, each with the one posting its placement makes."""
    on = sa.and_(
        sa.func.coalesce(_text("area"), "") == p.c.area,
        sa.func.coalesce(_text("activity"), "") == p.c.activity,
        _text("cost_object") == p.c.cost_object,
        _sign() == p.c.sign,
    )
    conn.execute(
        t.spend_lines.insert().from_select(
            [c.name for c in t.spend_lines.columns],
            sa.select(
                _text("transaction_id"),
                _text("grant_id"),
                _text("source"),
                _text("line_id"),
                _text("voucher"),
                _booked_on(conn),
                _amount(),
                _text("cost_object"),
                _text("area"),
                _text("activity"),
                _text("account"),
                _text("kind"),
                _text("text"),
                sa.literal("recorded"),
                sa.null(),
                sa.null(),
                _content_hash(conn),
                events.c.position,
                p.c.source,
                p.c.target,
                events.c.recorded_at,
            )
            .select_from(events.join(p, on))
            .where(_in_range(after, until)),
        )
    )


def spend_versions(conn: Connection, after: int, until: int) -> dict[str, int]:
    """Each grant's last stream version among the spend lines of the range."""
    grant = _text("grant_id")
    rows = conn.execute(
        sa.select(grant, sa.func.max(events.c.stream_version))
        .where(_in_range(after, until))
        .group_by(grant)
    )
    return {g: int(v) for g, v in rows}


def _placements(conn: Connection, after: int, until: int) -> sa.Table:
    """A temporary table: each placement of the range with the transfers ``transfers`` makes."""
    table = sa.Table(
        "replay_placements",
        sa.MetaData(),
        sa.Column("area", sa.String(64), nullable=False),  # "" for none
        sa.Column("activity", sa.String(64), nullable=False),
        sa.Column("cost_object", sa.String(64), nullable=False),
        sa.Column("sign", sa.SmallInteger, nullable=False),
        sa.Column("seq", sa.SmallInteger, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("scale", sa.BigInteger, nullable=False),
        prefixes=["TEMPORARY"],
    )
    table.create(conn)
    found = conn.execute(
        sa.select(_text("area"), _text("activity"), _text("cost_object"), _sign())
        .where(_in_range(after, until))
        .distinct()
    ).all()
    rows = [
        {"area": area or "", "activity": activity or "", "cost_object": co, "sign": sign,
         "seq": seq, "source": source, "target": target, "scale": scale}
        for area, activity, co, sign in found
        for seq, (source, target, scale) in enumerate(_unit_transfers(area, activity, co, sign))
    ]  # fmt: skip
    if rows:
        conn.execute(table.insert(), rows)
    return table


def _unit_transfers(
    area: str | None, activity: str | None, cost_object: str, sign: int
) -> list[tuple[str, str, int]]:
    """The transfers of a line of amount ``sign``, checked to scale with the amount."""

    def probe(amount: int) -> list[tuple[str, str, int]]:
        line = SpendRecorded(
            grant_id="", transaction_id="", source="", line_id="", voucher=None,
            booked_on=date(2000, 1, 1), amount=amount, cost_object=cost_object, area=area,
            activity=activity, account=None, kind="", text=None,
        )  # fmt: skip
        return [(x.source, x.target, x.amount) for x in transfers(line)]

    unit, scaled = probe(sign), probe(sign * 1_000_003)
    if len(unit) != 1:
        raise ProjectionError(
            f"a spend line on ({area}, {activity}, {cost_object}) makes {len(unit)} transfers: "
            "its spend_lines row holds exactly one"
        )
    if scaled != [(s, t, a * 1_000_003) for s, t, a in unit]:
        raise ProjectionError(
            f"the transfers of a spend line on ({area}, {activity}, {cost_object}) are not "
            "proportional to its amount: the set-based replay cannot rebuild them"
        )
    return unit


def _account_legs(t: ProjectionTables, after: int, until: int) -> sa.Subquery:
    """Both legs of each spend line's posting in the range: its target up, its source down."""
    lines = t.spend_lines
    in_range = sa.and_(lines.c.position > after, lines.c.position <= until)
    moved = sa.func.abs(lines.c.amount)
    return sa.union_all(
        sa.select(lines.c.grant_id, lines.c.posted_target.label("account"), moved.label("x")).where(
            in_range
        ),
        sa.select(
            lines.c.grant_id, lines.c.posted_source.label("account"), (-moved).label("x")
        ).where(in_range),
    ).subquery()


def _day_moves(t: ProjectionTables, after: int, until: int) -> sa.Subquery:
    """Each spend line's posting in the range as a movement on its booking day."""
    lines = t.spend_lines
    return (
        sa.select(
            lines.c.grant_id,
            lines.c.posted_source.label("source"),
            lines.c.posted_target.label("target"),
            lines.c.booked_on.label("day"),
            sa.func.abs(lines.c.amount).label("x"),
        )
        .where(lines.c.position > after, lines.c.position <= until)
        .subquery()
    )


def _add_sums(
    conn: Connection,
    table: sa.Table,
    column: str,
    keys: list[str],
    rows: sa.Subquery,
    *,
    empty: bool,
) -> None:
    """Add ``rows``' ``x`` summed per key to a sum table."""
    summed = (
        sa.select(*(rows.c[k] for k in keys), sa.func.sum(rows.c.x))
        .where(sa.true())  # SQLite: an upsert's SELECT needs a WHERE to parse
        .group_by(*(rows.c[k] for k in keys))
    )
    if empty:
        conn.execute(table.insert().from_select([*keys, column], summed))
        return
    if _postgres(conn):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(table).from_select([*keys, column], summed)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={column: table.c[column] + stmt.excluded[column]},
        )
    )
