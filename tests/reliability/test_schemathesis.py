"""Schemathesis against a real server, as an integrator runs it (issue 12).

Every check (`--checks all`) and every phase (examples, coverage, fuzzing and the stateful one
that follows the spec's links), against a ``grantledger serve`` process on loopback over the
demo year's ledger, with an admin and a reader token, on SQLite and PostgreSQL.  The committed
``openapi/schemathesis.toml`` names the only operations where a schema-valid request may be
refused with a 422 (a rule against the ledger's state, an Idempotency-Key reused, SIE content);
nothing else is excused, and the run must report no failure at all.

``make test`` runs a few examples per operation, derandomized so a run is reproducible;
``make soak`` runs many, fresh each time, and counts them in the soak summary.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger import migrate
from ledger.db import create_engine
from ledger.demo import populate
from ledger.formats import plan as plans
from ledger.service import Actor, LedgerService
from tests.reliability.conftest import SoakSummary
from tests.support.databases import fresh_database, postgres_reason, postgres_required
from tests.support.ledger import EXAMPLES
from tests.support.servers import Server, make_tokens

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"
CONFIG = ROOT / "openapi" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
WHO = ("admin", "reader")


@dataclass
class Served:
    server: Server
    tokens: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A real server over the demo year (so the spec's examples, gnv-2022 and 9916, are real)."""
    if request.param == "postgresql" and postgres_reason() is not None:
        reason = postgres_reason() or "PostgreSQL unavailable"
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    where = tmp_path_factory.mktemp("schemathesis")
    with fresh_database(request.param, where) as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        populate(
            LedgerService(engine),
            plans.read(EXAMPLES / "god-och-nara-vard-2022.yaml"),
            Actor("fuzz-setup", "admin"),
        )
        engine.dispose()
        tokens = make_tokens(url, "fuzz")
        server = Server(url, where / "server.log")
        server.start()
        try:
            yield Served(server, tokens)
        finally:
            server.close()


@dataclass
class Run:
    returncode: int
    output: str

    @property
    def cases(self) -> int:
        found = re.search(r"(\d+) generated", self.output)
        return int(found.group(1)) if found else 0


def schemathesis(served: Served, who: str, examples: int, *, soak: bool = False) -> Run:
    """`schemathesis run --checks all` with every phase, exactly as the config file's comment
    tells an integrator to run it (plus the number of examples)."""
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        str(SPEC),
        "--url",
        served.server.url,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--header",
        f"Authorization: Bearer {served.tokens[who]}",
        "--max-examples",
        str(examples),
        "--workers",
        "1",
        "--output-truncate",
        "false",
    ]
    if not soak:  # the reproducible set of `make test`; the soak draws fresh data each time
        command.append("--generation-deterministic")
    done = subprocess.run(  # schemathesis's own CLI
        command, capture_output=True, text=True, timeout=1800, cwd=ROOT, check=False
    )
    return Run(done.returncode, done.stdout + done.stderr)


@pytest.mark.parametrize("who", WHO)
def test_schemathesis_all_checks_and_stateful_finds_no_failure(served: Served, who: str) -> None:
    run = schemathesis(served, who, examples=2)
    print(f"\nschemathesis [{who}]: {run.cases} cases")
    assert run.returncode == 0, run.output[-20000:]
    assert "Stateful" in run.output, run.output[-3000:]
    assert run.cases > 300, run.output[-3000:]
    assert not re.search(r"\d+ failures?\b", run.output.split("SUMMARY")[-1]), run.output[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("who", WHO)
def test_soak_schemathesis(served: Served, who: str, soak_summary: SoakSummary) -> None:
    run = schemathesis(served, who, examples=50, soak=True)
    soak_summary.add("schemathesis", slow=True, who=who, schemathesis_cases=run.cases)
    assert run.returncode == 0, run.output[-20000:]
