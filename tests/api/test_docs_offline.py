"""`/docs` and `/redoc` work with no internet (issue 12): the pages name no other host, and every
asset they load is served by the app itself, with the type a browser needs to run it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

# Anything a page would fetch: src/href attributes, and the spec URL each UI loads.
_REFERENCES = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")
_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'ledger.db'}"
    return TestClient(create_app(Settings(database_url=url)))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_reference_no_other_host_and_every_asset_loads(
    client: TestClient, page: str
) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert not re.search(r"(?i)\b(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), html
    references = [a or b for a, b in _REFERENCES.findall(html)]
    assert "/openapi.json" in references
    assert any(r.endswith(".js") for r in references)
    for reference in references:
        assert reference.startswith("/"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 100, reference
        kind = next(t for suffix, t in _TYPES.items() if reference.endswith(suffix))
        assert kind in asset.headers["content-type"], (reference, asset.headers)


def test_swagger_ui_does_not_send_the_spec_to_an_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_the_docs_assets_are_not_operations_of_the_spec(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
