"""Read a SIE 4 file into vouchers with exact amounts in öre.

``read_sie(raw)`` takes the file's bytes and returns a ``SieFile`` or raises ``SieError`` listing
every line that is wrong (up to a bound).  It does no I/O and no database work: the importer
decides what the vouchers mean for the ledger.

Strict where the ledger takes its figures from, lenient elsewhere (SIE filformat utgåva 4B):
- ``#VER``/``#TRANS``/``#RTRANS``/``#BTRANS``, ``#RAR``, ``#KSUMMA``, ``#FORMAT`` are checked and a
  flaw refuses the file: every ``#VER`` is followed by a ``{`` line and closed by a ``}`` line, its
  counted ``#TRANS`` lines sum to zero, an ``#RTRANS`` (a row added later) is followed by the
  ``#TRANS`` that repeats it (same account, objects, amount and quantity; the date and text may
  differ: real files give the ``#RTRANS`` the correction's date), and a ``#BTRANS`` (a row struck
  later) never counts;
- records the import does not use (``#KONTO``, ``#SRU``, ``#ADRESS``, …) that are malformed, and
  lines that are no record at all outside a voucher, are warnings in the answer, not refusals;
- ``#KSUMMA``: once an opening ``#KSUMMA`` is seen, a closing ``#KSUMMA <crc>`` must come and match
  (see ``_record_bytes`` for what is summed), and no record may sit outside the checksummed range.
Labels it does not know are ignored, as the standard asks.

Rows keep their place.  Bookkeeping law keeps a corrected voucher's struck rows visible, so an
ERP writes them where they stood (as ``#BTRANS``) and adds new rows after (``#RTRANS``): every row
of a voucher — kept, added or struck — takes the next ``line_no``, and a row is known by that
number in every later export of the voucher.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from ledger.domain.money import MAX_ORE, format_kronor
from ledger.errors import InvalidInput
from ledger.formats.sie.lexer import (
    UNSAFE_ID,
    UNSAFE_TEXT,
    Problem,
    Record,
    SieError,
    iter_records,
)

__all__ = [
    "SieError",
    "SieFile",
    "SieWarning",
    "TooManyLines",
    "Trans",
    "Voucher",
    "decode_sie",
    "parse_sie_lines",
    "read_sie",
]

KEPT, ADDED, STRUCK = "kept", "added", "struck"


@dataclass(frozen=True, slots=True)
class Trans:
    """One row of a voucher: a ``#TRANS``, an ``#RTRANS`` with its repeat, or a ``#BTRANS``."""

    line_no: int  # 1-based place among the voucher's rows (kept, added and struck alike)
    account: str
    objects: tuple[tuple[int, str], ...]  # (dimension, object code), in file order
    amount_ore: int
    date: dt.date | None = None
    text: str | None = None
    quantity: Decimal | None = None
    signature: str | None = None
    source_line: int = 0  # line in the file; 0 when not read from a file
    change: str = KEPT  # KEPT, ADDED (#RTRANS) or STRUCK (#BTRANS)


@dataclass(frozen=True, slots=True)
class Voucher:
    """A ``#VER``: its counted rows (which sum to zero) and the rows struck from it."""

    series: str
    number: str
    date: dt.date
    text: str
    transactions: tuple[Trans, ...]
    registered_on: dt.date | None = None
    signature: str | None = None
    source_line: int = 0
    struck: tuple[Trans, ...] = ()


@dataclass(frozen=True, slots=True)
class SieWarning:
    """Something odd the file survives: ``count`` lines like it, the first on ``line``."""

    code: str
    message: str
    line: int
    count: int = 1


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
    fiscal_year: tuple[dt.date, dt.date] | None = None  # #RAR 0: the year the vouchers are of
    balance_records: int = 0  # #IB, #UB, #RES, #PSALDO, ...: what SIE types 1-3 carry
    warnings: tuple[SieWarning, ...] = ()


class TooManyLines(InvalidInput):
    """A file with more transaction rows than one import takes (GRANTLEDGER_SIE_MAX_LINES)."""

    code = "sie-too-many-lines"
    title = "SIE file has too many lines for one import"

    def __init__(self, *, cap: int, line: int) -> None:
        super().__init__(
            f"line {line}: the file has more than {cap:,} transaction rows, the most one import "
            "takes (GRANTLEDGER_SIE_MAX_LINES): export a shorter period",
            cap=cap,
            line=line,
        )


