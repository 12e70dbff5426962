"""RFC 9457 problem documents: every error the API gives, rendered in one place.

One handler per *kind* of ``LedgerError`` (Starlette finds it along the exception's MRO), plus
FastAPI's own validation errors, malformed JSON and unknown routes.  A stable ``type`` URI per
problem lets clients branch on it; the members carry which rule, where, and by how much.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ledger.domain.errors import DecisionRequired
from ledger.domain.money import format_money
from ledger.errors import (
    Conflict,
    InvalidInput,
    LedgerError,
    NotFound,
    RuleViolation,
    ServerFault,
    Unavailable,
)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://grantledger.dev/problems/"

STATUS_BY_KIND: dict[type[LedgerError], int] = {
    InvalidInput: 422,
    RuleViolation: 422,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
    ServerFault: 500,
}


class ProblemResponse(Response):
    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **members: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in members.items() if v is not None})
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def ledger_problem(error: LedgerError, status: int, instance: str | None = None) -> ProblemResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return problem(
        status,
        error.code,
        error.title,
        error.detail,
        instance=instance,
        headers=headers,
        **{k: _money_aware(k, v) for k, v in error.fields.items()},
    )


# The members of a problem that are money (öre inside): they go out as kronor strings with two
# decimals, like every amount the API answers (rule 8), never as integers 100× too large.
MONEY_MEMBERS = frozenset(
    {
        "available",
        "requested",
        "amount",
        "excess",
        "minimum_award",
        "unclassified",
        "unallocated",
        "unspent",
        "balance",
    }
)


def _money_aware(key: str, value: Any) -> Any:
    if key in MONEY_MEMBERS and isinstance(value, int) and not isinstance(value, bool):
        return format_money(value)
    return value


def _handler_for(status: int) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LedgerError)
        return ledger_problem(exc, status, instance=request.url.path)

    return handle


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_validation_item(e, exc.body) for e in exc.errors()]
    if any(e["reason_code"] == "json_invalid" for e in errors):
        return problem(
            400,
            "malformed-json",
            "Malformed JSON",
            "the request body is not valid JSON",
            instance=request.url.path,
            errors=errors,
        )
    if exc.errors() and all(_no_decision(e, exc.body) for e in exc.errors()):
        # Rule 7 is what the schema's `required` says here: the answer names the rule.
        return problem(
            422,
            DecisionRequired.code,
            DecisionRequired.title,
            "a planning entry needs the decision that authorises it (reference, date and "
            "deciding body); decision is missing",
            instance=request.url.path,
            rule="decision-reference-required",
            errors=errors,
        )
    return problem(
        422,
        "validation-error",
        "Invalid request",
        f"{len(errors)} field(s) failed validation",
        instance=request.url.path,
        errors=errors,
    )


def _no_decision(e: Mapping[str, Any], body: Any) -> bool:
    """The body leaves out `decision` or sends it as null."""
    if tuple(e.get("loc", ())) != ("body", "decision"):
        return False
    return e.get("type") == "missing" or (isinstance(body, dict) and body.get("decision") is None)


def _reason(e: Mapping[str, Any]) -> str:
    """Pydantic's message without its "Value error, " prefix: the reason is ours."""
    message = str(e.get("msg", ""))
    prefix = "Value error, "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _validation_item(e: Mapping[str, Any], body: Any) -> dict[str, Any]:
    loc: Sequence[Any] = e.get("loc", ())
    item = {
        "field": ".".join(str(p) for p in loc if p != "body"),
        "reason": _reason(e),
        "reason_code": str(e.get("type", "")),
    }
    # A batch line names its line_id, so an ERP can tell which of 500 lines to fix.
    if len(loc) > 2 and loc[:2] == ("body", "lines") and isinstance(loc[2], int):
        lines = body.get("lines") if isinstance(body, dict) else None
        if isinstance(lines, list) and loc[2] < len(lines) and isinstance(lines[loc[2]], dict):
            line_id = lines[loc[2]].get("line_id")
            if isinstance(line_id, str):
                item["line_id"] = line_id
    return item


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {
        400: "Malformed JSON",
        404: "Not found",
        405: "Method not allowed",
        401: "Unauthorized",
        403: "Forbidden",
    }
    # FastAPI answers a body it cannot even decode (not UTF-8, cut short) with a bare 400.
    codes = {400: "malformed-json", 404: "not-found", 405: "method-not-allowed"}
    code = codes.get(exc.status_code, "http-error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed(request))
    return problem(
        exc.status_code,
        code,
        titles.get(exc.status_code, "HTTP error"),
        str(exc.detail),
        instance=request.url.path,
        headers=headers,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at this path: Starlette names only the first route's
    (`OPTIONS /v1/grants` would say `Allow: POST`, hiding the GET beside it)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def install(app: FastAPI) -> None:
    for kind, status in STATUS_BY_KIND.items():
        app.add_exception_handler(kind, _handler_for(status))
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
