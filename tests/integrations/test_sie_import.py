"""SIE 4 import (issue 7 §1): ERP vouchers become spend lines, once, atomically, with reasons.

The sample ``data/raindance_2022_pc8.se`` is a real file as Raindance writes it: code page 437
with åäö, CRLF, tabs and runs of blanks, quoted strings with spaces and escaped quotes, bare and
quoted object codes, a credit note (negative amount), a line on an object that is no grant's,
balance-sheet counter-entries without a cost object, a zero line, and an #RTRANS/#BTRANS pair.
"""

from __future__ import annotations

import zlib
from datetime import date
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.routers.common import ProblemLine
from ledger.domain.errors import UnplaceableSpend
from ledger.errors import InvalidInput
from ledger.formats.sie import SieError, read_sie
from ledger.formats.sie.accounts import DEFAULT, SpendAccounts
from ledger.formats.sie.importer import ImportOutcome, Prepared, import_sie, prepare
from ledger.formats.sie.lines import (
    NO_COST_OBJECT,
    NOT_A_COST_ACCOUNT,
    SOURCE,
    ZERO_AMOUNT,
    Options,
    Plan,
    SieImportRefused,
)
from ledger.service import Actor
from tests.integrations.conftest import DATA, GRANT, SEED_003
from tests.support.api import Api, ApiFactory, assert_problem
from tests.support.ledger import Ledger, assert_books_balance, kr

SAMPLE = DATA / "raindance_2022_pc8.se"
MALFORMED = DATA / "malformed_pc8.se"
POSTER = Actor("erp-import", "poster", source_system="raindance")

HEADER = '#FLAGGA 0\n#FORMAT PC8\n#SIETYP 4\n#DIM 6 "Projekt"\n#DIM 20 "Aktivitet"\n'


def sie_bytes(body: str, header: str = HEADER) -> bytes:
    return (header + body).encode("cp437")


def options(
    *, cost_object_dim: int = 6, activity_dim: int | None = 20, accounts: str = DEFAULT
) -> Options:
    return Options(cost_object_dim, activity_dim, SpendAccounts.parse(accounts))


def prepared(raw: bytes, **kwargs: object) -> Prepared:
    return prepare(raw, options(**kwargs))  # type: ignore[arg-type]


def plan_of(raw: bytes, **kwargs: object) -> Plan:
    return prepared(raw, **kwargs).plan


def run_import(ledger: Ledger, raw: bytes, **kwargs: object) -> ImportOutcome:
    outcome = import_sie(ledger.service, prepared(raw, **kwargs), POSTER)
    assert isinstance(outcome, ImportOutcome)
    return outcome


# --- the plan (pure) ---------------------------------------------------------------------------


def test_the_sample_really_is_code_page_437_with_swedish_letters() -> None:
    raw = SAMPLE.read_bytes()
    assert "Jämtland Härjedalen".encode("cp437") in raw
    assert "ä".encode() not in raw  # not UTF-8
    assert b"\r\n" in raw


def test_each_counted_trans_on_a_cost_account_and_cost_object_becomes_a_line() -> None:
    plan = plan_of(SAMPLE.read_bytes())
    assert plan.vouchers == 5
    assert plan.transactions == 12  # #BTRANS never counts, #RTRANS + its #TRANS count once
    assert (plan.fiscal_year, plan.fiscal_year_from) == ("2022", "#RAR 0")
    got = {
        line.line_id: (line.voucher, line.cost_object, line.activity, line.amount, line.booked_on)
        for line in plan.lines
    }
    assert got == {
        "2022:A-1001-1": ("A1001", "9916", "lokalt-arbete", kr("13200.00"), date(2022, 3, 31)),
        # No transaction date: the voucher's date.  No activity object: unclassified.
        "2022:A-1001-2": ("A1001", "9916", None, kr("4147.44"), date(2022, 3, 31)),
        # Bare object codes, tabs and runs of blanks.
        "2022:A-1002-1": ("A1002", "9917", "webbplatser", kr(25_000), date(2022, 4, 15)),
        # A credit note: a negative amount, with quoted dimension number {"6" "9942"}.
        "2022:B-17-1": ("B17", "9942", None, -kr("1250.50"), date(2022, 4, 20)),
        # The routing decides about 7001 (no grant's): the plan sends it.
        "2022:B-18-1": ("B18", "7001", None, kr(999), date(2022, 4, 30)),
        # The line added later (#RTRANS) is row 2 of its voucher, counted once.
        "2022:C-3-2": ("C3", "9916", "barnhalsovard", kr(500), date(2022, 5, 10)),
    }
    first = plan.lines[0]
    assert (first.account, first.kind, first.text) == ("4010", "expense", "Löner åäö ÅÄÖ")
    # Without a text of its own, a line carries its voucher's (quoted, with spaces, åäö).
    assert plan.lines[1].text == "Lön mars, Östersund"
    # The struck row (#BTRANS, row 3 of C 3) goes to the service to be reversed if recorded.
    assert [(s.line.line_id, s.line.amount) for s in plan.struck] == [("2022:C-3-3", kr(800))]


