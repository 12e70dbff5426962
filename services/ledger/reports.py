"""Reports for återrapportering: one grant, per area and activity, as JSON, CSV or XLSX.

``grant_report(queries, grant_id, as_of=...)`` builds a ``GrantReport`` from the read side: the
figures come from ``LedgerQueries.balances`` (today, or summed from the postings up to ``as_of``),
the names, responsibles and cost objects from the grant's plan, and the decisions from the
grant's planning events.  The renderers are pure functions of that model:

- ``render_json``: the API's conventions (amounts as strings with two decimals, ISO dates);
- ``render_csv``: one table as Swedish Excel opens it: ``;`` between fields, decimal comma,
  UTF-8 with a byte-order mark, ISO dates;
- ``render_xlsx``: a summary sheet and one sheet per area, amounts as real numbers formatted
  as kronor, dates as real dates, the header row frozen.

Headers of the CSV and XLSX are Swedish: they are read by the people who write the report to
Socialstyrelsen.  The JSON keeps the API's English names.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from ledger.domain import events as ev
from ledger.domain.money import format_money
from ledger.queries import LedgerQueries
from ledger.service import grant_stream

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


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionRef:
    ref: str
    date: date
    body: str


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """A planning event and the decision that authorised it."""

    decision: DecisionRef
    event_type: str
    subject: str
    amount: int | None
    effective_date: date


@dataclass(frozen=True, slots=True)
class ActivityReport:
    code: str
    name: str
    responsible: str
    new_activity: bool
    exit_plan: str | None
    decision: DecisionRef | None
    allocated: int
    spent: int
    remaining: int
    overspent: bool


@dataclass(frozen=True, slots=True)
class AreaReport:
    code: str
    name: str
    cost_object: str
    responsible: str
    ring_fenced: bool
    awarded: int
    allocated: int
    unallocated: int
    spent: int
    unclassified_spent: int
    repaid: int
    remaining: int
    activities: tuple[ActivityReport, ...]


@dataclass(frozen=True, slots=True)
class Totals:
    awarded: int
    allocated: int
    unallocated: int
    spent: int
    remaining: int
    received: int
    unclassified_spent: int
    repaid: int


@dataclass(frozen=True, slots=True)
class Obligation:
    kind: str
    due: date
    recipient: str


@dataclass(frozen=True, slots=True)
class GrantReport:
    grant_id: str
    name: str
    funder: str
    decision: DecisionRef
    spend_from: date
    spend_to: date
    repayment_reference: str | None
    as_of: date | None
    generated_at: datetime
    totals: Totals
    # Spend on a cost object that serves several areas, not yet classified to an activity.
    unplaced_spent: int
    areas: tuple[AreaReport, ...]
    reporting: tuple[Obligation, ...]
    decisions: tuple[DecisionEntry, ...]

    def filename(self, fmt: str) -> str:
        return f"{self.grant_id}-{(self.as_of or self.generated_at.date()).isoformat()}.{fmt}"


# --- building it ---------------------------------------------------------------------------

_PLANNING = (
    "GrantRegistered",
    "AwardAmended",
    "ActivityAllocated",
    "BudgetReallocated",
    "YearClosed",
)


def grant_report(
    queries: LedgerQueries,
    grant_id: str,
    *,
    as_of: date | None = None,
    now: datetime | None = None,
) -> GrantReport:
    """The report of one grant, today or as of a booking date (404 for an unknown grant)."""
    view = queries.grant(grant_id)
    [balances] = queries.balances(grant_id=grant_id, as_of=as_of)
    state, f = view.state, balances.figures
    decisions_by_activity = {
        row["code"]: _decision_ref(row["decision"]) for row in view.activity_rows
    }
    areas = []
    for a in f.areas:
        info = state.areas.get(a.code)
        activities = []
        for x in a.activities:
            act = state.activities.get(x.code)
            activities.append(
                ActivityReport(
                    code=x.code,
                    name=act.name if act else x.code,
                    responsible=act.responsible if act else "",
                    new_activity=act.new_activity if act else False,
                    exit_plan=act.exit_plan if act else None,
                    decision=decisions_by_activity.get(x.code),
                    allocated=x.allocated,
                    spent=x.spent,
                    remaining=x.remaining,
                    overspent=x.overspent,
                )
            )
        areas.append(
            AreaReport(
                code=a.code,
                name=info.name if info else a.code,
                cost_object=a.cost_object,
                responsible=info.responsible if info else "",
                ring_fenced=info.ring_fenced if info else False,
                awarded=a.awarded,
                allocated=a.allocated,
                unallocated=a.unallocated,
                spent=a.spent,
                unclassified_spent=a.unclassified_spent,
                repaid=a.repaid,
                remaining=a.remaining,
                activities=tuple(activities),
            )
        )
    return GrantReport(
        grant_id=state.grant_id,
        name=state.name,
        funder=state.funder,
        decision=DecisionRef(state.decision.ref, state.decision.date, state.decision.body),
        spend_from=state.spend_from,
        spend_to=state.spend_to,
        repayment_reference=state.repayment_reference,
        as_of=as_of,
        generated_at=now or datetime.now(UTC),
        totals=Totals(
            awarded=f.awarded,
            allocated=f.allocated,
            unallocated=f.unallocated,
            spent=f.spent,
            remaining=f.remaining,
            received=f.received,
            unclassified_spent=f.unclassified_spent,
            repaid=f.repaid,
        ),
        unplaced_spent=f.spent - sum(a.spent for a in f.areas),
        areas=tuple(areas),
        reporting=tuple(
            Obligation(r.kind, r.due, r.recipient)
            for r in sorted(state.reporting, key=lambda r: r.due)
        ),
        decisions=tuple(_decisions(queries, grant_id, as_of)),
    )


def _decision_ref(value: Any) -> DecisionRef | None:
    if not isinstance(value, dict) or "ref" not in value:
        return None
    on = value["date"]
    return DecisionRef(
        str(value["ref"]),
        on if isinstance(on, date) else date.fromisoformat(str(on)),
        str(value.get("body", "")),
    )


def _decisions(
    queries: LedgerQueries, grant_id: str, as_of: date | None
) -> Iterator[DecisionEntry]:
    """The grant's planning events with their decisions, in the order they were recorded."""
    after = 0
    while True:
        page = queries.events(
            after=after, limit=1000, stream_id=grant_stream(grant_id), event_types=_PLANNING
        )
        for stored in page:
            event = ev.decode(stored.event_type, stored.schema_version, stored.data)
            entry = _entry(event)
            if entry is not None and (as_of is None or entry.effective_date <= as_of):
                yield entry
        if len(page) < 1000:
            return
        after = page[-1].position


