"""Profile the hot paths with py-spy (wall clock, idle time included) and print the top frames.

    PYTHONPATH=services .venv/bin/python -m bench.profile            # 50 000 events
    BENCH_PROFILE_EVENTS=100000 BENCH_PROFILE_DIR=/tmp/p ... -m bench.profile

Makes its own database, then records, each into ``BENCH_PROFILE_DIR`` (raw collapsed stacks,
one file per path, readable by any flamegraph tool):

- ``ingest``: ``LedgerService.execute(PostSpend)`` of 500 lines, in process, up to N events;
- ``http-batch`` / ``http-single``: a real ``grantledger serve --workers 2`` under 4 clients
  posting 500 lines / 16 clients posting 1 line, py-spy attached to each worker;
- ``replay`` and ``verify`` over the N events.

and prints, per path, the functions with the largest share of samples, inclusive and self.
``python -m bench.profile summarize FILE [FILTER]`` summarizes one file again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from bench.config import BATCH, PLAN
from bench.database import scratch_database
from bench.load import get_latencies, post_load
from bench.server import Server
from bench.workload import Workload, batch_json

PY_SPY = Path(sys.executable).parent / "py-spy"
RATE = 250  # samples per second


# --- reading py-spy's raw (collapsed) output ----------------------------------------------------

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/services/", "/bench/", "/lib/python3.11/"):
        if marker in path:
            rest = path.split(marker, 1)[1]
            return ("bench/" if marker == "/bench/" else "") + rest
    return path


def frame_name(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    return f"{m['fn']} ({_short(m['file'])})"


def read_stacks(
    path: Path, only: str | None = None, skip: str | None = None
) -> Counter[tuple[str, ...]]:
    """Stacks (outermost first) with their sample counts; ``only``/``skip`` match frame names."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = tuple(frame_name(f) for f in stack.split(";") if not f.startswith("process "))
        joined = ";".join(frames)
        if only is not None and only not in joined:
            continue
        if skip is not None and skip in joined:
            continue
        stacks[frames] += int(count)
    return stacks


FIRST_PARTY = ("(ledger/", "(api/")
DB_WAIT = "Connection.wait (psycopg/connection.py)"
THREAD_WAIT = "Condition.wait (threading.py)"


def summarize(
    stacks: Counter[tuple[str, ...]], top: int = 25
) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """(samples, [(first-party function, inclusive %)], [(function, self %)]), largest first."""
    total = sum(stacks.values())
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, n in stacks.items():
        for f in set(frames):
            if any(m in f for m in FIRST_PARTY):
                inclusive[f] += n
        if frames:
            own[frames[-1]] += n
    pct = 100.0 / total if total else 0.0
    return (
        total,
        [(f, n * pct) for f, n in inclusive.most_common(top)],
        [(f, n * pct) for f, n in own.most_common(top)],
    )


def report(
    title: str, path: Path, only: str | None = None, top: int = 25, skip: str | None = None
) -> str:
    total, inclusive, own = summarize(read_stacks(path, only, skip), top)
    selfs = dict(own)
    scope = f", stacks through `{only}`" if only else ""
    out = [
        f"### {title}  ({total} samples{scope})",
        "",
        f"Waiting on PostgreSQL (`{DB_WAIT}`, self): **{selfs.get(DB_WAIT, 0.0):.1f}%**; "
        f"waiting on another thread (`{THREAD_WAIT}`, e.g. group-commit followers): "
        f"**{selfs.get(THREAD_WAIT, 0.0):.1f}%**.",
        "",
        "| inclusive % | our function (ledger/, api/) |",
        "|---:|---|",
    ]
    out += [f"| {p:.1f} | `{f}` |" for f, p in inclusive]
    out += ["", "| self % | function (any) |", "|---:|---|"]
    out += [f"| {p:.1f} | `{f}` |" for f, p in own[:15]]
    return "\n".join(out) + "\n"


# --- recording ------------------------------------------------------------------------------


def _spy(output: Path) -> list[str]:
    # --nonblocking: never pause the target (pausing 40 threads 250 times a second distorts a
    # lock-bound path badly); --idle: count time blocked on the database too (wall clock).
    return [
        str(PY_SPY), "record", "--idle", "--nonblocking", "--rate", str(RATE),
        "-f", "raw", "-o", str(output),
    ]  # fmt: skip


def _record(output: Path, argv: list[str]) -> None:
    subprocess.run([*_spy(output), "--", *argv], check=True)


def _spy_server(
    server: Server, directory: Path, name: str, drive: Callable[[float], None], seconds: int = 12
) -> list[str]:
    """Attach two spies to each worker while ``drive`` loads it: wall clock and CPU only."""
    spies: list[subprocess.Popen[bytes]] = []
    files: dict[str, list[Path]] = {"wall": [], "cpu": []}
    for pid in server.worker_pids():
        for kind in ("wall", "cpu"):
            f = directory / f"{name}-{kind}-{pid}.txt"
            cmd = [*_spy(f), "--pid", str(pid), "--duration", str(seconds)]
            if kind == "cpu":
                cmd.remove("--idle")
            spies.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))
            files[kind].append(f)
    time.sleep(1.0)
    drive(seconds - 2.5)
    for spy in spies:
        spy.wait(timeout=60)
    reports = []
    for kind, what, only, skip in (
        ("wall", "request threads, wall clock", "WorkerThread.run", "Queue.get (queue.py)"),
        ("cpu", "every thread, on CPU", None, None),
    ):
        merged = directory / f"{name}-{kind}.txt"
        merged.write_text("".join(f.read_text() for f in files[kind] if f.exists()))
        reports.append(report(f"{name}: both workers, {what}", merged, only, skip=skip))
    return reports


