"""The bench's knobs, all from the environment, with defaults for a full run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PLAN = REPO / "examples" / "god-och-nara-vard-2022.yaml"
BATCH = 500  # lines (events) per in-process batch, per raw commit and per HTTP batch request


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").replace(" ", "")
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Config:
    events: int  # BENCH_EVENTS: events in the store when the "large" figures are taken
    admin_url: str  # a database on the server to CREATE/DROP DATABASE from
    results: Path
    smoke: bool
    small_events: int  # where the "small" balance latency is taken (10 000)
    http_seconds: float  # each HTTP throughput phase
    http_batch_max_lines: int
    http_single_max_requests: int
    http_batch_clients: int
    http_single_clients: int
    server_workers: int
    latency_requests: int  # balance reads per latency phase
    asof_requests: int
    latency_seconds: float  # time bound of each latency phase
    peer_batch_events: int  # interleaved with the ingest batches, spread over the whole run
    peer_single_events: int  # just before the HTTP single phase
    peer_single_seconds: float
    max_seconds: float  # bound of the in-process ingest (a full run must finish)
    keep_database: bool
    warmup_batches: int  # first in-process batches left out of the timing (caches, plans)

    @classmethod
    def from_env(cls) -> Config:
        smoke = _flag("BENCH_SMOKE")
        events = max(_int("BENCH_EVENTS", 1_000_000), 100)
        big = events > 100_000
        return cls(
            events=events,
            admin_url=os.environ.get("GRANTLEDGER_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
            results=Path(os.environ.get("BENCH_RESULTS", str(HERE / "results.json"))),
            smoke=smoke,
            small_events=_int("BENCH_SMALL_EVENTS", min(10_000, events // 2)),
            http_seconds=_float("BENCH_HTTP_SECONDS", 1.5 if smoke else 20.0 if big else 4.0),
            http_batch_max_lines=_int(
                "BENCH_HTTP_BATCH_MAX_LINES",
                # a third of what the ingest adds after the small size: the in-process ingest
                # still covers most of the way to BENCH_EVENTS
                4 * BATCH if smoke else max(8 * BATCH, min((events - 10_000) // 3, 500_000)),
            ),
            http_single_max_requests=_int(
                "BENCH_HTTP_SINGLE_MAX", 200 if smoke else 100_000 if big else 20_000
            ),
            http_batch_clients=_int("BENCH_HTTP_BATCH_CLIENTS", 4),
            http_single_clients=_int("BENCH_HTTP_SINGLE_CLIENTS", 16),
            server_workers=_int("BENCH_SERVER_WORKERS", 2),
            latency_requests=_int("BENCH_LATENCY_REQUESTS", 30 if smoke else 1000 if big else 300),
            asof_requests=_int("BENCH_ASOF_REQUESTS", 10 if smoke else 300 if big else 100),
            latency_seconds=_float("BENCH_LATENCY_SECONDS", 2.0 if smoke else 30.0 if big else 3.0),
            peer_batch_events=_int(
                "BENCH_PEER_BATCH_EVENTS", 500 if smoke else min(events, 100_000)
            ),
            peer_single_events=_int("BENCH_PEER_SINGLE_EVENTS", 50 if smoke else 20_000),
            peer_single_seconds=_float(
                "BENCH_PEER_SINGLE_SECONDS", 1.0 if smoke else 10.0 if big else 3.0
            ),
            max_seconds=_float("BENCH_MAX_SECONDS", 4 * 3600.0),
            keep_database=_flag("BENCH_KEEP_DB"),
            warmup_batches=2 if events >= 20 * BATCH else 0,
        )
