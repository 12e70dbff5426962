"""Which accounts are cost accounts: only their lines are spend.

A voucher on a project object holds the cost (5410), and beside it output VAT (2611), revenue
(3041) and a receivable (1510) on the same object; only the cost is spend of the grant.  BAS and
Kommun-Bas both keep costs in account classes 4-7, so the default is 4000-7999; a region whose
chart differs names its ranges (``4000-7999,8400-8499``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.errors import InvalidInput

DEFAULT = "4000-7999"
_RANGE = re.compile(r"([0-9]{1,10})(?:-([0-9]{1,10}))?")


@dataclass(frozen=True, slots=True)
class SpendAccounts:
    """Inclusive ranges of account numbers whose lines are spend."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, text: str, *, field: str = "spend_accounts") -> SpendAccounts:
        """``"4000-7999,8400-8499"`` (a single account is a range of one)."""
        ranges: list[tuple[int, int]] = []
        for part in text.split(","):
            m = _RANGE.fullmatch(part.strip())
            if m is None:
                raise InvalidInput(
                    f"{field} {part.strip()[:40]!r} is not an account range such as 4000-7999",
                    field=field,
                )
            low = int(m.group(1))
            high = int(m.group(2)) if m.group(2) else low
            if high < low:
                raise InvalidInput(
                    f"{field} range {part.strip()!r} ends before it starts", field=field
                )
            ranges.append((low, high))
        return cls(tuple(sorted(ranges)))

    def __contains__(self, account: object) -> bool:
        # Account numbers are digits; anything else is no cost account of a Swedish chart.
        if not (isinstance(account, str) and account.isascii() and account.isdigit()):
            return False
        if len(account) > 10:
            return False
        number = int(account)
        return any(low <= number <= high for low, high in self.ranges)

    def __str__(self) -> str:
        return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in self.ranges)
