"""Money in and out (receipts, repayments) and closing: months for all grants, years per grant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import errors
from ledger.domain.balances import figures
from ledger.domain.commands import (
    AllocateActivity,
    AmendAward,
    ClosePeriod,
    CloseYear,
    Decision,
    Reallocate,
    RecordReceipt,
    RepayUnspent,
    SpendLine,
)
from ledger.domain.decide import decide, decide_period
from ledger.domain.events import (
    PeriodClosed,
    ReceiptRecorded,
    Release,
    RepaymentRecorded,
    YearClosed,
)
from ledger.domain.facts import LedgerFacts
from ledger.domain.state import GrantState, PeriodsState, evolve, evolve_periods, fold
from ledger.errors import Conflict, InvalidInput
from tests.support.spend import record_spend

KR = 100  # öre per krona


# --- receipts ---------------------------------------------------------------------------------


def test_receipt_is_recorded(gnv: GrantState) -> None:
    command = RecordReceipt("gnv-2022", 6_300_000 * KR, date(2022, 6, 15), "SKR utbetalning 1")
    assert decide(gnv, command) == [
        ReceiptRecorded("gnv-2022", 6_300_000 * KR, date(2022, 6, 15), "SKR utbetalning 1")
    ]


@pytest.mark.parametrize("amount", [0, -KR])
def test_receipt_needs_a_positive_amount(gnv: GrantState, amount: int) -> None:
    with pytest.raises(errors.InvalidAmount):
        decide(gnv, RecordReceipt("gnv-2022", amount, date(2022, 6, 15), "x"))


def test_receipt_in_a_closed_month_is_refused(gnv: GrantState) -> None:
    june_closed = LedgerFacts(closed_periods=frozenset({"2022-06"}))
    with pytest.raises(errors.PeriodClosed):
        decide(gnv, RecordReceipt("gnv-2022", KR, date(2022, 6, 15), "x"), june_closed)
    assert decide(gnv, RecordReceipt("gnv-2022", KR, date(2022, 7, 1), "x"), june_closed)


@given(day=st.dates(date(1990, 1, 1), date(2040, 12, 31)))
def test_receipt_dated_outside_the_agreements_years_is_refused(gnv: GrantState, day: date) -> None:
    """Rule 9: a 2022 agreement's money arrives in 2022, or in 2023 after the final report."""
    command = RecordReceipt("gnv-2022", KR, day, "SKR utbetalning")
    if date(2022, 1, 1) <= day <= date(2023, 12, 31):
        assert decide(gnv, command) == [ReceiptRecorded("gnv-2022", KR, day, "SKR utbetalning")]
        return
    with pytest.raises(errors.ReceiptOutsideAgreement) as refused:
        decide(gnv, command)
    assert refused.value.fields["rule"] == "receipt-in-agreement-years"
    assert refused.value.fields["received_on"] == day.isoformat()
    assert (refused.value.fields["earliest"], refused.value.fields["latest"]) == (
        "2022-01-01",
        "2023-12-31",
    )


@given(excess=st.integers(1, 10**9 * KR))
def test_receipt_beyond_the_award_is_recorded_and_flagged(gnv: GrantState, excess: int) -> None:
    """Rule 9: cash that did arrive is recorded, like overspend (rule 4), and flagged."""
    awarded = figures(gnv.balances, gnv.areas, gnv.activities).awarded
    exact = fold(gnv, decide(gnv, RecordReceipt("gnv-2022", awarded, date(2022, 6, 15), "1")))
    assert figures(exact.balances, exact.areas, exact.activities).overreceived is False
    events = decide(exact, RecordReceipt("gnv-2022", excess, date(2022, 9, 15), "2"))
    after = figures(fold(exact, events).balances, exact.areas, exact.activities)
    assert (after.received, after.overreceived) == (awarded + excess, True)


# --- repayments -------------------------------------------------------------------------------


