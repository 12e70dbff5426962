"""Who may do what (DESIGN §3): every endpoint × every role, no token and a bad token.

reader ⊂ poster, planner, auditor ⊂ admin: each middle role can also read; only admin closes a
month.  A refused caller gets 401 (who are you?) or 403 (not you) as problem+json, and a refused
write leaves the ledger untouched.  An allowed caller gets the endpoint's success status, so the
matrix also proves each role can really *do* what it is allowed to, not only that it is not
refused.  One database per backend serves the whole matrix; each allowed write acts on things
prepared for that role alone, so the cases do not depend on each other's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger.auth.tokens import TokenRegistry
from tests.support.api import (
    DECISION,
    ROLES,
    Api,
    activity_body,
    area_body,
    assert_problem,
    batch,
    grant_body,
    line,
    reallocation_body,
    reversal_body,
)

GRANT = "perm-2022"
WHO_MAY = {
    "reader": {"reader", "poster", "planner", "auditor", "admin"},
    "poster": {"poster", "admin"},
    "planner": {"planner", "admin"},
    "auditor": {"auditor", "admin"},
    "admin": {"admin"},
}


@dataclass
class World:
    """The shared database, with per-role things to act on (lines to reverse or classify)."""

    api: Api
    to_reverse: dict[str, str]
    to_classify: dict[str, str]
    any_transaction: str


Request = Callable[[World, str], tuple[str, str, Any]]
_NTH = {who: n for n, who in enumerate((*ROLES, "none"), 1)}  # a distinct number per caller


def sie_file(role: str) -> dict[str, Any]:
    """A one-voucher SIE 4 upload (multipart field ``file``) with a number of its own per role."""
    number = 9000 + _NTH[role]
    text = (
        '#FLAGGA 0\r\n#FORMAT PC8\r\n#SIETYP 4\r\n#DIM 6 "Projekt"\r\n'
        f'#VER A {number} 20220415 "Konsult"\r\n{{\r\n'
        '   #TRANS 4010 {6 "9916"} 100.00\r\n   #TRANS 2440 {} -100.00\r\n}\r\n'
    )
    return {"files": {"file": (f"{role}.se", text.encode("cp437"), "application/octet-stream")}}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as DESIGN §3 writes it
    needs: str
    request: Request  # (world, role) → (method, concrete path, body)
    success: int


def _grant_for(role: str) -> dict[str, Any]:
    return grant_body(f"reg-{role}", areas=[area_body("omrade", "1000.00", f"REG-{role}")])


ENDPOINTS = [
    Endpoint("GET", "/v1/grants", "reader", lambda w, r: ("GET", "/v1/grants", None), 200),
    Endpoint(
        "GET",
        "/v1/grants/{grant_id}",
        "reader",
        lambda w, r: ("GET", f"/v1/grants/{GRANT}", None),
        200,
    ),
    Endpoint(
        "GET",
        "/v1/grants/{grant_id}/forecast",
        "reader",
        lambda w, r: ("GET", f"/v1/grants/{GRANT}/forecast", None),
        200,
    ),
    Endpoint(
        "POST",
        "/v1/grants",
        "planner",
        lambda w, r: ("POST", "/v1/grants", _grant_for(r)),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/grants/{grant_id}/activities",
        "planner",
        lambda w, r: (
            "POST",
            f"/v1/grants/{GRANT}/activities",
            activity_body(f"act-{r}", "nara-vard", "1.00"),
        ),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/grants/{grant_id}/reallocations",
        "planner",
        lambda w, r: (
            "POST",
            f"/v1/grants/{GRANT}/reallocations",
            reallocation_body("lokalt-arbete", "barnhalsovard", "1.00"),
        ),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/grants/{grant_id}/amendments",
        "planner",
        lambda w, r: (
            "POST",
            f"/v1/grants/{GRANT}/amendments",
            {
                "area": "medarbetare",
                "awarded": f"{800000 + _NTH[r]}.00",
                "reason": "tilläggsöverenskommelse",
                "decision": DECISION,
            },
        ),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/grants/{grant_id}/receipts",
        "poster",
        lambda w, r: (
            "POST",
            f"/v1/grants/{GRANT}/receipts",
            {"amount": "100.00", "received_on": "2022-06-15", "reference": f"utbetalning {r}"},
        ),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/grants/{grant_id}/repayments",
        "planner",
        lambda w, r: (
            "POST",
            f"/v1/grants/{GRANT}/repayments",
            {"area": "nara-vard", "amount": "1.00", "paid_on": "2022-12-30"},
        ),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/grants/{grant_id}/year-close",
        "planner",
        lambda w, r: (
            "POST",
            f"/v1/grants/yc-{r}/year-close",
            {"year": 2022, "decision": DECISION},
        ),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/transactions",
        "poster",
        lambda w, r: ("POST", "/v1/transactions", batch(line(line_id=f"PERM-{r}"))),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/imports/sie",
        "poster",
        lambda w, r: ("POST", "/v1/imports/sie", sie_file(r)),
        200,
    ),
    Endpoint(
        "GET",
        "/v1/transactions/{transaction_id}",
        "reader",
        lambda w, r: ("GET", f"/v1/transactions/{w.any_transaction}", None),
        200,
    ),
    Endpoint(
        "POST",
        "/v1/transactions/{transaction_id}/reversal",
        "poster",
        lambda w, r: ("POST", f"/v1/transactions/{w.to_reverse[r]}/reversal", reversal_body()),
        201,
    ),
    Endpoint(
        "POST",
        "/v1/transactions/{transaction_id}/classification",
        "planner",
        lambda w, r: (
            "POST",
            f"/v1/transactions/{w.to_classify[r]}/classification",
            {"activity": "webbplatser", "reason": "klassning"},
        ),
        201,
    ),
    Endpoint(
        "GET",
        "/v1/balances",
        "reader",
        lambda w, r: ("GET", f"/v1/balances?grant_id={GRANT}", None),
        200,
    ),
    Endpoint(
        "GET",
        "/v1/cost-objects/{code}",
        "reader",
        lambda w, r: ("GET", "/v1/cost-objects/9916", None),
        200,
    ),
    Endpoint(
        "GET",
        "/v1/reports/grants/{grant_id}",
        "reader",
        lambda w, r: ("GET", f"/v1/reports/grants/{GRANT}", None),
        200,
    ),
    Endpoint("GET", "/v1/periods", "reader", lambda w, r: ("GET", "/v1/periods", None), 200),
    Endpoint("GET", "/v1/events", "auditor", lambda w, r: ("GET", "/v1/events", None), 200),
    Endpoint(
        "GET",
        "/v1/grants/{grant_id}/events",
        "auditor",
        lambda w, r: ("GET", f"/v1/grants/{GRANT}/events", None),
        200,
    ),
    Endpoint(
        "GET", "/v1/audit/verify", "auditor", lambda w, r: ("GET", "/v1/audit/verify", None), 200
    ),
    Endpoint(
        "POST",
        "/v1/audit/checkpoints/verify",
        "auditor",
        lambda w, r: ("POST", "/v1/audit/checkpoints/verify", unsigned_checkpoint()),
        200,
    ),
    Endpoint(
        "POST",
        "/v1/periods/{YYYY-MM}/close",
        "admin",
        lambda w, r: ("POST", "/v1/periods/2030-01/close", None),
        201,
    ),
]


def unsigned_checkpoint() -> dict[str, Any]:
    """A well-formed checkpoint whose signature does not hold: 200 with ok false."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.store.keys import key_id, public_pem

    key = Ed25519PrivateKey.generate().public_key()
    cp = {"position": 1, "hash": "0" * 64, "recorded_at": "2022-01-01T00:00:00Z", "event_count": 1}
    return {
        "checkpoint": {"checkpoint": cp, "key_id": key_id(key), "signature": "AA=="},
        "public_key": public_pem(key).decode(),
    }


