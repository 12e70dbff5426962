"""SIE 4 (the Swedish accounting exchange format): read ERP exports, import their spend.

``read_sie(raw_bytes)`` reads a file (see ``reader`` for what it checks); ``importer.import_sie``
is the one import path the API and the CLI call.
"""

from ledger.formats.sie.encoding import decode_sie
from ledger.formats.sie.lexer import SieError, TooManyLines
from ledger.formats.sie.model import SieFile, SieWarning, Trans, Voucher
from ledger.formats.sie.reader import parse_sie_lines, read_sie

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