def test_repayment_of_unallocated_money_quotes_the_grants_reference(gnv: GrantState) -> None:
    command = RepayUnspent("gnv-2022", "medarbetare", 1_596_007 * KR, date(2023, 3, 31))
    assert decide(gnv, command) == [
        RepaymentRecorded(
            "gnv-2022", "medarbetare", 1_596_007 * KR, date(2023, 3, 31), "S2022/01234"
        )
    ]


def test_repayment_beyond_unallocated_is_refused(gnv: GrantState) -> None:
    command = RepayUnspent("gnv-2022", "medarbetare", 1_596_007 * KR + 1, date(2023, 3, 31), "r")
    with pytest.raises(errors.RepaymentExceedsUnallocated) as refused:
        decide(gnv, command)
    assert refused.value.fields == {
        "rule": "repayment-within-unallocated",
        "grant_id": "gnv-2022",
        "area": "medarbetare",
        "available": 1_596_007 * KR,
        "requested": 1_596_007 * KR + 1,
        "unallocated": 1_596_007 * KR,
        "unspent": 24_796_007 * KR,
    }


def test_repayment_cannot_return_what_an_overspent_activity_used(
    gnv: GrantState, spend: Callable[..., SpendLine], decision: Decision
) -> None:
    # cambio (4 600 000) spends 5 600 000; the year close returns every other medarbetare budget
    # to unallocated (20 196 007), but 1 000 000 of that was spent by cambio.
    line = spend(5_600_000 * KR, "9917", activity="cambio")
    state = fold(gnv, decide(gnv, record_spend("gnv-2022", (line,))))
    state = fold(state, decide(state, CloseYear("gnv-2022", 2022, decision)))
    assert state.unallocated("medarbetare") == 20_196_007 * KR

    def repay(kronor: int) -> RepayUnspent:
        return RepayUnspent("gnv-2022", "medarbetare", kronor * KR, date(2023, 3, 31))

    with pytest.raises(errors.RepaymentExceedsUnallocated) as refused:
        decide(state, repay(19_196_008))
    assert refused.value.fields["available"] == refused.value.fields["unspent"] == 19_196_007 * KR
    assert decide(state, repay(19_196_007))


def test_repayment_in_a_closed_month_is_refused(gnv: GrantState) -> None:
    march_closed = LedgerFacts(closed_periods=frozenset({"2023-03"}))
    with pytest.raises(errors.PeriodClosed):
        decide(gnv, RepayUnspent("gnv-2022", "medarbetare", KR, date(2023, 3, 31)), march_closed)


def test_repayment_needs_a_known_area_and_a_positive_amount(gnv: GrantState) -> None:
    with pytest.raises(errors.UnknownArea):
        decide(gnv, RepayUnspent("gnv-2022", "tandvard", KR, date(2023, 3, 31)))
    with pytest.raises(errors.InvalidAmount):
        decide(gnv, RepayUnspent("gnv-2022", "medarbetare", 0, date(2023, 3, 31)))


# --- year close -------------------------------------------------------------------------------


@pytest.fixture
def spent(gnv: GrantState, spend: Callable[..., SpendLine]) -> GrantState:
    """gnv after a year of some spend: cambio overspent, lokalt-arbete partly spent."""
    lines = (
        spend(4_700_000 * KR, "9917", activity="cambio"),
        spend(23_000_000 * KR, "9916", activity="lokalt-arbete"),
    )
    return fold(gnv, decide(gnv, record_spend("gnv-2022", lines)))


def test_year_close_releases_each_positive_remaining_budget_to_its_area(
    spent: GrantState, decision: Decision
) -> None:
    (event,) = decide(spent, CloseYear("gnv-2022", 2022, decision))
    assert isinstance(event, YearClosed)
    released = {r.activity: r for r in event.released}
    assert released["lokalt-arbete"] == Release("lokalt-arbete", "nara-vard", 1_000_000 * KR)
    assert "cambio" not in released  # overspent: nothing to release, the overspend stays shown
    assert len(released) == 14
    after = evolve(spent, event)
    assert after.closed_years == {2022}
    assert after.remaining("lokalt-arbete") == 0
    assert after.remaining("cambio") == -100_000 * KR
    assert after.unallocated("nara-vard") == 30_593_953 * KR - 23_000_000 * KR


