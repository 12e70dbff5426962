"""The controller's chores in a real browser, on SQLite and PostgreSQL, in Swedish.

Sign in with a token, read seed 003's figures on the grant page, classify unclassified spend on
9942 and see the figures move, be refused a reallocation with the rule and the amounts on the
form, download the återrapportering as XLSX and CSV and open both, sign out; import a SIE file
through its preview (which books nothing) and see the figures move; what a reader cannot see;
close a month on the Perioder page (admin); axe-core on every page; forms labelled and reachable
by keyboard.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import SCREENSHOTS, LiveApp

GRANT = "/ui/grants/gnv-2022"


def text(locator: Any) -> str:
    """Visible text with Babel's no-break spaces as plain spaces."""
    return re.sub(r"[\u00a0\u202f]", " ", locator.inner_text()).strip()


def sign_in(page: Any, app: LiveApp, role: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("Token").fill(app.tokens[role])
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/ui/")


def test_a_controller_does_the_chores(page: Any, live_app: LiveApp) -> None:
    sign_in(page, live_app, "planner")
    assert text(page.get_by_role("heading", level=1)) == "Översikt"

    # Seed 003's figures, as the Regionstyrelsen document has them.
    page.get_by_role("link", name="God och nära vård 2022").click()
    summary = text(page.locator("#summa"))
    assert "64 410 035,00 kr" in summary
    assert "30 593 953,00 kr" in text(page.locator('[data-figure="awarded-nara-vard"]'))
    assert "5 052 676,00 kr" in text(page.locator('[data-figure="awarded-vidareutbildning"]'))
    assert page.locator("#omr-vidareutbildning .fenced").count() == 1
    assert text(page.locator('[data-figure="spent-e-halsa-standarder"]')) == "300 000,00 kr"
    assert "2022-06" in text(page.locator("table.monthly"))

    # Classify the newest unclassified line on 9942 (22 500 kr) and see the figures move.
    page.goto("/ui/cost-objects/9942")
    assert text(page.locator("#objekt-oklassat")) == "37 500,00 kr"
    first = page.locator("form.row-form").first
    first.get_by_label("Aktivitet").select_option("e-halsa-standarder")
    first.get_by_role("button", name="Klassa").click()
    assert "Raden är klassad" in text(page.get_by_role("status"))
    assert text(page.locator("#objekt-oklassat")) == "15 000,00 kr"
    page.goto(GRANT)
    assert text(page.locator('[data-figure="spent-e-halsa-standarder"]')) == "322 500,00 kr"

    # A reallocation beyond what the activity has left: refused, rule and amounts shown.
    page.get_by_role("link", name="Planering").click()
    form = page.locator("#omfordelning")
    form.get_by_label("Från aktivitet").select_option("lokalt-arbete")
    form.get_by_label("Till aktivitet").select_option("gemensam-plan")
    form.get_by_label("Belopp (kr)").fill("30 000 000,00")
    form.get_by_label("Motivering").fill("Omprioritering efter delårsrapport")
    form.get_by_label("Beslutsreferens").fill("RS 2022-09-01 § 12")
    form.get_by_label("Beslutsdatum").fill("2022-09-01")
    form.get_by_label("Beslutande organ").fill("Regionstyrelsen")
    form.get_by_role("button", name="Omfördela").click()
    refusal = text(page.get_by_role("alert"))
    assert "Regel 3" in refusal
    assert "20 500 000,00 kr" in refusal  # 24 000 000 allocated − 3 500 000 spent
    assert "30 000 000,00 kr" in refusal
    kept = page.locator("#omfordelning")
    assert kept.get_by_label("Belopp (kr)").input_value() == "30 000 000,00"
    assert kept.get_by_label("Motivering").input_value() == "Omprioritering efter delårsrapport"
    assert kept.get_by_label("Från aktivitet").input_value() == "lokalt-arbete"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{live_app.backend}-planering-nekad.png", full_page=True)

    # Both reports download and open.
    page.goto(GRANT)
    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="Återrapportering (XLSX)").click()
    workbook = load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes()), read_only=True)
    cells = [
        str(c)
        for ws in workbook.worksheets
        for row in ws.iter_rows(values_only=True)
        for c in row
        if c is not None
    ]
    assert any("God och nära vård 2022" in c for c in cells)
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Återrapportering (CSV)").click()
    raw = csv_download.value.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Swedish Excel opens it as it is
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert any("lokalt-arbete" in row for row in rows)

    # Sign out: the session is gone.
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url("**/ui/login")
    page.goto("/ui/")
    assert page.url.endswith("/ui/login")


