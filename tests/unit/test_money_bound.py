"""One bound for money (issue 16 §3): no account of a grant ever holds more than ``MAX_ORE``.

A balance past 64 bits used to fail at the database (a 500) and jam every later spend on the
account.  ``decide`` now refuses the command that would cross the bound, naming the account,
what it can still take and what was requested; a spend line beyond the bound is a line error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import example, settings
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st

from ledger.domain import accounts, errors
from ledger.domain.commands import (
    AllocateActivity,
    AreaSpec,
    Decision,
    RecordReceipt,
    RecordSpend,
    RegisterGrant,
    SpendLine,
)
from ledger.domain.decide import decide
from ledger.domain.money import MAX_ORE
from ledger.domain.state import GrantState, fold
from ledger.errors import LedgerError
from tests.support.spend import record_spend
from tests.unit.conftest import GRANT


def _registered(registration: RegisterGrant) -> GrantState:
    state = fold(None, decide(None, registration))
    assert state is not None
    return state


def test_spend_that_would_pass_the_bound_is_refused_naming_the_account(
    registration: RegisterGrant, spend: Callable[..., SpendLine]
) -> None:
    state = _registered(registration)
    lines = tuple(spend(MAX_ORE, "9916", activity=None) for _ in range(2))
    with pytest.raises(errors.BalanceOutOfRange) as refused:
        decide(state, record_spend(GRANT, lines))
    e = refused.value
    assert e.fields["rule"] == "money-bound"
    assert e.account == accounts.unallocated("nara-vard")  # unclassified spend draws on it
    assert e.requested == MAX_ORE
    assert e.available < MAX_ORE
    assert "can take" in e.detail


def test_one_line_beyond_the_bound_is_a_line_error(
    registration: RegisterGrant, spend: Callable[..., SpendLine]
) -> None:
    state = _registered(registration)
    with pytest.raises(errors.UnplaceableSpend) as refused:
        decide(state, record_spend(GRANT, (spend(MAX_ORE * 100, "9916"),)))
    assert [x.code for x in refused.value.errors] == ["amount-out-of-range"]


def test_a_receipt_up_to_the_bound_is_recorded_and_one_more_ore_is_not(
    registration: RegisterGrant,
) -> None:
    state = _registered(registration)
    day = date(2022, 6, 1)
    state = fold(state, decide(state, RecordReceipt(GRANT, MAX_ORE, day, "U-1")))
    with pytest.raises(errors.BalanceOutOfRange) as refused:
        decide(state, RecordReceipt(GRANT, 1, day, "U-2"))
    assert (refused.value.available, refused.value.requested) == (0, 1)


near_bound = st.one_of(
    st.integers(min_value=-MAX_ORE, max_value=MAX_ORE),
    st.sampled_from([MAX_ORE, -MAX_ORE, MAX_ORE - 1, MAX_ORE // 2 + 1, 1, -1]),
)
step = st.one_of(
    st.tuples(st.just("spend"), st.lists(near_bound, min_size=1, max_size=4), st.booleans()),
    st.tuples(st.just("receipt"), near_bound),
)


def _grant_at_the_bound(award: int = MAX_ORE) -> GrantState:
    """One area awarded the whole bound (or ``award``), with one activity holding half of it."""
    decision = Decision("RS/1/2022", date(2022, 5, 4), "Regionstyrelsen")
    registration = RegisterGrant(
        grant_id=GRANT,
        name="Gränsen",
        funder="Staten",
        decision=decision,
        spend_from=date(2022, 1, 1),
        spend_to=date(2022, 12, 31),
        areas=(AreaSpec("nara-vard", "Nära vård", award, "9916", "HOSPA"),),
    )
    state = _registered(registration)
    allocation = AllocateActivity(GRANT, "x", "nara-vard", "X", award // 2, "HOSPA", decision)
    return fold(state, decide(state, allocation))


@settings(max_examples=150, deadline=None)
@hypothesis_given(steps=st.lists(step, min_size=1, max_size=12))
def test_no_sequence_of_accepted_commands_passes_the_bound(steps: list[tuple[object, ...]]) -> None:
    state = _grant_at_the_bound()
    n = 0
    for s in steps:
        if s[0] == "spend":
            amounts, classified = s[1], s[2]
            assert isinstance(amounts, list)
            lines = []
            for amount in amounts:
                n += 1
                lines.append(
                    SpendLine(
                        line_id=f"L-{n}",
                        voucher=None,
                        booked_on=date(2022, 3, 31),
                        amount=amount,
                        cost_object="9916",
                        activity="x" if classified else None,
                        account=None,
                        kind="expense",
                        text=None,
                    )
                )
            command: RecordSpend | RecordReceipt = record_spend(GRANT, tuple(lines))
        else:
            amount = s[1]
            assert isinstance(amount, int)
            command = RecordReceipt(GRANT, amount, date(2022, 6, 1), f"U-{n}")
        try:
            new = decide(state, command)
        except LedgerError:
            continue
        state = fold(state, new)
        assert all(abs(b) <= MAX_ORE for b in state.balances.values()), state.balances
        # The quick check's premise: a state's peak is at least its largest balance.
        assert state.peak >= max(abs(b) for b in state.balances.values())


@example(amounts=[MAX_ORE, 1], receipt=1, award=10**11)  # crosses by one öre
@example(amounts=[MAX_ORE - 10**11, 1], receipt=1, award=10**11)  # stays within, just
@settings(max_examples=200, deadline=None)
@hypothesis_given(
    amounts=st.lists(st.one_of(near_bound, st.integers(-(10**9), 10**9)), min_size=1, max_size=6),
    receipt=near_bound,
    award=st.sampled_from([MAX_ORE, 10**11]),
)
def test_the_quick_bound_check_refuses_exactly_what_the_walk_refuses(
    amounts: list[int], receipt: int, award: int
) -> None:
    """Rule money-bound: a batch is refused exactly when some account would pass ``MAX_ORE``
    after some transfer in order; the quick check (largest balance + all moved ≤ bound) may
    only skip the walk when nothing can cross."""
    state = _grant_at_the_bound()
    state = fold(
        state, decide(state, RecordReceipt(GRANT, abs(receipt) // 2 or 1, date(2022, 6, 1), "U"))
    )
    lines = tuple(
        SpendLine(
            line_id=f"L-{i}", voucher=None,
            booked_on=date(2022, 3, 31), amount=amount, cost_object="9916", activity="x",
            account=None, kind="expense", text=None,
        )
        for i, amount in enumerate(amounts)
    )  # fmt: skip
    # The walk, written out: every balance after every transfer, in order.
    balances = dict(state.balances)
    crosses = False
    for amount in amounts:
        if amount == 0 or abs(amount) > MAX_ORE:
            return  # a line error, not the bound: covered above
        source, target = accounts.budget("x"), accounts.spent("x")
        balances[source] = balances.get(source, 0) - amount
        balances[target] = balances.get(target, 0) + amount
        crosses = crosses or abs(balances[source]) > MAX_ORE or abs(balances[target]) > MAX_ORE
    if crosses:
        with pytest.raises(errors.BalanceOutOfRange):
            decide(state, record_spend(GRANT, lines))
    else:
        decide(state, record_spend(GRANT, lines))
