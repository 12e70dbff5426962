"""Limits that hold at the socket (issue 16 item 4), against a real ``grantledger serve``.

uvicorn's default parser (httptools) has no header size limit and no header timeout: ten
unfinished 20 MB headers held 250 MB of the server's memory, and a client sending its headers a
byte at a time held a connection for ever.  The rules:

- a request whose headers exceed ``GRANTLEDGER_HTTP_MAX_HEADER_BYTES`` is answered 400/431 or
  cut off after about that many bytes, and the server's memory stays bounded;
- headers not complete within ``GRANTLEDGER_HTTP_HEADER_TIMEOUT`` of the first byte (however
  slowly they trickle in) and a body that stalls for ``GRANTLEDGER_HTTP_READ_TIMEOUT`` get the
  connection closed;
- meanwhile ordinary requests (with ordinary headers, and bodies of megabytes) are answered as
  always;
- connections beyond ``GRANTLEDGER_HTTP_LIMIT_CONCURRENCY`` are answered 503 instead of piling
  up.

The store is not involved (every request here is refused or answered before it reaches a
database), so one backend, SQLite, serves them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger import migrate
from ledger.db import create_engine
from tests.support.servers import GRANTLEDGER, Server, make_tokens

MAX_HEADER_BYTES = 32 * 1024
HEADER_TIMEOUT = 2.0
READ_TIMEOUT = 2.0
LIMIT_CONCURRENCY = 40
HUGE = 20 * 1024 * 1024
CHUNK = 64 * 1024
SLACK = 3.0  # seconds of scheduling delay allowed on a loaded test machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{directory / 'limits.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    env = {
        "GRANTLEDGER_HTTP_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "GRANTLEDGER_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "GRANTLEDGER_HTTP_READ_TIMEOUT": str(READ_TIMEOUT),
        "GRANTLEDGER_HTTP_LIMIT_CONCURRENCY": str(LIMIT_CONCURRENCY),
        "GRANTLEDGER_LOG_LEVEL": "warning",
    }
    s = Server(url, directory / "server.log", env=env)
    s.start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    return make_tokens(server.database_url)


def rss_mb(server: Server) -> float:
    assert server.proc is not None
    for row in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.settimeout(30)
    return sock


def closed_after(sock: socket.socket) -> bytes:
    """What the server answered before closing (b"" for a bare close); waits for the close."""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    return answer


def healthy(server: Server) -> float:
    """Seconds an ordinary request took; it must succeed."""
    started = time.monotonic()
    answer = httpx.get(f"{server.url}/healthz", timeout=10, trust_env=False)
    assert answer.status_code == 200
    return time.monotonic() - started


def test_oversized_headers_are_refused_and_memory_stays_bounded(server: Server) -> None:
    before = rss_mb(server)
    sockets = [connect(server) for _ in range(10)]
    sent = [0] * len(sockets)
    peak = [before]

    def flood(i: int) -> None:
        sock = sockets[i]
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ")
            while sent[i] < HUGE:
                sock.sendall(b"a" * CHUNK)
                sent[i] += CHUNK
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass

    threads = [threading.Thread(target=flood, args=(i,)) for i in range(len(sockets))]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak.append(rss_mb(server))
        time.sleep(0.05)
    peak.append(rss_mb(server))
    answers = [closed_after(s) for s in sockets]
    for s in sockets:
        s.close()
    for answer in answers:
        assert answer == b"" or answer.split(b" ", 2)[1] in (b"400", b"431"), answer[:200]
    # The server stopped reading each one near the limit (the rest is kernel buffers).
    assert max(sent) < 8 * 1024 * 1024, sent
    print(f"sent {max(sent)} bytes at most; RSS {before:.0f} MB → peak {max(peak):.0f} MB")
    assert max(peak) - before < 40, (before, max(peak))
    assert healthy(server) < SLACK


def test_headers_that_trickle_in_are_cut_off_after_the_header_timeout(server: Server) -> None:
    started = time.monotonic()  # before the first connection: no deadline starts earlier
    sockets = [connect(server) for _ in range(20)]
    for s in sockets:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    closed_at: dict[int, float] = {}

    def trickle(i: int) -> None:
        sock = sockets[i]
        try:
            for n in range(60):  # a header byte every 0.25 s: 15 s if nobody stops it
                sock.sendall(b"X-Slow-%d: y\r\n" % n if n % 4 == 0 else b"")
                sock.settimeout(0.25)
                try:
                    if sock.recv(4096) == b"":
                        break
                except TimeoutError:
                    continue
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed_at[i] = time.monotonic() - started

    threads = [threading.Thread(target=trickle, args=(i,)) for i in range(len(sockets))]
    for t in threads:
        t.start()
    time.sleep(0.5)
    # Ordinary traffic is served while twenty slow clients hold their connections.
    assert max(healthy(server) for _ in range(10)) < SLACK
    for t in threads:
        t.join(timeout=30)
    for s in sockets:
        s.close()
    assert len(closed_at) == len(sockets)
    assert max(closed_at.values()) < HEADER_TIMEOUT + SLACK, closed_at
    assert min(closed_at.values()) >= HEADER_TIMEOUT - 0.1, closed_at


def test_a_silent_connection_is_closed_after_the_header_timeout(server: Server) -> None:
    sock = connect(server)
    started = time.monotonic()
    answer = closed_after(sock)
    sock.close()
    assert HEADER_TIMEOUT - 0.1 <= time.monotonic() - started < HEADER_TIMEOUT + SLACK
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer


def test_a_stalled_body_is_cut_off_after_the_read_timeout(
    server: Server, tokens: dict[str, str]
) -> None:
    sock = connect(server)
    token = tokens["poster"]
    sock.sendall(
        b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + b"Content-Length: 1000\r\n\r\n"
        + b'{"source": "erp", "lines": ['
    )
    started = time.monotonic()
    closed_after(sock)
    sock.close()
    assert READ_TIMEOUT - 0.1 <= time.monotonic() - started < READ_TIMEOUT + SLACK


def test_ordinary_requests_with_big_headers_and_bodies_pass(
    server: Server, tokens: dict[str, str]
) -> None:
    token = tokens["planner"]
    headers = {
        "Authorization": f"Bearer {token}",
        # Cookies and tracing headers a proxy adds: large, but well inside the limit.
        **{f"X-Trace-{n}": "t" * 1000 for n in range(8)},
    }
    body = b'{"grant_id": "x", "name": "' + b"n" * (2 * 1024 * 1024) + b'"}'
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as client:
        for _ in range(3):  # over one kept-alive connection
            assert client.get("/v1/grants", headers=headers).status_code == 200
        answer = client.post(
            "/v1/grants", content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 422, answer.text[:300]  # the body was read and judged


def test_connections_beyond_the_concurrency_limit_are_answered_503(server: Server) -> None:
    held = [connect(server) for _ in range(LIMIT_CONCURRENCY + 5)]
    try:
        for s in held:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # unfinished: holds a slot
        time.sleep(0.3)
        answer = httpx.get(f"{server.url}/healthz", timeout=10, trust_env=False)
        assert answer.status_code == 503
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/healthz", timeout=10, trust_env=False).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the server did not recover once the connections closed")


def test_serve_options_win_over_the_environment(server: Server, tmp_path: Path) -> None:
    """``grantledger serve --header-timeout 1`` beats GRANTLEDGER_HTTP_HEADER_TIMEOUT (2 s)."""
    quick = Server(server.database_url, tmp_path / "quick.log", env=dict(server.env))
    quick.proc = subprocess.Popen(  # our own entry point, as Server.spawn runs it
        [
            str(GRANTLEDGER),
            "serve",
            "--port",
            str(quick.port),
            "--no-migrate",
            "--header-timeout",
            "0.5",
            "--database-url",
            server.database_url,
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("GRANTLEDGER_")}
        | dict(server.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        quick.wait_ready()
        sock = connect(quick)
        started = time.monotonic()
        answer = closed_after(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert 0.4 <= time.monotonic() - started < HEADER_TIMEOUT
    finally:
        quick.close()
