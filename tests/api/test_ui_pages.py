"""The web app's pages over the app in process, both databases: the chores a browser test does
not repeat, each checked by what the page shows and what the ledger then holds.

Rules protected: a reversal needs its confirmation and a reason; a new activity without an exit
plan is refused under rule 6, in Swedish, keeping what was typed; the as-of grant page shows the
figures of that day; the forecast page shows the API's figures; audit filters narrow the trail.
"""

from __future__ import annotations

import re

from tests.support.api import GRANT_ID, Api, line
from tests.support.ui import csrf_of, sign_in

NBSP = re.compile(r"[\u00a0\u202f]")


def plain(html: str) -> str:
    return NBSP.sub(" ", html)


def recorded_line(api: Api) -> str:
    (outcome,) = api.spend(line("9916", "12345.00", "2022-06-15", activity="lokalt-arbete"))
    return str(outcome["transaction_id"])


def test_a_reversal_needs_its_confirmation(planned: Api) -> None:
    tid = recorded_line(planned)
    sign_in(planned, "poster")
    token = csrf_of(planned, "/ui/cost-objects/9916")
    form = {
        "csrf": token,
        "transaction_id": tid,
        "reason": "Felkontering",
        "booked_on": "2022-06-20",
    }
    before = planned.event_count()
    refused = planned.client.post("/ui/cost-objects/9916/reverse", data=form)
    assert refused.status_code == 422
    assert "bekräftar" in refused.text
    assert 'value="Felkontering"' in refused.text  # what was typed is kept
    assert planned.event_count() == before
    done = planned.client.post(
        "/ui/cost-objects/9916/reverse", data={**form, "confirm": "ja"}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    assert planned.get(f"/v1/transactions/{tid}").json()["status"] == "reversed"


def test_a_new_activity_without_exit_plan_is_refused_under_rule_6(planned: Api) -> None:
    sign_in(planned, "planner")
    token = csrf_of(planned, f"/ui/grants/{GRANT_ID}/planering")
    before = planned.event_count()
    answer = planned.client.post(
        f"/ui/grants/{GRANT_ID}/planering/aktivitet",
        data={
            "csrf": token,
            "code": "hembesok",
            "area": "nara-vard",
            "name": "Hembesök",
            "amount": "150 000,00",
            "responsible": "BHV överläkare",
            "exit_plan": "",
            "decision_ref": "RS 2022-09-01",
            "decision_date": "2022-09-01",
            "decision_body": "Regionstyrelsen",
        },
    )
    assert answer.status_code == 422
    text = plain(answer.text)
    assert "Regel 6: en ny aktivitet kräver en exitplan" in text
    assert 'value="150 000,00"' in text
    assert 'value="hembesok"' in text
    assert planned.event_count() == before


def test_a_new_activity_with_exit_plan_is_allocated(planned: Api) -> None:
    sign_in(planned, "planner")
    token = csrf_of(planned, f"/ui/grants/{GRANT_ID}/planering")
    answer = planned.client.post(
        f"/ui/grants/{GRANT_ID}/planering/aktivitet",
        data={
            "csrf": token,
            "code": "hembesok",
            "area": "nara-vard",
            "name": "Hembesök",
            "amount": "150 000,00",
            "responsible": "BHV överläkare",
            "exit_plan": "Ingår i ordinarie budget från 2024",
            "decision_ref": "RS 2022-09-01",
            "decision_date": "2022-09-01",
            "decision_body": "Regionstyrelsen",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert planned.activity("hembesok")["allocated"] == "150000.00"


def test_the_grant_page_as_of_a_day_shows_that_days_figures(planned: Api) -> None:
    planned.spend(line("9916", "1000.00", "2022-03-15", activity="lokalt-arbete"))
    planned.spend(line("9916", "2000.00", "2022-09-15", activity="lokalt-arbete"))
    sign_in(planned, "reader")
    today = plain(planned.client.get(f"/ui/grants/{GRANT_ID}").text)
    march = plain(planned.client.get(f"/ui/grants/{GRANT_ID}", params={"as_of": "2022-06-30"}).text)
    assert 'data-figure="spent-lokalt-arbete">3 000,00 kr' in today
    assert 'data-figure="spent-lokalt-arbete">1 000,00 kr' in march
    bad = planned.client.get(f"/ui/grants/{GRANT_ID}", params={"as_of": "2022-02-30"})
    assert bad.status_code == 422
    assert "ÅÅÅÅ-MM-DD" in bad.text


def test_the_forecast_page_shows_the_apis_figures(planned: Api) -> None:
    planned.spend(line("9916", "181000.00", "2022-03-15", activity="lokalt-arbete"))
    api_risk = planned.get(
        f"/v1/grants/{GRANT_ID}/forecast", params={"as_of": "2022-06-30"}
    ).json()["repayment_risk"]
    assert api_risk == "1735000.00"
    sign_in(planned, "reader")
    page = planned.client.get(f"/ui/grants/{GRANT_ID}/prognos", params={"as_of": "2022-06-30"})
    assert '<strong id="risk-total">1 735 000,00 kr</strong>' in plain(page.text)
    assert "återbetalningsrisk" in page.text.lower()


def test_audit_filters_narrow_the_trail(planned: Api) -> None:
    planned.spend(line("9916", "1000.00", "2022-03-15", activity="lokalt-arbete"))
    sign_in(planned, "auditor")
    spend = planned.client.get("/ui/revision", params={"typ": "SpendRecorded"}).text
    assert spend.count("<td>SpendRecorded</td>") == 1
    assert "<td>GrantRegistered</td>" not in spend
    nobody = planned.client.get("/ui/revision", params={"aktor": "nobody"}).text
    assert "Inga händelser matchar filtret" in nobody
    assert "Kedjan är obruten" in planned.client.get("/ui/revision").text


def test_an_unknown_grant_is_a_page_not_json(planned: Api) -> None:
    sign_in(planned, "reader")
    answer = planned.client.get("/ui/grants/no-such-grant")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "Finns inte" in answer.text
