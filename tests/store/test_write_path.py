"""The fast write path keeps every rule (issue 14), on both databases.

- Two processes writing one grant: each keeps the grant's state between its commits and,
  finding it behind, folds on what the other appended.  Every decision must still be taken
  against the state the projections hold (rules 4–6 against current state).
- Rows go to the database by COPY (text format, escaped by the driver) or, for a few lines,
  in one pipeline: what is read back (lines, event data, the chain) must be exactly what was
  sent, whatever the text holds.
- A batch decided before the lock leaves its natural keys to the unique index: a batch sent
  again must be answered exactly as if every key had been read first.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from ledger.db import read_transaction
from ledger.domain import commands as cmd
from ledger.domain import errors
from ledger.errors import LedgerError
from ledger.projections import loader
from ledger.projections.tables import LIVE
from ledger.service import LedgerService, NaturalKeyConflict, PostSpend, Result
from tests.support.ledger import (
    PLANNER,
    POSTER,
    Ledger,
    assert_chain_verifies,
    assert_replay_identical,
    decision,
    kr,
    line,
)

G = "g-2022"


@pytest.fixture
def ledger(engine: Engine) -> Ledger:
    ledger = Ledger(engine)
    ledger.register(G, [cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "9916", "HOSPA")])
    ledger.allocate(G, "a1", "nara", kr(400_000))
    return ledger


def _kept(service: LedgerService, grant_id: str) -> object:
    return service._group._cache.latest(grant_id)


def _projected(engine: Engine, grant_id: str) -> object:
    with read_transaction(engine) as conn:
        return loader.load_grant(conn, LIVE, grant_id)


def test_another_process_s_writes_are_folded_onto_the_kept_state(ledger: Ledger) -> None:
    """Rule: every command is decided against current state, also when another process
    wrote the grant since this one last did (its kept state is behind)."""
    other = LedgerService(ledger.engine)  # a second server worker: its own kept states
    ledger.spend(line("9916", kr(100), date(2022, 3, 1), activity="a1"))
    other.execute(PostSpend("visma", (line("9916", kr(7), date(2022, 3, 2)),)), POSTER)
    other.execute(
        cmd.AllocateActivity(G, "a2", "nara", "a2", kr(500_000), "chef", decision()), PLANNER
    )
    other.execute(cmd.ClosePeriod("2022-04"), PLANNER)

    # The first worker's state is two grant events behind: the other's allocation and its
    # unclassified spend (which draws on the area's unallocated money) must both be seen ...
    with pytest.raises(errors.OverAllocation) as refused:
        ledger.allocate(G, "a3", "nara", kr(100_001))
    assert refused.value.available == kr(100_000) - kr(7)
    # ... and the period the other worker closed.
    with pytest.raises(errors.UnplaceableSpend) as closed:
        ledger.spend(line("9916", kr(1), date(2022, 4, 9), activity="a2"))
    assert [e.code for e in closed.value.errors] == ["closed-period"]

    ledger.spend(line("9916", kr(5), date(2022, 5, 9), activity="a2"))
    assert _kept(ledger.service, G) == _projected(ledger.engine, G)
    assert ledger.figures(G).spent == kr(100) + kr(7) + kr(5)
    assert_replay_identical(ledger.engine)


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["first", "second"]),
        st.sampled_from(["spend", "allocate", "reallocate", "receipt"]),
        st.integers(min_value=1, max_value=50_000),
    ),
    min_size=2,
    max_size=10,
)


def test_a_kept_balance_answer_follows_another_process_s_writes(ledger: Ledger) -> None:
    """Today's balances reuse a grant's state while its version is unchanged (one probe a
    read): a write by another process (its own service) moves the next read's figures, and
    the probe, made once, answers for every grant it is asked of."""
    first = ledger.figures(G)
    assert ledger.figures(G) == first  # answered from the kept state
    other = LedgerService(ledger.engine)
    other.execute(PostSpend("visma", (line("9916", kr(7), date(2022, 3, 2)),)), POSTER)
    after = ledger.figures(G)
    assert after.spent == first.spent + kr(7)
    ledger.register("h-2022", [cmd.AreaSpec("h", "H", kr(10), "7777", "HOSPA")])
    assert ledger.figures("h-2022").spent == 0
    assert ledger.figures(G) == after


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=_STEPS, grant_no=st.integers(min_value=0, max_value=10**9))
def test_two_workers_kept_states_always_equal_the_projections(
    engine: Engine, steps: list[tuple[str, str, int]], grant_no: int
) -> None:
    """Rule: a kept state brought up to date from the stream is the state the projections
    hold, whatever the two workers interleave (a refusal included)."""
    grant, cost_object = f"p-{grant_no}", f"k{grant_no}"
    first = Ledger(engine)
    second = LedgerService(engine)
    try:
        first.register(
            grant, [cmd.AreaSpec("nara", "Nära vård", kr(100_000), cost_object, "HOSPA")]
        )
    except (errors.GrantExists, errors.CostObjectOverlap):
        return  # hypothesis drew this grant before, in this database
    first.allocate(grant, "a1", "nara", kr(40_000))
    first.allocate(grant, "a2", "nara", kr(40_000))
    for who, what, amount in steps:
        service = first.service if who == "first" else second
        command: object
        match what:
            case "spend":
                command = PostSpend(
                    f"src-{grant}",
                    (line(cost_object, kr(amount) // 100, date(2022, 6, 1), activity="a1"),),
                )
            case "allocate":
                command = cmd.AllocateActivity(
                    grant, f"x{amount}", "nara", f"x{amount}", kr(amount), "chef", decision()
                )
            case "reallocate":
                command = cmd.Reallocate(grant, "a1", "a2", kr(amount), "omf", decision())
            case _:
                command = cmd.RecordReceipt(grant, kr(amount), date(2022, 6, 1), f"U-{amount}")
        try:
            result = service.execute(command, POSTER if what == "spend" else PLANNER)  # type: ignore[arg-type]
        except LedgerError:
            continue  # refused: nothing recorded, nothing kept
        assert isinstance(result, Result)
        assert service._group._cache.latest(grant) == _projected(engine, grant)
    # Whichever worker is behind now catches up to exactly the projected state.
    for service in (first.service, second):
        service.execute(
            PostSpend(f"end-{grant}", (line(cost_object, kr(1), date(2022, 7, 1), activity="a2"),)),
            POSTER,
        )
        assert service._group._cache.latest(grant) == _projected(engine, grant)


@pytest.mark.parametrize("copies", [3, 9], ids=["one-round-trip", "copy"])
def test_a_batch_reads_back_exactly_as_sent(ledger: Ledger, copies: int) -> None:
    """Rule: nothing lost, nothing wrong: texts with tabs, newlines, backslashes, quotes and
    non-Latin letters, absent vouchers and the largest amounts come back unchanged, whether a
    batch is flushed in one pipeline (24 lines) or by COPY, whose text format escapes (72)."""
    texts = [
        "Konsult\tarvode",
        "rad ett\nrad två\r\n",
        "C:\\region\\ekonomi\\",
        'citat "så här"',
        "Ωμέγα – ÅÄÖ åäö",
        "\\N",
        "",
        None,
    ]
    lines = [
        line(
            "9916",
            kr(99_999) + i,
            date(2022, 2 + i // 28, 1 + i % 28),
            activity="a1",
            text=text,
            voucher=None if i % 3 == 0 else f"V\t{i}",
        )
        for i, text in enumerate(texts * copies)
    ]
    result = ledger.spend(*lines)
    assert len(result.events) == len(lines)
    for sent, outcome in zip(lines, result.lines, strict=True):
        stored = ledger.queries.line(outcome.transaction_id)
        assert (stored.text, stored.amount, stored.booked_on) == (
            sent.text,
            sent.amount,
            sent.booked_on,
        )
        assert stored.voucher == (sent.voucher or f"V-{sent.line_id}")
    events = ledger.events(stream_id=f"grant-{G}")
    by_id = {e.data.get("transaction_id"): e for e in events}
    for outcome, sent in zip(result.lines, lines, strict=True):
        assert by_id[outcome.transaction_id].data["text"] == sent.text
    assert_chain_verifies(ledger.engine)
    assert_replay_identical(ledger.engine)


def _lines_recorded(engine: Engine) -> int:
    with read_transaction(engine) as conn:
        return len(loader.find_lines(conn, LIVE, "raindance", [f"R{i:03d}" for i in range(100)]))


def test_a_batch_sent_again_is_answered_as_if_its_keys_were_read_first(ledger: Ledger) -> None:
    """Rule: a line is recorded once per natural key (source, line_id), and a line sent again
    with other content refuses its batch naming it (409).  A batch of enough lines to be decided
    before the lock does not read its keys first: a key recorded before meets the unique index
    at the flush, and the batch is decided again with its keys read.  Sent again whole, with a
    new line, or with a line changed, it is answered line by line as the first time."""
    lines = [
        line("9916", kr(100 + i), date(2022, 5, 2), activity="a1", line_id=f"R{i:03d}")
        for i in range(80)
    ]
    first = ledger.spend(*lines)
    assert [o.status for o in first.lines] == ["recorded"] * 80

    again = ledger.spend(*lines)
    assert [o.status for o in again.lines] == ["duplicate"] * 80
    assert [o.transaction_id for o in again.lines] == [o.transaction_id for o in first.lines]
    assert again.events == ()

    new = line("9916", kr(7), date(2022, 5, 3), activity="a1", line_id="R080")
    mixed = ledger.spend(*lines[:70], new)
    assert [o.status for o in mixed.lines] == ["duplicate"] * 70 + ["recorded"]
    assert len(mixed.events) == 1

    changed = replace(lines[5], amount=lines[5].amount + 1)
    with pytest.raises(NaturalKeyConflict) as refused:
        ledger.spend(*lines[:5], changed, *lines[6:], line("9916", kr(9), date(2022, 5, 4)))
    assert [e["line_id"] for e in refused.value.fields["errors"]] == ["R005"]
    assert _lines_recorded(ledger.engine) == 81
    assert_chain_verifies(ledger.engine)
    assert_replay_identical(ledger.engine)
