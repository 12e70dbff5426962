"""Spend from the finance system over HTTP (DESIGN §3, rules 4 and 5): atomic batches, the
natural key (source, line_id), overspend shown not refused, reversal and classification.
"""

from __future__ import annotations

from tests.support.api import (
    GRANT_ID,
    Api,
    assert_problem,
    batch,
    line,
    reversal_body,
)


def test_a_batch_answers_201_with_one_outcome_per_line_in_order(planned: Api) -> None:
    lines = [
        line("9916", "1250000.00", "2022-02-28", activity="lokalt-arbete", line_id="V1-1"),
        line("9917", "400000.00", "2022-03-31", activity="webbplatser", line_id="V1-2"),
        line("9917", "20000.00", "2022-03-20", activity=None, line_id="V1-3"),
    ]
    answer = planned.post("/v1/transactions", batch(*lines), "poster")
    assert answer.status_code == 201
    outcomes = answer.json()["lines"]
    assert [(o["line_id"], o["grant_id"], o["status"]) for o in outcomes] == [
        ("V1-1", GRANT_ID, "recorded"),
        ("V1-2", GRANT_ID, "recorded"),
        ("V1-3", GRANT_ID, "recorded"),
    ]
    assert len({o["transaction_id"] for o in outcomes}) == 3


def test_a_recorded_line_reads_back_as_the_erp_sent_it(planned: Api) -> None:
    sent = line("9916", "12345.67", "2022-03-15", activity="lokalt-arbete", line_id="V2022-00123-1")
    [outcome] = planned.spend(sent)
    answer = planned.get(f"/v1/transactions/{outcome['transaction_id']}")
    assert answer.status_code == 200
    got = answer.json()
    assert got["transaction_id"] == outcome["transaction_id"]
    assert {
        k: got[k]
        for k in (
            "line_id",
            "voucher",
            "booked_on",
            "amount",
            "cost_object",
            "activity",
            "account",
            "kind",
            "text",
        )
    } == {
        k: sent[k]
        for k in (
            "line_id",
            "voucher",
            "booked_on",
            "amount",
            "cost_object",
            "activity",
            "account",
            "kind",
            "text",
        )
    }
    assert (got["source"], got["area"], got["status"], got["grant_id"]) == (
        "raindance",
        "nara-vard",
        "recorded",
        GRANT_ID,
    )
    assert got["reversal_of"] is None
    assert got["reversed_by"] is None


def test_spend_shows_on_the_activity_area_and_grant_to_the_ore(planned: Api) -> None:
    planned.spend(
        line(amount="85000.50", activity="barnhalsovard"),
        line(amount="0.01", activity="barnhalsovard"),
        line(amount="1234.5", activity="lokalt-arbete"),  # one decimal is money too
    )
    assert planned.activity("barnhalsovard")["spent"] == "85000.51"
    assert planned.activity("barnhalsovard")["remaining"] == "114999.49"
    assert planned.activity("lokalt-arbete")["spent"] == "1234.50"
    assert planned.area("nara-vard")["spent"] == "86235.01"
    totals = planned.balances()["totals"]
    assert totals["spent"] == "86235.01"
    assert totals["remaining"] == "2013764.99"


def test_rule_4_overspend_is_recorded_and_shown_not_refused(planned: Api) -> None:
    planned.spend(
        line(amount="150000.00", activity="barnhalsovard"),
        line(amount="50000.25", activity="barnhalsovard"),
    )
    act = planned.activity("barnhalsovard")
    assert (act["allocated"], act["spent"], act["remaining"], act["overspent"]) == (
        "200000.00",
        "200000.25",
        "-0.25",
        True,
    )


def test_rule_4_a_batch_with_one_unplaceable_line_is_refused_whole_naming_every_bad_line(
    planned: Api,
) -> None:
    before = planned.event_count()
    good = line(line_id="OK-1")
    bad = [
        line("0000", line_id="BAD-OBJ"),
        line(booked_on="2023-01-02", line_id="BAD-DATE"),
        line("9917", activity="webbplatser", kind="investment", line_id="BAD-KIND"),
    ]
    body = assert_problem(
        planned.post("/v1/transactions", batch(good, *bad), "poster"),
        422,
        "unplaceable-spend",
        rule="spend-placement",
    )
    assert {(e["line_id"], e["field"]) for e in body["errors"]} == {
        ("BAD-OBJ", "cost_object"),
        ("BAD-DATE", "booked_on"),
        ("BAD-KIND", "kind"),
    }
    codes = {e["line_id"]: e["code"] for e in body["errors"]}
    assert codes["BAD-OBJ"] == "unknown-cost-object"
    assert codes["BAD-KIND"] == "investment-not-allowed"
    assert all(e["reason"] for e in body["errors"])
    assert planned.event_count() == before
    assert planned.balances()["totals"]["spent"] == "0.00"
    # The good line alone goes through: nothing of the refused batch was kept.
    [ok] = planned.spend(good)
    assert ok["status"] == "recorded"


def test_rule_4_depreciation_may_be_booked_where_investment_may_not(planned: Api) -> None:
    [dep] = planned.spend(
        line("9917", "240000.00", "2022-06-30", activity="webbplatser", kind="depreciation")
    )
    assert dep["status"] == "recorded"
    assert planned.activity("webbplatser")["spent"] == "240000.00"


def test_the_same_line_sent_again_is_a_duplicate_with_its_first_transaction_id(
    planned: Api,
) -> None:
    sent = line(line_id="V-RETRY-1")
    [first] = planned.spend(sent)
    events = planned.event_count()
    [again] = planned.spend(sent)
    assert again == {**first, "status": "duplicate"}
    assert planned.event_count() == events
    assert planned.activity("lokalt-arbete")["spent"] == "1000.00"


