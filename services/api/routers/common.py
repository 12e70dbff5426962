"""What every /v1 router shares: the problem schema and the error answers it declares once."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import examples


class ProblemLine(BaseModel):
    line_id: str | None = None
    field: str
    reason: str
    code: str | None = None
    reason_code: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, with the members grantledger adds."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [examples.OVER_ALLOCATION_PROBLEM]}
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = Field(
        default=None, description="The rule that refused it: docs/rules.md#{rule}."
    )
    available: str | None = None
    requested: str | None = None
    errors: list[ProblemLine] | None = None


Responses = dict[int | str, dict[str, Any]]


def _problem(status: int, description: str) -> Responses:
    return {
        status: {
            "model": Problem,
            "description": description,
            "content": {"application/problem+json": {}},
        }
    }


UNAUTHORIZED = _problem(401, "No token, or an unknown or revoked one")
FORBIDDEN = _problem(403, "The token's role may not do this")
NOT_FOUND = _problem(404, "An unknown grant, area, activity or transaction")
CONFLICT = _problem(409, "Stale If-Match, duplicate key, or a state that forbids it now")
INVALID = _problem(422, "A rule (docs/rules.md) or validation refused the request")
MALFORMED = _problem(400, "The body is not valid JSON")
TOO_LARGE = _problem(413, "The body exceeds the configured limit")
UNAVAILABLE = _problem(503, "The database is unreachable; retry after Retry-After seconds")

READ_ERRORS: Responses = {
    **UNAUTHORIZED,
    **FORBIDDEN,
    **INVALID,
    **UNAVAILABLE,
}
WRITE_ERRORS: Responses = {
    **READ_ERRORS,
    **MALFORMED,
    **NOT_FOUND,
    **CONFLICT,
    **TOO_LARGE,
}
