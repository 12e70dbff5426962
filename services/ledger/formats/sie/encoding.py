"""Which characters a SIE file's bytes are: PC8 (code page 437) or UTF-8, and what is odd."""

from __future__ import annotations

import codecs
import re

from ledger.formats.sie.lexer import SieError
from ledger.formats.sie.model import SieWarning

# Labels and the values that matter here are ASCII, so the declaration can be found in the bytes
# before knowing the encoding.  Some exporters quote the value: #FORMAT "PC8".
_FORMAT = re.compile(rb'^[ \t]*#FORMAT[ \t]+"?([^"\s]*)"?', re.MULTILINE | re.IGNORECASE)
_CODECS = {"PC8": "cp437", "UTF-8": "utf-8", "UTF8": "utf-8"}
_REPLACEMENT = "\ufffd"


def decode_sie(raw: bytes) -> tuple[str, str]:
    """The text of a SIE file and the codec used (``cp437`` or ``utf-8``)."""
    text, codec, _ = decode(raw)
    return text, codec


def decode(raw: bytes) -> tuple[str, str, list[SieWarning]]:
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


def replacement_warning(text: str) -> SieWarning | None:
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
