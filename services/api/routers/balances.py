"""Balances: per grant, area, activity and cost object; today, as of a date, as known then."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.auth import Reader
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, READ_ERRORS
from api.schemas.answers import BalanceListOut, BalanceOut, CostObjectOut, TotalsOut
from ledger.types import Day, Instant

router = APIRouter(tags=["balances"], responses={**READ_ERRORS, **NOT_FOUND})

Code = Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
COST_OBJECT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # as ledger.types.CostObject
AsOf = Annotated[
    Day | None, Query(description="Booking date: only entries effective on or before it.")
]
KnownAt = Annotated[
    Instant | None,
    Query(description="Recording time (ISO 8601): the ledger as it was known then (bitemporal)."),
]


@router.get(
    "/v1/balances",
    response_model=BalanceOut | BalanceListOut,
    operation_id="getBalances",
    summary="Balances",
    description="Awarded, allocated, unallocated, spent, remaining, received and unclassified "
    "spend of a grant (`grant_id`: one object) or of every grant (a list), narrowed by "
    "`cost_object`, `area` or `activity`, today or `as_of` a booking date and/or `known_at` a "
    "recording time.",
)
def get_balances(
    _: Reader,
    container: ContainerDep,
    grant_id: Code | None = None,
    cost_object: Annotated[str | None, Query(pattern=COST_OBJECT)] = None,
    area: Code | None = None,
    activity: Code | None = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> BalanceOut | BalanceListOut:
    found = container.queries.balances(
        grant_id=grant_id,
        cost_object=cost_object,
        area=area,
        activity=activity,
        as_of=as_of,
        known_at=known_at,
    )
    if grant_id is not None:
        return BalanceOut.of(found[0])
    return BalanceListOut(balances=[BalanceOut.of(b) for b in found])


@router.get(
    "/v1/cost-objects/{code}",
    response_model=CostObjectOut,
    operation_id="getCostObject",
    summary="Balances of one cost object",
    description="Every grant area booked on the cost object (objekt), e.g. 9942 which serves "
    "e-hälsa and ambulans, with totals summed over them.",
)
def get_cost_object(
    code: Annotated[str, Path(pattern=COST_OBJECT, examples=["9916"])],
    _: Reader,
    container: ContainerDep,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> CostObjectOut:
    found, totals = container.queries.cost_object(code, as_of=as_of, known_at=known_at)
    return CostObjectOut(
        cost_object=code, totals=TotalsOut.of(totals), grants=[BalanceOut.of(b) for b in found]
    )
