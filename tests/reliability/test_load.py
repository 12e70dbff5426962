"""Concurrent load across processes (issue 6 §1): two servers, one PostgreSQL, 16 clients.

Every client posts spend batches, receipts, reversals, reallocations and allocations with an
Idempotency-Key and retries 503s and broken connections with the same key.  Afterwards the audit
of ``workload.audit`` holds: every acknowledged entry exactly once, positions gap-free, chain and
replay good, no over-allocation, no 5xx but a 503 with Retry-After.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger import migrate
from ledger.db import create_engine
from tests.reliability.conftest import SoakSummary
from tests.reliability.workload import (
    Workload,
    audit,
    resend_acknowledged,
    setup_grants,
    verify_over_api,
)
from tests.support.servers import make_tokens, servers

CLIENTS = 16


def _run(
    pg_url: str, tmp_path: Path, *, processes: int, duration: float, seed: int
) -> dict[str, Any]:
    grants = setup_grants(pg_url)
    tokens = make_tokens(pg_url)
    with servers(pg_url, tmp_path, processes) as running:
        urls = [s.url for s in running]
        workload = Workload(lambda: urls, tokens, grants, seed=seed)
        workload.run(CLIENTS, duration, poisoned=1)
        figures = audit(workload, urls[0], pg_url)
        verified = verify_over_api(urls[1], tokens["auditor"])
        assert verified["checked"] == figures.events
        resent = resend_acknowledged(workload, urls[-1])
        assert verify_over_api(urls[0], tokens["auditor"])["checked"] == figures.events
    assert workload.poison_statuses, "the poisoned neighbour sent nothing"
    rate = workload.stats.requests / workload.elapsed
    result = {
        "clients": CLIENTS,
        "processes": processes,
        "seconds": round(workload.elapsed, 1),
        "requests": workload.stats.requests,
        "requests_per_second": round(rate, 1),
        "statuses": dict(workload.stats.statuses),
        "acknowledged": len(workload.acked),
        "acknowledged_lines": figures.acked_lines,
        "events": figures.events,
        "resent_with_same_key": resent,
        "entries_lost": figures.lost,
        "poisoned_requests": sum(workload.poison_statuses.values()),
    }
    print(f"\nload: {result}")
    assert len(workload.acked) > CLIENTS
    return result


def test_two_processes_sixteen_clients_nothing_lost_nothing_twice(
    pg_url: str, tmp_path: Path
) -> None:
    _run(pg_url, tmp_path, processes=2, duration=5.0, seed=11)


@pytest.mark.slow
def test_soak_three_processes_sixteen_clients(
    pg_url: str, tmp_path: Path, soak_summary: SoakSummary
) -> None:
    result = _run(pg_url, tmp_path, processes=3, duration=90.0, seed=12)
    soak_summary.add(
        "load",
        slow=True,
        requests=result["requests"],
        entries_acknowledged=result["acknowledged_lines"],
        entries_lost=result["entries_lost"],
        requests_per_second=result["requests_per_second"],
        processes=3,
        clients=CLIENTS,
    )


def test_an_exhausted_connection_pool_answers_503_with_retry_after(pg_url: str) -> None:
    """Overload sheds load: every pooled connection busy is a 503 a client retries, not a 500."""
    engine = create_engine(pg_url, pool_size=1)
    migrate.upgrade(engine)
    engine.dispose()
    tokens = make_tokens(pg_url)
    app = create_app(Settings(database_url=pg_url, pool_size=1))
    pool = app.state.container.engine.pool
    pool._timeout = 0.5  # the 30 s default, shortened for the test
    with TestClient(app, raise_server_exceptions=False) as client, ExitStack() as held:
        for _ in range(2):  # pool_size 1 + max_overflow 1: every connection taken
            held.enter_context(app.state.container.engine.connect())
        answer = client.get("/v1/grants", headers={"Authorization": f"Bearer {tokens['reader']}"})
    assert answer.status_code == 503, answer.text
    assert answer.headers.get("retry-after")
    assert answer.headers["content-type"].startswith("application/problem+json")
