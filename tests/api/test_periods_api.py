"""Period close over HTTP (DESIGN §3, rule 4): once a month is closed no spend, reversal, receipt
or repayment may be dated in it, for any grant; closing it again is a 409.
"""

from __future__ import annotations

import pytest

from tests.support.api import (
    DECISION,
    GRANT_ID,
    Api,
    area_body,
    assert_problem,
    batch,
    grant_body,
    line,
    reversal_body,
)

GRANT = f"/v1/grants/{GRANT_ID}"


def test_closing_a_month_answers_201_and_records_who_closed_it(planned: Api) -> None:
    answer = planned.post("/v1/periods/2022-03/close", None, "admin")
    assert answer.status_code == 201
    assert answer.json() == {"period": "2022-03", "closed": True}
    [event] = planned.get("/v1/events", "auditor", params={"stream": "periods"}).json()["events"]
    assert (event["event_type"], event["data"]) == ("PeriodClosed", {"period": "2022-03"})
    assert (event["meta"]["actor"], event["meta"]["role"]) == ("admin-token", "admin")


def test_spend_dated_in_a_closed_month_is_refused_naming_the_line(planned: Api) -> None:
    planned.ok("/v1/periods/2022-03/close", None, "admin")
    before = planned.event_count()
    late = line(booked_on="2022-03-31", line_id="SEN-1")
    body = assert_problem(
        planned.post("/v1/transactions", batch(late, line(booked_on="2022-04-01")), "poster"),
        422,
        "unplaceable-spend",
    )
    assert [(e["line_id"], e["field"], e["code"]) for e in body["errors"]] == [
        ("SEN-1", "booked_on", "closed-period")
    ]
    assert planned.event_count() == before


@pytest.mark.parametrize("day", ["2022-02-28", "2022-04-01"])
def test_the_months_around_a_closed_one_stay_open(planned: Api, day: str) -> None:
    planned.ok("/v1/periods/2022-03/close", None, "admin")
    [o] = planned.spend(line(booked_on=day))
    assert o["status"] == "recorded"


def test_receipts_reversals_and_repayments_in_a_closed_month_are_refused(planned: Api) -> None:
    [o] = planned.spend(line(booked_on="2022-03-10"))
    planned.ok("/v1/periods/2022-03/close", None, "admin")
    planned.ok("/v1/periods/2022-12/close", None, "admin")
    before = planned.event_count()
    refusals = [
        planned.post(
            f"{GRANT}/receipts",
            {"amount": "1.00", "received_on": "2022-03-31", "reference": "sen"},
            "poster",
        ),
        planned.post(
            f"/v1/transactions/{o['transaction_id']}/reversal",
            reversal_body("2022-03-31"),
            "poster",
        ),
        planned.post(
            f"{GRANT}/repayments",
            {"area": "nara-vard", "amount": "1.00", "paid_on": "2022-12-30"},
            "planner",
        ),
    ]
    for answer in refusals:
        assert_problem(answer, 422, "period-closed", rule="closed-period")
    assert planned.event_count() == before
    # The correction is booked in the open month instead (rättelse in April).
    planned.ok(
        f"/v1/transactions/{o['transaction_id']}/reversal", reversal_body("2022-04-01"), "poster"
    )


def test_classification_is_still_possible_after_the_month_is_closed(planned: Api) -> None:
    [o] = planned.spend(line("9917", "20000.00", "2022-03-20", activity=None))
    planned.ok("/v1/periods/2022-03/close", None, "admin")
    planned.ok(
        f"/v1/transactions/{o['transaction_id']}/classification",
        {"activity": "vardlots", "reason": "klassning i april"},
        "planner",
    )
    assert planned.activity("vardlots", as_of="2022-03-31")["spent"] == "20000.00"


def test_closing_a_closed_month_again_is_409(planned: Api) -> None:
    planned.ok("/v1/periods/2022-03/close", None, "admin")
    before = planned.event_count()
    assert_problem(
        planned.post("/v1/periods/2022-03/close", None, "admin"),
        409,
        "period-already-closed",
        period="2022-03",
    )
    assert planned.event_count() == before


def test_a_period_that_is_not_a_month_is_422(api: Api) -> None:
    for period in ("2022-13", "2022-00", "2022-3", "22-03", "mars"):
        body = assert_problem(api.post(f"/v1/periods/{period}/close", None, "admin"), 422)
        assert body["type"].endswith(("/validation-error", "/invalid-period")), body
    assert api.event_count() == 0


def test_a_closed_month_applies_to_every_grant(planned: Api) -> None:
    planned.ok(
        "/v1/grants", grant_body("annan-2022", areas=[area_body("a", "100.00", "7777")]), "planner"
    )
    planned.ok("/v1/periods/2022-03/close", None, "admin")
    body = assert_problem(
        planned.post(
            "/v1/transactions", batch(line("7777", "1.00", "2022-03-01", activity=None)), "poster"
        ),
        422,
        "unplaceable-spend",
    )
    assert body["errors"][0]["code"] == "closed-period"


def test_periods_lists_open_and_closed_months(planned: Api) -> None:
    """Issue 12: a line refused as closed-period can find which months are open."""
    planned.ok("/v1/periods/2022-03/close", None, "admin")
    answer = planned.get("/v1/periods")
    assert answer.status_code == 200, answer.text
    months = answer.json()["periods"]
    assert [m["period"] for m in months] == [f"2022-{m:02d}" for m in range(1, 13)]
    closed = [m for m in months if m["closed"]]
    assert closed == [{"period": "2022-03", "closed": True, "closed_by": "period-close"}]
    assert months[3] == {"period": "2022-04", "closed": False, "closed_by": None}


def test_periods_of_a_grant_show_its_closed_year(planned: Api) -> None:
    planned.ok(f"{GRANT}/year-close", {"year": 2022, "decision": DECISION}, "planner")
    planned.ok("/v1/periods/2021-12/close", None, "admin")
    mine = planned.get("/v1/periods", params={"grant_id": GRANT_ID}).json()["periods"]
    assert mine[0] == {"period": "2021-12", "closed": True, "closed_by": "period-close"}
    assert {m["closed_by"] for m in mine[1:]} == {"year-close"}
    everyone = planned.get("/v1/periods").json()["periods"]
    assert [m["period"] for m in everyone if m["closed"]] == [
        "2021-12"
    ]  # a year close is one grant's
    assert_problem(planned.get("/v1/periods", params={"grant_id": "finns-inte"}), 404)
    assert_problem(planned.get("/v1/periods", role=None), 401)