@pytest.fixture(scope="module")
def world(shared_api: Api) -> World:
    api = shared_api
    api.register_planned_grant(GRANT)
    to_reverse, to_classify = {}, {}
    for role in ROLES:
        # A grant of its own per role to close the year of.
        yc = grant_body(f"yc-{role}", areas=[area_body("omrade", "1000.00", f"YC-{role}")])
        api.ok("/v1/grants", yc, "planner")
        [rev] = api.spend(line(line_id=f"REV-{role}"))
        [cls] = api.spend(line("9917", activity=None, line_id=f"CLS-{role}"))
        to_reverse[role], to_classify[role] = rev["transaction_id"], cls["transaction_id"]
    # Refused callers name these too: a line that must still be there, untouched, afterwards.
    to_reverse["none"], to_classify["none"] = to_reverse["reader"], to_classify["reader"]
    return World(api, to_reverse, to_classify, to_reverse["reader"])


def _call(world: World, role: str | None, endpoint: Endpoint, **headers: str) -> Any:
    method, path, body = endpoint.request(world, role or "none")
    h = {**world.api.headers(role), **headers}
    if body is None:
        return world.api.client.request(method, path, headers=h)
    if "files" in body:  # a multipart upload
        return world.api.client.request(method, path, headers=h, **body)
    return world.api.client.request(method, path, json=body, headers=h)


