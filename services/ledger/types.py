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

# The forms of an amount a request may use, the same in the spec and on the server: what every
# answer shows (kronor, at most two decimals, at most money.MAX_KRONOR: 13 digits of kronor, or
# the bound itself, so that the spec, the domain, SIE and plan files share one bound).  A JSON
# number is refused: `0.57` may arrive as 0.5700000000000001, and a pattern cannot say which
# floats are exact.  What must be more than zero (an allocation, a receipt, ...) or at least zero
# (an award) says so in its pattern too, so that a client knows before it asks.
_BOUND = r"10000000000000(\.00?)?"  # MAX_KRONOR, with the decimals a writer may add
MONEY_PATTERN = rf"^-?([0-9]{{1,13}}(\.[0-9]{{1,2}})?|{_BOUND})$"
AWARD_PATTERN = rf"^([0-9]{{1,13}}(\.[0-9]{{1,2}})?|{_BOUND})$"
POSITIVE_MONEY_PATTERN = (
    rf"^([1-9][0-9]{{0,12}}(\.[0-9]{{1,2}})?|0\.(0[1-9]|[1-9][0-9]?)|{_BOUND})$"
)


def _money_of(pattern: str, what: str) -> Any:
    """A validator of amounts that match ``pattern``, and the schema that says so."""
    compiled = re.compile(pattern)

    def parse(value: Any) -> int:
        if not isinstance(value, str):
            raise ValueError(
                'an amount is a string of kronor with at most two decimals, e.g. "1234.50"'
            )
        if compiled.fullmatch(value) is None:
            raise ValueError(f"{value[:40]!r} is not {what}")
        try:
            return parse_money(value)
        except InvalidAmount as e:
            raise ValueError(f"{value!r} {e.fields.get('reason', 'is not a valid amount')}") from e

    schema = {
        "type": "string",
        "pattern": pattern,
        "description": f"{what[0].upper()}{what[1:]}, as a string (like every answer).",
        "examples": ["24000000.00"],
    }
    return BeforeValidator(parse), WithJsonSchema(schema)


_SIGNED = _money_of(MONEY_PATTERN, "kronor with at most two decimals, at most 10 000 000 000 000")
_AWARD = _money_of(
    AWARD_PATTERN, "kronor (zero or more) with at most two decimals, at most 10 000 000 000 000"
)
_POSITIVE = _money_of(
    POSITIVE_MONEY_PATTERN,
    "kronor greater than zero, at most 10 000 000 000 000, two decimals at most, no leading zeros",
)
_OUT = PlainSerializer(format_money, return_type=str)

Money = Annotated[int, _SIGNED[0], _OUT, _SIGNED[1]]
AwardMoney = Annotated[int, _AWARD[0], _OUT, _AWARD[1]]
PositiveMoney = Annotated[int, _POSITIVE[0], _OUT, _POSITIVE[1]]

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


# Characters no name, text or id may hold, refused at parsing (and so never stored): C0 and C1
# controls but the tab (terminal escapes), bidi embeddings, overrides and isolates (they reorder
# what a terminal, a report or an audit file shows) and Unicode noncharacters (an XLSX holding
# U+FFFE does not open).  Astral noncharacters are written as themselves: the pattern reads the
# same in Python and in ECMA-262 with the `u` flag.  Lone surrogates (no UTF-8 for them) are
# refused by pydantic before this, and left out of the pattern: Rust's regex cannot name them.
_REFUSED = (
    "\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069"
    "\\ufdd0-\\ufdef\\ufffe\\uffff"
    + "".join(chr(plane << 16 | low) for plane in range(1, 17) for low in (0xFFFE, 0xFFFF))
)
# What str.strip() removes that is not refused anyway: a text of only these is blank.
_BLANK = "\\t \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
TEXT_PATTERN = f"^[^{_REFUSED}]*[^{_REFUSED}{_BLANK}][^{_REFUSED}]*$"
_TEXT = re.compile(TEXT_PATTERN)


def _printable(value: str) -> str:
    """Names and texts end up in reports, audit files and terminals: see ``_REFUSED``."""
    if value.isprintable():
        # The common case, without the pattern (a character class with astral ranges: ≈ 1.7 µs
        # a text, the most of a spend line's validation).  A printable string holds no control
        # (Cc), bidi control (Cf) or noncharacter (Cn), and of the blanks only the space (every
        # other Zs, Zl and Zp is not printable): it matches the pattern iff it is not all spaces.
        stripped = value.strip()
        if stripped:
            return stripped
    if _TEXT.fullmatch(value) is None:
        if not value.strip():
            raise ValueError("must not be blank")
        bad = next(ch for ch in value if _TEXT.fullmatch(f"x{ch}") is None)
        raise ValueError(
            f"U+{ord(bad):04X} is not allowed (control, bidi-override or noncharacter)"
        )
    return value.strip()


# The pattern is the schema's; _printable enforces the same one, with a message that says why.
_TEXT_SCHEMA: dict[str, Any] = {
    "pattern": TEXT_PATTERN,
    "description": "Printable text: no control, bidi-override or noncharacter; not blank.",
}
_PRINTABLE = AfterValidator(_printable)


def _up_to(characters: int) -> Any:
    """A printable text's bounds: not empty, at most ``characters``, the pattern in the schema."""
    return Field(min_length=1, max_length=characters, json_schema_extra=_TEXT_SCHEMA)


Text = Annotated[str, _up_to(500), _PRINTABLE]
LongText = Annotated[str, _up_to(4000), _PRINTABLE]
# Texts as wide as the columns that keep them (a spend line's key, voucher, account and text; a
# grant's repayment reference): the schema says the bound and a longer value is refused as that
# field's own error, not at the flush.  (A ``max_length`` beside ``X | None`` would bound the
# union, worded as a list's "items".)
KEY_CHARS, CODE_CHARS, LINE_TEXT_CHARS = 200, 64, 1000  # the spend_lines columns' widths
ShortText = Annotated[str, _up_to(KEY_CHARS), _PRINTABLE]
AccountCode = Annotated[str, _up_to(CODE_CHARS), _PRINTABLE]
LineText = Annotated[str, _up_to(LINE_TEXT_CHARS), _PRINTABLE]


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
