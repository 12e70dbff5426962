"""Balances over HTTP (DESIGN §3): per grant, area, activity and cost object; today, as of a
booking date, and as known at a recording time; money always strings with two decimals.
"""

from __future__ import annotations

import time

import pytest

from tests.support.api import GRANT_ID, Api, area_body, assert_problem, grant_body, line


@pytest.fixture
def spent(planned: Api) -> Api:
    """The planned grant with some March and May spend, one line unclassified on 9917."""
    planned.spend(
        line("9916", "1250000.00", "2022-02-28", activity="lokalt-arbete"),
        line("9916", "85000.50", "2022-03-31", activity="barnhalsovard"),
        line("9917", "400000.00", "2022-03-31", activity="webbplatser"),
        line("9917", "20000.00", "2022-03-20", activity=None),
        line("9917", "1000.25", "2022-05-10", activity="vidareutbildning-ssk"),
    )
    return planned


def test_grant_balances_answer_every_figure_of_design_section_3(spent: Api) -> None:
    b = spent.balances()
    assert (b["grant_id"], b["name"], b["as_of"], b["known_at"], b["cost_object"]) == (
        GRANT_ID,
        "Testsatsning 2022",
        None,
        None,
        None,
    )
    assert b["totals"] == {
        "awarded": "2100000.00",
        "allocated": "1700000.00",
        "unallocated": "400000.00",
        "spent": "1756000.75",
        "remaining": "343999.25",
        "received": "0.00",
        "overreceived": False,
        "unclassified_spent": "20000.00",
        "repaid": "0.00",
    }
    areas = {a["code"]: a for a in b["areas"]}
    assert list(areas) == ["nara-vard", "medarbetare", "vidareutbildning"]
    nara = areas["nara-vard"]
    assert (nara["cost_object"], nara["awarded"], nara["allocated"], nara["unallocated"]) == (
        "9916",
        "1000000.00",
        "800000.00",
        "200000.00",
    )
    assert nara["spent"] == "1335000.50"
    acts = {x["code"]: x for x in nara["activities"]}
    assert acts["lokalt-arbete"] == {
        "code": "lokalt-arbete",
        "allocated": "600000.00",
        "spent": "1250000.00",
        "remaining": "-650000.00",
        "overspent": True,
    }
    assert acts["barnhalsovard"]["remaining"] == "114999.50"
    assert acts["barnhalsovard"]["overspent"] is False
    assert areas["medarbetare"]["spent"] == "400000.00"  # the 9917 line is on no area yet
    assert areas["vidareutbildning"]["spent"] == "1000.25"


def test_as_of_a_booking_date_leaves_out_later_bookings(spent: Api) -> None:
    march = spent.balances(as_of="2022-03-31")
    assert march["as_of"] == "2022-03-31"
    assert march["totals"]["spent"] == "1755000.50"
    february = spent.balances(as_of="2022-02-28")
    assert february["totals"]["spent"] == "1250000.00"
    assert spent.balances(as_of="2022-01-31")["totals"]["spent"] == "0.00"


def test_known_at_answers_the_ledger_as_it_was_known_then(spent: Api) -> None:
    events = spent.get("/v1/events", "auditor", params={"limit": 1000}).json()["events"]
    known_then = events[-1]["recorded_at"]
    time.sleep(0.01)  # the database clock moves on before the next write
    spent.spend(line("9916", "0.99", "2022-03-01", activity="lokalt-arbete"))
    then = spent.balances(known_at=known_then)
    assert then["known_at"] is not None
    assert then["totals"]["spent"] == "1756000.75"
    assert spent.balances()["totals"]["spent"] == "1756001.74"
    both = spent.balances(known_at=known_then, as_of="2022-03-31")
    assert both["totals"]["spent"] == "1755000.50"


def test_narrowing_to_a_cost_object_shows_only_its_areas_and_resums_totals(spent: Api) -> None:
    b = spent.balances(cost_object="9917")
    assert b["cost_object"] == "9917"
    assert [a["code"] for a in b["areas"]] == ["medarbetare", "vidareutbildning"]
    assert b["totals"]["awarded"] == "1100000.00"
    assert b["totals"]["allocated"] == "900000.00"
    # The line booked on 9917 without an activity is on no area, but it is on 9917.
    assert b["totals"]["spent"] == "421000.25"
    assert b["totals"]["unclassified_spent"] == "20000.00"
    assert spent.balances(cost_object="9916")["totals"]["unclassified_spent"] == "0.00"


def test_narrowing_to_an_area_or_an_activity(spent: Api) -> None:
    by_area = spent.balances(area="nara-vard")
    assert [a["code"] for a in by_area["areas"]] == ["nara-vard"]
    assert by_area["totals"]["awarded"] == "1000000.00"
    assert by_area["totals"]["spent"] == "1335000.50"
    by_activity = spent.balances(activity="barnhalsovard")
    [area] = by_activity["areas"]
    assert [x["code"] for x in area["activities"]] == ["barnhalsovard"]
    assert area["activities"][0]["spent"] == "85000.50"


