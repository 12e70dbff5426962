"""The write path's own guarantees (DESIGN §2), through ``LedgerService`` on SQLite and PostgreSQL.

One transaction per command: a refusal writes nothing; a spend batch is atomic across grants and
names every bad line; a line sent again is recognised by (source, line_id); a stale stream version
and a reused Idempotency-Key are refused; routing by cost object refuses overlaps (rule 5); every
event carries who asked and on which decision (rule 7).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date

import orjson
import pytest
from sqlalchemy.engine import Engine

from ledger.domain import commands as cmd
from ledger.domain import errors
from ledger.errors import ConcurrencyError, Conflict, IdempotencyKeyReused, LedgerError
from ledger.service import (
    ClassifyTransaction,
    Command,
    Idempotency,
    NaturalKeyConflict,
    PostSpend,
    Replayed,
    Result,
    ReverseTransaction,
)
from ledger.store.idempotency import StoredAnswer
from tests.support.ledger import (
    ADMIN,
    PLANNER,
    POSTER,
    Ledger,
    assert_books_balance,
    decision,
    kr,
    line,
)

G, H = "g-2022", "h-2022"


@pytest.fixture
def ledger(engine: Engine) -> Ledger:
    """Two grants: G on 9916 (one area), 9917 (ring-fenced) and 9942 (two areas); H on 9950."""
    ledger = Ledger(engine)
    ledger.register(
        G,
        [
            cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "9916", "HOSPA"),
            cmd.AreaSpec("fenced", "Vidareutbildning", kr(100_000), "9917", "HR", ring_fenced=True),
            cmd.AreaSpec("delad-a", "E-hälsa", kr(50_000), "9942", "Regionstab"),
            cmd.AreaSpec("delad-b", "Ambulans", kr(50_000), "9942", "Controller"),
        ],
        repayment_reference="S2022/01234",
    )
    for code, area, amount in [
        ("a1", "nara", kr(400_000)),
        ("a2", "nara", kr(300_000)),
        ("f1", "fenced", kr(100_000)),
        ("da", "delad-a", kr(50_000)),
        ("db", "delad-b", kr(40_000)),
    ]:
        ledger.allocate(G, code, area, amount)
    ledger.register(H, [cmd.AreaSpec("annan", "Annan satsning", kr(200_000), "9950", "HOSPA")])
    ledger.allocate(H, "h1", "annan", kr(200_000))
    return ledger


# --- a refused command writes nothing ------------------------------------------------------

REFUSED: dict[str, tuple[Callable[[], Command], type[LedgerError]]] = {
    "over-allocation": (
        lambda: cmd.AllocateActivity(G, "a3", "nara", "x", kr("300000.01"), "x", decision()),
        errors.OverAllocation,
    ),
    "ring-fenced": (lambda: cmd.Reallocate(G, "f1", "a1", 1, "x", decision()), errors.RingFenced),
    "cross-area": (
        lambda: cmd.Reallocate(G, "da", "db", 1, "x", decision()),
        errors.CrossAreaReallocation,
    ),
    "insufficient-remaining": (
        lambda: cmd.Reallocate(G, "a2", "a1", kr("300000.01"), "x", decision()),
        errors.InsufficientRemaining,
    ),
    "exit-plan": (
        lambda: cmd.AllocateActivity(G, "ny", "nara", "x", 1, "x", decision(), True, None),
        errors.ExitPlanRequired,
    ),
    "decision-required": (
        lambda: cmd.AllocateActivity(G, "a3", "nara", "x", 1, "x", None),
        errors.DecisionRequired,
    ),
    "unknown-grant": (
        lambda: cmd.RecordReceipt("x-2022", 1, date(2022, 5, 1), "x"),
        errors.UnknownGrant,
    ),
    "unknown-area": (lambda: cmd.RepayUnspent(G, "nope", 1, date(2022, 5, 1)), errors.UnknownArea),
    "repayment-exceeds": (
        lambda: cmd.RepayUnspent(G, "nara", kr("300000.01"), date(2022, 5, 1)),
        errors.RepaymentExceedsUnallocated,
    ),
    "grant-exists": (
        lambda: cmd.RegisterGrant(
            H,
            "x",
            "x",
            decision(),
            date(2024, 1, 1),
            date(2024, 12, 31),
            (cmd.AreaSpec("x", "x", 1, "7777", "x"),),
        ),
        errors.GrantExists,
    ),
    "unplaceable-spend": (
        lambda: PostSpend("erp", (line("9999", kr(1), date(2022, 5, 1)),)),
        errors.UnplaceableSpend,
    ),
    "unknown-transaction": (
        lambda: ReverseTransaction("no-such-id", "x", date(2022, 5, 1)),
        errors.UnknownTransaction,
    ),
    "classify-unknown": (
        lambda: ClassifyTransaction("no-such-id", "a1", "x"),
        errors.UnknownTransaction,
    ),
    "close-year-outside-period": (
        lambda: cmd.CloseYear(G, 2023, decision()),
        errors.OutsideSpendPeriod,
    ),
    "invalid-period": (lambda: cmd.ClosePeriod("2022-13"), errors.InvalidPeriod),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refused_command_writes_nothing(ledger: Ledger, case: str) -> None:
    make, error = REFUSED[case]
    before = ledger.snapshot()
    count = ledger.event_count()
    with pytest.raises(error):
        ledger.run(make(), ADMIN)
    assert ledger.event_count() == count
    assert ledger.snapshot() == before


# --- spend batches -------------------------------------------------------------------------


def test_one_bad_line_refuses_the_batch_and_the_error_names_every_bad_line(
    ledger: Ledger,
) -> None:
    ledger.run(cmd.ClosePeriod("2022-02"), ADMIN)
    good = line("9916", kr(100), date(2022, 5, 2), activity="a1", line_id="good")
    bad = [
        line("9999", kr(1), date(2022, 5, 2), line_id="unknown-object"),
        line("9916", kr(1), date(2023, 1, 2), line_id="next-year"),
        line("9916", kr(1), date(2022, 2, 15), activity="a1", line_id="closed-feb"),
        line("9916", kr(1), date(2022, 5, 2), activity="a1", kind="investment", line_id="invest"),
        line("9916", kr(1), date(2022, 5, 2), kind="gåva", line_id="odd-kind"),
        line("9916", 0, date(2022, 5, 2), line_id="zero"),
        line("9916", kr(1), date(2022, 5, 2), activity="nope", line_id="no-activity"),
        line("9916", kr(1), date(2022, 5, 2), activity="da", line_id="other-object"),
        line("9950", kr(1), date(2022, 5, 2), activity="a1", line_id="other-grant"),
        line("9916", kr(2), date(2022, 5, 2), activity="a1", line_id="good"),  # twice in batch
    ]
    before = ledger.snapshot()
    with pytest.raises(errors.UnplaceableSpend) as refused:
        ledger.spend(good, *bad)
    found = {(e.line_id, e.field, e.code) for e in refused.value.errors}
    assert found == {
        ("unknown-object", "cost_object", "unknown-cost-object"),
        ("next-year", "booked_on", "outside-spend-period"),
        ("closed-feb", "booked_on", "closed-period"),
        ("invest", "kind", "investment-not-allowed"),
        ("odd-kind", "kind", "unknown-kind"),
        ("zero", "amount", "zero-amount"),
        ("no-activity", "activity", "unknown-activity"),
        ("other-object", "activity", "activity-not-on-cost-object"),
        ("other-grant", "activity", "unknown-activity"),
        ("good", "line_id", "duplicate-line-in-batch"),
    }
    assert {e.line_id for e in refused.value.errors} == {b.line_id for b in bad}
    assert refused.value.fields["errors"][0].keys() == {"line_id", "field", "reason", "code"}
    assert all(e.reason for e in refused.value.errors)
    assert ledger.snapshot() == before
    # The good line alone goes through.
    assert [o.status for o in ledger.spend(good).lines] == ["recorded"]


def test_a_batch_spanning_two_grants_appends_to_both_streams_atomically(ledger: Ledger) -> None:
    g_version = ledger.queries.stream_version(G)
    h_version = ledger.queries.stream_version(H)
    result = ledger.spend(
        line("9916", kr(1_000), date(2022, 5, 2), activity="a1"),
        line("9950", kr(2_000), date(2022, 5, 2), activity="h1"),
        line("9942", kr(3_000), date(2022, 5, 3)),
    )
    assert [o.grant_id for o in result.lines] == [G, H, G]
    assert {e.stream_id for e in result.events} == {f"grant-{G}", f"grant-{H}"}
    positions = [e.position for e in result.events]
    assert positions == list(range(positions[0], positions[0] + 3))
    assert len({e.recorded_at for e in result.events}) == 1  # one transaction, one clock
    assert ledger.queries.stream_version(G) == g_version + 2
    assert ledger.queries.stream_version(H) == h_version + 1
    assert ledger.activity(H, "h1").spent == kr(2_000)
    assert ledger.figures(G).spent == kr(4_000)
    assert ledger.figures(G).unclassified_spent == kr(3_000)

    # One bad line for H: nothing for G either.
    before = ledger.snapshot()
    with pytest.raises(errors.UnplaceableSpend) as refused:
        ledger.spend(
            line("9916", kr(1_000), date(2022, 5, 4), activity="a1"),
            line("9950", kr(1_000), date(2022, 5, 4), activity="h1", kind="investment"),
        )
    assert len(refused.value.errors) == 1
    assert ledger.snapshot() == before


def test_the_same_line_sent_again_is_a_duplicate_and_writes_nothing(ledger: Ledger) -> None:
    first = line("9916", kr("1234.56"), date(2022, 5, 2), activity="a1", line_id="V2022-00123-1")
    recorded = ledger.spend(first)
    [outcome] = recorded.lines
    count = ledger.event_count()
    again = ledger.spend(first)
    assert again.events == ()
    assert again.lines == (replace(outcome, status="duplicate"),)
    assert ledger.event_count() == count
    # A retried batch with one line new and one known records only the new one.
    second = line("9916", kr(10), date(2022, 5, 3), activity="a2", line_id="V2022-00123-2")
    mixed = ledger.spend(first, second)
    assert [o.status for o in mixed.lines] == ["duplicate", "recorded"]
    assert mixed.lines[0].transaction_id == outcome.transaction_id
    assert len(mixed.events) == 1
    assert ledger.activity(G, "a1").spent == kr("1234.56")
    # The same line_id under another source is another line.
    assert ledger.spend(first, source="sie-import").lines[0].status == "recorded"


def test_a_line_stays_recognised_after_it_was_reversed_or_classified(ledger: Ledger) -> None:
    open_line = line("9942", kr(500), date(2022, 5, 2), line_id="open")
    wrong = line("9916", kr(700), date(2022, 5, 2), activity="a1", line_id="wrong")
    recorded = ledger.spend(open_line, wrong)
    tx = {o.line_id: o.transaction_id for o in recorded.lines}
    ledger.classify(tx["open"], "da")
    ledger.reverse(tx["wrong"], date(2022, 5, 3))
    count = ledger.event_count()
    again = ledger.spend(open_line, wrong)
    assert [(o.transaction_id, o.status) for o in again.lines] == [
        (tx["open"], "duplicate"),
        (tx["wrong"], "duplicate"),
    ]
    assert ledger.event_count() == count
    assert ledger.activity(G, "a1").spent == 0
    assert ledger.activity(G, "da").spent == kr(500)


def test_a_different_line_under_the_same_natural_key_is_a_409_conflict(ledger: Ledger) -> None:
    first = line("9916", kr(100), date(2022, 5, 2), activity="a1", line_id="V1")
    ledger.spend(first)
    before = ledger.snapshot()
    changed = [
        replace(first, amount=kr(101)),
        replace(first, activity="a2"),
        replace(first, booked_on=date(2022, 5, 3)),
        replace(first, text="ändrad"),
    ]
    for other in changed:
        fresh = line("9916", kr(1), date(2022, 5, 2), activity="a1", line_id="V-new")
        with pytest.raises(NaturalKeyConflict) as conflict:
            ledger.spend(fresh, other)
        assert isinstance(conflict.value, Conflict)  # rendered as 409
        assert conflict.value.fields["errors"] == [
            {
                "line_id": "V1",
                "field": "line_id",
                "reason": "recorded before with other content",
                "code": "natural-key-conflict",
            }
        ]
        assert conflict.value.fields["source"] == "raindance"
        assert conflict.value.fields["rule"] == "natural-key"
    assert ledger.snapshot() == before


# --- concurrency and idempotency ---------------------------------------------------------


def test_a_stale_expected_version_is_refused_and_writes_nothing(ledger: Ledger) -> None:
    version = ledger.queries.stream_version(G)
    allocate = cmd.AllocateActivity(G, "a3", "nara", "x", kr(1_000), "x", decision())
    before = ledger.snapshot()
    with pytest.raises(ConcurrencyError) as stale:
        ledger.run(allocate, PLANNER, expected_version=version - 1)
    assert (stale.value.expected, stale.value.actual) == (version - 1, version)
    assert stale.value.stream_id == f"grant-{G}"
    assert ledger.snapshot() == before
    accepted = ledger.run(allocate, PLANNER, expected_version=version)
    assert accepted.version == version + 1 == ledger.queries.stream_version(G)
    with pytest.raises(ConcurrencyError):  # the version it read is stale now
        ledger.run(replace(allocate, code="a4"), PLANNER, expected_version=version)


def _render(result: Result) -> StoredAnswer:
    body = {"lines": [[o.line_id, o.transaction_id, o.status] for o in result.lines]}
    return StoredAnswer(201, orjson.dumps(body))


def test_an_idempotency_key_replays_the_stored_answer_and_writes_nothing(ledger: Ledger) -> None:
    batch = PostSpend("raindance", (line("9916", kr(50), date(2022, 5, 2), activity="a1"),))
    key = Idempotency("POST /v1/transactions", "key-1", "hash-of-body-1", _render)
    first = ledger.service.execute(batch, POSTER, idempotency=key)
    assert isinstance(first, Result)
    count = ledger.event_count()
    before = ledger.snapshot()
    again = ledger.service.execute(batch, POSTER, idempotency=key)
    assert isinstance(again, Replayed)
    assert again.answer == _render(first)
    assert ledger.event_count() == count
    assert ledger.snapshot() == before
    # Same key, another body: refused (422), still nothing written.
    with pytest.raises(IdempotencyKeyReused) as reused:
        ledger.service.execute(batch, POSTER, idempotency=replace(key, request_hash="other"))
    assert reused.value.fields["key"] == "key-1"
    assert ledger.snapshot() == before
    # Keys are per scope: the same key elsewhere is a new request.
    elsewhere = replace(key, scope="POST /v1/grants/g-2022/receipts")
    receipt = cmd.RecordReceipt(G, kr(10), date(2022, 5, 2), "SKR")
    assert isinstance(ledger.service.execute(receipt, POSTER, idempotency=elsewhere), Result)


def test_a_refused_request_does_not_burn_its_idempotency_key(ledger: Ledger) -> None:
    key = Idempotency("POST /v1/transactions", "key-2", "h", _render)
    bad = PostSpend("raindance", (line("9999", kr(1), date(2022, 5, 2)),))
    with pytest.raises(errors.UnplaceableSpend):
        ledger.service.execute(bad, POSTER, idempotency=key)
    good = PostSpend("raindance", (line("9916", kr(1), date(2022, 5, 2)),))
    assert isinstance(ledger.service.execute(good, POSTER, idempotency=key), Result)
    assert isinstance(ledger.service.execute(good, POSTER, idempotency=key), Replayed)


def test_concurrent_writers_in_one_process_each_get_their_own_answer(ledger: Ledger) -> None:
    """Callers sharing a commit (group commit): a refusal is rolled back alone."""
    good = [
        PostSpend("raindance", (line("9916", kr(100 + i), date(2022, 5, 2), activity="a1"),))
        for i in range(12)
    ]
    bad = [PostSpend("raindance", (line("9999", kr(1), date(2022, 5, 2)),)) for _ in range(4)]
    over = cmd.AllocateActivity(G, "stor", "nara", "x", kr(300_001), "x", decision())
    fits = cmd.AllocateActivity(G, "liten", "nara", "x", kr(300_000), "x", decision())
    commands: list[Command] = [*good, *bad, over, fits]
    count = ledger.event_count()

    def attempt(c: Command) -> Result | Exception:
        try:
            result = ledger.service.execute(c, ADMIN)
        except LedgerError as e:
            return e
        assert isinstance(result, Result)
        return result

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, commands))
    assert all(isinstance(a, Result) for a in answers[:12])
    assert all(isinstance(a, errors.UnplaceableSpend) for a in answers[12:16])
    # Whichever came first took the last 300 000 kr of the area; the other is refused.
    assert sorted(type(a).__name__ for a in answers[16:]) == ["OverAllocation", "Result"]
    recorded = [e for a in answers if isinstance(a, Result) for e in a.events]
    assert ledger.event_count() == count + len(recorded) == count + 13
    assert ledger.activity(G, "a1").spent == sum(kr(100 + i) for i in range(12))
    assert ledger.area(G, "nara").unallocated == 0
    assert_books_balance(ledger.engine)


# --- rule 5: routing by cost object --------------------------------------------------------


def test_a_grant_overlapping_another_on_a_cost_object_is_refused(ledger: Ledger) -> None:
    before = ledger.snapshot()
    with pytest.raises(errors.CostObjectOverlap) as overlap:
        ledger.register(
            "gnv-2022-2023",
            [
                cmd.AreaSpec("x", "x", kr(1), "1234", "x"),
                cmd.AreaSpec("y", "y", kr(1), "9942", "x"),
            ],
            spend_from=date(2022, 7, 1),
            spend_to=date(2023, 6, 30),
        )
    assert overlap.value.fields == {
        "rule": "cost-object-routing",
        "grant_id": "gnv-2022-2023",
        "cost_object": "9942",
        "other_grant_id": G,
        "overlap_from": "2022-07-01",
        "overlap_to": "2022-12-31",
    }
    assert ledger.snapshot() == before


def test_the_next_years_grant_on_the_same_cost_object_is_accepted_and_routed_by_date(
    ledger: Ledger,
) -> None:
    ledger.register(
        "g-2023",
        [cmd.AreaSpec("nara", "Nära vård 2023", kr(500_000), "9916", "HOSPA")],
        spend_from=date(2023, 1, 1),
        spend_to=date(2023, 12, 31),
    )
    result = ledger.spend(
        line("9916", kr(100), date(2022, 12, 31)),
        line("9916", kr(200), date(2023, 1, 1)),
    )
    assert [o.grant_id for o in result.lines] == [G, "g-2023"]
    assert ledger.area("g-2023", "nara").spent == kr(200)
    assert ledger.area(G, "nara").unclassified_spent == kr(100)


# --- rule 7: who, when, on which decision --------------------------------------------------


def test_every_event_carries_actor_and_role_and_planning_its_decision(ledger: Ledger) -> None:
    spent = ledger.spend(line("9942", kr(10), date(2022, 5, 2)))
    ledger.classify(spent.lines[0].transaction_id, "db")
    ledger.reverse(spent.lines[0].transaction_id, date(2022, 5, 3))
    ledger.reallocate(G, "a2", "a1", kr(1), on=decision("RS/77/2022", date(2022, 6, 1)))
    ledger.run(cmd.RecordReceipt(G, kr(10), date(2022, 6, 1), "SKR"), POSTER)
    ledger.run(cmd.RepayUnspent(G, "nara", kr(1), date(2022, 6, 2)), PLANNER)
    ledger.run(cmd.ClosePeriod("2022-04"), ADMIN)
    events = ledger.events()
    assert all({"actor", "role"} <= e.meta.keys() for e in events)
    by_type = {e.event_type: e.meta for e in events}
    for planning in ("GrantRegistered", "ActivityAllocated", "BudgetReallocated"):
        assert by_type[planning]["role"] == "planner"
        assert by_type[planning]["decision"].keys() == {"ref", "date", "body"}
    assert by_type["BudgetReallocated"]["decision"] == {
        "ref": "RS/77/2022",
        "date": "2022-06-01",
        "body": "Regionstyrelsen",
    }
    assert by_type["SpendRecorded"] == {
        "actor": "erp-raindance",
        "role": "poster",
        "source_system": "raindance",
        "source": "raindance",
    }
    assert by_type["SpendClassified"]["actor"] == "controller-anna"
    assert by_type["SpendReversed"]["role"] == "poster"
    assert by_type["PeriodClosed"] == {
        "actor": "test-admin",
        "role": "admin",
        "request_id": "req-test",
    }
    assert "decision" not in by_type["SpendRecorded"]
    assert all(e.recorded_at.tzinfo is not None for e in events)


def test_replay_is_identical_after_reversals_classifications_and_a_closed_year(
    ledger: Ledger,
) -> None:
    first = ledger.spend(
        line("9942", kr(10), date(2022, 5, 2)),
        line("9916", kr(20), date(2022, 5, 2)),
        line("9916", kr(30), date(2022, 5, 2), activity="a1"),
        line("9916", -kr(5), date(2022, 5, 2), activity="a1"),
    )
    tx = [o.transaction_id for o in first.lines]
    ledger.classify(tx[0], "da")
    ledger.classify(tx[1], "a2")
    ledger.reverse(tx[2], date(2022, 5, 3))
    ledger.reverse(tx[0], date(2022, 5, 4))
    ledger.run(cmd.CloseYear(G, 2022, decision("RS bokslut", date(2023, 2, 1))), PLANNER)
    ledger.run(cmd.RepayUnspent(G, "fenced", kr(100_000), date(2023, 3, 31)), PLANNER)
    assert ledger.queries.line(tx[0]).status == "reversed"
    assert ledger.queries.line(tx[1]).activity == "a2"
    assert_books_balance(ledger.engine)
