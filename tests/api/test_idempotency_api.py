"""Idempotency-Key (DESIGN §2, §3): a finance system retries when the network fails.  The same key
and body answer the first answer again (status, body, ``Idempotent-Replayed: true``) and write
nothing; the same key with another body is a 422; keys belong to the token that used them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from ledger.auth.tokens import TokenRegistry
from tests.support.api import (
    DECISION,
    GRANT_ID,
    TYPE_BASE,
    Api,
    LiveServer,
    activity_body,
    assert_problem,
    batch,
    bearer,
    grant_body,
    line,
    reversal_body,
)

GRANT = f"/v1/grants/{GRANT_ID}"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_a_retried_batch_answers_the_first_answer_and_writes_nothing(planned: Api) -> None:
    body = batch(line(line_id="R-1"), line(line_id="R-2", amount="2.50"))
    first = planned.post("/v1/transactions", body, "poster", headers=key("erp-batch-0001"))
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    events = planned.event_count()
    again = planned.post("/v1/transactions", body, "poster", headers=key("erp-batch-0001"))
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert [x["status"] for x in again.json()["lines"]] == ["recorded", "recorded"]
    assert planned.event_count() == events
    assert planned.activity("lokalt-arbete")["spent"] == "1002.50"


def test_every_kind_of_post_replays(planned: Api) -> None:
    [o] = planned.spend(line())
    [unclassified] = planned.spend(line("9917", activity=None))
    posts: list[tuple[str, Any, str]] = [
        (
            "/v1/grants",
            grant_body("annan-2022", areas=[{**grant_body()["areas"][0], "cost_object": "7777"}]),
            "planner",
        ),
        (f"{GRANT}/activities", activity_body("ny", "nara-vard", "10.00"), "planner"),
        (
            f"{GRANT}/reallocations",
            {
                "from_activity": "lokalt-arbete",
                "to_activity": "barnhalsovard",
                "amount": "1.00",
                "reason": "r",
                "decision": DECISION,
            },
            "planner",
        ),
        (
            f"{GRANT}/amendments",
            {
                "area": "nara-vard",
                "awarded": "1000001.00",
                "reason": "r",
                "decision": DECISION,
            },
            "planner",
        ),
        (
            f"{GRANT}/receipts",
            {"amount": "5.00", "received_on": "2022-06-01", "reference": "r"},
            "poster",
        ),
        (
            f"{GRANT}/repayments",
            {"area": "nara-vard", "amount": "1.00", "paid_on": "2022-12-30"},
            "planner",
        ),
        (f"/v1/transactions/{o['transaction_id']}/reversal", reversal_body(), "poster"),
        (
            f"/v1/transactions/{unclassified['transaction_id']}/classification",
            {"activity": "vardlots", "reason": "klassning"},
            "planner",
        ),
        ("/v1/periods/2022-01/close", None, "admin"),
        (f"{GRANT}/year-close", {"year": 2022, "decision": DECISION}, "planner"),
    ]
    for n, (path, body, role) in enumerate(posts):
        first = planned.post(path, body, role, headers=key(f"k-{n}"))
        assert first.status_code == 201, (path, first.text)
        events = planned.event_count()
        again = planned.post(path, body, role, headers=key(f"k-{n}"))
        assert (again.status_code, again.content) == (first.status_code, first.content), path
        assert again.headers["idempotent-replayed"] == "true", path
        assert planned.event_count() == events, path


def test_a_replay_answers_the_first_answer_even_after_the_ledger_moved_on(planned: Api) -> None:
    body = activity_body("ny", "nara-vard", "10.00")
    first = planned.post(f"{GRANT}/activities", body, "planner", headers=key("alloc-1"))
    planned.ok(f"{GRANT}/activities", activity_body("senare", "nara-vard", "10.00"), "planner")
    again = planned.post(f"{GRANT}/activities", body, "planner", headers=key("alloc-1"))
    assert again.content == first.content
    assert again.json()["version"] == first.json()["version"]  # not a 409 activity-exists


def test_the_same_key_with_another_body_is_422_idempotency_key_reused(planned: Api) -> None:
    planned.post("/v1/transactions", batch(line(line_id="K-1")), "poster", headers=key("erp-7"))
    events = planned.event_count()
    other = planned.post(
        "/v1/transactions", batch(line(line_id="K-2")), "poster", headers=key("erp-7")
    )
    body = assert_problem(other, 422, "idempotency-key-reused", key="erp-7")
    assert body["type"] == TYPE_BASE + "idempotency-key-reused"
    assert "erp-7" in body["detail"]
    assert planned.event_count() == events


def test_the_same_key_on_another_endpoint_is_422(planned: Api) -> None:
    receipt = {"amount": "1.00", "received_on": "2022-06-01", "reference": "r"}
    planned.ok(f"{GRANT}/receipts", receipt, "admin", headers=key("shared"))
    assert_problem(
        planned.post("/v1/periods/2022-01/close", None, "admin", headers=key("shared")),
        422,
        "idempotency-key-reused",
    )


def test_keys_are_scoped_per_token(planned: Api) -> None:
    receipt = {"amount": "100.00", "received_on": "2022-06-01", "reference": "utbetalning"}
    first = planned.post(f"{GRANT}/receipts", receipt, "poster", headers=key("2022-06-01"))
    second = planned.post(f"{GRANT}/receipts", receipt, "admin", headers=key("2022-06-01"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert "idempotent-replayed" not in second.headers
    assert second.json()["version"] == first.json()["version"] + 1
    assert planned.balances()["totals"]["received"] == "200.00"
    # Another system's different body under the same key is not a reuse either.
    other_erp = TokenRegistry(planned.engine).create("erp-agresso", "poster")
    other = planned.client.post(
        f"{GRANT}/receipts",
        json={**receipt, "amount": "1.00"},
        headers={**bearer(other_erp), **key("2022-06-01")},
    )
    assert other.status_code == 201, other.text
    assert planned.balances()["totals"]["received"] == "201.00"


def test_a_refused_request_does_not_use_up_its_key(planned: Api) -> None:
    too_much = activity_body("stor", "nara-vard", "200000.01")
    assert_problem(
        planned.post(f"{GRANT}/activities", too_much, "planner", headers=key("a-1")),
        422,
        "over-allocation",
    )
    # The same request again is refused again, not replayed from nothing ...
    again = planned.post(f"{GRANT}/activities", too_much, "planner", headers=key("a-1"))
    assert_problem(again, 422, "over-allocation")
    assert "idempotent-replayed" not in again.headers
    # ... and a corrected request may use the key.
    fixed = activity_body("stor", "nara-vard", "200000.00")
    assert (
        planned.post(f"{GRANT}/activities", fixed, "planner", headers=key("a-1")).status_code == 201
    )


def test_an_empty_or_overlong_key_is_422_naming_the_header(planned: Api) -> None:
    receipt = {"amount": "1.00", "received_on": "2022-06-01", "reference": "r"}
    for bad in ("", "k" * 256):
        body = assert_problem(
            planned.post(f"{GRANT}/receipts", receipt, "poster", headers=key(bad)),
            422,
            "validation-error",
        )
        assert [e["field"] for e in body["errors"]] == ["header.Idempotency-Key"]
    assert planned.balances()["totals"]["received"] == "0.00"


def test_concurrent_retries_of_one_request_write_it_once(live_server: LiveServer) -> None:
    """Eight retries of one batch race into a real server: one is recorded, all agree."""
    headers = bearer(live_server.tokens["planner"])
    with httpx.Client(
        base_url=live_server.base_url, headers=headers, timeout=30, trust_env=False
    ) as client:
        assert client.post("/v1/grants", json=grant_body()).status_code == 201
        assert (
            client.post(
                f"{GRANT}/activities", json=activity_body("lokalt-arbete", "nara-vard", "600000.00")
            ).status_code
            == 201
        )
    body = batch(*[line(line_id=f"C-{i}") for i in range(5)])
    poster = {**bearer(live_server.tokens["poster"]), "Idempotency-Key": "erp-batch-race"}

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.base_url, timeout=30, trust_env=False) as c:
            return c.post("/v1/transactions", json=body, headers=poster)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
    auditor = bearer(live_server.tokens["auditor"])
    events = httpx.get(
        f"{live_server.base_url}/v1/events",
        params={"type": "SpendRecorded", "limit": 1000},
        headers=auditor,
        trust_env=False,
    ).json()["events"]
    assert len(events) == 5
