"""What a SIE file says, as the reader hands it on: vouchers, their rows, the file's header."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

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
