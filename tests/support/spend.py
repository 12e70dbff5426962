"""Spend commands for the pure domain's tests: the ids the service would give, made from keys.

The service gives each fresh line a time-ordered transaction id; a test wants one it can name,
so a line's id here is ``tx-`` and its line id.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.domain.commands import RecordSpend, SpendLine

SOURCE = "erp"


def tx(line: SpendLine) -> str:
    """The transaction id ``record_spend`` gives ``line``."""
    return f"tx-{line.line_id}"


def record_spend(grant_id: str, lines: Iterable[SpendLine], source: str = SOURCE) -> RecordSpend:
    """``RecordSpend`` of ``lines`` from ``source``, each with the id ``tx`` names."""
    lines = tuple(lines)
    return RecordSpend(grant_id, source, lines, tuple(tx(line) for line in lines))
