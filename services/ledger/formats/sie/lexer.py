"""Split decoded SIE 4 text into records: a label and its fields.

SIE 4 is one record a line, ``#LABEL field field ...``.  Fields are separated by runs of spaces
or tabs, quoted with ``"`` when they hold spaces (``\\"`` is a quote inside), and object lists are
brace-delimited groups of fields (``{1 "456" 6 "9916"}``).  A ``{`` or ``}`` alone on a line opens
or closes the transaction block of a ``#VER``; those come out as records labelled ``{`` / ``}``.

The lexer knows nothing of what labels mean; ``reader`` does.  A line it cannot split comes out
as a record with ``problem`` set rather than an exception: whether that refuses the file depends
on the label (a broken ``#TRANS`` does, a broken ``#KONTO`` name the import never reads does
not), and only the reader knows which labels matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ledger.errors import InvalidInput

ObjectList = tuple[str, ...]
Field = str | ObjectList

# One token, after optional blanks: a quoted field (groups 1-2), a brace (3), a bare word (4),
# or anything else (5: only an unclosed quote gets there).  In a quoted field the escape \" is
# tried first, so it does not end the field; if that leaves the field unclosed the regex
# backtracks and reads the backslash literally, so "C:\" still means C:\ .  findall does the
# scanning in C, which is most of the reader's speed.
_TOKENS = re.compile(r'[ \t]*(?:(")((?:\\"|[^"])*)"|([{}])|([^ \t"{}]+)|(\S))').findall
_LABEL = re.compile(r"#[A-Za-z0-9_]*")
# Stripped from both ends of a line: blanks, line endings (CRLF or LF) and the DOS end-of-file
# mark (Ctrl-Z) that old PC8 exporters still append.
_LINE_JUNK = " \t\r\n\x1a"
_SIMPLE_LINE = re.compile(r'[^"{}]*')
# Unicode noncharacters: U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(17)
)
# Bidirectional-text controls make an id read differently from what it is (CVE-2021-42574).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
UNSAFE_TEXT = re.compile(f"[\x00{_NONCHARACTERS}]")
UNSAFE_ID = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_NONCHARACTERS}]")
# A line with none of these (tabs separate fields) needs no field checked for the above.
_SUSPECT = re.compile(f"[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f{_BIDI}{_NONCHARACTERS}]")
# A refusal lists this many problems, then says how many more there are.
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one line of a file."""

    line: int
    record: str | None
    reason: str

    def as_dict(self) -> dict[str, object]:
        """As a problem document's ``errors[]`` item: the uploaded file is the field at fault."""
        return {"field": "file", "line": self.line, "record": self.record, "reason": self.reason}


class SieError(InvalidInput):
    """A SIE file that cannot be read as it stands; lists every problem (up to ``MAX_LISTED``).

    ``line`` is the first problem's line (1-based in the file).
    """

    code = "sie-invalid"
    title = "Invalid SIE file"

    def __init__(self, message: str, *, line: int, record: str | None = None) -> None:
        self._init((Problem(line, record, message),))

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> SieError:
        error = cls.__new__(cls)
        error._init(problems)
        return error

    def _init(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        listed = problems[:MAX_LISTED]
        more = len(problems) - len(listed)
        if len(problems) == 1:
            detail = f"line {first.line}: {first.reason}"
        else:
            detail = f"{len(problems)} problems: " + "; ".join(
                f"line {p.line}: {p.reason}" for p in listed
            )
            if more:
                detail += f"; and {more} more"
        InvalidInput.__init__(
            self,
            detail,
            line=first.line,
            record=first.record,
            problems=len(problems),
            errors=[p.as_dict() for p in listed],
            more=more or None,
        )
        self.line = first.line
        self.record = first.record
        self.problems = tuple(problems)


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


@dataclass(frozen=True, slots=True)
class Record:
    """One non-blank line: ``label`` is upper-cased (``#TRANS``, ``{``, ``}``)."""

    line: int
    label: str
    fields: tuple[Field, ...]
    # The label as written: the checksum is computed over the file's own text.
    raw_label: str
    # Why the line could not be split into fields (then ``fields`` is empty).
    problem: str | None = None
    text: str = ""
    # False when the line holds a character no identifier may hold: then each field is checked.
    clean: bool = True


class _Unsplittable(Exception):
    pass


def split_fields(text: str, start: int, *, label: str) -> tuple[Field, ...]:
    """The fields of ``text[start:]``; object lists come back as tuples of strings."""
    rest = text[start:]
    if _SIMPLE_LINE.fullmatch(rest):
        # Most records have no quotes or braces: str.split is far faster than the regex loop.
        return tuple(t for t in rest.replace("\t", " ").split(" ") if t)
    fields: list[Field] = []
    group: list[str] | None = None
    for quote, quoted, brace, bare, stray in _TOKENS(rest):
        if quote:
            value = quoted.replace('\\"', '"') if "\\" in quoted else quoted
        elif bare:
            value = bare
        elif brace == "{":
            if group is not None:
                raise _Unsplittable(f"{label} has an object list inside an object list")
            group = []
            continue
        elif brace:
            if group is None:
                raise _Unsplittable(f"{label} has a '}}' without a matching '{{'")
            fields.append(tuple(group))
            group = None
            continue
        else:
            # Only a quote that is never closed falls through to the catch-all group.
            raise _Unsplittable(f"{label} has a quoted field that is never closed ({stray}...)")
        if group is None:
            fields.append(value)
        else:
            group.append(value)
    if group is not None:
        raise _Unsplittable(f"{label} has an object list that is never closed with '}}'")
    return tuple(fields)


def _clean(text: str) -> bool:
    # isprintable() is the fast path; it is False for every tab, which the regex then allows.
    return text.isprintable() or _SUSPECT.search(text) is None


def iter_records(lines: Iterable[str]) -> Iterator[Record]:
    """Records of ``lines`` (already decoded, without or with line endings); blank lines skipped."""
    for line_no, raw in enumerate(lines, 1):
        text = raw.strip(_LINE_JUNK)
        if not text:
            continue
        first = text[0]
        if first == "#":
            m = _LABEL.match(text)
            assert m is not None  # the pattern accepts a bare '#'
            raw_label = m.group(0)
            label = raw_label.upper()
            try:
                fields = split_fields(text, m.end(), label=label)
            except _Unsplittable as e:
                yield Record(line_no, label, (), raw_label, str(e), text[m.end() :])
                continue
            yield Record(line_no, label, fields, raw_label, clean=_clean(text))
        elif text in ("{", "}"):
            yield Record(line_no, text, (), text)
        else:
            shown = text if len(text) <= 40 else text[:37] + "..."
            yield Record(
                line_no, "", (), "", f"expected a record starting with '#', got {shown!r}", text
            )
