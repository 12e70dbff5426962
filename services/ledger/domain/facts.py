"""What holds across the whole ledger, not in one grant's stream, that ``decide`` checks against.

A grant's decisions are made against its own state and two ledger-wide facts: every other
grant's cost-object routes (rule 5: a new grant may not claim a cost object another holds in an
overlapping period) and the closed months (månadsbokslut: the ``periods`` stream, shared by every
grant).  They are handed to ``decide`` openly, beside the command, rather than copied into the
command or into each grant's state: the service reads them under the append lock, a test states
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain.commands import CostObjectRoute


@dataclass(frozen=True, slots=True)
class LedgerFacts:
    """The ledger-wide facts; the default is a ledger with no other grant and no closed month."""

    routes: tuple[CostObjectRoute, ...] = ()
    closed_periods: frozenset[str] = frozenset()  # "2022-03": booking in March is closed


NO_FACTS = LedgerFacts()
