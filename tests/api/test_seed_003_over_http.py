"""Seed 003, God och nära vård 2022, told over HTTP to a real ``grantledger serve`` process.

The controller registers the grant from ``examples/god-och-nara-vard-2022.yaml`` and allocates
every activity of §3.1; the funder pays; the ERP posts its spend in batches with Idempotency-Keys
and retries one; March is closed; the open lines are classified; the plan is reallocated under an
ETag; a mis-booked line is reversed.  Then the balances are read the way a finance system reads
them (httpx, over a socket) and checked to the öre against the document and the story, the chain
verifies, and the audit trail pages through every event exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import EXAMPLES, PROBLEM_JSON, LiveServer, bearer, plan_bodies

GRANT = "gnv-2022"
PLAN = EXAMPLES / "god-och-nara-vard-2022.yaml"


class Finance:
    """One httpx client per role against the live server; every call checks its status."""

    def __init__(self, server: LiveServer) -> None:
        self.clients = {
            role: httpx.Client(
                base_url=server.base_url, headers=bearer(token), timeout=30, trust_env=False
            )
            for role, token in server.tokens.items()
        }

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def post(
        self,
        role: str,
        path: str,
        body: Any = None,
        status: int = 201,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        answer = self.clients[role].post(path, json=body, headers=headers)
        assert answer.status_code == status, (path, answer.status_code, answer.text)
        return answer

    def get(self, role: str, path: str, **params: Any) -> Any:
        answer = self.clients[role].get(path, params=params)
        assert answer.status_code == 200, (path, answer.text)
        return answer.json()

    def spend(self, key: str, *lines: dict[str, Any]) -> dict[str, str]:
        answer = self.post(
            "poster",
            "/v1/transactions",
            {"source": "raindance", "lines": list(lines)},
            headers={"Idempotency-Key": key},
        )
        return {o["line_id"]: o["transaction_id"] for o in answer.json()["lines"]}


@pytest.fixture
def finance(live_server: LiveServer) -> Iterator[Finance]:
    f = Finance(live_server)
    yield f
    f.close()


def spend_line(
    line_id: str,
    cost_object: str,
    amount: str,
    booked_on: str,
    activity: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "voucher": line_id.rsplit("-", 1)[0],
        "booked_on": booked_on,
        "amount": amount,
        "cost_object": cost_object,
        "activity": activity,
        "account": "4010",
        "kind": "expense",
        "text": "God och nära vård 2022",
        **extra,
    }


def by_code(balances: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    areas = {a["code"]: a for a in balances["areas"]}
    activities = {x["code"]: x for a in balances["areas"] for x in a["activities"]}
    return areas, activities


def test_seed_003_god_och_nara_vard_2022_told_over_http_balances_to_the_ore(
    finance: Finance,
) -> None:
    # 1. §3: the agreement and its six areas; §3.1: every activity, on the board's decision.
    grant, allocations = plan_bodies(PLAN)
    registered = finance.post("planner", "/v1/grants", grant)
    assert registered.headers["etag"] == '"1"'
    for body in allocations:
        finance.post("planner", f"/v1/grants/{GRANT}/activities", body)
    assert len(allocations) == 19
    b = finance.get("reader", "/v1/balances", grant_id=GRANT)
    areas, _ = by_code(b)
    assert b["totals"]["awarded"] == "64410035.00"
    assert b["totals"]["allocated"] == "59819737.00"
    assert b["totals"]["unallocated"] == "4590298.00"
    assert {code: a["unallocated"] for code, a in areas.items()} == {
        "nara-vard": "2993953.00",  # not the document's rounded "Ofördelat 2 994 000"
        "medarbetare": "1596007.00",  # 24 796 007 − 23 200 000
        "vidareutbildning": "0.00",
        "karriartjanster": "169.00",
        "e-halsa": "169.00",
        "ambulans": "0.00",
    }
    # "Vidareutbildning 5 053 000" as written is 324 kr more than the award: refused, by name.
    refused = finance.post(
        "planner",
        f"/v1/grants/{GRANT}/activities",
        {
            **allocations[0],
            "code": "vidareutbildning-extra",
            "area": "vidareutbildning",
            "amount": "324.00",
        },
        status=422,
    )
    assert refused.headers["content-type"].startswith(PROBLEM_JSON)
    assert (refused.json()["area"], refused.json()["available"], refused.json()["requested"]) == (
        "vidareutbildning",
        "0.00",
        "324.00",
    )

    # 2. SKR pays in two instalments, öre included.
    for on in ("2022-06-15", "2022-11-15"):
        finance.post(
            "poster",
            f"/v1/grants/{GRANT}/receipts",
            {"amount": "32205017.50", "received_on": on, "reference": f"SKR utbetalning {on}"},
        )

    # 3. The ERP posts the first quarter; 9917 and 9942 serve several areas, so lines there
    #    without an activity are the grant's unclassified spend.  The network drops the answer
    #    and the ERP retries the batch with the same key: nothing is booked twice.
    q1 = [
        spend_line("V22-0101-1", "9916", "1250000.00", "2022-02-28", "lokalt-arbete"),
        spend_line("V22-0102-1", "9916", "85000.50", "2022-03-31", "barnhalsovard"),
        spend_line("V22-0103-1", "9916", "12345.67", "2022-03-15"),
        spend_line("V22-0104-1", "9917", "400000.00", "2022-03-31", "webbplatser"),
        spend_line("V22-0105-1", "9917", "20000.00", "2022-03-20"),
        spend_line("V22-0106-1", "9942", "15000.00", "2022-03-10"),
        spend_line("V22-0107-1", "9942", "100000.00", "2022-03-31", "ambulans-utveckling"),
    ]
    tx = finance.spend("raindance-2022-Q1", *q1)
    retry = finance.post(
        "poster",
        "/v1/transactions",
        {"source": "raindance", "lines": q1},
        headers={"Idempotency-Key": "raindance-2022-Q1"},
    )
    assert retry.headers["idempotent-replayed"] == "true"
    assert {o["line_id"]: o["transaction_id"] for o in retry.json()["lines"]} == tx
    totals = finance.get("reader", "/v1/balances", grant_id=GRANT)["totals"]
    assert (totals["spent"], totals["unclassified_spent"]) == ("1882346.17", "47345.67")

    # 4. March is closed; a late March line is refused, naming the line.
    assert finance.post("admin", "/v1/periods/2022-03/close").json() == {
        "period": "2022-03",
        "closed": True,
    }
    late = finance.post(
        "poster",
        "/v1/transactions",
        {
            "source": "raindance",
            "lines": [spend_line("V22-0199-1", "9916", "5000.00", "2022-03-25", "lokalt-arbete")],
        },
        status=422,
    )
    assert [(e["line_id"], e["code"]) for e in late.json()["errors"]] == [
        ("V22-0199-1", "closed-period")
    ]

    # 5. In April the controller classifies the open lines of March.
    for line_id, activity in (
        ("V22-0103-1", "personcentrering"),
        ("V22-0105-1", "vardlots"),
        ("V22-0106-1", "e-halsa-standarder"),
    ):
        finance.post(
            "planner",
            f"/v1/transactions/{tx[line_id]}/classification",
            {"activity": activity, "reason": "klassning april"},
        )

    # 6. "Kan vid behov omfördelas": inside nära vård, under the ETag the controller last read.
    etag = finance.clients["planner"].get(f"/v1/grants/{GRANT}").headers["etag"]
    decision = {
        "ref": "HoS-direktör, delegation",
        "date": "2022-06-01",
        "body": "Hälso- och sjukvårdsdirektör",
    }
    realloc = {
        "from_activity": "uppfoljning-halsoval",
        "to_activity": "fast-lakarkontakt",
        "amount": "200000.00",
        "reason": "Fast läkarkontakt prioriteras",
        "decision": decision,
    }
    moved = finance.post(
        "planner", f"/v1/grants/{GRANT}/reallocations", realloc, headers={"If-Match": etag}
    )
    assert moved.headers["etag"] == f'"{int(etag.strip(chr(34))) + 1}"'
    finance.post(
        "planner",
        f"/v1/grants/{GRANT}/reallocations",
        realloc,
        status=409,
        headers={"If-Match": etag},
    )
    fenced = finance.post(
        "planner",
        f"/v1/grants/{GRANT}/reallocations",
        {**realloc, "from_activity": "vidareutbildning-ssk", "to_activity": "webbplatser"},
        status=422,
    )
    assert fenced.json()["rule"] == "ring-fenced"

    # 7. More spend: the common plan overspends (a fact, recorded), a depreciation on 9917,
    #    and a line booked on the wrong activity that is then reversed (rättelse).
    later = finance.spend(
        "raindance-2022-Q2Q3",
        spend_line("V22-0501-1", "9916", "99999.00", "2022-05-10", "regelverk-kunskapsstyrning"),
        spend_line("V22-0630-1", "9917", "240000.00", "2022-06-30", "cambio", kind="depreciation"),
        spend_line("V22-0930-1", "9916", "400000.00", "2022-09-30", "gemensam-plan"),
        spend_line("V22-0930-2", "9916", "250000.25", "2022-09-30", "gemensam-plan"),
    )
    reversal = finance.post(
        "poster",
        f"/v1/transactions/{later['V22-0501-1']}/reversal",
        {"reason": "felkontering", "booked_on": "2022-05-12"},
    )
    assert reversal.json()["lines"][0]["status"] == "reversal"
    finance.post(
        "poster",
        f"/v1/transactions/{later['V22-0501-1']}/reversal",
        {"reason": "igen", "booked_on": "2022-05-13"},
        status=409,
    )

    # 8. The balances, to the öre.
    b = finance.get("reader", "/v1/balances", grant_id=GRANT)
    areas, acts = by_code(b)
    spent = "2772346.42"  # 1 882 346.17 + 240 000 + 650 000.25 (the 99 999 is reversed)
    assert b["totals"] == {
        "awarded": "64410035.00",
        "allocated": "59819737.00",
        "unallocated": "4590298.00",
        "spent": spent,
        "remaining": "61637688.58",  # 64 410 035 − 2 772 346.42
        "received": "64410035.00",
        "overreceived": False,
        "unclassified_spent": "0.00",
        "repaid": "0.00",
    }
    assert areas["nara-vard"]["unallocated"] == "2993953.00"
    assert areas["medarbetare"]["unallocated"] == "1596007.00"
    assert (
        areas["nara-vard"]["spent"] == "1997346.42"
    )  # 1 250 000 + 85 000.50 + 12 345.67 + 650 000.25
    assert areas["medarbetare"]["spent"] == "660000.00"  # 400 000 + 20 000 + 240 000
    assert (areas["e-halsa"]["spent"], areas["ambulans"]["spent"]) == ("15000.00", "100000.00")
    assert acts["gemensam-plan"] == {
        "code": "gemensam-plan",
        "allocated": "500000.00",
        "spent": "650000.25",
        "remaining": "-150000.25",
        "overspent": True,
    }
    assert (acts["uppfoljning-halsoval"]["allocated"], acts["fast-lakarkontakt"]["allocated"]) == (
        "100000.00",
        "500000.00",
    )
    assert acts["personcentrering"]["spent"] == "12345.67"
    assert acts["vardlots"]["spent"] == "20000.00"
    assert acts["regelverk-kunskapsstyrning"]["spent"] == "0.00"
    assert acts["cambio"]["remaining"] == "4360000.00"
    # As of the end of March, and on the day the wrong line stood.
    march = finance.get("reader", "/v1/balances", grant_id=GRANT, as_of="2022-03-31")
    assert march["totals"]["spent"] == "1882346.17"
    may_11 = finance.get(
        "reader",
        "/v1/balances",
        grant_id=GRANT,
        activity="regelverk-kunskapsstyrning",
        as_of="2022-05-11",
    )
    assert may_11["areas"][0]["activities"][0]["spent"] == "99999.00"
    assert finance.get("reader", "/v1/cost-objects/9916")["totals"]["spent"] == "1997346.42"

    # 9. The auditor: the chain verifies, and paging covers every event exactly once.
    verify = finance.get("auditor", "/v1/audit/verify")
    assert verify["ok"] is True
    assert verify["first_bad_position"] is None
    positions: list[int] = []
    types: Counter[str] = Counter()
    after = 0
    while True:
        page = finance.get("auditor", "/v1/events", after=after, limit=7)
        positions.extend(e["position"] for e in page["events"])
        types.update(e["event_type"] for e in page["events"])
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert positions == list(range(1, verify["head_position"] + 1))
    assert len(positions) == verify["checked"]
    assert types == Counter(
        {
            "GrantRegistered": 1,
            "ActivityAllocated": 19,
            "ReceiptRecorded": 2,
            "SpendRecorded": 11,
            "PeriodClosed": 1,
            "SpendClassified": 3,
            "BudgetReallocated": 1,
            "SpendReversed": 1,
        }
    )
    actors = Counter(
        (e["meta"]["actor"], e["event_type"])
        for e in finance.get("auditor", "/v1/events", limit=1000)["events"]
    )
    assert actors[("planner-token", "ActivityAllocated")] == 19
    assert actors[("poster-token", "SpendRecorded")] == 11
    assert actors[("admin-token", "PeriodClosed")] == 1
