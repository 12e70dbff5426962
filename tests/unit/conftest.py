"""Given-when-then for the pure domain: the seed grant of 003 (God och nära vård 2022) and builders.

Builders are factory fixtures (pytest's way to share helpers without importing a conftest):
each returns a command or line with sensible defaults that a test overrides by keyword.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from ledger.domain.commands import (
    AllocateActivity,
    AreaSpec,
    Decision,
    Reallocate,
    RecordedLine,
    RegisterGrant,
    ReportingObligation,
    SpendLine,
)
from ledger.domain.decide import decide
from ledger.domain.events import GrantEvent, SpendRecorded
from ledger.domain.state import GrantState, fold

GRANT = "gnv-2022"
KR = 100  # öre per krona: amounts below read as in the seed, "24_000_000 * KR"

# 003 §3: the award per area, and the cost object its spend is booked on ("objekt").
SEED_AREAS = (
    AreaSpec(
        "nara-vard",
        "Utvecklingen av den nära vården med primärvården som nav",
        30_593_953 * KR,
        "9916",
        "Handläggare HOSPA",
        ring_fenced=False,
    ),
    AreaSpec(
        "medarbetare",
        "Goda förutsättningar för vårdens medarbetare",
        24_796_007 * KR,
        "9917",
        "Utvecklingsstrateg regionstaben",
        ring_fenced=False,
    ),
    AreaSpec(
        "vidareutbildning",
        "Vidareutbildning för sjuksköterskor",
        5_052_676 * KR,
        "9917",
        "HR strateg",
        ring_fenced=True,
    ),
    AreaSpec("karriartjanster", "Karriärtjänster", 1_263_169 * KR, "9917", "HR strateg", True),
    AreaSpec(
        "e-halsa",
        "Insatser inom ramen för Vision e-hälsa 2025",
        1_263_169 * KR,
        "9942",
        "Utvecklingsstrateg regionstaben",
        ring_fenced=False,
    ),
    AreaSpec(
        "ambulans",
        "En förstärkt ambulanssjukvård",
        1_441_061 * KR,
        "9942",
        "Controller division nära vård",
        ring_fenced=False,
    ),
)

# 003 §3.1.1 and §3.1.2: (code, area, kronor, responsible).
SEED_ACTIVITIES = (
    ("lokalt-arbete", "nara-vard", 24_000_000, "Beställarchef"),
    ("gemensam-plan", "nara-vard", 500_000, "Chef HOSPA"),
    ("fast-lakarkontakt", "nara-vard", 300_000, "Chef HOSPA"),
    ("regelverk-kunskapsstyrning", "nara-vard", 500_000, "Chef HOSPA"),
    ("personcentrering", "nara-vard", 1_000_000, "Chef HOSPA"),
    ("uppfoljning-halsoval", "nara-vard", 300_000, "Beställarchef"),
    ("barnhalsovard", "nara-vard", 1_000_000, "BHV överläkare"),
    ("webbplatser", "medarbetare", 6_700_000, "Kommunikationschef"),
    ("vardlots", "medarbetare", 2_000_000, "Hälso- och sjukvårdsdirektör"),
    ("handledning", "medarbetare", 2_500_000, "FOUU chef"),
    ("plattform-utbildning", "medarbetare", 600_000, "FOUU chef"),
    ("cambio", "medarbetare", 4_600_000, "IT chef"),
    ("inera", "medarbetare", 5_300_000, "IT chef"),
    ("servicetjanster", "medarbetare", 1_000_000, "Chef regionservice"),
    ("privata-vardgivare", "medarbetare", 500_000, "Beställarchef"),
)


@pytest.fixture
def decision() -> Decision:
    return Decision("RS/498/2022", date(2022, 5, 4), "Regionstyrelsen")


@pytest.fixture
def given() -> Callable[..., GrantState]:
    """``given(*events)``: the state those events leave, folded with ``evolve``."""

    def fold_events(*events: GrantEvent) -> GrantState:
        state = fold(None, events)
        assert state is not None, "given() needs at least a GrantRegistered"
        return state

    return fold_events


@pytest.fixture
def registration(decision: Decision) -> RegisterGrant:
    return RegisterGrant(
        grant_id=GRANT,
        name="God och nära vård 2022",
        funder="Staten via SKR",
        decision=decision,
        spend_from=date(2022, 1, 1),
        spend_to=date(2022, 12, 31),
        areas=SEED_AREAS,
        reporting=(
            ReportingObligation("delredovisning", date(2022, 9, 30), "Socialstyrelsen"),
            ReportingObligation("slutredovisning", date(2023, 3, 31), "Socialstyrelsen"),
        ),
        repayment_reference="S2022/01234",
    )


@pytest.fixture
def allocate(decision: Decision) -> Callable[..., AllocateActivity]:
    def build(code: str, area: str, amount: int, **changes: Any) -> AllocateActivity:
        command = AllocateActivity(
            grant_id=GRANT,
            code=code,
            area=area,
            name=code.replace("-", " ").capitalize(),
            amount=amount,
            responsible="Beställarchef",
            decision=decision,
        )
        return replace(command, **changes)

    return build


@pytest.fixture
def reallocate(decision: Decision) -> Callable[..., Reallocate]:
    def build(source: str, target: str, amount: int, **changes: Any) -> Reallocate:
        command = Reallocate(
            grant_id=GRANT,
            from_activity=source,
            to_activity=target,
            amount=amount,
            reason="behov inom området",
            decision=decision,
        )
        return replace(command, **changes)

    return build


@pytest.fixture
def spend() -> Callable[..., SpendLine]:
    """``spend(amount, cost_object, activity=...)``: an ERP line with a fresh id."""
    numbers = itertools.count(1)

    def build(
        amount: int, cost_object: str = "9916", activity: str | None = None, **changes: Any
    ) -> SpendLine:
        n = next(numbers)
        line = SpendLine(
            line_id=f"V2022-{n:05d}-1",
            voucher=f"V2022-{n:05d}",
            booked_on=date(2022, 3, 31),
            amount=amount,
            cost_object=cost_object,
            activity=activity,
            account="4010",
            kind="expense",
            text=None,
        )
        return replace(line, **changes)

    return build


@pytest.fixture
def stored() -> Callable[[SpendRecorded], RecordedLine]:
    """The line as the service stores it after ``SpendRecorded``."""

    def build(event: SpendRecorded) -> RecordedLine:
        return RecordedLine(
            transaction_id=event.transaction_id,
            source=event.source,
            line_id=event.line_id,
            booked_on=event.booked_on,
            amount=event.amount,
            cost_object=event.cost_object,
            area=event.area,
            activity=event.activity,
            status="recorded",
        )

    return build


@pytest.fixture
def gnv_history(
    registration: RegisterGrant, allocate: Callable[..., AllocateActivity]
) -> list[GrantEvent]:
    """gnv-2022 registered and planned as in 003 §3.1.1-3.1.2, through ``decide``."""
    history = decide(None, registration)
    state = fold(None, history)
    for code, area, kronor, responsible in SEED_ACTIVITIES:
        events = decide(state, allocate(code, area, kronor * KR, responsible=responsible))
        state = fold(state, events)
        history += events
    return history


@pytest.fixture
def gnv(given: Callable[..., GrantState], gnv_history: list[GrantEvent]) -> GrantState:
    return given(*gnv_history)
