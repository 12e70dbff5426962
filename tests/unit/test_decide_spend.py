"""Rules 4 and 5: spend is a fact, refused only when it cannot be placed; routing by cost object.

Also the two ways spend changes place afterwards: reversal and classification.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain import errors
from ledger.domain.balances import figures
from ledger.domain.commands import (
    AllocateActivity,
    ClassifySpend,
    CloseYear,
    CostObjectRoute,
    Decision,
    LineStatus,
    RecordedLine,
    RecordSpend,
    ReverseSpend,
    SpendLine,
)
from ledger.domain.decide import (
    _placeable,
    _placement_problems,
    decide,
    index_routes,
    route_batch,
    route_spend,
    routes_of,
)
from ledger.domain.errors import LineError
from ledger.domain.events import SpendClassified, SpendRecorded, SpendReversed
from ledger.domain.facts import NO_FACTS, LedgerFacts
from ledger.domain.money import MAX_ORE
from ledger.domain.state import GrantState, evolve, fold
from tests.support.spend import record_spend, tx
from tests.unit.conftest import SEED_ACTIVITIES

KR = 100  # öre per krona


@pytest.fixture
def planned(gnv: GrantState, allocate: Callable[..., AllocateActivity]) -> GrantState:
    """gnv with activities on the shared cost object 9942 too."""
    state = gnv
    for command in (
        allocate("e-halsa-standarder", "e-halsa", 1_263_000 * KR),
        allocate("ambulans-mobi", "ambulans", 500_000 * KR),
    ):
        state = evolve(state, *decide(state, command))
    return state


def record(state: GrantState, *lines: SpendLine) -> list[SpendRecorded]:
    events = decide(state, record_spend("gnv-2022", lines))
    recorded = [e for e in events if isinstance(e, SpendRecorded)]
    assert recorded == events
    return recorded


def refusal(state: GrantState, *lines: SpendLine, facts: LedgerFacts = NO_FACTS) -> list[LineError]:
    with pytest.raises(errors.UnplaceableSpend) as refused:
        decide(state, record_spend("gnv-2022", lines), facts)
    assert refused.value.fields["rule"] == "spend-placement"
    return refused.value.errors


# --- rule 4: placement ------------------------------------------------------------------------


def test_rule4_spend_on_an_activity_is_recorded_there(
    planned: GrantState, spend: Callable[..., SpendLine]
) -> None:
    line = spend(1_234_567, "9916", activity="lokalt-arbete")
    assert record(planned, line) == [
        SpendRecorded(
            grant_id="gnv-2022",
            transaction_id=tx(line),
            source="erp",
            line_id=line.line_id,
            voucher=line.voucher,
            booked_on=date(2022, 3, 31),
            amount=1_234_567,
            cost_object="9916",
            area="nara-vard",
            activity="lokalt-arbete",
            account="4010",
            kind="expense",
            text=None,
        )
    ]


@pytest.mark.parametrize(
    ("cost_object", "area"),
    [
        ("9916", "nara-vard"),  # one area on the object: unclassified spend of that area
        ("9917", None),  # medarbetare, vidareutbildning, karriärtjänster: the grant's
        ("9942", None),  # e-hälsa and ambulans: the grant's
    ],
)
def test_rule4_spend_without_activity_is_unclassified_on_its_only_area_or_the_grant(
    planned: GrantState, spend: Callable[..., SpendLine], cost_object: str, area: str | None
) -> None:
    (event,) = record(planned, spend(50_000 * KR, cost_object))
    assert (event.area, event.activity) == (area, None)
    after = evolve(planned, event)
    if area is None:  # a shared cost object: unplaced on that object, no area's money moves
        assert after.balance(f"unplaced:{cost_object}") == 50_000 * KR
        assert after.unplaced() == 50_000 * KR
    else:
        assert after.unclassified(area) == 50_000 * KR


def test_rule4_overspend_is_recorded_and_shown_not_refused(
    planned: GrantState, spend: Callable[..., SpendLine]
) -> None:
    # 300 000 kr on "Fast läkar- och vårdkontakt", then 350 000 kr of spend.
    line = spend(350_000 * KR, "9916", activity="fast-lakarkontakt")
    after = fold(planned, record(planned, line))
    assert after.remaining("fast-lakarkontakt") == -50_000 * KR
    activity = next(
        a
        for area in figures(after.balances, after.areas, after.activities).areas
        for a in area.activities
        if a.code == "fast-lakarkontakt"
    )
    assert (activity.overspent, activity.remaining, activity.spent) == (
        True,
        -50_000 * KR,
        350_000 * KR,
    )


def test_rule4_unclassified_spend_may_take_an_areas_unallocated_below_zero(
    planned: GrantState, spend: Callable[..., SpendLine]
) -> None:
    # nara-vard has 2 993 953 kr unallocated; the ERP books 3 000 000 kr on 9916, no activity.
    (event,) = record(planned, spend(3_000_000 * KR, "9916"))
    assert evolve(planned, event).unallocated("nara-vard") == -6_047 * KR


def test_rule4_credit_lines_are_recorded(
    planned: GrantState, spend: Callable[..., SpendLine]
) -> None:
    (event,) = record(planned, spend(-5_000 * KR, "9916", activity="barnhalsovard"))
    assert evolve(planned, event).remaining("barnhalsovard") == 1_005_000 * KR


@pytest.mark.parametrize("kind", ["expense", "depreciation"])
def test_rule4_expense_and_depreciation_are_placed(
    planned: GrantState, spend: Callable[..., SpendLine], kind: str
) -> None:
    assert record(planned, spend(KR, "9916", kind=kind))


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"kind": "investment"}, "kind", "investment-not-allowed"),
        ({"kind": "gift"}, "kind", "unknown-kind"),
        ({"booked_on": date(2021, 12, 31)}, "booked_on", "outside-spend-period"),
        ({"booked_on": date(2023, 1, 1)}, "booked_on", "outside-spend-period"),
        ({"booked_on": date(2022, 2, 28)}, "booked_on", "closed-period"),
        ({"cost_object": "9999"}, "cost_object", "unknown-cost-object"),
        ({"activity": "okand"}, "activity", "unknown-activity"),
        ({"activity": "cambio"}, "activity", "activity-not-on-cost-object"),  # cambio is 9917
        ({"amount": 0}, "amount", "zero-amount"),
    ],
)
def test_rule4_a_line_that_cannot_be_placed_is_refused(
    planned: GrantState,
    spend: Callable[..., SpendLine],
    change: dict[str, Any],
    field: str,
    code: str,
) -> None:
    february_closed = LedgerFacts(closed_periods=frozenset({"2022-02"}))
    line = replace(spend(KR, "9916"), **change)
    found = [(e.line_id, e.field, e.code) for e in refusal(planned, line, facts=february_closed)]
    assert found == [(line.line_id, field, code)]


def test_rule4_a_batch_names_every_line_that_cannot_be_placed(
    planned: GrantState, spend: Callable[..., SpendLine]
) -> None:
    good = spend(KR, "9916")
    investment = spend(KR, "9916", kind="investment")
    twice_wrong = spend(0, "9999")
    also_good = spend(KR, "9942", activity="ambulans-mobi")
    early = spend(KR, "9917", booked_on=date(2021, 6, 30))
    found = refusal(planned, good, investment, twice_wrong, also_good, early)
    assert [(e.line_id, e.code) for e in found] == [
        (investment.line_id, "investment-not-allowed"),
        (twice_wrong.line_id, "zero-amount"),
        (twice_wrong.line_id, "unknown-cost-object"),
        (early.line_id, "outside-spend-period"),
    ]


def test_rule4_the_refusal_carries_its_line_errors_as_plain_data(
    planned: GrantState, spend: Callable[..., SpendLine]
) -> None:
    line = spend(KR, "9916", kind="investment")
    with pytest.raises(errors.UnplaceableSpend) as refused:
        decide(planned, record_spend("gnv-2022", (line,)))
    assert refused.value.fields["errors"] == [
        {
            "line_id": line.line_id,
            "field": "kind",
            "reason": "only the year's depreciation of an investment may be booked on the "
            "cost object",
            "code": "investment-not-allowed",
        }
    ]


def test_rule4_the_same_line_twice_in_a_batch_is_refused(
    planned: GrantState, spend: Callable[..., SpendLine]
) -> None:
    line = spend(KR, "9916")
    same_key = spend(2 * KR, "9916", line_id=line.line_id)
    same_id = spend(3 * KR, "9916")
    ids = (tx(line), "tx-other", tx(line))  # a caller that gives one id to two lines
    with pytest.raises(errors.UnplaceableSpend) as refused:
        decide(planned, RecordSpend("gnv-2022", "erp", (line, same_key, same_id), ids))
    assert [(e.line_id, e.field, e.code) for e in refused.value.errors] == [
        (same_key.line_id, "line_id", "duplicate-line-in-batch"),
        (same_id.line_id, "transaction_id", "duplicate-line-in-batch"),
    ]
    # The same line_id from another source is another line: each batch has its own source.
    assert record(planned, line)
    assert decide(planned, record_spend("gnv-2022", (same_key,), source="sie-import"))


def test_rule4_spend_in_a_closed_year_is_refused_as_a_closed_period(
    planned: GrantState, spend: Callable[..., SpendLine], decision: Decision
) -> None:
    closed = evolve(planned, *decide(planned, CloseYear("gnv-2022", 2022, decision)))
    (problem,) = refusal(closed, spend(KR, "9916", booked_on=date(2022, 12, 30)))
    assert (problem.code, problem.reason) == (
        "closed-period",
        "2022-12-30 is in closed period 2022",
    )


def test_rule4_an_empty_batch_records_nothing(planned: GrantState) -> None:
    assert decide(planned, record_spend("gnv-2022", ())) == []


# --- rule 5: routing --------------------------------------------------------------------------


@pytest.fixture
def index(planned: GrantState) -> dict[str, tuple[CostObjectRoute, ...]]:
    next_year = CostObjectRoute("9916", "gnv-2023", date(2023, 1, 1), date(2023, 12, 31))
    return index_routes((*routes_of(planned), next_year))


def test_rule5_a_grant_routes_each_of_its_cost_objects_once(planned: GrantState) -> None:
    assert [(r.cost_object, r.grant_id) for r in routes_of(planned)] == [
        ("9916", "gnv-2022"),
        ("9917", "gnv-2022"),
        ("9942", "gnv-2022"),
    ]


@pytest.mark.parametrize(
    ("cost_object", "booked_on", "grant_id"),
    [
        ("9916", date(2022, 3, 31), "gnv-2022"),
        ("9916", date(2023, 1, 1), "gnv-2023"),
        ("9942", date(2022, 12, 31), "gnv-2022"),
        ("9942", date(2023, 1, 1), None),  # no grant on 9942 in 2023
        ("4711", date(2022, 3, 31), None),  # no grant on 4711 at all
    ],
)
def test_rule5_cost_object_and_booking_date_find_one_grant(
    index: dict[str, tuple[CostObjectRoute, ...]],
    cost_object: str,
    booked_on: date,
    grant_id: str | None,
) -> None:
    assert route_spend(index, cost_object, booked_on) == grant_id


def test_rule5_overlapping_routes_find_no_grant() -> None:
    routes = index_routes(
        [
            CostObjectRoute("9916", "a", date(2022, 1, 1), date(2022, 12, 31)),
            CostObjectRoute("9916", "b", date(2022, 6, 1), date(2023, 5, 31)),
        ]
    )
    assert route_spend(routes, "9916", date(2022, 3, 1)) == "a"
    assert route_spend(routes, "9916", date(2022, 7, 1)) is None


def test_rule5_a_batch_is_split_by_grant_and_unroutable_lines_named(
    index: dict[str, tuple[CostObjectRoute, ...]], spend: Callable[..., SpendLine]
) -> None:
    this_year = spend(KR, "9916")
    next_year = spend(KR, "9916", booked_on=date(2023, 2, 1))
    unknown = spend(KR, "4711")
    too_late = spend(KR, "9942", booked_on=date(2023, 2, 1))
    again = replace(this_year, amount=2 * KR)  # its key again, with other content
    by_grant, problems = route_batch(index, "erp", [this_year, next_year, unknown, too_late, again])
    assert by_grant == {"gnv-2022": (this_year,), "gnv-2023": (next_year,)}
    assert [(e.line_id, e.field, e.code) for e in problems] == [
        (unknown.line_id, "cost_object", "unknown-cost-object"),
        (too_late.line_id, "booked_on", "outside-spend-period"),
        (again.line_id, "line_id", "duplicate-line-in-batch"),
    ]


# --- reversal ---------------------------------------------------------------------------------


@pytest.fixture
def booked(
    planned: GrantState,
    spend: Callable[..., SpendLine],
    stored: Callable[[SpendRecorded], RecordedLine],
) -> tuple[GrantState, RecordedLine]:
    """planned with 12 345.67 kr booked on lokalt-arbete, and that line as stored."""
    (event,) = record(planned, spend(1_234_567, "9916", activity="lokalt-arbete"))
    return evolve(planned, event), stored(event)


def reverse(line: RecordedLine, booked_on: date = date(2022, 4, 5)) -> ReverseSpend:
    return ReverseSpend("gnv-2022", f"rev-{line.transaction_id}", line, "felkontering", booked_on)


def test_reversal_cancels_the_line_where_it_sits(
    planned: GrantState, booked: tuple[GrantState, RecordedLine]
) -> None:
    state, line = booked
    events = decide(state, reverse(line))
    assert events == [
        SpendReversed(
            grant_id="gnv-2022",
            transaction_id=f"rev-{line.transaction_id}",
            reversal_of=line.transaction_id,
            source="erp",
            line_id=line.line_id,
            booked_on=date(2022, 4, 5),
            amount=1_234_567,
            cost_object="9916",
            area="nara-vard",
            activity="lokalt-arbete",
            reason="felkontering",
        )
    ]
    assert evolve(state, events[0]).balances == planned.balances


@pytest.mark.parametrize(
    ("status", "error"),
    [("reversed", errors.AlreadyReversed), ("reversal", errors.NotReversible)],
)
def test_reversal_of_a_reversed_line_or_of_a_reversal_is_a_conflict(
    booked: tuple[GrantState, RecordedLine], status: LineStatus, error: type[Exception]
) -> None:
    state, line = booked
    with pytest.raises(error):
        decide(state, reverse(replace(line, status=status)))


def test_reversal_in_a_closed_month_is_refused(booked: tuple[GrantState, RecordedLine]) -> None:
    state, line = booked
    april_closed = LedgerFacts(closed_periods=frozenset({"2022-04"}))
    with pytest.raises(errors.PeriodClosed) as refused:
        decide(state, reverse(line, date(2022, 4, 5)), april_closed)
    assert refused.value.fields["rule"] == "closed-period"
    assert refused.value.fields["period"] == "2022-04"
    assert decide(state, reverse(line, date(2022, 5, 2)), april_closed)


def test_reversal_outside_the_spend_period_is_refused(
    booked: tuple[GrantState, RecordedLine],
) -> None:
    state, line = booked
    with pytest.raises(errors.OutsideSpendPeriod):
        decide(state, reverse(line, date(2023, 1, 15)))


# --- classification ---------------------------------------------------------------------------


def classify(line: RecordedLine, activity: str) -> ClassifySpend:
    return ClassifySpend("gnv-2022", line, activity, "avser standardiseringsarbete")


@pytest.fixture
def unclassified(
    planned: GrantState,
    spend: Callable[..., SpendLine],
    stored: Callable[[SpendRecorded], RecordedLine],
) -> tuple[GrantState, RecordedLine, RecordedLine]:
    """planned with unclassified spend on 9942 (the grant's) and on 9916 (nara-vard's)."""
    events = record(planned, spend(40_000 * KR, "9942"), spend(7_000 * KR, "9916"))
    return fold(planned, events), stored(events[0]), stored(events[1])


def test_classifying_grant_spend_moves_it_onto_the_activity(
    unclassified: tuple[GrantState, RecordedLine, RecordedLine],
) -> None:
    state, grant_line, _ = unclassified
    events = decide(state, classify(grant_line, "e-halsa-standarder"))
    assert events == [
        SpendClassified(
            grant_id="gnv-2022",
            transaction_id=grant_line.transaction_id,
            booked_on=date(2022, 3, 31),
            amount=40_000 * KR,
            cost_object="9942",
            from_area=None,
            activity="e-halsa-standarder",
            area="e-halsa",
            reason="avser standardiseringsarbete",
        )
    ]
    after = evolve(state, events[0])
    assert after.unplaced() == 0
    assert after.balance("suspense:9942") == 0
    assert after.spent("e-halsa-standarder") == 40_000 * KR
    assert after.remaining("e-halsa-standarder") == 1_223_000 * KR


def test_classifying_area_spend_gives_the_area_its_unallocated_back(
    planned: GrantState, unclassified: tuple[GrantState, RecordedLine, RecordedLine]
) -> None:
    state, _, area_line = unclassified
    assert state.unallocated("nara-vard") == planned.unallocated("nara-vard") - 7_000 * KR
    after = evolve(state, *decide(state, classify(area_line, "barnhalsovard")))
    assert after.unallocated("nara-vard") == planned.unallocated("nara-vard")
    assert after.unclassified("nara-vard") == 0
    assert after.spent("barnhalsovard") == 7_000 * KR


def test_classification_must_match_the_lines_cost_object(
    unclassified: tuple[GrantState, RecordedLine, RecordedLine],
) -> None:
    state, grant_line, _ = unclassified
    with pytest.raises(errors.UnplaceableSpend) as refused:
        decide(state, classify(grant_line, "cambio"))  # 9917, the line is on 9942
    assert [e.code for e in refused.value.errors] == ["activity-not-on-cost-object"]


def test_classification_must_match_the_lines_area(
    unclassified: tuple[GrantState, RecordedLine, RecordedLine],
) -> None:
    state, grant_line, _ = unclassified
    line_on_ambulans = replace(grant_line, area="ambulans")
    with pytest.raises(errors.UnplaceableSpend) as refused:
        decide(state, classify(line_on_ambulans, "e-halsa-standarder"))
    assert [e.code for e in refused.value.errors] == ["activity-not-in-area"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"activity": "lokalt-arbete"}, errors.AlreadyClassified),
        ({"status": "reversed"}, errors.AlreadyReversed),
        ({"status": "reversal", "reversal_of": "tx-0"}, errors.NotClassifiable),
    ],
)
def test_only_unclassified_recorded_lines_can_be_classified(
    unclassified: tuple[GrantState, RecordedLine, RecordedLine],
    change: dict[str, Any],
    error: type[Exception],
) -> None:
    state, grant_line, _ = unclassified
    with pytest.raises(error):
        decide(state, classify(replace(grant_line, **change), "e-halsa-standarder"))


def test_classification_to_an_unknown_activity_is_not_found(
    unclassified: tuple[GrantState, RecordedLine, RecordedLine],
) -> None:
    state, grant_line, _ = unclassified
    with pytest.raises(errors.UnknownActivity):
        decide(state, classify(grant_line, "okand"))


def test_classification_is_allowed_in_a_closed_month_but_not_a_closed_year(
    unclassified: tuple[GrantState, RecordedLine, RecordedLine], decision: Decision
) -> None:
    state, grant_line, area_line = unclassified
    march_closed = LedgerFacts(closed_periods=frozenset({"2022-03"}))
    assert decide(state, classify(area_line, "barnhalsovard"), march_closed)
    state = evolve(state, *decide(state, classify(grant_line, "e-halsa-standarder")))
    year_closed = evolve(state, *decide(state, CloseYear("gnv-2022", 2022, decision)))
    with pytest.raises(errors.YearClosed):
        decide(year_closed, classify(area_line, "barnhalsovard"))


def test_a_classified_line_is_reversed_from_its_activity(
    unclassified: tuple[GrantState, RecordedLine, RecordedLine],
) -> None:
    state, grant_line, _ = unclassified
    after = evolve(state, *decide(state, classify(grant_line, "e-halsa-standarder")))
    now = replace(grant_line, area="e-halsa", activity="e-halsa-standarder")
    (reversal,) = decide(after, reverse(now))
    final = evolve(after, reversal)
    assert final.spent("e-halsa-standarder") == 0
    assert final.unplaced() == 0


# --- the quick check is the rule ------------------------------------------------------------

_SEED_CODES = [code for code, *_ in SEED_ACTIVITIES]
_LINE_FIELDS = st.fixed_dictionaries(
    {
        "amount": st.one_of(
            st.integers(-(10**6), 10**6), st.sampled_from([0, MAX_ORE, MAX_ORE + 1, -MAX_ORE - 1])
        ),
        "cost_object": st.sampled_from(["9916", "9917", "9942", "0000"]),
        "activity": st.one_of(
            st.none(),
            st.sampled_from(["e-halsa-standarder", "ambulans-mobi", "no-such", *_SEED_CODES]),
        ),
        "kind": st.sampled_from(["expense", "depreciation", "investment", "gift"]),
        "booked_on": st.dates(date(2021, 11, 1), date(2023, 2, 1)),
    }
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=_LINE_FIELDS, closed=st.sets(st.sampled_from(["2022-03", "2022-07"])))
def test_rule4_the_quick_placement_check_agrees_with_the_rule(
    planned: GrantState, spend: Callable[..., SpendLine], fields: dict[str, Any], closed: set[str]
) -> None:
    """Rule 4: a line is placed exactly when ``_placement_problems`` finds nothing; the quick
    check the batch path asks first must never disagree with it."""
    months = frozenset(closed)
    line = spend(**fields)
    assert _placeable(planned, line, months) == (not _placement_problems(planned, line, months))
