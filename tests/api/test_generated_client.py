"""A client generated from the committed spec is enough to work with the ledger (issue 12).

openapi-python-client generates a package from ``openapi/openapi.json`` into a temporary
directory; the test then uses only that package, against a real ``grantledger serve`` process on
loopback (each database), to register a grant, post spend, read balances, and read refusals as
typed ``Problem`` objects: the rule, the money as kronor strings, every field at fault.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.api import (
    GRANT_ID,
    LiveServer,
    activity_body,
    batch,
    grant_body,
    line,
)

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "grantledger_generated_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    where = tmp_path_factory.mktemp("generated")
    config = where / "config.yaml"
    config.write_text("post_hooks: []\n", encoding="utf-8")
    done = subprocess.run(  # the generator's own CLI, as an integrator runs it
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(ROOT / "openapi" / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_generated_client_posts_spend_reads_balances_and_reads_refusals_as_problems(
    client_package: ModuleType, live_server: LiveServer
) -> None:
    models = _module("models")
    grants = _module("api.grants.register_grant")
    allocate = _module("api.grants.allocate_activity")
    post = _module("api.transactions.post_transactions")
    get_transaction = _module("api.transactions.get_transaction")
    balances = _module("api.balances.get_balances")

    def as_role(role: str) -> Any:
        return client_package.AuthenticatedClient(
            base_url=live_server.base_url, token=live_server.tokens[role], timeout=30
        )

    with as_role("planner") as planner, as_role("poster") as poster, as_role("reader") as reader:
        registered = grants.sync(client=planner, body=models.GrantBody.from_dict(grant_body()))
        assert isinstance(registered, models.ChangeOut), registered
        assert registered.grant_id == GRANT_ID
        body = models.ActivityBody.from_dict(
            activity_body("lokalt-arbete", "nara-vard", "600000.00")
        )
        assert isinstance(allocate.sync(GRANT_ID, client=planner, body=body), models.ChangeOut)

        spent = post.sync(
            client=poster, body=models.SpendBatchBody.from_dict(batch(line(amount="1234.50")))
        )
        assert isinstance(spent, models.SpendOut), spent
        [recorded] = spent.lines
        assert recorded.status == "recorded"
        got = get_transaction.sync(recorded.transaction_id, client=reader)
        assert isinstance(got, models.TransactionOut), got
        assert got.amount == "1234.50"

        read = balances.sync(client=reader, grant_id=GRANT_ID)
        assert isinstance(read, models.BalanceOut), read
        assert (read.totals.awarded, read.totals.spent) == ("2100000.00", "1234.50")

        # rule 1: a typed Problem with the rule, where, and how much, money as kronor
        too_much = models.ActivityBody.from_dict(activity_body("mer", "nara-vard", "400000.01"))
        refused = allocate.sync_detailed(GRANT_ID, client=planner, body=too_much)
        assert refused.status_code == 422
        problem = refused.parsed
        assert isinstance(problem, models.Problem), refused.content
        assert problem.type_.endswith("/over-allocation")
        assert (problem.rule, problem.area) == ("no-over-allocation", "nara-vard")
        assert (problem.available, problem.requested) == ("400000.00", "400000.01")

        # a refused batch: every line at fault, typed
        unknown = batch(line(cost_object="0000"), line(cost_object="0001"))
        refused = post.sync_detailed(client=poster, body=models.SpendBatchBody.from_dict(unknown))
        assert isinstance(refused.parsed, models.Problem), refused.content
        assert refused.parsed.rule == "spend-placement"
        assert [type(e) for e in refused.parsed.errors] == [models.ProblemLine] * 2
        assert {e.code for e in refused.parsed.errors} == {"unknown-cost-object"}

        # the wrong role and a bad token are Problems too
        forbidden = post.sync_detailed(
            client=reader, body=models.SpendBatchBody.from_dict(batch(line()))
        )
        assert (forbidden.status_code, type(forbidden.parsed)) == (403, models.Problem)
    nobody = client_package.AuthenticatedClient(base_url=live_server.base_url, token="nope")
    with nobody:
        unauthorized = balances.sync_detailed(client=nobody, grant_id=GRANT_ID)
    assert (unauthorized.status_code, type(unauthorized.parsed)) == (401, models.Problem)
