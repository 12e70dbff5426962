"""Requests per second of one server process under each HTTP protocol, in one run.

    .venv/bin/python -m bench.protocols [--seconds 8] [--rounds 3] [--clients 16]
                                        [--also LABEL=module:Class ...]

Each protocol gets its own ``python -m api.serve`` (the process ``grantledger serve`` becomes,
one worker, the same options but ``http``) on a SQLite database; 16 clients, each on one
kept-alive connection, send ``GET /healthz`` one after another for ``--seconds``.  The protocols
take turns for ``--rounds`` rounds (so a busy neighbour on the machine hurts each alike) and the
median round is reported, with the median latency and the server's CPU time per request (from
/proc: on a machine shared with other work, the figure that the neighbours disturb least).  The
clients are raw sockets on uvloop: a client costs far less than a request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import uvloop

from bench.server import cpu_seconds, free_port
from ledger import migrate
from ledger.db import create_engine

PROTOCOLS = {
    "httptools, bounded (served)": "api.http_protocol:BoundedHttpToolsProtocol",
    "httptools, uvicorn's": "httptools",
    "h11, uvicorn's": "h11",
}
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"


def start(http: str, database_url: str, port: int) -> subprocess.Popen[bytes]:
    options = {
        "host": "127.0.0.1",
        "port": port,
        "workers": 1,
        "log_level": "warning",
        "access_log": False,
        "http": http,
        "ws": "none",
        "h11_max_incomplete_event_size": 64 * 1024,  # what h11 was served with
        "timeout_keep_alive": 5,
        "limit_concurrency": 256,
    }
    env = {**os.environ, "GRANTLEDGER_DATABASE_URL": database_url, "MALLOC_ARENA_MAX": "2"}
    argv = [sys.executable, "-m", "api.serve", orjson.dumps(options).decode()]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{http}: the server did not start")


async def client(port: int, until: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while (started := time.perf_counter()) < until:
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(row.split(b":", 1)[1])
            for row in head.split(b"\r\n")
            if row.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
    writer.close()


async def load(port: int, clients: int, seconds: float) -> tuple[float, float]:
    """Requests per second and the median latency in ms."""
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(client(port, until, latencies) for _ in range(clients)))
    return len(latencies) / (time.perf_counter() - started), statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--also", action="append", default=[], help="another protocol: LABEL=module:Class"
    )
    args = parser.parse_args()
    protocols = {**PROTOCOLS, **dict(also.split("=", 1) for also in args.also)}
    with tempfile.TemporaryDirectory(prefix="grantledger-protocols-") as directory:
        database_url = f"sqlite:///{Path(directory) / 'protocols.db'}"
        engine = create_engine(database_url)
        migrate.upgrade(engine)
        engine.dispose()
        servers = {name: free_port() for name in protocols}
        procs = {name: start(protocols[name], database_url, port) for name, port in servers.items()}
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in protocols}
        try:
            for _ in range(args.rounds):
                for name, port in servers.items():
                    uvloop.run(load(port, args.clients, 1.0))  # warm up the connection path
                    cpu = cpu_seconds([procs[name].pid])
                    rate, latency = uvloop.run(load(port, args.clients, args.seconds))
                    used = cpu_seconds([procs[name].pid]) - cpu
                    results[name].append((rate, latency, used / (rate * args.seconds) * 1e6))
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(timeout=30)
    print(f"GET /healthz, {args.clients} kept-alive clients, median of {args.rounds} rounds")
    width = max(map(len, results))
    for name, rounds in results.items():
        rate = statistics.median(r for r, _, _ in rounds)
        latency = statistics.median(ms for _, ms, _ in rounds)
        cpu_us = statistics.median(us for _, _, us in rounds)
        each = " ".join(f"{r:.0f}" for r, _, _ in rounds)
        print(
            f"  {name:{width}} {rate:6.0f} req/s  p50 {latency:5.2f} ms  "
            f"server CPU {cpu_us:4.0f} µs/request   (req/s by round: {each})"
        )


if __name__ == "__main__":
    main()
