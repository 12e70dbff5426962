"""SIE 4 (the Swedish accounting exchange format): read ERP exports into vouchers.

``read_sie(raw_bytes)`` is the entry point; see ``reader`` for what it checks.
"""

from ledger.sie.lexer import SieError
from ledger.sie.reader import SieFile, Trans, Voucher, decode_sie, parse_sie_lines, read_sie

__all__ = ["SieError", "SieFile", "Trans", "Voucher", "decode_sie", "parse_sie_lines", "read_sie"]
