"""``grantledger serve --workers N``: a small supervisor and the workers it forks (api/serve.py).

What the supervisor must do, as uvicorn's own did before it: every worker serves; a worker that
dies is replaced; SIGHUP replaces the workers one by one, SIGTTIN / SIGTTOU add and remove one;
SIGTERM stops every process; a socket it cannot bind ends it with status 3.  And what it must
not: carry uvicorn or the app (the supervisor maps neither ssl nor pydantic-core), start
multiprocessing's resource tracker, or leave a worker with the supervisor's signal handlers (a
worker takes the signals uvicorn does not handle as a freshly started interpreter would).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ledger import migrate
from ledger.db import create_engine
from tests.support.servers import Server, _base_env, _command, free_port, make_tokens

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid and fields[0] != "Z":  # a zombie is a worker already gone
            found.append(int(entry.name))
    return sorted(found)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def caught_signals(pid: int) -> set[int]:
    """The signals a process has a handler for (SigCgt of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            mask = int(line.split()[1], 16)
            return {n for n in range(1, 65) if mask & (1 << (n - 1))}
    raise AssertionError(f"no SigCgt for {pid}")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('workers') / 'workers.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url, make_tokens(url, "workers")


@pytest.fixture
def server(database: tuple[str, dict[str, str]], tmp_path: Path) -> Iterator[Server]:
    running = Server(database[0], tmp_path / "server.log", args=("--workers", "2"))
    seen: set[int] = set()
    try:
        running.start()
        assert running.proc is not None
        supervisor = running.proc.pid
        wait_for("two workers", lambda: len(children(supervisor)) == 2)
        seen.update(children(supervisor))
        yield running
    finally:
        if running.proc is not None:
            seen.update(children(running.proc.pid))
        running.close()
        for pid in seen:  # a worker the supervisor failed to stop would keep the port
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def serves(server: Server, token: str, requests: int = 40) -> bool:
    def one(_: int) -> int:
        with httpx.Client(timeout=10.0) as client:
            r = client.get(f"{server.url}/v1/grants", headers={"Authorization": f"Bearer {token}"})
            return r.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return all(code == 200 for code in pool.map(one, range(requests)))


def test_workers_serve_from_a_supervisor_without_uvicorn_or_the_app(
    server: Server, database: tuple[str, dict[str, str]]
) -> None:
    assert server.proc is not None
    supervisor = server.proc.pid
    workers = children(supervisor)
    assert len(workers) == 2  # no resource tracker beside them
    for pid in workers:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"resource_tracker" not in cmdline
        assert b"multiprocessing" not in cmdline
    maps = Path(f"/proc/{supervisor}/maps").read_text()
    assert "pydantic_core" not in maps
    assert "_ssl" not in maps
    assert serves(server, database[1]["reader"])
    for pid in workers:
        assert "pydantic_core" in Path(f"/proc/{pid}/maps").read_text()  # each built the app
        caught = caught_signals(pid)
        assert {signal.SIGTERM, signal.SIGINT} <= caught  # uvicorn's graceful shutdown
        for sig in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1, signal.SIGWINCH):
            assert sig not in caught, f"worker {pid} catches {sig.name}"


def test_a_killed_worker_is_replaced(server: Server, database: tuple[str, dict[str, str]]) -> None:
    assert server.proc is not None
    supervisor = server.proc.pid
    victim = children(supervisor)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(
        "a replacement worker",
        lambda: len(children(supervisor)) == 2 and victim not in children(supervisor),
    )
    wait_for("every request answered", lambda: serves(server, database[1]["reader"]))
    assert f"Child process [{victim}] died" in server.log_text()


def test_hup_replaces_the_workers_and_ttin_ttou_resize(
    server: Server, database: tuple[str, dict[str, str]]
) -> None:
    assert server.proc is not None
    supervisor = server.proc.pid
    before = set(children(supervisor))
    os.kill(supervisor, signal.SIGHUP)
    wait_for(
        "both workers replaced",
        lambda: len(children(supervisor)) == 2 and not before & set(children(supervisor)),
    )
    assert serves(server, database[1]["reader"])
    os.kill(supervisor, signal.SIGTTIN)
    wait_for("a third worker", lambda: len(children(supervisor)) == 3)
    os.kill(supervisor, signal.SIGTTOU)
    wait_for("back to two", lambda: len(children(supervisor)) == 2)
    assert serves(server, database[1]["reader"])


def test_sigterm_stops_the_supervisor_and_every_worker(server: Server) -> None:
    assert server.proc is not None
    supervisor = server.proc.pid
    workers = children(supervisor)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0
    for pid in workers:
        wait_for(f"worker {pid} gone", lambda pid=pid: not Path(f"/proc/{pid}").exists(), 30)


def test_a_port_in_use_ends_the_supervisor_with_status_3(
    database: tuple[str, dict[str, str]],
) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run(  # our own entry point
            [
                *_command(),
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                "--no-migrate",
                "--database-url",
                database[0],
            ],
            env=_base_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 3, done.stderr
    assert "Address already in use" in done.stderr
