"""The återrapportering report as an Excel workbook (openpyxl): a summary and a sheet per area.

Amounts are real numbers with a kronor format, the header row is frozen and filterable, dates
are real dates, and every text is a text cell: never a formula, whatever it starts with, and
never a character the workbook's XML cannot carry (``cells``).  Imported only when a workbook is
asked for: openpyxl is heavy to load.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ledger.formats.reports.cells import xml_text
from ledger.formats.reports.report import (
    DATE_FORMAT,
    KIND_SV,
    KRONOR_FORMAT,
    UNPLACED_TEXT,
    yes_no,
)
from ledger.grant_model import AreaModel, GrantModel

SUMMARY_SHEET = "Sammanställning"
SUMMARY_COLUMNS = (
    "Område",
    "Namn",
    "Objekt",
    "Ansvarig",
    "Öronmärkt",
    "Tilldelat",
    "Fördelat",
    "Ofördelat",
    "Förbrukat",
    "varav oklassificerat",
    "Återbetalt",
    "Kvar",
)
AREA_COLUMNS = (
    "Aktivitet",
    "Namn",
    "Ansvarig",
    "Ny aktivitet",
    "Fördelat",
    "Förbrukat",
    "Kvar",
    "Överskridet",
    "Beslut",
    "Beslutsdatum",
    "Beslutande organ",
)
_BOLD = Font(bold=True)


class _Kr(int):
    """An amount in öre, marked for the kronor format when written to a cell."""


Cell = str | int | Decimal | date | None


def _cell_value(value: Cell) -> Cell:
    if isinstance(value, _Kr):
        return Decimal(int(value)) / 100
    return value


def _write_row(ws: Worksheet, row: int, values: Sequence[Cell], *, bold: bool = False) -> None:
    for col, value in enumerate(values, 1):
        if value is None:
            continue
        if isinstance(value, str):
            cell = ws.cell(row=row, column=col, value=xml_text(value))
            # Text, whatever it starts with: openpyxl makes "=…" a formula unless told, and the
            # quote prefix keeps Excel from making it one when the cell is edited.
            cell.data_type = "s"
            cell.quotePrefix = True
        else:
            cell = ws.cell(row=row, column=col, value=_cell_value(value))
        if isinstance(value, _Kr):
            cell.number_format = KRONOR_FORMAT
        elif isinstance(value, date):
            cell.number_format = DATE_FORMAT
        if bold:
            cell.font = _BOLD


def _header(ws: Worksheet, columns: Sequence[str]) -> None:
    _write_row(ws, 1, columns, bold=True)
    ws.freeze_panes = "A2"


def _filter(ws: Worksheet, columns: Sequence[str], last_row: int) -> None:
    """Filter buttons on the header, over the table's rows (not the facts below it)."""
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last_row}"


def _widths(ws: Worksheet, widths: Iterable[int]) -> None:
    for col, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = width


