"""Memory of each process of ``grantledger serve --workers 2``, idle and after a fixed load.

``python -m bench.memory`` (PYTHONPATH=services:.; ``GRANTLEDGER_BENCH_POSTGRES_URL`` as for the
bench) starts the bench's server on a scratch database, then prints RSS and PSS (anonymous and
file-backed) of the supervisor and each worker: idle, after 8 POSTs of 500 lines from 4 clients,
and after 1 000 single-line POSTs from 16 clients, 300 balance and 100 as-of reads; last the
peaks of the bench's own 0.2 s sampler. Run it on two trees back to back to compare them.
"""

from __future__ import annotations

import os
import random
from datetime import date, timedelta
from pathlib import Path

import orjson

from bench.config import BATCH, DEFAULT_ADMIN_URL, PLAN
from bench.database import scratch_database
from bench.load import LoadResult, get_latencies, post_load
from bench.server import Server
from bench.workload import Workload, batch_json
from ledger import migrate
from ledger.auth.tokens import TokenRegistry
from ledger.db import create_engine
from ledger.formats import plan as plans
from ledger.service import Actor, LedgerService

MB = 1024


def _figures(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, value = line.partition(":")
            found[key] = int(value.split()[0])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def report(server: Server, label: str) -> None:
    assert server.proc is not None
    rows = []
    for pid in sorted(server.pids()):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        role = (
            "supervisor"
            if pid == server.proc.pid
            else "tracker"
            if b"resource_tracker" in cmdline
            else "worker"
        )
        rows.append((role, pid, _figures(pid)))
    rss = sum(f.get("VmRSS", 0) for _, _, f in rows) / MB
    pss = sum(f.get("Pss", 0) for _, _, f in rows) / MB
    print(f"--- {label}: tree RSS {rss:.1f} MB, PSS {pss:.1f} MB")
    for role, pid, f in rows:
        print(
            f"  {role:10s} {pid:7d} RSS {f.get('VmRSS', 0) / MB:6.1f} "
            f"(anon {f.get('RssAnon', 0) / MB:5.1f} file {f.get('RssFile', 0) / MB:5.1f}) "
            f"PSS {f.get('Pss', 0) / MB:6.1f} HWM {f.get('VmHWM', 0) / MB:6.1f} "
            f"threads {f.get('Threads', 0)}"
        )


def _ok(result: LoadResult) -> None:
    if result.errors:
        raise RuntimeError(result.errors[0])


def main() -> None:
    admin = os.environ.get("GRANTLEDGER_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
    with scratch_database(admin, "gl_memory") as url:
        engine = create_engine(url)
        try:
            migrate.upgrade(engine)
            plan = plans.commands(plans.read(PLAN))
            LedgerService(engine).execute_all(plan, Actor("bench-plan", "planner"))
            tokens = TokenRegistry(engine)
            poster, reader = tokens.create("poster", "poster"), tokens.create("reader", "reader")
        finally:
            engine.dispose()
        erp, singles = Workload("bench-erp"), Workload("bench-http-single", seed=13)
        with Server(url, 2) as server:
            server.wait_ready()
            report(server, "idle")
            bodies = [orjson.dumps(batch_json(erp.source, erp.batch(BATCH))) for _ in range(8)]
            _ok(post_load(server.base_url, poster, "/v1/transactions", bodies, BATCH, clients=4,
                          seconds=120))  # fmt: skip
            report(server, "after 8 × 500 lines from 4 clients")
            ones = [orjson.dumps(batch_json(singles.source, singles.batch(1))) for _ in range(1000)]
            _ok(post_load(server.base_url, poster, "/v1/transactions", ones, 1, clients=16,
                          seconds=120))  # fmt: skip
            balance = f"/v1/balances?grant_id={erp.grant_id}"
            _ok(get_latencies(server.base_url, reader, lambda _i: balance, requests=300,
                              seconds=30))  # fmt: skip
            rng = random.Random(5)
            days = [date(2022, 1, 1) + timedelta(days=rng.randrange(365)) for _ in range(100)]
            _ok(get_latencies(server.base_url, reader, lambda i: f"{balance}&as_of={days[i]}",
                              requests=100, seconds=30, warmup=3))  # fmt: skip
            report(server, "after 1 000 single posts, 300 balance and 100 as-of reads")
            tree, pss, one = server.peak_mb()
            print(f"=== peaks: tree RSS {tree:.1f} MB, PSS {pss:.1f} MB, largest {one:.1f} MB")


if __name__ == "__main__":
    main()