def test_rows_the_plan_skips_are_counted_with_reasons_never_dropped() -> None:
    plan = plan_of(SAMPLE.read_bytes())
    assert len(plan.lines) + len(plan.skipped) == plan.transactions
    assert plan.skipped_by_reason() == {NOT_A_COST_ACCOUNT: 5, ZERO_AMOUNT: 1}
    by_id = {s.row.line_id: s for s in plan.skipped}
    counter = by_id["2022:A-1001-3"]
    assert (counter.row.account, counter.row.amount_ore, counter.reason_code) == (
        "2710",
        -kr("17347.44"),
        NOT_A_COST_ACCOUNT,
    )
    assert "4000-7999" in counter.reason
    assert by_id["2022:C-3-1"].reason_code == ZERO_AMOUNT


def test_a_cost_line_without_the_cost_object_dimension_is_skipped() -> None:
    raw = sie_bytes('#VER A 1 20220301 "x"\n{\n#TRANS 4010 {1 "456"} 5\n#TRANS 2440 {} -5\n}\n')
    plan = plan_of(raw)
    assert plan.skipped_by_reason() == {NO_COST_OBJECT: 1, NOT_A_COST_ACCOUNT: 1}


def test_without_an_activity_dimension_every_line_is_unclassified() -> None:
    plan = plan_of(SAMPLE.read_bytes(), activity_dim=None)
    assert {line.activity for line in plan.lines} == {None}
    assert len(plan.lines) == 6


def test_the_cost_object_dimension_is_configurable() -> None:
    # The same file read with the cost object in dimension 1 (kostnadsställe 456).
    plan = plan_of(SAMPLE.read_bytes(), cost_object_dim=1, activity_dim=None)
    assert [(line.line_id, line.cost_object) for line in plan.lines] == [
        ("2022:A-1001-1", "456"),
        ("2022:A-1001-2", "456"),
    ]


def test_the_spend_accounts_are_configurable() -> None:
    plan = plan_of(SAMPLE.read_bytes(), accounts="4000-4999")
    assert {line.account for line in plan.lines} == {"4010"}
    with pytest.raises(InvalidInput) as info:
        SpendAccounts.parse("4000-39")
    assert "ends before it starts" in info.value.detail
    with pytest.raises(InvalidInput):
        SpendAccounts.parse("kostnader")


def test_utf8_file_plans_the_same_as_its_pc8_twin() -> None:
    text = SAMPLE.read_bytes().decode("cp437").replace("#FORMAT PC8", "#FORMAT UTF-8")
    assert plan_of(text.encode("utf-8")).lines == plan_of(SAMPLE.read_bytes()).lines


def test_malformed_lines_are_a_clear_error_naming_every_line() -> None:
    with pytest.raises(SieError) as info:
        read_sie(MALFORMED.read_bytes())
    assert info.value.line == 36
    assert info.value.detail == (
        "2 problems: line 36: #TRANS amount '12,50' is not a number; "
        "line 37: #TRANS amount '-12,50' is not a number"
    )
    assert isinstance(info.value, InvalidInput)  # a 422 over HTTP


def test_an_unclosed_quote_names_its_line() -> None:
    raw = sie_bytes('#VER A 1 20220301 "Öppen text\n{\n}\n')
    with pytest.raises(SieError) as info:
        read_sie(raw)
    assert info.value.line == 6
    assert "never closed" in info.value.detail