# --- decoding ------------------------------------------------------------------------------

# Labels and the values that matter here are ASCII, so the declaration can be found in the bytes
# before knowing the encoding.  Some exporters quote the value: #FORMAT "PC8".
_FORMAT = re.compile(rb'^[ \t]*#FORMAT[ \t]+"?([^"\s]*)"?', re.MULTILINE | re.IGNORECASE)
_CODECS = {"PC8": "cp437", "UTF-8": "utf-8", "UTF8": "utf-8"}
_REPLACEMENT = "\ufffd"


def decode_sie(raw: bytes) -> tuple[str, str]:
    """The text of a SIE file and the codec used (``cp437`` or ``utf-8``)."""
    text, codec, _ = _decode(raw)
    return text, codec


def _decode(raw: bytes) -> tuple[str, str, list[SieWarning]]:
    """Text, codec and what was odd about the bytes.

    ``#FORMAT PC8`` means code page 437 and ``#FORMAT UTF-8`` UTF-8.  Without a declaration the
    standard's default is PC8, but a file that is valid UTF-8 is read as UTF-8: pure ASCII reads
    the same either way, and modern exporters that omit #FORMAT write UTF-8.  A file that says
    PC8 but whose non-ASCII bytes are all valid UTF-8 sequences was written as UTF-8 (CP437 text
    practically never forms them): it is read as UTF-8, with a warning, rather than turned into
    "∩┐╜vningsbolaget".
    """
    warnings: list[SieWarning] = []
    bom = raw.startswith(codecs.BOM_UTF8)
    declared = _FORMAT.search(raw)
    body = raw[len(codecs.BOM_UTF8) :] if bom else raw
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
        if codec == "cp437" and not body.isascii():
            as_utf8 = _utf8(body)
            if as_utf8 is not None:
                first, count = _non_ascii_lines(as_utf8)
                warnings.append(
                    SieWarning(
                        "utf8-declared-pc8",
                        f"#FORMAT on line {line} says PC8, but the file is UTF-8: read as UTF-8 "
                        f"({count} line(s) with letters beyond ASCII, the first on line {first})",
                        first,
                        count,
                    )
                )
                return as_utf8, "utf-8", warnings
    else:
        codec = "utf-8"
    if codec == "cp437":
        return body.decode("cp437"), codec, warnings
    try:
        return body.decode("utf-8"), codec, warnings
    except UnicodeDecodeError as e:
        if declared is None and not bom:
            return body.decode("cp437"), "cp437", warnings
        line = body.count(b"\n", 0, e.start) + 1
        raise SieError("the file declares UTF-8 but this line is not valid UTF-8", line=line) from e


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _non_ascii_lines(text: str) -> tuple[int, int]:
    lines = [n for n, line in enumerate(text.split("\n"), 1) if not line.isascii()]
    return lines[0], len(lines)


def _replacement_warning(text: str) -> SieWarning | None:
    if _REPLACEMENT not in text:
        return None
    lines = [n for n, line in enumerate(text.split("\n"), 1) if _REPLACEMENT in line]
    return SieWarning(
        "replacement-character",
        f"{len(lines)} line(s) hold U+FFFD, the mark of a character the exporter could not "
        f"write, the first on line {lines[0]}",
        lines[0],
        len(lines),
    )


def read_sie(raw: bytes, *, max_lines: int | None = None) -> SieFile:
    """Decode and parse a whole SIE 4 file; more than ``max_lines`` rows is refused."""
    text, codec, warnings = _decode(raw)
    replacement = _replacement_warning(text)
    if replacement is not None:
        warnings.append(replacement)
    sie = parse_sie_lines(text.split("\n"), encoding=codec, max_lines=max_lines)
    return replace(sie, warnings=(*warnings, *sie.warnings)) if warnings else sie


def parse_sie_lines(
    lines: Iterable[str], *, encoding: str = "utf-8", max_lines: int | None = None
) -> SieFile:
    """Parse decoded lines (any iterable, consumed once); ``encoding`` is what #KSUMMA sums."""
    parser = _Parser(encoding, max_lines)
    for record in iter_records(lines):
        parser.feed(record)
    return parser.finish()


# --- field helpers -------------------------------------------------------------------------

