"""The peer's aggregate (imported only once ``eventsourcing`` is known to be installed)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event


class SpendLedger(Aggregate):
    """A stream of spend lines, each event carrying one line's data."""

    @event("Opened")
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = 0

    @event("SpendRecorded")
    def record(self, line: dict[str, Any]) -> None:
        self.lines += 1
