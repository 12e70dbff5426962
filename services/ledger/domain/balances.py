"""The balance figures a reader asks for, computed from a grant's account balances.

``figures`` is pure over the balance map, so the service feeds it either the live balances or
the sums of postings up to a date (``as_of``) or a recording time (``known_at``), and both give
the same kind of answer.  The identities it relies on (see ``accounts``), per area:

    awarded = allocated + unallocated + unclassified_spent + repaid
    remaining = awarded − spent − repaid = Σ activity remaining + unallocated
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ledger.domain import accounts
from ledger.domain.state import ActivityInfo, AreaInfo


@dataclass(frozen=True, slots=True)
class ActivityFigures:
    code: str
    area: str
    allocated: int
    spent: int
    remaining: int  # allocated − spent; negative when overspent
    overspent: bool


@dataclass(frozen=True, slots=True)
class AreaFigures:
    code: str
    cost_object: str
    awarded: int
    allocated: int  # Σ activities
    unallocated: int  # ofördelat; negative only through unclassified spend (rule 4)
    spent: int  # activities' spend + the area's unclassified spend
    unclassified_spent: int
    repaid: int
    remaining: int  # awarded − spent − repaid
    activities: tuple[ActivityFigures, ...]


@dataclass(frozen=True, slots=True)
class GrantFigures:
    awarded: int
    allocated: int
    unallocated: int
    spent: int  # includes spend on no area yet (grant-level unclassified)
    remaining: int
    # Cash the funder paid out: the whole grant's, so None once figures are narrowed to a part
    # of it (a cost object, an area), which holds no cash of its own.
    received: int | None
    unclassified_spent: int  # area-level + grant-level
    repaid: int
    areas: tuple[AreaFigures, ...]
    # Spend on shared cost objects not yet on an area, by cost object (9942 → 15 000.00 kr).
    unplaced: Mapping[str, int] = field(default_factory=dict)
    # Rule 9: more received than awarded is recorded (the bank says so) and flagged, as
    # overspend is; None where ``received`` is.
    overreceived: bool | None = False


def figures(
    balances: Mapping[str, int],
    areas: Mapping[str, AreaInfo],
    activities: Mapping[str, ActivityInfo],
) -> GrantFigures:
    """Every figure of a grant, its areas and activities, in the order they were planned."""

    def balance(account: str) -> int:
        return balances.get(account, 0)

    by_area: dict[str, list[ActivityFigures]] = {code: [] for code in areas}
    for activity in activities.values():
        remaining = balance(accounts.budget(activity.code))
        spent = balance(accounts.spent(activity.code))
        by_area[activity.area].append(
            ActivityFigures(
                code=activity.code,
                area=activity.area,
                allocated=remaining + spent,
                spent=spent,
                remaining=remaining,
                overspent=remaining < 0,
            )
        )

    area_figures = tuple(
        _area_figures(area, by_area[area.code], balance) for area in areas.values()
    )
    prefix = accounts.UNPLACED + ":"
    unplaced = {
        a.removeprefix(prefix): b for a, b in balances.items() if a.startswith(prefix) and b
    }
    grant_unclassified = sum(unplaced.values())
    awarded = sum(a.awarded for a in area_figures)
    spent = sum(a.spent for a in area_figures) + grant_unclassified
    repaid = sum(a.repaid for a in area_figures)
    received = -balance(accounts.CASH_FUNDER)
    return GrantFigures(
        awarded=awarded,
        allocated=sum(a.allocated for a in area_figures),
        unallocated=sum(a.unallocated for a in area_figures),
        spent=spent,
        remaining=awarded - spent - repaid,
        received=received,
        unclassified_spent=sum(a.unclassified_spent for a in area_figures) + grant_unclassified,
        repaid=repaid,
        areas=area_figures,
        unplaced=unplaced,
        overreceived=received > awarded,
    )


def _area_figures(
    area: AreaInfo, activities: list[ActivityFigures], balance: Callable[[str], int]
) -> AreaFigures:
    awarded = -balance(accounts.award(area.code))
    unclassified = balance(accounts.unclassified(area.code))
    spent = sum(a.spent for a in activities) + unclassified
    repaid = balance(accounts.repaid(area.code))
    return AreaFigures(
        code=area.code,
        cost_object=area.cost_object,
        awarded=awarded,
        allocated=sum(a.allocated for a in activities),
        unallocated=balance(accounts.unallocated(area.code)),
        spent=spent,
        unclassified_spent=unclassified,
        repaid=repaid,
        remaining=awarded - spent - repaid,
        activities=tuple(activities),
    )
