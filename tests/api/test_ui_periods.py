"""The Perioder page over the app in process, both databases: the months open and closed, and
closing one (periodstängning) as the API's ``ClosePeriod`` does.

Rules protected: a closed month refuses lines dated in it (``closed-period``); closing a closed
month is refused, in Swedish, keeping what was typed; closing must be confirmed; the form is an
admin's only and needs the session's CSRF token; every signed-in role sees the list.
"""

from __future__ import annotations

import re

from tests.support.api import Api, assert_problem, batch, line
from tests.support.ui import csrf_of, sign_in


def status_of(html: str, period: str) -> str:
    found = re.search(
        rf'<tr data-period="{period}"><th scope="row">{period}</th><td>(\w+)</td>', html
    )
    assert found is not None, period
    return found.group(1)


def test_an_admin_closes_a_month_and_lines_dated_in_it_are_refused(planned: Api) -> None:
    sign_in(planned, "admin")
    token = csrf_of(planned, "/ui/perioder")
    before = planned.client.get("/ui/perioder").text
    assert status_of(before, "2022-03") == "öppen"
    done = planned.client.post(
        "/ui/perioder/stang",
        data={"csrf": token, "period": "2022-03", "confirm": "ja"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    shown = planned.client.get(done.headers["location"])
    assert "Månaden är stängd." in shown.text
    assert status_of(shown.text, "2022-03") == "stängd"
    assert "periodstängning" in shown.text
    assert status_of(shown.text, "2022-04") == "öppen"
    # The same months as the API's list: the page reads the same query.
    months = planned.get("/v1/periods", "reader").json()["periods"]
    assert {m["period"]: m["closed"] for m in months}["2022-03"] is True
    body = assert_problem(
        planned.post("/v1/transactions", batch(line(booked_on="2022-03-31")), "poster"),
        422,
        "unplaceable-spend",
    )
    assert [e["code"] for e in body["errors"]] == ["closed-period"]


def test_closing_a_closed_month_is_refused_in_swedish(planned: Api) -> None:
    planned.ok("/v1/periods/2022-03/close", None, "admin")
    sign_in(planned, "admin")
    token = csrf_of(planned, "/ui/perioder")
    before = planned.event_count()
    refused = planned.client.post(
        "/ui/perioder/stang", data={"csrf": token, "period": "2022-03", "confirm": "ja"}
    )
    assert refused.status_code == 422
    assert "Månaden är redan stängd" in refused.text
    assert "En stängd månad kan inte stängas igen" in refused.text
    assert 'value="2022-03"' in refused.text  # what was typed is kept
    assert planned.event_count() == before


def test_closing_needs_a_confirmation_and_a_month(planned: Api) -> None:
    sign_in(planned, "admin")
    token = csrf_of(planned, "/ui/perioder")
    before = planned.event_count()
    unconfirmed = planned.client.post(
        "/ui/perioder/stang", data={"csrf": token, "period": "2022-05"}
    )
    assert unconfirmed.status_code == 422
    assert "bekräftar att månaden ska stängas" in unconfirmed.text
    assert 'value="2022-05"' in unconfirmed.text
    bad = planned.client.post(
        "/ui/perioder/stang", data={"csrf": token, "period": "2022-13", "confirm": "ja"}
    )
    assert bad.status_code == 422
    assert "En period är en månad skriven ÅÅÅÅ-MM" in bad.text
    assert planned.event_count() == before


def test_a_close_without_the_csrf_token_is_refused(planned: Api) -> None:
    sign_in(planned, "admin")
    before = planned.event_count()
    refused = planned.client.post("/ui/perioder/stang", data={"period": "2022-03", "confirm": "ja"})
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    assert planned.event_count() == before


def test_a_reader_sees_the_months_but_may_not_close_one(planned: Api) -> None:
    sign_in(planned, "reader")
    shown = planned.client.get("/ui/perioder")
    assert shown.status_code == 200
    assert '<a href="/ui/perioder"' in shown.text  # in the navigation
    assert status_of(shown.text, "2022-03") == "öppen"
    assert "/ui/perioder/stang" not in shown.text
    token = csrf_of(planned, "/ui/perioder")  # the sign-out form's: a valid token, wrong role
    before = planned.event_count()
    refused = planned.client.post(
        "/ui/perioder/stang", data={"csrf": token, "period": "2022-03", "confirm": "ja"}
    )
    assert refused.status_code == 403
    assert "det kräver rollen admin" in refused.text
    assert planned.event_count() == before
    months = planned.get("/v1/periods", "reader").json()["periods"]
    assert {m["period"]: m["closed"] for m in months}["2022-03"] is False