def _child_env() -> dict[str, str]:
    repo = Path(__file__).resolve().parents[1]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "services"), str(repo)])}


def child(job: str, url: str, events: int) -> None:
    """What py-spy watches: one job, in a fresh interpreter."""
    from ledger.db import create_engine
    from ledger.replay import replay
    from ledger.service import Actor, LedgerService, PostSpend
    from ledger.store import EventStore

    engine = create_engine(url)
    t0 = time.perf_counter()
    if job == "ingest":
        service = LedgerService(engine)
        workload = Workload("bench-erp")
        actor = Actor("bench-erp", "poster", source_system="bench")
        with engine.connect() as conn:
            head = EventStore().head_position(conn)
        n = 0
        while head < events:
            lines = workload.batch(min(BATCH, events - head))
            service.execute(PostSpend(workload.source, lines), actor)
            head += len(lines)
            n += len(lines)
    elif job == "replay":
        n = replay(engine).events
    elif job == "verify":
        n = EventStore().verify(engine).checked
    else:
        raise SystemExit(f"unknown job {job}")
    elapsed = time.perf_counter() - t0
    print(f"{job}: {n} events in {elapsed:.1f} s = {n / elapsed:,.0f}/s (under py-spy)")


def profile(events: int, directory: Path, admin_url: str) -> list[str]:
    from ledger import migrate
    from ledger.auth.tokens import TokenRegistry
    from ledger.db import create_engine
    from ledger.formats import plan as plans
    from ledger.service import Actor, LedgerService

    directory.mkdir(parents=True, exist_ok=True)
    reports: list[str] = []
    me = [sys.executable, "-m", "bench.profile"]
    with scratch_database(admin_url, "gl_profile") as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        LedgerService(engine).execute_all(
            plans.commands(plans.read(PLAN)), Actor("bench-plan", "planner")
        )
        poster = TokenRegistry(engine).create("profile-poster", "poster")
        reader = TokenRegistry(engine).create("profile-reader", "reader")
        engine.dispose()
        os.environ.update(_child_env())

        out = directory / "ingest.txt"
        _record(out, [*me, "_child", "ingest", url, str(events)])
        reports.append(
            report(
                f"in-process ingest to {events:,} events",
                out,
                "LedgerService.execute (ledger/service.py)",
            )
        )

        with Server(url, workers=2) as server:
            server.wait_ready()
            for name, clients, per_body, n_bodies in (
                ("http-batch", 4, BATCH, 200),
                ("http-single", 16, 1, 50_000),
            ):
                wl = Workload(f"profile-{name}", seed=len(name))
                bodies = [
                    orjson.dumps(batch_json(wl.source, wl.batch(per_body))) for _ in range(n_bodies)
                ]

                def drive(seconds: float, bodies: list[bytes] = bodies, clients: int = clients,
                          per_body: int = per_body, name: str = name) -> None:  # fmt: skip
                    r = post_load(
                        server.base_url, poster, "/v1/transactions", bodies, per_body,
                        clients=clients, seconds=seconds,
                    )  # fmt: skip
                    print(f"{name}: {r.per_s:,.0f} lines/s under py-spy, {len(r.errors)} errors")

                reports += _spy_server(server, directory, name, drive)

            def read(seconds: float) -> None:
                r = get_latencies(
                    server.base_url, reader, lambda _i: "/v1/balances?grant_id=gnv-2022",
                    requests=100_000, seconds=seconds,
                )  # fmt: skip
                p50 = sorted(r.latencies)[len(r.latencies) // 2] * 1000
                print(f"http-balance: {r.requests} reads, p50 {p50:.1f} ms under py-spy")

            reports += _spy_server(server, directory, "http-balance", read)

        for job in ("replay", "verify"):
            out = directory / f"{job}.txt"
            _record(out, [*me, "_child", job, url, str(events)])
            only = {"replay": "replay (ledger/replay.py)", "verify": "EventStore.verify"}[job]
            reports.append(report(f"{job} of ~{events:,} events", out, only))
    return reports


def main(argv: Iterable[str]) -> None:
    args = list(argv)
    if args and args[0] == "_child":
        child(args[1], args[2], int(args[3]))
        return
    if args and args[0] == "summarize":  # FILE [ONLY [SKIP]]
        only = args[2] if len(args) > 2 else None
        skip = args[3] if len(args) > 3 else None
        print(report(args[1], Path(args[1]), only, skip=skip))
        return
    from bench.config import DEFAULT_ADMIN_URL

    events = int(os.environ.get("BENCH_PROFILE_EVENTS", "50000"))
    directory = Path(
        os.environ.get("BENCH_PROFILE_DIR", Path(tempfile.gettempdir()) / "grantledger-profiles")
    )
    admin = os.environ.get("GRANTLEDGER_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
    reports = profile(events, directory, admin)
    text = "\n".join(reports)
    (directory / "summary.md").write_text(text)
    print(text)
    print(f"raw stacks and summary.md in {directory}")


if __name__ == "__main__":
    main(sys.argv[1:])
