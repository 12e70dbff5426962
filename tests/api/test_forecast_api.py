"""GET /v1/grants/{grant_id}/forecast: the prognos, to the öre, on SQLite and PostgreSQL.

The rule it protects: projected spend is a straight line through the spend period, and the
återbetalningsrisk of an area is its award minus repayments minus its projected spend.
"""

from __future__ import annotations

from tests.support.api import GRANT_ID, Api, assert_problem, line


def forecast(api: Api, as_of: str) -> dict:  # type: ignore[type-arg]
    answer = api.get(f"/v1/grants/{GRANT_ID}/forecast", params={"as_of": as_of})
    assert answer.status_code == 200, answer.text
    body: dict = answer.json()  # type: ignore[type-arg]
    return body


def activity(body: dict, code: str) -> dict:  # type: ignore[type-arg]
    return next(a for area in body["areas"] for a in area["activities"] if a["code"] == code)


def test_half_a_year_of_spend_is_projected_over_the_year(planned: Api) -> None:
    planned.spend(line("9916", "181000.00", "2022-03-15", activity="lokalt-arbete"))
    # As of a day after the allocation's decision (2022-05-04): as-of figures are by date.
    body = forecast(planned, "2022-06-30")
    assert (body["elapsed_days"], body["period_days"]) == (181, 365)
    a = activity(body, "lokalt-arbete")
    assert a["spent"] == "181000.00"
    assert a["monthly_rate"] == "30416.67"  # 181 000 kr / 181 days × 365/12
    assert a["projected_spent"] == "365000.00"  # 181 000 kr × 365/181
    assert a["projected_unspent"] == "235000.00"  # of 600 000 kr allocated
    nara = next(x for x in body["areas"] if x["code"] == "nara-vard")
    # 1 000 000 awarded − 365 000 projected: the unallocated 200 000 kr is at risk too.
    assert nara["repayment_risk"] == "635000.00"
    assert body["repayment_risk"] == "1735000.00"  # + medarbetare 800 000 + vidareutb. 300 000


def test_an_activity_overspending_at_its_rate_has_no_unspent(planned: Api) -> None:
    planned.spend(line("9916", "200000.00", "2022-06-30", activity="barnhalsovard"))
    a = activity(forecast(planned, "2022-06-30"), "barnhalsovard")
    assert a["projected_unspent"] == "0.00"
    assert a["projected_overspend"] == "203314.92"  # 200 000 × 365/181 − 200 000


def test_after_the_period_the_projection_is_the_spend(planned: Api) -> None:
    planned.spend(line("9916", "1000.00", "2022-03-15", activity="lokalt-arbete"))
    a = activity(forecast(planned, "2023-02-01"), "lokalt-arbete")
    assert a["projected_spent"] == a["spent"] == "1000.00"


def test_unknown_grant_is_a_404_problem(api: Api) -> None:
    answer = api.get("/v1/grants/no-such-grant/forecast")
    assert_problem(answer, 404)


def test_a_bad_date_is_a_422_problem(planned: Api) -> None:
    answer = planned.get(f"/v1/grants/{GRANT_ID}/forecast", params={"as_of": "2022-13-01"})
    assert_problem(answer, 422)


def test_a_bare_number_is_not_a_date_for_the_forecast_or_the_report(planned: Api) -> None:
    """Dates are ISO 8601 (docs/rules.md): `as_of=0` is not 1970-01-01 (schemathesis ST201)."""
    for path in (f"/v1/grants/{GRANT_ID}/forecast", f"/v1/reports/grants/{GRANT_ID}"):
        assert_problem(planned.get(path, params={"as_of": "0"}), 422)


def test_without_a_token_it_is_401(planned: Api) -> None:
    assert_problem(planned.get(f"/v1/grants/{GRANT_ID}/forecast", role=None), 401)
