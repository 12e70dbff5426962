"""Helpers for the web app's tests without a browser: sign in, read a form's CSRF token."""

from __future__ import annotations

import re

import httpx

from tests.support.api import Api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def sign_in(api: Api, role: str, base: str = "http://testserver") -> httpx.Response:
    api.client.cookies.clear()
    return api.client.post(
        f"{base}/ui/login", data={"token": api.tokens[role]}, follow_redirects=False
    )


def csrf_of(api: Api, path: str) -> str:
    page = api.client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)
