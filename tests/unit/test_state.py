"""evolve: the state a stream leaves, immutable, one version per event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import reduce

import pytest

from ledger.domain import errors
from ledger.domain.commands import Decision, RecordReceipt
from ledger.domain.decide import decide
from ledger.domain.events import GrantEvent, PeriodClosed, Release, YearClosed
from ledger.domain.facts import LedgerFacts
from ledger.domain.state import (
    CorruptStreamError,
    GrantState,
    PeriodsState,
    evolve,
    evolve_periods,
    fold,
    period_of,
)

KR = 100  # öre per krona


def test_registration_starts_the_stream_at_version_1(gnv_history: list[GrantEvent]) -> None:
    state = evolve(None, gnv_history[0])
    assert state.version == 1
    assert state.grant_id == "gnv-2022"
    assert list(state.areas) == [
        "nara-vard",
        "medarbetare",
        "vidareutbildning",
        "karriartjanster",
        "e-halsa",
        "ambulans",
    ]
    assert state.areas["vidareutbildning"].ring_fenced
    assert state.awarded("nara-vard") == state.unallocated("nara-vard") == 30_593_953 * KR
    assert state.activities == {}
    assert state.repayment_reference == "S2022/01234"


def test_each_event_adds_one_version(gnv: GrantState, gnv_history: list[GrantEvent]) -> None:
    assert gnv.version == len(gnv_history) == 16


def test_fold_is_evolve_applied_in_order(gnv_history: list[GrantEvent]) -> None:
    stepwise = reduce(evolve, gnv_history, None)
    assert fold(None, gnv_history) == stepwise


def test_evolve_never_changes_the_state_it_was_given(
    gnv: GrantState, gnv_history: list[GrantEvent], decision: Decision
) -> None:
    before = dict(gnv.balances)
    after = evolve(
        gnv, YearClosed("gnv-2022", 2022, decision, (Release("cambio", "medarbetare", 1),))
    )
    assert dict(gnv.balances) == before
    assert gnv.closed_years == frozenset()
    assert after.closed_years == {2022}
    with pytest.raises(TypeError):
        gnv.balances["cash:bank"] = 1  # type: ignore[index]


def test_accessors_read_the_accounts(gnv: GrantState) -> None:
    assert gnv.awarded("medarbetare") == 24_796_007 * KR
    assert gnv.unallocated("medarbetare") == 1_596_007 * KR
    assert gnv.allocated("cambio") == gnv.remaining("cambio") == 4_600_000 * KR
    assert gnv.spent("cambio") == 0
    assert gnv.unplaced() == gnv.unclassified("e-halsa") == 0
    assert gnv.areas_on("9917") == ("medarbetare", "vidareutbildning", "karriartjanster")
    assert gnv.areas_on("9999") == ()


def test_accounts_that_return_to_zero_are_dropped(
    given: Callable[..., GrantState], gnv_history: list[GrantEvent], decision: Decision
) -> None:
    # Releasing all of an activity's budget leaves budget:x at 0: the same map as never having it.
    released = YearClosed(
        "gnv-2022", 2022, decision, (Release("cambio", "medarbetare", 4_600_000 * KR),)
    )
    state = given(*gnv_history, released)
    assert "budget:cambio" not in state.balances
    assert state.remaining("cambio") == 0


def test_closed_periods_come_from_the_periods_stream_not_the_grant(gnv: GrantState) -> None:
    periods = reduce(
        evolve_periods, [PeriodClosed("2022-01"), PeriodClosed("2022-02")], PeriodsState()
    )
    assert periods == PeriodsState(closed=frozenset({"2022-01", "2022-02"}), version=2)
    # A grant's own events close its years, never a month of the ledger: decide sees closed
    # months only in the ledger-wide facts it is given beside the grant.
    after = evolve(gnv, YearClosed("gnv-2022", 2022, gnv.decision, ()))
    assert after.closed_years == {2022}
    receipt = RecordReceipt("gnv-2022", 100, date(2022, 2, 10), "U-1")
    assert decide(gnv, receipt)
    with pytest.raises(errors.PeriodClosed) as refused:
        decide(gnv, receipt, LedgerFacts(closed_periods=periods.closed))
    assert refused.value.fields["period"] == "2022-02"


def test_a_stream_must_start_with_its_registration(gnv_history: list[GrantEvent]) -> None:
    with pytest.raises(CorruptStreamError, match="before GrantRegistered"):
        fold(None, gnv_history[1:])
    with pytest.raises(CorruptStreamError, match="registered twice"):
        fold(None, [gnv_history[0], gnv_history[0]])
    with pytest.raises(CorruptStreamError, match="periods stream"):
        fold(None, [gnv_history[0], PeriodClosed("2022-03")])


def test_no_events_no_state() -> None:
    assert fold(None, []) is None


def test_period_of_names_the_month() -> None:
    assert period_of(date(2022, 3, 31)) == "2022-03"
    assert period_of(date(987, 12, 1)) == "0987-12"
