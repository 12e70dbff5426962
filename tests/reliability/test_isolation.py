"""Group commit keeps every client's request its own (issue 16 §0, §1), against real servers.

- Exactly once inside a group: requests with one Idempotency-Key that queue behind a large batch
  land in one group commit; the key is claimed when the first is decided, so one receipt is
  recorded and every caller gets that first answer.  Across two server processes the append lock
  serializes the groups, so the key still records once.
- One client's bad request never fails another's: a poster sending unstorable input in a loop
  (SIE files with a NUL in the voucher series, batches that would push an account past the money
  bound) gets its own 422 each time, while another poster's valid lines are all recorded.

Both databases, each server a real ``grantledger serve`` process on loopback.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.domain.money import MAX_KRONOR
from tests.reliability.workload import read_events, setup_grants
from tests.support.databases import fresh_database, postgres_reason, postgres_required
from tests.support.servers import make_tokens, servers

GRANT = "load-1"
DRIFT = "9101"  # the cost object of load-1's area "drift" (workload.setup_grants)
PROBLEM = "application/problem+json"
HONEST_POSTS = 15


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql" and (reason := postgres_reason()) is not None:
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    with fresh_database(request.param, tmp_path) as url:
        setup_grants(url, count=1)
        yield url


def _auth(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _line(line_id: str, amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "booked_on": "2022-06-15",
        "amount": amount,
        "cost_object": DRIFT,
        "activity": "big-a",
        "kind": "expense",
        **extra,
    }


def _receipts(url: str, token: str, reference: str) -> int:
    events = read_events(url, token)
    return sum(
        1
        for e in events
        if e["event_type"] == "ReceiptRecorded" and e["data"]["reference"] == reference
    )


def test_one_key_queued_behind_a_large_batch_records_once(
    database_url: str, tmp_path: Path
) -> None:
    """Rule: exactly once under retries, also when the retries meet in one group commit."""
    tokens = make_tokens(database_url)
    big = {"source": "erp-big", "lines": [_line(f"big-{i}") for i in range(3000)]}
    with (
        servers(database_url, tmp_path, 1) as (server,),
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        for trial in range(3):
            key = f"erp-receipt-{trial}-{uuid.uuid4()}"
            reference = f"U-{trial}"
            receipt = {"amount": "500.00", "received_on": "2022-06-15", "reference": reference}
            big["source"] = f"erp-big-{trial}"

            def post_big(body: dict[str, Any] = big) -> httpx.Response:
                return client.post("/v1/transactions", json=body, headers=_auth(tokens["poster"]))

            def retry(_: int, receipt: dict[str, Any] = receipt, key: str = key) -> httpx.Response:
                return client.post(
                    f"/v1/grants/{GRANT}/receipts",
                    json=receipt,
                    headers=_auth(tokens["poster"], key),
                )

            with ThreadPoolExecutor(5) as pool:
                batch = pool.submit(post_big)
                time.sleep(0.15)  # the batch leads a group: the retries queue behind it
                answers = list(pool.map(retry, range(4)))
                assert batch.result().status_code == 201, batch.result().text
            assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
            assert len({a.content for a in answers}) == 1, "every caller gets the first answer"
            assert len({a.headers["etag"] for a in answers}) == 1
            assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
            assert _receipts(server.url, tokens["auditor"], reference) == 1

            other = client.post(
                f"/v1/grants/{GRANT}/receipts",
                json={**receipt, "amount": "501.00"},
                headers=_auth(tokens["poster"], key),
            )
            assert other.status_code == 422, other.text
            assert other.json()["type"].endswith("/idempotency-key-reused")
        assert "Traceback" not in server.log_text()


def test_one_key_sent_to_two_server_processes_records_once(
    database_url: str, tmp_path: Path
) -> None:
    """Rule: exactly once across processes: the append lock serializes their groups."""
    tokens = make_tokens(database_url)
    with servers(database_url, tmp_path, 2) as running:
        clients = [httpx.Client(base_url=s.url, timeout=60) for s in running]
        try:
            for trial in range(5):
                key = f"erp-both-{trial}-{uuid.uuid4()}"
                reference = f"B-{trial}"
                receipt = {"amount": "700.00", "received_on": "2022-06-16", "reference": reference}

                def send(i: int, receipt: dict[str, Any] = receipt, key: str = key) -> bytes:
                    r = clients[i % 2].post(
                        f"/v1/grants/{GRANT}/receipts",
                        json=receipt,
                        headers=_auth(tokens["poster"], key),
                    )
                    assert r.status_code == 201, r.text
                    return r.content

                with ThreadPoolExecutor(6) as pool:
                    bodies = set(pool.map(send, range(6)))
                assert len(bodies) == 1
                assert _receipts(running[0].url, tokens["auditor"], reference) == 1
        finally:
            for c in clients:
                c.close()


def _sie_with_nul(n: int) -> bytes:
    header = '#FLAGGA 0\n#FORMAT PC8\n#SIETYP 4\n#DIM 6 "Projekt"\n'
    voucher = (
        f'#VER "A\x00{n}" {n} 20220301 "Gift"\n{{\n'
        f'#TRANS 4010 {{6 "{DRIFT}"}} 5.00\n#TRANS 2440 {{}} -5.00\n}}\n'
    )
    return (header + voucher).encode("cp437")


def test_a_poisoned_neighbour_never_fails_another_clients_valid_lines(
    database_url: str, tmp_path: Path
) -> None:
    """Rule: a refused request writes nothing and touches no other client's request."""
    tokens = make_tokens(database_url)
    max_line = f"{MAX_KRONOR}.00"
    stop = threading.Event()
    poison_statuses: list[int] = []
    valid: list[tuple[str, httpx.Response]] = []
    unavailable: list[int] = []  # 503s on the machine's bad minutes: retried, never final

    with servers(database_url, tmp_path, 1) as (server,):

        def poison(number: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                n = 0
                while not stop.is_set():
                    n += 1
                    if n % 2:
                        r = client.post(
                            "/v1/imports/sie",
                            files={"file": (f"gift-{number}-{n}.se", _sie_with_nul(n))},
                            headers=_auth(tokens["poster"]),
                        )
                    else:  # two lines at the bound: the account would pass it
                        r = client.post(
                            "/v1/transactions",
                            json={
                                "source": "poison",
                                "lines": [_line(f"p-{number}-{n}-{k}", max_line) for k in range(2)],
                            },
                            headers=_auth(tokens["poster"]),
                        )
                    if r.status_code != 503:  # a busy database is not the poison's doing
                        poison_statuses.append(r.status_code)
                    assert r.headers["content-type"].startswith(PROBLEM), r.text

        def honest(number: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for k in range(HONEST_POSTS):
                    line_id = f"ok-{number}-{k}"
                    for _ in range(10):  # as an ERP does: a 503 is retried, anything else final
                        r = client.post(
                            "/v1/transactions",
                            json={"source": "erp-honest", "lines": [_line(line_id)]},
                            headers=_auth(tokens["poster"], f"honest-{number}-{k}"),
                        )
                        if r.status_code != 503:
                            break
                        unavailable.append(r.status_code)
                        time.sleep(float(r.headers.get("retry-after", "1")))
                    valid.append((line_id, r))

        poisoners = [threading.Thread(target=poison, args=(i,)) for i in range(2)]
        honest_ones = [threading.Thread(target=honest, args=(i,)) for i in range(4)]
        for t in poisoners + honest_ones:
            t.start()
        for t in honest_ones:  # the poison flows for as long as honest clients post
            t.join(timeout=300)
        stop.set()
        for t in poisoners:
            t.join(timeout=120)

        refused = [
            (line_id, r.status_code, r.text[:200]) for line_id, r in valid if r.status_code != 201
        ]
        assert refused == [], refused[:5]
        assert len(valid) == 4 * HONEST_POSTS
        assert poison_statuses
        assert set(poison_statuses) == {422}, sorted(set(poison_statuses))
        recorded = {
            e["data"]["line_id"]
            for e in read_events(server.url, tokens["auditor"])
            if e["event_type"] == "SpendRecorded"
        }
        assert {line_id for line_id, _ in valid} <= recorded
        assert not any(lid.startswith("p-") or "\x00" in lid for lid in recorded)
        assert "Traceback" not in server.log_text()
