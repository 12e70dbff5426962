"""The postings of each event, read from the event alone (docs/domain.md, "Accounts")."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from ledger.domain.accounts import Transfer, transfers
from ledger.domain.commands import AreaSpec, Decision
from ledger.domain.events import (
    ActivityAllocated,
    AwardAmended,
    BudgetReallocated,
    Event,
    GrantRegistered,
    PeriodClosed,
    ReceiptRecorded,
    Release,
    RepaymentRecorded,
    SpendClassified,
    SpendRecorded,
    SpendReversed,
    YearClosed,
)

DECISION = Decision("RS/498/2022", date(2022, 5, 4), "Regionstyrelsen")


def recorded(amount: int, area: str | None, activity: str | None) -> SpendRecorded:
    return SpendRecorded(
        grant_id="gnv-2022",
        transaction_id="tx-1",
        source="erp",
        line_id="V1-1",
        voucher=None,
        booked_on=date(2022, 3, 31),
        amount=amount,
        cost_object="9942",
        area=area,
        activity=activity,
        account=None,
        kind="expense",
        text=None,
    )


def reversed_(amount: int, area: str | None, activity: str | None) -> SpendReversed:
    return SpendReversed(
        grant_id="gnv-2022",
        transaction_id="tx-2",
        reversal_of="tx-1",
        source="erp",
        line_id="V1-1",
        booked_on=date(2022, 4, 5),
        amount=amount,
        cost_object="9942",
        area=area,
        activity=activity,
        reason="felkontering",
    )


def classified(amount: int, from_area: str | None) -> SpendClassified:
    return SpendClassified(
        grant_id="gnv-2022",
        transaction_id="tx-1",
        booked_on=date(2022, 3, 31),
        amount=amount,
        cost_object="9942",
        from_area=from_area,
        activity="standarder",
        area="e-halsa",
        reason="standarder",
    )


def net(*moves: Transfer) -> Counter[str]:
    """Balance changes per account (zeros dropped)."""
    delta: Counter[str] = Counter()
    for t in moves:
        delta[t.source] -= t.amount
        delta[t.target] += t.amount
    return Counter({k: v for k, v in delta.items() if v})


def test_registration_moves_each_award_to_its_area_unallocated() -> None:
    event = GrantRegistered(
        grant_id="gnv-2022",
        name="God och nära vård 2022",
        funder="Staten via SKR",
        decision=DECISION,
        spend_from=date(2022, 1, 1),
        spend_to=date(2022, 12, 31),
        areas=(
            AreaSpec("e-halsa", "e-hälsa", 126_316_900, "9942", "Strateg"),
            AreaSpec("reserv", "Reserv", 0, "9942", "Strateg"),  # a 0 award posts nothing
            AreaSpec("ambulans", "Ambulans", 144_106_100, "9942", "Controller"),
        ),
        reporting=(),
        repayment_reference=None,
    )
    assert transfers(event) == (
        Transfer("award:e-halsa", "unallocated:e-halsa", 126_316_900),
        Transfer("award:ambulans", "unallocated:ambulans", 144_106_100),
    )


@pytest.mark.parametrize(
    ("previous", "awarded", "expected"),
    [
        (1_000, 1_500, (Transfer("award:e-halsa", "unallocated:e-halsa", 500),)),
        (1_000, 400, (Transfer("unallocated:e-halsa", "award:e-halsa", 600),)),
        (1_000, 1_000, ()),
    ],
)
def test_amendment_posts_only_the_difference(
    previous: int, awarded: int, expected: tuple[Transfer, ...]
) -> None:
    event = AwardAmended("gnv-2022", "e-halsa", previous, awarded, DECISION, "tillägg")
    assert transfers(event) == expected


def test_receipt_is_on_the_cash_ledger() -> None:
    event = ReceiptRecorded("gnv-2022", 630_000_000, date(2022, 6, 15), "SKR-1")
    assert transfers(event) == (Transfer("cash:funder", "cash:bank", 630_000_000),)


def test_allocation_moves_unallocated_to_the_activity_budget() -> None:
    event = ActivityAllocated(
        "gnv-2022", "standarder", "e-halsa", "Standarder", 500, "Strateg", DECISION, False, None
    )
    assert transfers(event) == (Transfer("unallocated:e-halsa", "budget:standarder", 500),)


def test_reallocation_moves_budget_between_activities() -> None:
    event = BudgetReallocated("gnv-2022", "a", "b", "e-halsa", 700, "behov", DECISION)
    assert transfers(event) == (Transfer("budget:a", "budget:b", 700),)


@pytest.mark.parametrize(
    ("area", "activity", "expected"),
    [
        ("e-halsa", "standarder", Transfer("budget:standarder", "spent:standarder", 900)),
        ("nara-vard", None, Transfer("unallocated:nara-vard", "unclassified:nara-vard", 900)),
        (None, None, Transfer("suspense:9942", "unplaced:9942", 900)),
    ],
)
def test_spend_is_placed_on_activity_else_area_else_grant(
    area: str | None, activity: str | None, expected: Transfer
) -> None:
    assert transfers(recorded(900, area, activity)) == (expected,)


def test_a_credit_line_posts_the_other_way_with_a_positive_amount() -> None:
    assert transfers(recorded(-900, "e-halsa", "standarder")) == (
        Transfer("spent:standarder", "budget:standarder", 900),
    )


def test_zero_amounts_post_nothing() -> None:
    assert transfers(recorded(0, None, None)) == ()


@pytest.mark.parametrize("amount", [900, -900])
@pytest.mark.parametrize(
    ("area", "activity"), [("e-halsa", "standarder"), ("nara-vard", None), (None, None)]
)
def test_reversal_is_the_exact_opposite_of_the_placement(
    amount: int, area: str | None, activity: str | None
) -> None:
    original = transfers(recorded(amount, area, activity))
    reversal = transfers(reversed_(amount, area, activity))
    assert net(*original, *reversal) == Counter()
    assert all(t.amount > 0 for t in reversal)


def test_classifying_area_spend_returns_it_to_unallocated_and_spends_the_activity() -> None:
    assert net(*transfers(classified(900, "e-halsa"))) == Counter(
        {
            "unallocated:e-halsa": 900,
            "budget:standarder": -900,
            "spent:standarder": 900,
            "unclassified:e-halsa": -900,
        }
    )


def test_classifying_grant_spend_clears_suspense() -> None:
    before = net(*transfers(recorded(900, None, None)))
    after = net(*transfers(recorded(900, None, None)), *transfers(classified(900, None)))
    assert before == Counter({"suspense:9942": -900, "unplaced:9942": 900})
    assert after == Counter({"budget:standarder": -900, "spent:standarder": 900})


def test_repayment_leaves_the_area_and_the_bank() -> None:
    event = RepaymentRecorded("gnv-2022", "e-halsa", 1_600, date(2023, 3, 31), "S2022/01234")
    assert transfers(event) == (
        Transfer("unallocated:e-halsa", "repaid:e-halsa", 1_600),
        Transfer("cash:bank", "cash:repaid", 1_600),
    )


def test_year_close_releases_remaining_budgets_to_their_areas() -> None:
    event = YearClosed(
        "gnv-2022", 2022, DECISION, (Release("a", "e-halsa", 100), Release("b", "ambulans", 5))
    )
    assert transfers(event) == (
        Transfer("budget:a", "unallocated:e-halsa", 100),
        Transfer("budget:b", "unallocated:ambulans", 5),
    )


def test_period_close_moves_no_money() -> None:
    assert transfers(PeriodClosed("2022-03")) == ()


def test_every_transfer_is_positive_and_balanced() -> None:
    events: list[Event] = [
        recorded(-5, None, None),
        reversed_(-7, "e-halsa", None),
        classified(-3, None),
        AwardAmended("gnv-2022", "e-halsa", 10, 1, DECISION, "sänkning"),
    ]
    for event in events:
        moves = transfers(event)
        assert all(t.amount > 0 for t in moves)
        assert sum(net(*moves).values()) == 0
