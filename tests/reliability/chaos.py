"""Chaos for the crash tests: SIGKILL a server, terminate a PostgreSQL backend mid-request."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import psycopg

from tests.support.databases import admin_url
from tests.support.servers import Server


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def terminate_in_flight_backend(database_url: str, within: float = 5.0) -> str | None:
    """Terminate the backend of one request in flight on the app's database (never our own).

    "In flight" is a backend running a statement or inside an open transaction, which is where
    a request spends its time in the database.  Returns what it was doing, None if none was
    caught in ``within`` seconds.
    """
    name = database_name(database_url)
    deadline = time.monotonic() + within
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                """
                SELECT pid, state, left(query, 120)
                  FROM pg_stat_activity
                 WHERE datname = %s
                   AND pid <> pg_backend_pid()
                   AND backend_type = 'client backend'
                   AND state IN ('active', 'idle in transaction')
                 ORDER BY xact_start NULLS LAST
                 LIMIT 1
                """,
                (name,),
            ).fetchone()
            if row is not None:
                done = conn.execute("SELECT pg_terminate_backend(%s)", (row[0],)).fetchone()
                if done is not None and done[0]:
                    return f"{row[1]}: {row[2]}"
            time.sleep(0.002)
    return None


@dataclass
class Chaos:
    servers: list[Server]
    database_url: str
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    kills: int = 0
    terminations: list[str] = field(default_factory=list)

    def kill_and_restart(self, server: Server, down_for: float = 0.0) -> None:
        server.kill()
        self.kills += 1
        time.sleep(down_for)
        server.start()

    def terminate_backend(self) -> None:
        what = terminate_in_flight_backend(self.database_url)
        if what is not None:
            self.terminations.append(what)

    def kill_once(self, t0: float) -> None:
        """One server SIGKILLed mid-load and started again on its port."""
        _sleep_until(t0 + 1.5)
        self.kill_and_restart(self.servers[0])

    def terminate_backends(self, t0: float, times: int = 8) -> None:
        """The PostgreSQL backend of an in-flight request terminated, ``times`` times."""
        for i in range(times):
            _sleep_until(t0 + 0.5 + 0.4 * i)
            self.terminate_backend()

    def soak(self, t0: float, duration: float, kills: int, terminations: int) -> None:
        """``kills`` SIGKILLs of a random server at random moments, ``terminations`` backends."""
        events = [
            ("kill", t0 + duration * (i + self.rng.random()) / (kills + 1)) for i in range(kills)
        ]
        events += [
            ("terminate", t0 + duration * (i + 0.5) / terminations) for i in range(terminations)
        ]
        for what, at in sorted(events, key=lambda e: e[1]):
            _sleep_until(at)
            if what == "kill":
                self.kill_and_restart(self.rng.choice(self.servers), self.rng.random() * 0.5)
            else:
                self.terminate_backend()


def _sleep_until(at: float) -> None:
    time.sleep(max(0.0, at - time.monotonic()))
