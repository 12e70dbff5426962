"""HTTP load: N client threads with keep-alive httpx clients, bounded by count and by time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
) -> LoadResult:
    """Post ``bodies`` (each once, in order) from ``clients`` threads until done or out of time."""
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

    def client() -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        lat: list[float] = []
        done = 0
        errs: list[str] = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=120.0) as http:
            http.get("/healthz")  # connect before the clock starts
            start.wait()
            while (i := take()) is not None:
                t0 = time.perf_counter()
                r = http.post(path, content=bodies[i])
                lat.append(time.perf_counter() - t0)
                if r.status_code == expect:
                    done += 1
                else:
                    errs.append(f"{r.status_code}: {r.text[:300]}")
        with lock:
            result.latencies.extend(lat)
            result.requests += done
            result.items += done * items_per_body
            result.errors.extend(errs)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
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
