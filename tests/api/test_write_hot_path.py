"""The shortcuts of the write path's HTTP side (issue 14) answer exactly what the long way does.

``POST /v1/transactions`` renders its answer without a model per line, checks a cached token on
the event loop, and runs only the write itself on the thread pool; each is checked here against
what FastAPI and the answer models give.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import orjson
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from api.routers import grants, transactions
from api.schemas.answers import SpendOut
from api.schemas.requests import SpendBatchBody
from ledger.service import LineOutcome, Result
from tests.support.api import GRANT_ID, Api, assert_problem, batch, line

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


# --- the short way of POST /v1/transactions ---------------------------------------------------

JSON = "application/json"
LONG_WAY = "application/json; charset=utf-8"  # JSON to FastAPI as well, but not the short way's
VARYING = {"x-request-id", "date", "content-length"}


@pytest.fixture
def short_ways(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies the short way parsed (it alone parses from bytes with the model)."""
    seen: list[bytes] = []
    parse = SpendBatchBody.model_validate_json

    def counted(raw: bytes, *args: Any, **kwargs: Any) -> SpendBatchBody:
        seen.append(raw)
        return parse(raw, *args, **kwargs)

    monkeypatch.setattr(SpendBatchBody, "model_validate_json", counted)
    return seen


def _post(
    api: Api, body: bytes, content_type: str, role: str | None = "poster", **headers: str
) -> httpx.Response:
    answer: httpx.Response = api.client.post(
        "/v1/transactions",
        content=body,
        headers={**api.headers(role), "Content-Type": content_type, **headers},
    )
    return answer


def _same_answer(short: httpx.Response, long: httpx.Response) -> None:
    assert short.status_code == long.status_code, (short.text, long.text)
    assert set(short.headers) == set(long.headers)
    for name in set(short.headers) - VARYING:
        assert short.headers[name] == long.headers[name], name
    if short.status_code != 201:
        assert short.json() == long.json()


def _outcomes(answer: httpx.Response) -> list[tuple[str, str, str]]:
    return [(o["line_id"], o["grant_id"], o["status"]) for o in answer.json()["lines"]]


def test_a_plain_post_takes_the_short_way_and_answers_as_the_long_way(
    planned: Api, short_ways: list[bytes]
) -> None:
    planned.get("/v1/grants")  # the reader's token is cached now; the poster's is not yet
    first = orjson.dumps(batch(line(line_id="S-1"), line("9917", activity=None, line_id="S-2")))
    other = orjson.dumps(batch(line(line_id="L-1"), line("9917", activity=None, line_id="L-2")))
    _post(planned, first, JSON)  # looks the poster's token up: the long way
    assert short_ways == []
    again = orjson.dumps(batch(line(line_id="S-3")))
    short = _post(planned, again, JSON)
    assert short_ways == [again]
    long = _post(planned, orjson.dumps(batch(line(line_id="L-3"))), LONG_WAY)
    assert short_ways == [again]
    _same_answer(short, long)
    assert _outcomes(short) == [("S-3", GRANT_ID, "recorded")]
    assert _outcomes(long) == [("L-3", GRANT_ID, "recorded")]
    # Both ways record alike: sent again, either way, each line is a duplicate.
    for body in (first, other):
        _post(planned, body, LONG_WAY)  # records `other`
        for content_type in (JSON, LONG_WAY):
            answer = _post(planned, body, content_type)
            assert [s for _, _, s in _outcomes(answer)] == ["duplicate", "duplicate"]
    assert len(short_ways) == 3


def test_an_idempotency_key_replays_alike_whichever_way_the_first_came(
    planned: Api, short_ways: list[bytes]
) -> None:
    planned.get("/v1/grants", role="poster")  # cache the poster's token
    body = orjson.dumps(batch(line(line_id="K-1")))
    first = _post(planned, body, JSON, **{"Idempotency-Key": "k-1"})
    assert short_ways == [body]
    for content_type in (JSON, LONG_WAY):
        replay = _post(planned, body, content_type, **{"Idempotency-Key": "k-1"})
        assert replay.status_code == 201
        assert replay.content == first.content
        assert replay.headers["idempotent-replayed"] == "true"
    other = orjson.dumps(batch(line(line_id="K-2")))
    refusals = [_post(planned, other, ct, **{"Idempotency-Key": "k-1"}) for ct in (JSON, LONG_WAY)]
    assert_problem(refusals[0], 422)
    _same_answer(*refusals)


