"""Hostile input (issue 6 §3): a catalogue of bad requests, each refused with the right 4xx.

Every case is sent to the app on both databases; each must answer its status as an RFC 9457
``application/problem+json`` document (with the problem ``type`` where one is stable), and leave
the events table and every projection exactly as they were.  ``make soak`` sends the whole
catalogue again to a real server process over a socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger.db import create_engine
from tests.reliability.conftest import SoakSummary
from tests.support.databases import fresh_database, postgres_reason
from tests.support.ledger import snapshot
from tests.support.servers import make_tokens, servers

GRANT = "hostile-2022"
G = f"/v1/grants/{GRANT}"
DECISION = {"ref": "RS/1/2022", "date": "2022-05-04", "body": "Regionstyrelsen"}
PROBLEM = "application/problem+json"
TYPE_BASE = "https://grantledger.dev/problems/"


def grant_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "grant_id": GRANT,
        "name": "Fientlig indata 2022",
        "funder": "Staten via SKR",
        "decision": DECISION,
        "spend_period": {"from": "2022-01-01", "to": "2022-12-31"},
        "areas": [
            {
                "code": "nara",
                "name": "Nära vård",
                "awarded": "1000000.00",
                "cost_object": "7716",
                "responsible": "HOSPA",
            },
            {
                "code": "other",
                "name": "Annat",
                "awarded": "500000.00",
                "cost_object": "7717",
                "responsible": "HOSPA",
            },
            {
                "code": "ring",
                "name": "Vidareutbildning",
                "awarded": "300000.00",
                "cost_object": "7718",
                "responsible": "HR",
                "ring_fenced": True,
            },
        ],
    }
    body.update(overrides)
    return body


def activity(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "ny-insats",
        "area": "nara",
        "name": "Ny insats",
        "amount": "1000.00",
        "responsible": "Beställarchef",
        "decision": DECISION,
    }
    body.update(overrides)
    return body


def line(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "line_id": "H-new",
        "voucher": "V-H",
        "booked_on": "2022-03-15",
        "amount": "100.00",
        "cost_object": "7716",
        "activity": "lokalt",
        "account": "4010",
        "kind": "expense",
        "text": "utfall",
    }
    body.update(overrides)
    return body


def spend(**overrides: Any) -> dict[str, Any]:
    return {"source": "erp", "lines": [line(**overrides)]}


def receipt(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": "1000.00", "received_on": "2022-06-15", "reference": "U-1"}
    body.update(overrides)
    return body


def realloc(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from_activity": "lokalt",
        "to_activity": "plan",
        "amount": "100.00",
        "reason": "omfördelning",
        "decision": DECISION,
    }
    body.update(overrides)
    return body


def nested(depth: int) -> bytes:
    return b'{"source": "erp", "lines": ' + b"[" * depth + b"]" * depth + b"}"


def raw_line(amount_literal: str) -> bytes:
    """A batch whose amount is a bare JSON token no encoder writes (NaN, 1e400, …)."""
    text = json.dumps(spend(amount="__AMOUNT__"))
    return text.replace('"__AMOUNT__"', amount_literal).encode()


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    role: str | None = "admin"
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 422
    problem: str | None = None  # the problem type's slug, where the API has a stable one
    bug: str | None = None  # a known bug: the case is an xfail(strict) until it is fixed


C = Case
JSON_HEADERS = {"Content-Type": "application/json"}

# fmt: off
CASES: list[Case] = [
    # --- money (rule 8) --------------------------------------------------------------------
    C("money-three-decimals-string", "POST", "/v1/transactions", "poster",
      spend(amount="100.005"), problem="validation-error"),
    C("money-three-decimals-number", "POST", "/v1/transactions", "poster",
      spend(amount=100.005), problem="validation-error"),
    C("money-1e400", "POST", "/v1/transactions", "poster", raw=raw_line("1e400")),
    C("money-NaN", "POST", "/v1/transactions", "poster", raw=raw_line("NaN")),
    C("money-Infinity", "POST", "/v1/transactions", "poster", raw=raw_line("Infinity")),
    C("money-minus-Infinity", "POST", "/v1/transactions", "poster", raw=raw_line("-Infinity")),
    C("money-exponent-string", "POST", "/v1/transactions", "poster", spend(amount="1e5"),
      problem="validation-error"),
    C("money-over-10^13-kronor", "POST", "/v1/transactions", "poster",
      spend(amount="10000000000000.01"), problem="validation-error"),
    C("money-30-digit-integer", "POST", "/v1/transactions", "poster",
      raw=raw_line("123456789012345678901234567890"), problem="validation-error"),
    C("money-boolean", "POST", "/v1/transactions", "poster", spend(amount=True),
      problem="validation-error"),
    C("money-empty-string", "POST", "/v1/transactions", "poster", spend(amount=""),
      problem="validation-error"),
    C("money-with-spaces", "POST", "/v1/transactions", "poster", spend(amount=" 100.00"),
      problem="validation-error"),
    C("money-thousands-separator", "POST", "/v1/transactions", "poster",
      spend(amount="1,000.00"), problem="validation-error"),
    C("money-hex", "POST", "/v1/transactions", "poster", spend(amount="0x10"),
      problem="validation-error"),
    C("money-null", "POST", "/v1/grants/hostile-2022/receipts", "poster", receipt(amount=None),
      problem="validation-error"),
    C("allocation-negative", "POST", f"{G}/activities", "planner", activity(amount="-1000.00"),
      problem="validation-error"),  # the spec's pattern says more than zero
    C("allocation-zero", "POST", f"{G}/activities", "planner", activity(amount="0.00"),
      problem="validation-error"),
    C("receipt-negative", "POST", f"{G}/receipts", "poster", receipt(amount="-5.00"),
      problem="validation-error"),
    C("reallocation-negative", "POST", f"{G}/reallocations", "planner",
      realloc(amount="-100.00"), problem="validation-error"),
    # --- strings -----------------------------------------------------------------------------
    C("huge-name", "POST", f"{G}/activities", "planner", activity(name="x" * 100_000),
      problem="validation-error"),
    C("huge-line-text", "POST", "/v1/transactions", "poster", spend(text="å" * 5000),
      problem="validation-error"),
    C("control-char-nul", "POST", f"{G}/activities", "planner", activity(name="a\u0000b"),
      problem="validation-error"),
    C("control-char-bell-in-reason", "POST", f"{G}/reallocations", "planner",
      realloc(reason="flytt\u0007"), problem="validation-error"),
    C("control-char-newline-in-line-id", "POST", "/v1/transactions", "poster",
      spend(line_id="H-1\nH-2"), problem="validation-error"),
    C("control-char-escape-in-reference", "POST", f"{G}/receipts", "poster",
      receipt(reference="\u001b[31mröd"), problem="validation-error"),
    C("blank-name", "POST", f"{G}/activities", "planner", activity(name="   "),
      problem="validation-error"),
    C("lone-surrogate", "POST", f"{G}/activities", "planner",
      raw=json.dumps(activity(name="__N__")).replace("__N__", "\\ud800").encode()),
    # --- injection -----------------------------------------------------------------------------
    C("sql-injection-in-grant-path", "GET", "/v1/grants/x';DROP TABLE events;--", "reader",
      problem="validation-error"),
    C("sql-injection-in-cost-object", "POST", "/v1/transactions", "poster",
      spend(cost_object="7716' OR '1'='1"), problem="validation-error"),
    C("sql-injection-in-activity", "POST", "/v1/transactions", "poster",
      spend(activity="lokalt; DELETE FROM events"), problem="validation-error"),
    C("sql-injection-in-source", "POST", "/v1/transactions", "poster",
      {"source": "erp'--", "lines": [line()]}, problem="validation-error"),
    C("sql-injection-in-as-of", "GET", "/v1/balances?grant_id=hostile-2022&as_of=2022-01-01'--",
      "reader", problem="validation-error"),
    C("sql-injection-in-transaction-path", "POST", "/v1/transactions/1%20OR%201=1/reversal",
      "poster", {"reason": "x", "booked_on": "2022-04-01"}, problem="validation-error"),
    C("json-injection-in-code", "POST", f"{G}/activities", "planner",
      activity(code='x", "amount": "9999999'), problem="validation-error"),
    C("json-injection-in-period-path", "POST", "/v1/periods/2022-03%22%7D/close", "admin",
      problem="validation-error"),
    # --- structure ------------------------------------------------------------------------------
    C("deeply-nested-json", "POST", "/v1/transactions", "poster", raw=nested(100_000),
      status=400),
    C("nested-json-in-decision", "POST", f"{G}/activities", "planner",
      activity(decision={"ref": {"ref": {"ref": {"ref": "x"}}}, "date": "2022-05-04",
                         "body": "RS"}), problem="validation-error"),
    C("truncated-json", "POST", "/v1/transactions", "poster", raw=b'{"source": "erp", "lines": [',
      status=400, problem="malformed-json"),
    C("not-utf8", "POST", "/v1/transactions", "poster", raw=b'{"source": "\xff\xfe"}',
      status=400),
    C("array-instead-of-object", "POST", "/v1/transactions", "poster", raw=b"[]",
      problem="validation-error"),
    C("empty-body", "POST", f"{G}/receipts", "poster", raw=b"", problem="validation-error"),
    C("lines-not-a-list", "POST", "/v1/transactions", "poster", {"source": "erp", "lines": "x"},
      problem="validation-error"),
    C("empty-batch", "POST", "/v1/transactions", "poster", {"source": "erp", "lines": []},
      problem="validation-error"),
    C("batch-over-10000-lines", "POST", "/v1/transactions", "poster",
      {"source": "erp", "lines": [line(line_id=f"B-{i}") for i in range(10_001)]},
      problem="validation-error"),
    C("wrong-type-ring-fenced", "POST", "/v1/grants", "planner",
      grant_body(grant_id="typed-2022", areas=[{**grant_body()["areas"][0],
                 "ring_fenced": "kanske"}]), problem="validation-error"),
    C("wrong-type-date-number", "POST", f"{G}/receipts", "poster",
      receipt(received_on=20220615.5), problem="validation-error"),
    C("unknown-field-top", "POST", f"{G}/receipts", "poster", {**receipt(), "amont": "1.00"},
      problem="validation-error"),
    C("unknown-field-in-line", "POST", "/v1/transactions", "poster", spend(vat="25.00"),
      problem="validation-error"),
    C("missing-field", "POST", f"{G}/reallocations", "planner",
      {k: v for k, v in realloc().items() if k != "to_activity"}, problem="validation-error"),
    # --- dates ------------------------------------------------------------------------------------
    C("date-2022-02-30", "POST", "/v1/transactions", "poster", spend(booked_on="2022-02-30"),
      problem="validation-error"),
    C("date-month-13", "POST", f"{G}/receipts", "poster", receipt(received_on="2022-13-01"),
      problem="validation-error"),
    C("date-swedish-order", "POST", "/v1/transactions", "poster", spend(booked_on="31/03/2022"),
      problem="validation-error"),
    C("spend-period-reversed", "POST", "/v1/grants", "planner",
      grant_body(grant_id="reversed-2022",
                 spend_period={"from": "2022-12-31", "to": "2022-01-01"}),
      problem="invalid-plan"),
    C("booked-outside-spend-period", "POST", "/v1/transactions", "poster",
      spend(booked_on="2023-01-15"), problem="unplaceable-spend"),
    C("as-of-not-a-date", "GET", "/v1/balances?grant_id=hostile-2022&as_of=2022-02-30",
      "reader", problem="validation-error"),
    C("nul-in-events-type-filter", "GET", "/v1/events?type=Spend%00Recorded", "auditor",
      problem="validation-error"),
    C("nul-in-events-stream-filter", "GET", "/v1/events?stream=grant-%00x", "auditor",
      problem="validation-error"),
    C("nul-in-balances-cost-object", "GET", "/v1/balances?cost_object=77%0016", "reader",
      problem="validation-error"),
    C("nul-in-cost-object-path", "GET", "/v1/cost-objects/77%0016", "reader",
      problem="validation-error"),
    C("known-at-a-bare-number", "GET", "/v1/balances?grant_id=hostile-2022&known_at=2022",
      "reader", problem="validation-error"),
    # --- unknown codes ----------------------------------------------------------------------------
    C("unknown-grant", "POST", "/v1/grants/nope-2022/receipts", "poster", receipt(),
      status=404, problem="unknown-grant"),
    C("unknown-area", "POST", f"{G}/activities", "planner", activity(area="nowhere"),
      status=404, problem="unknown-area"),
    C("unknown-activity-reallocation", "POST", f"{G}/reallocations", "planner",
      realloc(to_activity="nowhere"), status=404, problem="unknown-activity"),
    C("unknown-activity-on-line", "POST", "/v1/transactions", "poster",
      spend(activity="nowhere"), problem="unplaceable-spend"),
    C("unknown-cost-object", "POST", "/v1/transactions", "poster", spend(cost_object="0000"),
      problem="unplaceable-spend"),
    C("unknown-transaction", "POST", "/v1/transactions/no-such-line/reversal", "poster",
      {"reason": "x", "booked_on": "2022-04-01"}, status=404, problem="unknown-transaction"),
    # --- rules and state --------------------------------------------------------------------------
    C("closed-period-spend", "POST", "/v1/transactions", "poster",
      spend(booked_on="2022-01-15"), problem="unplaceable-spend"),
    C("closed-period-receipt", "POST", f"{G}/receipts", "poster",
      receipt(received_on="2022-01-20"), problem="period-closed"),
    C("closed-period-closed-again", "POST", "/v1/periods/2022-01/close", "admin", status=409,
      problem="period-already-closed"),
    C("reversed-line-reversed-again", "POST", "/v1/transactions/{reversed}/reversal", "poster",
      {"reason": "igen", "booked_on": "2022-04-05"}, status=409, problem="already-reversed"),
    C("reversal-reversed", "POST", "/v1/transactions/{reversal}/reversal", "poster",
      {"reason": "igen", "booked_on": "2022-04-05"}, status=409, problem="not-reversible"),
    C("investment-kind", "POST", "/v1/transactions", "poster", spend(kind="investment"),
      problem="unplaceable-spend"),
    C("unknown-kind", "POST", "/v1/transactions", "poster", spend(kind="gift"),
      problem="validation-error"),  # kind is an enum in the spec
    C("over-allocation", "POST", f"{G}/activities", "planner", activity(amount="900000.01"),
      problem="over-allocation"),
    C("ring-fenced-reallocation", "POST", f"{G}/reallocations", "planner",
      realloc(from_activity="ring-akt", to_activity="plan"), problem="ring-fenced"),
    C("cross-area-reallocation", "POST", f"{G}/reallocations", "planner",
      realloc(to_activity="annat"), problem="cross-area-reallocation"),
    C("reallocation-beyond-remaining", "POST", f"{G}/reallocations", "planner",
      realloc(amount="100000.01"), problem="insufficient-remaining"),
    C("new-activity-without-exit-plan", "POST", f"{G}/activities", "planner",
      activity(new_activity=True, exit_plan=None), problem="exit-plan-required"),
    C("planning-without-decision", "POST", f"{G}/activities", "planner",
      activity(decision=None), problem="decision-required"),
    C("natural-key-other-content", "POST", "/v1/transactions", "poster",
      spend(line_id="H-kept", amount="999.00"), status=409, problem="natural-key-conflict"),
    C("grant-registered-twice", "POST", "/v1/grants", "planner", grant_body(), status=409,
      problem="grant-exists"),
    C("idempotency-key-other-body", "POST", f"{G}/receipts", "poster",
      receipt(reference="U-other"), headers={"Idempotency-Key": "used-key"},
      problem="idempotency-key-reused"),
    C("idempotency-key-too-long", "POST", f"{G}/receipts", "poster", receipt(),
      headers={"Idempotency-Key": "k" * 256}, problem="validation-error"),
    C("if-match-garbage", "POST", f"{G}/activities", "planner", activity(),
      headers={"If-Match": "W/abc"}, problem="invalid-input"),
    C("if-match-stale", "POST", f"{G}/activities", "planner", activity(),
      headers={"If-Match": '"1"'}, status=409, problem="stream-version-conflict"),
    C("period-month-13", "POST", "/v1/periods/2022-13/close", "admin",
      problem="validation-error"),
    C("events-limit-zero", "GET", "/v1/events?limit=0", "auditor", problem="validation-error"),
    C("events-after-negative", "GET", "/v1/events?after=-1", "auditor",
      problem="validation-error"),
    C("events-limit-not-a-number", "GET", "/v1/events?limit=abc", "auditor",
      problem="validation-error"),
    # --- credentials ------------------------------------------------------------------------------
    C("no-token", "POST", "/v1/transactions", None, spend(), status=401,
      problem="unauthenticated"),
    C("forged-token", "POST", "/v1/transactions", "forged", spend(), status=401,
      problem="unauthenticated"),
    C("reader-posts-spend", "POST", "/v1/transactions", "reader", spend(), status=403,
      problem="forbidden"),
]
# fmt: on


class Target:
    """The API on one database, set up with what the catalogue refers to."""

    def __init__(
        self, send: Callable[..., httpx.Response], tokens: dict[str, str], database_url: str
    ) -> None:
        self.send = send
        self.tokens = {**tokens, "forged": "gl_" + "A" * 43}
        self.database_url = database_url
        self.ids: dict[str, str] = {}

    def request(self, case: Case) -> httpx.Response:
        headers = dict(case.headers)
        if case.role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[case.role]}"
        path = case.path.format(**self.ids) if "{" in case.path else case.path
        if case.raw is not None:
            return self.send(
                case.method, path, content=case.raw, headers={**JSON_HEADERS, **headers}
            )
        if case.body is None:
            return self.send(case.method, path, headers=headers)
        return self.send(case.method, path, json=case.body, headers=headers)

    def ok(self, method: str, path: str, role: str, body: Any = None, **headers: str) -> Any:
        answer = self.send(
            method,
            path,
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[role]}", **headers},
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def set_up(self) -> None:
        self.ok("POST", "/v1/grants", "planner", grant_body())
        for code, area, amount in (
            ("lokalt", "nara", "100000.00"),
            ("plan", "nara", "1000.00"),
            ("annat", "other", "1000.00"),
            ("ring-akt", "ring", "1000.00"),
        ):
            self.ok(
                "POST", f"{G}/activities", "planner", activity(code=code, area=area, amount=amount)
            )
        kept = self.ok("POST", "/v1/transactions", "poster", spend(line_id="H-kept"))
        posted = self.ok("POST", "/v1/transactions", "poster", spend(line_id="H-reversed"))
        reversed_id = posted["lines"][0]["transaction_id"]
        reversal = self.ok(
            "POST",
            f"/v1/transactions/{reversed_id}/reversal",
            "poster",
            {"reason": "felkontering", "booked_on": "2022-04-05"},
        )
        self.ids = {
            "kept": kept["lines"][0]["transaction_id"],
            "reversed": reversed_id,
            "reversal": reversal["lines"][0]["transaction_id"],
        }
        self.ok("POST", f"{G}/receipts", "poster", receipt(), **{"Idempotency-Key": "used-key"})
        self.ok("POST", "/v1/periods/2022-01/close", "admin")

    def state(self) -> dict[str, list[tuple[Any, ...]]]:
        engine = create_engine(self.database_url, pool_size=1)
        try:
            return snapshot(engine)
        finally:
            engine.dispose()


def check(target: Target, case: Case, before: dict[str, list[tuple[Any, ...]]] | None) -> None:
    answer = target.request(case)
    assert answer.status_code == case.status, (case.name, answer.status_code, answer.text[:500])
    assert answer.headers["content-type"].startswith(PROBLEM), (case.name, answer.headers)
    problem = answer.json()
    assert {"type", "title", "status", "detail"} <= set(problem), problem
    assert problem["status"] == case.status
    assert problem["type"].startswith(TYPE_BASE)
    if case.problem is not None:
        assert problem["type"] == TYPE_BASE + case.problem, (case.name, problem)
    if before is not None:
        assert target.state() == before, f"{case.name} changed the ledger"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    if request.param == "postgresql" and postgres_reason() is not None:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    directory = tmp_path_factory.mktemp("hostile")
    with fresh_database(request.param, directory) as url:
        engine = create_engine(url, pool_size=1)
        from ledger import migrate

        migrate.upgrade(engine)
        engine.dispose()
        tokens = make_tokens(url, "hostile")
        app = create_app(Settings(database_url=url))
        with TestClient(app, raise_server_exceptions=False) as client:  # a 500 is an answer
            t = Target(client.request, tokens, url)
            t.set_up()
            yield t


def test_the_catalogue_has_at_least_forty_distinct_bad_inputs() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 40


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_a_bad_input_is_refused_with_its_problem_and_writes_nothing(
    target: Target, case: Case
) -> None:
    check(target, case, target.state())


@pytest.mark.slow
def test_soak_the_catalogue_against_a_real_server(
    pg_url: str, tmp_path: Path, soak_summary: SoakSummary
) -> None:
    engine = create_engine(pg_url, pool_size=1)
    from ledger import migrate

    migrate.upgrade(engine)
    engine.dispose()
    tokens = make_tokens(pg_url, "hostile")
    with servers(pg_url, tmp_path, 1) as (server,), httpx.Client(base_url=server.url) as client:
        target = Target(client.request, tokens, pg_url)
        target.set_up()
        before = target.state()
        rounds = 3
        for _ in range(rounds):
            for case in CASES:
                if case.bug is None:
                    check(target, case, None)
        assert target.state() == before
        assert "Traceback" not in server.log_text()
    soak_summary.add("hostile", slow=True, bad_inputs_tried=rounds * len(CASES))