def test_a_voucher_without_number_cannot_be_imported_twice_safely_so_it_is_refused() -> None:
    raw = sie_bytes(
        '#VER "" "" 20220301 "Utan nummer"\n{\n#TRANS 4010 {6 9916} 5\n#TRANS 2440 {} -5\n}\n'
    )
    with pytest.raises(SieImportRefused) as info:
        plan_of(raw)
    assert info.value.line == 6
    assert "no number" in info.value.detail


def test_the_same_voucher_twice_is_refused() -> None:
    voucher = '#VER A 7 20220301 "x"\n{\n#TRANS 4010 {6 9916} 5\n#TRANS 2440 {} -5\n}\n'
    with pytest.raises(SieImportRefused) as info:
        plan_of(sie_bytes(voucher + voucher))
    assert info.value.line == 11
    assert "appears twice (also on line 6)" in info.value.detail


def test_a_file_that_is_not_sie_is_refused() -> None:
    with pytest.raises(SieImportRefused):
        plan_of(b"")
    with pytest.raises(InvalidInput):  # the same dimension twice
        plan_of(SAMPLE.read_bytes(), activity_dim=6)


# --- posting through the ledger (both databases) ------------------------------------------------


def test_import_records_the_lines_on_the_grant(gnv: Ledger) -> None:
    outcome = run_import(gnv, SAMPLE.read_bytes())
    assert (outcome.imported, outcome.already_present, outcome.reversed) == (5, 0, 0)
    # 5 not on a cost account, 1 zero, 1 on no grant's cost object (from the routing), and
    # the struck row, which was never recorded here.
    assert outcome.skipped_by_reason() == {
        NOT_A_COST_ACCOUNT: 5,
        ZERO_AMOUNT: 1,
        "unknown-cost-object": 1,
        "struck-not-recorded": 1,
    }
    assert outcome.grants == {
        GRANT: {"imported": 5, "already_present": 0, "reversed": 0, "already_reversed": 0}
    }
    assert gnv.activity(GRANT, "lokalt-arbete").spent == kr(13_200)
    assert gnv.activity(GRANT, "webbplatser").spent == kr(25_000)
    assert gnv.activity(GRANT, "barnhalsovard").spent == kr(500)
    assert gnv.area(GRANT, "nara-vard").unclassified_spent == kr("4147.44")
    f = gnv.figures(GRANT)
    # 9942 serves e-hälsa and ambulans: the credit note is grant-level unclassified spend.
    assert f.unclassified_spent == kr("4147.44") - kr("1250.50")
    assert f.spent == kr(13_200) + kr("4147.44") + kr(25_000) + kr(500) - kr("1250.50")
    # What it booked per cost object, to tie to the ERP's own report of the period.
    assert {co: b.net_ore for co, b in outcome.by_cost_object().items()} == {
        "9916": kr(13_200) + kr("4147.44") + kr(500),
        "9917": kr(25_000),
        "9942": -kr("1250.50"),
    }
    lines = gnv.events(stream_id=f"grant-{GRANT}")
    spend = [e for e in lines if e.event_type == "SpendRecorded"]
    assert {e.data["line_id"] for e in spend} == {
        "2022:A-1001-1",
        "2022:A-1001-2",
        "2022:A-1002-1",
        "2022:B-17-1",
        "2022:C-3-2",
    }
    assert {e.data["source"] for e in spend} == {SOURCE}
    assert {e.meta["actor"] for e in spend} == {"erp-import"}
    assert_books_balance(gnv.engine)


def test_importing_the_same_file_twice_adds_nothing(gnv: Ledger) -> None:
    run_import(gnv, SAMPLE.read_bytes())
    before = gnv.snapshot()
    again = run_import(gnv, SAMPLE.read_bytes())
    assert (again.imported, again.already_present, len(again.skipped)) == (0, 5, 8)
    assert gnv.snapshot() == before


def test_a_file_with_more_vouchers_imports_only_the_new_ones(gnv: Ledger) -> None:
    run_import(gnv, SAMPLE.read_bytes())
    text = SAMPLE.read_bytes().decode("cp437") + (
        '#VER D 1 20220601 "Juni"\r\n{\r\n#TRANS 4010 {6 "9916" 20 "lokalt-arbete"} 1000.00\r\n'
        "#TRANS 2440 {} -1000.00\r\n}\r\n"
    )
    outcome = run_import(gnv, text.encode("cp437"))
    assert (outcome.imported, outcome.already_present) == (1, 5)
    assert gnv.activity(GRANT, "lokalt-arbete").spent == kr(14_200)


