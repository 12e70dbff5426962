"""Balance figures, checked against the seed figures of 003 loaded exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from ledger.domain.balances import AreaFigures, GrantFigures, figures
from ledger.domain.commands import (
    AllocateActivity,
    RecordReceipt,
    RepayUnspent,
    SpendLine,
)
from ledger.domain.decide import decide
from ledger.domain.state import GrantState, fold
from tests.support.spend import record_spend

KR = 100  # öre per krona


def grant_figures(state: GrantState) -> GrantFigures:
    return figures(state.balances, state.areas, state.activities)


def area(result: GrantFigures, code: str) -> AreaFigures:
    return next(a for a in result.areas if a.code == code)


def test_seed_003_nara_vard_leaves_2_993_953_unallocated(gnv: GrantState) -> None:
    # §3.1.1 rounds "Ofördelat" to 2 994 000; loaded exactly the rest is 47 kr less.
    nara_vard = area(grant_figures(gnv), "nara-vard")
    assert nara_vard.awarded == 30_593_953 * KR
    assert [a.allocated for a in nara_vard.activities] == [
        24_000_000 * KR,
        500_000 * KR,
        300_000 * KR,
        500_000 * KR,
        1_000_000 * KR,
        300_000 * KR,
        1_000_000 * KR,
    ]
    assert nara_vard.allocated == 27_600_000 * KR
    assert nara_vard.unallocated == 2_993_953 * KR
    assert nara_vard.cost_object == "9916"


def test_seed_003_medarbetare_leaves_1_596_007_unallocated(gnv: GrantState) -> None:
    medarbetare = area(grant_figures(gnv), "medarbetare")
    assert medarbetare.awarded == 24_796_007 * KR
    assert medarbetare.allocated == 23_200_000 * KR
    assert medarbetare.unallocated == 1_596_007 * KR


def test_seed_003_totals(gnv: GrantState) -> None:
    result = grant_figures(gnv)
    assert [(a.code, a.awarded // KR) for a in result.areas] == [
        ("nara-vard", 30_593_953),
        ("medarbetare", 24_796_007),
        ("vidareutbildning", 5_052_676),
        ("karriartjanster", 1_263_169),
        ("e-halsa", 1_263_169),
        ("ambulans", 1_441_061),
    ]
    assert result.awarded == 64_410_035 * KR
    assert result.allocated == 50_800_000 * KR
    assert result.unallocated == 13_610_035 * KR
    assert result.remaining == result.awarded  # nothing spent yet
    assert (result.spent, result.received, result.repaid, result.unclassified_spent) == (0, 0, 0, 0)


@pytest.fixture
def active(
    gnv: GrantState, spend: Callable[..., SpendLine], allocate: Callable[..., AllocateActivity]
) -> GrantState:
    """gnv after some of everything: spend of each placement, overspend, receipt, repayment."""
    state = fold(gnv, decide(gnv, allocate("mobi", "ambulans", 1_000_000 * KR)))
    for command in (
        record_spend(
            "gnv-2022",
            (
                spend(350_000 * KR, "9916", activity="fast-lakarkontakt"),  # 50 000 over
                spend(20_000 * KR, "9916"),  # nara-vard, unclassified
                spend(30_000 * KR, "9942"),  # the grant's, unclassified
                spend(100_000 * KR, "9942", activity="mobi"),
                spend(-1_000 * KR, "9942", activity="mobi"),  # a credit
            ),
        ),
        RecordReceipt("gnv-2022", 32_205_017 * KR, date(2022, 6, 15), "SKR 1"),
        RepayUnspent("gnv-2022", "medarbetare", 96_007 * KR, date(2022, 12, 30), None),
    ):
        state = fold(state, decide(state, command))
    return state


def test_activity_figures_show_overspend(active: GrantState) -> None:
    nara_vard = area(grant_figures(active), "nara-vard")
    fast = next(a for a in nara_vard.activities if a.code == "fast-lakarkontakt")
    assert (fast.allocated, fast.spent, fast.remaining, fast.overspent) == (
        300_000 * KR,
        350_000 * KR,
        -50_000 * KR,
        True,
    )
    assert not any(a.overspent for a in nara_vard.activities if a.code != "fast-lakarkontakt")


def test_area_figures_count_unclassified_spend_as_spent(active: GrantState) -> None:
    nara_vard = area(grant_figures(active), "nara-vard")
    assert nara_vard.spent == 370_000 * KR
    assert nara_vard.unclassified_spent == 20_000 * KR
    assert nara_vard.unallocated == 2_973_953 * KR
    assert nara_vard.remaining == 30_593_953 * KR - 370_000 * KR


def test_grant_figures_add_spend_on_no_area(active: GrantState) -> None:
    result = grant_figures(active)
    assert result.spent == (350_000 + 20_000 + 30_000 + 99_000) * KR
    assert result.unclassified_spent == 50_000 * KR
    assert result.received == 32_205_017 * KR
    assert result.repaid == 96_007 * KR
    assert area(result, "medarbetare").repaid == 96_007 * KR
    assert result.remaining == result.awarded - result.spent - result.repaid


def test_figures_hold_their_identities(active: GrantState) -> None:
    result = grant_figures(active)
    for a in result.areas:
        assert a.awarded == a.allocated + a.unallocated + a.unclassified_spent + a.repaid
        assert a.remaining == sum(x.remaining for x in a.activities) + a.unallocated
        assert a.allocated == sum(x.allocated for x in a.activities)
    assert result.awarded == sum(a.awarded for a in result.areas)
    assert result.allocated + result.unallocated == sum(
        a.allocated + a.unallocated for a in result.areas
    )


def test_figures_of_an_empty_balance_map_are_zero(gnv: GrantState) -> None:
    result = figures({}, gnv.areas, gnv.activities)
    assert (result.awarded, result.spent, result.remaining) == (0, 0, 0)
    assert len(result.areas) == 6
