"""Money: Swedish kronor with öre, held inside as an ``int`` of öre.

Amounts cross the boundary (JSON, SIE, CLI) as text or numbers with at most two decimals and
are turned into öre exactly once, here.  Floats are accepted only where JSON forces them on us
(``1234.5``), and only when their shortest decimal form is exact in two decimals: a float such
as ``0.1`` means what the sender typed, while ``1.005`` or NaN can only be a mistake.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from ledger.errors import InvalidInput

ORE_PER_KRONA = 100
MAX_KRONOR = 10**13
MAX_ORE = MAX_KRONOR * ORE_PER_KRONA

# Strict on purpose: no whitespace, no exponent, no thousands separators, no leading "+" or ".".
_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]{1,2}))?")
# Long enough for any leading zeros a sane exporter writes; short enough that int() stays cheap.
_MAX_TEXT = 40
_CENT = Decimal("0.01")


class InvalidAmount(InvalidInput):
    """An amount that is not exact kronor and öre within bounds.

    Defined beside the parser so that this module depends on nothing in the domain; the domain's
    ``errors`` module re-exports it with the others.
    """

    code = "invalid-amount"
    title = "Invalid amount"

    def __init__(self, *, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field} {value!r} {reason}", field=field, value=value, reason=reason)
        self.field = field
        self.value = value
        self.reason = reason


def parse_money(value: str | int | float | Decimal, *, field: str = "amount") -> int:
    """Return ``value`` in öre, or raise ``InvalidAmount`` naming ``field``."""
    # bool is an int subclass; True kronor is never what a sender meant.
    if isinstance(value, bool):
        raise _invalid(field, value, "must be a number or a decimal string, not a boolean")
    if isinstance(value, int):
        return _checked(value * ORE_PER_KRONA, field, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(field, value, "must be a finite number")
        # repr() is the shortest text that reads back as the same float: the sender's digits.
        return _from_decimal(Decimal(repr(value)), field, value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _invalid(field, value, "must be a finite number")
        return _from_decimal(value, field, value)
    if isinstance(value, str):
        return _from_text(value, field)
    raise _invalid(field, value, "must be a number or a decimal string")


def format_money(ore: int) -> str:
    """``123450`` -> ``"1234.50"``: the form every answer uses."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), ORE_PER_KRONA)
    return f"{sign}{kronor}.{rest:02d}"


def format_kronor(ore: int) -> str:
    """``505267600`` -> ``"5 052 676.00 kr"``: for messages a person reads."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), ORE_PER_KRONA)
    grouped = f"{kronor:,}".replace(",", " ")
    return f"{sign}{grouped}.{rest:02d} kr"


def _from_text(text: str, field: str) -> int:
    if len(text) > _MAX_TEXT:
        raise _invalid(field, text, "has too many digits")
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise _invalid(field, text, "must be digits with an optional '-' and at most two decimals")
    sign, kronor, decimals = match.groups()
    ore = int(kronor) * ORE_PER_KRONA + int((decimals or "").ljust(2, "0"))
    return _checked(-ore if sign else ore, field, text)


def _from_decimal(amount: Decimal, field: str, original: float | Decimal) -> int:
    # Comparisons of Decimals are exact, arithmetic is rounded to 28 digits: bound the size
    # first, so that what follows has at most 16 digits and cannot be rounded.
    if abs(amount) > MAX_KRONOR:
        raise _too_large(field, original)
    cents = amount.quantize(_CENT)
    if cents != amount:
        raise _invalid(field, original, "has more than two decimals")
    return int(cents * ORE_PER_KRONA)


def _checked(ore: int, field: str, original: object) -> int:
    if abs(ore) > MAX_ORE:
        raise _too_large(field, original)
    return ore


def _too_large(field: str, original: object) -> InvalidAmount:
    return _invalid(field, original, f"exceeds {MAX_KRONOR:,} kr".replace(",", " "))


def _invalid(field: str, original: object, reason: str) -> InvalidAmount:
    # str() of an int beyond 4300 digits raises: quote such a number by its size instead.
    if isinstance(original, int) and abs(original) >= 10**_MAX_TEXT:
        text = f"<an integer of {len(hex(original))} hex digits>"
    else:
        text = str(original)[:_MAX_TEXT]
    return InvalidAmount(field=field, value=text, reason=reason)