def test_the_whole_file_is_atomic(gnv: Ledger) -> None:
    before = gnv.snapshot()
    text = SAMPLE.read_bytes().decode("cp437") + (
        '#VER D 2 20220601 "Okänd aktivitet"\r\n{\r\n'
        '#TRANS 4010 {6 "9916" 20 "finns-inte"} 1000.00\r\n#TRANS 2440 {} -1000.00\r\n}\r\n'
    )
    with pytest.raises(UnplaceableSpend) as info:
        run_import(gnv, text.encode("cp437"))
    assert [e["line_id"] for e in info.value.fields["errors"]] == ["2022:D-2-1"]
    assert gnv.snapshot() == before  # not even the good lines of the file


def test_a_file_with_nothing_for_the_ledger_writes_nothing(gnv: Ledger) -> None:
    before = gnv.snapshot()
    raw = sie_bytes('#VER A 1 20220301 "x"\n{\n#TRANS 4010 {6 "7001"} 5\n#TRANS 2440 {} -5\n}\n')
    outcome = run_import(gnv, raw)
    assert (outcome.imported, len(outcome.skipped)) == (0, 2)
    assert gnv.snapshot() == before


def test_lines_outside_every_spend_period_are_skipped_by_the_routing(gnv: Ledger) -> None:
    raw = sie_bytes(
        '#VER A 1 20230115 "Nytt år"\n{\n#TRANS 4010 {6 "9916"} 100.00\n#TRANS 2440 {} -100.00\n}\n'
    )
    outcome = run_import(gnv, raw)
    assert outcome.imported == 0
    assert outcome.skipped_by_reason() == {NOT_A_COST_ACCOUNT: 1, "outside-spend-period": 1}


def test_a_file_with_a_checksum_is_verified_and_imported(gnv: Ledger, tmp_path: Path) -> None:
    records = [
        ("#FORMAT", "PC8"),
        ("#SIETYP", "4"),
        ("#VER", 'A 9 20220301 "Kontrollsumma"'),
        ("{", ""),
        ("#TRANS", '4010 {6 "9916" 20 "lokalt-arbete"} 321.00'),
        ("#TRANS", "2440 {} -321.00"),
        ("}", ""),
    ]
    summed = "#FORMATPC8#SIETYP4#VERA920220301Kontrollsumma#TRANS401069916" + (
        "20lokalt-arbete321.00#TRANS2440-321.00"
    )
    crc = zlib.crc32(summed.encode("cp437"))
    body = "\n".join(f"{label} {fields}".strip() for label, fields in records)
    raw = f"#FLAGGA 0\n#KSUMMA\n{body}\n#KSUMMA {crc}\n".encode("cp437")
    assert read_sie(raw).checksum == crc
    assert run_import(gnv, raw).imported == 1
    tampered = raw.replace(b"321.00", b"421.00")
    with pytest.raises(SieError):
        read_sie(tampered)


# --- HTTP ------------------------------------------------------------------------------------


def _upload(
    api: Api,
    raw: bytes,
    role: str = "poster",
    headers: dict[str, str] | None = None,
    **params: int | str,
) -> httpx.Response:
    return api.client.post(
        "/v1/imports/sie",
        params=params,
        files={"file": ("raindance.se", raw, "application/octet-stream")},
        headers={**api.headers(role), **(headers or {})},
    )


@pytest.fixture
def gnv_api(api: Api) -> Api:
    Ledger(api.engine).load_plan(SEED_003)
    return api