def sheet_title(code: str, taken: set[str]) -> str:
    """An area's sheet name: its code, within Excel's 31 characters and unique in the book."""
    base = "".join(ch if ch not in "[]:*?/\\" else "-" for ch in xml_text(code))[:31] or "område"
    title, n = base, 2
    while title.lower() in taken:
        suffix = f"-{n}"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def render_xlsx(r: GrantModel) -> bytes:
    """A summary sheet and one sheet per area: real numbers as kronor, the header row frozen."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SUMMARY_SHEET
    _summary(ws, r)
    taken = {SUMMARY_SHEET.lower()}
    for area in r.areas:
        _area_sheet(wb.create_sheet(sheet_title(area.code, taken)), area)
    wb.properties.title = xml_text(f"{r.name} ({r.grant_id})")
    wb.properties.creator = "grantledger"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _summary(ws: Worksheet, r: GrantModel) -> None:
    _header(ws, SUMMARY_COLUMNS)
    row = 2
    for a in r.areas:
        _write_row(
            ws,
            row,
            (
                a.code,
                a.name,
                a.cost_object,
                a.responsible,
                yes_no(a.ring_fenced),
                _Kr(a.awarded),
                _Kr(a.allocated),
                _Kr(a.unallocated),
                _Kr(a.spent),
                _Kr(a.unclassified_spent),
                _Kr(a.repaid),
                _Kr(a.remaining),
            ),
        )
        row += 1
    for u in r.unplaced:
        _write_row(
            ws,
            row,
            (
                "(ej på område)",
                UNPLACED_TEXT,
                u.cost_object,
                None,
                None,
                _Kr(0),
                _Kr(0),
                _Kr(0),
                _Kr(u.spent),
                _Kr(u.spent),
                _Kr(0),
                _Kr(-u.spent),
            ),
        )
        row += 1
    t = r.totals
    _write_row(
        ws,
        row,
        (
            "Totalt",
            r.name,
            None,
            None,
            None,
            _Kr(t.awarded),
            _Kr(t.allocated),
            _Kr(t.unallocated),
            _Kr(t.spent),
            _Kr(t.unclassified_spent),
            _Kr(t.repaid),
            _Kr(t.remaining),
        ),
        bold=True,
    )
    _filter(ws, SUMMARY_COLUMNS, row)
    row += 2
    facts: list[tuple[str, Cell]] = [
        ("Bidrag", f"{r.name} ({r.grant_id})"),
        ("Finansiär", r.funder),
        ("Beslut", f"{r.decision.ref}, {r.decision.body}"),
        ("Beslutsdatum", r.decision.date),
        ("Bidragsperiod från", r.spend_from),
        ("Bidragsperiod till", r.spend_to),
        ("Återbetalningsreferens", r.repayment_reference or ""),
        ("Mottaget", _Kr(t.received) if t.received is not None else None),
        ("Mottaget mer än tilldelat", yes_no(bool(t.overreceived))),
        ("Per datum", r.on),
        ("Skapad", r.read_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    for label, value in facts:
        _write_row(ws, row, (label, value))
        ws.cell(row=row, column=1).font = _BOLD
        row += 1
    row += 1
    _write_row(ws, row, ("Återrapportering", "Förfallodag", "Mottagare"), bold=True)
    row += 1
    for o in r.reporting:
        _write_row(ws, row, (o.kind, o.due, o.recipient))
        row += 1
    row += 1
    _write_row(ws, row, ("Beslut", "Beslutsdatum", "Beslutande organ", "Vad", "Belopp"), bold=True)
    row += 1
    for d in r.decisions:
        _write_row(
            ws,
            row,
            (
                d.decision.ref,
                d.decision.date,
                d.decision.body,
                f"{KIND_SV.get(d.event_type, d.event_type)}: {d.subject}",
                _Kr(d.amount) if d.amount is not None else None,
            ),
        )
        row += 1
    _widths(ws, (24, 48, 14, 30, 12, 18, 18, 18, 18, 20, 16, 18))


def _area_sheet(ws: Worksheet, a: AreaModel) -> None:
    _header(ws, AREA_COLUMNS)
    row = 2
    for x in a.activities:
        d = x.decision
        _write_row(
            ws,
            row,
            (
                x.code,
                x.name,
                x.responsible,
                yes_no(x.new_activity),
                _Kr(x.allocated),
                _Kr(x.spent),
                _Kr(x.remaining),
                yes_no(x.overspent),
                d.ref if d else None,
                d.date if d else None,
                d.body if d else None,
            ),
        )
        row += 1
    _write_row(
        ws,
        row,
        ("Ofördelat", "Tilldelat men inte fördelat på aktivitet")
        + (None,) * 4
        + (_Kr(a.unallocated),),
    )
    row += 1
    _write_row(
        ws,
        row,
        (
            "Oklassificerat",
            "Förbrukat på området utan aktivitet",
            None,
            None,
            None,
            _Kr(a.unclassified_spent),
        ),
    )
    row += 1
    _write_row(
        ws,
        row,
        (
            "Totalt",
            a.name,
            a.responsible,
            None,
            _Kr(a.allocated),
            _Kr(a.spent),
            _Kr(a.remaining),
            yes_no(a.remaining < 0),
        ),
        bold=True,
    )
    _filter(ws, AREA_COLUMNS, row)
    row += 2
    facts: list[tuple[str, Cell]] = [
        ("Område", f"{a.name} ({a.code})"),
        ("Objekt", a.cost_object),
        ("Ansvarig", a.responsible),
        ("Tilldelat", _Kr(a.awarded)),
        ("Återbetalt", _Kr(a.repaid)),
        ("Öronmärkt", yes_no(a.ring_fenced)),
    ]
    for label, value in facts:
        _write_row(ws, row, (label, value))
        ws.cell(row=row, column=1).font = _BOLD
        row += 1
    _widths(ws, (28, 52, 36, 12, 18, 18, 18, 12, 30, 14, 20))
