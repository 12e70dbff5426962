"""Read a SIE 4 file into vouchers with exact amounts in öre.

``read_sie(raw)`` takes the file's bytes and returns a ``SieFile`` or raises ``SieError`` naming the
line, the record and what is wrong.  It does no I/O and no database work: the importer decides
what the vouchers mean for the ledger.

What it checks, beyond syntax (SIE filformat utgåva 4B):
- every ``#VER`` is followed by a ``{`` line and closed by a ``}`` line, and the amounts of its
  counted ``#TRANS`` lines sum to zero;
- ``#RTRANS`` (a line added later) is followed by an identical ``#TRANS``, which counts once;
  ``#BTRANS`` (a line removed later) is validated but does not count;
- ``#KSUMMA``: once an opening ``#KSUMMA`` is seen, a closing ``#KSUMMA <crc>`` must come and match
  (see ``_record_bytes`` for what is summed), and no record may sit outside the checksummed range.
Labels it does not know are ignored, as the standard asks.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ledger.sie.lexer import Record, SieError, iter_records

__all__ = ["SieError", "SieFile", "Trans", "Voucher", "decode_sie", "parse_sie_lines", "read_sie"]


@dataclass(frozen=True, slots=True)
class Trans:
    """One counted ``#TRANS`` line of a voucher."""

    line_no: int  # 1-based among the counted #TRANS lines of its voucher
    account: str
    objects: tuple[tuple[int, str], ...]  # (dimension, object code), in file order
    amount_ore: int
    date: dt.date | None = None
    text: str | None = None
    quantity: Decimal | None = None
    signature: str | None = None
    source_line: int = 0  # line in the file; 0 when not read from a file


@dataclass(frozen=True, slots=True)
class Voucher:
    """A ``#VER`` with its counted transactions (which sum to zero)."""

    series: str
    number: str
    date: dt.date
    text: str
    transactions: tuple[Trans, ...]
    registered_on: dt.date | None = None
    signature: str | None = None
    source_line: int = 0


@dataclass(frozen=True, slots=True)
class SieFile:
    """What a SIE file says: its identification, dimensions and objects, and its vouchers."""

    flag: int | None
    format: str | None  # as declared by #FORMAT ("PC8", "UTF-8"); None when absent
    encoding: str  # the codec the bytes were decoded with: "cp437" or "utf-8"
    program: str | None
    program_version: str | None
    sie_type: str | None
    company_name: str | None
    dimensions: dict[int, str]
    objects: dict[tuple[int, str], str]
    vouchers: tuple[Voucher, ...]
    checksum: int | None = None  # the verified #KSUMMA value, when the file carries one


# --- decoding ------------------------------------------------------------------------------

# Labels and the values that matter here are ASCII, so the declaration can be found in the bytes
# before knowing the encoding.  Some exporters quote the value: #FORMAT "PC8".
_FORMAT = re.compile(rb'^[ \t]*#FORMAT[ \t]+"?([^"\s]*)"?', re.MULTILINE | re.IGNORECASE)
_CODECS = {"PC8": "cp437", "UTF-8": "utf-8", "UTF8": "utf-8"}


def decode_sie(raw: bytes) -> tuple[str, str]:
    """The text of a SIE file and the codec used (``cp437`` or ``utf-8``).

    ``#FORMAT PC8`` means code page 437 and ``#FORMAT UTF-8`` UTF-8.  Without a declaration the
    standard's default is PC8, but a file that is valid UTF-8 is read as UTF-8: pure ASCII reads
    the same either way, and modern exporters that omit #FORMAT write UTF-8.
    """
    bom = raw.startswith(codecs.BOM_UTF8)
    declared = _FORMAT.search(raw)
    if declared is not None:
        value = declared.group(1).decode("ascii", "replace").upper()
        line = raw.count(b"\n", 0, declared.start()) + 1
        codec = _CODECS.get(value)
        if codec is None:
            raise SieError(
                f"#FORMAT {value!r} is not supported: expected PC8 or UTF-8",
                line=line,
                record="#FORMAT",
            )
        if bom and codec == "cp437":
            raise SieError(
                "#FORMAT says PC8 but the file starts with a UTF-8 byte-order mark",
                line=line,
                record="#FORMAT",
            )
    else:
        codec = "utf-8"
    body = raw[len(codecs.BOM_UTF8) :] if bom else raw
    if codec == "cp437":
        return body.decode("cp437"), codec
    try:
        return body.decode("utf-8"), codec
    except UnicodeDecodeError as e:
        if declared is None and not bom:
            return body.decode("cp437"), "cp437"
        line = body.count(b"\n", 0, e.start) + 1
        raise SieError("the file declares UTF-8 but this line is not valid UTF-8", line=line) from e


