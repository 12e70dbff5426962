"""SIE files as real ERPs write them (issue 11), and the SIE path's hardening (issue 16).

The samples in ``data/`` are CP437 with CRLF, as Visma and Raindance write them:
``projekt_blandade_konton`` (cost, VAT, revenue and receivable on one project object),
``korrigering_2022_1``/``_2`` (an export, then the same period after a correction in the ERP),
``nasta_ar_2023`` (voucher numbering restarts), ``trasiga_kontonamn`` (#KONTO with a quote never
closed), ``objektsaldon_typ3`` (SIE 3, balances only) and ``utf8_som_pc8`` (UTF-8 under
#FORMAT PC8, with U+FFFD already in it).
"""

from __future__ import annotations

import getpass
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from api.cli import app as cli
from api.cli import main as cli_main
from ledger import migrate
from ledger.db import create_engine
from ledger.domain import commands as cmd
from ledger.domain import events as ev
from ledger.formats.sie import SieError, TooManyLines, read_sie
from ledger.formats.sie import lines as sie_lines
from ledger.formats.sie.accounts import DEFAULT, SpendAccounts
from ledger.formats.sie.importer import ImportOutcome, import_sie, prepare
from ledger.formats.sie.lines import Options
from ledger.service import Actor, NaturalKeyConflict
from tests.integrations.conftest import DATA, GRANT, SEED_003
from tests.support.api import Api, ApiFactory, assert_problem
from tests.support.ledger import Ledger, assert_books_balance, assert_replay_identical, kr

PROJECT = DATA / "projekt_blandade_konton_2022_pc8.se"
BEFORE = DATA / "korrigering_2022_1_pc8.se"
CORRECTED = DATA / "korrigering_2022_2_pc8.se"
NEXT_YEAR = DATA / "nasta_ar_2023_pc8.se"
BROKEN_NAMES = DATA / "trasiga_kontonamn_pc8.se"
BALANCES_ONLY = DATA / "objektsaldon_typ3_pc8.se"
UTF8_AS_PC8 = DATA / "utf8_som_pc8.se"
RAINDANCE = DATA / "raindance_2022_pc8.se"
POSTER = Actor("erp-import", "poster", source_system="visma")
OPTIONS = Options(6, 20, SpendAccounts.parse(DEFAULT))


def run(ledger: Ledger, raw: bytes, *, dry_run: bool = False) -> ImportOutcome:
    outcome = import_sie(ledger.service, prepare(raw, OPTIONS), POSTER, dry_run=dry_run)
    assert isinstance(outcome, ImportOutcome)
    return outcome


def erp_spend(raw: bytes) -> dict[str, int]:
    """What the ERP's own report says was spent per cost object: its counted cost rows."""
    spend: Counter[str] = Counter()
    for v in read_sie(raw).vouchers:
        for t in v.transactions:
            co = dict(t.objects).get(6)
            if co is not None and t.account in OPTIONS.spend_accounts:
                spend[co] += t.amount_ore
    return dict(spend)


def ledger_spend(ledger: Ledger) -> dict[str, int]:
    spend: Counter[str] = Counter()
    for e in ledger.events():
        data = e.data
        if e.event_type == "SpendRecorded":
            spend[data["cost_object"]] += data["amount"]
        elif e.event_type == "SpendReversed":
            spend[data["cost_object"]] -= data["amount"]
    return dict(spend)


def sie(body: str) -> bytes:
    head = '#FLAGGA 0\n#FORMAT PC8\n#SIETYP 4\n#RAR 0 20220101 20221231\n#DIM 6 "Projekt"\n'
    return (head + body).replace("\n", "\r\n").encode("cp437")


def voucher(series: str, number: int, *rows: str, on: str = "20220310") -> str:
    return (
        f'#VER {series} {number} {on} "Verifikation"\n{{\n'
        + "".join(f"   {r}\n" for r in rows)
        + "}\n"
    )


