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
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *PINS], check=True)
        importlib.invalidate_caches()
        mod = importlib.import_module("eventsourcing")
    from importlib.metadata import version

    found = version("eventsourcing")
    if found != VERSION:
        print(f"warning: eventsourcing {found} found, the bench pins {VERSION}", file=sys.stderr)
    del mod
    return found


class Peer:
    """The peer's application on its own database; saves timed by the caller.

    Every event carries the data of one spend line, so both stores write the same payloads.
    """

    def __init__(self, database_url: str, payloads: list[dict[str, Any]]) -> None:
        ensure_installed()
        from eventsourcing.application import Application

        from bench.peer_model import SpendLedger

        self._aggregate = SpendLedger
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
        self.app = Application(env=env)
        self._payloads = payloads
        self._n = 0
        self._single: Any = None
        self.batch_events = 0
        self.batch_seconds = 0.0
        self.single_events = 0
        self.single_seconds = 0.0
        warm = SpendLedger("warmup")  # tables, prepared statements, the pool
        warm.record(self._payload())
        self.app.save(warm)

    def _payload(self) -> dict[str, Any]:
        self._n += 1
        return self._payloads[self._n % len(self._payloads)]

    def save_batches(self, events: int, per_save: int = 100) -> float:
        """``events`` events, ``per_save`` per save: a new aggregate (Opened + 99 more) each.

        Returns the seconds it took.
        """
        done = 0
        took = 0.0
        while done < events:
            t0 = time.perf_counter()  # the peer's domain work counts, as ours does
            agg = self._aggregate("bench")
            for _ in range(per_save - 1):
                agg.record(self._payload())
            self.app.save(agg)
            took += time.perf_counter() - t0
            done += per_save
        self.batch_seconds += took
        self.batch_events += done
        return took

    def save_singles(self, events: int, seconds: float) -> None:
        """One event per save on one aggregate, until ``events`` or ``seconds``."""
        if self._single is None:
            self._single = self._aggregate("single")
            self.app.save(self._single)
        deadline = time.perf_counter() + seconds
        done = 0
        while done < events and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            self._single.record(self._payload())
            self.app.save(self._single)
            self.single_seconds += time.perf_counter() - t0
            done += 1
        self.single_events += done

    @property
    def batch_per_s(self) -> float:
        return self.batch_events / self.batch_seconds if self.batch_seconds else 0.0

    @property
    def single_per_s(self) -> float:
        return self.single_events / self.single_seconds if self.single_seconds else 0.0

    def close(self) -> None:
        self.app.close()
