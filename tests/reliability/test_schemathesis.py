"""Schemathesis against the committed OpenAPI document (issue 6 §3), with every role and none.

For each database, each role's token and no token at all, every operation of
``openapi/openapi.json`` gets generated requests, valid ones (positive) and ones the spec forbids
(negative), sent to the app over the demo year's ledger.  Each answer must not be a 5xx, must
have a status, content type, headers and body the spec documents for it, and an invalid request
must be refused.  Failures are collected over the whole run and reported together.

``make test`` runs a few examples per operation (derandomized, so a run is reproducible);
``make soak`` runs many, fresh each time, and counts them in the soak summary.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.result import Ok

from api.app import create_app
from api.settings import Settings
from ledger import migrate
from ledger.db import create_engine
from ledger.demo import populate
from ledger.formats import plan as plans
from ledger.service import Actor, LedgerService
from tests.reliability.conftest import SoakSummary
from tests.support.databases import fresh_database, postgres_reason
from tests.support.ledger import EXAMPLES
from tests.support.servers import ROLES, make_tokens

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
WHO = [*ROLES, "none"]


@dataclass
class Fuzzed:
    app: FastAPI
    tokens: dict[str, str]
    known: dict[str, str]  # path parameters that name real things in the ledger


_QUERY_PARAMS = re.compile(r"parameters? ((?:`[^`]+`(?:, )?)+) in query")


# What a JSON scalar of the wrong type becomes in a query string.
_SCALARS_AS_TEXT = ("false", "true", "null", "0")


def _text_like(schema: dict[str, Any]) -> bool:
    """A query parameter that the text of a mistyped scalar can satisfy: on the wire every
    query value is a string, so `type=false` is the event type "false", not a boolean."""
    options = schema.get("anyOf", [schema])
    for option in options:
        kind = option.get("type")
        if kind == "null":
            continue
        if kind == "array":
            option = option.get("items", {})
            kind = option.get("type")
        if kind != "string" or {"format", "enum"} & set(option):
            return False
        pattern = option.get("pattern")
        if pattern and not any(re.search(pattern, text) for text in _SCALARS_AS_TEXT):
            return False
    return True


def _excused(operation: Any, failure: BaseException) -> bool:
    """A negative case that was not negative once on the wire (query values are all text)."""
    if type(failure).__name__ != "AcceptedNegativeData":
        return False
    message = str(getattr(failure, "message", failure))
    found = _QUERY_PARAMS.search(message)
    if found is None:
        return False
    names = re.findall(r"`([^`]+)`", found.group(1))
    schemas = {p.name: p.definition.get("schema", {}) for p in operation.query}
    # e.g. type=false is the text "false", a valid event type filter
    return all(n in schemas and _text_like(schemas[n]) for n in names)


@dataclass
class Run:
    cases: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: dict[str, str] = field(default_factory=dict)  # "op [who/mode]: check" → sample
    excused: int = 0
    negative: int = 0  # cases the spec forbids: bad inputs tried


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    """The app over the demo year (so the spec's examples, gnv-2022 and 9916, hit real data)."""
    if request.param == "postgresql" and postgres_reason() is not None:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    with fresh_database(request.param, tmp_path_factory.mktemp("fuzz")) as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        parsed = plans.read(EXAMPLES / "god-och-nara-vard-2022.yaml")
        populate(LedgerService(engine), parsed, Actor("fuzz-setup", "admin"))
        with engine.connect() as conn:
            transaction_id = conn.execute(
                sa.text("SELECT transaction_id FROM spend_lines WHERE status = 'recorded' LIMIT 1")
            ).scalar_one()
        engine.dispose()
        tokens = make_tokens(url, "fuzz")
        app = create_app(Settings(database_url=url))
        known = {
            "grant_id": parsed.grant_id,
            "code": "9916",
            "transaction_id": transaction_id,
            "period": "2022-11",
        }
        yield Fuzzed(app, tokens, known)
        app.state.container.close()


def _checks(negative: bool) -> list[Any]:
    from schemathesis.checks import (
        content_type_conformance,
        negative_data_rejection,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    return [*checks, negative_data_rejection] if negative else checks


def fuzz(fuzzed: Fuzzed, who: str, examples: int, *, derandomize: bool) -> Run:
    from schemathesis import GenerationMode
    from schemathesis.config import SchemathesisConfig

    # The token as schemathesis's own auth, so that a negative case that leaves it out or
    # spoils it on purpose is sent that way (and must be refused), not patched up by us.
    auth = {} if who == "none" else {"HTTPBearer": {"bearer": fuzzed.tokens[who]}}
    config = SchemathesisConfig.from_dict({"auth": {"openapi": auth}} if auth else {})
    schema = schemathesis.openapi.from_path(SPEC, config=config)
    run = Run()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"the committed spec has an unusable operation: {result.err()}")
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        passes: list[tuple[str, Any, dict[str, str] | None]] = [
            ("positive", GenerationMode.POSITIVE, None),
            ("negative", GenerationMode.NEGATIVE, None),
        ]
        if names and names <= set(fuzzed.known):
            # Valid bodies against things that exist: past the 404s, into the rules.
            passes.append(("known", GenerationMode.POSITIVE, {n: fuzzed.known[n] for n in names}))
        for label, mode, path in passes:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path)
            name = f"{operation.label} [{who}/{label}]"
            negative = mode is GenerationMode.NEGATIVE
            _one_pass(fuzzed, run, operation, name, strategy, negative, examples, derandomize)
    return run


def _one_pass(
    fuzzed: Fuzzed,
    run: Run,
    operation: Any,
    name: str,
    strategy: Any,
    negative: bool,
    examples: int,
    derandomize: bool,
) -> None:
    checks = _checks(negative)

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: Any) -> None:
        run.cases += 1
        run.negative += negative
        try:
            response = case.call(app=fuzzed.app)
            run.statuses[response.status_code] += 1
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as e:  # collected: every failure, not the first
            for failure in getattr(e, "exceptions", [e]):
                if _excused(operation, failure):
                    run.excused += 1
                    continue
                title = getattr(failure, "title", type(failure).__name__)
                run.failures.setdefault(f"{name}: {title}", str(e)[:1500])

    try:
        one()
    except Exception as e:  # e.g. no negative case can exist for /healthz
        if "Unable to satisfy assumptions" not in str(e) and "filter" not in str(e):
            run.failures.setdefault(name, str(e))


def _report(run: Run) -> str:
    return "\n\n".join(f"{key}\n{sample}" for key, sample in sorted(run.failures.items()))


@pytest.mark.parametrize("who", WHO)
def test_no_5xx_and_every_answer_conforms_to_the_spec(fuzzed: Fuzzed, who: str) -> None:
    run = fuzz(fuzzed, who, examples=5, derandomize=True)
    print(f"\nschemathesis [{who}]: {run.cases} cases, statuses {dict(run.statuses)}")
    assert run.cases > 200
    assert run.failures == {}, _report(run)
    if who == "none":
        assert set(run.statuses) <= {200, 400, 401, 404, 405, 413, 422, 503}


@pytest.mark.slow
@pytest.mark.parametrize("who", WHO)
def test_soak_schemathesis(fuzzed: Fuzzed, who: str, soak_summary: SoakSummary) -> None:
    run = fuzz(fuzzed, who, examples=60, derandomize=False)
    soak_summary.add(
        "schemathesis",
        slow=True,
        who=who,
        schemathesis_cases=run.cases,
        bad_inputs_tried=run.negative,
        failures=len(run.failures),
        excused=run.excused,
    )
    assert run.failures == {}, _report(run)
