"""The spend chart's arithmetic (api.ui.chart): every month's bars add up to that month's
spend, and none rises above the chart when a month holds a minus (a reversal, a line
classified from "oklassat" onto an area)."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from api.ui.chart import MonthlySpend, month_ends, stacked_bars


def test_month_ends_cover_the_period() -> None:
    ends = month_ends(date(2022, 1, 1), date(2022, 12, 31))
    assert [e.isoformat() for e in ends[:2]] == ["2022-01-31", "2022-02-28"]
    assert len(ends) == 12


@given(
    st.lists(
        st.lists(st.integers(-(10**10), 10**10), min_size=2, max_size=2), min_size=1, max_size=12
    )
)
def test_bars_stack_to_the_months_total(amounts: list[list[int]]) -> None:
    months = tuple(f"2022-{i + 1:02d}" for i in range(len(amounts)))
    data = MonthlySpend(
        months,
        ("a", "b"),
        {(area, m): amounts[i][j] for i, m in enumerate(months) for j, area in enumerate("ab")},
    )
    chart = stacked_bars(data, width=600, height=200)
    top = max(data.stacked(m) for m in months) or 1
    for m in months:
        heights = sum(b.height for b in chart.bars if m in b.label)
        assert abs(heights - 200 * data.stacked(m) / top) < 1e-6
    assert all(b.y >= -1e-6 for b in chart.bars)
