"""Server CPU per write request, paired: two code trees served side by side, rounds alternating.

    PYTHONPATH=services .venv/bin/python -m bench.http_cpu [--rounds 5] [--singles 2000]
        [--batches 8] [--base main] [--new services] [--spy DIR]

One scratch PostgreSQL database (migrated, seed plan loaded, a poster token); one
``grantledger serve --workers 2`` per code tree (``PYTHONPATH`` set to that tree), both on the
same database.  ``--base`` is a directory of services or a git revision (its ``services/`` is
exported to a temporary directory); both trees must have the same migrations.  Each round,
for each server in turn: ``--singles`` posts of 1 line by 16 client threads, then ``--batches``
posts of 500 lines by 4.  The CPU of the server's process tree (from
/proc, user + system) is read before and after each phase: µs per request, and per line for the
batches, beside the CPU of every PostgreSQL process of the machine per batch line (run it on a
machine whose PostgreSQL serves nothing else).  The medians over rounds are printed; a busy
neighbour on the machine disturbs CPU time far less than throughput, and alternating pairs
spreads what remains evenly.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.config import BATCH, DEFAULT_ADMIN_URL, PLAN
from bench.database import scratch_database
from bench.load import LoadResult, post_load
from bench.server import Server, cpu_seconds
from bench.workload import Workload, batch_json
from ledger import migrate
from ledger.auth.tokens import TokenRegistry
from ledger.db import create_engine
from ledger.formats import plan as plans
from ledger.service import Actor, LedgerService

PATH = "/v1/transactions"


def _start(code: str, url: str) -> Server:
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(Path(code).resolve())
    try:
        server = Server(url, 2)
        server.start()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    server.wait_ready()
    return server


def _export(revision: str) -> str:
    """``services/`` of a git revision, in a temporary directory (removed at exit)."""
    target = Path(tempfile.mkdtemp(prefix="http-cpu-base-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    archive = subprocess.run(
        ["git", "archive", revision, "services"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return str(target / "services")


def _postgres_pids() -> list[int]:
    """Every PostgreSQL process of this machine (backends, WAL writer, checkpointer...): the
    database's share of a write is theirs, so the bench wants the machine's server to itself."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _phase(
    server: Server, token: str, bodies: list[bytes], lines: int, clients: int
) -> tuple[float, float, LoadResult]:
    """The phase's CPU seconds in the server tree and in PostgreSQL, and its load result."""
    cpu0, pg0 = server.cpu_seconds(), cpu_seconds(_postgres_pids())
    result = post_load(server.base_url, token, PATH, bodies, lines, clients=clients, seconds=600.0)
    cpu, pg = server.cpu_seconds() - cpu0, cpu_seconds(_postgres_pids()) - pg0
    if result.errors:
        raise RuntimeError(
            f"{len(result.errors)} errors, first: {result.errors[0]}\n{server.log_tail()}"
        )
    return cpu, pg, result


def _spies(server: Server, directory: Path, name: str) -> list[subprocess.Popen[bytes]]:
    directory.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    procs = []
    for pid in server.worker_pids():
        out = str(directory / f"{name}-{pid}.txt")
        argv = [spy, "record", "--nonblocking", "--rate", "250", "-f", "raw", "-o", out]
        procs.append(
            subprocess.Popen(
                [*argv, "--pid", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
    time.sleep(1.0)
    return procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--singles", type=int, default=2000)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--base", default="main")
    ap.add_argument("--new", default="services")
    ap.add_argument(
        "--spy", metavar="DIR", help="py-spy (on CPU) the new server's workers into DIR, one round"
    )
    admin = os.environ.get("GRANTLEDGER_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
    ap.add_argument("--admin-url", default=admin)
    args = ap.parse_args()
    base = args.base if Path(args.base).is_dir() else _export(args.base)
    trees = {"new": args.new} if args.spy else {"base": base, "new": args.new}
    with scratch_database(args.admin_url, "gl_bench") as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        LedgerService(engine).execute_all(
            plans.commands(plans.read(PLAN)), Actor("bench-plan", "planner")
        )
        token = TokenRegistry(engine).create("bench-poster", "poster")
        engine.dispose()
        servers = {name: _start(code, url) for name, code in trees.items()}
        single: dict[str, list[float]] = {name: [] for name in trees}
        batch: dict[str, list[float]] = {name: [] for name in trees}
        pg_batch: dict[str, list[float]] = {name: [] for name in trees}
        rates: dict[str, list[float]] = {name: [] for name in trees}
        try:
            for name, server in servers.items():  # warm-up: imports, pools, caches
                wl = Workload(f"warm-{name}", seed=1)
                bodies = [orjson.dumps(batch_json(wl.source, wl.batch(1))) for _ in range(300)]
                _phase(server, token, bodies, 1, 16)
                bodies = [orjson.dumps(batch_json(wl.source, wl.batch(BATCH))) for _ in range(4)]
                _phase(server, token, bodies, BATCH, 4)
            for r in range(args.rounds):
                order = list(servers.items()) if r % 2 == 0 else list(servers.items())[::-1]
                for name, server in order:
                    wl = Workload(f"s{r}-{name}", seed=100 + r)
                    bodies = [
                        orjson.dumps(batch_json(wl.source, wl.batch(1)))
                        for _ in range(args.singles)
                    ]
                    spies = _spies(server, Path(args.spy), "single") if args.spy else []
                    cpu, _, res = _phase(server, token, bodies, 1, 16)
                    _stop(spies)
                    single[name].append(cpu / res.requests * 1e6)
                    rates[name].append(res.per_s)
                    bodies = [
                        orjson.dumps(batch_json(wl.source, wl.batch(BATCH)))
                        for _ in range(args.batches)
                    ]
                    spies = _spies(server, Path(args.spy), "batch") if args.spy else []
                    cpu, pg, res = _phase(server, token, bodies, BATCH, 4)
                    _stop(spies)
                    batch[name].append(cpu / res.items * 1e6)
                    pg_batch[name].append(pg / res.items * 1e6)
                    print(
                        f"round {r} {name:4}: single {single[name][-1]:7.0f} µs/req "
                        f"({rates[name][-1]:.0f}/s), batch {batch[name][-1]:5.1f} µs/line "
                        f"+ PostgreSQL {pg_batch[name][-1]:5.1f} ({res.per_s:.0f} lines/s), "
                        f"load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
        finally:
            for server in servers.values():
                server.stop()
    for name in trees:
        print(
            f"{name:4} ({trees[name]}): single {statistics.median(single[name]):.0f} µs/req "
            f"(median {statistics.median(rates[name]):.0f}/s), "
            f"batch {statistics.median(batch[name]):.1f} µs/line "
            f"+ PostgreSQL {statistics.median(pg_batch[name]):.1f} µs/line"
        )


if __name__ == "__main__":
    sys.exit(main())
