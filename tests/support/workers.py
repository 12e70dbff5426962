"""Worker processes for concurrency tests (module-level so 'spawn' can import them)."""

from __future__ import annotations

from ledger.db import create_engine, write_transaction
from ledger.errors import ConcurrencyError
from ledger.store import EventStore, NewEvent


def race_one_stream(url: str, stream_id: str, attempts: int, worker: int) -> int:
    """Read the stream's version, then try to append at it; count the wins."""
    engine = create_engine(url, pool_size=1)
    store = EventStore()
    wins = 0
    for i in range(attempts):
        with engine.connect() as conn:
            version = store.stream_versions(conn, [stream_id])[stream_id]
        try:
            with write_transaction(engine) as conn:
                store.append(
                    conn,
                    stream_id,
                    version,
                    [NewEvent("Tick", {"worker": worker, "i": i})],
                    {"actor": f"w{worker}"},
                )
            wins += 1
        except ConcurrencyError:
            pass
    engine.dispose()
    return wins


def append_many_streams(url: str, worker: int, count: int) -> int:
    """Append to the worker's own streams; return how many events it wrote."""
    engine = create_engine(url, pool_size=1)
    store = EventStore()
    versions: dict[str, int] = {}
    for i in range(count):
        stream = f"s-{worker}-{i % 3}"
        with write_transaction(engine) as conn:
            store.append(
                conn,
                stream,
                versions.get(stream, 0),
                [NewEvent("Tick", {"i": i}), NewEvent("Tock", {"i": i})],
                {"actor": f"w{worker}"},
            )
        versions[stream] = versions.get(stream, 0) + 2
    engine.dispose()
    return 2 * count
