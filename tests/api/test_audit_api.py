"""The audit trail over HTTP (DESIGN §2, §3, rule 7): every change in commit order with who made
it, on which decision, under which request; cursor paging that covers every event once; and a
hash chain that verifies, and names the first position where it was tampered with.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from api.settings import Settings
from tests.support.api import (
    DECISION,
    GRANT_ID,
    Api,
    ApiFactory,
    activity_body,
    assert_problem,
    batch,
    grant_body,
    line,
    reversal_body,
)


def all_events(api: Api, **params: Any) -> list[dict[str, Any]]:
    answer = api.get("/v1/events", "auditor", params={"limit": 1000, **params})
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def test_events_are_in_commit_order_with_stream_versions_and_dates(planned: Api) -> None:
    [o] = planned.spend(line(booked_on="2022-03-15"))
    planned.ok(
        f"/v1/transactions/{o['transaction_id']}/reversal", reversal_body("2022-04-05"), "poster"
    )
    events = all_events(planned)
    assert [e["position"] for e in events] == list(range(1, len(events) + 1))
    assert [e["event_type"] for e in events] == [
        "GrantRegistered",
        *["ActivityAllocated"] * 5,
        "SpendRecorded",
        "SpendReversed",
    ]
    assert [e["stream_version"] for e in events] == list(range(1, 9))
    assert {e["stream_id"] for e in events} == {f"grant-{GRANT_ID}"}
    assert (events[-2]["effective_date"], events[-1]["effective_date"]) == (
        "2022-03-15",
        "2022-04-05",
    )
    recorded = [e["recorded_at"] for e in events]
    assert all(r is not None for r in recorded)


def test_every_event_names_its_actor_role_and_request_and_planning_its_decision(
    api: Api,
) -> None:
    api.ok("/v1/grants", grant_body(), "planner", headers={"X-Request-ID": "erp-req-0001"})
    api.ok(f"/v1/grants/{GRANT_ID}/activities", activity_body("a", "nara-vard", "1.00"), "admin")
    api.spend(line(activity="a"))
    registered, allocated, spent = all_events(api)
    assert registered["meta"]["actor"] == "planner-token"
    assert registered["meta"]["role"] == "planner"
    assert registered["meta"]["client_request_id"] == "erp-req-0001"
    assert registered["meta"]["request_id"] != "erp-req-0001"  # ours, never the caller's
    assert registered["meta"]["decision"] == DECISION
    assert (allocated["meta"]["actor"], allocated["meta"]["role"]) == ("admin-token", "admin")
    assert allocated["meta"]["decision"] == DECISION
    assert (spent["meta"]["actor"], spent["meta"]["source"]) == ("poster-token", "raindance")
    assert spent["meta"]["request_id"]  # one is made up when the caller sends none


def test_every_event_records_the_idempotency_key_it_was_written_under(planned: Api) -> None:
    """DESIGN §2: an auditor can tell which (retried) request wrote an event."""
    planned.post(
        "/v1/transactions", batch(line()), "poster", headers={"Idempotency-Key": "erp-batch-42"}
    )
    planned.post("/v1/transactions", batch(line()), "poster")
    keyed, unkeyed = all_events(planned, type="SpendRecorded")
    assert keyed["meta"]["idempotency_key"] == "erp-batch-42"
    assert unkeyed["meta"].get("idempotency_key") is None


def test_the_request_id_is_always_ours_whatever_the_caller_sends(api: Api) -> None:
    """Issue 16 item 6: a caller cannot choose the request id that names its request."""
    ids = set()
    for given in ("abc-123", "abc-123", "bad id\twith spaces", None):
        headers = {"X-Request-ID": given} if given else {}
        answer = api.get("/v1/grants", headers=headers)
        assert answer.headers["x-request-id"] != given
        assert len(answer.headers["x-request-id"]) >= 16
        ids.add(answer.headers["x-request-id"])
    assert len(ids) == 4  # one per request, even for the same X-Request-ID sent twice


def test_a_caller_cannot_forge_another_requests_id_in_event_meta(planned: Api) -> None:
    """Issue 16 item 6: the ERP sends the id an earlier (admin) request got; the event its
    write records names our own id for it, and the caller's only as client_request_id."""
    first = planned.post(f"/v1/grants/{GRANT_ID}/receipts", _receipt(), "admin")
    assert first.status_code == 201, first.text
    theirs = first.headers["x-request-id"]
    forged = planned.post(
        "/v1/transactions", batch(line()), "poster", headers={"X-Request-ID": theirs}
    )
    assert forged.status_code == 201, forged.text
    receipt, spend = all_events(planned)[-2:]
    assert receipt["meta"]["request_id"] == theirs
    assert spend["meta"]["request_id"] == forged.headers["x-request-id"] != theirs
    assert spend["meta"]["client_request_id"] == theirs
    assert [e["meta"].get("request_id") for e in all_events(planned)].count(theirs) == 1


