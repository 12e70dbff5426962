"""Time-ordered ids (UUID version 7, RFC 9562) for transactions the ledger names.

A random UUID (version 4) lands anywhere in the ``spend_lines`` primary key, so every insert
touches a random page of its index; a version 7 id starts with the millisecond it was made, so
new lines append at the index's right edge.  The 74 bits after the time are random: ids stay
unguessable and unique across processes without coordination.
"""

from __future__ import annotations

import os
import time

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_RAND_A = (1 << 12) - 1
_RAND_B = (1 << 62) - 1


def time_ordered_id() -> str:
    """A new UUIDv7 in its canonical text form."""
    return time_ordered_ids(1)[0]


def time_ordered_ids(n: int) -> list[str]:
    """``n`` new UUIDv7s: one clock reading and one read of the random source for all of them
    (a batch of spend lines names each of its lines)."""
    ms = (time.time_ns() // 1_000_000) << 80 | _VERSION | _VARIANT
    random = os.urandom(10 * n)
    ids = []
    for i in range(0, 10 * n, 10):
        rand = int.from_bytes(random[i : i + 10], "big")
        h = f"{ms | ((rand >> 62) & _RAND_A) << 64 | (rand & _RAND_B):032x}"
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids
