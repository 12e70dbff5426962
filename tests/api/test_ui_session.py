"""The web app's session and CSRF rules, over the app in process (no browser), both databases.

Rules protected: the session cookie is HttpOnly, SameSite=Strict, expiring, Secure behind HTTPS;
a writing form without this session's CSRF token writes nothing; a role that may not write is
refused by the server whatever the browser sends; a revoked token's sessions stop working on
their next request (no cache delay), an expired token's at its expiry; logout ends the session.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from api.ui.session import COOKIE, Sessions
from ledger.auth.tokens import TokenRegistry
from tests.support.api import Api, ApiFactory, line
from tests.support.ui import csrf_of, sign_in


def unclassified_line(api: Api) -> str:
    (outcome,) = api.spend(line("9917", "5000.00", "2022-06-15", activity=None))
    return str(outcome["transaction_id"])


def test_the_session_cookie_is_httponly_strict_and_expires(api: Api) -> None:
    answer = sign_in(api, "reader")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "max-age=" in cookie
    assert "path=/ui" in cookie
    assert "secure" not in cookie  # plain http on loopback: a Secure cookie would never return


def test_behind_https_the_cookie_is_secure(api: Api) -> None:
    answer = sign_in(api, "reader", base="https://testserver")
    assert "; secure" in answer.headers["set-cookie"].lower()


def test_an_unknown_token_does_not_sign_in(api: Api) -> None:
    api.client.cookies.clear()
    answer = api.client.post("/ui/login", data={"token": "gl_nope"}, follow_redirects=False)
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert "Okänd eller återkallad token" in answer.text


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
def test_a_sign_in_posted_from_another_site_is_refused(api: Api, origin: str) -> None:
    api.client.cookies.clear()
    answer = api.client.post(
        "/ui/login",
        data={"token": api.tokens["reader"]},
        headers={"Origin": origin},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_pages_need_a_session(api: Api) -> None:
    api.client.cookies.clear()
    answer = api.client.get("/ui/", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/login")


def test_a_form_without_the_csrf_token_writes_nothing(planned: Api) -> None:
    tid = unclassified_line(planned)
    sign_in(planned, "planner")
    before = planned.event_count()
    for csrf in ("", "forged"):
        answer = planned.client.post(
            "/ui/cost-objects/9917/classify",
            data={"csrf": csrf, "transaction_id": tid, "activity": "webbplatser", "reason": "x"},
            follow_redirects=False,
        )
        assert answer.status_code == 403
        assert "CSRF" in answer.text
    assert planned.event_count() == before


def test_with_the_csrf_token_the_planner_classifies(planned: Api) -> None:
    tid = unclassified_line(planned)
    sign_in(planned, "planner")
    token = csrf_of(planned, "/ui/cost-objects/9917")
    answer = planned.client.post(
        "/ui/cost-objects/9917/classify",
        data={"csrf": token, "transaction_id": tid, "activity": "webbplatser", "reason": "avst"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert planned.get(f"/v1/transactions/{tid}").json()["activity"] == "webbplatser"


def test_a_reader_may_not_classify_even_with_a_valid_form(planned: Api) -> None:
    tid = unclassified_line(planned)
    sign_in(planned, "reader")
    token = csrf_of(planned, "/ui/")
    page = planned.client.get("/ui/cost-objects/9917")
    assert "Klassa" not in page.text  # no form shown to a reader …
    before = planned.event_count()
    answer = planned.client.post(
        "/ui/cost-objects/9917/classify",
        data={"csrf": token, "transaction_id": tid, "activity": "webbplatser", "reason": "x"},
        follow_redirects=False,
    )
    assert answer.status_code == 403  # … and the server refuses it anyway
    assert planned.event_count() == before
    assert planned.client.get("/ui/grants/test-2022/planering").status_code == 403
    assert planned.client.get("/ui/revision").status_code == 403


def test_a_revoked_token_ends_its_sessions_at_once_even_on_a_caching_server(
    api_factory: ApiFactory,
) -> None:
    # The API trusts a looked-up bearer token for token_cache_seconds; a session does not wait.
    api = api_factory(token_cache_seconds=300)
    registry = TokenRegistry(api.engine)
    secret = registry.create("ui-revoke-me", "reader")
    api.client.post("/ui/login", data={"token": secret}, follow_redirects=False)
    assert api.client.get("/ui/", follow_redirects=False).status_code == 200
    registry.revoke("ui-revoke-me")
    answer = api.client.get("/ui/", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/login")


def test_an_expired_token_ends_its_sessions_at_its_expiry(api_factory: ApiFactory) -> None:
    api = api_factory(token_cache_seconds=300)
    expires = datetime.now(UTC) + timedelta(seconds=5)  # time to sign in on a loaded host
    secret = TokenRegistry(api.engine).create("ui-short-lived", "reader", expires_at=expires)
    api.client.post("/ui/login", data={"token": secret}, follow_redirects=False)
    assert api.client.get("/ui/", follow_redirects=False).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    answer = api.client.get("/ui/", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/login")
    # … and the token cannot start a new one.
    again = api.client.post("/ui/login", data={"token": secret}, follow_redirects=False)
    assert again.status_code == 401


def test_logout_ends_the_session(api: Api) -> None:
    sign_in(api, "reader")
    copied = api.client.cookies.get(COOKIE) or ""
    api.client.cookies.clear()
    api.client.cookies.set(COOKIE, copied, path="/ui")  # the copy works while signed in …
    token = csrf_of(api, "/ui/")
    answer = api.client.post("/ui/logout", data={"csrf": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert f'{COOKIE}=""' in answer.headers["set-cookie"] or "max-age=0" in (
        answer.headers["set-cookie"].lower()
    )
    api.client.cookies.clear()  # what the browser does with an expired cookie
    assert api.client.get("/ui/", follow_redirects=False).status_code == 303
    # … and is refused after the logout.
    api.client.cookies.set(COOKIE, copied, path="/ui")
    assert api.client.get("/ui/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),  # signature changed
        lambda c: "x" + c,  # body changed
        lambda c: c.split(".")[0],  # no signature
    ],
)
def test_a_forged_cookie_is_no_session(tamper: object) -> None:
    sessions = Sessions(b"k" * 32, 3600)
    _, cookie = sessions.issue("a" * 64, now=1000)
    assert sessions.read(cookie, now=1001) is not None
    assert callable(tamper)
    assert sessions.read(tamper(cookie), now=1001) is None


def test_an_expired_session_is_no_session() -> None:
    sessions = Sessions(b"k" * 32, 3600)
    _, cookie = sessions.issue("a" * 64, now=1000)
    assert sessions.read(cookie, now=1000 + 3599) is not None
    assert sessions.read(cookie, now=1000 + 3600) is None


def test_the_csrf_token_belongs_to_one_session() -> None:
    sessions = Sessions(b"k" * 32, 3600)
    one, _ = sessions.issue("a" * 64)
    two, _ = sessions.issue("a" * 64)
    assert sessions.csrf_ok(one, sessions.csrf(one))
    assert not sessions.csrf_ok(two, sessions.csrf(one))
