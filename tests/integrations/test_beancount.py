"""Beancount export (issue 7 §3): a tool that is not ours checks our double entry.

The seed 003 plan and a year of spend (receipts, monthly batches, unclassified spend on 9942 and
9917, a reversal, classifications, closed months) plus a repayment go through the service on each
backend; ``grantledger export beancount`` writes the ledger, ``bean-check`` must accept it, and
every account balance ``bean-query`` computes must equal what ``GET /v1/balances`` answers, to
the öre, today and as of a date.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from ledger.demo import populate
from ledger.domain import commands as cmd
from ledger.formats import plan
from ledger.formats.beancount import account_name, component, export_beancount
from ledger.service import Actor, LedgerService
from tests.integrations.conftest import GRANT, SEED_003
from tests.support.api import Api
from tests.support.ledger import kr

pytest.importorskip("beancount", reason="beancount (dev dependency) is not installed")
pytest.importorskip("beanquery", reason="beanquery (dev dependency) is not installed")

BIN = Path(sys.executable).parent
AS_OF = date(2022, 6, 30)
G = "Gnv-2022"


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "bean-check"), str(path)], capture_output=True, text=True, timeout=120
    )


def bean_balances(path: Path, where: str = "") -> dict[str, int]:
    """Account → balance in öre, computed by bean-query from the file alone."""
    query = f"SELECT account, sum(number) AS total {where} GROUP BY account ORDER BY account"
    done = subprocess.run(
        [str(BIN / "bean-query"), "-f", "csv", str(path), query],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = csv.DictReader(io.StringIO(done.stdout))
    return {r["account"]: int(Decimal(r["total"].strip()) * 100) for r in rows}


def expected_balances(answer: dict[str, object]) -> dict[str, int]:
    """The Beancount balances that GET /v1/balances implies (the mapping of the module doc)."""

    def ore(text: object) -> int:
        return int(Decimal(str(text)) * 100)

    areas = answer["areas"]
    totals = answer["totals"]
    assert isinstance(areas, list)
    assert isinstance(totals, dict)
    want: dict[str, int] = {}
    for a in areas:
        c = component(a["code"])
        want[f"Income:{G}:Award:{c}"] = -ore(a["awarded"])
        want[f"Assets:{G}:Unallocated:{c}"] = ore(a["unallocated"])
        want[f"Expenses:{G}:Unclassified:{c}"] = ore(a["unclassified_spent"])
        want[f"Expenses:{G}:Repaid:{c}"] = ore(a["repaid"])
        for x in a["activities"]:
            want[f"Assets:{G}:Budget:{component(x['code'])}"] = ore(x["remaining"])
            want[f"Expenses:{G}:Spent:{component(x['code'])}"] = ore(x["spent"])
    unplaced = ore(totals["unclassified_spent"]) - sum(ore(a["unclassified_spent"]) for a in areas)
    want[f"Expenses:{G}:Unplaced"] = unplaced
    want[f"Liabilities:{G}:Suspense"] = -unplaced
    want[f"Income:{G}:Cash:Received"] = -ore(totals["received"])
    repaid = ore(totals["repaid"])
    want[f"Expenses:{G}:Cash:Repaid"] = repaid
    want[f"Assets:{G}:Cash:Bank"] = ore(totals["received"]) - repaid
    return want


def nonzero(balances: dict[str, int]) -> dict[str, int]:
    """Non-zero balances, with unplaced spend (and its suspense) summed over cost objects: the
    ledger keeps it per shared cost object, /v1/balances answers its total."""
    out: dict[str, int] = {}
    for account, value in balances.items():
        for parent in (f"Expenses:{G}:Unplaced", f"Liabilities:{G}:Suspense"):
            if account.startswith(parent + ":"):
                account = parent
        out[account] = out.get(account, 0) + value
    return {k: v for k, v in out.items() if v}


@pytest.fixture
def year_api(api: Api) -> Api:
    service = LedgerService(api.engine)
    admin = Actor("demo", "admin")
    populate(service, plan.read(SEED_003), admin)
    service.execute(cmd.RepayUnspent(GRANT, "nara-vard", kr(1_000_000), date(2022, 12, 20)), admin)
    return api


def test_mapping_gives_valid_distinct_beancount_names() -> None:
    assert component("nara-vard") == "Nara-vard"
    assert component("9916") == "9916"
    assert component("e-hälsa") == "E-halsa"
    assert component("-x y") == "X-x-y"
    assert account_name("gnv-2022", "award:nara-vard") == "Income:Gnv-2022:Award:Nara-vard"
    assert (
        account_name("gnv-2022", "budget:lokalt-arbete") == "Assets:Gnv-2022:Budget:Lokalt-arbete"
    )
    assert account_name("gnv-2022", "unplaced:9942") == "Expenses:Gnv-2022:Unplaced:9942"
    assert account_name("gnv-2022", "suspense:9942") == "Liabilities:Gnv-2022:Suspense:9942"
    assert account_name("gnv-2022", "unclassified") == "Expenses:Gnv-2022:Unplaced"
    assert account_name("gnv-2022", "suspense") == "Liabilities:Gnv-2022:Suspense"
    assert account_name("gnv-2022", "mystery") == "Equity:Gnv-2022:Other:Mystery"
    # An activity may share its area's code: kinds keep the names apart.
    names = {account_name("g", f"{kind}:karriartjanster") for kind in ("award", "budget", "spent")}
    assert len(names) == 3


def test_export_passes_bean_check_and_its_balances_are_ours(
    year_api: Api, tmp_path: Path, cli_env: None
) -> None:
    out = tmp_path / "gnv-2022.beancount"
    result = CliRunner().invoke(
        cli, ["export", "beancount", "--output", str(out), "--database-url", year_api.url]
    )
    assert result.exit_code == 0, result.output
    assert "transactions" in result.output
    text = out.read_text(encoding="utf-8")
    assert f"open Income:{G}:Award:Nara-vard SEK" in text
    assert 'option "operating_currency" "SEK"' in text

    checked = bean_check(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    ours = expected_balances(year_api.balances(GRANT))
    theirs = bean_balances(out)
    assert nonzero(theirs) == nonzero(ours)
    assert sum(theirs.values()) == 0  # double entry: the whole ledger sums to zero
    assert theirs[f"Expenses:{G}:Repaid:Nara-vard"] == kr(1_000_000)

    dated = expected_balances(year_api.balances(GRANT, as_of=AS_OF.isoformat()))
    assert nonzero(bean_balances(out, f"WHERE date <= {AS_OF.isoformat()}")) == nonzero(dated)


def test_one_transaction_per_event_position(year_api: Api, tmp_path: Path) -> None:
    out = tmp_path / "x.beancount"
    with out.open("w", encoding="utf-8") as f:
        summary = export_beancount(year_api.engine, f)
    text = out.read_text(encoding="utf-8")
    positions = [
        int(line.split(":")[1]) for line in text.splitlines() if line.startswith("  position:")
    ]
    assert positions == sorted(set(positions))
    assert len(positions) == summary.transactions
    # Every event with postings, and nothing else (period closes move no money).
    assert summary.transactions == year_api.event_count() - 10
    assertions = [line for line in text.splitlines() if re.match(r"\d{4}-\d\d-\d\d balance ", line)]
    assert len(assertions) == summary.accounts


def test_bean_check_catches_a_tampered_export(year_api: Api, tmp_path: Path) -> None:
    out = tmp_path / "x.beancount"
    with out.open("w", encoding="utf-8") as f:
        export_beancount(year_api.engine, f)
    text = out.read_text(encoding="utf-8")
    # Move one krona between two accounts of one transaction: still balanced, but the balance
    # assertions (the ledger's own balances) no longer hold.
    target = f"  Assets:{G}:Unallocated:Nara-vard  30593953.00 SEK"
    assert target in text
    tampered = text.replace(target, f"  Assets:{G}:Unallocated:Nara-vard  30593952.00 SEK", 1)
    tampered = tampered.replace(
        f"  Income:{G}:Award:Nara-vard  -30593953.00 SEK",
        f"  Income:{G}:Award:Nara-vard  -30593952.00 SEK",
        1,
    )
    out.write_text(tampered, encoding="utf-8")
    checked = bean_check(out)
    assert checked.returncode != 0
    assert "Balance failed" in checked.stdout + checked.stderr


def test_empty_ledger_exports_a_valid_file(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "empty.beancount"
    with out.open("w", encoding="utf-8") as f:
        summary = export_beancount(api.engine, f)
    assert (summary.transactions, summary.accounts) == (0, 0)
    assert bean_check(out).returncode == 0
