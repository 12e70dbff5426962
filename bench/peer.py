"""The peer: the ``eventsourcing`` library (9.5.6) with its PostgreSQL backend, same server.

A bench-only dependency, imported lazily here and nowhere else.  When it is missing, the bench
installs the pins below into the running interpreter's environment with pip (``make bench`` on a
fresh clone therefore works); set ``BENCH_NO_INSTALL=1`` to refuse that instead.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

# Exact pins of what `pip install "eventsourcing[postgres]==9.5.6"` added to the project's venv
# (psycopg and psycopg-binary 3.3.9 were already there via requirements.lock).
PINS = ("eventsourcing[postgres]==9.5.6", "psycopg-pool==3.3.3")
VERSION = "9.5.6"


def ensure_installed() -> str:
    try:
        mod = importlib.import_module("eventsourcing")
    except ImportError:
        if os.environ.get("BENCH_NO_INSTALL", "") not in ("", "0"):
            raise RuntimeError(
                f"the peer needs {' '.join(PINS)}: pip install them (BENCH_NO_INSTALL is set)"
            ) from None
        print(f"installing the bench-only peer: {' '.join(PINS)}", file=sys.stderr)
        subprocess.run(  # noqa: S603 - pip of this interpreter, pinned requirements
            [sys.executable, "-m", "pip", "install", "--quiet", *PINS], check=True
        )
        importlib.invalidate_caches()
        mod = importlib.import_module("eventsourcing")
    from importlib.metadata import version

    found = version("eventsourcing")
    if found != VERSION:
        print(f"warning: eventsourcing {found} installed, the bench pins {VERSION}", file=sys.stderr)
    del mod
    return found


@dataclass(frozen=True)
class PeerFigures:
    batch_events: int
    batch_seconds: float
    single_events: int
    single_seconds: float

    @property
    def batch_per_s(self) -> float:
        return self.batch_events / self.batch_seconds

    @property
    def single_per_s(self) -> float:
        return self.single_events / self.single_seconds


def run_peer(
    database_url: str,
    payloads: list[dict[str, Any]],
    *,
    batch_events: int,
    single_events: int,
    seconds: float,
    per_save: int = 100,
) -> PeerFigures:
    """100 events per save (a new aggregate: its Created event and 99 more), then 1 per save.

    Each event carries the data of one of our SpendRecorded events, so both stores write the
    same payloads.
    """
    ensure_installed()
    from eventsourcing.application import Application

    from bench.peer_model import SpendLedger

    url = make_url(database_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database or "",
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "CREATE_TABLE": "y",
    }
    app = Application(env=env)
    try:
        n = 0

        def payload() -> dict[str, Any]:
            nonlocal n
            n += 1
            return payloads[n % len(payloads)]

        # warm up: tables, prepared statements, pool
        warm = SpendLedger("warmup")
        warm.record(payload())
        app.save(warm)

        done, t0 = 0, time.perf_counter()
        deadline = t0 + seconds
        while done < batch_events and time.perf_counter() < deadline:
            agg = SpendLedger("bench")
            for _ in range(per_save - 1):
                agg.record(payload())
            app.save(agg)
            done += per_save
        batch = (done, time.perf_counter() - t0)

        agg = SpendLedger("single")
        app.save(agg)
        done, t0 = 0, time.perf_counter()
        deadline = t0 + seconds
        while done < single_events and time.perf_counter() < deadline:
            agg.record(payload())
            app.save(agg)
            done += 1
        single = (done, time.perf_counter() - t0)
    finally:
        app.close()
    return PeerFigures(batch[0], batch[1], single[0], single[1])