_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_DATE = re.compile(r"[0-9]{8}")
# Enough digits for any amount within the ledger's bound; int() stays cheap on longer junk.
_MAX_DIGITS = 20
# Labels whose content the ledger books or checks: a flaw in one refuses the file.
_STRICT = frozenset(
    {"", "{", "}", "#VER", "#TRANS", "#RTRANS", "#BTRANS", "#RAR", "#KSUMMA", "#FORMAT"}
)
# What SIE types 1-3 carry instead of vouchers.
_BALANCES = frozenset({"#IB", "#UB", "#RES", "#PSALDO", "#OIB", "#OUB", "#PBUDGET"})


class _Bad(Exception):
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


def _str(rec: Record, index: int, what: str, *, required: bool = True) -> str:
    """Field ``index`` as a string; '' when absent and optional."""
    if index >= len(rec.fields):
        if required:
            raise _Bad(f"{rec.label} is missing its {what}")
        return ""
    value = rec.fields[index]
    if not isinstance(value, str):
        raise _Bad(f"{rec.label} has an object list where its {what} should be")
    return value


def _id(rec: Record, value: str, what: str) -> str:
    if rec.clean:
        return value
    why = _unstorable(value, identifier=True)
    if why is not None:
        raise _Bad(f"{rec.label} {what} holds {why}, which an identifier cannot")
    return value


def _text(rec: Record, value: str, what: str) -> str:
    if rec.clean:
        return value
    why = _unstorable(value, identifier=False)
    if why is not None:
        raise _Bad(f"{rec.label} {what} holds {why}, which the ledger cannot store")
    return value


def _int(value: str, what: str, label: str) -> int:
    # Ten digits hold any CRC-32; the cap also keeps int() off absurdly long strings.
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise _Bad(f"{label} {what} {value[:40]!r} is not a whole number")
    return int(value)


def _ore(rec: Record, value: str) -> int:
    m = _AMOUNT.fullmatch(value)
    if m is None:
        raise _Bad(f"{rec.label} amount {value[:40]!r} is not a number")
    sign, whole, frac = m.groups()
    if frac is not None and len(frac) > 2:
        raise _Bad(f"{rec.label} amount {value!r} has more than two decimals")
    if len(whole) > _MAX_DIGITS:
        raise _Bad(f"{rec.label} amount {value[:40]!r}... is beyond {format_kronor(MAX_ORE)}")
    ore = int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    if ore > MAX_ORE:
        # The one bound for money everywhere (API, plan files, SIE).
        raise _Bad(f"{rec.label} amount {value!r} is beyond {format_kronor(MAX_ORE)}")
    return -ore if sign else ore


def _date(rec: Record, value: str, what: str) -> dt.date:
    if _DATE.fullmatch(value) is None:
        raise _Bad(f"{rec.label} {what} {value[:40]!r} is not a date (YYYYMMDD)")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise _Bad(f"{rec.label} {what} {value!r} is not a valid date") from None


def _quantity(rec: Record, value: str) -> Decimal | None:
    if not value:
        return None
    if _AMOUNT.fullmatch(value) is None or len(value) > _MAX_DIGITS:
        raise _Bad(f"{rec.label} quantity {value[:40]!r} is not a number")
    return Decimal(value)


def _objects(rec: Record, items: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    if not items:
        return ()
    if len(items) % 2:
        shown = " ".join(items)[:60]
        raise _Bad(f"{rec.label} object list {{{shown}}} is not pairs of dimension and object")
    dims = [_int(d, "dimension", rec.label) for d in items[0::2]]
    if len(set(dims)) != len(dims):
        # One object per dimension: two would make the line's cost object ambiguous.
        raise _Bad(f"{rec.label} object list names a dimension twice")
    codes = items[1::2] if rec.clean else [_id(rec, code, "object") for code in items[1::2]]
    return tuple(zip(dims, codes, strict=True))


def _trans(rec: Record, line_no: int, change: str) -> Trans:
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
        raise _Bad(
            f"{rec.label} has an object list out of place (expected account {{objects}} amount)"
        )
    if not account:
        raise _Bad(f"{rec.label} has no account number")
    if not values:
        raise _Bad(f"{rec.label} is missing its amount")
    amount, on, text, quantity, signature = (*values, "", "", "", "")[:5]
    if not rec.clean:
        _id(rec, account, "account")
        _text(rec, text, "text")
        _text(rec, signature, "signature")
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
        change=change,
    )


