"""The CSV report reconciles, whatever was spent where (issue 12): a rule of the report.

Spend on activities, on an area without an activity (9916), on a cost object serving two areas
(9942, on no area until classified), credits included: the area rows plus the unplaced rows add
up to the grant row in every money column, and each area's activity rows to its allocated.
Pure: the domain decides, the read model is built from the folded state, the CSV is parsed back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.balances import figures
from ledger.domain.commands import SpendLine
from ledger.domain.decide import decide
from ledger.domain.state import GrantState, fold
from ledger.formats.reports import render_csv
from ledger.grant_model import GrantModel
from tests.support.spend import record_spend

MONEY = ("Tilldelat", "Fördelat", "Ofördelat", "Förbrukat", "varav oklassificerat", "Kvar")
PLACES = (
    ("9916", "lokalt-arbete"),
    ("9916", None),
    ("9917", "webbplatser"),
    ("9942", None),
)


def ore(text: str) -> int:
    return int(Decimal(text.replace(",", ".")) * 100)


@given(
    st.lists(
        st.tuples(st.sampled_from(PLACES), st.integers(-(10**8), 10**10).filter(bool)),
        min_size=1,
        max_size=12,
    )
)
def test_area_rows_plus_unplaced_rows_equal_the_grant_row(
    gnv: GrantState,
    spend: Callable[..., SpendLine],
    booked: list[tuple[tuple[str, str | None], int]],
) -> None:
    lines = tuple(spend(amount, co, activity) for (co, activity), amount in booked)
    state = fold(gnv, decide(gnv, record_spend("gnv-2022", lines)))
    model = GrantModel.of(
        state,
        figures(state.balances, state.areas, state.activities),
        activity_decisions={},
        as_of=None,
        read_at=datetime(2022, 10, 1, tzinfo=UTC),
    )
    rows = list(csv.DictReader(io.StringIO(render_csv(model)[3:].decode()), delimiter=";"))
    (grant,) = [r for r in rows if r["Nivå"] == "Bidrag"]
    parts = [r for r in rows if r["Nivå"] in ("Område", "Ej på område")]
    for column in MONEY:
        assert sum(ore(p[column]) for p in parts) == ore(grant[column]), column
    for area in (r for r in rows if r["Nivå"] == "Område"):
        acts = [r for r in rows if r["Nivå"] == "Aktivitet" and r["Område"] == area["Område"]]
        assert sum(ore(a["Fördelat"]) for a in acts) == ore(area["Fördelat"])
    unplaced = sum(amount for (co, _), amount in booked if co == "9942")
    assert sum(ore(r["Förbrukat"]) for r in rows if r["Nivå"] == "Ej på område") == unplaced
