"""The report as one CSV table for Swedish Excel, and which renderer makes which format.

CSV: ``;`` between fields, every field quoted (a comma-locale Excel cannot split one), decimal
comma, UTF-8 with a byte-order mark, ISO dates.  A row for the grant, each area, the spend not yet
placed on an area (per cost object), each activity, obligation and decision; the area rows plus
the unplaced rows add up to the grant row.  Headers are Swedish: they are read by the people who
write the report to Socialstyrelsen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from ledger.domain.money import format_money
from ledger.formats.reports.cells import csv_text
from ledger.grant_model import DecisionEntry, GrantModel

FORMATS = ("json", "csv", "xlsx")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Stored in the file's locale-independent form: Swedish Excel shows it as `# ##0,00 kr`
# (space as thousands separator, decimal comma), English Excel as `#,##0.00 kr`.
KRONOR_FORMAT = '#,##0.00 "kr"'
DATE_FORMAT = "yyyy-mm-dd"

UNPLACED_LEVEL = "Ej på område"
UNPLACED_TEXT = "Förbrukat på objekt med flera områden, ännu inte klassat"

CSV_COLUMNS = (
    "Nivå",
    "Område",
    "Aktivitet",
    "Namn",
    "Objekt",
    "Ansvarig",
    "Tilldelat",
    "Fördelat",
    "Ofördelat",
    "Förbrukat",
    "varav oklassificerat",
    "Återbetalt",
    "Kvar",
    "Överskridet",
    "Beslut",
    "Beslutsdatum",
    "Beslutande organ",
    "Förfallodag",
    "Mottagare",
    "Per datum",
    "Finansiär",
    "Mottaget",
)

KIND_SV = {
    "GrantRegistered": "Registrering",
    "AwardAmended": "Ändrad tilldelning",
    "ActivityAllocated": "Fördelning",
    "BudgetReallocated": "Omfördelning",
    "YearClosed": "Årsbokslut",
}


def filename(m: GrantModel, fmt: str) -> str:
    return f"{m.grant_id}-{m.on.isoformat()}.{fmt}"


def swedish_amount(ore: int) -> str:
    """``123456`` -> ``"1234,56"``: a number Swedish Excel reads as a number."""
    return format_money(ore).replace(".", ",")


def yes_no(flag: bool) -> str:
    return "ja" if flag else "nej"


def decision_text(d: DecisionEntry) -> str:
    """``"Omfördelning: vardlots → webbplatser 100 000,00 kr"``."""
    kind = KIND_SV.get(d.event_type, d.event_type)
    amount = f" {kronor_text(d.amount)}" if d.amount is not None else ""
    return f"{kind}: {d.subject}{amount}"


def kronor_text(ore: int) -> str:
    """``123456789`` -> ``"1 234 567,89 kr"``."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    grouped = f"{kronor:,}".replace(",", " ")
    return f"{sign}{grouped},{rest:02d} kr"


def csv_rows(m: GrantModel) -> Iterator[dict[str, str]]:
    """The report as one table: a row for the grant, each area, unplaced spend, activity, …"""
    a_, t_ = swedish_amount, csv_text
    t = m.totals
    yield {
        "Nivå": "Bidrag",
        "Namn": t_(m.name),
        "Tilldelat": a_(t.awarded),
        "Fördelat": a_(t.allocated),
        "Ofördelat": a_(t.unallocated),
        "Förbrukat": a_(t.spent),
        "varav oklassificerat": a_(t.unclassified_spent),
        "Återbetalt": a_(t.repaid),
        "Kvar": a_(t.remaining),
        "Överskridet": yes_no(t.remaining < 0),
        "Beslut": t_(m.decision.ref),
        "Beslutsdatum": m.decision.date.isoformat(),
        "Beslutande organ": t_(m.decision.body),
        "Per datum": m.on.isoformat(),
        "Finansiär": t_(m.funder),
        "Mottaget": a_(t.received) if t.received is not None else "",
    }
    for area in m.areas:
        yield {
            "Nivå": "Område",
            "Område": t_(area.code),
            "Namn": t_(area.name),
            "Objekt": t_(area.cost_object),
            "Ansvarig": t_(area.responsible),
            "Tilldelat": a_(area.awarded),
            "Fördelat": a_(area.allocated),
            "Ofördelat": a_(area.unallocated),
            "Förbrukat": a_(area.spent),
            "varav oklassificerat": a_(area.unclassified_spent),
            "Återbetalt": a_(area.repaid),
            "Kvar": a_(area.remaining),
            "Överskridet": yes_no(area.remaining < 0),
        }
        for x in area.activities:
            d = x.decision
            yield {
                "Nivå": "Aktivitet",
                "Område": t_(area.code),
                "Aktivitet": t_(x.code),
                "Namn": t_(x.name),
                "Objekt": t_(area.cost_object),
                "Ansvarig": t_(x.responsible),
                "Fördelat": a_(x.allocated),
                "Förbrukat": a_(x.spent),
                "Kvar": a_(x.remaining),
                "Överskridet": yes_no(x.overspent),
                "Beslut": t_(d.ref) if d else "",
                "Beslutsdatum": d.date.isoformat() if d else "",
                "Beslutande organ": t_(d.body) if d else "",
            }
    for u in m.unplaced:
        # Not an area's yet: no award, so what is left of the grant is less by this much.
        yield {
            "Nivå": UNPLACED_LEVEL,
            "Namn": UNPLACED_TEXT,
            "Objekt": t_(u.cost_object),
            "Tilldelat": a_(0),
            "Fördelat": a_(0),
            "Ofördelat": a_(0),
            "Förbrukat": a_(u.spent),
            "varav oklassificerat": a_(u.spent),
            "Återbetalt": a_(0),
            "Kvar": a_(-u.spent),
        }
    for o in m.reporting:
        yield {
            "Nivå": "Återrapportering",
            "Namn": t_(o.kind),
            "Förfallodag": o.due.isoformat(),
            "Mottagare": t_(o.recipient),
        }
    for entry in m.decisions:
        yield {
            "Nivå": "Beslut",
            "Namn": t_(decision_text(entry)),
            "Beslut": t_(entry.decision.ref),
            "Beslutsdatum": entry.decision.date.isoformat(),
            "Beslutande organ": t_(entry.decision.body),
        }


def render_csv(m: GrantModel) -> bytes:
    """``;``-separated, every field quoted, decimal comma, UTF-8 with BOM: Swedish Excel."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=CSV_COLUMNS, delimiter=";", restval="", quoting=csv.QUOTE_ALL
    )
    writer.writeheader()
    writer.writerows(csv_rows(m))
    return buffer.getvalue().encode("utf-8-sig")


def render_file(m: GrantModel, fmt: str) -> bytes:
    """The report as a file: ``csv`` or ``xlsx`` (JSON is the API's answer, ``GrantReportOut``)."""
    if fmt == "csv":
        return render_csv(m)
    if fmt == "xlsx":
        # openpyxl is heavy to load: only when a workbook is asked for.
        from ledger.formats.reports.xlsx import render_xlsx

        return render_xlsx(m)
    raise ValueError(f"no file renderer for {fmt!r}: use csv or xlsx")
