"""The HTTP side of a write: Idempotency-Key, If-Match, the actor, and the stored answer."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.container import Container
from api.deps import ContainerDep
from ledger.auth.tokens import Principal
from ledger.errors import InvalidInput
from ledger.service import Actor, Command, Idempotency, Replayed, Result
from ledger.store.idempotency import StoredAnswer

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')
_KEY_LENGTH = (1, 255)  # of an Idempotency-Key

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=_KEY_LENGTH[0],
        max_length=_KEY_LENGTH[1],
        description="Retry safely: the same key and body give the first answer again and "
        "write nothing; the same key with another body is a 422. Scoped per token.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The grant's ETag (its stream version) as last read; 409 if it moved on.",
    ),
]


def idempotency_key_of(request: Request) -> tuple[bool, str | None]:
    """``(True, the key)`` or ``(True, None)`` when the request has one valid Idempotency-Key
    header or none; ``(False, None)`` when only the ``IdempotencyKey`` parameter can answer (a
    repeated header, or a value of a length it refuses)."""
    values = request.headers.getlist("idempotency-key")
    if not values:
        return True, None
    if len(values) == 1 and _KEY_LENGTH[0] <= len(values[0]) <= _KEY_LENGTH[1]:
        return True, values[0]
    return False, None


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    m = _ETAG.match(value)
    if m is None:
        raise InvalidInput(
            f"If-Match {value!r} is not an ETag of this API (a quoted version number)",
            field="If-Match",
        )
    return int(m.group(1))


@dataclass
class Writer:
    container: Container
    request: Request
    idempotency_key: str | None = None

    def run(
        self,
        command: Command,
        principal: Principal,
        *,
        payload: BaseModel | None,
        render: Callable[[Result], BaseModel | bytes],
        status: int = 201,
        if_match: str | None = None,
    ) -> Response:
        answer, actor, idem = self._prepare(principal, payload, render, status)
        outcome = self.container.service.execute(
            command, actor, expected_version=parse_if_match(if_match), idempotency=idem
        )
        return _response(outcome, answer)

    async def submit(
        self,
        command: Command,
        principal: Principal,
        *,
        payload: BaseModel | None,
        render: Callable[[Result], BaseModel | bytes],
        status: int = 201,
    ) -> Response:
        """``run`` from the event loop: no thread waits while the group commits."""
        answer, actor, idem = self._prepare(principal, payload, render, status)
        submitted = self.container.service.submit(command, actor, idempotency=idem)
        return _response(await asyncio.wrap_future(submitted), answer)

    def _prepare(
        self,
        principal: Principal,
        payload: BaseModel | None,
        render: Callable[[Result], BaseModel | bytes],
        status: int,
    ) -> tuple[Callable[[Result], StoredAnswer], Actor, Idempotency | None]:
        def answer(result: Result) -> StoredAnswer:
            rendered = render(result)  # the answer's model, or its JSON already
            body = (
                rendered
                if isinstance(rendered, bytes)
                else orjson.dumps(rendered.model_dump(mode="json", by_alias=True))
            )
            headers = {"ETag": etag(result.version)} if result.version is not None else {}
            return StoredAnswer(status, body, headers)

        idem = None
        if self.idempotency_key is not None:
            idem = Idempotency(
                scope=principal.name,
                key=self.idempotency_key,
                request_hash=self._request_hash(payload),
                render=answer,
            )
        actor = Actor(
            principal.name,
            principal.role.value,
            request_id=getattr(self.request.state, "request_id", None),
            client_request_id=getattr(self.request.state, "client_request_id", None),
        )
        return answer, actor, idem

    def _request_hash(self, payload: BaseModel | None) -> str:
        h = hashlib.sha256(f"{self.request.method} {self.request.url.path}\n".encode())
        if payload is not None:
            h.update(payload.model_dump_json().encode())
        return h.hexdigest()


def _response(outcome: Result | Replayed, answer: Callable[[Result], StoredAnswer]) -> Response:
    if isinstance(outcome, Replayed):
        stored = outcome.answer
        headers = {
            **(stored.headers or _headers_in(stored.body)),
            "Idempotent-Replayed": "true",
        }
    else:
        stored = outcome.answer or answer(outcome)
        headers = dict(stored.headers)
    return Response(
        stored.body,
        status_code=stored.status_code,
        media_type="application/json",
        headers=headers,
    )


async def _writer(
    container: ContainerDep, request: Request, idempotency_key: IdempotencyKey = None
) -> Writer:
    # async: a class dependency (``Depends()`` on ``Writer``) would be built on the thread pool.
    return Writer(container, request, idempotency_key)


WriterDep = Annotated[Writer, Depends(_writer)]


def _headers_in(body: bytes) -> dict[str, str]:
    """The ETag of an answer stored before answers kept their headers (migration 0005)."""
    try:
        version = orjson.loads(body).get("version")
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    return {"ETag": etag(version)} if isinstance(version, int) else {}
