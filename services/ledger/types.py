"""Validated input types shared by every boundary that parses (HTTP bodies, plan files).

Amounts become integers in öre here, once; a value that is not exact kronor and öre is a
validation error at its field, never a float inside.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

from ledger.domain.money import InvalidAmount, format_money, parse_money


def _money(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("an amount is a string or number with at most two decimals")
    try:
        return parse_money(value)
    except InvalidAmount as e:
        raise ValueError(f"{value!r} {e.fields.get('reason', 'is not a valid amount')}") from e


Money = Annotated[
    int,
    BeforeValidator(_money),
    PlainSerializer(format_money, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$",
            "description": "Kronor with at most two decimals; a JSON number is accepted too.",
            "examples": ["24000000.00"],
        }
    ),
]

Code = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        description="Lower-case letters, digits and hyphens; at most 64 characters.",
        examples=["nara-vard"],
    ),
]

CostObject = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="The ERP's cost object (objekt), e.g. 9916.",
        examples=["9916"],
    ),
]


def _printable(value: str) -> str:
    """Names and texts end up in reports and audit files: no control characters, no blanks."""
    if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value):
        raise ValueError("control characters are not allowed")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_printable)]
LongText = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_printable)]


def _not_a_number(value: Any) -> Any:
    """Dates as people write them (ISO 8601), never a bare number read as a Unix timestamp."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and not _ISO.match(value)):
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2022-03-31")
    return value


_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _in_utc(value: datetime) -> datetime:
    """One instant in UTC (a naive time is read as UTC).

    ISO 8601 allows offsets up to ±14:00, so ``9999-12-31T23:59:59-14:00`` is a valid text whose
    UTC value lies after year 9999: refused here, at its parameter, not an OverflowError later.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as e:
        raise ValueError("the instant lies outside years 1 to 9999 in UTC") from e


Day = Annotated[date, BeforeValidator(_not_a_number)]
Instant = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_in_utc)]
