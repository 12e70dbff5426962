"""What every text cell of a report goes through: never a formula, never unreadable XML.

Names, funders, responsibles, decision references, reporting kinds and recipients come from
users and files.  A text starting like a formula (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``),
also after leading blanks, would run in the controller's Excel when the report is opened; a
Unicode noncharacter (U+FFFE) or a control character makes the workbook's XML unreadable.  The
API refuses both at input; the renderers make sure of it again (defence in depth).
"""

from __future__ import annotations

import re

# Excel starts a formula at these, after any leading whitespace; the full-width forms too.
_FORMULA_START = frozenset("=+-@＝＋－＠")

# Not allowed in XML 1.0 (C0 controls but tab/newline/return, surrogates, U+FFFE/U+FFFF) and the
# other Unicode noncharacters (U+FDD0–U+FDEF, U+nFFFE/U+nFFFF of every plane).
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0x10000, 0x110000, 0x10000))
    + "]"
)


def looks_like_formula(text: str) -> bool:
    stripped = text.lstrip()
    return (bool(stripped) and stripped[0] in _FORMULA_START) or text[:1] in ("\t", "\r")


def csv_text(text: str | None) -> str:
    """A CSV text field: a leading ' keeps formula-like text text (Excel hides the ')."""
    if not text:
        return ""
    return "'" + text if looks_like_formula(text) else text


def xml_text(text: str) -> str:
    """Text a workbook can carry: characters XML cannot hold become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
