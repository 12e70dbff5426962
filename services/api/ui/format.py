"""Money and dates as Swedish people write them: ``30 593 953,00 kr``, ``2022-05-04``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.numbers import format_currency, format_decimal

LOCALE = "sv_SE"


def kronor(ore: int) -> str:
    """Öre as kronor with a decimal comma and grouped thousands (Babel's sv_SE currency form)."""
    return str(format_currency(Decimal(ore) / 100, "SEK", locale=LOCALE))


def number(value: int) -> str:
    return str(format_decimal(value, locale=LOCALE))


def iso(value: date | datetime | None) -> str:
    """Dates ISO 8601; a time to the second, in UTC as stored."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return value.isoformat()
