"""What every /v1 router shares: the problem schema and the error answers it declares once.

Every error answer of every operation is one ``Problem`` under ``application/problem+json``
(``api.spec`` puts it there): a client generated from the spec reads a refusal as a typed object.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from api.schemas import examples

# Money in a problem is what it is in every answer: kronor as a string with two decimals.
ProblemMoney = Annotated[
    str,
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "examples": ["0.00"]}),
]


class ProblemLine(BaseModel):
    """One thing wrong with the request: a field, a batch line, a line recorded before."""

    field: str = Field(
        description="Where: a dotted path into the body (`lines.3.amount`), "
        "or the query or header parameter."
    )
    reason: str = Field(description="What is wrong, for a person.")
    code: str | None = Field(
        default=None, description="A stable slug: `unknown-cost-object`, `closed-period`, ..."
    )
    reason_code: str | None = Field(
        default=None,
        description="The validation that failed: `missing`, `string_pattern_mismatch`, ...",
    )
    line_id: str | None = Field(default=None, description="The batch line it is about.")


class Problem(BaseModel):
    """RFC 9457 problem details, with the members grantledger adds (money as kronor strings)."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [examples.OVER_ALLOCATION_PROBLEM]}
    )

    type: str = Field(description="A stable URI per problem: branch on it.")
    title: str
    status: int
    detail: str = Field(description="Which rule, where, and by how much, for a person.")
    instance: str | None = Field(default=None, description="The path that was requested.")
    rule: str | None = Field(
        default=None, description="The rule that refused it: docs/rules.md#{rule}."
    )
    grant_id: str | None = None
    area: str | None = None
    activity: str | None = None
    available: ProblemMoney | None = Field(default=None, description="What the rule allows.")
    requested: ProblemMoney | None = Field(default=None, description="What was asked for.")
    minimum_award: ProblemMoney | None = None
    unallocated: ProblemMoney | None = None
    unspent: ProblemMoney | None = None
    unclassified: ProblemMoney | None = None
    errors: list[ProblemLine] | None = Field(
        default=None, description="Every field or line at fault, not only the first."
    )


# A month as YYYY-MM: years 0001-9999 (there is no year 0), months 01-12.
PERIOD = r"^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$"

Responses = dict[int | str, dict[str, Any]]


def _problem(status: int, description: str) -> Responses:
    return {status: {"model": Problem, "description": description}}


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
