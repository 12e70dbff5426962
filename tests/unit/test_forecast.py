"""The year-end forecast (ledger.forecast): a straight line, and what it puts at risk.

Rules protected: projected spend is spend so far × period days / elapsed days, to the öre; after
the period's end it is the spend itself; an activity's projected unspent and overspend are the
two sides of allocated − projected; an area's återbetalningsrisk is award − repaid − projected
spend, never below zero, and the grant's is the sum of its areas'.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.balances import GrantFigures
from ledger.domain.commands import Decision
from ledger.forecast import SpendWindow, forecast
from ledger.grant_model import ActivityModel, AreaModel, GrantModel

YEAR = SpendWindow(date(2022, 1, 1), date(2022, 12, 31), date(2022, 6, 30))
DECISION = Decision(ref="S 2021/1", date=date(2021, 12, 1), body="styrelsen")
ore = st.integers(min_value=0, max_value=10**12)


def activity(code: str, allocated: int, spent: int) -> ActivityModel:
    return ActivityModel(
        code=code,
        area="a",
        name=f"Aktivitet {code}",
        responsible="Anna",
        new_activity=False,
        exit_plan=None,
        decision=None,
        allocated=allocated,
        spent=spent,
        remaining=allocated - spent,
        overspent=spent > allocated,
    )


def grant(
    awarded: int, activities: list[ActivityModel], unclassified: int = 0, repaid: int = 0
) -> GrantModel:
    """A one-area grant's read model as of YEAR's day."""
    allocated = sum(a.allocated for a in activities)
    spent = sum(a.spent for a in activities) + unclassified
    area = AreaModel(
        code="a",
        name="Området",
        cost_object="9916",
        responsible="Anna",
        ring_fenced=False,
        awarded=awarded,
        allocated=allocated,
        unallocated=awarded - allocated - unclassified - repaid,
        spent=spent,
        unclassified_spent=unclassified,
        repaid=repaid,
        remaining=awarded - spent - repaid,
        activities=tuple(activities),
    )
    totals = GrantFigures(
        awarded=awarded,
        allocated=allocated,
        unallocated=area.unallocated,
        spent=spent,
        remaining=area.remaining,
        received=0,
        unclassified_spent=unclassified,
        repaid=repaid,
        areas=(),
    )
    return GrantModel(
        grant_id="g",
        name="Bidraget",
        funder="Arvsfonden",
        decision=DECISION,
        spend_from=YEAR.spend_from,
        spend_to=YEAR.spend_to,
        repayment_reference=None,
        reporting=(),
        closed_years=(),
        version=1,
        as_of=YEAR.on,
        read_at=datetime(2022, 7, 1, tzinfo=UTC),
        totals=totals,
        areas=(area,),
        unplaced=(),
    )


def test_half_a_year_at_the_same_rate_doubles_roughly() -> None:
    assert (YEAR.elapsed_days, YEAR.period_days) == (181, 365)
    assert YEAR.projected(181_000_00) == 365_000_00
    assert YEAR.monthly_rate(181_000_00) == 30_416_67  # 30 416.666… rounds up


def test_before_the_period_nothing_is_extrapolated() -> None:
    early = SpendWindow(date(2022, 1, 1), date(2022, 12, 31), date(2021, 12, 1))
    assert early.elapsed_days == 0
    assert early.projected(5_00) == 5_00
    assert early.monthly_rate(5_00) == 0


@given(spent=ore, days=st.integers(min_value=0, max_value=800))
def test_projection_is_the_straight_line_to_the_ore(spent: int, days: int) -> None:
    w = SpendWindow(date(2022, 1, 1), date(2022, 12, 31), date(2022, 1, 1) + timedelta(days))
    exact = Fraction(spent * 365, w.elapsed_days)
    assert abs(w.projected(spent) - exact) <= Fraction(1, 2)
    assert w.projected(spent) >= spent
    if days >= 364:  # the last day of the period or later: no more spend to project
        assert w.projected(spent) == spent


@given(allocated=ore, spent=ore)
def test_unspent_and_overspend_are_two_sides_of_one_difference(allocated: int, spent: int) -> None:
    (a,) = forecast(grant(allocated, [activity("x", allocated, spent)])).areas[0].activities
    assert a.projected_unspent - a.projected_overspend == allocated - a.projected_spent
    assert min(a.projected_unspent, a.projected_overspend) == 0


@given(
    awarded=ore,
    spends=st.lists(st.tuples(ore, ore), min_size=1, max_size=4),
    unclassified=ore,
)
def test_repayment_risk_is_award_less_projected_spend(
    awarded: int, spends: list[tuple[int, int]], unclassified: int
) -> None:
    acts = [activity(f"x{i}", alloc, spent) for i, (alloc, spent) in enumerate(spends)]
    f = forecast(grant(awarded, acts, unclassified))
    (area,) = f.areas
    projected = sum(x.projected_spent for x in area.activities) + YEAR.projected(unclassified)
    assert area.projected_spent == projected
    assert area.repayment_risk == max(0, awarded - projected)
    assert f.repayment_risk == area.repayment_risk


def test_money_left_unallocated_is_at_risk() -> None:
    f = forecast(grant(1_000_000_00, [activity("x", 600_000_00, 0)]))
    assert f.repayment_risk == 1_000_000_00  # nothing spent, nothing projected


def test_repaid_money_is_no_longer_at_risk() -> None:
    f = forecast(grant(1_000_000_00, [activity("x", 600_000_00, 0)], repaid=400_000_00))
    assert f.repayment_risk == 600_000_00
