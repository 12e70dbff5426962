"""Events: business dates, and a codec that round-trips, upcasts old data and fails clearly."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

import pytest

from ledger.domain import events
from ledger.domain.commands import AreaSpec, Decision, ReportingObligation
from ledger.domain.errors import UnknownEventType, UnreadableEvent
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
    decode,
    encode,
)
from ledger.errors import InvalidInput

DECISION = Decision("RS/498/2022", date(2022, 5, 4), "Regionstyrelsen")

SAMPLES: dict[type, Event] = {
    GrantRegistered: GrantRegistered(
        grant_id="gnv-2022",
        name="God och nära vård 2022",
        funder="Staten via SKR",
        decision=DECISION,
        spend_from=date(2022, 1, 1),
        spend_to=date(2022, 12, 31),
        areas=(AreaSpec("e-halsa", "Vision e-hälsa 2025", 126_316_900, "9942", "Strateg", False),),
        reporting=(ReportingObligation("delredovisning", date(2022, 9, 30), "Socialstyrelsen"),),
        repayment_reference=None,
    ),
    AwardAmended: AwardAmended(
        grant_id="gnv-2022",
        area="e-halsa",
        previous=126_316_900,
        awarded=130_000_000,
        decision=DECISION,
        reason="tilläggsöverenskommelse",
    ),
    ReceiptRecorded: ReceiptRecorded(
        grant_id="gnv-2022", amount=630_000_000, received_on=date(2022, 6, 15), reference="SKR-1"
    ),
    ActivityAllocated: ActivityAllocated(
        grant_id="gnv-2022",
        code="standarder",
        area="e-halsa",
        name="Gemensam tillämpning av standarder",
        amount=126_300_000,
        responsible="Utvecklingsstrateg",
        decision=DECISION,
        new_activity=True,
        exit_plan="ingår i ordinarie budget 2023",
    ),
    BudgetReallocated: BudgetReallocated(
        grant_id="gnv-2022",
        from_activity="a",
        to_activity="b",
        area="e-halsa",
        amount=100_000,
        reason="behov",
        decision=DECISION,
    ),
    SpendRecorded: SpendRecorded(
        grant_id="gnv-2022",
        transaction_id="tx-1",
        source="erp",
        line_id="V1-1",
        voucher=None,
        booked_on=date(2022, 3, 31),
        amount=-1_234_567,
        cost_object="9942",
        area=None,
        activity=None,
        account="4010",
        kind="expense",
        text="kreditnota",
    ),
    SpendReversed: SpendReversed(
        grant_id="gnv-2022",
        transaction_id="tx-2",
        reversal_of="tx-1",
        source="erp",
        line_id="V1-1",
        booked_on=date(2022, 4, 5),
        amount=1_234_567,
        cost_object="9942",
        area="e-halsa",
        activity="standarder",
        reason="felkontering",
    ),
    SpendClassified: SpendClassified(
        grant_id="gnv-2022",
        transaction_id="tx-1",
        booked_on=date(2022, 3, 31),
        amount=1_234_567,
        cost_object="9942",
        from_area=None,
        activity="standarder",
        area="e-halsa",
        reason="standardiseringsarbete",
    ),
    RepaymentRecorded: RepaymentRecorded(
        grant_id="gnv-2022", area="e-halsa", amount=1_600, paid_on=date(2023, 3, 31), reference=None
    ),
    YearClosed: YearClosed(
        grant_id="gnv-2022",
        year=2022,
        decision=DECISION,
        released=(Release("standarder", "e-halsa", 16_900), Release("x", "y", 1)),
    ),
    PeriodClosed: PeriodClosed("2022-03"),
}


def test_every_event_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(events.EVENT_TYPES.values())


@pytest.mark.parametrize("event", SAMPLES.values(), ids=lambda e: e.event_type)
def test_codec_round_trips_through_json(event: Event) -> None:
    event_type, version, data = encode(event)
    assert (event_type, version) == (type(event).event_type, type(event).schema_version)
    stored = json.loads(json.dumps(data))  # only JSON types, and it survives a real store
    assert decode(event_type, version, stored) == event


def test_codec_writes_dates_as_iso_text_and_nested_values_as_objects() -> None:
    _, _, data = encode(SAMPLES[YearClosed])
    assert data == {
        "grant_id": "gnv-2022",
        "year": 2022,
        "decision": {"ref": "RS/498/2022", "date": "2022-05-04", "body": "Regionstyrelsen"},
        "released": [
            {"activity": "standarder", "area": "e-halsa", "amount": 16_900},
            {"activity": "x", "area": "y", "amount": 1},
        ],
    }


def test_decode_leaves_the_stored_data_untouched() -> None:
    _, _, data = encode(SAMPLES[SpendRecorded])
    before = dict(data)
    decode("SpendRecorded", 1, data)
    assert data == before


@pytest.mark.parametrize(
    ("event", "effective"),
    [
        (SAMPLES[GrantRegistered], date(2022, 5, 4)),  # planning: the decision's date
        (SAMPLES[AwardAmended], date(2022, 5, 4)),
        (SAMPLES[ActivityAllocated], date(2022, 5, 4)),
        (SAMPLES[BudgetReallocated], date(2022, 5, 4)),
        (SAMPLES[ReceiptRecorded], date(2022, 6, 15)),
        (SAMPLES[SpendRecorded], date(2022, 3, 31)),
        (SAMPLES[SpendReversed], date(2022, 4, 5)),  # the reversal's own booking date
        (SAMPLES[SpendClassified], date(2022, 3, 31)),  # the classified line's booking date
        (SAMPLES[RepaymentRecorded], date(2023, 3, 31)),
        (SAMPLES[YearClosed], date(2022, 12, 31)),
        (SAMPLES[PeriodClosed], date(2022, 3, 1)),
    ],
    ids=lambda v: getattr(v, "event_type", ""),
)
def test_effective_date_is_the_business_date(event: Event, effective: date) -> None:
    assert event.effective_date == effective


def test_unknown_event_type_is_a_clear_input_error() -> None:
    with pytest.raises(UnknownEventType) as refused:
        decode("GrantDeleted", 1, {})
    assert isinstance(refused.value, InvalidInput)
    assert refused.value.fields == {"event_type": "GrantDeleted", "schema_version": 1}


def test_malformed_data_is_unreadable_not_a_crash() -> None:
    with pytest.raises(UnreadableEvent, match="KeyError"):
        decode("ReceiptRecorded", 1, {"grant_id": "gnv-2022", "amount": 1})
    with pytest.raises(UnreadableEvent, match="missing 1 required"):
        decode("PeriodClosed", 1, {})
    with pytest.raises(UnreadableEvent, match="TypeError"):
        decode("PeriodClosed", 1, {"period": "2022-03", "extra": 1})
    with pytest.raises(UnreadableEvent, match="ValueError"):
        decode("ReceiptRecorded", 1, {**encode(SAMPLES[ReceiptRecorded])[2], "received_on": "x"})


def test_data_with_a_wrong_field_name_is_unreadable() -> None:
    with pytest.raises(UnreadableEvent, match="KeyError: 'period'"):
        decode("PeriodClosed", 1, {"month": "2022-03"})


def test_decoded_events_are_as_frozen_as_constructed_ones() -> None:
    event = decode(*encode(SAMPLES[SpendRecorded]))
    assert isinstance(event, SpendRecorded)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.amount = 1  # type: ignore[misc]
    assert hash(event) == hash(SAMPLES[SpendRecorded])


def test_data_from_a_newer_schema_is_refused() -> None:
    with pytest.raises(UnreadableEvent, match="newer schema"):
        decode("PeriodClosed", 2, {"period": "2022-03"})


def test_data_from_an_older_schema_without_an_upcaster_is_refused() -> None:
    with pytest.raises(UnreadableEvent, match="no upcaster from version 0"):
        decode("PeriodClosed", 0, {"month": "2022-03"})


@dataclass(frozen=True, slots=True)
class NoteAdded:
    """A test-only event at schema version 2: v0 had ``text``, v1 added ``author``."""

    event_type: ClassVar[str] = "TestNoteAdded"
    schema_version: ClassVar[int] = 2

    note: str
    author: str
    on: date

    @property
    def effective_date(self) -> date:
        return self.on


def test_upcasters_lift_old_data_one_version_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    def v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        return {"note": data["text"], "on": data["on"]}

    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "author": "okänd"}

    monkeypatch.setitem(events.EVENT_TYPES, NoteAdded.event_type, NoteAdded)
    monkeypatch.setitem(events.UPCASTERS, ("TestNoteAdded", 0), v0_to_v1)
    monkeypatch.setitem(events.UPCASTERS, ("TestNoteAdded", 1), v1_to_v2)

    old = {"text": "rättelse", "on": "2022-04-05"}
    from_v0: object = decode("TestNoteAdded", 0, old)
    from_v1: object = decode("TestNoteAdded", 1, {"note": "n", "on": "2022-04-05"})
    assert from_v0 == NoteAdded("rättelse", "okänd", date(2022, 4, 5))
    assert from_v1 == NoteAdded("n", "okänd", date(2022, 4, 5))
    current = NoteAdded("n", "revisor", date(2022, 4, 5))
    round_trip: object = decode(*encode(current))  # type: ignore[arg-type]
    assert round_trip == current
    assert old == {"text": "rättelse", "on": "2022-04-05"}
