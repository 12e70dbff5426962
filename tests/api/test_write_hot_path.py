"""The shortcuts of the write path's HTTP side (issue 14) answer exactly what the long way does.

``POST /v1/transactions`` renders its answer without a model per line, checks a cached token on
the event loop, and runs only the write itself on the thread pool; each is checked here against
what FastAPI and the answer models give.
"""

from __future__ import annotations

import inspect

import orjson
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from api.routers import grants, transactions
from api.schemas.answers import SpendOut
from ledger.service import LineOutcome, Result

TEXTS = st.text(min_size=0, max_size=30)


def _long_way(result: Result) -> bytes:
    return orjson.dumps(SpendOut.of(result).model_dump(mode="json", by_alias=True))


@given(
    st.lists(
        st.builds(
            LineOutcome,
            line_id=TEXTS,
            transaction_id=TEXTS,
            grant_id=TEXTS,
            status=st.sampled_from(["recorded", "duplicate", "reversal", "classified"]),
            reason_code=st.none() | TEXTS,
            reason=st.none() | TEXTS,
        ),
        max_size=20,
    )
)
def test_a_spend_answer_renders_byte_for_byte_as_its_model(lines: list[LineOutcome]) -> None:
    result = Result((), "g", 3, tuple(lines))
    assert SpendOut.json_of(result) == _long_way(result)


def test_a_line_the_model_refuses_is_refused_the_same_way() -> None:
    result = Result((), None, None, (LineOutcome("L1", "t-1", None, "recorded"),))
    with pytest.raises(ValidationError):
        _long_way(result)
    with pytest.raises(ValidationError):
        SpendOut.json_of(result)


def _calls(dependant: Dependant) -> list[object]:
    found = []
    for sub in dependant.dependencies:
        found.append(sub.call)
        found.extend(_calls(sub))
    return found


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/v1/transactions", "POST"),
        ("/v1/transactions/{transaction_id}/reversal", "POST"),
        ("/v1/grants/{grant_id}/activities", "POST"),
    ],
)
def test_no_dependency_of_a_write_waits_for_the_thread_pool(path: str, method: str) -> None:
    """FastAPI runs a plain ``def`` dependency on its thread pool: a round trip through a queue
    and the GIL per request.  Only the endpoint itself (the write blocks) may take it."""
    [route] = [
        r
        for r in (*transactions.router.routes, *grants.router.routes)
        if isinstance(r, APIRoute) and r.path == path and method in r.methods
    ]
    calls = _calls(route.dependant)
    assert calls
    for call in calls:
        target = call if inspect.isfunction(call) else type(call).__call__
        assert inspect.iscoroutinefunction(target), call
