"""examples/consumer.py (issue 15): a durable consumer that survives its own restart and keeps
spend per cost object equal to the API's ``GET /v1/cost-objects/{code}`` ``totals.spent``."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.cli.relay import public_json
from api.settings import Settings
from ledger.domain import commands as cmd
from ledger.relay.relay import Relay
from tests.relay.test_relay_publishes import relay_settings, run_until_caught_up
from tests.support.ledger import Ledger, kr, line
from tests.support.nats import Names
from tests.support.servers import ROOT, _base_env, make_tokens

COST_OBJECTS = ("8816", "9942")


def consumer(url: str, names: Names, state: Path, *more: str) -> dict[str, Any]:
    run = subprocess.run(  # the example, as a user runs it
        [
            sys.executable,
            str(ROOT / "examples" / "consumer.py"),
            "--durable",
            "test-budget",
            "--state",
            str(state),
            "--exit-when-idle",
            "3",
            *more,
        ],
        env=_base_env(names.env(url)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return dict(json.loads(run.stdout))


def api_spent(database_url: str) -> dict[str, str]:
    reader = make_tokens(database_url, "consumer")["reader"]
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        client.headers["Authorization"] = f"Bearer {reader}"
        return {
            code: client.get(f"/v1/cost-objects/{code}").json()["totals"]["spent"]
            for code in COST_OBJECTS
        }


def test_the_consumer_survives_its_restart_and_matches_the_api(
    database_url: str, engine: Engine, nats_url: str, names: Names, tmp_path: Path
) -> None:
    ledger = Ledger(engine)
    ledger.register(
        "consume-2022",
        [
            cmd.AreaSpec("nara", "Nära vård", kr(1_000_000), "8816", "HOSPA"),
            cmd.AreaSpec("ehalsa", "E-hälsa", kr(1_000_000), "9942", "IT"),
        ],
    )
    ledger.allocate("consume-2022", "lokalt", "nara", kr(500_000))
    ledger.allocate("consume-2022", "journal", "ehalsa", kr(500_000))
    first = ledger.spend(
        line("8816", kr("1234.50"), date(2022, 3, 1), activity="lokalt"),
        line("9942", kr(999), date(2022, 3, 2), activity="journal"),
        line("8816", kr(10), date(2022, 3, 3), activity="lokalt"),
    )
    ledger.reverse(first.lines[2].transaction_id, date(2022, 3, 20))
    settings = relay_settings(nats_url, names, database_url)
    run_until_caught_up(Relay(settings, engine, public_json), ledger.event_count())

    state = tmp_path / "spent.json"
    part = consumer(nats_url, names, state, "--max-events", "4")
    assert part["position"] == 4, part  # stopped part-way: a restart follows
    whole = consumer(nats_url, names, state)
    assert whole["position"] == ledger.event_count(), whole
    assert whole["spent"] == api_spent(database_url) == {"8816": "1234.50", "9942": "999.00"}

    ledger.spend(line("9942", kr(1), date(2022, 4, 1), activity="journal"))
    run_until_caught_up(Relay(settings, engine, public_json), ledger.event_count())
    again = consumer(nats_url, names, state)
    assert again["spent"] == api_spent(database_url) == {"8816": "1234.50", "9942": "1000.00"}