def _entry(event: ev.Event) -> DecisionEntry | None:
    subject: str
    amount: int | None
    match event:
        case ev.GrantRegistered(name=name, areas=areas):
            subject, amount = name, sum(a.awarded for a in areas)
        case ev.AwardAmended(area=area, awarded=awarded):
            subject, amount = area, awarded
        case ev.ActivityAllocated(code=code, amount=allocated):
            subject, amount = code, allocated
        case ev.BudgetReallocated(from_activity=source, to_activity=target, amount=moved):
            subject, amount = f"{source} → {target}", moved
        case ev.YearClosed(year=year, released=released):
            subject, amount = str(year), sum(r.amount for r in released)
        case _:
            return None
    d = event.decision
    return DecisionEntry(
        DecisionRef(d.ref, d.date, d.body), event.event_type, subject, amount, event.effective_date
    )


# --- JSON ----------------------------------------------------------------------------------


def _ref(d: DecisionRef | None) -> dict[str, str] | None:
    if d is None:
        return None
    return {"ref": d.ref, "date": d.date.isoformat(), "body": d.body}


def report_dict(r: GrantReport) -> dict[str, Any]:
    """The report as JSON types, with the API's conventions (amounts as "1234.50")."""
    m = format_money
    return {
        "grant_id": r.grant_id,
        "name": r.name,
        "funder": r.funder,
        "decision": _ref(r.decision),
        "spend_period": {"from": r.spend_from.isoformat(), "to": r.spend_to.isoformat()},
        "repayment_reference": r.repayment_reference,
        "as_of": r.as_of.isoformat() if r.as_of else None,
        "generated_at": r.generated_at.isoformat(),
        "totals": {k: m(getattr(r.totals, k)) for k in Totals.__dataclass_fields__},
        "unplaced_spent": m(r.unplaced_spent),
        "areas": [
            {
                "code": a.code,
                "name": a.name,
                "cost_object": a.cost_object,
                "responsible": a.responsible,
                "ring_fenced": a.ring_fenced,
                "awarded": m(a.awarded),
                "allocated": m(a.allocated),
                "unallocated": m(a.unallocated),
                "spent": m(a.spent),
                "unclassified_spent": m(a.unclassified_spent),
                "repaid": m(a.repaid),
                "remaining": m(a.remaining),
                "activities": [
                    {
                        "code": x.code,
                        "name": x.name,
                        "responsible": x.responsible,
                        "new_activity": x.new_activity,
                        "exit_plan": x.exit_plan,
                        "decision": _ref(x.decision),
                        "allocated": m(x.allocated),
                        "spent": m(x.spent),
                        "remaining": m(x.remaining),
                        "overspent": x.overspent,
                    }
                    for x in a.activities
                ],
            }
            for a in r.areas
        ],
        "reporting": [
            {"kind": o.kind, "due": o.due.isoformat(), "recipient": o.recipient}
            for o in r.reporting
        ],
        "decisions": [
            {
                **(_ref(d.decision) or {}),
                "event_type": d.event_type,
                "subject": d.subject,
                "amount": m(d.amount) if d.amount is not None else None,
                "effective_date": d.effective_date.isoformat(),
            }
            for d in r.decisions
        ],
    }