def test_http_import_answers_counts_and_reasons(gnv_api: Api) -> None:
    answer = _upload(gnv_api, SAMPLE.read_bytes(), activity_dim=20)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["imported"], body["already_present"], body["reversed"], body["skipped"]) == (
        5,
        0,
        0,
        8,
    )
    assert body["skipped_by_reason"] == {
        "not-a-cost-account": 5,
        "struck-not-recorded": 1,
        "unknown-cost-object": 1,
        "zero-amount": 1,
    }
    assert body["grants"] == {
        GRANT: {"imported": 5, "already_present": 0, "reversed": 0, "already_reversed": 0}
    }
    assert body["file"] == {
        "program": "Raindance Ekonomi",
        "company_name": "Region Jämtland Härjedalen",
        "format": "PC8",
        "encoding": "cp437",
        "fiscal_year": "2022",
        "fiscal_year_from": "#RAR 0",
        "vouchers": 5,
        "transactions": 12,
        "dimensions": {"1": "Kostnadsställe", "6": "Projekt", "20": "Aktivitet"},
        "warnings": [],
    }
    assert (body["dry_run"], body["spend_accounts"]) == (False, "4000-7999")
    assert body["cost_objects"]["9917"] == {
        "grant_id": GRANT,
        "cost_object": "9917",
        "activity": None,
        "imported_lines": 1,
        "imported": "25000.00",
        "reversed_lines": 0,
        "reversed": "0.00",
        "net": "25000.00",
    }
    (unknown,) = [s for s in body["skipped_lines"] if s["reason_code"] == "unknown-cost-object"]
    assert unknown == {
        "line_id": "2022:B-18-1",
        "voucher": "B18",
        "file_line": 36,
        "account": "4010",
        "amount": "999.00",
        "booked_on": "2022-04-30",
        "cost_object": "7001",
        "reason_code": "unknown-cost-object",
        "reason": "no grant is booked on cost object '7001'",
    }
    assert gnv_api.activity("lokalt-arbete", GRANT)["spent"] == "13200.00"

    again = _upload(gnv_api, SAMPLE.read_bytes(), activity_dim=20).json()
    assert (again["imported"], again["already_present"]) == (0, 5)


def test_http_import_dimensions_default_to_the_settings(
    api_factory: ApiFactory, gnv_api: Api
) -> None:
    configured = api_factory(sie_activity_dim=20)
    body = _upload(configured, SAMPLE.read_bytes()).json()
    assert (body["cost_object_dim"], body["activity_dim"]) == (6, 20)
    assert configured.activity("lokalt-arbete", GRANT)["spent"] == "13200.00"


def test_http_import_replays_an_idempotency_key(gnv_api: Api) -> None:
    key = {"Idempotency-Key": "sie-2022-03"}
    first = _upload(gnv_api, SAMPLE.read_bytes(), activity_dim=20, headers=key)
    events = gnv_api.event_count()
    second = _upload(gnv_api, SAMPLE.read_bytes(), activity_dim=20, headers=key)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert gnv_api.event_count() == events
    other = _upload(gnv_api, MALFORMED.read_bytes().replace(b"12,50", b"12.50"), headers=key)
    assert_problem(other, 422, "idempotency-key-reused")


def test_http_malformed_file_is_a_422_naming_every_line(gnv_api: Api) -> None:
    events = gnv_api.event_count()
    answer = _upload(gnv_api, MALFORMED.read_bytes())
    body = assert_problem(answer, 422, "sie-invalid", line=36, problems=2)
    assert [e["line"] for e in body["errors"]] == [36, 37]
    # Each item is what the spec promises of a Problem's errors[] (a generated client reads it).
    assert [ProblemLine.model_validate(e).field for e in body["errors"]] == ["file", "file"]
    assert gnv_api.event_count() == events


def test_http_import_needs_the_poster_role(gnv_api: Api) -> None:
    assert_problem(_upload(gnv_api, SAMPLE.read_bytes(), role="reader"), 403)
    answer = gnv_api.client.post("/v1/imports/sie", files={"file": ("a.se", b"#FLAGGA 0")})
    assert_problem(answer, 401)


def test_http_import_without_a_file_is_a_422(gnv_api: Api) -> None:
    answer = gnv_api.client.post("/v1/imports/sie", headers=gnv_api.headers("poster"))
    assert_problem(answer, 422, "validation-error")


# --- CLI -------------------------------------------------------------------------------------


def test_cli_import_sie(gnv: Ledger, database_url: str, cli_env: None) -> None:
    runner = CliRunner()
    args = ["import", "sie", str(SAMPLE), "--cost-object-dim", "6", "--activity-dim", "20"]
    result = runner.invoke(
        cli, [*args, "--database-url", database_url, "--show-skipped"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "imported                 5" in result.output
    assert "already present          0" in result.output
    assert "unknown-cost-object" in result.output
    assert "2022:B-18-1" in result.output
    assert "fiscal year 2022 (from #RAR 0)" in result.output
    assert gnv.activity(GRANT, "lokalt-arbete").spent == kr(13_200)

    again = runner.invoke(cli, [*args, "--database-url", database_url])
    assert again.exit_code == 0, again.output
    assert "imported                 0" in again.output
    assert "already present          5" in again.output
