"""Operations (issue 7 §5): JSON logs with the request id, an access log, Prometheus metrics."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.observability import configure_logging
from tests.support.api import Api, ApiFactory, activity_body, assert_problem, line


def scrape(api: Api) -> httpx.Response:
    """GET /metrics as Prometheus is configured to: with a token (any role, by default)."""
    answer: httpx.Response = api.client.get("/metrics", headers=api.headers("reader"))
    return answer


def sample(api: Api, name: str, **labels: str) -> float:
    """The current value of one sample of /metrics (0 when it is not there yet)."""
    answer = scrape(api)
    assert answer.status_code == 200
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def log_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for raw in text.splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_metrics_count_requests_by_route_template(planned: Api) -> None:
    labels = {"method": "GET", "route": "/v1/grants/{grant_id}", "status": "200"}
    before = sample(planned, "grantledger_http_requests_total", **labels)
    assert planned.get("/v1/grants/test-2022").status_code == 200
    assert sample(planned, "grantledger_http_requests_total", **labels) == before + 1
    count = "grantledger_http_request_duration_seconds_count"
    assert sample(planned, count, method="GET", route="/v1/grants/{grant_id}") >= 1
    # Unknown paths share one label, so a scanner cannot create a series per path.
    planned.get("/no/such/path/12345")
    assert sample(planned, "grantledger_http_requests_total", route="unmatched", status="404") >= 1
    answer = scrape(planned)
    assert answer.headers["content-type"].startswith("text/plain")
    assert "/no/such/path/12345" not in answer.text


def test_metrics_count_events_appended_by_writes(planned: Api) -> None:
    before = sample(planned, "grantledger_events_appended_total", event_type="ActivityAllocated")
    planned.ok(
        "/v1/grants/test-2022/activities", activity_body("ny", "nara-vard", "1000.00"), "planner"
    )
    after = sample(planned, "grantledger_events_appended_total", event_type="ActivityAllocated")
    assert after == before + 1


def test_metrics_count_every_event_of_a_batch(planned: Api) -> None:
    """Counted per event type once per write (not per event), with the same totals."""
    before = sample(planned, "grantledger_events_appended_total", event_type="SpendRecorded")
    planned.spend(
        *(line("9916", "100.00", "2022-03-01", activity="lokalt-arbete", line_id=f"M{n}")
          for n in range(3))
    )  # fmt: skip
    after = sample(planned, "grantledger_events_appended_total", event_type="SpendRecorded")
    assert after == before + 3
    planned.spend(line("9916", "100.00", "2022-03-01", activity="lokalt-arbete", line_id="M0"))
    assert sample(planned, "grantledger_events_appended_total", event_type="SpendRecorded") == (
        after  # a duplicate line appends nothing
    )


def test_metrics_count_append_conflicts(planned: Api) -> None:
    before = sample(planned, "grantledger_append_conflicts_total")
    stale = planned.post(
        "/v1/grants/test-2022/activities",
        activity_body("sent", "nara-vard", "1000.00"),
        "planner",
        headers={"If-Match": '"1"'},
    )
    assert_problem(stale, 409, "stream-version-conflict")
    assert sample(planned, "grantledger_append_conflicts_total") == before + 1


def test_json_access_log_with_request_id_and_no_token(
    planned: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", json=True)
    capsys.readouterr()
    answer = planned.get("/v1/balances", params={"grant_id": "test-2022", "x": "y"})
    assert answer.status_code == 200
    request_id = answer.headers["X-Request-ID"]
    logged = capsys.readouterr().err
    access = [line for line in log_lines(logged) if line.get("event") == "request"]
    assert len(access) == 1, logged
    (line,) = access
    assert line["request_id"] == request_id
    assert line["method"] == "GET"
    assert line["path"] == "/v1/balances"  # never the query string
    assert line["route"] == "/v1/balances"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info"
    assert "timestamp" in line
    assert planned.tokens["reader"] not in logged
    assert "Bearer" not in logged
    assert "authorization" not in logged.lower()


def test_at_warning_no_access_line_is_written_and_the_request_is_still_counted(
    planned: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = {"method": "GET", "route": "/v1/balances", "status": "200"}
    before = sample(planned, "grantledger_http_requests_total", **labels)
    configure_logging("warning", json=True)
    try:
        capsys.readouterr()
        answer = planned.get("/v1/balances", params={"grant_id": "test-2022"})
        assert answer.status_code == 200
        logged = [x for x in log_lines(capsys.readouterr().err) if x.get("logger") != "httpx"]
        assert [x for x in logged if x.get("event") == "request"] == []
    finally:
        configure_logging("info", json=True)
    assert sample(planned, "grantledger_http_requests_total", **labels) == before + 1
    capsys.readouterr()
    planned.get("/v1/balances", params={"grant_id": "test-2022"})  # and at info, one again
    access = [x for x in log_lines(capsys.readouterr().err) if x.get("event") == "request"]
    assert len(access) == 1


def test_every_line_of_a_request_carries_its_request_id(
    planned: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", json=True)
    capsys.readouterr()
    answer = planned.get("/v1/grants/finns-inte", headers={"X-Request-ID": "trace-abc.123"})
    assert answer.status_code == 404
    ours = answer.headers["X-Request-ID"]
    assert ours != "trace-abc.123"  # the caller's id rides along, it never names the request
    # The test client's own httpx lines are the caller's, not the server's.
    lines = [x for x in log_lines(capsys.readouterr().err) if x.get("logger") != "httpx"]
    assert lines
    assert {line.get("request_id") for line in lines} == {ours}
    assert {line.get("client_request_id") for line in lines} == {"trace-abc.123"}
    assert any(line.get("status") == 404 for line in lines)


def test_metrics_need_a_token_by_default(api: Api) -> None:
    """Issue 16 item 6: /metrics was open to anyone who could reach the port."""
    assert_problem(api.client.get("/metrics"), 401, "unauthenticated")
    bad = api.client.get("/metrics", headers={"Authorization": "Bearer gl_not-a-token"})
    assert_problem(bad, 401, "unauthenticated")
    assert scrape(api).status_code == 200


def test_metrics_may_need_a_role_or_be_opened_by_setting(api_factory: ApiFactory) -> None:
    audited = api_factory(metrics_access="auditor")
    assert_problem(audited.get("/metrics", "poster"), 403, "forbidden")
    assert audited.get("/metrics", "auditor").status_code == 200
    assert audited.get("/metrics", "admin").status_code == 200
    opened = api_factory(metrics_access="open")
    assert opened.client.get("/metrics").status_code == 200


def test_metrics_route_is_documented(api: Api) -> None:
    answer = scrape(api)
    assert answer.status_code == 200
    for name in ("http_requests", "events_appended", "append_conflicts"):
        assert re.search(rf"^# TYPE grantledger_{name}_total counter$", answer.text, re.M), name
    assert "# TYPE grantledger_http_request_duration_seconds histogram" in answer.text


def test_a_post_the_short_way_is_logged_and_counted_as_the_long_way(
    planned: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """POST /v1/transactions taken before the router (``SpendLane``) still has its access line,
    request id and route label, and its events are counted, exactly like the long way's."""
    planned.get("/v1/grants", role="poster")  # the poster's token cached: the short way
    route = {"method": "POST", "route": "/v1/transactions", "status": "201"}
    before = sample(planned, "grantledger_http_requests_total", **route)
    spent = sample(planned, "grantledger_events_appended_total", event_type="SpendRecorded")
    capsys.readouterr()
    ways = {
        "short": "application/json",
        "long": "application/json; charset=utf-8",  # JSON too, but not the short way's
    }
    for n, content_type in enumerate(ways.values()):
        answer = planned.client.post(
            "/v1/transactions",
            json=None,
            content=json.dumps({"source": "raindance", "lines": [line(line_id=f"OBS-{n}")]}),
            headers={**planned.headers("poster"), "Content-Type": content_type},
        )
        assert answer.status_code == 201, answer.text
    access = [x for x in log_lines(capsys.readouterr().err) if x.get("event") == "request"]
    assert [(x["method"], x["route"], x["status"]) for x in access] == [
        ("POST", "/v1/transactions", 201)
    ] * 2
    assert all(isinstance(x["request_id"], str) and x["request_id"] for x in access)
    assert sample(planned, "grantledger_http_requests_total", **route) == before + 2
    assert (
        sample(planned, "grantledger_events_appended_total", event_type="SpendRecorded")
        == spent + 2
    )