# --- which lines are spend (rule: cost accounts only) ------------------------------------------


def test_only_cost_account_lines_on_a_project_are_spend(gnv: Ledger) -> None:
    """Issue 11 §1: VAT, revenue and the receivable on the project object are not spend."""
    outcome = run(gnv, PROJECT.read_bytes())
    assert (outcome.imported, outcome.reversed) == (2, 0)
    assert outcome.skipped_by_reason() == {"not-a-cost-account": 7}
    skipped_accounts = sorted(s.row.account for s in outcome.skipped)
    assert skipped_accounts == ["1510", "2440", "2440", "2611", "2641", "2641", "3041"]
    # The invoice is 12 000 kr of spend (not 0), the credit note -2 000 kr; revenue is no spend.
    assert gnv.activity(GRANT, "lokalt-arbete").spent == kr(10_000)
    assert {co: b.net_ore for co, b in outcome.by_cost_object().items()} == {"9916": kr(10_000)}
    assert ledger_spend(gnv) == erp_spend(PROJECT.read_bytes())
    assert_books_balance(gnv.engine)


def test_other_account_ranges_are_a_setting_and_a_query_parameter(
    api_factory: ApiFactory, gnv_api: Api
) -> None:
    configured = api_factory(sie_spend_accounts="5000-5999")
    body = upload(configured, BEFORE.read_bytes()).json()  # 6550 is not in 5000-5999
    assert (body["imported"], body["spend_accounts"]) == (0, "5000-5999")
    body = upload(configured, BEFORE.read_bytes(), spend_accounts="6000-6999").json()
    assert (body["imported"], body["spend_accounts"]) == (2, "6000-6999")
    bad = upload(configured, BEFORE.read_bytes(), spend_accounts="kostnader")
    assert_problem(bad, 422)


# --- corrections (#BTRANS struck, #RTRANS added) -----------------------------------------------


def test_the_correction_cycle_ends_with_the_erps_figures(gnv: Ledger) -> None:
    """Import, correct in the ERP, re-export, re-import: the ledger's spend equals the ERP's."""
    first = run(gnv, BEFORE.read_bytes())
    assert (first.imported, first.reversed) == (2, 0)
    assert gnv.activity(GRANT, "lokalt-arbete").spent == kr(8_000)
    recorded = {e.data["line_id"]: e for e in gnv.events() if e.event_type == "SpendRecorded"}

    second = run(gnv, CORRECTED.read_bytes())
    # The struck row is reversed, the added row and the new voucher are new spend, the row the
    # correction left alone is already there.
    assert (second.imported, second.already_present, second.reversed) == (2, 1, 1)
    assert second.grants[GRANT] == {
        "imported": 2,
        "already_present": 1,
        "reversed": 1,
        "already_reversed": 0,
    }
    (reversal,) = [e for e in gnv.events() if e.event_type == "SpendReversed"]
    struck = recorded["2022:A-1-1"]
    # A rättelse linked to the line, as the reversal endpoint makes one, on the correction's date.
    assert reversal.data["reversal_of"] == struck.data["transaction_id"]
    assert reversal.data["booked_on"] == "2022-04-15"
    assert "#BTRANS on line" in reversal.data["reason"]
    assert reversal.meta["actor"] == "erp-import"
    assert gnv.activity(GRANT, "lokalt-arbete").spent == kr(1_500)
    assert gnv.activity(GRANT, "vardlots").spent == kr(8_000)
    assert gnv.activity(GRANT, "webbplatser").spent == kr(2_000)
    assert ledger_spend(gnv) == erp_spend(CORRECTED.read_bytes())
    by_co = second.by_cost_object()
    assert (by_co["9916"].imported_ore, by_co["9916"].reversed_ore) == (kr(1_500), kr(8_000))
    assert by_co["9917"].net_ore == kr(8_000)

    before = gnv.snapshot()
    third = run(gnv, CORRECTED.read_bytes())
    assert (third.imported, third.already_present, third.reversed) == (0, 3, 0)
    assert third.already_reversed == 1
    assert gnv.snapshot() == before  # re-importing the corrected file adds nothing
    assert_books_balance(gnv.engine)
    assert_replay_identical(gnv.engine)