def _receipt() -> dict[str, Any]:
    return {"amount": "1.00", "received_on": "2022-06-01", "reference": "SKR utbetalning"}


def test_paging_with_next_after_covers_every_event_exactly_once(planned: Api) -> None:
    planned.spend(*[line(amount=f"{i}.00") for i in range(1, 8)])
    everything = all_events(planned)
    seen: list[int] = []
    after, pages = 0, 0
    while True:
        page = planned.get("/v1/events", "auditor", params={"after": after, "limit": 4}).json()
        seen.extend(e["position"] for e in page["events"])
        pages += 1
        if page["next_after"] is None:
            assert page["next"] is None
            break
        assert page["next_after"] == page["events"][-1]["position"]
        after = page["next_after"]
    assert seen == [e["position"] for e in everything]
    assert pages == len(everything) // 4 + 1


def test_the_next_link_fetches_the_following_page(planned: Api) -> None:
    first = planned.get("/v1/events", "auditor", params={"limit": 5}).json()
    assert first["next"] is not None
    second = planned.client.get(first["next"], headers=planned.headers("auditor")).json()
    assert second["events"][0]["position"] == first["next_after"] + 1


def test_the_next_link_never_reflects_the_host_header(planned: Api) -> None:
    """Issue 16 item 6: without a configured public URL the link is relative, whatever Host
    the caller sent, and keeps the page's filters."""
    for path, params in (
        ("/v1/events", {"limit": 2, "type": ["ActivityAllocated", "GrantRegistered"]}),
        (f"/v1/grants/{GRANT_ID}/events", {"limit": 2}),
    ):
        page = planned.get(path, "auditor", params=params, headers={"Host": "evil.example"})
        assert page.status_code == 200, page.text
        link = page.json()["next"]
        assert link.startswith(path + "?"), link
        assert "evil.example" not in link
        assert "after=" in link
        assert "limit=2" in link
    filtered = planned.get(
        "/v1/events", "auditor", params={"limit": 2, "type": "ActivityAllocated"}
    )
    assert "type=ActivityAllocated" in filtered.json()["next"]


def test_the_next_link_starts_with_the_configured_public_base_url(
    api_factory: ApiFactory,
) -> None:
    api = api_factory(public_base_url="https://ledger.region.se/grantledger/")
    api.register_planned_grant()
    page = api.get("/v1/events", "auditor", params={"limit": 2}, headers={"Host": "evil.example"})
    link = page.json()["next"]
    assert link == "https://ledger.region.se/grantledger/v1/events?after=2&limit=2"


def test_a_public_base_url_with_a_query_or_credentials_is_refused_at_start() -> None:
    for bad in ("ftp://x", "https://u:p@ledger.se", "https://ledger.se/?a=1", "ledger.se"):
        with pytest.raises(ValidationError):
            Settings(public_base_url=bad)


def test_events_filter_by_stream_and_type(planned: Api) -> None:
    planned.spend(line())
    planned.ok("/v1/periods/2022-01/close", None, "admin")
    only_periods = all_events(planned, stream="periods")
    assert [(e["event_type"], e["data"]) for e in only_periods] == [
        ("PeriodClosed", {"period": "2022-01"})
    ]
    allocated = all_events(planned, type="ActivityAllocated")
    assert [e["data"]["code"] for e in allocated] == [
        "lokalt-arbete",
        "barnhalsovard",
        "webbplatser",
        "vardlots",
        "vidareutbildning-ssk",
    ]
    both = all_events(planned, type=["GrantRegistered", "PeriodClosed"])
    assert [e["event_type"] for e in both] == ["GrantRegistered", "PeriodClosed"]


