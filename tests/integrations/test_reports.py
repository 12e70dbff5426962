"""Reports for återrapportering (issue 7 §2, issue 12, issue 16 §2/§5/§7): JSON, CSV, XLSX.

Every file is read back with the tool a finance person's computer would use (the csv module with
``;`` and decimal comma, openpyxl for the workbook) and its numbers compared with the ledger's:
the area rows plus the unplaced rows add up to the grant row, text is never a formula, and a
report is one snapshot of the one read model of the grant.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app as cli
from api.routers.reports import render_report
from api.schemas.answers import GrantReportOut
from ledger.domain import commands as cmd
from ledger.domain.errors import UnknownGrant
from ledger.formats.reports import CSV_COLUMNS, KRONOR_FORMAT, filename, render_csv
from ledger.formats.reports.xlsx import (
    AREA_COLUMNS,
    SUMMARY_COLUMNS,
    SUMMARY_SHEET,
    render_xlsx,
    sheet_title,
)
from ledger.grant_model import GrantModel
from ledger.store.schema import events
from tests.integrations.conftest import GRANT, SEED_003
from tests.support.api import Api, assert_problem
from tests.support.ledger import Ledger, decision, kr, line

AS_OF = date(2022, 5, 31)
NOW = datetime(2022, 10, 1, 12, 0)
AREAS = ["nara-vard", "medarbetare", "vidareutbildning", "karriartjanster", "e-halsa", "ambulans"]
REALLOCATION = decision("RS/77/2022", date(2022, 6, 15))


def a_year(ledger: Ledger) -> Ledger:
    """Seed 003 with a receipt, spend in March and June, overspend, unclassified spend and a
    reallocation on its own decision."""
    ledger.run(cmd.RecordReceipt(GRANT, kr("32205017.50"), date(2022, 2, 25), "Utbetalning 50%"))
    ledger.spend(
        line("9916", kr(1_000_000), date(2022, 3, 31), activity="lokalt-arbete"),
        line("9916", kr("5000.25"), date(2022, 3, 31)),  # unclassified on nära vård
    )
    ledger.reallocate(GRANT, "vardlots", "webbplatser", kr(100_000), on=REALLOCATION)
    ledger.spend(
        line("9917", kr(7_000_000), date(2022, 6, 30), activity="webbplatser"),  # overspent
        line("9942", kr(20_000), date(2022, 6, 30)),  # 9942 serves two areas: unplaced
    )
    return ledger


@pytest.fixture
def year(gnv: Ledger) -> Ledger:
    return a_year(gnv)


def report_of(ledger: Ledger, as_of: date | None = None) -> GrantModel:
    return ledger.queries.grant(GRANT, as_of=as_of, decisions=True, now=NOW)


def ore(text: str) -> int:
    """A Swedish amount ("1234,56") → öre, exactly."""
    assert re.fullmatch(r"-?[0-9]+,[0-9]{2}", text), text
    return int(Decimal(text.replace(",", ".")) * 100)


# --- the model ---------------------------------------------------------------------------------


def test_report_figures_are_the_ledgers(year: Ledger) -> None:
    r = report_of(year)
    f = year.figures(GRANT)
    assert r.totals.awarded == f.awarded == kr(64_410_035)
    assert (r.totals.spent, r.totals.remaining, r.totals.received) == (
        f.spent,
        f.remaining,
        f.received,
    )
    assert r.unplaced_spent == kr(20_000)
    assert [a.code for a in r.areas] == AREAS
    for area, fig in zip(r.areas, f.areas, strict=True):
        assert (area.awarded, area.allocated, area.unallocated, area.spent, area.remaining) == (
            fig.awarded,
            fig.allocated,
            fig.unallocated,
            fig.spent,
            fig.remaining,
        )
    nara = r.areas[0]
    assert (nara.name, nara.cost_object, nara.responsible) == (
        "Utvecklingen av den nära vården med primärvården som nav",
        "9916",
        "Handläggare HOSPA",
    )
    assert nara.unclassified_spent == kr("5000.25")
    web = next(x for x in r.areas[1].activities if x.code == "webbplatser")
    assert (web.allocated, web.spent, web.remaining, web.overspent) == (
        kr(6_800_000),
        kr(7_000_000),
        -kr(200_000),
        True,
    )
    assert web.responsible == "Kommunikationschef"
    assert web.decision is not None
    assert web.decision.body == "Regionstyrelsen"


def test_report_has_obligations_and_decisions(year: Ledger) -> None:
    r = report_of(year)
    assert [(o.kind, o.due, o.recipient) for o in r.reporting] == [
        ("delredovisning", date(2022, 9, 30), "Socialstyrelsen"),
        ("VFU-redovisning", date(2022, 11, 30), "Socialstyrelsen"),
        ("slutredovisning", date(2023, 3, 31), "Socialstyrelsen"),
    ]
    kinds = [d.event_type for d in r.decisions]
    assert kinds == ["GrantRegistered"] + ["ActivityAllocated"] * 19 + ["BudgetReallocated"]
    moved = r.decisions[-1]
    assert (moved.decision.ref, moved.subject, moved.amount) == (
        "RS/77/2022",
        "vardlots → webbplatser",
        kr(100_000),
    )
    assert r.decisions[0].amount == kr(64_410_035)


def test_report_as_of_a_date_leaves_out_what_came_later(year: Ledger) -> None:
    r = report_of(year, AS_OF)
    f = year.figures(GRANT, as_of=AS_OF)
    assert r.as_of == AS_OF
    assert r.totals.spent == f.spent == kr(1_000_000) + kr("5000.25")
    assert r.unplaced_spent == 0
    web = next(x for x in r.areas[1].activities if x.code == "webbplatser")
    assert (web.allocated, web.spent, web.overspent) == (kr(6_700_000), 0, False)
    assert "BudgetReallocated" not in {d.event_type for d in r.decisions}  # decided 2022-06-15
    assert filename(r, "xlsx") == "gnv-2022-2022-05-31.xlsx"


def test_unknown_grant_is_not_found(gnv: Ledger) -> None:
    with pytest.raises(UnknownGrant):
        gnv.queries.grant("finns-inte", decisions=True)


# --- JSON --------------------------------------------------------------------------------------


def test_json_follows_the_api_schema_and_conventions(year: Ledger) -> None:
    body = orjson.loads(render_report(report_of(year), "json"))
    assert set(body) == {f.alias or name for name, f in GrantReportOut.model_fields.items()}
    assert body["totals"]["awarded"] == "64410035.00"
    assert body["unplaced_spent"] == "20000.00"
    assert body["spend_period"] == {"from": "2022-01-01", "to": "2022-12-31"}
    assert body["reporting"][0] == {
        "kind": "delredovisning",
        "due": "2022-09-30",
        "recipient": "Socialstyrelsen",
    }
    assert body["unplaced"] == [{"cost_object": "9942", "spent": "20000.00"}]
    # The report is the grant answer with the report's members: one shape, not two.
    grant = GrantReportOut.of(report_of(year)).model_dump(by_alias=True, mode="json")
    assert body == grant


# --- CSV ---------------------------------------------------------------------------------------


def parse_csv(raw: bytes) -> list[dict[str, str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so that Excel reads åäö"
    reader = csv.DictReader(io.StringIO(raw[3:].decode("utf-8")), delimiter=";")
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def test_csv_is_semicolon_separated_with_decimal_comma(year: Ledger) -> None:
    rows = parse_csv(render_csv(report_of(year)))
    levels = [r["Nivå"] for r in rows]
    assert levels.count("Bidrag") == 1
    assert levels.count("Område") == 6
    assert levels.count("Aktivitet") == 19
    assert levels.count("Återrapportering") == 3
    assert levels.count("Beslut") == 21
    grant = rows[0]
    f = year.figures(GRANT)
    assert ore(grant["Tilldelat"]) == f.awarded
    assert ore(grant["Förbrukat"]) == f.spent
    assert ore(grant["Kvar"]) == f.remaining
    assert grant["Namn"] == "God och nära vård 2022"
    assert grant["Ansvarig"] == ""  # the funder is no responsible
    assert grant["Finansiär"] == "Staten via SKR"
    assert ore(grant["Mottaget"]) == f.received
    areas = {r["Område"]: r for r in rows if r["Nivå"] == "Område"}
    assert ore(areas["nara-vard"]["Ofördelat"]) == kr(2_993_953) - kr("5000.25")
    assert areas["nara-vard"]["Objekt"] == "9916"
    activities = {r["Aktivitet"]: r for r in rows if r["Nivå"] == "Aktivitet"}
    web = activities["webbplatser"]
    assert (ore(web["Fördelat"]), ore(web["Förbrukat"]), ore(web["Kvar"])) == (
        kr(6_800_000),
        kr(7_000_000),
        -kr(200_000),
    )
    assert web["Överskridet"] == "ja"
    assert web["Ansvarig"] == "Kommunikationschef"
    assert web["Beslutsdatum"] == "2022-05-04"
    for area in AREAS:  # each area's activities add up to its allocated figure
        acts = [r for r in rows if r["Nivå"] == "Aktivitet" and r["Område"] == area]
        assert sum(ore(r["Fördelat"]) for r in acts) == ore(areas[area]["Fördelat"])
    obligations = [r for r in rows if r["Nivå"] == "Återrapportering"]
    assert (obligations[0]["Namn"], obligations[0]["Förfallodag"], obligations[0]["Mottagare"]) == (
        "delredovisning",
        "2022-09-30",
        "Socialstyrelsen",
    )
    decided = [r for r in rows if r["Nivå"] == "Beslut"]
    assert decided[-1]["Beslut"] == "RS/77/2022"
    assert decided[-1]["Namn"] == "Omfördelning: vardlots → webbplatser 100 000,00 kr"


def test_csv_text_cannot_become_a_formula(gnv: Ledger) -> None:
    gnv.allocate(GRANT, "formel", "nara-vard", kr(1), name='=HYPERLINK("x")')
    rows = parse_csv(render_csv(report_of(gnv)))
    (row,) = [r for r in rows if r["Aktivitet"] == "formel"]
    assert row["Namn"] == '\'=HYPERLINK("x")'


# --- XLSX --------------------------------------------------------------------------------------


def money_cells(ws: Any, row: int, columns: range) -> list[int]:
    values = []
    for col in columns:
        cell = ws.cell(row=row, column=col)
        assert isinstance(cell.value, (int, float)), (ws.title, cell.coordinate, cell.value)
        assert cell.number_format == KRONOR_FORMAT, cell.coordinate
        values.append(round(cell.value * 100))
    return values


def rows_until_blank(ws: Any) -> list[tuple[Any, ...]]:
    rows = []
    for values in ws.iter_rows(min_row=2, values_only=True):
        if values[0] is None:
            break
        rows.append(values)
    return rows


def test_xlsx_has_a_summary_and_a_sheet_per_area(year: Ledger) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(report_of(year))))
    assert wb.sheetnames == [SUMMARY_SHEET, *AREAS]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.cell(row=1, column=1).font.bold
        assert ws.auto_filter.ref.startswith("A1:"), ws.title
    summary = wb[SUMMARY_SHEET]
    assert tuple(c.value for c in summary[1]) == SUMMARY_COLUMNS
    assert summary.auto_filter.ref == "A1:L9"  # header, six areas, unplaced, total
    assert tuple(c.value for c in wb["nara-vard"][1]) == AREA_COLUMNS


def test_xlsx_summary_numbers_are_real_kronor_that_add_up(year: Ledger) -> None:
    f = year.figures(GRANT)
    ws = openpyxl.load_workbook(io.BytesIO(render_xlsx(report_of(year))))[SUMMARY_SHEET]
    rows = rows_until_blank(ws)
    assert [r[0] for r in rows] == [*AREAS, "(ej på område)", "Totalt"]
    money = range(6, 13)  # Tilldelat … Kvar
    per_row = [money_cells(ws, i, money) for i in range(2, 2 + len(rows))]
    *parts, total = per_row
    assert total == [sum(column) for column in zip(*parts, strict=True)]
    assert total == [
        f.awarded,
        f.allocated,
        f.unallocated,
        f.spent,
        f.unclassified_spent,
        f.repaid,
        f.remaining,
    ]
    assert (
        ws.cell(row=2, column=2).value == "Utvecklingen av den nära vården med primärvården som nav"
    )
    labels = {ws.cell(row=r, column=1).value: r for r in range(1, ws.max_row + 1)}
    due = ws.cell(row=labels["delredovisning"], column=2).value
    assert due == datetime(2022, 9, 30)
    assert ws.cell(row=labels["delredovisning"], column=2).number_format == "yyyy-mm-dd"
    assert ws.cell(row=labels["RS/77/2022"], column=5).value == 100_000
    received = ws.cell(row=labels["Mottaget"], column=2)
    assert (received.value, received.number_format) == (32_205_017.5, KRONOR_FORMAT)


def test_xlsx_area_sheet_adds_up_to_the_area(year: Ledger) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(report_of(year))))
    for area in year.figures(GRANT).areas:
        ws = wb[area.code]
        rows = rows_until_blank(ws)
        codes = [r[0] for r in rows]
        assert codes == [x.code for x in area.activities] + [
            "Ofördelat",
            "Oklassificerat",
            "Totalt",
        ]
        n = len(area.activities)
        allocated = [money_cells(ws, 2 + i, range(5, 8)) for i in range(n)]
        unallocated = money_cells(ws, 2 + n, range(7, 8))[0]
        unclassified = money_cells(ws, 3 + n, range(6, 7))[0]
        total = money_cells(ws, 4 + n, range(5, 8))
        assert total == [area.allocated, area.spent, area.remaining]
        assert sum(a[0] for a in allocated) == area.allocated
        assert sum(a[1] for a in allocated) + unclassified == area.spent
        assert sum(a[2] for a in allocated) + unallocated == area.remaining
    web = wb["medarbetare"]
    row = next(r for r in range(2, web.max_row) if web.cell(row=r, column=1).value == "webbplatser")
    assert web.cell(row=row, column=8).value == "ja"  # Överskridet
    assert web.cell(row=row, column=10).value == datetime(2022, 5, 4)


def test_sheet_titles_fit_excel() -> None:
    taken: set[str] = set()
    long = "a" * 40
    assert sheet_title(long, taken) == "a" * 31
    assert sheet_title(long, taken) == "a" * 29 + "-2"
    assert len(sheet_title("x/y:z", taken)) == 5


# --- HTTP ------------------------------------------------------------------------------------


@pytest.fixture
def year_api(api: Api) -> Api:
    ledger = Ledger(api.engine)
    ledger.load_plan(SEED_003)
    a_year(ledger)
    return api


def test_http_report_formats(year_api: Api) -> None:
    url = f"/v1/reports/grants/{GRANT}"
    as_json = year_api.get(url)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.headers["content-disposition"].startswith('inline; filename="gnv-2022-')
    body = as_json.json()
    assert set(body) == {f.alias or name for name, f in GrantReportOut.model_fields.items()}
    totals = year_api.balances(GRANT)["totals"]
    assert {k: body["totals"][k] for k in totals} == totals

    as_csv = year_api.get(url, params={"format": "csv", "as_of": "2022-05-31"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"] == 'attachment; filename="gnv-2022-2022-05-31.csv"'
    rows = parse_csv(as_csv.content)
    assert ore(rows[0]["Förbrukat"]) == kr(1_000_000) + kr("5000.25")
    assert rows[0]["Per datum"] == "2022-05-31"

    as_xlsx = year_api.get(url, params={"format": "xlsx"}, role="planner")
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert as_xlsx.headers["content-disposition"].endswith('.xlsx"')
    wb = openpyxl.load_workbook(io.BytesIO(as_xlsx.content))
    assert wb.sheetnames[0] == SUMMARY_SHEET


def test_http_report_errors(year_api: Api) -> None:
    assert_problem(year_api.get("/v1/reports/grants/finns-inte"), 404)
    bad = year_api.get(f"/v1/reports/grants/{GRANT}", params={"format": "pdf"})
    assert_problem(bad, 422, "validation-error")
    assert_problem(year_api.get(f"/v1/reports/grants/{GRANT}", role=None), 401)


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_report_writes_the_workbook(
    year: Ledger, database_url: str, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["report", GRANT, "--as-of", "2022-05-31", "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    written = tmp_path / "gnv-2022-2022-05-31.xlsx"
    assert f"wrote {written.name}" in result.output
    wb = openpyxl.load_workbook(written)
    assert wb.sheetnames == [SUMMARY_SHEET, *AREAS]

    target = tmp_path / "rapport.csv"
    result = runner.invoke(
        cli,
        [
            "report",
            GRANT,
            "--format",
            "csv",
            "--output",
            str(target),
            "--database-url",
            database_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert ore(parse_csv(target.read_bytes())[0]["Förbrukat"]) == year.figures(GRANT).spent

    result = runner.invoke(
        cli, ["report", GRANT, "--format", "json", "-o", "-", "--database-url", database_url]
    )
    assert result.exit_code == 0
    assert '"grant_id": "gnv-2022"' in result.stdout

    bad = runner.invoke(cli, ["report", GRANT, "--format", "pdf", "--database-url", database_url])
    assert bad.exit_code == 2


# --- reconciliation (issue 12) -----------------------------------------------------------------

MONEY_COLUMNS = (
    "Tilldelat",
    "Fördelat",
    "Ofördelat",
    "Förbrukat",
    "varav oklassificerat",
    "Återbetalt",
    "Kvar",
)


def test_csv_and_xlsx_reconcile_area_rows_plus_unplaced_equal_the_grant_row(year: Ledger) -> None:
    """Seed 003 with spend on 9942 (two areas): the unplaced row closes the sum in both files."""
    r = report_of(year)
    f = year.figures(GRANT)
    grant_row = [f.awarded, f.allocated, f.unallocated, f.spent]
    grant_row += [f.unclassified_spent, f.repaid, f.remaining]

    rows = parse_csv(render_csv(r))
    parts = [r_ for r_ in rows if r_["Nivå"] in ("Område", "Ej på område")]
    unplaced = [r_ for r_ in parts if r_["Nivå"] == "Ej på område"]
    assert [(u["Objekt"], ore(u["Förbrukat"])) for u in unplaced] == [("9942", kr(20_000))]
    (total,) = [r_ for r_ in rows if r_["Nivå"] == "Bidrag"]
    summed = [sum(ore(p[c]) for p in parts) for c in MONEY_COLUMNS]
    assert summed == [ore(total[c]) for c in MONEY_COLUMNS] == grant_row

    ws = openpyxl.load_workbook(io.BytesIO(render_xlsx(r)))[SUMMARY_SHEET]
    table = rows_until_blank(ws)
    *xlsx_parts, xlsx_total = [money_cells(ws, i, range(6, 13)) for i in range(2, 2 + len(table))]
    assert [r_[2] for r_ in table if r_[0] == "(ej på område)"] == ["9942"]
    assert [sum(c) for c in zip(*xlsx_parts, strict=True)] == xlsx_total == grant_row


# --- text is text (issue 16 §2, §5) ------------------------------------------------------------

HOSTILE = (
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x","klicka")',
    " =1+1",
    "\t=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    "＝1+1",
)


def hostile(r: GrantModel, texts: tuple[str, ...]) -> GrantModel:
    """The report with user texts in every place a name, funder, decision or kind can go."""
    n = itertools.cycle(texts)
    on = r.decision.date
    areas = tuple(
        replace(
            a,
            name=next(n),
            responsible=next(n),
            activities=tuple(
                replace(
                    x,
                    name=next(n),
                    responsible=next(n),
                    decision=cmd.Decision(ref=next(n), date=on, body=next(n)),
                )
                for x in a.activities
            ),
        )
        for a in r.areas
    )
    decisions = tuple(
        replace(d, subject=next(n), decision=cmd.Decision(next(n), on, next(n)))
        for d in r.decisions
    )
    return replace(
        r,
        name=next(n),
        funder=next(n),
        decision=cmd.Decision(ref=next(n), date=on, body=next(n)),
        repayment_reference=next(n),
        areas=areas,
        decisions=decisions,
        reporting=tuple(cmd.ReportingObligation(next(n), o.due, next(n)) for o in r.reporting),
    )


def test_xlsx_text_that_starts_like_a_formula_is_a_text_cell(year: Ledger) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(hostile(report_of(year), HOSTILE))))
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (ws.title, cell.coordinate, cell.value)
                    seen.add(cell.value)
                else:
                    assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    assert set(HOSTILE) <= seen  # kept exactly as written, as text


def test_csv_quotes_every_field_and_keeps_formula_text_text(year: Ledger) -> None:
    raw = render_csv(hostile(report_of(year), HOSTILE))
    text = raw[3:].decode("utf-8")
    for record in csv.reader(io.StringIO(text), delimiter=";"):
        for value in record:
            if re.fullmatch(r"-[0-9]+,[0-9]{2}", value):
                continue  # a negative amount: a number, not a formula
            assert value.lstrip()[:1] not in ("=", "+", "-", "@", "＝"), value
            assert value[:1] != "\t", value
    for line_ in text.splitlines()[:3]:
        assert line_.startswith('"'), line_
        assert line_.endswith('"'), line_
        assert '";"' in line_


def test_noncharacters_do_not_make_the_workbook_unreadable(year: Ledger) -> None:
    r = hostile(report_of(year), ("a\ufffeb", "c\uffffd", "e\U0010fffff", "g\x01h", "i\ufdd0j"))
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(r)))
    values = {
        cell.value
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    }
    assert {"a\ufffdb", "c\ufffdd", "e\ufffdf", "g\ufffdh", "i\ufffdj"} <= values


# --- one snapshot, and a corrupt stored event is the server's fault (issue 16 §7) ----------------


def test_a_corrupt_stored_event_in_a_grant_report_is_a_500_problem(
    year_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with year_api.engine.begin() as conn:
        last = (
            conn.execute(sa.select(events).order_by(events.c.position.desc()).limit(1))
            .mappings()
            .one()
        )
        allocated = (
            conn.execute(
                sa.select(events).where(events.c.event_type == "ActivityAllocated").limit(1)
            )
            .mappings()
            .one()
        )
        conn.execute(
            events.insert(),
            [
                dict(
                    allocated,
                    position=last["position"] + 1,
                    stream_version=last["stream_version"] + 1000,
                    data={"code": 17},
                    prev_hash=last["hash"],
                    hash="e" * 64,
                )
            ],
        )
    with caplog.at_level("ERROR"):
        answer = year_api.get(f"/v1/reports/grants/{GRANT}")
    body = assert_problem(answer, 500, "corrupt-stored-event", position=last["position"] + 1)
    assert "KeyError" not in body["detail"]  # the reason is logged, not answered
    assert any("cannot be read" in r.getMessage() for r in caplog.records)


def test_a_report_reads_the_ledger_in_one_transaction(year: Ledger) -> None:
    """Issue 12: figures and decisions from one snapshot, never three reads that may disagree."""
    engine = year.queries.engine
    begins: list[object] = []

    def count(conn: object) -> None:
        begins.append(conn)

    sa.event.listen(engine, "begin", count)
    try:
        r = year.queries.grant(GRANT, as_of=AS_OF, decisions=True)
    finally:
        sa.event.remove(engine, "begin", count)
    assert len(begins) == 1
    assert r.decisions
    assert r.totals.spent == year.figures(GRANT, as_of=AS_OF).spent
