"""Planning rules of DESIGN §1: registration, allocation, reallocation, amendment.

Given the seed grant of 003 (``gnv``), when a planning command, then its events or its refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from ledger.domain import errors
from ledger.domain.balances import GrantFigures, figures
from ledger.domain.commands import (
    AllocateActivity,
    AmendAward,
    AreaSpec,
    ClassifySpend,
    CloseYear,
    CostObjectRoute,
    Decision,
    GrantCommand,
    Reallocate,
    RecordedLine,
    RegisterGrant,
    SpendLine,
)
from ledger.domain.decide import decide
from ledger.domain.events import (
    ActivityAllocated,
    AwardAmended,
    BudgetReallocated,
    GrantEvent,
    GrantRegistered,
    SpendRecorded,
    YearClosed,
)
from ledger.domain.facts import LedgerFacts
from ledger.domain.state import GrantState, evolve, fold
from ledger.errors import Conflict, InvalidInput, NotFound, RuleViolation
from tests.support.spend import record_spend

KR = 100  # öre per krona


def _figures(state: GrantState) -> GrantFigures:
    return figures(state.balances, state.areas, state.activities)


# --- registration -----------------------------------------------------------------------------


def test_register_records_the_grant_as_decided(
    registration: RegisterGrant, decision: Decision
) -> None:
    assert decide(None, registration) == [
        GrantRegistered(
            grant_id="gnv-2022",
            name="God och nära vård 2022",
            funder="Staten via SKR",
            decision=decision,
            spend_from=date(2022, 1, 1),
            spend_to=date(2022, 12, 31),
            areas=registration.areas,
            reporting=registration.reporting,
            repayment_reference="S2022/01234",
        )
    ]


def test_register_refuses_a_grant_that_exists(gnv: GrantState, registration: RegisterGrant) -> None:
    with pytest.raises(errors.GrantExists) as refused:
        decide(gnv, registration)
    assert isinstance(refused.value, Conflict)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"grant_id": "GNV 2022"}, "grant_id"),
        ({"grant_id": ""}, "grant_id"),
        ({"grant_id": "-gnv"}, "grant_id"),
        ({"grant_id": "g" * 65}, "grant_id"),
        ({"name": "  "}, "name"),
        ({"areas": ()}, "areas"),
        ({"spend_from": date(2023, 1, 1)}, "spend_period"),
    ],
)
def test_register_refuses_a_malformed_plan(
    registration: RegisterGrant, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(errors.InvalidPlan) as refused:
        decide(None, replace(registration, **change))
    assert refused.value.fields["field"] == field
    assert isinstance(refused.value, InvalidInput)


@pytest.mark.parametrize(
    ("area_change", "field"),
    [
        ({"code": "Nära vård"}, "areas[1].code"),
        ({"code": "nara-vard"}, "areas[1].code"),  # the first area's code again
        ({"awarded": -1}, "areas[1].awarded"),
        ({"awarded": 10**15 + 1}, "areas[1].awarded"),
        ({"cost_object": ""}, "areas[1].cost_object"),
        ({"name": ""}, "areas[1].name"),
    ],
)
def test_register_refuses_a_malformed_area(
    registration: RegisterGrant, area_change: dict[str, Any], field: str
) -> None:
    areas = list(registration.areas)
    areas[1] = replace(areas[1], **area_change)
    with pytest.raises(errors.InvalidPlan) as refused:
        decide(None, replace(registration, areas=tuple(areas)))
    assert refused.value.fields["field"] == field


def test_register_accepts_an_area_awarded_nothing_yet(registration: RegisterGrant) -> None:
    areas = (*registration.areas, AreaSpec("reserv", "Reserv", 0, "9916", "HOSPA"))
    assert decide(None, replace(registration, areas=areas))


# --- rule 5: one grant per cost object and date -----------------------------------------------


def _route(cost_object: str, start: date, end: date) -> CostObjectRoute:
    return CostObjectRoute(cost_object, "gnv-2021", start, end)


def test_rule5_register_refuses_a_cost_object_another_grant_uses_in_the_period(
    registration: RegisterGrant,
) -> None:
    routes = (_route("9916", date(2021, 1, 1), date(2022, 3, 31)),)
    with pytest.raises(errors.CostObjectOverlap) as refused:
        decide(None, registration, LedgerFacts(routes=routes))
    assert refused.value.fields == {
        "rule": "cost-object-routing",
        "grant_id": "gnv-2022",
        "cost_object": "9916",
        "other_grant_id": "gnv-2021",
        "overlap_from": "2022-01-01",
        "overlap_to": "2022-03-31",
    }


def test_rule5_register_accepts_the_cost_object_in_another_period(
    registration: RegisterGrant,
) -> None:
    routes = (
        _route("9916", date(2021, 1, 1), date(2021, 12, 31)),  # last year's grant
        _route("9917", date(2023, 1, 1), date(2023, 12, 31)),  # next year's grant
        _route("4711", date(2022, 1, 1), date(2022, 12, 31)),  # another cost object
    )
    assert decide(None, registration, LedgerFacts(routes=routes))


def test_rule5_areas_of_one_grant_may_share_a_cost_object(registration: RegisterGrant) -> None:
    # 9942 serves both e-hälsa and ambulans; 9917 serves three areas.
    cost_objects = [a.cost_object for a in registration.areas]
    assert cost_objects.count("9942") == 2
    assert decide(None, registration)


# --- rule 7: planning entries carry their decision -------------------------------------------


@pytest.fixture
def planning(
    registration: RegisterGrant,
    allocate: Callable[..., AllocateActivity],
    reallocate: Callable[..., Reallocate],
) -> dict[str, Callable[[Decision | None], GrantCommand]]:
    """Every planning command, built with the decision it is given."""
    return {
        "register": lambda d: replace(registration, grant_id="gnv-2023", decision=d),
        "amend": lambda d: AmendAward("gnv-2022", "nara-vard", 31_000_000 * KR, d, "tillägg"),
        "allocate": lambda d: allocate("ny-insats", "nara-vard", 1_000 * KR, decision=d),
        "reallocate": lambda d: reallocate("gemensam-plan", "fast-lakarkontakt", KR, decision=d),
        "close-year": lambda d: CloseYear("gnv-2022", 2022, d),
    }


@pytest.mark.parametrize("command", ["register", "amend", "allocate", "reallocate", "close-year"])
@pytest.mark.parametrize(
    ("spoil", "missing"),
    [
        (lambda d: None, "decision"),
        (lambda d: replace(d, ref=" "), "decision.ref"),
        (lambda d: replace(d, body=""), "decision.body"),
    ],
)
def test_rule7_planning_without_a_decision_reference_is_refused(
    gnv: GrantState,
    planning: dict[str, Callable[[Decision | None], GrantCommand]],
    decision: Decision,
    command: str,
    spoil: Callable[[Decision], Decision | None],
    missing: str,
) -> None:
    state = None if command == "register" else gnv
    with pytest.raises(errors.DecisionRequired) as refused:
        decide(state, planning[command](spoil(decision)))
    assert refused.value.fields["rule"] == "decision-reference-required"
    assert refused.value.fields["missing"] == missing


@pytest.mark.parametrize("command", ["register", "amend", "allocate", "reallocate", "close-year"])
def test_rule7_planning_with_a_decision_reference_is_accepted(
    gnv: GrantState,
    planning: dict[str, Callable[[Decision | None], GrantCommand]],
    decision: Decision,
    command: str,
) -> None:
    state = None if command == "register" else gnv
    (event,) = decide(state, planning[command](decision))
    assert isinstance(
        event, GrantRegistered | AwardAmended | ActivityAllocated | BudgetReallocated | YearClosed
    )
    assert event.decision == decision


# --- rule 1: no over-allocation ---------------------------------------------------------------


def test_rule1_allocation_of_exactly_the_unallocated_rest_is_accepted(
    gnv: GrantState, allocate: Callable[..., AllocateActivity], decision: Decision
) -> None:
    command = allocate("ofordelat-nara-vard", "nara-vard", 2_993_953 * KR)
    events = decide(gnv, command)
    assert events == [
        ActivityAllocated(
            grant_id="gnv-2022",
            code="ofordelat-nara-vard",
            area="nara-vard",
            name=command.name,
            amount=2_993_953 * KR,
            responsible="Beställarchef",
            decision=decision,
            new_activity=False,
            exit_plan=None,
        )
    ]
    assert fold(gnv, events).unallocated("nara-vard") == 0


def test_rule1_allocation_beyond_the_award_is_refused_naming_area_available_requested(
    gnv: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    # 003 §3.1.2: "Vidareutbildning för sjuksköterskor 5 053 000 kr" against an award of 5 052 676.
    with pytest.raises(errors.OverAllocation) as refused:
        decide(gnv, allocate("vidareutbildning-ssk", "vidareutbildning", 5_053_000 * KR))
    assert refused.value.fields == {
        "rule": "no-over-allocation",
        "grant_id": "gnv-2022",
        "area": "vidareutbildning",
        "available": 505_267_600,
        "requested": 505_300_000,
    }
    assert refused.value.detail == (
        "area 'vidareutbildning' of grant 'gnv-2022' has 5 052 676.00 kr unallocated; "
        "5 053 000.00 kr requested (324.00 kr too much)"
    )
    assert isinstance(refused.value, RuleViolation)


def test_rule1_one_ore_over_is_refused(
    gnv: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    with pytest.raises(errors.OverAllocation):
        decide(gnv, allocate("extra", "medarbetare", 1_596_007 * KR + 1))
    assert decide(gnv, allocate("extra", "medarbetare", 1_596_007 * KR))


def test_rule1_unallocated_taken_by_unclassified_spend_cannot_be_allocated(
    gnv: GrantState,
    allocate: Callable[..., AllocateActivity],
    spend: Callable[..., SpendLine],
) -> None:
    spent = fold(gnv, decide(gnv, record_spend("gnv-2022", (spend(2_993_000 * KR, "9916"),))))
    assert spent.unallocated("nara-vard") == 953 * KR
    with pytest.raises(errors.OverAllocation) as refused:
        decide(spent, allocate("extra", "nara-vard", 954 * KR))
    assert refused.value.fields["available"] == 953 * KR


def test_rule1_an_area_level_credit_does_not_make_room_beyond_the_award(
    gnv: GrantState,
    allocate: Callable[..., AllocateActivity],
    spend: Callable[..., SpendLine],
    stored: Callable[[SpendRecorded], RecordedLine],
    decision: Decision,
) -> None:
    # A credit note on 9916 without activity raises nara-vard's unallocated until it is
    # classified to the activity it belongs to; planning must not spend that money first.
    (credit,) = decide(gnv, record_spend("gnv-2022", (spend(-100_000 * KR, "9916"),)))
    assert isinstance(credit, SpendRecorded)
    state = evolve(gnv, credit)
    assert state.unallocated("nara-vard") == 3_093_953 * KR
    with pytest.raises(errors.OverAllocation) as refused:
        decide(state, allocate("extra", "nara-vard", 2_993_953 * KR + 1))
    assert refused.value.fields["available"] == 2_993_953 * KR
    cut = AmendAward("gnv-2022", "nara-vard", 27_600_000 * KR - 1, decision, "sänkning")
    with pytest.raises(errors.AmendmentBelowAllocated):
        decide(state, cut)
    state = fold(state, decide(state, allocate("extra", "nara-vard", 2_993_953 * KR)))
    classified = evolve(
        state, *decide(state, ClassifySpend("gnv-2022", stored(credit), "lokalt-arbete", "kredit"))
    )
    nara_vard = next(a for a in _figures(classified).areas if a.code == "nara-vard")
    assert nara_vard.allocated == nara_vard.awarded


@pytest.mark.parametrize("amount", [0, -1])
def test_allocation_needs_a_positive_amount(
    gnv: GrantState, allocate: Callable[..., AllocateActivity], amount: int
) -> None:
    with pytest.raises(errors.InvalidAmount):
        decide(gnv, allocate("extra", "nara-vard", amount))


def test_allocation_to_an_unknown_area_is_not_found(
    gnv: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    with pytest.raises(errors.UnknownArea) as refused:
        decide(gnv, allocate("extra", "tandvard", KR))
    assert isinstance(refused.value, NotFound)


def test_allocation_under_an_existing_code_is_a_conflict(
    gnv: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    with pytest.raises(errors.ActivityExists):
        decide(gnv, allocate("cambio", "medarbetare", KR))


def test_allocation_needs_a_plain_code(
    gnv: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    with pytest.raises(errors.InvalidPlan):
        decide(gnv, allocate("Cambio:2", "medarbetare", KR))


def test_allocation_to_an_unregistered_grant_is_not_found(
    allocate: Callable[..., AllocateActivity],
) -> None:
    with pytest.raises(errors.UnknownGrant):
        decide(None, allocate("extra", "nara-vard", KR))


# --- rule 6: new activities need an exit plan -------------------------------------------------


@pytest.mark.parametrize("exit_plan", [None, "", "   "])
def test_rule6_new_activity_without_exit_plan_is_refused(
    gnv: GrantState, allocate: Callable[..., AllocateActivity], exit_plan: str | None
) -> None:
    command = allocate("mobil-hemsjukvard", "nara-vard", KR, new_activity=True, exit_plan=exit_plan)
    with pytest.raises(errors.ExitPlanRequired) as refused:
        decide(gnv, command)
    assert refused.value.fields == {
        "rule": "exit-plan-required",
        "grant_id": "gnv-2022",
        "activity": "mobil-hemsjukvard",
    }


def test_rule6_new_activity_with_exit_plan_is_accepted(
    gnv: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    plan = "Finansieras inom primärvårdens ram från 2024; avvecklas annars vid årsskiftet."
    (event,) = decide(
        gnv, allocate("mobil-hemsjukvard", "nara-vard", KR, new_activity=True, exit_plan=plan)
    )
    assert isinstance(event, ActivityAllocated)
    assert (event.new_activity, event.exit_plan) == (True, plan)


def test_rule6_existing_work_needs_no_exit_plan(
    gnv: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    assert decide(gnv, allocate("fortsatt-arbete", "nara-vard", KR, new_activity=False))


# --- rule 2: ring-fenced areas ----------------------------------------------------------------


@pytest.fixture
def fenced(gnv: GrantState, allocate: Callable[..., AllocateActivity]) -> GrantState:
    """gnv with an activity in each ring-fenced area and a second one in vidareutbildning."""
    state = gnv
    for command in (
        allocate("vidareutbildning-ssk", "vidareutbildning", 5_000_000 * KR),
        allocate("studielon", "vidareutbildning", 52_676 * KR),
        allocate("karriartjanster", "karriartjanster", 1_263_000 * KR),
    ):
        state = fold(state, decide(state, command))
    return state


@pytest.mark.parametrize(
    ("source", "target", "area"),
    [
        ("vidareutbildning-ssk", "webbplatser", "vidareutbildning"),  # out of a fenced area
        ("webbplatser", "karriartjanster", "karriartjanster"),  # into a fenced area
        ("vidareutbildning-ssk", "studielon", "vidareutbildning"),  # inside one
    ],
)
def test_rule2_reallocation_in_or_out_of_a_ring_fenced_area_is_refused(
    fenced: GrantState,
    reallocate: Callable[..., Reallocate],
    source: str,
    target: str,
    area: str,
) -> None:
    with pytest.raises(errors.RingFenced) as refused:
        decide(fenced, reallocate(source, target, KR))
    assert refused.value.fields["rule"] == "ring-fenced"
    assert refused.value.fields["area"] == area


def test_rule2_reallocation_between_open_activities_is_accepted(
    fenced: GrantState, reallocate: Callable[..., Reallocate]
) -> None:
    assert decide(fenced, reallocate("webbplatser", "vardlots", KR))


def test_rule2_allocation_into_a_ring_fenced_area_is_not_reallocation(
    gnv: GrantState, allocate: Callable[..., AllocateActivity]
) -> None:
    assert decide(gnv, allocate("vidareutbildning-ssk", "vidareutbildning", 5_052_676 * KR))


# --- rule 3: reallocation within the area and the remaining budget ----------------------------


def test_rule3_reallocation_within_the_area_is_accepted(
    gnv: GrantState, reallocate: Callable[..., Reallocate], decision: Decision
) -> None:
    command = reallocate("lokalt-arbete", "barnhalsovard", 250_000 * KR)
    events = decide(gnv, command)
    assert events == [
        BudgetReallocated(
            grant_id="gnv-2022",
            from_activity="lokalt-arbete",
            to_activity="barnhalsovard",
            area="nara-vard",
            amount=250_000 * KR,
            reason=command.reason,
            decision=decision,
        )
    ]
    after = fold(gnv, events)
    assert after.remaining("barnhalsovard") == 1_250_000 * KR
    assert after.unallocated("nara-vard") == gnv.unallocated("nara-vard")


def test_rule3_reallocation_across_areas_is_refused(
    gnv: GrantState, reallocate: Callable[..., Reallocate]
) -> None:
    with pytest.raises(errors.CrossAreaReallocation) as refused:
        decide(gnv, reallocate("lokalt-arbete", "cambio", KR))
    assert refused.value.fields == {
        "rule": "reallocation-within-area",
        "grant_id": "gnv-2022",
        "from_area": "nara-vard",
        "to_area": "medarbetare",
    }


def test_rule3_reallocation_cannot_move_what_was_spent(
    gnv: GrantState, reallocate: Callable[..., Reallocate], spend: Callable[..., SpendLine]
) -> None:
    line = spend(200_000 * KR, "9916", activity="personcentrering")
    state = fold(gnv, decide(gnv, record_spend("gnv-2022", (line,))))
    assert decide(state, reallocate("personcentrering", "barnhalsovard", 800_000 * KR))
    with pytest.raises(errors.InsufficientRemaining) as refused:
        decide(state, reallocate("personcentrering", "barnhalsovard", 800_000 * KR + 1))
    assert refused.value.fields == {
        "rule": "reallocation-within-remaining",
        "grant_id": "gnv-2022",
        "activity": "personcentrering",
        "available": 800_000 * KR,
        "requested": 800_000 * KR + 1,
    }


def test_rule3_reallocation_to_itself_is_malformed(
    gnv: GrantState, reallocate: Callable[..., Reallocate]
) -> None:
    with pytest.raises(errors.InvalidPlan):
        decide(gnv, reallocate("cambio", "cambio", KR))


@pytest.mark.parametrize(("source", "target"), [("okand", "cambio"), ("cambio", "okand")])
def test_reallocation_between_unknown_activities_is_not_found(
    gnv: GrantState, reallocate: Callable[..., Reallocate], source: str, target: str
) -> None:
    with pytest.raises(errors.UnknownActivity) as refused:
        decide(gnv, reallocate(source, target, KR))
    assert refused.value.fields["activity"] == "okand"


@pytest.mark.parametrize("amount", [0, -KR])
def test_reallocation_needs_a_positive_amount(
    gnv: GrantState, reallocate: Callable[..., Reallocate], amount: int
) -> None:
    with pytest.raises(errors.InvalidAmount):
        decide(gnv, reallocate("cambio", "inera", amount))


# --- amendments -------------------------------------------------------------------------------


def test_amendment_raising_the_award_adds_to_unallocated(
    gnv: GrantState, decision: Decision
) -> None:
    command = AmendAward("gnv-2022", "ambulans", 1_442_000 * KR, decision, "tillägg")
    events = decide(gnv, command)
    assert events == [
        AwardAmended("gnv-2022", "ambulans", 1_441_061 * KR, 1_442_000 * KR, decision, "tillägg")
    ]
    after = evolve(gnv, events[0])
    assert after.awarded("ambulans") == after.unallocated("ambulans") == 1_442_000 * KR


def test_rule1_amendment_may_cut_what_is_unallocated(gnv: GrantState, decision: Decision) -> None:
    # nara-vard: 30 593 953 awarded, 27 600 000 on activities -> a cut to 27 600 000 is the limit.
    command = AmendAward("gnv-2022", "nara-vard", 27_600_000 * KR, decision, "sänkning")
    after = fold(gnv, decide(gnv, command))
    assert after.unallocated("nara-vard") == 0


def test_rule1_amendment_below_what_activities_hold_is_refused(
    gnv: GrantState, decision: Decision
) -> None:
    command = AmendAward("gnv-2022", "nara-vard", 27_600_000 * KR - 1, decision, "sänkning")
    with pytest.raises(errors.AmendmentBelowAllocated) as refused:
        decide(gnv, command)
    assert refused.value.fields == {
        "rule": "no-over-allocation",
        "grant_id": "gnv-2022",
        "area": "nara-vard",
        "available": 2_993_953 * KR,
        "requested": 2_993_953 * KR + 1,
        "minimum_award": 27_600_000 * KR,
    }


def test_amendment_to_a_negative_award_is_malformed(gnv: GrantState, decision: Decision) -> None:
    with pytest.raises(errors.InvalidPlan):
        decide(gnv, AmendAward("gnv-2022", "nara-vard", -1, decision, "fel"))


def test_amendment_of_an_unknown_area_is_not_found(gnv: GrantState, decision: Decision) -> None:
    with pytest.raises(errors.UnknownArea):
        decide(gnv, AmendAward("gnv-2022", "tandvard", KR, decision, "fel"))


def test_history_fixture_is_the_seed_plan(gnv_history: list[GrantEvent]) -> None:
    assert sum(isinstance(e, ActivityAllocated) for e in gnv_history) == 15