def test_what_a_reader_cannot_see(page: Any, live_app: LiveApp) -> None:
    sign_in(page, live_app, "reader")
    nav = page.get_by_role("navigation", name="Huvudmeny")
    assert nav.get_by_role("link", name="Revision").count() == 0
    page.goto(GRANT)
    assert page.get_by_role("link", name="Planering").count() == 0
    page.goto("/ui/cost-objects/9942")
    assert page.get_by_role("button", name="Klassa").count() == 0
    assert page.get_by_text("Vänd rad").count() == 0
    for path in ("/ui/revision", f"{GRANT}/planering"):
        answer = page.goto(path)
        assert answer.status == 403
        assert "Behörighet saknas" in text(page.get_by_role("heading", level=1))


def test_an_auditor_reads_the_trail_and_the_chain(page: Any, live_app: LiveApp) -> None:
    sign_in(page, live_app, "auditor")
    page.get_by_role("link", name="Revision").click()
    assert "Kedjan är obruten" in text(page.locator("#kedja-status"))
    page.get_by_label("Händelsetyp").fill("GrantRegistered")
    page.get_by_role("button", name="Filtrera").click()
    rows = page.locator("table.figures tbody tr")
    assert rows.count() == 1
    rows.first.get_by_role("link").click()
    assert re.fullmatch(r"[0-9a-f]{64}", text(page.locator("#hash")))
    assert re.fullmatch(r"[0-9a-f]{64}", text(page.locator("#prev-hash")))
    # The auditor may read but not plan.
    assert page.goto(f"{GRANT}/planering").status == 403


# A SIE 4 export as Raindance writes it (PC8): spend on 9916 without an activity, a line on an
# object no grant has, and the counter-entry on a balance account.
SIE_APRIL = (
    '#FLAGGA 0\r\n#PROGRAM "Raindance" 9\r\n#FORMAT PC8\r\n#SIETYP 4\r\n'
    '#FNAMN "Region Jämtland Härjedalen"\r\n#DIM 6 "Projekt"\r\n'
    '#VER A 7001 20220429 "Konsult april"\r\n{\r\n'
    '   #TRANS 6550 {6 "9916"} 12345.50 20220429 "Konsult Östersund"\r\n'
    '   #TRANS 6550 {6 "1234"} 500.00 20220429 "Annat projekt"\r\n'
    "   #TRANS 2440 {} -12845.50 20220429\r\n}\r\n"
)


def kronor(shown: str) -> int:
    """``3 512 345,50 kr`` → öre."""
    return int(re.sub(r"[^0-9]", "", shown))


def test_a_poster_imports_a_sie_file_through_its_preview(page: Any, live_app: LiveApp) -> None:
    sign_in(page, live_app, "poster")
    page.goto("/ui/cost-objects/9916")
    before = kronor(text(page.locator("#objekt-utfall")))

    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Import").click()
    page.get_by_label("SIE-fil").set_input_files(
        files=[
            {
                "name": "raindance-april.se",
                "mimeType": "application/octet-stream",
                "buffer": SIE_APRIL.encode("cp437"),
            }
        ]
    )
    page.get_by_role("button", name="Förhandsgranska").click()
    preview = page.locator("#forhandsgranskning")
    assert "inget är bokfört än" in text(preview.get_by_role("heading", level=2))
    assert text(page.locator("#netto-9916")) == "12 345,50 kr"
    assert text(page.locator('[data-count="imported"]')) == "1"
    assert "Objektet hör inte till något bidrag: 1" in text(preview)
    assert serious(page) == [], "preview"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{live_app.backend}-import-preview.png", full_page=True)
    other = page.context.new_page()  # a second tab, same session: the preview wrote nothing
    other.goto("/ui/cost-objects/9916")
    assert kronor(text(other.locator("#objekt-utfall"))) == before
    other.close()

    page.get_by_role("button", name="Bekräfta och importera").click()
    assert "Importen av raindance-april.se är bokförd." in text(page.get_by_role("status"))
    assert text(page.locator('[data-count="imported"]')) == "1"
    page.goto("/ui/cost-objects/9916")
    assert kronor(text(page.locator("#objekt-utfall"))) == before + 12_345_50