def test_a_recorded_line_changed_without_btrans_is_a_conflict_naming_it(gnv: Ledger) -> None:
    run(gnv, BEFORE.read_bytes())
    before = gnv.snapshot()
    changed = BEFORE.read_bytes().replace(b"8000.00", b"8500.00").replace(b"-10000", b"-10500")
    with pytest.raises(NaturalKeyConflict) as info:
        run(gnv, changed)
    assert [e["line_id"] for e in info.value.fields["errors"]] == ["2022:A-1-1"]
    assert gnv.snapshot() == before


def test_a_struck_row_other_than_the_recorded_one_is_a_conflict(gnv: Ledger) -> None:
    run(gnv, BEFORE.read_bytes())
    other = CORRECTED.read_bytes().replace(
        b'#BTRANS 6550 {6 "9916" 20 "lokalt-arbete"} 8000.00',
        b'#BTRANS 6550 {6 "9916" 20 "lokalt-arbete"} 7000.00',
    )
    with pytest.raises(NaturalKeyConflict) as info:
        run(gnv, other)
    assert "2022:A-1-1" in info.value.detail


def test_the_trans_repeating_an_rtrans_may_carry_another_date_and_text() -> None:
    (v, _) = read_sie(CORRECTED.read_bytes()).vouchers
    added = [t for t in v.transactions if t.change == "added"]
    assert [(t.line_no, t.date, t.text) for t in added] == [
        (4, date(2022, 3, 31), "Konsult Östersund")  # the repeat's: the voucher's date
    ]


# --- next year's file ---------------------------------------------------------------------------


def test_next_years_numbering_does_not_collide_with_this_years(gnv: Ledger) -> None:
    gnv.register(
        "gnv-2023",
        [cmd.AreaSpec("nara-vard", "Nära vård", kr(1_000_000), "9916", "Beställarchef")],
        spend_from=date(2023, 1, 1),
        spend_to=date(2023, 12, 31),
    )
    gnv.allocate("gnv-2023", "lokalt-arbete", "nara-vard", kr(500_000))
    run(gnv, BEFORE.read_bytes())
    outcome = run(gnv, NEXT_YEAR.read_bytes())  # its A 1 is another voucher than 2022's A 1
    assert (outcome.imported, outcome.already_present) == (1, 0)
    assert (outcome.plan.fiscal_year, outcome.plan.fiscal_year_from) == ("2023", "#RAR 0")
    assert gnv.activity("gnv-2023", "lokalt-arbete").spent == kr(3_000)
    keys = {e.data["line_id"] for e in gnv.events() if e.event_type == "SpendRecorded"}
    assert {"2022:A-1-1", "2023:A-1-1"} <= keys