@pytest.mark.parametrize(
    ("case", "body", "role", "headers"),
    [
        ("reader's token", batch(line(line_id="R-1")), "reader", {}),
        ("no token", batch(line(line_id="R-2")), None, {}),
        ("bad amount", batch(line(amount="12,50", line_id="R-3")), "poster", {}),
        ("unknown field", {**batch(line(line_id="R-4")), "extra": 1}, "poster", {}),
        ("empty key", batch(line(line_id="R-5")), "poster", {"Idempotency-Key": ""}),
        ("long key", batch(line(line_id="R-6")), "poster", {"Idempotency-Key": "k" * 256}),
        ("unknown cost object", batch(line("0000", activity=None, line_id="R-7")), "poster", {}),
    ],
)
def test_a_refusal_is_worded_as_the_long_way_words_it(
    planned: Api, case: str, body: dict[str, Any], role: str | None, headers: dict[str, str]
) -> None:
    for cached in ("reader", "poster"):
        planned.get("/v1/grants", role=cached)
    raw = orjson.dumps(body)
    short, long = (_post(planned, raw, ct, role, **headers) for ct in (JSON, LONG_WAY))
    assert short.status_code in (401, 403, 404, 422), (case, short.text)
    _same_answer(short, long)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf" + orjson.dumps(batch(line(line_id="B-1"))),  # a UTF-8 BOM: json.loads
        b'{"source": "raindance", "lines": []}',
        b"{not json",
        b"",
        orjson.dumps(batch(line(line_id="B-2")))[:-1],
    ],
    ids=["bom", "no-lines", "malformed", "empty", "truncated"],
)
def test_bodies_the_model_does_not_take_from_bytes_go_the_long_way(
    planned: Api, short_ways: list[bytes], raw: bytes
) -> None:
    planned.get("/v1/grants", role="poster")
    short, long = (_post(planned, raw, ct) for ct in (JSON, LONG_WAY))
    _same_answer(short, long)
    assert short.status_code != 201 or raw.startswith(b"\xef\xbb\xbf")


# Values a field may get: right ones, near misses, and anything JSON holds.
_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_FIELD_VALUES = {
    "line_id": st.sampled_from(["V-1", "", " ", "a\tb", "x\u202ey"]) | st.text(max_size=12),
    "voucher": st.none() | st.sampled_from(["V", "\x00"]) | st.text(max_size=6),
    "booked_on": st.sampled_from(
        ["2022-03-15", "2022-02-30", "2022-03-15T00:00:00", "2022-03-15T01:00:00Z", "15/3/2022"]
    )
    | st.integers(0, 2_000_000_000),
    "amount": st.sampled_from(["100.00", "-5.5", "1e3", "01.00", "12,50", " 1.00", "0.001"])
    | st.integers(-10, 10),
    "cost_object": st.sampled_from(["9916", "99 16", "", "9916\n"]),
    "activity": st.none() | st.sampled_from(["lokalt-arbete", "Lokalt", "a" * 65]),
    "account": st.none() | st.sampled_from(["4010", "x" * 65]),
    "kind": st.sampled_from(["expense", "depreciation", "investment", "EXPENSE"]),
    "text": st.none() | st.text(max_size=10),
}


_VALID = {
    "line_id": "V-1",
    "voucher": "V",
    "booked_on": "2022-03-15",
    "amount": "100.00",
    "cost_object": "9916",
    "activity": "lokalt-arbete",
    "account": "4010",
    "kind": "expense",
    "text": "Konsultarvode",
}


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    """A valid body with a few of its fields changed to near misses or any JSON, or dropped."""
    lines = []
    for _ in range(draw(st.integers(0, 8)) // 4 + 1):  # mostly one line
        one: dict[str, Any] = dict(_VALID)
        for name in draw(st.lists(st.sampled_from(sorted(_VALID)), max_size=2, unique=True)):
            how = draw(st.sampled_from(["near", "near", "any", "drop"]))
            if how == "drop":
                del one[name]
            else:
                one[name] = draw(_FIELD_VALUES[name] if how == "near" else _ANY_JSON)
        lines.append(one)
    source = draw(st.sampled_from(["raindance", "Raindance"])) if draw(st.booleans()) else "ra"
    body: dict[str, Any] = {"source": source, "lines": lines}
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.sampled_from(["extra", "source", "lines"]))] = draw(_ANY_JSON)
    text = json.dumps(
        body, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))
    )
    if draw(st.booleans()):  # a repeated key: json.loads keeps the last value
        text = text.replace('"source": ', '"source": "other", "source": ', 1)
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=400)
@given(_bodies())
def test_what_the_model_accepts_from_bytes_json_loads_and_validation_accept_alike(
    raw: bytes,
) -> None:
    """The short way parses with ``model_validate_json``; FastAPI with ``json.loads`` and then
    validates the value.  Whatever the first accepts, the second accepts as the same body (what
    the first refuses goes the long way, so it need not agree there)."""
    try:
        short = SpendBatchBody.model_validate_json(raw)
    except ValidationError:
        event("refused")
        return
    event(f"accepted: {len(short.lines)} lines")
    long = TypeAdapter(SpendBatchBody).validate_python(json.loads(raw))
    assert short == long
    assert short.model_dump_json() == long.model_dump_json()  # the Idempotency-Key hash's input