def test_an_admin_closes_a_month_on_the_periods_page(page: Any, live_app: LiveApp) -> None:
    # January holds no entry of this module's tests: closing it moves no other test's figures.
    sign_in(page, live_app, "admin")
    page.get_by_role("link", name="Perioder").click()
    assert text(page.locator('tr[data-period="2022-01"] td').first) == "öppen"
    form = page.locator("#stang-manad")
    form.get_by_label("Månad", exact=True).fill("2022-01")
    form.get_by_label("Jag bekräftar att månaden ska stängas").check()
    form.get_by_role("button", name="Stäng månaden").click()
    assert "Månaden är stängd." in text(page.get_by_role("status"))
    assert text(page.locator('tr[data-period="2022-01"] td').first) == "stängd"
    assert serious(page) == []
    # Again: refused in Swedish, the rule on the form, the month kept.
    form = page.locator("#stang-manad")
    form.get_by_label("Månad", exact=True).fill("2022-01")
    form.get_by_label("Jag bekräftar att månaden ska stängas").check()
    form.get_by_role("button", name="Stäng månaden").click()
    refusal = text(page.get_by_role("alert"))
    assert "Månaden är redan stängd" in refusal
    assert "En stängd månad kan inte stängas igen" in refusal
    assert page.locator("#stang-manad").get_by_label("Månad", exact=True).input_value() == "2022-01"
    assert serious(page) == []


PAGES = [
    ("oversikt", "/ui/"),
    ("bidrag", GRANT),
    ("bidrag-per-dag", f"{GRANT}?as_of=2022-06-30"),
    ("prognos", f"{GRANT}/prognos?as_of=2022-06-30"),
    ("objekt-9942", "/ui/cost-objects/9942"),
    ("planering", f"{GRANT}/planering"),
    ("revision", "/ui/revision"),
    ("handelse", "/ui/revision/events/1"),
    ("rapporter", "/ui/rapporter"),
    ("perioder", "/ui/perioder"),
    ("import", "/ui/import"),
]


def serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_passes_axe_and_is_photographed(page: Any, live_app: LiveApp) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.goto("/ui/login")
    assert serious(page) == [], "login"
    page.screenshot(path=SCREENSHOTS / f"{live_app.backend}-login.png", full_page=True)
    sign_in(page, live_app, "admin")
    problems = {}
    for name, path in PAGES:
        assert page.goto(path).status == 200, path
        found = serious(page)
        if found:
            problems[name] = found
        page.screenshot(path=SCREENSHOTS / f"{live_app.backend}-{name}.png", full_page=True)
    assert problems == {}


FOCUSED = (
    "() => { const e = document.activeElement; return e.id || e.name || e.textContent.trim() }"
)


def test_forms_are_labelled_and_reachable_by_keyboard(page: Any, live_app: LiveApp) -> None:
    # Sign in with the keyboard alone: the token field has focus, Enter submits.
    page.goto("/ui/login")
    from playwright.sync_api import expect  # here: without the package the suite skips

    expect(page.get_by_label("Token")).to_be_focused()  # autofocus: no click needed
    page.keyboard.type(live_app.tokens["planner"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/")
    page.goto(f"{GRANT}/planering")
    controls = page.locator(
        "main input:not([type=hidden]), main select, main textarea, main button"
    )
    wanted = set()
    for i in range(controls.count()):
        control = controls.nth(i)
        if control.evaluate("e => e.tagName") != "BUTTON":
            assert control.evaluate("e => e.labels.length") > 0, control.get_attribute("name")
        wanted.add(control.evaluate("e => e.id || e.name || e.textContent.trim()"))
    reached = set()
    page.locator("body").focus()
    for _ in range(len(wanted) + 40):
        page.keyboard.press("Tab")
        reached.add(page.evaluate(FOCUSED))
        if wanted <= reached:
            break
    assert wanted - reached == set()
    # The first Tab stop of every page is the skip link.
    page.goto(GRANT)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Hoppa till innehållet"


pytestmark = pytest.mark.browser
