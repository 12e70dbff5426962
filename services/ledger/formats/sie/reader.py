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
- ``#KSUMMA``: once an opening ``#KSUMMA`` is seen, a closing ``#KSUMMA <crc>`` must come and
  match (see ``fields.record_bytes`` for what is summed), and no record may sit outside the
  checksummed range.
Labels it does not know are ignored, as the standard asks.

Rows keep their place.  Bookkeeping law keeps a corrected voucher's struck rows visible, so an
ERP writes them where they stood (as ``#BTRANS``) and adds new rows after (``#RTRANS``): every row
of a voucher — kept, added or struck — takes the next ``line_no``, and a row is known by that
number in every later export of the voucher.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Iterable
from dataclasses import replace

from ledger.domain.money import format_kronor
from ledger.formats.sie import fields as f
from ledger.formats.sie.encoding import decode, replacement_warning
from ledger.formats.sie.lexer import Problem, Record, SieError, TooManyLines, iter_records
from ledger.formats.sie.model import ADDED, KEPT, STRUCK, SieFile, SieWarning, Trans, Voucher

__all__ = ["SieFile", "Trans", "Voucher", "parse_sie_lines", "read_sie"]


def read_sie(raw: bytes, *, max_lines: int | None = None) -> SieFile:
    """Decode and parse a whole SIE 4 file; more than ``max_lines`` rows is refused."""
    text, codec, warnings = decode(raw)
    replacement = replacement_warning(text)
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
            self.crc = zlib.crc32(f.record_bytes(rec, self.encoding), self.crc)
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
            if label in f.STRICT:
                self.problem(rec, rec.problem)
            else:
                self._lenient(rec, rec.problem)
            return
        if label == "#VER":
            self._guarded(rec, self._open_voucher)
        elif label in _IN_VOUCHER_ONLY:
            self.problem(rec, f"{label} outside a voucher (no #VER before it)")
        elif label in f.BALANCES:
            self.balance_records += 1
        else:
            handler = _HEADER.get(label)
            if handler is not None:
                if label in f.STRICT:
                    self._guarded(rec, lambda r: handler(self, r))
                else:
                    try:
                        handler(self, rec)
                    except f.Bad as e:
                        self._lenient(rec, str(e))

    def _guarded(self, rec: Record, handler: Callable[[Record], None]) -> None:
        try:
            handler(rec)
        except f.Bad as e:
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
                    trans = f.row(rec, added.line_no, ADDED)
                    if not f.repeats(added, trans):
                        raise f.Bad(
                            f"#TRANS differs from the #RTRANS on line {added.source_line} it "
                            "must repeat (account, objects, amount and quantity)"
                        )
                else:
                    self.slot += 1
                    trans = f.row(rec, self.slot, KEPT)
                self.trans.append(trans)
            elif label == "#RTRANS":
                # The added row counts once, through the #TRANS that repeats it.
                self.slot += 1
                self.rtrans = f.row(rec, self.slot, ADDED)
            elif label == "#BTRANS":
                self.slot += 1
                self.struck.append(f.row(rec, self.slot, STRUCK))
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
        except f.Bad as e:
            self.problem(rec, str(e))
            self.broken = True

    def _open_voucher(self, rec: Record) -> None:
        """``#VER series number date [text] [regdate] [sign]``, checked before its block."""
        self._reset()
        try:
            registered = f.field(rec, 4, "registration date", required=False)
            self.head = Voucher(
                series=f.identifier(rec, f.field(rec, 0, "series"), "series"),
                number=f.identifier(rec, f.field(rec, 1, "number"), "number"),
                date=f.day(rec, f.field(rec, 2, "date"), "date"),
                text=f.safe_text(rec, f.field(rec, 3, "text", required=False), "text"),
                transactions=(),
                registered_on=f.day(rec, registered, "registration date") if registered else None,
                signature=f.safe_text(
                    rec, f.field(rec, 5, "signature", required=False), "signature"
                )
                or None,
                source_line=rec.line,
            )
        except f.Bad:
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
            raise f.Bad(rec.problem)
        if not rec.fields:
            if self.ks_state != _KS_NONE:
                raise f.Bad("a second opening #KSUMMA")
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
            raise f.Bad("#KSUMMA with a checksum but no opening #KSUMMA before it")
        value = f.field(rec, 0, "checksum")
        declared = f.whole(value.removeprefix("-"), "checksum", rec.label)
        if value.startswith("-"):
            # Some exporters print the CRC as a signed 32-bit integer.
            declared = -declared & 0xFFFFFFFF
        self.ks_state = _KS_CLOSED
        if declared != self.crc:
            raise f.Bad(
                f"#KSUMMA {value} does not match the records from line "
                f"{self.ks_line} to here, which sum to {self.crc}"
            )
        self.checksum = self.crc

    # -- header records --

    def _flagga(self, rec: Record) -> None:
        self.flag = f.whole(f.field(rec, 0, "flag"), "flag", rec.label)

    def _format(self, rec: Record) -> None:
        self.format = f.field(rec, 0, "format")

    def _program(self, rec: Record) -> None:
        self.program = f.safe_text(rec, f.field(rec, 0, "program name"), "program name")
        self.program_version = (
            f.safe_text(rec, f.field(rec, 1, "version", required=False), "version") or None
        )

    def _sietyp(self, rec: Record) -> None:
        self.sie_type = f.safe_text(rec, f.field(rec, 0, "type"), "type")

    def _fnamn(self, rec: Record) -> None:
        self.company_name = f.safe_text(rec, f.field(rec, 0, "company name"), "company name")

    def _rar(self, rec: Record) -> None:
        """``#RAR year start end``: year 0 is the one the vouchers belong to."""
        if f.whole(f.field(rec, 0, "year number").removeprefix("-"), "year number", rec.label) != 0:
            return
        start = f.day(rec, f.field(rec, 1, "start"), "start")
        end = f.day(rec, f.field(rec, 2, "end"), "end")
        if end < start:
            raise f.Bad(f"#RAR 0 ends ({end}) before it starts ({start})")
        self.fiscal_year = (start, end)

    def _dim(self, rec: Record) -> None:
        # #UNDERDIM dim name superdim declares a dimension too; its parent does not matter here.
        dim = f.whole(f.field(rec, 0, "dimension number"), "dimension number", rec.label)
        self.dimensions[dim] = f.safe_text(rec, f.field(rec, 1, "name"), "name")

    def _objekt(self, rec: Record) -> None:
        dim = f.whole(f.field(rec, 0, "dimension number"), "dimension number", rec.label)
        code = f.field(rec, 1, "object code")
        self.objects[(dim, code)] = f.safe_text(rec, f.field(rec, 2, "name"), "name")


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
