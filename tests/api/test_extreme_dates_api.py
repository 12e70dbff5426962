"""No 500 from a date at the edge of the calendar (issue 16, item 5).

``known_at=9999-12-31T23:59:59-14:00`` is a valid ISO 8601 instant whose UTC value lies after
year 9999, and ``0001-01-01T00:00:00+14:00`` one before year 1: Python cannot hold either in
UTC, and both answered 500 (OverflowError).  The rule: every date or instant a client can send,
in a query parameter, a path or a body, is either answered or refused with a 422 problem naming
the parameter — on both databases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.support.api import (
    DECISION,
    GRANT_ID,
    Api,
    activity_body,
    assert_problem,
    batch,
    grant_body,
    line,
    reallocation_body,
)

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
INSTANTS = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 3)),
    st.datetimes(min_value=datetime(9999, 12, 29), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.datetimes(),
).flatmap(lambda naive: st.one_of(st.just(naive), OFFSETS.map(lambda tz: naive.replace(tzinfo=tz))))
DAYS = st.one_of(
    st.dates(max_value=date(1, 1, 31)),
    st.dates(min_value=date(9999, 12, 1)),
    st.dates(),
)
EDGE_INSTANTS = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")


def _iso(value: datetime) -> str:
    # Years below 1000 must keep four digits (isoformat does; strftime would not everywhere).
    return value.isoformat()


def _in_utc(value: datetime) -> bool:
    """Whether the instant is one Python (and so the ledger) can hold in UTC."""
    try:
        value.astimezone(UTC) if value.tzinfo else value
    except OverflowError:
        return False
    return True


def _refused_naming(answer: Any, field: str) -> None:
    body = assert_problem(answer, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == [field], body


@pytest.mark.parametrize("known_at", EDGE_INSTANTS)
def test_an_instant_beyond_the_utc_calendar_is_422_naming_known_at(
    planned: Api, known_at: str
) -> None:
    for path in ("/v1/balances", "/v1/cost-objects/9916"):
        params = {"known_at": known_at} | ({"grant_id": GRANT_ID} if path == "/v1/balances" else {})
        _refused_naming(planned.get(path, params=params), "query.known_at")


@given(instant=INSTANTS)
@example(instant=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))))
@example(instant=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
@example(instant=datetime(9999, 12, 31, 23, 59, 59, 999999))
@settings(max_examples=40)
def test_every_known_at_is_answered_or_refused_naming_it(planned: Api, instant: datetime) -> None:
    answer = planned.get("/v1/balances", params={"grant_id": GRANT_ID, "known_at": _iso(instant)})
    if _in_utc(instant):
        assert answer.status_code == 200, answer.text
    else:
        _refused_naming(answer, "query.known_at")


@given(day=DAYS, instant=INSTANTS)
@settings(max_examples=40)
def test_every_as_of_date_is_answered_on_every_read(
    planned: Api, day: date, instant: datetime
) -> None:
    as_of = day.isoformat()
    for path, params in (
        ("/v1/balances", {"grant_id": GRANT_ID, "as_of": as_of}),
        ("/v1/balances", {"as_of": as_of}),
        ("/v1/cost-objects/9917", {"as_of": as_of}),
        (f"/v1/reports/grants/{GRANT_ID}", {"as_of": as_of}),
    ):
        assert planned.get(path, params=params).status_code == 200, (path, params)
    both = {"grant_id": GRANT_ID, "as_of": as_of, "known_at": _iso(instant)}
    answer = planned.get("/v1/balances", params=both)
    assert answer.status_code == (200 if _in_utc(instant) else 422), answer.text


def test_a_year_outside_iso_8601_is_422_not_500(planned: Api) -> None:
    for name, value in (("as_of", "0000-01-01"), ("known_at", "0000-06-01T00:00:00Z")):
        params = {"grant_id": GRANT_ID, name: value}
        _refused_naming(planned.get("/v1/balances", params=params), f"query.{name}")
    report = planned.get(f"/v1/reports/grants/{GRANT_ID}", params={"as_of": "0000-01-01"})
    _refused_naming(report, "query.as_of")


def test_a_bare_number_is_not_read_as_a_unix_time_in_any_as_of(planned: Api) -> None:
    for path, params in (
        ("/v1/balances", {"grant_id": GRANT_ID}),
        ("/v1/cost-objects/9916", {}),
        (f"/v1/reports/grants/{GRANT_ID}", {}),
    ):
        answer = planned.get(path, params={**params, "as_of": "1700000000"})
        _refused_naming(answer, "query.as_of")


@given(day=DAYS)
@settings(max_examples=25)
def test_every_date_in_a_write_body_is_answered_with_a_rule_not_a_500(
    planned: Api, day: date
) -> None:
    iso = day.isoformat()
    decision = {**DECISION, "date": iso}
    [spent] = planned.spend(line())
    writes: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/transactions", batch(line(booked_on=iso)), "poster"),
        (
            f"/v1/transactions/{spent['transaction_id']}/reversal",
            {"reason": "felkontering", "booked_on": iso},
            "poster",
        ),
        (
            f"/v1/grants/{GRANT_ID}/reallocations",
            reallocation_body("lokalt-arbete", "barnhalsovard", "1.00") | {"decision": decision},
            "planner",
        ),
        (
            f"/v1/grants/{GRANT_ID}/amendments",
            {"area": "nara-vard", "awarded": "1000001.00", "decision": decision, "reason": "x"},
            "planner",
        ),
        (f"/v1/grants/{GRANT_ID}/receipts", _receipt(iso), "admin"),
        (f"/v1/grants/{GRANT_ID}/repayments", _repayment(iso), "admin"),
        (
            f"/v1/grants/{GRANT_ID}/activities",
            activity_body(f"a{day.toordinal()}", "nara-vard", "1.00", decision=decision),
            "planner",
        ),
    ]
    for path, body, role in writes:
        answer = planned.post(path, body, role)
        assert answer.status_code in (201, 409, 422), (path, answer.status_code, answer.text)


@given(start=DAYS, end=DAYS, due=DAYS)
@settings(max_examples=25)
def test_a_grant_may_span_the_whole_calendar_and_still_be_read(
    api: Api, start: date, end: date, due: date
) -> None:
    grant_id = f"g{start.toordinal()}-{end.toordinal()}-{due.toordinal()}"
    body = grant_body(
        grant_id,
        spend_period={"from": start.isoformat(), "to": end.isoformat()},
        decision={**DECISION, "date": due.isoformat()},
        reporting=[{"kind": "slutredovisning", "due": due.isoformat(), "recipient": "SoS"}],
    )
    answer = api.post("/v1/grants", body, "planner")
    assert answer.status_code in (201, 409, 422), answer.text
    if answer.status_code != 201:
        return
    for day in (start, end):
        spend = api.post(
            "/v1/transactions",
            batch(line("9916", "1.00", day.isoformat(), activity=None)),
            "poster",
        )
        assert spend.status_code in (201, 409, 422), spend.text
    for fmt in ("json", "csv", "xlsx"):
        report = api.get(f"/v1/reports/grants/{grant_id}", params={"format": fmt})
        assert report.status_code == 200, report.text
    assert api.get("/v1/balances", params={"grant_id": grant_id}).status_code == 200


@pytest.mark.parametrize("period", ["0000-01", "0001-01", "9999-12"])
def test_closing_a_month_at_the_edge_of_the_calendar_is_not_a_500(
    planned: Api, period: str
) -> None:
    answer = planned.post(f"/v1/periods/{period}/close", None, "admin")
    assert answer.status_code in (201, 422), answer.text
    if answer.status_code == 422:
        assert_problem(answer, 422)


def _receipt(iso: str) -> dict[str, Any]:
    return {"amount": "1.00", "received_on": iso, "reference": "SKR utbetalning"}


def _repayment(iso: str) -> dict[str, Any]:
    return {"area": "nara-vard", "amount": "1.00", "paid_on": iso}
