"""Replay (DESIGN §4): the live projections equal a rebuild from the events, on both databases.

Spend lines are rebuilt set-based in SQL and every other event through the projector, so these
tests pin that the two agree with the write path on every kind of line (activity, area, shared
cost object, credit, reversed, classified; texts any finance system may send), that a changed
projection row is reported, and that two replays running at once never disturb each other
(issue 16 §7: they used to drop each other's scratch tables).
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.domain import commands as cmd
from ledger.projections.tables import LIVE
from ledger.replay import ReplayReport, replay
from tests.support.ledger import PLANNER, Ledger, decision, kr, line

G = "r-2022"
# Quotes, backslashes, controls, non-ASCII and a line separator: the content hash of a line
# rebuilt in SQL must be byte for byte the one the write path computed in Python.
TEXTS = ['"citat" \\ snedstreck', "tab\there\nny rad\x01\x1f", "Åsa Öberg – ∑ 😀 \u2028", None]


@pytest.fixture
def ledger(engine: Engine) -> Ledger:
    ledger = Ledger(engine)
    ledger.register(
        G,
        [
            cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "9916", "HOSPA"),
            cmd.AreaSpec("delad-a", "E-hälsa", kr(50_000), "9942", "Regionstab"),
            cmd.AreaSpec("delad-b", "Ambulans", kr(50_000), "9942", "Controller"),
        ],
    )
    ledger.allocate(G, "a1", "nara", kr(400_000))
    ledger.allocate(G, "da", "delad-a", kr(50_000))
    first = ledger.spend(
        *(
            line("9916", kr(10 + i), date(2022, 1 + i, 3), activity="a1", text=t)
            for i, t in enumerate(TEXTS)
        ),
        line("9916", kr(7), date(2022, 3, 3)),  # on the area, unclassified
        line("9942", kr(5), date(2022, 3, 4), voucher='V "9942"'),  # shared: unplaced
        line("9916", -kr(3), date(2022, 3, 5), activity="a1"),  # a credit line
        line("9942", kr(4), date(2022, 3, 6), account=None),
    )
    tx = [o.transaction_id for o in first.lines]
    ledger.classify(tx[-1], "da")
    ledger.classify(tx[5], "da")
    ledger.reverse(tx[0], date(2022, 4, 1))
    ledger.spend(line("9916", kr(2), date(2022, 6, 1), activity="a1"))
    ledger.run(cmd.CloseYear(G, 2022, decision("RS bokslut", date(2023, 2, 1))), PLANNER)
    return ledger


def _identical(report: ReplayReport) -> None:
    assert report.identical, report.differences


def test_replay_rebuilds_every_kind_of_line_identically(ledger: Ledger) -> None:
    report = replay(ledger.engine)
    _identical(report)
    assert report.events == ledger.event_count()
    assert report.position == report.events


def test_replay_names_a_projection_row_that_differs_from_the_events(ledger: Ledger) -> None:
    lines, balances = LIVE.spend_lines, LIVE.account_balances
    with ledger.engine.begin() as conn:
        tx = conn.execute(sa.select(lines.c.transaction_id).limit(1)).scalar_one()
        conn.execute(lines.update().where(lines.c.transaction_id == tx).values(text="ändrad"))
        conn.execute(
            balances.update()
            .where(balances.c.account == "spent:a1")
            .values(balance=balances.c.balance + 1)
        )
    report = replay(ledger.engine)
    changed = {d.table: d for d in report.differences}
    assert set(changed) == {"spend_lines", "account_balances"}
    assert (changed["spend_lines"].only_live, changed["spend_lines"].only_replayed) == (1, 1)
    assert any("ändrad" in e for e in changed["spend_lines"].examples)


def test_a_replay_started_during_another_leaves_the_first_intact(ledger: Ledger) -> None:
    """Issue 16 §7: the second replay's scratch tables are its own, made and dropped alone."""
    inner: list[ReplayReport] = []

    def meanwhile(_count: int) -> None:
        if not inner:  # the first replay holds its rebuilt tables here, not yet diffed
            inner.append(replay(ledger.engine))

    _identical(replay(ledger.engine, progress=meanwhile))
    [second] = inner
    _identical(second)


def test_concurrent_replays_each_prove_the_projections(ledger: Ledger) -> None:
    start = threading.Barrier(3)
    reports: list[ReplayReport] = []
    failures: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            reports.append(replay(ledger.engine))
        except BaseException as e:  # reported by the assertion below
            failures.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert len(reports) == 3
    for r in reports:
        _identical(r)
