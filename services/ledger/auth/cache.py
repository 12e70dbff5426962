"""The token lookups of one process, kept for a bounded time.

Every request authenticates; without a cache each one costs a database round trip before any
work starts (issue 14).  A cached lookup is trusted for at most ``max_age`` seconds: that is the
longest a revocation (``grantledger token revoke``, from any process) can take to reach a
running server.  An expiry is not delayed by it: the expiry instant is cached with the token and
compared with the clock on every request.  Only tokens that were found are cached, so a token
made a moment ago works at once, and unknown tokens cannot fill the cache; the number of entries
is bounded anyway (least recently used first out).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_SIZE = 4096


class LookupCache(Generic[T]):
    """key → value for at most ``max_age`` seconds and ``size`` entries; thread-safe (routes
    that are plain functions run on a thread pool)."""

    def __init__(
        self,
        max_age: float,
        size: int = DEFAULT_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        if self.max_age <= 0:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            stored_at, value = found
            if self._clock() - stored_at >= self.max_age:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: T) -> None:
        if self.max_age <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
