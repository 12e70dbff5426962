"""The audit trail: every event in order, with its hashes, and the chain verified."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from pydantic import StringConstraints

from api.auth import Auditor
from api.deps import ContainerDep
from api.routers.common import NOT_FOUND, READ_ERRORS
from api.schemas.answers import EventPageOut, VerifyOut
from api.schemas.events import event_out
from ledger.service import grant_stream

router = APIRouter(tags=["audit"], responses=READ_ERRORS)

EventType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,99}$")]

After = Annotated[int, Query(ge=0, le=2**62, description="Return events after this position.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many events (≤ 1000).")]


def _page(
    request: Request, events: list[Any], limit: int, public_base_url: str | None
) -> EventPageOut:
    if len(events) < limit:
        return EventPageOut(events=events, next_after=None, next=None)
    last = events[-1].position
    return EventPageOut(
        events=events, next_after=last, next=_next(request, last, limit, public_base_url)
    )


def _next(request: Request, after: int, limit: int, public_base_url: str | None) -> str:
    """The next page's link: under the configured public base URL, else relative.

    Never built from the request's Host header: a client chooses that, and a link an auditor's
    tool follows must not point wherever the previous caller said.
    """
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("after", "limit")]
    query = urlencode([*kept, ("after", str(after)), ("limit", str(limit))])
    return f"{public_base_url or ''}{request.url.path}?{query}"


@router.get(
    "/v1/events",
    response_model=EventPageOut,
    operation_id="listEvents",
    summary="The audit trail",
    description="Events in commit order, each with its position, stream, version, type, data, "
    "meta (actor, role, decision, request id), dates and hashes. Page with `after` (the "
    "`next_after` of the previous page): a page never skips an event that commits later.",
)
def list_events(
    request: Request,
    _: Auditor,
    container: ContainerDep,
    after: After = 0,
    limit: Limit = 100,
    stream: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")] = None,
    event_type: Annotated[
        list[EventType] | None,
        Query(alias="type", max_length=20, description="Event types, e.g. SpendRecorded."),
    ] = None,
) -> EventPageOut:
    events = container.queries.events(
        after=after, limit=limit, stream_id=stream, event_types=tuple(event_type or ())
    )
    return _page(request, [event_out(e) for e in events], limit, container.settings.public_base_url)


@router.get(
    "/v1/grants/{grant_id}/events",
    response_model=EventPageOut,
    operation_id="listGrantEvents",
    summary="One grant's history",
    description="The events of one grant's stream, in order, paged like /v1/events.",
    responses=NOT_FOUND,
)
def list_grant_events(
    request: Request,
    grant_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")],
    _: Auditor,
    container: ContainerDep,
    after: After = 0,
    limit: Limit = 100,
) -> EventPageOut:
    container.queries.stream_version(grant_id)  # 404 for an unknown grant
    events = container.queries.events(after=after, limit=limit, stream_id=grant_stream(grant_id))
    return _page(request, [event_out(e) for e in events], limit, container.settings.public_base_url)


# One request checks at most this many events (≈ 1–2 s of one request thread on a quiet
# 2-core machine): a whole chain of any length is checked by following ``next_after``, never by
# one unbounded request, and never with worker processes spawned inside a request.
VERIFY_MAX = 100_000


@router.get(
    "/v1/audit/verify",
    response_model=VerifyOut,
    operation_id="verifyChain",
    summary="Verify the hash chain",
    description="Checks the events after `after` (0: from position 1), at most `limit` of them "
    f"(≤ {VERIFY_MAX:,}), recomputing each hash from the previous one and the event's content "
    "and linking the first to event `after`; answers the first position where an edit, "
    "deletion or insertion breaks the chain. `complete` is false when the check stopped before "
    "the newest event: continue from `next_after`. The pages of one walk check the whole chain.",
)
def verify(
    _: Auditor,
    container: ContainerDep,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="Check the events after this position.")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=VERIFY_MAX, description=f"At most this many (≤ {VERIFY_MAX:,}).")
    ] = VERIFY_MAX,
) -> VerifyOut:
    result = container.store.verify(container.engine, after=after, limit=limit, workers=1)
    return VerifyOut.of(result)
