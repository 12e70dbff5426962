"""Every error is an RFC 9457 problem document (DESIGN §3): the right status, Content-Type
application/problem+json, a stable ``type``, ``title``, ``status``, ``detail``, and the members a
client needs to act (rule, available, requested, errors[] with field and line_id).  Never a 500 for
bad input, and a refused request writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

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
    reallocation_body,
    reversal_body,
)

GRANT = f"/v1/grants/{GRANT_ID}"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def small(api_factory: ApiFactory) -> Api:
    """The app with a 2 KiB body limit, and the planned grant."""
    api = api_factory(max_body_bytes=2048)
    api.register_planned_grant()
    return api


# --- 400 --------------------------------------------------------------------------------------


MALFORMED = {
    "truncated": b'{"source": "erp", "lines": [',
    "single-quotes": b"{'source': 'erp'}",
    "trailing-comma": b'{"source": "erp",}',
    "nul": b"\x00",
}


def test_malformed_json_is_400_malformed_json(planned: Api) -> None:
    before = planned.event_count()
    for name, raw in MALFORMED.items():
        answer = planned.post("/v1/transactions", None, "poster", content=raw, headers=JSON)
        body = assert_problem(answer, 400, "malformed-json", title="Malformed JSON")
        assert body["instance"] == "/v1/transactions", name
    assert planned.event_count() == before


def test_malformed_json_is_400_on_every_kind_of_post(planned: Api) -> None:
    for path, role in (
        ("/v1/grants", "planner"),
        (f"{GRANT}/activities", "planner"),
        (f"{GRANT}/receipts", "poster"),
    ):
        answer = planned.post(path, None, role, content=b'{"code": ', headers=JSON)
        assert_problem(answer, 400, "malformed-json")


def test_a_body_that_is_not_utf8_or_nested_too_deep_is_400_malformed_json(planned: Api) -> None:
    for raw in (b'{"source": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000):
        answer = planned.post("/v1/transactions", None, "poster", content=raw, headers=JSON)
        assert_problem(answer, 400, "malformed-json")


# Every POST of DESIGN §3 (with a role that may send it), for the per-endpoint checks below.
TX = "00000000-0000-0000-0000-000000000000"
POSTS = [
    ("/v1/grants", "planner"),
    (f"{GRANT}/activities", "planner"),
    (f"{GRANT}/reallocations", "planner"),
    (f"{GRANT}/amendments", "planner"),
    (f"{GRANT}/receipts", "poster"),
    (f"{GRANT}/repayments", "planner"),
    (f"{GRANT}/year-close", "planner"),
    ("/v1/transactions", "poster"),
    (f"/v1/transactions/{TX}/reversal", "poster"),
    (f"/v1/transactions/{TX}/classification", "planner"),
]


# --- 404, 405 ---------------------------------------------------------------------------------


def test_an_unknown_route_is_a_404_problem(api: Api) -> None:
    body = assert_problem(api.get("/v1/grantz"), 404, "not-found")
    assert body["instance"] == "/v1/grantz"


def test_unknown_grant_and_transaction_are_404_naming_what_is_missing(planned: Api) -> None:
    assert_problem(
        planned.get("/v1/grants/finns-inte"), 404, "unknown-grant", grant_id="finns-inte"
    )
    assert_problem(
        planned.post(
            "/v1/grants/finns-inte/receipts",
            {"amount": "1.00", "received_on": "2022-06-01", "reference": "x"},
            "poster",
        ),
        404,
        "unknown-grant",
    )
    assert_problem(
        planned.get("/v1/transactions/finns-inte"),
        404,
        "unknown-transaction",
        transaction_id="finns-inte",
    )


def test_every_endpoint_of_a_grant_is_404_for_an_unknown_grant(planned: Api) -> None:
    bodies = {
        "activities": activity_body("x", "nara-vard", "1.00"),
        "reallocations": reallocation_body("lokalt-arbete", "barnhalsovard", "1.00"),
        "amendments": {"area": "nara-vard", "awarded": "1.00", "reason": "r", "decision": DECISION},
        "receipts": {"amount": "1.00", "received_on": "2022-06-01", "reference": "r"},
        "repayments": {"area": "nara-vard", "amount": "1.00", "paid_on": "2022-12-30"},
        "year-close": {"year": 2022, "decision": DECISION},
    }
    for what, body in bodies.items():
        answer = planned.post(f"/v1/grants/finns-inte/{what}", body, "admin")
        assert_problem(answer, 404, "unknown-grant", grant_id="finns-inte")
    for path in ("/v1/grants/finns-inte", "/v1/grants/finns-inte/events"):
        assert_problem(planned.get(path, "admin"), 404, "unknown-grant")
    assert_problem(
        planned.get("/v1/balances", "admin", params={"grant_id": "finns-inte"}),
        404,
        "unknown-grant",
    )


def test_a_wrong_method_is_405_naming_the_allowed_ones(api: Api) -> None:
    answer = api.client.put("/v1/grants", headers=api.headers("admin"))
    assert_problem(answer, 405, "method-not-allowed")
    assert "POST" in answer.headers["allow"]
    assert_problem(api.client.delete(f"{GRANT}", headers=api.headers("admin")), 405)


def test_allow_names_every_method_served_at_the_path_not_only_the_first_routes(
    api: Api,
) -> None:
    # GET and POST /v1/grants are two routes: Starlette alone answered "Allow: POST".
    answer = api.client.options("/v1/grants", headers=api.headers("admin"))
    assert_problem(answer, 405, "method-not-allowed")
    assert answer.headers["allow"] == "GET, POST"
    answer = api.client.put("/v1/transactions", headers=api.headers("admin"))
    assert answer.headers["allow"] == "POST"


# --- 409 --------------------------------------------------------------------------------------


def test_a_stale_if_match_is_409_and_writes_nothing(planned: Api) -> None:
    stale = planned.get(GRANT).headers["etag"]
    planned.ok(f"{GRANT}/activities", activity_body("forst", "nara-vard", "1.00"), "planner")
    before = planned.event_count()
    answer = planned.post(
        f"{GRANT}/activities",
        activity_body("sist", "nara-vard", "1.00"),
        "planner",
        headers={"If-Match": stale},
    )
    body = assert_problem(answer, 409, "stream-version-conflict", stream_id=f"grant-{GRANT_ID}")
    assert body["expected_version"] == int(stale.strip('"'))
    assert body["actual_version"] == body["expected_version"] + 1
    assert planned.event_count() == before


def test_an_if_match_that_is_not_an_etag_is_422_naming_the_header(planned: Api) -> None:
    answer = planned.post(
        f"{GRANT}/activities",
        activity_body("x", "nara-vard", "1.00"),
        "planner",
        headers={"If-Match": "yesterday"},
    )
    assert_problem(answer, 422, field="If-Match")


def test_natural_key_conflict_is_409_listing_the_lines(planned: Api) -> None:
    planned.spend(line(line_id="NK-1"), line(line_id="NK-2"))
    changed = [line(line_id="NK-1", amount="2.00"), line(line_id="NK-2", amount="3.00")]
    body = assert_problem(
        planned.post("/v1/transactions", batch(*changed), "poster"),
        409,
        "natural-key-conflict",
        source="raindance",
    )
    assert [(e["line_id"], e["field"]) for e in body["errors"]] == [
        ("NK-1", "line_id"),
        ("NK-2", "line_id"),
    ]
    # what its operation promises: the rule, and a code per line
    assert body["rule"] == "natural-key"
    assert {e["code"] for e in body["errors"]} == {"natural-key-conflict"}


def test_reversing_twice_is_409(planned: Api) -> None:
    [o] = planned.spend(line())
    url = f"/v1/transactions/{o['transaction_id']}/reversal"
    planned.ok(url, reversal_body(), "poster")
    assert_problem(planned.post(url, reversal_body(), "poster"), 409, "already-reversed")


def test_registering_a_grant_id_twice_is_409(planned: Api) -> None:
    assert_problem(planned.post("/v1/grants", grant_body(), "planner"), 409, "grant-exists")


# --- 413 --------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_read(small: Api) -> None:
    before = small.event_count()
    big = batch(*[line() for _ in range(20)])
    assert len(json.dumps(big)) > 2048
    answer = small.post("/v1/transactions", big, "poster")
    body = assert_problem(answer, 413, "body-too-large", limit=2048)
    assert "2048" in body["detail"]
    assert small.event_count() == before
    # Just under the limit is fine.
    assert small.post("/v1/transactions", batch(line()), "poster").status_code == 201


def test_every_post_refuses_a_body_over_the_limit_with_413(small: Api) -> None:
    oversized = {"text": "x" * 4096}
    for path, role in [*POSTS, ("/v1/periods/2022-03/close", "admin")]:
        assert_problem(small.post(path, oversized, role), 413, "body-too-large", limit=2048)


def test_a_body_over_the_limit_is_413_even_without_a_token(small: Api) -> None:
    answer = small.post("/v1/transactions", None, None, content=b"x" * 4096, headers=JSON)
    assert_problem(answer, 413, "body-too-large")


def test_a_chunked_body_over_the_limit_is_413(small: Api) -> None:
    raw = json.dumps(batch(*[line() for _ in range(20)])).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 512):
            yield raw[i : i + 512]

    before = small.event_count()
    answer = small.post("/v1/transactions", None, "poster", content=chunks(), headers=JSON)
    assert small.event_count() == before
    assert_problem(answer, 413, "body-too-large")
    # A chunked body within the limit arrives whole.
    fits = json.dumps(batch(line(line_id="CHUNKED-1"))).encode()
    accepted = small.post(
        "/v1/transactions", None, "poster", content=iter([fits[:100], fits[100:]]), headers=JSON
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["lines"][0]["line_id"] == "CHUNKED-1"


# --- 422 --------------------------------------------------------------------------------------


def test_validation_errors_name_every_field_and_the_line_id_of_batch_lines(planned: Api) -> None:
    before = planned.event_count()
    lines = [
        line(line_id="A-1", amount="12.345"),
        line(line_id="A-2", booked_on="2022-02-30"),
        {k: v for k, v in line(line_id="A-3").items() if k != "cost_object"},
    ]
    body = assert_problem(
        planned.post("/v1/transactions", batch(*lines), "poster"), 422, "validation-error"
    )
    got = {(e["line_id"], e["field"]) for e in body["errors"]}
    assert got == {
        ("A-1", "lines.0.amount"),
        ("A-2", "lines.1.booked_on"),
        ("A-3", "lines.2.cost_object"),
    }
    assert all(e["reason"] and e["reason_code"] for e in body["errors"])
    assert "3 field(s)" in body["detail"]
    assert planned.event_count() == before


def test_rule_8_money_that_is_not_exact_kronor_and_ore_is_422_at_its_field(planned: Api) -> None:
    # A JSON number is refused too (the spec says string): 0.57 may arrive as 0.5700000000000001.
    amounts: list[object] = [
        "1.234",
        "abc",
        "1e3",
        "10000000000000.01",
        "00000000000001",
        " 1.00",
        0.125,
        1234.5,
        1234,
        True,
        None,
    ]
    for amount in amounts:
        receipt = {"amount": amount, "received_on": "2022-06-01", "reference": "x"}
        body = assert_problem(
            planned.post(f"{GRANT}/receipts", receipt, "poster"), 422, "validation-error"
        )
        assert [e["field"] for e in body["errors"]] == ["amount"], amount
        assert not body["errors"][0]["reason"].startswith("Value error"), body
    for literal in ("NaN", "Infinity", "-Infinity"):  # not JSON, but Python's json writes them
        raw = f'{{"amount": {literal}, "received_on": "2022-06-01", "reference": "x"}}'.encode()
        answer = planned.post(f"{GRANT}/receipts", None, "poster", content=raw, headers=JSON)
        assert answer.status_code in (400, 422), answer.text
        assert_problem(answer, answer.status_code)
    assert planned.balances()["totals"]["received"] == "0.00"
    planned.ok(
        f"{GRANT}/receipts",
        {"amount": "1234.5", "received_on": "2022-06-01", "reference": "x"},
        "poster",
    )
    assert planned.balances()["totals"]["received"] == "1234.50"


def test_an_unknown_field_is_refused_so_a_typo_cannot_drop_a_decision(planned: Api) -> None:
    body = activity_body("x", "nara-vard", "1.00")
    body["decison"] = body.pop("decision")
    problem = assert_problem(
        planned.post(f"{GRANT}/activities", body, "planner"), 422, "validation-error"
    )
    assert "decison" in [e["field"] for e in problem["errors"]]


def test_a_rule_violation_names_rule_available_and_requested_as_money(planned: Api) -> None:
    answer = planned.post(
        f"{GRANT}/activities", activity_body("x", "medarbetare", "200000.01"), "planner"
    )
    body = assert_problem(
        answer,
        422,
        "over-allocation",
        rule="no-over-allocation",
        area="medarbetare",
        available="200000.00",
        requested="200000.01",
    )
    assert body["instance"] == f"{GRANT}/activities"


def test_every_post_names_the_missing_fields_of_an_empty_body(planned: Api) -> None:
    before = planned.event_count()
    for path, role in POSTS:
        body = assert_problem(planned.post(path, {}, role), 422, "validation-error")
        missing = {e["field"] for e in body["errors"] if e["reason_code"] == "missing"}
        assert missing, (path, body)
    assert planned.event_count() == before


def test_an_empty_batch_or_a_missing_body_is_422(planned: Api) -> None:
    assert_problem(planned.post("/v1/transactions", batch(), "poster"), 422, "validation-error")
    assert_problem(planned.post("/v1/transactions", None, "poster"), 422, "validation-error")


# --- headers on every answer ------------------------------------------------------------------


def test_problem_answers_carry_the_security_headers_and_a_request_id(planned: Api) -> None:
    answers = [
        planned.get("/v1/grants", None),
        planned.get("/v1/grants/finns-inte"),
        planned.post("/v1/transactions", batch(), "poster"),
    ]
    for answer in answers:
        h = answer.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["cache-control"] == "no-store"
        assert "default-src 'none'" in h["content-security-policy"]
        assert h["x-request-id"]


# --- one money shape in problems (rule 8) -----------------------------------------------------


def test_rule_8_money_in_a_problem_is_kronor_with_two_decimals_never_ore(planned: Api) -> None:
    cut = {"area": "nara-vard", "awarded": "1.00", "decision": DECISION, "reason": "Neddragning"}
    body = assert_problem(
        planned.post(f"{GRANT}/amendments", cut, "planner"),
        422,
        "amendment-below-allocated",
        available="200000.00",
        requested="999999.00",
        minimum_award="800000.00",
    )
    assert "800 000.00 kr" in body["detail"]
    repay = {"area": "nara-vard", "amount": "200000.01", "paid_on": "2022-12-31"}
    assert_problem(
        planned.post(f"{GRANT}/repayments", repay, "planner"),
        422,
        "repayment-exceeds-unallocated",
        available="200000.00",
        requested="200000.01",
        unallocated="200000.00",
    )
    planned.spend(line(cost_object="9917", activity=None, amount="12.34"))
    close = {"year": 2022, "decision": DECISION}
    assert_problem(
        planned.post(f"{GRANT}/year-close", close, "planner"),
        422,
        "unclassified-spend-open",
        unclassified="12.34",
    )


# --- rule 7 where the schema says it: `decision` is required ----------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("activities", activity_body("x", "nara-vard", "1.00")),
        ("reallocations", reallocation_body("lokalt-arbete", "barnhalsovard", "1.00")),
        ("amendments", {"area": "nara-vard", "awarded": "1.00", "reason": "Mer"}),
        ("year-close", {"year": 2022}),
    ],
)
def test_rule_7_a_planning_body_without_its_decision_names_the_rule(
    planned: Api, path: str, body: dict[str, object]
) -> None:
    before = planned.event_count()
    for absent in ({k: v for k, v in body.items() if k != "decision"}, {**body, "decision": None}):
        answer = planned.post(f"{GRANT}/{path}", absent, "planner")
        problem = assert_problem(
            answer, 422, "decision-required", rule="decision-reference-required"
        )
        assert [e["field"] for e in problem["errors"]] == ["decision"]
    assert planned.event_count() == before


# --- texts that would corrupt a report or a terminal (issue 16 §5) ----------------------------


@pytest.mark.parametrize(
    ("char", "why"),
    [
        ("\x1b", "a terminal escape"),
        ("\x85", "a C1 control"),
        ("\u202e", "a bidi override"),
        ("\u2066", "a bidi isolate"),
        ("\ufffe", "a noncharacter: the XLSX does not open"),
        ("\uffff", "a noncharacter"),
        ("\ufdd0", "a noncharacter"),
        ("\U0010ffff", "an astral noncharacter"),
    ],
)
def test_names_texts_and_ids_refuse_control_bidi_and_noncharacters_at_their_field(
    planned: Api, char: str, why: str
) -> None:
    before = planned.event_count()
    cases = [
        ("/v1/grants", grant_body("ny-2023", name=f"Satsning{char}"), "planner", "name"),
        (
            f"{GRANT}/activities",
            activity_body("y", "nara-vard", "1.00", responsible=f"Chef{char}"),
            "planner",
            "responsible",
        ),
        ("/v1/transactions", batch(line(text=f"Konsult{char}")), "poster", "lines.0.text"),
        (
            "/v1/transactions",
            batch(line(line_id=f"L{char}1", voucher="V1")),
            "poster",
            "lines.0.line_id",
        ),
    ]
    for path, body, role, field in cases:
        problem = assert_problem(planned.post(path, body, role), 422, "validation-error")
        assert [e["field"] for e in problem["errors"]] == [field], (why, problem)
        assert "is not allowed" in problem["errors"][0]["reason"]
        assert not problem["errors"][0]["reason"].startswith("Value error")
    assert planned.event_count() == before


def test_a_tab_and_any_printable_script_stay_allowed(planned: Api) -> None:
    [o] = planned.spend(line(text="Konsult\tGöteborg – 北京 🎉"))
    got = planned.get(f"/v1/transactions/{o['transaction_id']}").json()
    assert got["text"] == "Konsult\tGöteborg – 北京 🎉"


def test_an_unknown_spend_kind_is_refused_by_the_schema_enum(planned: Api) -> None:
    problem = assert_problem(
        planned.post("/v1/transactions", batch(line(kind="gift")), "poster"), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["lines.0.kind"]


def test_a_spend_line_s_texts_are_bounded_by_their_columns_as_the_schema_says(
    planned: Api,
) -> None:
    """A line's key and voucher hold 200 characters, its account 64, its text 1 000 (the
    ``spend_lines`` columns): the spec says so, each at its full width is recorded and read back,
    and one character more is a 422 at that field saying the bound, with nothing written."""
    schema = planned.get("/openapi.json").json()["components"]["schemas"]["SpendLineBody"]

    def max_length(field: str) -> int:
        prop = schema["properties"][field]
        return int(next(p for p in prop.get("anyOf", [prop]) if "maxLength" in p)["maxLength"])

    widths = {"line_id": 200, "voucher": 200, "account": 64, "text": 1000}
    assert {f: max_length(f) for f in widths} == widths
    full = {f: f[0].upper() * n for f, n in widths.items()}
    [o] = planned.spend(line(**full))
    got = planned.get(f"/v1/transactions/{o['transaction_id']}").json()
    assert {f: got[f] for f in ("line_id", "voucher", "text")} == {
        f: full[f] for f in ("line_id", "voucher", "text")
    }
    before = planned.event_count()
    for field, n in widths.items():
        over = line(**{**full, "line_id": "W-2", field: "x" * (n + 1)})
        problem = assert_problem(
            planned.post("/v1/transactions", batch(over), "poster"), 422, "validation-error"
        )
        [error] = problem["errors"]
        assert error["field"] == f"lines.0.{field}"
        assert f"at most {n} characters" in error["reason"]
    assert planned.event_count() == before
