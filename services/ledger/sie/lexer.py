"""Split decoded SIE 4 text into records: a label and its fields.

SIE 4 is one record a line, ``#LABEL field field ...``.  Fields are separated by runs of spaces
or tabs, quoted with ``"`` when they hold spaces (``\\"`` is a quote inside), and object lists are
brace-delimited groups of fields (``{1 "456" 6 "9916"}``).  A ``{`` or ``}`` alone on a line opens
or closes the transaction block of a ``#VER``; those come out as records labelled ``{`` / ``}``.

The lexer knows nothing of what labels mean; ``reader`` does.  It yields records one at a time so
a caller can feed it any iterable of lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
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


class SieError(InvalidInput):
    """A SIE file that cannot be read as it stands; ``line`` is 1-based in the file."""

    code = "sie-invalid"
    title = "Invalid SIE file"

    def __init__(self, message: str, *, line: int, record: str | None = None) -> None:
        super().__init__(f"line {line}: {message}", line=line, record=record)
        self.line = line
        self.record = record


@dataclass(frozen=True, slots=True)
class Record:
    """One non-blank line: ``label`` is upper-cased (``#TRANS``, ``{``, ``}``)."""

    line: int
    label: str
    fields: tuple[Field, ...]
    # The label as written: the checksum is computed over the file's own text.
    raw_label: str


def split_fields(text: str, start: int, *, line: int, label: str) -> tuple[Field, ...]:
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
                raise SieError(
                    f"{label} has an object list inside an object list", line=line, record=label
                )
            group = []
            continue
        elif brace:
            if group is None:
                raise SieError(
                    f"{label} has a '}}' without a matching '{{'", line=line, record=label
                )
            fields.append(tuple(group))
            group = None
            continue
        else:
            # Only a quote that is never closed falls through to the catch-all group.
            raise SieError(
                f"{label} has a quoted field that is never closed ({stray}...)",
                line=line,
                record=label,
            )
        if group is None:
            fields.append(value)
        else:
            group.append(value)
    if group is not None:
        raise SieError(
            f"{label} has an object list that is never closed with '}}'", line=line, record=label
        )
    return tuple(fields)


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
            yield Record(
                line_no, label, split_fields(text, m.end(), line=line_no, label=label), raw_label
            )
        elif text in ("{", "}"):
            yield Record(line_no, text, (), text)
        else:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise SieError(f"expected a record starting with '#', got {shown!r}", line=line_no)
