"""The project's docs stand alone and say what the code does (issue 12).

- docs/domain.md's account table is ``accounts.VOCABULARY``, and every account a ledger holds
  is one of its accounts (the docs named ``suspense`` and ``unclassified`` for 9942's spend
  while the code wrote ``suspense:{co}`` and ``unplaced:{co}``);
- every rule the code refuses with has its heading in docs/rules.md, where a problem's ``rule``
  points;
- nothing a clone reads points at a design file it does not have.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

from ledger.domain import accounts
from ledger.domain.commands import RecordReceipt, RepayUnspent, SpendLine
from ledger.domain.decide import decide
from ledger.domain.state import GrantState, fold
from tests.support.spend import record_spend

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def documented_accounts() -> list[tuple[str, str]]:
    rows = re.findall(r"^\| `([^`]+)` \| (.+) \|$", (DOCS / "domain.md").read_text(), re.M)
    return [(name, meaning) for name, meaning in rows]


def test_the_account_table_of_the_docs_is_the_codes_vocabulary() -> None:
    assert documented_accounts() == list(accounts.VOCABULARY)


def test_every_account_a_ledger_holds_is_in_the_vocabulary(
    gnv: GrantState, spend: Callable[..., SpendLine]
) -> None:
    """Seed 003 with spend on an activity, on an area, on 9942 (two areas), cash in and out."""
    lines = (spend(1000, "9916", "lokalt-arbete"), spend(200, "9916"), spend(300, "9942"))
    commands = (
        record_spend("gnv-2022", lines),
        RecordReceipt("gnv-2022", 10_000, date(2022, 6, 15), "SKR"),
        RepayUnspent("gnv-2022", "nara-vard", 100, date(2022, 12, 30), None),
    )
    state = gnv
    for command in commands:
        state = fold(state, decide(state, command))
    patterns = [
        re.compile(re.sub(r"\\\{[a-z_]+\\\}", "[^:]+", re.escape(name)) + "$")
        for name, _ in accounts.VOCABULARY
    ]
    held = set(state.balances)
    assert {"unplaced:9942", "suspense:9942", "unclassified:nara-vard", "cash:repaid"} <= held
    for account in held:
        assert any(p.match(account) for p in patterns), account


def test_every_rule_the_code_refuses_with_has_its_heading_in_rules_md() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    rules = set(re.findall(r'\brule="([a-z0-9-]+)"', source))
    assert "no-over-allocation" in rules
    text = (DOCS / "rules.md").read_text()
    headings = set(re.findall(r"^## ([a-z0-9-]+)$", text, re.M))
    assert rules <= headings, rules - headings
    assert set(re.findall(r"\]\(#([a-z0-9-]+)\)", text)) <= headings


def test_nothing_a_clone_reads_points_at_a_design_file_it_does_not_have() -> None:
    """The README, the docs and the API's description (where a problem's rule is explained)."""
    readable = [ROOT / "README.md", *DOCS.glob("*.md"), ROOT / "openapi" / "openapi.json"]
    for path in readable:
        text = path.read_text()
        assert "shared/DESIGN" not in text, path
        assert "DESIGN.md" not in text, path
        assert "DESIGN §" not in text, path