def render_json(r: GrantReport) -> bytes:
    return orjson.dumps(report_dict(r), option=orjson.OPT_INDENT_2)


# --- CSV -----------------------------------------------------------------------------------

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
)

KIND_SV = {
    "GrantRegistered": "Registrering",
    "AwardAmended": "Ändrad tilldelning",
    "ActivityAllocated": "Fördelning",
    "BudgetReallocated": "Omfördelning",
    "YearClosed": "Årsbokslut",
}


def swedish_amount(ore: int) -> str:
    """``123456`` -> ``"1234,56"``: a number Swedish Excel reads as a number."""
    return format_money(ore).replace(".", ",")


def _safe(text: str | None) -> str:
    """Text cells never start like a formula (CSV injection): a leading ' keeps them text."""
    if not text:
        return ""
    return "'" + text if text[0] in "=+-@\t\r" else text


def yes_no(flag: bool) -> str:
    return "ja" if flag else "nej"


def csv_rows(r: GrantReport) -> Iterator[dict[str, str]]:
    """The report as one table: a row for the grant, each area, activity, obligation, decision."""
    a_ = swedish_amount
    t = r.totals
    yield {
        "Nivå": "Bidrag",
        "Namn": _safe(r.name),
        "Ansvarig": _safe(r.funder),
        "Tilldelat": a_(t.awarded),
        "Fördelat": a_(t.allocated),
        "Ofördelat": a_(t.unallocated),
        "Förbrukat": a_(t.spent),
        "varav oklassificerat": a_(t.unclassified_spent),
        "Återbetalt": a_(t.repaid),
        "Kvar": a_(t.remaining),
        "Överskridet": yes_no(t.remaining < 0),
        "Beslut": _safe(r.decision.ref),
        "Beslutsdatum": r.decision.date.isoformat(),
        "Beslutande organ": _safe(r.decision.body),
        "Per datum": (r.as_of or r.generated_at.date()).isoformat(),
    }
    for area in r.areas:
        yield {
            "Nivå": "Område",
            "Område": area.code,
            "Namn": _safe(area.name),
            "Objekt": _safe(area.cost_object),
            "Ansvarig": _safe(area.responsible),
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
            yield {
                "Nivå": "Aktivitet",
                "Område": area.code,
                "Aktivitet": x.code,
                "Namn": _safe(x.name),
                "Objekt": _safe(area.cost_object),
                "Ansvarig": _safe(x.responsible),
                "Fördelat": a_(x.allocated),
                "Förbrukat": a_(x.spent),
                "Kvar": a_(x.remaining),
                "Överskridet": yes_no(x.overspent),
                "Beslut": _safe(x.decision.ref) if x.decision else "",
                "Beslutsdatum": x.decision.date.isoformat() if x.decision else "",
                "Beslutande organ": _safe(x.decision.body) if x.decision else "",
            }
    for o in r.reporting:
        yield {
            "Nivå": "Återrapportering",
            "Namn": _safe(o.kind),
            "Förfallodag": o.due.isoformat(),
            "Mottagare": _safe(o.recipient),
        }
    for d in r.decisions:
        yield {
            "Nivå": "Beslut",
            "Namn": _safe(_decision_text(d)),
            "Beslut": _safe(d.decision.ref),
            "Beslutsdatum": d.decision.date.isoformat(),
            "Beslutande organ": _safe(d.decision.body),
        }


def _decision_text(d: DecisionEntry) -> str:
    kind = KIND_SV.get(d.event_type, d.event_type)
    amount = f" {_kronor_text(d.amount)}" if d.amount is not None else ""
    return f"{kind}: {d.subject}{amount}"


def _kronor_text(ore: int) -> str:
    """``123456789`` -> ``"1 234 567,89 kr"``."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    grouped = f"{kronor:,}".replace(",", " ")
    return f"{sign}{grouped},{rest:02d} kr"


def render_csv(r: GrantReport) -> bytes:
    """``;``-separated, decimal comma, UTF-8 with BOM: Swedish Excel opens it as it is."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, delimiter=";", restval="")
    writer.writeheader()
    writer.writerows(csv_rows(r))
    return buffer.getvalue().encode("utf-8-sig")


# --- XLSX ----------------------------------------------------------------------------------


def render(r: GrantReport, fmt: str) -> bytes:
    if fmt == "json":
        return render_json(r)
    if fmt == "csv":
        return render_csv(r)
    if fmt == "xlsx":
        from ledger.report_xlsx import render_xlsx  # openpyxl only when a workbook is asked for

        return render_xlsx(r)
    raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
