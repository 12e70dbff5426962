"""Grant states kept per process between commits, each valid at the version it was left at.

Loading a grant's decision state is four queries (the grant, its areas, activities, balances);
its version is one.  A state this process committed is kept here, and the next transaction that
needs the grant reads only the version, under the append lock: equal, the kept state is exactly
what the projections hold (the same events folded); behind (another process wrote since), the
events after it are read from the stream and folded on (``UnitOfWork``), as a rebuild would.
Closed periods and cost-object routes are kept the same way, keyed by the two counts that
change with them.  Every rule is still decided against current state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.domain.commands import CostObjectRoute
from ledger.domain.state import GrantState, PeriodsState

# Grants in a ledger are tens to hundreds; the bound only guards a pathological one.
_MAX_GRANTS = 4096
# Up to this many kept grants have their versions read with the ledger-wide facts.
_PROBED = 64


@dataclass(frozen=True, slots=True)
class KeptFacts:
    """What every grant's decisions share: closed months and the routes of cost objects."""

    key: tuple[int, int]  # (closed months, registered grants): both only ever grow
    periods: PeriodsState
    routes: tuple[CostObjectRoute, ...]


class StateCache:
    def __init__(self) -> None:
        self._grants: dict[str, GrantState] = {}
        self._facts: KeptFacts | None = None
        self._mutex = threading.Lock()

    def facts(self, key: tuple[int, int]) -> KeptFacts | None:
        """The kept ledger-wide facts if they are at ``key``, else None."""
        facts = self._facts
        return facts if facts is not None and facts.key == key else None

    def keep_facts(self, facts: KeptFacts | None) -> None:
        if facts is not None:
            self._facts = facts

    def kept_ids(self) -> list[str]:
        """The grants kept here (at most a few dozen are asked about together)."""
        ids = list(self._grants)
        return ids if len(ids) <= _PROBED else []

    def latest(self, grant_id: str) -> GrantState | None:
        """The kept state of ``grant_id`` at whatever version it was kept (None: none kept)."""
        return self._grants.get(grant_id)

    def keep(self, states: Iterable[GrantState]) -> None:
        """Keep states a committed transaction left (call only after its commit)."""
        with self._mutex:
            if len(self._grants) > _MAX_GRANTS:
                self._grants.clear()
            for state in states:
                self._grants[state.grant_id] = state