@pytest.fixture
def legacy_engine(database_url: str) -> Iterator[Engine]:
    """A database the test writes as the code before SIE keys carried the year wrote it, then
    takes back to that schema (0003), as a ledger of that time would be."""
    eng = create_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def test_lines_imported_under_the_old_key_are_recognised_not_copied(
    legacy_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SpendRecorded 1 -> 2 lifts "A-1001-1" to "2022:A-1001-1"; 0004_sie moves the projection."""
    ledger = Ledger(legacy_engine)
    ledger.load_plan(SEED_003)
    with monkeypatch.context() as old_code:
        old_code.setattr(ev.SpendRecorded, "schema_version", 1)
        old_code.setattr(
            sie_lines, "line_id", lambda _year, v, t: f"{v.series}-{v.number}-{t.line_no}"
        )
        assert run(ledger, RAINDANCE.read_bytes()).imported == 5
    stored = [e for e in ledger.events() if e.event_type == "SpendRecorded"]
    # The stored events keep what was written (the chain covers them); reading lifts the key.
    assert {e.data["line_id"] for e in stored} == {
        "A-1001-1",
        "A-1001-2",
        "A-1002-1",
        "B-17-1",
        "C-3-2",
    }
    lifted = {ev.decode(e.event_type, e.schema_version, e.data) for e in stored}
    assert {e.line_id for e in lifted if isinstance(e, ev.SpendRecorded)} == {
        "2022:A-1001-1",
        "2022:A-1001-2",
        "2022:A-1002-1",
        "2022:B-17-1",
        "2022:C-3-2",
    }

    migrate.downgrade(legacy_engine, "0003")  # the schema those events were written under
    migrate.upgrade(legacy_engine)
    before = ledger.snapshot()
    again = run(ledger, RAINDANCE.read_bytes())
    assert (again.imported, again.already_present) == (0, 5)
    assert ledger.snapshot() == before
    assert_replay_identical(legacy_engine)


# --- files the import reads with warnings, and files it refuses -----------------------------------


def upload(api: Api, raw: bytes, **params: str | int | bool) -> httpx.Response:
    return api.client.post(
        "/v1/imports/sie",
        params={"activity_dim": 20, **params},
        files={"file": ("export.se", raw, "application/octet-stream")},
        headers=api.headers("poster"),
    )


@pytest.fixture
def gnv_api(api: Api) -> Api:
    Ledger(api.engine).load_plan(SEED_003)
    return api


def test_malformed_records_the_import_does_not_use_are_warnings(gnv_api: Api) -> None:
    answer = upload(gnv_api, BROKEN_NAMES.read_bytes())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["imported"] == 1
    konto, adress = body["file"]["warnings"]
    assert (konto["code"], konto["line"], konto["count"]) == ("malformed-record", 16, 2)
    assert konto["message"].startswith("2 #KONTO record(s) could not be read and were ignored")
    assert "quoted field that is never closed" in konto["message"]
    assert (adress["line"], adress["count"]) == (20, 1)


def test_a_sie_file_without_vouchers_says_what_it_is(gnv_api: Api) -> None:
    events = gnv_api.event_count()
    body = assert_problem(upload(gnv_api, BALANCES_ONLY.read_bytes()), 422, "sie-import-refused")
    assert "SIE type 3" in body["detail"]
    assert "export SIE 4 (transaktioner)" in body["detail"]
    assert gnv_api.event_count() == events


def test_utf8_under_format_pc8_is_read_as_utf8_with_warnings(gnv_api: Api) -> None:
    body = upload(gnv_api, UTF8_AS_PC8.read_bytes()).json()
    assert body["file"]["company_name"] == "\ufffdvningsbolaget AB"  # not "∩┐╜vningsbolaget"
    assert body["file"]["encoding"] == "utf-8"
    warnings = {w["code"]: w for w in body["file"]["warnings"]}
    # The first line beyond ASCII is the program's name (line 2); the name with U+FFFD is line 5.
    assert warnings["utf8-declared-pc8"]["line"] == 2
    assert warnings["replacement-character"] == {
        "code": "replacement-character",
        "message": warnings["replacement-character"]["message"],
        "line": 5,
        "count": 1,
    }
    assert body["imported"] == 1


def test_a_refused_file_names_every_bad_voucher_up_to_a_bound() -> None:
    bad = [
        voucher("A", n, '#TRANS 6550 {6 "9916"} 10.00', "#TRANS 2440 {} -9.00") for n in range(25)
    ]
    with pytest.raises(SieError) as info:
        read_sie(sie("".join(bad)))
    e = info.value
    assert e.fields["problems"] == 25
    assert (len(e.fields["errors"]), e.fields["more"]) == (20, 5)
    assert e.detail.startswith("25 problems: line 6: voucher A 0 of 2022-03-10 does not balance")
    assert e.detail.endswith("; and 5 more")


# --- dry run -------------------------------------------------------------------------------------


def test_a_dry_run_answers_what_would_be_booked_and_writes_nothing(gnv_api: Api) -> None:
    upload(gnv_api, BEFORE.read_bytes())
    events = gnv_api.event_count()
    preview = upload(gnv_api, CORRECTED.read_bytes(), dry_run=True).json()
    assert gnv_api.event_count() == events
    assert preview["dry_run"] is True
    assert (preview["imported"], preview["already_present"], preview["reversed"]) == (2, 1, 1)
    assert [(b["cost_object"], b["activity"], b["net"]) for b in preview["booked"]] == [
        ("9916", "lokalt-arbete", "-6500.00"),
        ("9917", "vardlots", "8000.00"),
    ]
    real = upload(gnv_api, CORRECTED.read_bytes()).json()
    assert {k: v for k, v in real.items() if k != "dry_run"} == {
        k: v for k, v in preview.items() if k != "dry_run"
    }


def test_cli_dry_run_writes_nothing(gnv: Ledger, database_url: str, cli_env: None) -> None:
    before = gnv.snapshot()
    result = CliRunner().invoke(
        cli,
        ["import", "sie", str(BEFORE), "--activity-dim", "20", "--dry-run"],
        env={"GRANTLEDGER_DATABASE_URL": database_url, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output
    assert "imported                 2" in result.output
    assert "8 000.00 kr" in result.output  # booked on 9916, in the table per cost object
    assert gnv.snapshot() == before


# --- limits and unstorable input (issue 16) ------------------------------------------------


def test_lines_per_file_are_capped(api_factory: ApiFactory, gnv_api: Api) -> None:
    capped = api_factory(sie_max_lines=4)
    events = capped.event_count()
    body = assert_problem(upload(capped, CORRECTED.read_bytes()), 422, "sie-too-many-lines", cap=4)
    assert "more than 4 transaction rows" in body["detail"]
    assert capped.event_count() == events
    with pytest.raises(TooManyLines):
        read_sie(CORRECTED.read_bytes(), max_lines=4)


def test_skipped_lines_in_the_answer_are_bounded_but_counted_whole(
    gnv_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.routers.imports.MAX_LISTED_SKIPS", 10)
    rows = [voucher("A", n, "#TRANS 1930 {} 5.00", "#TRANS 2440 {} -5.00") for n in range(1, 16)]
    body = upload(gnv_api, sie("".join(rows))).json()
    assert body["skipped"] == 30
    assert len(body["skipped_lines"]) == 10


@pytest.mark.parametrize(
    ("row", "what"),
    [
        ('#VER "A\x00" 1 20220310 "x"', "series holds a NUL character"),
        ('#VER A 1 20220310 "Lön\x00"', "text holds a NUL character"),
        ('#VER A "1\x1b[31m" 20220310 "x"', "number holds the character U+001B"),
        ('#VER A "1\u202e" 20220310 "x"', "number holds the character U+202E"),
        ('#VER A 1 20220310 "x\uffff"', "text holds the noncharacter U+FFFF"),
    ],
)
def test_unstorable_characters_are_refused_at_parsing_naming_the_line(
    gnv_api: Api, row: str, what: str
) -> None:
    raw = (
        "#FLAGGA 0\n#FORMAT UTF-8\n#SIETYP 4\n"
        + row
        + '\n{\n#TRANS 6550 {6 "9916"} 5.00\n#TRANS 2440 {} -5.00\n}\n'
    ).encode("utf-8")
    events = gnv_api.event_count()
    body = assert_problem(upload(gnv_api, raw), 422, "sie-invalid", line=4)
    assert what in body["detail"]
    assert gnv_api.event_count() == events


def test_an_object_with_an_escape_sequence_is_refused() -> None:
    with pytest.raises(SieError) as info:
        read_sie(sie(voucher("A", 1, '#TRANS 6550 {6 "99\x1b]0;x\x07"} 5', "#TRANS 2440 {} -5")))
    assert "object holds the character U+001B" in info.value.detail


def test_amounts_share_the_one_bound_for_money() -> None:
    at_bound = "10000000000000.00"  # MAX_KRONOR, what the API accepts
    ok = read_sie(
        sie(voucher("A", 1, f"#TRANS 6550 {{}} {at_bound}", f"#TRANS 2440 {{}} -{at_bound}"))
    )
    assert ok.vouchers[0].transactions[0].amount_ore == kr(at_bound)
    with pytest.raises(SieError) as info:
        read_sie(sie(voucher("A", 1, "#TRANS 6550 {} 10000000000000.01", "#TRANS 2440 {} -1")))
    assert "is beyond 10 000 000 000 000.00 kr" in info.value.detail


def test_rich_markup_in_a_file_is_printed_as_text(
    gnv: Ledger, database_url: str, cli_env: None, tmp_path: Path
) -> None:
    """Issue 16 §5: a series '[/]' crashed the CLI's output after the commit."""
    raw = sie(
        voucher("[/]", 1, '#TRANS 6550 {6 "9916" 20 "lokalt-arbete"} 5', "#TRANS 2440 {} -5")
        + voucher("[bold]", 2, '#TRANS 6550 {6 "[red]"} 5', "#TRANS 2440 {} -5")
    )
    path = tmp_path / "markup.se"  # per test: both backends run at once under xdist
    path.write_bytes(raw)
    result = CliRunner().invoke(
        cli,
        ["import", "sie", str(path), "--activity-dim", "20", "--show-skipped"],
        env={"GRANTLEDGER_DATABASE_URL": database_url, "COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "2022:[bold]-2-1" in result.output
    assert "[red]" in result.output
    assert gnv.activity(GRANT, "lokalt-arbete").spent == kr(5)


# --- plan load records who ran it (rule 7) -------------------------------------------------------


def test_plan_load_records_the_os_user_or_the_given_actor(
    engine: Engine, database_url: str, cli_env: None, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"GRANTLEDGER_DATABASE_URL": database_url}
    result = runner.invoke(cli, ["plan", "load", str(SEED_003), "--actor", "anna.berg"], env=env)
    assert result.exit_code == 0, result.output
    actors = {e.meta["actor"] for e in Ledger(engine).events()}
    assert actors == {"anna.berg"}
    other = SEED_003.read_text(encoding="utf-8").replace("gnv-2022", "gnv-2022-b")
    other = (
        other.replace('"9916"', '"8916"').replace('"9917"', '"8917"').replace('"9942"', '"8942"')
    )
    path = tmp_path / "other-plan.yaml"  # per test: both backends run at once under xdist
    path.write_text(other, encoding="utf-8")
    result = runner.invoke(cli, ["plan", "load", str(path)], env=env)
    assert result.exit_code == 0, result.output
    actors = {e.meta["actor"] for e in Ledger(engine).events(stream_id="grant-gnv-2022-b")}
    assert actors == {f"cli:{getpass.getuser()}"}


def test_an_error_quoting_markup_from_the_file_is_printed_as_text(
    engine: Engine,  # a migrated ledger: the file's own error is what the CLI must print
    database_url: str,
    cli_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "obalanserad.se"
    path.write_bytes(sie(voucher("[/]", 1, '#TRANS 6550 {6 "9916"} 5', "#TRANS 2440 {} -4")))
    monkeypatch.setattr(
        "sys.argv", ["grantledger", "import", "sie", str(path), "--database-url", database_url]
    )
    with pytest.raises(SystemExit) as exit_:
        cli_main()
    assert exit_.value.code == 2
    assert "voucher [/] 1 of 2022-03-10 does not balance" in capsys.readouterr().err
