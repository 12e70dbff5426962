"""Events as the outside sees them (issue 12): money as in every other answer, a string with two
decimals, typed per event type in the spec; the stored form and the hash chain unchanged."""

from __future__ import annotations

import dataclasses
import json
import re
import typing

import sqlalchemy as sa

from ledger.domain.commands import AreaSpec, Decision, ReportingObligation
from ledger.domain.events import EVENT_TYPES, Release
from ledger.public_events import MONEY_FIELDS, NOT_MONEY_FIELDS
from tests.support.api import DECISION, GRANT_ID, Api, line, reallocation_body

MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}$")


def test_every_integer_field_of_every_event_is_known_as_money_or_not() -> None:
    """A new int field must be placed on one side, or it would go out in öre unnoticed."""
    records = [*EVENT_TYPES.values(), AreaSpec, Decision, ReportingObligation, Release]
    for cls in records:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if int in (hints[f.name], *typing.get_args(hints[f.name])):
                assert f.name in MONEY_FIELDS | NOT_MONEY_FIELDS, (cls.__name__, f.name)


def test_rule_8_events_show_money_as_kronor_strings_and_keep_their_stored_hash(
    planned: Api,
) -> None:
    planned.spend(line(amount="1234.50"))
    planned.ok(
        f"/v1/grants/{GRANT_ID}/reallocations",
        reallocation_body("lokalt-arbete", "barnhalsovard", "100.00"),
        "planner",
    )
    planned.ok(
        f"/v1/grants/{GRANT_ID}/amendments",
        {"area": "nara-vard", "awarded": "1000001.00", "decision": DECISION, "reason": "Mer"},
        "planner",
    )
    events = planned.get("/v1/events", "auditor", params={"limit": 1000}).json()["events"]
    by_type = {e["event_type"]: e["data"] for e in events}
    registered = by_type["GrantRegistered"]
    assert [a["awarded"] for a in registered["areas"]] == ["1000000.00", "800000.00", "300000.00"]
    assert by_type["ActivityAllocated"]["amount"] == "300000.00"
    assert by_type["SpendRecorded"]["amount"] == "1234.50"
    assert by_type["BudgetReallocated"]["amount"] == "100.00"
    amended = by_type["AwardAmended"]
    assert (amended["previous"], amended["awarded"]) == ("1000000.00", "1000001.00")
    for e in events:
        for key, value in _money_members(e["data"]):
            assert MONEY.match(str(value)), (e["event_type"], key, value)
            assert isinstance(value, str), (e["event_type"], key, value)
    # the stored form is öre, and the hashes the API shows are the stored ones
    with planned.engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT position, hash FROM events")).all())
        spend = conn.execute(
            sa.text("SELECT data FROM events WHERE event_type = 'SpendRecorded'")
        ).scalar_one()
    assert (json.loads(spend) if isinstance(spend, str) else spend)["amount"] == 123450
    assert {e["position"]: e["hash"] for e in events} == stored
    assert planned.get("/v1/audit/verify", "auditor").json()["ok"] is True


def _money_members(data: object) -> typing.Iterator[tuple[str, object]]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in MONEY_FIELDS:
                yield key, value
            yield from _money_members(value)
    elif isinstance(data, list):
        for item in data:
            yield from _money_members(item)