def read_sie(raw: bytes) -> SieFile:
    """Decode and parse a whole SIE 4 file."""
    text, codec = decode_sie(raw)
    return parse_sie_lines(text.split("\n"), encoding=codec)


def parse_sie_lines(lines: Iterable[str], *, encoding: str = "utf-8") -> SieFile:
    """Parse decoded lines (any iterable, consumed once); ``encoding`` is what #KSUMMA sums."""
    parser = _Parser(encoding)
    for record in iter_records(lines):
        parser.feed(record)
    return parser.finish()


# --- field helpers -------------------------------------------------------------------------

_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_DATE = re.compile(r"[0-9]{8}")
# 10^15 kr is far beyond any grant (the API refuses more than 10^13) yet exact in öre as an int.
_MAX_KRONA_DIGITS = 15


def _kr(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def _str(rec: Record, index: int, what: str, *, required: bool = True) -> str:
    """Field ``index`` as a string; '' when absent and optional."""
    if index >= len(rec.fields):
        if required:
            raise SieError(f"{rec.label} is missing its {what}", line=rec.line, record=rec.label)
        return ""
    value = rec.fields[index]
    if not isinstance(value, str):
        raise SieError(
            f"{rec.label} has an object list where its {what} should be",
            line=rec.line,
            record=rec.label,
        )
    return value


def _int(rec: Record, value: str, what: str) -> int:
    # Ten digits hold any CRC-32; the cap also keeps int() off absurdly long strings.
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise SieError(
            f"{rec.label} {what} {value!r} is not a whole number", line=rec.line, record=rec.label
        )
    return int(value)


def _ore(rec: Record, value: str) -> int:
    m = _AMOUNT.fullmatch(value)
    if m is None:
        raise SieError(
            f"{rec.label} amount {value!r} is not a number", line=rec.line, record=rec.label
        )
    sign, whole, frac = m.groups()
    if len(whole) > _MAX_KRONA_DIGITS:
        raise SieError(
            f"{rec.label} amount {value!r} is too large", line=rec.line, record=rec.label
        )
    if frac is not None and len(frac) > 2:
        raise SieError(
            f"{rec.label} amount {value!r} has more than two decimals",
            line=rec.line,
            record=rec.label,
        )
    ore = int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    return -ore if sign else ore


def _date(rec: Record, value: str, what: str) -> dt.date:
    if _DATE.fullmatch(value) is None:
        raise SieError(
            f"{rec.label} {what} {value!r} is not a date (YYYYMMDD)",
            line=rec.line,
            record=rec.label,
        )
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise SieError(
            f"{rec.label} {what} {value!r} is not a valid date", line=rec.line, record=rec.label
        ) from None


def _quantity(rec: Record, value: str) -> Decimal | None:
    if not value:
        return None
    if _AMOUNT.fullmatch(value) is None:
        raise SieError(
            f"{rec.label} quantity {value!r} is not a number", line=rec.line, record=rec.label
        )
    return Decimal(value)


def _objects(rec: Record, items: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    if not items:
        return ()
    if len(items) % 2:
        raise SieError(
            f"{rec.label} object list {{{' '.join(items)}}} is not pairs of dimension and object",
            line=rec.line,
            record=rec.label,
        )
    dims = [_int(rec, d, "dimension") for d in items[0::2]]
    if len(set(dims)) != len(dims):
        # One object per dimension: two would make the line's cost object ambiguous.
        raise SieError(
            f"{rec.label} object list names a dimension twice", line=rec.line, record=rec.label
        )
    return tuple(zip(dims, items[1::2], strict=True))


def _trans(rec: Record, line_no: int) -> Trans:
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
        raise SieError(
            f"{rec.label} has an object list out of place (expected account {{objects}} amount)",
            line=rec.line,
            record=rec.label,
        )
    if not account:
        raise SieError(f"{rec.label} has no account number", line=rec.line, record=rec.label)
    if not values:
        raise SieError(f"{rec.label} is missing its amount", line=rec.line, record=rec.label)
    amount, on, text, quantity, signature = (*values, "", "", "", "")[:5]
    return Trans(
        line_no=line_no,
        account=account,
        objects=objects,
        amount_ore=_ore(rec, amount),
        date=_date(rec, on, "transaction date") if on else None,
        text=text or None,
        quantity=_quantity(rec, quantity),
        signature=signature or None,
        source_line=rec.line,
    )


def _same_line(a: Trans, b: Trans) -> bool:
    """Whether a #TRANS repeats an #RTRANS (the signature may differ: who added vs. who wrote)."""
    return (a.account, sorted(a.objects), a.amount_ore, a.date, a.text, a.quantity) == (
        b.account,
        sorted(b.objects),
        b.amount_ore,
        b.date,
        b.text,
        b.quantity,
    )


def _record_bytes(rec: Record, encoding: str) -> bytes:
    """What one record adds to the #KSUMMA checksum.

    SIE 4B ("Kontrollsummering"): CRC-32 (polynomial EDB88320, preset and final inversion
    FFFFFFFF: exactly zlib.crc32) over the label and the field contents of every record between
    the two #KSUMMA lines, concatenated with no separators: no blanks between fields, no quotes
    around a field (an escaped quote counts as the quote), no braces of object lists and nothing
    for the ``{`` / ``}`` lines of a voucher.  The standard sums the PC8 bytes; a UTF-8 file is
    summed in UTF-8 for lack of anything better.
    """
    if rec.label in ("{", "}"):
        return b""
    parts = [rec.raw_label]
    for f in rec.fields:
        parts.append(f if isinstance(f, str) else "".join(f))
    return "".join(parts).encode(encoding)


# --- the parser ----------------------------------------------------------------------------

_KS_NONE, _KS_OPEN, _KS_CLOSED = 0, 1, 2
# Records that mean nothing outside a #VER block: money lines there would be silently lost.
_IN_VOUCHER_ONLY = frozenset({"{", "}", "#TRANS", "#RTRANS", "#BTRANS"})


class _Parser:
    """Consumes records one at a time; holds only the voucher being read besides the result."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.flag: int | None = None
        self.format: str | None = None
        self.program: str | None = None
        self.program_version: str | None = None
        self.sie_type: str | None = None
        self.company_name: str | None = None
        self.dimensions: dict[int, str] = {}
        self.objects: dict[tuple[int, str], str] = {}
        self.vouchers: list[Voucher] = []
        # The voucher being read (its #VER's fields, transactions still to come) and whether
        # its '{' has been seen.
        self.head: Voucher | None = None
        self.in_block = False
        self.trans: list[Trans] = []
        self.rtrans: Trans | None = None
        # #KSUMMA state; ``unchecked`` is the first record (other than #FLAGGA) seen before it.
        self.ks_state = _KS_NONE
        self.ks_line = 0
        self.crc = 0
        self.checksum: int | None = None
        self.unchecked: Record | None = None

    def feed(self, rec: Record) -> None:
        label = rec.label
        if label == "#KSUMMA":
            self._ksumma(rec)
            return
        if self.ks_state == _KS_OPEN:
            self.crc = zlib.crc32(_record_bytes(rec, self.encoding), self.crc)
        elif self.ks_state == _KS_CLOSED:
            raise SieError(
                f"{label} comes after the closing #KSUMMA, outside the checksum",
                line=rec.line,
                record=label,
            )
        elif self.unchecked is None and label != "#FLAGGA":
            self.unchecked = rec

        if self.head is not None:
            self._in_voucher(rec)
        elif label == "#VER":
            self._open_voucher(rec)
        elif label in _IN_VOUCHER_ONLY:
            raise SieError(
                f"{label} outside a voucher (no #VER before it)", line=rec.line, record=label
            )
        else:
            handler = _HEADER.get(label)
            if handler is not None:
                handler(self, rec)

    def finish(self) -> SieFile:
        if self.head is not None:
            raise SieError(
                "#VER is never closed with '}'", line=self.head.source_line, record="#VER"
            )
        if self.ks_state == _KS_OPEN:
            raise SieError(
                "#KSUMMA has no closing '#KSUMMA <checksum>': the file is truncated",
                line=self.ks_line,
                record="#KSUMMA",
            )
        return SieFile(
            flag=self.flag,
            format=self.format,
            encoding=self.encoding,
            program=self.program,
            program_version=self.program_version,
            sie_type=self.sie_type,
            company_name=self.company_name,
            dimensions=self.dimensions,
            objects=self.objects,
            vouchers=tuple(self.vouchers),
            checksum=self.checksum,
        )

    # -- vouchers --

    def _in_voucher(self, rec: Record) -> None:
        assert self.head is not None
        ver_line = self.head.source_line
        label = rec.label
        if not self.in_block:
            if label != "{":
                raise SieError(
                    f"#VER on line {ver_line} must be followed by a '{{' line, not {label}",
                    line=rec.line,
                    record=label,
                )
            self.in_block = True
            return
        if self.rtrans is not None and label != "#TRANS":
            raise SieError(
                f"#RTRANS on line {self.rtrans.source_line} must be followed by an "
                "identical #TRANS",
                line=rec.line,
                record=label,
            )
        if label == "#TRANS":
            trans = _trans(rec, len(self.trans) + 1)
            if self.rtrans is not None:
                if not _same_line(self.rtrans, trans):
                    raise SieError(
                        f"#TRANS differs from the #RTRANS on line "
                        f"{self.rtrans.source_line} it must repeat",
                        line=rec.line,
                        record=label,
                    )
                self.rtrans = None
            self.trans.append(trans)
        elif label == "#RTRANS":
            # The added line counts once, through the #TRANS that repeats it.
            self.rtrans = _trans(rec, len(self.trans) + 1)
        elif label == "#BTRANS":
            _trans(rec, 0)  # a removed line: checked for form, never counted
        elif label == "}":
            self._close_voucher()
        elif label in ("#VER", "{"):
            raise SieError(
                f"{label} inside the voucher of line {ver_line}, which is not closed with '}}'",
                line=rec.line,
                record=label,
            )

    def _open_voucher(self, rec: Record) -> None:
        """``#VER series number date [text] [regdate] [sign]``, checked before its block."""
        on = _date(rec, _str(rec, 2, "date"), "date")
        registered = _str(rec, 4, "registration date", required=False)
        self.head = Voucher(
            series=_str(rec, 0, "series"),
            number=_str(rec, 1, "number"),
            date=on,
            text=_str(rec, 3, "text", required=False),
            transactions=(),
            registered_on=_date(rec, registered, "registration date") if registered else None,
            signature=_str(rec, 5, "signature", required=False) or None,
            source_line=rec.line,
        )
        self.in_block = False
        self.trans = []

    def _close_voucher(self) -> None:
        head = self.head
        assert head is not None
        total = sum(t.amount_ore for t in self.trans)
        if total:
            name = f"voucher {head.series or '-'} {head.number or '-'} of {head.date.isoformat()}"
            raise SieError(
                f"{name} does not balance: its #TRANS amounts sum to {_kr(total)}, not 0",
                line=head.source_line,
                record="#VER",
            )
        self.vouchers.append(
            Voucher(
                head.series,
                head.number,
                head.date,
                head.text,
                tuple(self.trans),
                head.registered_on,
                head.signature,
                head.source_line,
            )
        )
        self.head = None
        self.in_block = False
        self.trans = []

    # -- checksum --

    def _ksumma(self, rec: Record) -> None:
        if not rec.fields:
            if self.ks_state != _KS_NONE:
                raise SieError("a second opening #KSUMMA", line=rec.line, record="#KSUMMA")
            if self.unchecked is not None:
                raise SieError(
                    f"{self.unchecked.label} comes before the opening #KSUMMA on line "
                    f"{rec.line}, outside the checksum (only #FLAGGA may)",
                    line=self.unchecked.line,
                    record=self.unchecked.label,
                )
            self.ks_state, self.ks_line, self.crc = _KS_OPEN, rec.line, 0
            return
        if self.ks_state != _KS_OPEN:
            raise SieError(
                "#KSUMMA with a checksum but no opening #KSUMMA before it",
                line=rec.line,
                record="#KSUMMA",
            )
        value = _str(rec, 0, "checksum")
        declared = _int(rec, value.removeprefix("-"), "checksum")
        if value.startswith("-"):
            # Some exporters print the CRC as a signed 32-bit integer.
            declared = -declared & 0xFFFFFFFF
        if declared != self.crc:
            raise SieError(
                f"#KSUMMA {value} does not match the records from line "
                f"{self.ks_line} to here, which sum to {self.crc}",
                line=rec.line,
                record="#KSUMMA",
            )
        self.ks_state, self.checksum = _KS_CLOSED, self.crc

    # -- header records --

    def _flagga(self, rec: Record) -> None:
        self.flag = _int(rec, _str(rec, 0, "flag"), "flag")

    def _format(self, rec: Record) -> None:
        self.format = _str(rec, 0, "format")

    def _program(self, rec: Record) -> None:
        self.program = _str(rec, 0, "program name")
        self.program_version = _str(rec, 1, "version", required=False) or None

    def _sietyp(self, rec: Record) -> None:
        self.sie_type = _str(rec, 0, "type")

    def _fnamn(self, rec: Record) -> None:
        self.company_name = _str(rec, 0, "company name")

    def _dim(self, rec: Record) -> None:
        # #UNDERDIM dim name superdim declares a dimension too; its parent does not matter here.
        dim = _int(rec, _str(rec, 0, "dimension number"), "dimension number")
        self.dimensions[dim] = _str(rec, 1, "name")

    def _objekt(self, rec: Record) -> None:
        dim = _int(rec, _str(rec, 0, "dimension number"), "dimension number")
        code = _str(rec, 1, "object code")
        self.objects[(dim, code)] = _str(rec, 2, "name")


_HEADER = {
    "#FLAGGA": _Parser._flagga,
    "#FORMAT": _Parser._format,
    "#PROGRAM": _Parser._program,
    "#SIETYP": _Parser._sietyp,
    "#FNAMN": _Parser._fnamn,
    "#DIM": _Parser._dim,
    "#UNDERDIM": _Parser._dim,
    "#OBJEKT": _Parser._objekt,
}
