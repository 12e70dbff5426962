"""Grants and their planning over HTTP: register, read, allocate, reallocate, amend, receipts,
repayments and the year close (DESIGN §3), with the refusals of rules 1, 2, 3, 5, 6 and 7 as
problem documents that name the rule, where, and by how much.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.api import (
    ACTIVITIES,
    DECISION,
    GRANT_ID,
    Api,
    activity_body,
    area_body,
    assert_problem,
    grant_body,
    line,
    reallocation_body,
)

MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}$")
MONEY_KEYS = {
    "awarded",
    "allocated",
    "unallocated",
    "spent",
    "remaining",
    "received",
    "unclassified_spent",
    "repaid",
    "amount",
}
GRANT = f"/v1/grants/{GRANT_ID}"


def money_fields(doc: Any, where: str = "") -> list[tuple[str, Any]]:
    """Every (path, value) of a money member anywhere in an answer."""
    found: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in MONEY_KEYS and not isinstance(v, (dict, list)):
                found.append((f"{where}.{k}", v))
            found.extend(money_fields(v, f"{where}.{k}"))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found.extend(money_fields(v, f"{where}[{i}]"))
    return found


# --- register and read ------------------------------------------------------------------------


def test_registering_a_grant_answers_201_with_its_first_event_and_etag(api: Api) -> None:
    answer = api.post("/v1/grants", grant_body(), "planner")
    assert answer.status_code == 201
    assert answer.headers["etag"] == '"1"'
    body = answer.json()
    assert body["grant_id"] == GRANT_ID
    assert body["version"] == 1
    assert [(e["stream_id"], e["stream_version"], e["event_type"]) for e in body["events"]] == [
        (f"grant-{GRANT_ID}", 1, "GrantRegistered")
    ]


def test_a_registered_grant_reads_back_with_areas_reporting_and_decision(api: Api) -> None:
    api.ok("/v1/grants", grant_body(), "planner")
    answer = api.get(GRANT)
    assert answer.status_code == 200
    assert answer.headers["etag"] == '"1"'
    g = answer.json()
    assert (g["name"], g["funder"], g["version"]) == ("Testsatsning 2022", "Staten via SKR", 1)
    assert g["decision"] == DECISION
    assert g["spend_period"] == {"from": "2022-01-01", "to": "2022-12-31"}
    assert g["repayment_reference"] == "Överenskommelse Testsatsning 2022"
    assert g["reporting"] == [
        {"kind": "delredovisning", "due": "2022-09-30", "recipient": "Socialstyrelsen"}
    ]
    assert g["closed_years"] == []
    assert [(a["code"], a["cost_object"], a["awarded"], a["ring_fenced"]) for a in g["areas"]] == [
        ("nara-vard", "9916", "1000000.00", False),
        ("medarbetare", "9917", "800000.00", False),
        ("vidareutbildning", "9917", "300000.00", True),
    ]
    assert g["totals"]["awarded"] == g["totals"]["unallocated"] == "2100000.00"
    assert g["totals"]["allocated"] == g["totals"]["spent"] == "0.00"


def test_a_repayment_reference_is_bounded_by_its_column_as_the_schema_says(api: Api) -> None:
    """200 characters (``grants.repayment_reference``): at full width it is registered and read
    back; one more is a 422 at the field saying the bound, where it once failed the flush."""
    over = api.post("/v1/grants", grant_body(repayment_reference="R" * 201), "planner")
    problem = assert_problem(over, 422, "validation-error")
    [error] = problem["errors"]
    assert (error["field"], "at most 200 characters" in error["reason"]) == (
        "repayment_reference",
        True,
    )
    api.ok("/v1/grants", grant_body(repayment_reference="R" * 200), "planner")
    assert api.get(GRANT).json()["repayment_reference"] == "R" * 200


def test_grant_list_shows_every_registered_grant(api: Api) -> None:
    assert api.get("/v1/grants").json() == {"grants": []}
    api.ok("/v1/grants", grant_body(), "planner")
    api.ok(
        "/v1/grants", grant_body("annan-2022", areas=[area_body("a", "10.00", "7777")]), "planner"
    )
    grants = api.get("/v1/grants").json()["grants"]
    assert sorted(g["grant_id"] for g in grants) == ["annan-2022", GRANT_ID]


def test_every_amount_in_a_grant_answer_is_a_string_with_two_decimals(planned: Api) -> None:
    planned.spend(line(amount="1234.5"))
    g = planned.get(GRANT).json()
    amounts = money_fields(g)
    assert len(amounts) > 40
    assert [(where, v) for where, v in amounts if not (isinstance(v, str) and MONEY.match(v))] == []


def test_an_unknown_grant_is_404_naming_it(api: Api) -> None:
    assert_problem(api.get("/v1/grants/finns-inte"), 404, "unknown-grant", grant_id="finns-inte")


def test_registering_a_grant_twice_is_409_and_keeps_the_first(api: Api) -> None:
    api.ok("/v1/grants", grant_body(), "planner")
    again = api.post("/v1/grants", grant_body(name="Annat namn"), "planner")
    assert_problem(again, 409, "grant-exists", grant_id=GRANT_ID)
    assert api.get(GRANT).json()["name"] == "Testsatsning 2022"


def test_rule_5_a_cost_object_in_an_overlapping_spend_period_is_refused(api: Api) -> None:
    api.ok("/v1/grants", grant_body(), "planner")
    before = api.event_count()
    clash = grant_body(
        "krock-2022",
        spend_period={"from": "2022-07-01", "to": "2023-06-30"},
        areas=[area_body("omrade", "100.00", "9917")],
    )
    body = assert_problem(
        api.post("/v1/grants", clash, "planner"),
        422,
        "cost-object-overlap",
        rule="cost-object-routing",
        cost_object="9917",
        other_grant_id=GRANT_ID,
    )
    assert "9917" in body["detail"]
    assert api.event_count() == before
    later = grant_body(
        "nasta-2023",
        spend_period={"from": "2023-01-01", "to": "2023-12-31"},
        areas=[area_body("omrade", "100.00", "9917")],
    )
    api.ok("/v1/grants", later, "planner")  # the same object in the next year is fine


def test_rule_7_a_grant_without_a_decision_reference_is_refused(api: Api) -> None:
    body = grant_body()
    del body["decision"]
    assert_problem(
        api.post("/v1/grants", body, "planner"),
        422,
        "decision-required",
        rule="decision-reference-required",
    )
    assert api.event_count() == 0


# --- allocate ---------------------------------------------------------------------------------


def test_allocating_an_activity_takes_it_from_the_areas_unallocated_money(api: Api) -> None:
    api.ok("/v1/grants", grant_body(), "planner")
    answer = api.post(
        f"{GRANT}/activities", activity_body("lokalt-arbete", "nara-vard", "600000.00"), "planner"
    )
    assert answer.status_code == 201
    assert answer.headers["etag"] == '"2"'
    assert [e["event_type"] for e in answer.json()["events"]] == ["ActivityAllocated"]
    area = api.area("nara-vard")
    assert (area["allocated"], area["unallocated"]) == ("600000.00", "400000.00")
    [activity] = api.get(GRANT).json()["areas"][0]["activities"]
    assert activity["code"] == "lokalt-arbete"
    assert activity["decision"] == DECISION
    assert (activity["allocated"], activity["spent"], activity["remaining"]) == (
        "600000.00",
        "0.00",
        "600000.00",
    )


def test_rule_1_over_allocation_is_422_naming_area_available_and_requested(planned: Api) -> None:
    before = planned.event_count()
    asked = activity_body("for-mycket", "nara-vard", "200000.01")
    body = assert_problem(
        planned.post(f"{GRANT}/activities", asked, "planner"),
        422,
        "over-allocation",
        rule="no-over-allocation",
        area="nara-vard",
        available="200000.00",
        requested="200000.01",
    )
    assert "nara-vard" in body["detail"]
    assert "0.01 kr too much" in body["detail"]
    assert planned.event_count() == before
    planned.ok(f"{GRANT}/activities", activity_body("precis", "nara-vard", "200000.00"), "planner")
    assert planned.area("nara-vard")["unallocated"] == "0.00"


def test_rule_6_a_new_activity_needs_an_exit_plan(planned: Api) -> None:
    before = planned.event_count()
    without = activity_body("ny", "nara-vard", "1000.00", new_activity=True, exit_plan=None)
    assert_problem(
        planned.post(f"{GRANT}/activities", without, "planner"),
        422,
        "exit-plan-required",
        rule="exit-plan-required",
        activity="ny",
    )
    blank = {**without, "exit_plan": "   "}
    body = assert_problem(planned.post(f"{GRANT}/activities", blank, "planner"), 422)
    assert body["type"].endswith(("/exit-plan-required", "/validation-error"))
    if body["type"].endswith("/validation-error"):
        assert [e["field"] for e in body["errors"]] == ["exit_plan"]
    assert planned.event_count() == before
    planned.ok(f"{GRANT}/activities", {**without, "exit_plan": "Ordinarie budget 2023"}, "planner")
    [ny] = [a for a in planned.get(GRANT).json()["areas"][0]["activities"] if a["code"] == "ny"]
    assert (ny["new_activity"], ny["exit_plan"]) == (True, "Ordinarie budget 2023")


def test_rule_7_an_allocation_without_a_decision_is_refused(planned: Api) -> None:
    body = activity_body("utan-beslut", "nara-vard", "1.00", decision=None)
    assert_problem(
        planned.post(f"{GRANT}/activities", body, "planner"),
        422,
        "decision-required",
        rule="decision-reference-required",
    )


def test_allocating_an_existing_activity_code_again_is_409(planned: Api) -> None:
    assert_problem(
        planned.post(
            f"{GRANT}/activities", activity_body("lokalt-arbete", "nara-vard", "1.00"), "planner"
        ),
        409,
        "activity-exists",
        activity="lokalt-arbete",
    )


def test_allocating_to_an_unknown_area_or_grant_is_404(planned: Api) -> None:
    assert_problem(
        planned.post(f"{GRANT}/activities", activity_body("x", "finns-inte", "1.00"), "planner"),
        404,
        "unknown-area",
        area="finns-inte",
    )
    assert_problem(
        planned.post(
            "/v1/grants/finns-inte/activities", activity_body("x", "nara-vard", "1.00"), "planner"
        ),
        404,
        "unknown-grant",
    )


def test_if_match_with_the_current_etag_is_accepted_and_answers_the_next_etag(
    planned: Api,
) -> None:
    etag = planned.get(GRANT).headers["etag"]
    assert etag == f'"{1 + len(ACTIVITIES)}"'
    answer = planned.post(
        f"{GRANT}/activities",
        activity_body("med-etag", "nara-vard", "1.00"),
        "planner",
        headers={"If-Match": etag},
    )
    assert answer.status_code == 201
    assert answer.headers["etag"] == f'"{2 + len(ACTIVITIES)}"'
    assert planned.get(GRANT).headers["etag"] == answer.headers["etag"]


# --- reallocate -------------------------------------------------------------------------------


def test_reallocation_moves_budget_inside_an_area_and_keeps_its_unallocated(planned: Api) -> None:
    planned.ok(
        f"{GRANT}/reallocations",
        reallocation_body("lokalt-arbete", "barnhalsovard", "100000.00"),
        "planner",
    )
    assert planned.activity("lokalt-arbete")["allocated"] == "500000.00"
    assert planned.activity("barnhalsovard")["allocated"] == "300000.00"
    area = planned.area("nara-vard")
    assert (area["allocated"], area["unallocated"]) == ("800000.00", "200000.00")


def test_rule_2_a_ring_fenced_area_allows_no_reallocation_in_or_out(planned: Api) -> None:
    before = planned.event_count()
    for source, target in (
        ("vidareutbildning-ssk", "webbplatser"),
        ("webbplatser", "vidareutbildning-ssk"),
    ):
        assert_problem(
            planned.post(
                f"{GRANT}/reallocations", reallocation_body(source, target, "1.00"), "planner"
            ),
            422,
            "ring-fenced",
            rule="ring-fenced",
            area="vidareutbildning",
            activity="vidareutbildning-ssk",
        )
    assert planned.event_count() == before


def test_rule_3_reallocation_between_areas_is_refused_even_on_a_shared_cost_object(
    planned: Api,
) -> None:
    assert_problem(
        planned.post(
            f"{GRANT}/reallocations",
            reallocation_body("lokalt-arbete", "webbplatser", "1.00"),
            "planner",
        ),
        422,
        "cross-area-reallocation",
        rule="reallocation-within-area",
        from_area="nara-vard",
        to_area="medarbetare",
    )


def test_rule_3_reallocation_cannot_move_more_than_the_source_has_left(planned: Api) -> None:
    planned.spend(line(amount="150000.00", activity="barnhalsovard"))
    assert_problem(
        planned.post(
            f"{GRANT}/reallocations",
            reallocation_body("barnhalsovard", "lokalt-arbete", "50000.01"),
            "planner",
        ),
        422,
        "insufficient-remaining",
        rule="reallocation-within-remaining",
        activity="barnhalsovard",
        available="50000.00",
        requested="50000.01",
    )
    planned.ok(
        f"{GRANT}/reallocations",
        reallocation_body("barnhalsovard", "lokalt-arbete", "50000.00"),
        "planner",
    )
    assert planned.activity("barnhalsovard")["remaining"] == "0.00"


def test_reallocation_from_an_unknown_activity_is_404(planned: Api) -> None:
    assert_problem(
        planned.post(
            f"{GRANT}/reallocations",
            reallocation_body("finns-inte", "lokalt-arbete", "1.00"),
            "planner",
        ),
        404,
        "unknown-activity",
        activity="finns-inte",
    )


# --- amendments, receipts, repayments ---------------------------------------------------------


def test_an_amendment_changes_the_areas_award_and_its_unallocated(planned: Api) -> None:
    body = {"area": "nara-vard", "awarded": "1250000.50", "reason": "tillägg", "decision": DECISION}
    planned.ok(f"{GRANT}/amendments", body, "planner")
    area = planned.area("nara-vard")
    assert (area["awarded"], area["unallocated"]) == ("1250000.50", "450000.50")
    assert planned.balances()["totals"]["awarded"] == "2350000.50"


def test_rule_1_an_award_cut_below_what_activities_hold_is_refused(planned: Api) -> None:
    body = {
        "area": "nara-vard",
        "awarded": "799999.99",
        "reason": "neddragning",
        "decision": DECISION,
    }
    assert_problem(
        planned.post(f"{GRANT}/amendments", body, "planner"),
        422,
        "amendment-below-allocated",
        rule="no-over-allocation",
        area="nara-vard",
        available="200000.00",
        requested="200000.01",
    )
    planned.ok(f"{GRANT}/amendments", {**body, "awarded": "800000.00"}, "planner")
    assert planned.area("nara-vard")["unallocated"] == "0.00"


def test_receipts_add_up_on_the_cash_ledger_to_the_ore(planned: Api) -> None:
    for amount, on in (("1050000.25", "2022-06-15"), ("1049999.75", "2022-11-15")):
        planned.ok(
            f"{GRANT}/receipts", {"amount": amount, "received_on": on, "reference": "SKR"}, "poster"
        )
    totals = planned.balances()["totals"]
    assert totals["received"] == "2100000.00" == totals["awarded"]
    assert planned.balances(as_of="2022-06-30")["totals"]["received"] == "1050000.25"
    assert totals["overreceived"] is False


def test_a_receipt_dated_outside_the_agreements_years_is_refused(planned: Api) -> None:
    """Rule 9: a receipt 22 years before the decision is a typing error, refused, nothing kept."""
    before = planned.event_count()
    for on in ("2000-05-04", "2021-12-31", "2024-01-01"):
        body = {"amount": "100.00", "received_on": on, "reference": "SKR"}
        assert_problem(
            planned.post(f"{GRANT}/receipts", body, "poster"),
            422,
            "receipt-outside-agreement",
            rule="receipt-in-agreement-years",
            received_on=on,
            earliest="2022-01-01",
            latest="2023-12-31",
        )
    assert planned.event_count() == before
    planned.ok(
        f"{GRANT}/receipts",
        {"amount": "100.00", "received_on": "2023-04-30", "reference": "slutbetalning"},
        "poster",
    )
    assert planned.balances()["totals"]["received"] == "100.00"


def test_a_receipt_beyond_the_award_is_recorded_and_flagged(planned: Api) -> None:
    """Rule 9: cash that did arrive is recorded, like overspend, and flagged until repaid."""
    body = {"amount": "2100000.01", "received_on": "2022-06-15", "reference": "SKR"}
    planned.ok(f"{GRANT}/receipts", body, "poster")
    totals = planned.balances()["totals"]
    assert (totals["received"], totals["awarded"], totals["overreceived"]) == (
        "2100000.01",
        "2100000.00",
        True,
    )
    assert planned.get(GRANT).json()["totals"]["overreceived"] is True


def test_a_repayment_returns_unallocated_money_to_the_funder(planned: Api) -> None:
    answer = planned.ok(
        f"{GRANT}/repayments",
        {"area": "nara-vard", "amount": "200000.00", "paid_on": "2022-12-30"},
        "planner",
    )
    assert [e["event_type"] for e in answer["events"]] == ["RepaymentRecorded"]
    area = planned.area("nara-vard")
    assert (area["repaid"], area["unallocated"]) == ("200000.00", "0.00")
    assert area["remaining"] == "800000.00"
    assert planned.balances()["totals"]["repaid"] == "200000.00"


def test_a_repayment_over_the_unallocated_amount_is_refused_with_figures(planned: Api) -> None:
    assert_problem(
        planned.post(
            f"{GRANT}/repayments",
            {"area": "nara-vard", "amount": "200000.01", "paid_on": "2022-12-30"},
            "planner",
        ),
        422,
        "repayment-exceeds-unallocated",
        area="nara-vard",
        available="200000.00",
        requested="200000.01",
    )


# --- the year close ---------------------------------------------------------------------------


def test_year_close_waits_for_classification_then_returns_unspent_budget(planned: Api) -> None:
    [open_line] = planned.spend(line("9917", "2500.00", "2022-12-20", activity=None))
    planned.spend(line(amount="100000.00", activity="lokalt-arbete"))
    close = {"year": 2022, "decision": DECISION}
    assert_problem(
        planned.post(f"{GRANT}/year-close", close, "planner"),
        422,
        "unclassified-spend-open",
        rule="classify-before-close",
    )
    planned.ok(
        f"/v1/transactions/{open_line['transaction_id']}/classification",
        {"activity": "vardlots", "reason": "klassning"},
        "planner",
    )
    planned.ok(f"{GRANT}/year-close", close, "planner")
    g = planned.get(GRANT).json()
    assert g["closed_years"] == [2022]
    assert planned.activity("lokalt-arbete")["allocated"] == "100000.00"
    assert planned.area("nara-vard")["unallocated"] == "900000.00"
    assert_problem(
        planned.post(f"{GRANT}/year-close", close, "planner"), 409, "year-already-closed"
    )
    assert_problem(
        planned.post(
            f"{GRANT}/activities", activity_body("for-sent", "nara-vard", "1.00"), "planner"
        ),
        422,
        "year-closed",
    )
