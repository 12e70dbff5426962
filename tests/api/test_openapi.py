"""The committed OpenAPI document is the app's (issue 4 §7): integrators code against it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from api.app import create_app
from api.settings import Settings
from ledger.domain.events import EVENT_TYPES
from ledger.types import MONEY_PATTERN, TEXT_PATTERN

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    spec = create_app(Settings()).openapi()
    committed = json.loads(SPEC.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(spec)), (
        "openapi/openapi.json is stale: run `make openapi` and commit it"
    )


def test_every_operation_is_documented_with_id_summary_description_and_errors() -> None:
    spec = create_app(Settings()).openapi()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("operationId"), where
            assert op.get("summary"), where
            assert op.get("description"), where
            if path.startswith("/v1"):
                assert {"401", "403", "422"} <= set(op["responses"]), where
                assert op.get("security"), f"{where} must declare the bearer scheme"


def _spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            yield f"{method.upper()} {path}", op


def test_every_error_answer_is_the_one_problem_schema_under_problem_json() -> None:
    """A generated client reads a refusal as a typed Problem, never `parsed=None`."""
    spec = _spec()
    errors = 0
    for where, op in _operations(spec):
        for status, response in op["responses"].items():
            if status[0] in "45":
                errors += 1
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, (where, status)
    assert errors > 100
    problem = spec["components"]["schemas"]["Problem"]
    money = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}
    for member in ("available", "requested", "minimum_award", "unallocated", "unspent"):
        assert money.items() <= problem["properties"][member]["anyOf"][0].items(), member
    assert problem["properties"]["errors"]["anyOf"][0]["items"] == {
        "$ref": "#/components/schemas/ProblemLine"
    }
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_the_spec_requires_a_decision_wherever_the_server_does() -> None:
    schemas = _spec()["components"]["schemas"]
    for body in ("GrantBody", "ActivityBody", "AmendmentBody", "ReallocationBody", "YearCloseBody"):
        assert "decision" in schemas[body]["required"], body
        assert schemas[body]["properties"]["decision"] == {
            "$ref": "#/components/schemas/DecisionIn"
        }


def test_kind_is_an_enum_and_amounts_are_strings_with_the_servers_pattern() -> None:
    schemas = _spec()["components"]["schemas"]
    kind = schemas["SpendLineBody"]["properties"]["kind"]
    assert kind["enum"] == ["expense", "depreciation", "investment"]
    amount = schemas["SpendLineBody"]["properties"]["amount"]
    assert amount["type"] == "string"
    assert amount["pattern"] == MONEY_PATTERN
    for text in ("12.5", "-1.00", "9999999999999.99", "10000000000000.00", "-10000000000000"):
        assert re.fullmatch(MONEY_PATTERN, text)  # up to the one bound for money, inclusive
    for text in ("1e3", "1.234", "10000000000000.01", "10000000000001", " 1", "1,00"):
        assert not re.search(MONEY_PATTERN, text)


def test_the_period_pattern_refuses_year_zero_and_months_outside_1_to_12() -> None:
    spec = _spec()
    parameters = spec["paths"]["/v1/periods/{period}/close"]["post"]["parameters"]
    [pattern] = [p["schema"]["pattern"] for p in parameters if p["name"] == "period"]
    for good in ("2022-01", "2022-12", "0001-06", "9999-12"):
        assert re.search(pattern, good), good
    for bad in ("0000-01", "2022-00", "2022-13", "22-01", "2022-1"):
        assert not re.search(pattern, bad), bad


def test_texts_carry_the_pattern_the_server_enforces() -> None:
    schemas = _spec()["components"]["schemas"]
    name = schemas["GrantBody"]["properties"]["name"]
    assert name["pattern"] == TEXT_PATTERN
    for bad in ("\x1b[2J", "a\u202eb", "a\ufffe", "\U0001fffe", "  ", "\x85"):
        assert not re.search(TEXT_PATTERN, bad), repr(bad)
    for good in ("Göteborg", "a\tb", "北京 🎉", " x "):
        assert re.search(TEXT_PATTERN, good), repr(good)


def test_posts_link_to_the_reads_of_what_they_wrote() -> None:
    spec = _spec()
    spend = spec["paths"]["/v1/transactions"]["post"]["responses"]["201"]["links"]
    assert spend["getTransaction"] == {
        "operationId": "getTransaction",
        "parameters": {"transaction_id": "$response.body#/lines/0/transaction_id"},
        "description": "The first line this request recorded.",
    }
    grant = spec["paths"]["/v1/grants"]["post"]["responses"]["201"]["links"]
    assert grant["getGrant"]["parameters"] == {"grant_id": "$response.body#/grant_id"}
    operation_ids = {op["operationId"] for _, op in _operations(spec)}
    for _, op in _operations(spec):
        for response in op["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in operation_ids


def test_events_are_typed_per_event_type() -> None:
    schemas = _spec()["components"]["schemas"]
    items = schemas["EventPageOut"]["properties"]["events"]["items"]
    assert items["discriminator"]["propertyName"] == "event_type"
    assert set(items["discriminator"]["mapping"]) == set(EVENT_TYPES)
    spend = schemas["SpendRecordedData"]["properties"]
    assert spend["amount"]["type"] == "string"
    assert schemas["AreaSpecData"]["properties"]["awarded"]["type"] == "string"