def _repeats(added: Trans, trans: Trans) -> bool:
    """Whether a #TRANS repeats an #RTRANS: the same booking; date, text and signature may differ
    (real files date the #RTRANS on the day of the correction, the #TRANS on the voucher's)."""
    return (added.account, sorted(added.objects), added.amount_ore, added.quantity) == (
        trans.account,
        sorted(trans.objects),
        trans.amount_ore,
        trans.quantity,
    )


def _record_bytes(rec: Record, encoding: str) -> bytes:
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


# --- the parser ----------------------------------------------------------------------------

_KS_NONE, _KS_OPEN, _KS_CLOSED = 0, 1, 2
# Records that mean nothing outside a #VER block: money lines there would be silently lost.
_IN_VOUCHER_ONLY = frozenset({"{", "}", "#TRANS", "#RTRANS", "#BTRANS"})
_ROWS = frozenset({"#TRANS", "#RTRANS", "#BTRANS"})


class _Parser:
    """Consumes records one at a time; holds only the voucher being read besides the result."""

    def __init__(self, encoding: str, max_lines: int | None) -> None:
        self.encoding = encoding
        self.max_lines = max_lines
        self.rows = 0
        self.flag: int | None = None
        self.format: str | None = None
        self.program: str | None = None
        self.program_version: str | None = None
        self.sie_type: str | None = None
        self.company_name: str | None = None
        self.dimensions: dict[int, str] = {}
        self.objects: dict[tuple[int, str], str] = {}
        self.fiscal_year: tuple[dt.date, dt.date] | None = None
        self.balance_records = 0
        self.vouchers: list[Voucher] = []
        self.problems: list[Problem] = []
        # Malformed records the import does not use, by label: (first line, count, reason).
        self.lenient: dict[str, tuple[int, int, str]] = {}
        # The voucher being read (its #VER's fields, rows still to come), whether its '{' has
        # been seen, and whether one of its rows was wrong (then its balance is not checked).
        self.head: Voucher | None = None
        self.in_block = False
        self.broken = False
        self.slot = 0
        self.trans: list[Trans] = []
        self.struck: list[Trans] = []
        self.rtrans: Trans | None = None
        # #KSUMMA state; ``unchecked`` is the first record (other than #FLAGGA) seen before it.
        self.ks_state = _KS_NONE
        self.ks_line = 0
        self.crc = 0
        self.checksum: int | None = None
        self.unchecked: Record | None = None

    def problem(self, rec: Record, reason: str, *, line: int | None = None) -> None:
        self.problems.append(Problem(line or rec.line, rec.label or None, reason))

    def feed(self, rec: Record) -> None:
        label = rec.label
        if label in _ROWS:
            self.rows += 1
            if self.max_lines is not None and self.rows > self.max_lines:
                raise TooManyLines(cap=self.max_lines, line=rec.line)
        if label == "#KSUMMA":
            self._guarded(rec, self._ksumma)
            return
        if self.ks_state == _KS_OPEN:
            self.crc = zlib.crc32(_record_bytes(rec, self.encoding), self.crc)
        elif self.ks_state == _KS_CLOSED:
            self.problem(
                rec, f"{label or 'a line'} comes after the closing #KSUMMA, outside the checksum"
            )
        elif self.unchecked is None and label != "#FLAGGA":
            self.unchecked = rec

        if self.head is not None:
            self._in_voucher(rec)
            return
        if rec.problem is not None:
            if label in _STRICT:
                self.problem(rec, rec.problem)
            else:
                self._lenient(rec, rec.problem)
            return
        if label == "#VER":
            self._guarded(rec, self._open_voucher)
        elif label in _IN_VOUCHER_ONLY:
            self.problem(rec, f"{label} outside a voucher (no #VER before it)")
        elif label in _BALANCES:
            self.balance_records += 1
        else:
            handler = _HEADER.get(label)
            if handler is not None:
                if label in _STRICT:
                    self._guarded(rec, lambda r: handler(self, r))
                else:
                    try:
                        handler(self, rec)
                    except _Bad as e:
                        self._lenient(rec, str(e))

    def _guarded(self, rec: Record, handler: Callable[[Record], None]) -> None:
        try:
            handler(rec)
        except _Bad as e:
            self.problem(rec, str(e))

    def _lenient(self, rec: Record, reason: str) -> None:
        key = rec.label or "(not a record)"
        first, count, why = self.lenient.get(key, (rec.line, 0, reason))
        self.lenient[key] = (first, count + 1, why)

    def finish(self) -> SieFile:
        if self.head is not None:
            self.problems.append(
                Problem(self.head.source_line, "#VER", "#VER is never closed with '}'")
            )
        if self.ks_state == _KS_OPEN:
            self.problems.append(
                Problem(
                    self.ks_line,
                    "#KSUMMA",
                    "#KSUMMA has no closing '#KSUMMA <checksum>': the file is truncated",
                )
            )
        if self.problems:
            raise SieError.of(sorted(self.problems, key=lambda p: p.line))
        warnings = tuple(
            SieWarning(
                "malformed-record",
                f"{count} {label} record(s) could not be read and were ignored (the import does "
                f"not use them), the first on line {first}: {why}",
                first,
                count,
            )
            for label, (first, count, why) in sorted(self.lenient.items(), key=lambda i: i[1][0])
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
            fiscal_year=self.fiscal_year,
            balance_records=self.balance_records,
            warnings=warnings,
        )

    # -- vouchers --

    def _in_voucher(self, rec: Record) -> None:
        assert self.head is not None
        ver_line = self.head.source_line
        label = rec.label
        if not self.in_block:
            if label != "{":
                self.problem(
                    rec,
                    f"#VER on line {ver_line} must be followed by a '{{' line, "
                    f"not {label or 'text'}",
                )
                self.broken = True
                if label not in _ROWS:
                    return
            self.in_block = True
            if label == "{":
                return
        if rec.problem is not None:
            self.problem(rec, rec.problem)
            self.broken = True
            if label in _ROWS:
                self.slot += 1
            return
        if self.rtrans is not None and label != "#TRANS":
            self.problem(
                rec,
                f"#RTRANS on line {self.rtrans.source_line} must be followed by the #TRANS "
                "that repeats it",
            )
            self.broken = True
            self.rtrans = None
        try:
            if label == "#TRANS":
                if self.rtrans is not None:
                    added, self.rtrans = self.rtrans, None
                    trans = _trans(rec, added.line_no, ADDED)
                    if not _repeats(added, trans):
                        raise _Bad(
                            f"#TRANS differs from the #RTRANS on line {added.source_line} it "
                            "must repeat (account, objects, amount and quantity)"
                        )
                else:
                    self.slot += 1
                    trans = _trans(rec, self.slot, KEPT)
                self.trans.append(trans)
            elif label == "#RTRANS":
                # The added row counts once, through the #TRANS that repeats it.
                self.slot += 1
                self.rtrans = _trans(rec, self.slot, ADDED)
            elif label == "#BTRANS":
                self.slot += 1
                self.struck.append(_trans(rec, self.slot, STRUCK))
            elif label == "}":
                self._close_voucher()
            elif label in ("#VER", "{"):
                self.problem(
                    rec,
                    f"{label} inside the voucher of line {ver_line}, which is not closed with '}}'",
                )
                self._reset()
                if label == "#VER":
                    self._guarded(rec, self._open_voucher)
        except _Bad as e:
            self.problem(rec, str(e))
            self.broken = True

    def _open_voucher(self, rec: Record) -> None:
        """``#VER series number date [text] [regdate] [sign]``, checked before its block."""
        self._reset()
        try:
            registered = _str(rec, 4, "registration date", required=False)
            self.head = Voucher(
                series=_id(rec, _str(rec, 0, "series"), "series"),
                number=_id(rec, _str(rec, 1, "number"), "number"),
                date=_date(rec, _str(rec, 2, "date"), "date"),
                text=_text(rec, _str(rec, 3, "text", required=False), "text"),
                transactions=(),
                registered_on=_date(rec, registered, "registration date") if registered else None,
                signature=_text(rec, _str(rec, 5, "signature", required=False), "signature")
                or None,
                source_line=rec.line,
            )
        except _Bad:
            # A broken voucher still owns its block: its rows are not "outside a voucher".
            self.head = Voucher("", "", dt.date.min, "", (), source_line=rec.line)
            self.broken = True
            raise

    def _reset(self) -> None:
        self.head = None
        self.in_block = False
        self.broken = False
        self.slot = 0
        self.trans = []
        self.struck = []
        self.rtrans = None

    def _close_voucher(self) -> None:
        head = self.head
        assert head is not None
        total = sum(t.amount_ore for t in self.trans)
        if total and not self.broken:
            name = f"voucher {head.series or '-'} {head.number or '-'} of {head.date.isoformat()}"
            self.problems.append(
                Problem(
                    head.source_line,
                    "#VER",
                    f"{name} does not balance: its #TRANS amounts sum to "
                    f"{format_kronor(total)}, not 0",
                )
            )
        elif not self.broken:
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
                    tuple(self.struck),
                )
            )
        self._reset()

    # -- checksum --

    def _ksumma(self, rec: Record) -> None:
        if rec.problem is not None:
            raise _Bad(rec.problem)
        if not rec.fields:
            if self.ks_state != _KS_NONE:
                raise _Bad("a second opening #KSUMMA")
            if self.unchecked is not None:
                self.problems.append(
                    Problem(
                        self.unchecked.line,
                        self.unchecked.label or None,
                        f"{self.unchecked.label or 'a line'} comes before the opening #KSUMMA "
                        f"on line {rec.line}, outside the checksum (only #FLAGGA may)",
                    )
                )
            self.ks_state, self.ks_line, self.crc = _KS_OPEN, rec.line, 0
            return
        if self.ks_state != _KS_OPEN:
            raise _Bad("#KSUMMA with a checksum but no opening #KSUMMA before it")
        value = _str(rec, 0, "checksum")
        declared = _int(value.removeprefix("-"), "checksum", rec.label)
        if value.startswith("-"):
            # Some exporters print the CRC as a signed 32-bit integer.
            declared = -declared & 0xFFFFFFFF
        self.ks_state = _KS_CLOSED
        if declared != self.crc:
            raise _Bad(
                f"#KSUMMA {value} does not match the records from line "
                f"{self.ks_line} to here, which sum to {self.crc}"
            )
        self.checksum = self.crc

    # -- header records --

    def _flagga(self, rec: Record) -> None:
        self.flag = _int(_str(rec, 0, "flag"), "flag", rec.label)

    def _format(self, rec: Record) -> None:
        self.format = _str(rec, 0, "format")

    def _program(self, rec: Record) -> None:
        self.program = _text(rec, _str(rec, 0, "program name"), "program name")
        self.program_version = (
            _text(rec, _str(rec, 1, "version", required=False), "version") or None
        )

    def _sietyp(self, rec: Record) -> None:
        self.sie_type = _text(rec, _str(rec, 0, "type"), "type")

    def _fnamn(self, rec: Record) -> None:
        self.company_name = _text(rec, _str(rec, 0, "company name"), "company name")

    def _rar(self, rec: Record) -> None:
        """``#RAR year start end``: year 0 is the one the vouchers belong to."""
        if _int(_str(rec, 0, "year number").removeprefix("-"), "year number", rec.label) != 0:
            return
        start = _date(rec, _str(rec, 1, "start"), "start")
        end = _date(rec, _str(rec, 2, "end"), "end")
        if end < start:
            raise _Bad(f"#RAR 0 ends ({end}) before it starts ({start})")
        self.fiscal_year = (start, end)

    def _dim(self, rec: Record) -> None:
        # #UNDERDIM dim name superdim declares a dimension too; its parent does not matter here.
        dim = _int(_str(rec, 0, "dimension number"), "dimension number", rec.label)
        self.dimensions[dim] = _text(rec, _str(rec, 1, "name"), "name")

    def _objekt(self, rec: Record) -> None:
        dim = _int(_str(rec, 0, "dimension number"), "dimension number", rec.label)
        code = _str(rec, 1, "object code")
        self.objects[(dim, code)] = _text(rec, _str(rec, 2, "name"), "name")


_HEADER = {
    "#FLAGGA": _Parser._flagga,
    "#FORMAT": _Parser._format,
    "#PROGRAM": _Parser._program,
    "#SIETYP": _Parser._sietyp,
    "#FNAMN": _Parser._fnamn,
    "#RAR": _Parser._rar,
    "#DIM": _Parser._dim,
    "#UNDERDIM": _Parser._dim,
    "#OBJEKT": _Parser._objekt,
}
