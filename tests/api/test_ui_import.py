"""The import page over the app in process, both databases: preview, then confirm.

Rules protected: the preview is a dry run (it writes nothing) and shows what would be booked per
grant, cost object and activity, with the skips and their reasons; the confirmation imports
exactly the previewed file, carried in a signed field: an altered field, or one from another
session, imports nothing; both steps need the CSRF token and the poster role; a file that is no
SIE 4 file of vouchers is refused in Swedish, naming the rule.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.api import Api
from tests.support.ui import csrf_of, sign_in

STAGED = re.compile(r'name="staged" value="([^"]+)"')

SIE = (
    '#FLAGGA 0\r\n#PROGRAM "Raindance" 9\r\n#FORMAT PC8\r\n#SIETYP 4\r\n#DIM 6 "Projekt"\r\n'
    '#VER A 501 20220415 "Konsult april"\r\n{\r\n'
    '   #TRANS 4010 {6 "9916"} 1500.00\r\n'
    '   #TRANS 4010 {6 "9917"} 250.50\r\n'
    '   #TRANS 4010 {6 "9999"} 70.00\r\n'
    "   #TRANS 2440 {} -1820.50\r\n}\r\n"
)


def upload(text: str = SIE, name: str = "april.se") -> dict[str, Any]:
    return {"file": (name, text.encode("cp437"), "application/octet-stream")}


def plain(html: str) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", html)


def preview(api: Api, token: str, text: str = SIE) -> tuple[int, str]:
    answer = api.client.post("/ui/import/forhandsgranska", data={"csrf": token}, files=upload(text))
    return answer.status_code, plain(answer.text)


def test_the_preview_writes_nothing_and_the_confirmation_imports_it(planned: Api) -> None:
    sign_in(planned, "poster")
    token = csrf_of(planned, "/ui/import")
    before = planned.event_count()
    status, page = preview(planned, token)
    assert status == 200
    assert planned.event_count() == before  # a dry run
    assert "inget är bokfört än" in page
    assert '<dd data-count="imported">2</dd>' in page
    assert '<dd data-count="skipped">2</dd>' in page  # 9999 and the 2440 counter-entry
    assert 'id="netto-9916">1 500,00 kr' in page
    assert 'id="netto-9917">250,50 kr' in page
    assert "Objektet hör inte till något bidrag: 1" in page
    assert planned.area("nara-vard")["unclassified_spent"] == "0.00"

    staged = STAGED.search(page)
    assert staged is not None
    done = planned.client.post(
        "/ui/import/bekrafta", data={"csrf": token, "staged": staged.group(1)}
    )
    assert done.status_code == 200, done.text
    assert "Importen av april.se är bokförd." in done.text
    assert '<dd data-count="imported">2</dd>' in done.text
    assert planned.area("nara-vard")["unclassified_spent"] == "1500.00"
    # 9917 serves two areas: its spend waits on the grant until it is classified.
    assert planned.balances()["totals"]["unclassified_spent"] == "1750.50"

    # Confirming again imports nothing new: the lines' natural keys are already there.
    after = planned.event_count()
    again = planned.client.post(
        "/ui/import/bekrafta", data={"csrf": token, "staged": staged.group(1)}
    )
    assert '<dd data-count="already_present">2</dd>' in again.text
    assert planned.event_count() == after
    assert planned.area("nara-vard")["unclassified_spent"] == "1500.00"


def test_an_altered_or_foreign_preview_imports_nothing(planned: Api) -> None:
    sign_in(planned, "poster")
    token = csrf_of(planned, "/ui/import")
    _, page = preview(planned, token)
    found = STAGED.search(page)
    assert found is not None
    staged = found.group(1)
    head, data, signature = staged.split(".")
    before = planned.event_count()
    for altered in (f"{head}.{data[:-2]}AA.{signature}", f"{head}.{data}.{'0' * 64}", "x"):
        answer = planned.client.post("/ui/import/bekrafta", data={"csrf": token, "staged": altered})
        assert answer.status_code == 422
        assert "Förhandsgranskningen gäller inte längre" in answer.text
    # Another poster's session cannot confirm this one's preview.
    sign_in(planned, "admin")
    other = csrf_of(planned, "/ui/import")
    answer = planned.client.post("/ui/import/bekrafta", data={"csrf": other, "staged": staged})
    assert answer.status_code == 422
    assert planned.event_count() == before


def test_both_steps_need_the_csrf_token_and_the_poster_role(planned: Api) -> None:
    sign_in(planned, "poster")
    csrf_of(planned, "/ui/import")
    before = planned.event_count()
    answer = planned.client.post("/ui/import/forhandsgranska", data={}, files=upload())
    assert answer.status_code == 403
    assert planned.client.post("/ui/import/bekrafta", data={"staged": "x"}).status_code == 403
    sign_in(planned, "planner")
    assert planned.client.get("/ui/import").status_code == 403
    token = csrf_of(planned, "/ui/")
    assert "/ui/import" not in planned.client.get("/ui/").text  # not in the planner's menu
    answer = planned.client.post("/ui/import/forhandsgranska", data={"csrf": token}, files=upload())
    assert answer.status_code == 403
    assert planned.event_count() == before


def test_a_file_without_vouchers_is_refused_in_swedish_naming_the_rule(planned: Api) -> None:
    sign_in(planned, "poster")
    token = csrf_of(planned, "/ui/import")
    balances = "#FLAGGA 0\r\n#FORMAT PC8\r\n#SIETYP 3\r\n#UB 0 1930 1000.00\r\n"
    status, page = preview(planned, token, balances)
    assert status == 422
    assert "SIE-filen kan inte importeras" in page
    assert "exportera SIE 4 (transaktioner)" in page
    status, page = preview(planned, token, "")
    assert status == 422
    assert "Välj en SIE-fil" in page
    status, page = preview(planned, token, "#VER inte en fil {\r\n")
    assert status == 422
    assert "SIE-filen kunde inte läsas" in page
    assert 'id="bekrafta"' not in page