def _id(e: Endpoint) -> str:
    return f"{e.method} {e.path}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_each_role_may_do_exactly_what_design_section_3_allows(
    world: World, endpoint: Endpoint, role: str
) -> None:
    before = world.api.event_count()
    answer = _call(world, role, endpoint)
    if role in WHO_MAY[endpoint.needs]:
        assert answer.status_code == endpoint.success, answer.text
        return
    problem = assert_problem(answer, 403, "forbidden", role=role, required=endpoint.needs)
    assert repr(role) in problem["detail"]
    assert repr(endpoint.needs) in problem["detail"]
    assert world.api.event_count() == before, "a refused write must write nothing"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_no_token_is_401_with_a_bearer_challenge(world: World, endpoint: Endpoint) -> None:
    answer = _call(world, None, endpoint)
    assert_problem(answer, 401, "unauthenticated")
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer gl_not-a-token-anyone-was-given",
        "Bearer ",
        "Basic cmVhZGVyOnNlY3JldA==",
        "gl_token-without-scheme",
    ],
    ids=["unknown", "empty", "basic", "no-scheme"],
)
def test_an_unknown_or_malformed_token_is_401_and_writes_nothing(
    world: World, authorization: str
) -> None:
    before = world.api.event_count()
    for endpoint in ENDPOINTS:
        answer = _call(world, None, endpoint, Authorization=authorization)
        assert_problem(answer, 401, "unauthenticated")
    assert world.api.event_count() == before


def test_a_revoked_token_is_refused_from_the_next_request_on_without_a_cache(
    world: World,
) -> None:
    registry = TokenRegistry(world.api.engine)
    secret = registry.create("leaving-controller", "planner")
    headers = {"Authorization": f"Bearer {secret}"}
    settings = Settings(database_url=world.api.url, token_cache_seconds=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/v1/grants", headers=headers).status_code == 200
        registry.revoke("leaving-controller")
        answer = client.get("/v1/grants", headers=headers)
    body = assert_problem(answer, 401, "unauthenticated")
    assert "revoked" in body["detail"]


def test_the_scheme_is_case_insensitive_but_the_token_is_not(world: World) -> None:
    token = world.api.tokens["reader"]
    assert (
        world.api.client.get("/v1/grants", headers={"Authorization": f"bearer {token}"}).status_code
        == 200
    )
    swapped = token.swapcase()
    answer = world.api.client.get("/v1/grants", headers={"Authorization": f"Bearer {swapped}"})
    assert_problem(answer, 401, "unauthenticated")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_need_no_token(world: World, path: str) -> None:
    assert world.api.client.get(path).status_code == 200


def test_the_matrix_covers_every_v1_operation_of_the_app(world: World) -> None:
    """A new endpoint must join the matrix: the OpenAPI document lists every operation."""
    spec = world.api.client.get("/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        if path.startswith("/v1")
        for method in ops
    }
    covered = {(e.method, e.path.replace("{YYYY-MM}", "{period}")) for e in ENDPOINTS}
    assert operations == covered