def test_unknown_grant_area_or_activity_is_404(spent: Api) -> None:
    get = spent.get
    assert_problem(get("/v1/balances", params={"grant_id": "finns-inte"}), 404, "unknown-grant")
    assert_problem(
        get("/v1/balances", params={"grant_id": GRANT_ID, "area": "finns-inte"}),
        404,
        "unknown-area",
        area="finns-inte",
    )
    assert_problem(
        get("/v1/balances", params={"grant_id": GRANT_ID, "activity": "finns-inte"}),
        404,
        "unknown-activity",
        activity="finns-inte",
    )


def test_balances_without_grant_id_list_every_grant(spent: Api) -> None:
    answer = spent.get("/v1/balances")
    assert answer.status_code == 200
    [only] = answer.json()["balances"]
    assert only["grant_id"] == GRANT_ID
    assert only["totals"] == spent.balances()["totals"]
    assert spent.get("/v1/balances", params={"cost_object": "0000"}).json() == {"balances": []}


def test_a_malformed_date_or_time_is_422_naming_the_parameter(spent: Api) -> None:
    for name, value in (
        ("as_of", "2022-02-30"),
        ("known_at", "igår"),
        ("grant_id", "Stora Bokstäver"),
    ):
        body = assert_problem(
            spent.get("/v1/balances", params={"grant_id": GRANT_ID, name: value}),
            422,
            "validation-error",
        )
        assert [e["field"] for e in body["errors"]] == [f"query.{name}"]


def test_cost_object_9917_sums_the_areas_it_serves(spent: Api) -> None:
    answer = spent.get("/v1/cost-objects/9917")
    assert answer.status_code == 200
    body = answer.json()
    assert body["cost_object"] == "9917"
    [grant] = body["grants"]
    assert grant["grant_id"] == GRANT_ID
    assert [a["code"] for a in grant["areas"]] == ["medarbetare", "vidareutbildning"]
    assert body["totals"]["awarded"] == "1100000.00"
    assert body["totals"]["allocated"] == "900000.00"
    assert body["totals"]["unallocated"] == "200000.00"


def test_cost_object_9917_shows_the_unclassified_spend_booked_on_it(spent: Api) -> None:
    """The 20 000.00 booked on 9917 without an activity is on no area yet, but it is on 9917."""
    totals = spent.get("/v1/cost-objects/9917").json()["totals"]
    assert totals["spent"] == "421000.25"
    assert totals["unclassified_spent"] == "20000.00"


def test_an_unknown_cost_object_is_404(spent: Api) -> None:
    assert_problem(
        spent.get("/v1/cost-objects/0000"), 404, "unknown-cost-object", cost_object="0000"
    )


def test_cost_object_as_of_a_date(spent: Api) -> None:
    body = spent.get("/v1/cost-objects/9916", params={"as_of": "2022-02-28"}).json()
    assert body["totals"]["spent"] == "1250000.00"
    assert body["grants"][0]["as_of"] == "2022-02-28"


def test_received_is_the_grants_and_not_a_cost_objects_or_an_areas(spent: Api) -> None:
    """Issue 12: /v1/cost-objects/9942 showed the whole grant's received beside its own award."""
    spent.ok(
        f"/v1/grants/{GRANT_ID}/receipts",
        {"amount": "1050000.00", "received_on": "2022-02-25", "reference": "utbetalning"},
        "poster",
    )
    assert spent.balances()["totals"]["received"] == "1050000.00"
    cost_object = spent.get("/v1/cost-objects/9917").json()
    assert cost_object["totals"]["received"] is None
    assert cost_object["grants"][0]["totals"]["received"] is None
    assert spent.balances(area="nara-vard")["totals"]["received"] is None
    assert spent.balances(cost_object="9916")["totals"]["overreceived"] is None


def test_an_area_filter_across_grants_keeps_the_grants_that_have_the_area(spent: Api) -> None:
    """Issue 12: one grant on 9917 lacking the area made the whole answer 404."""
    later = grant_body(
        "test-2023",
        spend_period={"from": "2023-01-01", "to": "2023-12-31"},
        areas=[area_body("ny-area", "500000.00", "9917")],
    )
    assert spent.post("/v1/grants", later, "planner").status_code == 201
    params = {"cost_object": "9917", "area": "medarbetare"}
    answer = spent.get("/v1/balances", params=params)
    assert answer.status_code == 200, answer.text
    [only] = answer.json()["balances"]
    assert (only["grant_id"], [a["code"] for a in only["areas"]]) == (GRANT_ID, ["medarbetare"])
    other = spent.get("/v1/balances", params={"cost_object": "9917", "area": "ny-area"}).json()
    assert [b["grant_id"] for b in other["balances"]] == ["test-2023"]
    assert_problem(
        spent.get("/v1/balances", params={"cost_object": "9917", "area": "finns-inte"}),
        404,
        "unknown-area",
        area="finns-inte",
    )
    by_activity = spent.get("/v1/balances", params={"activity": "webbplatser"}).json()
    assert [b["grant_id"] for b in by_activity["balances"]] == [GRANT_ID]


def test_todays_balances_follow_every_write_at_once_though_reads_reuse_the_grants_state(
    planned: Api,
) -> None:
    """A balance read reuses the grant's last state only while its stream version is unchanged:
    a spend made since shows in the very next read (DESIGN §3, figures are always current)."""
    before = planned.balances()
    assert planned.balances() == before
    planned.spend(line(amount="250.00"))
    after = planned.balances()
    assert after["version"] > before["version"]
    assert before["totals"]["spent"] == "0.00"
    assert after["totals"]["spent"] == "250.00"
