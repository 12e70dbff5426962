"""The committed OpenAPI document is the app's (issue 4 §7): integrators code against it."""

from __future__ import annotations

import json
from pathlib import Path

from api.app import create_app
from api.settings import Settings

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    spec = create_app(Settings()).openapi()
    committed = json.loads(SPEC.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(spec)), (
        "openapi/openapi.json is stale: run `make openapi` and commit it"
    )


def test_every_operation_is_documented_with_id_summary_description_and_errors() -> None:
    spec = create_app(Settings()).openapi()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("operationId"), where
            assert op.get("summary"), where
            assert op.get("description"), where
            if path.startswith("/v1"):
                assert {"401", "403", "422"} <= set(op["responses"]), where
                assert op.get("security"), f"{where} must declare the bearer scheme"
