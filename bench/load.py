"""HTTP load: N client threads on keep-alive connections, bounded by count and by time.

The writers' load generator speaks HTTP/1.1 on a plain socket (``Connection``): each request's
bytes are made before the clock starts and an answer is read by its Content-Length, like wrk.
On the bench's 2 cores, 16 threads of httpx clients used as much CPU as the server they loaded
(≈ 2 ms per single post, bench/README.md), so the figure measured the load generator as much as
the ledger.  Reads keep httpx: one client, one request at a time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx


@dataclass
class LoadResult:
    requests: int = 0
    items: int = 0  # lines posted (or reads made)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, per request
    elapsed: float = 0.0  # first request sent → last answer received
    client_cpu: float = 0.0  # CPU seconds the load generator itself used

    @property
    def per_s(self) -> float:
        return self.items / self.elapsed if self.elapsed > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of non-empty values."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


class Connection:
    """One keep-alive HTTP/1.1 connection: send a request's bytes, read one answer."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        url = urlsplit(base_url)
        self.host = url.netloc
        self._sock = socket.create_connection((url.hostname, url.port or 80), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
        """A request's bytes, made once and sent with ``exchange``."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one request, return the answer's status and body."""
        self._sock.sendall(request)
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            self._read()
        head = self._buffer[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        length = None
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise RuntimeError(f"answer not sized by Content-Length: {line}")
        if length is None:
            raise RuntimeError(f"answer without Content-Length: {head[0]}")
        start = end + 4
        while len(self._buffer) < start + length:
            self._read()
        body = self._buffer[start : start + length]
        self._buffer = self._buffer[start + length :]
        return status, body

    def _read(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self._buffer += chunk

    def close(self) -> None:
        self._sock.close()


def post_load(
    base_url: str,
    token: str,
    path: str,
    bodies: Sequence[bytes],
    items_per_body: int,
    *,
    clients: int,
    seconds: float,
    expect: int = 201,
    warmup: Sequence[bytes] = (),
) -> LoadResult:
    """Post ``bodies`` (each once, in order) from ``clients`` threads until done or out of time.

    ``warmup``: bodies the clients post first, one each in turn, before the clock starts (the
    server's first write on a connection caches the token, loads the grant; as the in-process
    ingest leaves its first batches out of the timing)."""
    result = LoadResult()
    lock = threading.Lock()
    next_index = 0
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def take() -> int | None:
        nonlocal next_index
        with lock:
            if next_index >= len(bodies) or time.perf_counter() > deadline:
                return None
            next_index += 1
            return next_index - 1

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    probe = Connection(base_url)
    requests = [probe.request("POST", path, headers, body) for body in bodies]
    healthz = probe.request("GET", "/healthz", {})
    warm = [probe.request("POST", path, headers, body) for body in warmup]
    probe.close()

    def client(n: int) -> None:
        lat: list[float] = []
        done = 0
        errs: list[str] = []
        http = Connection(base_url)
        try:
            http.exchange(healthz)  # connect before the clock starts
            for request in warm[n::clients]:
                status, body = http.exchange(request)
                if status != expect:
                    errs.append(f"warm-up {status}: {body[:300].decode(errors='replace')}")
            start.wait()
            while (i := take()) is not None:
                t0 = time.perf_counter()
                status, body = http.exchange(requests[i])
                lat.append(time.perf_counter() - t0)
                if status == expect:
                    done += 1
                else:
                    errs.append(f"{status}: {body[:300].decode(errors='replace')}")
        finally:
            http.close()
        with lock:
            result.latencies.extend(lat)
            result.requests += done
            result.items += done * items_per_body
            result.errors.extend(errs)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    cpu0 = time.process_time()
    deadline = time.perf_counter() + seconds
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - t0
    result.client_cpu = time.process_time() - cpu0
    return result


def get_latencies(
    base_url: str,
    token: str,
    paths: Callable[[int], str],
    *,
    requests: int,
    seconds: float,
    warmup: int = 20,
) -> LoadResult:
    """One client, one request at a time: latency without queueing."""
    result = LoadResult()
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120.0
    ) as http:
        for i in range(warmup):
            http.get(paths(i)).raise_for_status()
        cpu0 = time.process_time()
        t_start = time.perf_counter()
        deadline = t_start + seconds
        for i in range(requests):
            if i > 0 and time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            r = http.get(paths(i))
            result.latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                result.errors.append(f"{r.status_code}: {r.text[:300]}")
            result.requests += 1
            result.items += 1
        result.elapsed = time.perf_counter() - t_start
        result.client_cpu = time.process_time() - cpu0
    return result
