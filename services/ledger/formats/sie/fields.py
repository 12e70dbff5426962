"""The fields of the records the ledger books: amounts in öre, dates, objects, safe text.

Each helper raises ``Bad`` with what is wrong; the parser turns it into a problem of the line,
so that one file's every flaw is reported at once.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from ledger.domain.money import MAX_ORE, format_kronor
from ledger.formats.sie.lexer import UNSAFE_ID, UNSAFE_TEXT, Record
from ledger.formats.sie.model import Trans

_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_DATE = re.compile(r"[0-9]{8}")
# Enough digits for any amount within the ledger's bound; int() stays cheap on longer junk.
_MAX_DIGITS = 20
# Labels whose content the ledger books or checks: a flaw in one refuses the file.
STRICT = frozenset(
    {"", "{", "}", "#VER", "#TRANS", "#RTRANS", "#BTRANS", "#RAR", "#KSUMMA", "#FORMAT"}
)
# What SIE types 1-3 carry instead of vouchers.
BALANCES = frozenset({"#IB", "#UB", "#RES", "#PSALDO", "#OIB", "#OUB", "#PBUDGET"})


class Bad(Exception):
    """A field is wrong; the parser turns it into a ``Problem`` of the record's line."""


def _unstorable(value: str, *, identifier: bool) -> str | None:
    """Why ``value`` cannot be stored and shown safely, or None.

    Nowhere: NUL (PostgreSQL text cannot hold it) and Unicode noncharacters (a workbook holding
    one does not open).  In identifiers also every control character (terminal escape sequences)
    and bidirectional overrides.
    """
    m = (UNSAFE_ID if identifier else UNSAFE_TEXT).search(value)
    if m is None:
        return None
    ch = m.group(0)
    kind = "a NUL character" if ch == "\x00" else f"the character U+{ord(ch):04X}"
    if "\ufdd0" <= ch <= "\ufdef" or (ord(ch) & 0xFFFE) == 0xFFFE:
        kind = f"the noncharacter U+{ord(ch):04X}"
    return kind


def field(rec: Record, index: int, what: str, *, required: bool = True) -> str:
    """Field ``index`` as a string; '' when absent and optional."""
    if index >= len(rec.fields):
        if required:
            raise Bad(f"{rec.label} is missing its {what}")
        return ""
    value = rec.fields[index]
    if not isinstance(value, str):
        raise Bad(f"{rec.label} has an object list where its {what} should be")
    return value


def identifier(rec: Record, value: str, what: str) -> str:
    if rec.clean:
        return value
    why = _unstorable(value, identifier=True)
    if why is not None:
        raise Bad(f"{rec.label} {what} holds {why}, which an identifier cannot")
    return value


def safe_text(rec: Record, value: str, what: str) -> str:
    if rec.clean:
        return value
    why = _unstorable(value, identifier=False)
    if why is not None:
        raise Bad(f"{rec.label} {what} holds {why}, which the ledger cannot store")
    return value


def whole(value: str, what: str, label: str) -> int:
    # Ten digits hold any CRC-32; the cap also keeps int() off absurdly long strings.
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise Bad(f"{label} {what} {value[:40]!r} is not a whole number")
    return int(value)


def ore(rec: Record, value: str) -> int:
    m = _AMOUNT.fullmatch(value)
    if m is None:
        raise Bad(f"{rec.label} amount {value[:40]!r} is not a number")
    sign, whole, frac = m.groups()
    if frac is not None and len(frac) > 2:
        raise Bad(f"{rec.label} amount {value!r} has more than two decimals")
    if len(whole) > _MAX_DIGITS:
        raise Bad(f"{rec.label} amount {value[:40]!r}... is beyond {format_kronor(MAX_ORE)}")
    ore = int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    if ore > MAX_ORE:
        # The one bound for money everywhere (API, plan files, SIE).
        raise Bad(f"{rec.label} amount {value!r} is beyond {format_kronor(MAX_ORE)}")
    return -ore if sign else ore


