"""`make bench` must not rot: a tiny run of the real bench writes every figure as a number.

The bench itself is not run by `make test`; this runs it with a few hundred events and phases of
a second or two (BENCH_SMOKE=1), against PostgreSQL, in under a minute.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.databases import admin_url, postgres_reason, postgres_required

REPO = Path(__file__).resolve().parents[1]

# The figures DESIGN §5 and the performance issue ask for (bench/README.md explains each).
KEYS = (
    "raw_rows_per_s",
    "ingest_events_per_s",
    "ingest_ratio_to_raw",
    "peer_batch_events_per_s",
    "peer_single_events_per_s",
    "http_batch_lines_per_s",
    "http_single_per_s",
    "balance_p50_ms",
    "balance_p99_ms",
    "balance_p99_ms_small",
    "balance_p99_ms_large",
    "asof_p99_ms",
    "replay_events_per_s",
    "verify_events_per_s",
    "server_rss_mb",
)


def test_bench_smoke_writes_every_figure(tmp_path: Path) -> None:
    reason = postgres_reason()
    if reason is not None:
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    results = tmp_path / "results.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "services"), str(REPO)]),
        "BENCH_EVENTS": "600",
        "BENCH_SMOKE": "1",
        "BENCH_RESULTS": str(results),
        "GRANTLEDGER_BENCH_POSTGRES_URL": admin_url(),
    }
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    figures = json.loads(results.read_text())
    for key in KEYS:
        assert key in figures, f"{key} missing from {sorted(figures)}"
        value = figures[key]
        assert isinstance(value, int | float), (key, value)
        assert not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)
        assert value > 0, (key, value)
    assert figures["replay_identical"] == 1
    assert figures["verify_ok"] == 1
    assert elapsed < 90, f"the smoke run took {elapsed:.0f} s"
