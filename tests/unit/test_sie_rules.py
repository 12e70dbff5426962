"""Rules of the SIE path as properties (issues 11 and 16), without a database.

- A row keeps its number in every later export of its voucher: striking rows and adding rows
  never renumbers the rows that stay (the natural key of an imported line must not move).
- No bytes make the reader or the planner fail with anything but a refusal the API renders
  (an ``InvalidInput`` naming the line): never an unexpected exception, never a 500.
- A line is spend only on a cost account, whatever the object.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.money import MAX_ORE
from ledger.errors import InvalidInput
from ledger.formats import plan
from ledger.formats.sie import read_sie
from ledger.formats.sie.accounts import DEFAULT, SpendAccounts
from ledger.formats.sie.importer import prepare
from ledger.formats.sie.lines import NOT_A_COST_ACCOUNT, Options

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPTIONS = Options(6, None, SpendAccounts.parse(DEFAULT))
HEAD = "#FLAGGA 0\n#FORMAT PC8\n#SIETYP 4\n#RAR 0 20220101 20221231\n"


def export(rows: list[str]) -> bytes:
    body = '#VER A 1 20220310 "v"\n{\n' + "".join(f"   {r}\n" for r in rows) + "}\n"
    return (HEAD + body).encode("cp437")


def row(account: int, amount: int, cost_object: str = "9916") -> str:
    return f'#TRANS {account} {{6 "{cost_object}"}} {amount}.00'


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 10_000), min_size=1, max_size=8),
    struck=st.sets(st.integers(0, 7)),
    added=st.lists(st.integers(1, 10_000), max_size=4),
)
def test_corrections_never_renumber_the_rows_that_stay(
    amounts: list[int], struck: set[int], added: list[int]
) -> None:
    """Rule: (year, series, number, row) names one row for good (issue 11, corrections)."""
    original = [row(5410, a) for a in amounts] + [f"#TRANS 2440 {{}} -{sum(amounts)}.00"]
    first = {t.line_no: t.amount_ore for t in read_sie(export(original)).vouchers[0].transactions}

    corrected: list[str] = []
    for i, a in enumerate(amounts):
        corrected.append(f'#BTRANS 5410 {{6 "9916"}} {a}.00' if i in struck else row(5410, a))
    kept_total = sum(a for i, a in enumerate(amounts) if i not in struck) + sum(added)
    corrected.append(f"#TRANS 2440 {{}} -{sum(amounts)}.00")
    for a in added:
        corrected += [f'#RTRANS 5410 {{6 "9916"}} {a}.00 20220415', row(5410, a)]
    # The ERP balances the correction with a row of its own, added too.
    balance = f"1930 {{}} {sum(amounts) - kept_total}.00"
    corrected += [f"#RTRANS {balance}", f"#TRANS {balance}"]
    (v,) = read_sie(export(corrected)).vouchers

    for t in v.transactions:
        if t.change == "kept":
            assert first[t.line_no] == t.amount_ore  # the same row under the same number
        else:
            assert t.line_no > len(amounts) + 1  # added rows take new numbers
    for t in v.struck:
        assert first[t.line_no] == t.amount_ore  # the struck row is the one recorded there


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(lambda t: (HEAD + t).encode()))
def test_no_bytes_fail_but_as_a_refusal_naming_the_file(raw: bytes) -> None:
    """Rule: bad input is a 422, never a 500 (issue 16)."""
    with contextlib.suppress(InvalidInput):
        prepare(raw, OPTIONS, max_lines=50)


@given(account=st.integers(0, 99_999), low=st.integers(0, 9_999), width=st.integers(0, 9_999))
def test_only_cost_accounts_are_spend(account: int, low: int, width: int) -> None:
    """Rule: a row is spend only when its account is in the spend ranges (issue 11 §1)."""
    accounts = SpendAccounts.parse(f"{low}-{low + width}")
    options = Options(6, None, accounts)
    raw = export([row(account, 10), "#TRANS 2440 {} -10.00"])
    plan = prepare(raw, options).plan
    spend = {line.account for line in plan.lines}
    assert (str(account) in spend) == (low <= account <= low + width)
    if str(account) not in spend:
        assert plan.skipped[0].reason_code == NOT_A_COST_ACCOUNT


def test_plan_files_share_the_one_bound_for_money(tmp_path: Path) -> None:
    """Rule: one bound for money everywhere, API, SIE and plan files (issue 16 §3)."""
    seed = (EXAMPLES / "god-och-nara-vard-2022.yaml").read_text(encoding="utf-8")
    at_bound = tmp_path / "at-bound.yaml"
    at_bound.write_text(seed.replace('"30593953.00"', '"10000000000000.00"'), encoding="utf-8")
    assert plan.read(at_bound).areas[0].awarded == MAX_ORE
    beyond = tmp_path / "beyond.yaml"
    beyond.write_text(seed.replace('"30593953.00"', '"10000000000000.01"'), encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        plan.read(beyond)
    assert "areas.0.awarded" in info.value.detail
    assert "at most 10 000 000 000 000" in info.value.detail
    assert "Value error" not in info.value.detail  # the reason is ours, not pydantic's
