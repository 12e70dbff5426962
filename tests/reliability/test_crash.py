"""Crashes (issue 6 §2): SIGKILLed servers and terminated PostgreSQL backends during load.

Afterwards every acknowledged entry is present, no batch is partial, the chain verifies, replay
is identical, and every acknowledged request sent again with its Idempotency-Key answers the
first answer and writes nothing (exactly-once for clients that retry).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.chaos import Chaos
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


def test_a_killed_server_loses_nothing_and_retries_are_exactly_once(
    pg_url: str, tmp_path: Path
) -> None:
    grants = setup_grants(pg_url)
    tokens = make_tokens(pg_url)
    with servers(pg_url, tmp_path, 2) as running:
        urls = [s.url for s in running]
        chaos = Chaos(running, pg_url)
        workload = Workload(lambda: urls, tokens, grants, seed=21)
        workload.run(CLIENTS, 5.0, during=chaos.kill_once)
        assert chaos.kills == 1
        assert running[0].starts == 2
        assert running[0].alive()
        figures = audit(workload, urls[0], pg_url)
        assert verify_over_api(urls[1], tokens["auditor"])["checked"] == figures.events
        resent = resend_acknowledged(workload, urls[0])
    print(
        f"\ncrash: kills={chaos.kills} requests={workload.stats.requests} "
        f"transport_errors={workload.stats.transport_errors} 503s={workload.stats.retried_503} "
        f"acked={len(workload.acked)} resent={resent} lost={figures.lost}"
    )
    # The kill cut requests off: their clients retried with the same key and were answered.
    assert workload.stats.transport_errors > 0


def test_a_terminated_backend_loses_nothing_and_answers_503(pg_url: str, tmp_path: Path) -> None:
    grants = setup_grants(pg_url)
    tokens = make_tokens(pg_url)
    with servers(pg_url, tmp_path, 2) as running:
        urls = [s.url for s in running]
        chaos = Chaos(running, pg_url)
        workload = Workload(lambda: urls, tokens, grants, seed=23)
        workload.run(CLIENTS, 5.0, during=chaos.terminate_backends)
        assert chaos.terminations, "no backend was caught in flight"
        figures = audit(workload, urls[0], pg_url)
        resent = resend_acknowledged(workload, urls[1])
    print(
        f"\nterminated {len(chaos.terminations)} backends: requests={workload.stats.requests} "
        f"503s={workload.stats.retried_503} acked={len(workload.acked)} resent={resent} "
        f"lost={figures.lost}"
    )
    # The terminations failed requests in flight: answered 503, retried with the same key.
    assert workload.stats.retried_503 > 0


@pytest.mark.slow
def test_soak_ten_kills_and_terminated_backends(
    pg_url: str, tmp_path: Path, soak_summary: SoakSummary
) -> None:
    duration, kills, terminations = 120.0, 12, 6
    grants = setup_grants(pg_url)
    tokens = make_tokens(pg_url)
    with servers(pg_url, tmp_path, 2) as running:
        urls = [s.url for s in running]
        chaos = Chaos(running, pg_url)
        workload = Workload(lambda: urls, tokens, grants, seed=22)
        workload.run(
            CLIENTS,
            duration,
            during=lambda t0: chaos.soak(t0, duration, kills, terminations),
        )
        assert chaos.kills >= 10
        figures = audit(workload, urls[0], pg_url)
        verify_over_api(urls[1], tokens["auditor"])
        resent = resend_acknowledged(workload, urls[1])
    soak_summary.add(
        "crash",
        slow=True,
        requests=workload.stats.requests + resent,
        server_kills=chaos.kills,
        backend_terminations=len(chaos.terminations),
        entries_acknowledged=sum(len(op.line_ids) for op in workload.acked),
        entries_lost=figures.lost,
        transport_errors=workload.stats.transport_errors,
        retried_503=workload.stats.retried_503,
    )