def test_a_different_line_under_the_same_source_and_line_id_is_409(planned: Api) -> None:
    planned.spend(line(line_id="V-KEY-1", amount="1000.00"))
    before = planned.event_count()
    body = assert_problem(
        planned.post(
            "/v1/transactions", batch(line(line_id="V-KEY-1", amount="1000.01")), "poster"
        ),
        409,
        "natural-key-conflict",
        source="raindance",
    )
    assert [e["line_id"] for e in body["errors"]] == ["V-KEY-1"]
    assert planned.event_count() == before
    # The key is (source, line_id): another system may use the same line id.
    [other] = planned.spend(line(line_id="V-KEY-1", amount="1000.01"), source="agresso")
    assert other["status"] == "recorded"


def test_rule_5_spend_on_a_shared_cost_object_without_activity_is_unclassified(
    planned: Api,
) -> None:
    [o] = planned.spend(line("9917", "20000.00", "2022-03-20", activity=None))
    assert o["grant_id"] == GRANT_ID
    tx = planned.get(f"/v1/transactions/{o['transaction_id']}").json()
    assert (tx["area"], tx["activity"]) == (None, None)
    totals = planned.balances()["totals"]
    assert (totals["spent"], totals["unclassified_spent"]) == ("20000.00", "20000.00")
    assert planned.area("medarbetare")["spent"] == "0.00"


def test_classification_puts_unclassified_spend_on_an_activity_of_its_cost_object(
    planned: Api,
) -> None:
    [o] = planned.spend(line("9917", "20000.00", "2022-03-20", activity=None))
    url = f"/v1/transactions/{o['transaction_id']}/classification"
    assert_problem(
        planned.post(url, {"activity": "lokalt-arbete", "reason": "klassning"}, "planner"),
        422,
        "unplaceable-spend",
    )
    answer = planned.ok(url, {"activity": "vardlots", "reason": "klassning"}, "planner")
    assert [(x["transaction_id"], x["status"]) for x in answer["lines"]] == [
        (o["transaction_id"], "classified")
    ]
    assert planned.balances()["totals"]["unclassified_spent"] == "0.00"
    assert planned.activity("vardlots")["spent"] == "20000.00"
    assert planned.get(f"/v1/transactions/{o['transaction_id']}").json()["activity"] == "vardlots"
    assert_problem(
        planned.post(url, {"activity": "webbplatser", "reason": "om igen"}, "planner"),
        409,
        "already-classified",
        activity="vardlots",
    )


def test_classifying_to_an_unknown_activity_or_transaction_is_404(planned: Api) -> None:
    [o] = planned.spend(line("9917", activity=None))
    assert_problem(
        planned.post(
            f"/v1/transactions/{o['transaction_id']}/classification",
            {"activity": "finns-inte", "reason": "x"},
            "planner",
        ),
        404,
        "unknown-activity",
    )
    assert_problem(
        planned.post(
            "/v1/transactions/finns-inte/classification",
            {"activity": "vardlots", "reason": "x"},
            "planner",
        ),
        404,
        "unknown-transaction",
    )


def test_a_reversal_cancels_the_line_which_stays_on_record(planned: Api) -> None:
    [o] = planned.spend(line(amount="99999.00", booked_on="2022-05-10", activity="barnhalsovard"))
    answer = planned.ok(
        f"/v1/transactions/{o['transaction_id']}/reversal", reversal_body("2022-05-12"), "poster"
    )
    [rev] = answer["lines"]
    assert (rev["status"], rev["line_id"]) == ("reversal", o["line_id"])
    assert rev["transaction_id"] != o["transaction_id"]
    original = planned.get(f"/v1/transactions/{o['transaction_id']}").json()
    assert (original["status"], original["reversed_by"]) == ("reversed", rev["transaction_id"])
    assert original["amount"] == "99999.00"
    reversal = planned.get(f"/v1/transactions/{rev['transaction_id']}").json()
    assert reversal["reversal_of"] == o["transaction_id"]
    assert reversal["booked_on"] == "2022-05-12"
    assert planned.activity("barnhalsovard")["spent"] == "0.00"
    assert planned.activity("barnhalsovard", as_of="2022-05-11")["spent"] == "99999.00"


def test_a_line_is_reversed_once_and_a_reversal_is_never_reversed(planned: Api) -> None:
    [o] = planned.spend(line())
    [rev] = planned.ok(
        f"/v1/transactions/{o['transaction_id']}/reversal", reversal_body(), "poster"
    )["lines"]
    before = planned.event_count()
    assert_problem(
        planned.post(f"/v1/transactions/{o['transaction_id']}/reversal", reversal_body(), "poster"),
        409,
        "already-reversed",
        transaction_id=o["transaction_id"],
    )
    assert_problem(
        planned.post(
            f"/v1/transactions/{rev['transaction_id']}/reversal", reversal_body(), "poster"
        ),
        409,
        "not-reversible",
        reversal_of=o["transaction_id"],
    )
    assert planned.event_count() == before


def test_reversing_or_reading_an_unknown_transaction_is_404(planned: Api) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert_problem(
        planned.get(f"/v1/transactions/{missing}"),
        404,
        "unknown-transaction",
        transaction_id=missing,
    )
    assert_problem(
        planned.post(f"/v1/transactions/{missing}/reversal", reversal_body(), "poster"),
        404,
        "unknown-transaction",
    )
