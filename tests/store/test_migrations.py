"""Alembic owns the schema: the migrations produce exactly the tables the code uses."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from ledger import migrate
from ledger.domain import commands as cmd
from ledger.schema import metadata
from tests.support.ledger import Ledger, assert_replay_identical, kr, line, recorded_at

G = "g-2022"


def test_migrations_match_the_code_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_reaches_head(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.is_at_head(engine)


def test_postings_move_between_their_shapes_without_changing_an_answer(
    engine: Engine,
) -> None:
    """Rule: an as-of balance is the sum of the postings booked up to a day, a known-at one of
    those recorded up to an instant; both answers stay across ``0008_days`` (day sums per
    movement) and ``0009_lines`` (a spend line's posting on its row), down and up again."""
    ledger = Ledger(engine)
    ledger.register(G, [cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "9916", "HOSPA")])
    ledger.allocate(G, "a1", "nara", kr(400_000))
    spent = ledger.spend(
        line("9916", kr(1_000), date(2022, 3, 1), activity="a1"),
        line("9916", -kr(200), date(2022, 3, 1), activity="a1"),  # a credit line
        line("9916", kr(50), date(2022, 3, 1)),  # unclassified, on the area
        line("9916", kr(70), date(2022, 4, 2), activity="a1"),
    )
    reversed_ = ledger.reverse(spent.lines[3].transaction_id, date(2022, 4, 20))
    ledger.classify(spent.lines[2].transaction_id, "a1")
    days = [date(2022, 2, 28), date(2022, 3, 1), date(2022, 4, 2), date(2022, 12, 31)]
    before = {d: ledger.figures(G, as_of=d) for d in days}
    instants = [recorded_at(spent), recorded_at(reversed_)]
    known = {t: ledger.figures(G, known_at=t) for t in instants}
    # before the reversal and the classification: the unclassified 50 is spent on the area
    assert known[instants[0]].spent == kr(1_000) - kr(200) + kr(50) + kr(70)

    migrate.downgrade(engine, "0005_write")
    with engine.connect() as conn:
        per_account = conn.execute(
            sa.text(
                "SELECT account, SUM(delta) FROM daily_balances "
                "WHERE grant_id = :g AND day <= :d GROUP BY account"
            ),
            {"g": G, "d": date(2022, 3, 1)},
        ).all()
    spent_march = {a: int(v) for a, v in per_account if v}
    # 1 000 − 200 on a1, and the 50 classified onto a1 (as of its booking day)
    assert spent_march["spent:a1"] == kr(850)
    assert spent_march["budget:a1"] == -kr(850)  # allocated on the decision day, 4 May

    with engine.connect() as conn:
        postings = conn.execute(sa.text("SELECT COUNT(*) FROM postings")).scalar_one()
    # Every posting is a row again: the grant's awards, the allocation, four lines, the
    # reversal and the classification's two.
    assert postings == 1 + 1 + 4 + 1 + 2

    migrate.upgrade(engine)
    assert {d: ledger.figures(G, as_of=d) for d in days} == before
    assert {t: ledger.figures(G, known_at=t) for t in instants} == known
    assert_replay_identical(engine)


def test_events_by_type_are_found_alike_with_and_without_spend_in_the_type_index(
    engine: Engine,
) -> None:
    """Rule: the global log filtered by type answers the same events whichever shape the type
    index has (``0010_type_index`` leaves spend lines out of it on PostgreSQL), down and up."""
    ledger = Ledger(engine)
    ledger.register(G, [cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "9916", "HOSPA")])
    ledger.allocate(G, "a1", "nara", kr(400_000))
    ledger.spend(*(line("9916", kr(10 + i), date(2022, 3, 1), activity="a1") for i in range(3)))
    ledger.allocate(G, "a2", "nara", kr(1_000))

    def by_type() -> dict[str, list[int]]:
        return {
            t: [e.position for e in ledger.queries.events(event_types=(t,), limit=100)]
            for t in ("SpendRecorded", "ActivityAllocated", "GrantRegistered")
        }

    now = by_type()
    assert [len(now[t]) for t in ("SpendRecorded", "ActivityAllocated", "GrantRegistered")] == [
        3,
        2,
        1,
    ]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            definition = conn.execute(
                sa.text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_events_type_position'"
                )
            ).scalar_one()
        assert "WHERE ((event_type)::text <> 'SpendRecorded'" in definition
    migrate.downgrade(engine, "0009_lines")
    assert by_type() == now
    migrate.upgrade(engine)
    assert by_type() == now
