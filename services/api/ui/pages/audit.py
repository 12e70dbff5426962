"""Revision (auditor): the event trail with filters, one event with its hashes, the chain.

Type and grant narrow the store's own read; actor and dates are checked on each event read,
page by page, so a filter never skips an event and a page never holds more than ``PAGE``.
"""

from __future__ import annotations

from datetime import date

import orjson
from fastapi import Request
from fastapi.responses import Response

from api.deps import ContainerDep
from api.ui.access import AuditorUser
from api.ui.pages.common import parse_day, ui_router
from api.ui.render import page
from ledger.errors import NotFound
from ledger.public_events import public_event
from ledger.service import grant_stream
from ledger.store import StoredEvent

router = ui_router()

PAGE = 50
SCAN = 500  # events read per round while filtering on actor and dates


def _matches(e: StoredEvent, actor: str, start: date | None, end: date | None) -> bool:
    if actor and str(e.meta.get("actor", "")) != actor:
        return False
    day = e.recorded_at.date()
    return (start is None or day >= start) and (end is None or day <= end)


@router.get("/revision")
def trail(
    request: Request,
    user: AuditorUser,
    container: ContainerDep,
    typ: str = "",
    bidrag: str = "",
    aktor: str = "",
    fran: str = "",
    till: str = "",
    efter: int = 0,
) -> Response:
    start, end = parse_day(fran, "fran"), parse_day(till, "till")
    stream = grant_stream(bidrag.strip()) if bidrag.strip() else None
    types = (typ.strip(),) if typ.strip() else ()
    found: list[StoredEvent] = []
    after, more = max(efter, 0), False
    while len(found) < PAGE:
        batch = container.queries.events(
            after=after, limit=SCAN, stream_id=stream, event_types=types
        )
        for e in batch:
            after = e.position
            if _matches(e, aktor.strip(), start, end):
                found.append(e)
                if len(found) == PAGE:
                    break
        if len(batch) < SCAN:
            break
    more = len(found) == PAGE
    # On this request's thread and connection, as the API's verify (never a pool of them).
    verify = container.store.verify(container.engine, workers=1)
    return page(
        request,
        "audit.html",
        user,
        events=found,
        next_after=found[-1].position if more else None,
        verify=verify,
        grants=[m.grant_id for m in container.queries.grants()],
        filters={"typ": typ, "bidrag": bidrag, "aktor": aktor, "fran": fran, "till": till},
    )


@router.get("/revision/events/{position}")
def event(request: Request, position: int, user: AuditorUser, container: ContainerDep) -> Response:
    found = container.queries.events(after=max(position - 1, 0), limit=1)
    if not found or found[0].position != position:
        raise NotFound(f"ingen händelse på position {position}", position=position)
    e = found[0]
    shown = public_event(e)
    return page(
        request,
        "event.html",
        user,
        event=e,
        data=orjson.dumps(shown["data"], option=orjson.OPT_INDENT_2).decode(),
        meta=orjson.dumps(shown["meta"], option=orjson.OPT_INDENT_2).decode(),
    )
