"""Rule 8: kronor with öre, integers of öre inside, strict at the boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.errors import InvalidAmount
from ledger.domain.money import MAX_ORE, format_kronor, format_money, parse_money
from ledger.errors import InvalidInput


@pytest.mark.parametrize(
    ("value", "ore"),
    [
        ("24000000.00", 2_400_000_000),
        ("1234.5", 123_450),
        ("-12.30", -1_230),
        ("0", 0),
        ("-0", 0),
        ("0.05", 5),
        ("007.10", 710),
        (1234, 123_400),
        (-3, -300),
        (1234.5, 123_450),
        (0.1, 10),
        (19.99, 1_999),
        (Decimal("5052676.00"), 505_267_600),
        (Decimal("1.500"), 150),
        ("10000000000000", MAX_ORE),
        ("-10000000000000.00", -MAX_ORE),
        (10**13, MAX_ORE),
    ],
)
def test_rule8_parses_exact_amounts_to_ore(value: str | int | float | Decimal, ore: int) -> None:
    assert parse_money(value) == ore


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1.005", "must be digits"),
        (1.005, "more than two decimals"),
        (Decimal("0.001"), "more than two decimals"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (float("-inf"), "finite"),
        (Decimal("NaN"), "finite"),
        (True, "boolean"),
        ("1e3", "must be digits"),
        ("1E3", "must be digits"),
        (" 12.00", "must be digits"),
        ("12.00 ", "must be digits"),
        ("1 000.00", "must be digits"),
        ("1,50", "must be digits"),
        ("+5", "must be digits"),
        (".5", "must be digits"),
        ("5.", "must be digits"),
        ("", "must be digits"),
        ("--1", "must be digits"),
        ("١٢", "must be digits"),  # Arabic-Indic digits: str.isdigit() would let them in
        ("10000000000000.01", "exceeds"),
        (10**13 + 1, "exceeds"),
        (1e16, "exceeds"),
        (1e300, "exceeds"),
        ("9" * 41, "too many digits"),
        (Decimal("1." + "0" * 30 + "1"), "more than two decimals"),  # 28-digit rounding hides it
        (Decimal("1e100000"), "exceeds"),
        ([1], "must be a number"),
    ],
)
def test_rule8_refuses_what_is_not_exact_kronor_and_ore(value: object, reason: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_money(value, field="lines[3].amount")  # type: ignore[arg-type]
    assert reason in refused.value.fields["reason"]
    assert refused.value.fields["field"] == "lines[3].amount"
    assert isinstance(refused.value, InvalidInput)
    assert refused.value.code == "invalid-amount"


def test_rule8_a_huge_integer_is_refused_without_printing_it() -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_money(-(10**5000))  # str() of it would raise ValueError
    assert refused.value.fields["reason"] == "exceeds 10 000 000 000 000 kr"
    assert refused.value.fields["value"].startswith("<an integer of")


def test_rule8_error_quotes_the_value_as_sent() -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_money("1.005", field="awarded")
    assert refused.value.fields == {
        "field": "awarded",
        "value": "1.005",
        "reason": "must be digits with an optional '-' and at most two decimals",
    }


@pytest.mark.parametrize(
    ("ore", "text"), [(123_450, "1234.50"), (-5, "-0.05"), (0, "0.00"), (-123_400, "-1234.00")]
)
def test_format_money_always_has_two_decimals(ore: int, text: str) -> None:
    assert format_money(ore) == text


@pytest.mark.parametrize(
    ("ore", "text"),
    [(505_267_600, "5 052 676.00 kr"), (32_400, "324.00 kr"), (-5, "-0.05 kr"), (0, "0.00 kr")],
)
def test_format_kronor_groups_thousands_for_people(ore: int, text: str) -> None:
    assert format_kronor(ore) == text


@given(st.integers(min_value=-MAX_ORE, max_value=MAX_ORE))
def test_rule8_format_then_parse_is_the_identity(ore: int) -> None:
    assert parse_money(format_money(ore)) == ore


@given(st.decimals(min_value=-(10**13), max_value=10**13, places=2))
def test_rule8_two_decimal_values_parse_to_their_exact_ore(value: Decimal) -> None:
    assert parse_money(value) == int(value * 100)
    assert parse_money(str(value)) == int(value * 100)