def day(rec: Record, value: str, what: str) -> dt.date:
    if _DATE.fullmatch(value) is None:
        raise Bad(f"{rec.label} {what} {value[:40]!r} is not a date (YYYYMMDD)")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise Bad(f"{rec.label} {what} {value!r} is not a valid date") from None


def _quantity(rec: Record, value: str) -> Decimal | None:
    if not value:
        return None
    if _AMOUNT.fullmatch(value) is None or len(value) > _MAX_DIGITS:
        raise Bad(f"{rec.label} quantity {value[:40]!r} is not a number")
    return Decimal(value)


def _objects(rec: Record, items: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    if not items:
        return ()
    if len(items) % 2:
        shown = " ".join(items)[:60]
        raise Bad(f"{rec.label} object list {{{shown}}} is not pairs of dimension and object")
    dims = [whole(d, "dimension", rec.label) for d in items[0::2]]
    if len(set(dims)) != len(dims):
        # One object per dimension: two would make the line's cost object ambiguous.
        raise Bad(f"{rec.label} object list names a dimension twice")
    codes = items[1::2] if rec.clean else [identifier(rec, code, "object") for code in items[1::2]]
    return tuple(zip(dims, codes, strict=True))


def row(rec: Record, line_no: int, change: str) -> Trans:
    """``#TRANS account {objects} amount [date] [text] [quantity] [sign]`` (also R/BTRANS)."""
    fields = rec.fields
    # The standard requires the object list, even empty ({}); tolerate exporters that drop it.
    if len(fields) > 1 and isinstance(fields[1], tuple):
        objects, rest = _objects(rec, fields[1]), fields[2:]
    else:
        objects, rest = (), fields[1:]
    account = fields[0] if fields else ""
    values = [v for v in rest if isinstance(v, str)]
    if not isinstance(account, str) or len(values) != len(rest):
        raise Bad(
            f"{rec.label} has an object list out of place (expected account {{objects}} amount)"
        )
    if not account:
        raise Bad(f"{rec.label} has no account number")
    if not values:
        raise Bad(f"{rec.label} is missing its amount")
    amount, on, text, quantity, signature = (*values, "", "", "", "")[:5]
    if not rec.clean:
        identifier(rec, account, "account")
        safe_text(rec, text, "text")
        safe_text(rec, signature, "signature")
    return Trans(
        line_no=line_no,
        account=account,
        objects=objects,
        amount_ore=ore(rec, amount),
        date=day(rec, on, "transaction date") if on else None,
        text=text or None,
        quantity=_quantity(rec, quantity),
        signature=signature or None,
        source_line=rec.line,
        change=change,
    )


def repeats(added: Trans, trans: Trans) -> bool:
    """Whether a #TRANS repeats an #RTRANS: the same booking; date, text and signature may differ
    (real files date the #RTRANS on the day of the correction, the #TRANS on the voucher's)."""
    return (added.account, sorted(added.objects), added.amount_ore, added.quantity) == (
        trans.account,
        sorted(trans.objects),
        trans.amount_ore,
        trans.quantity,
    )


def record_bytes(rec: Record, encoding: str) -> bytes:
    """What one record adds to the #KSUMMA checksum.

    SIE 4B ("Kontrollsummering"): CRC-32 (polynomial EDB88320, preset and final inversion
    FFFFFFFF: exactly zlib.crc32) over the label and the field contents of every record between
    the two #KSUMMA lines, concatenated with no separators: no blanks between fields, no quotes
    around a field (an escaped quote counts as the quote), no braces of object lists and nothing
    for the ``{`` / ``}`` lines of a voucher.  The standard sums the PC8 bytes; a UTF-8 file is
    summed in UTF-8 for lack of anything better.  A record that cannot be split is summed as
    its text without blanks, quotes and braces: the closest reading of what its writer summed.
    """
    if rec.label in ("{", "}"):
        return b""
    if rec.problem is not None:
        squeezed = "".join(ch for ch in rec.text if ch not in ' \t"{}')
        return (rec.raw_label + squeezed).encode(encoding, "replace")
    parts = [rec.raw_label]
    for f in rec.fields:
        parts.append(f if isinstance(f, str) else "".join(f))
    return "".join(parts).encode(encoding, "replace")