def test_year_close_is_refused_while_spend_is_on_no_area(
    gnv: GrantState, spend: Callable[..., SpendLine], decision: Decision
) -> None:
    state = fold(gnv, decide(gnv, record_spend("gnv-2022", (spend(9 * KR, "9942"),))))
    with pytest.raises(errors.UnclassifiedSpendOpen) as refused:
        decide(state, CloseYear("gnv-2022", 2022, decision))
    assert refused.value.fields["rule"] == "classify-before-close"
    assert refused.value.fields["unclassified"] == 9 * KR


def test_year_close_accepts_unclassified_spend_that_is_on_an_area(
    gnv: GrantState, spend: Callable[..., SpendLine], decision: Decision
) -> None:
    state = fold(gnv, decide(gnv, record_spend("gnv-2022", (spend(9 * KR, "9916"),))))
    assert decide(state, CloseYear("gnv-2022", 2022, decision))


def test_year_close_twice_is_a_conflict(gnv: GrantState, decision: Decision) -> None:
    closed = evolve(gnv, *decide(gnv, CloseYear("gnv-2022", 2022, decision)))
    with pytest.raises(errors.YearAlreadyClosed) as refused:
        decide(closed, CloseYear("gnv-2022", 2022, decision))
    assert isinstance(refused.value, Conflict)


def test_year_close_outside_the_spend_period_is_refused(
    gnv: GrantState, decision: Decision
) -> None:
    with pytest.raises(errors.OutsideSpendPeriod):
        decide(gnv, CloseYear("gnv-2022", 2023, decision))


@pytest.fixture
def closed(gnv: GrantState, decision: Decision) -> GrantState:
    return evolve(gnv, *decide(gnv, CloseYear("gnv-2022", 2022, decision)))


@pytest.fixture
def in_2022() -> Decision:
    return Decision("RS/12/2023", date(2022, 12, 20), "Regionstyrelsen")


def test_planning_in_a_closed_year_is_refused(
    closed: GrantState,
    in_2022: Decision,
    allocate: Callable[..., AllocateActivity],
    reallocate: Callable[..., Reallocate],
) -> None:
    for command in (
        allocate("sen-insats", "nara-vard", KR, decision=in_2022),
        reallocate("gemensam-plan", "barnhalsovard", KR, decision=in_2022),
        AmendAward("gnv-2022", "nara-vard", 31_000_000 * KR, in_2022, "tillägg"),
    ):
        with pytest.raises(errors.YearClosed) as refused:
            decide(closed, command)
        assert refused.value.fields["rule"] == "year-closed"


def test_planning_decided_in_an_open_year_is_accepted(
    closed: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    in_2023 = Decision("RS/40/2023", date(2023, 2, 1), "Regionstyrelsen")
    assert decide(closed, allocate("forlangning", "nara-vard", KR, decision=in_2023))


def test_dated_entries_in_a_closed_year_are_refused(closed: GrantState) -> None:
    with pytest.raises(errors.PeriodClosed) as refused:
        decide(closed, RecordReceipt("gnv-2022", KR, date(2022, 12, 30), "sen"))
    assert refused.value.fields["period"] == "2022"


# --- period close -----------------------------------------------------------------------------


def test_closing_a_month_is_recorded_once() -> None:
    events = decide_period(PeriodsState(), ClosePeriod("2022-03"))
    assert events == [PeriodClosed("2022-03")]
    closed = evolve_periods(PeriodsState(), events[0])
    with pytest.raises(errors.PeriodAlreadyClosed) as refused:
        decide_period(closed, ClosePeriod("2022-03"))
    assert isinstance(refused.value, Conflict)
    assert decide_period(closed, ClosePeriod("2022-04"))


@pytest.mark.parametrize("period", ["2022-13", "2022-00", "2022-3", "22-03", "0000-01", "2022-03 "])
def test_closing_needs_a_month_written_yyyy_mm(period: str) -> None:
    with pytest.raises(errors.InvalidPeriod) as refused:
        decide_period(PeriodsState(), ClosePeriod(period))
    assert isinstance(refused.value, InvalidInput)