def test_a_grants_own_history_holds_only_its_stream(planned: Api) -> None:
    planned.ok("/v1/periods/2022-01/close", None, "admin")
    answer = planned.get(f"/v1/grants/{GRANT_ID}/events", "auditor")
    assert answer.status_code == 200
    events = answer.json()["events"]
    assert len(events) == 6
    assert {e["stream_id"] for e in events} == {f"grant-{GRANT_ID}"}
    assert_problem(planned.get("/v1/grants/finns-inte/events", "auditor"), 404, "unknown-grant")


def test_events_page_parameters_are_validated(planned: Api) -> None:
    for params in ({"limit": 0}, {"limit": 1001}, {"after": -1}, {"after": "x"}):
        assert_problem(planned.get("/v1/events", "auditor", params=params), 422, "validation-error")


def test_the_chain_verifies_and_names_its_head(planned: Api) -> None:
    planned.spend(line())
    events = all_events(planned)
    for prev, event in itertools.pairwise(events):
        assert event["prev_hash"] == prev["hash"]
    answer = planned.get("/v1/audit/verify", "auditor")
    assert answer.status_code == 200
    assert answer.json() == {
        "ok": True,
        "checked": len(events),
        "head_position": events[-1]["position"],
        "head_hash": events[-1]["hash"],
        "first_bad_position": None,
        "reason": None,
        "complete": True,
        "next_after": None,
    }


def test_verify_of_an_empty_ledger_is_ok(api: Api) -> None:
    body = api.get("/v1/audit/verify", "auditor").json()
    assert (body["ok"], body["checked"], body["first_bad_position"]) == (True, 0, None)


def test_verify_names_the_first_position_an_edit_behind_the_apis_back_broke(
    planned: Api, backend: str
) -> None:
    # A superuser can get past the append-only triggers; the chain still tells.
    with planned.engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(sa.text("ALTER TABLE events DISABLE TRIGGER USER"))
            conn.execute(
                sa.text(
                    "UPDATE events SET data = jsonb_set(data, '{amount}', '1') WHERE position = 3"
                )
            )
            conn.execute(sa.text("ALTER TABLE events ENABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER events_no_update"))
            conn.execute(
                sa.text("UPDATE events SET data = json_set(data, '$.amount', 1) WHERE position = 3")
            )
    body = planned.get("/v1/audit/verify", "auditor").json()
    assert body["ok"] is False
    assert body["first_bad_position"] == 3
    assert body["reason"]


def test_verify_is_bounded_per_request_and_its_pages_check_the_whole_chain(
    planned: Api, backend: str
) -> None:
    """Issue 16 §6: one request checks at most ``limit`` events; ``next_after`` continues."""
    planned.spend(line())
    head = all_events(planned)[-1]["position"]
    checked, after, pages = 0, 0, 0
    while True:
        body = planned.get(f"/v1/audit/verify?after={after}&limit=3", "auditor").json()
        assert body["ok"] is True
        assert body["checked"] <= 3
        checked, pages = checked + body["checked"], pages + 1
        if body["complete"]:
            assert body["next_after"] is None
            assert body["head_position"] == head
            break
        after = body["next_after"]
        assert after == body["head_position"]
    assert (checked, pages) == (head, -(-head // 3))
    beyond = planned.get(f"/v1/audit/verify?after={head + 5}", "auditor").json()
    assert (beyond["ok"], beyond["checked"], beyond["complete"]) == (True, 0, True)
    assert (beyond["head_position"], beyond["head_hash"]) == (head, all_events(planned)[-1]["hash"])
    too_many = planned.get("/v1/audit/verify?limit=100001", "auditor")
    assert too_many.status_code == 422


def test_a_verify_page_names_a_break_at_the_link_to_the_page_before(
    planned: Api, backend: str
) -> None:
    """A page starting after position 2 still sees that position 3 no longer links to 2."""
    with planned.engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(sa.text("ALTER TABLE events DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER events_no_update"))
        conn.execute(
            sa.text("UPDATE events SET prev_hash = :h WHERE position = 3"), {"h": "0" * 64}
        )
        if backend == "postgresql":
            conn.execute(sa.text("ALTER TABLE events ENABLE TRIGGER USER"))
    body = planned.get("/v1/audit/verify?after=2&limit=5", "auditor").json()
    assert (body["ok"], body["first_bad_position"]) == (False, 3)
    assert "link" in body["reason"]
