"""What names, texts and amounts a request may carry, as the spec says and the server enforces.

The server checks with the very pattern the spec publishes; these properties check that pattern
against an oracle written from the rule itself (issue 12; issue 16 §5): no control character
but the tab, no bidi embedding, override or isolate, no noncharacter, not blank; amounts as
kronor strings of at most 13 digits, positive or non-negative where the field says so.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ledger.domain.money import MAX_ORE, format_money
from ledger.types import (
    AWARD_PATTERN,
    MONEY_PATTERN,
    POSITIVE_MONEY_PATTERN,
    TEXT_PATTERN,
    AwardMoney,
    Money,
    PositiveMoney,
    Text,
)
from ledger.types import _printable as printable

TEXT = TypeAdapter(Text)
BIDI_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def refused(ch: str) -> bool:
    """The rule, written from Unicode's own tables rather than from the pattern."""
    cp = ord(ch)
    control = unicodedata.category(ch) == "Cc" and ch != "\t"
    noncharacter = 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE
    return control or noncharacter or cp in BIDI_CONTROLS


def accepted(adapter: TypeAdapter[object], value: object) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))
def test_a_text_is_accepted_exactly_when_it_has_no_refused_character_and_is_not_blank(
    text: str,
) -> None:
    expected = not any(refused(ch) for ch in text) and bool(text.strip())
    assert accepted(TEXT, text) is expected
    assert (re.fullmatch(TEXT_PATTERN, text) is not None) is expected


def _by_the_pattern(value: str) -> str | None:
    """What a text validates to by the published pattern alone (None: refused)."""
    return value.strip() if re.fullmatch(TEXT_PATTERN, value) is not None else None


def _validated(value: str) -> str | None:
    try:
        return printable(value)
    except ValueError:
        return None


def test_the_fast_check_of_printable_texts_agrees_with_the_pattern_for_every_character() -> None:
    """``_printable`` skips the pattern for ``str.isprintable()`` texts: for every character of
    the BMP, the astral noncharacters and a spread of astral ones, alone, among letters and
    among spaces, it gives what the pattern gives."""
    astral = [*range(0x10000, 0x110000, 257)]
    astral += [plane << 16 | low for plane in range(1, 17) for low in (0xFFFE, 0xFFFF)]
    for cp in [*range(0xD800), *range(0xE000, 0x10000), *astral]:
        ch = chr(cp)
        for text in (ch, f"a{ch}b", f" {ch} ", f"{ch}{ch}"):
            assert _validated(text) == _by_the_pattern(text), (hex(cp), text)


@pytest.mark.parametrize(
    "ch", ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u2069", "\ufdd0", "\ufffe", "\U0010ffff"]
)
def test_the_refused_characters_the_issues_name_are_refused(ch: str) -> None:
    assert refused(ch)
    assert not accepted(TEXT, f"namn{ch}")


@given(st.integers(min_value=-MAX_ORE + 1, max_value=MAX_ORE - 1))
def test_every_amount_an_answer_shows_is_one_a_request_may_send(ore: int) -> None:
    text = format_money(ore)
    assert re.fullmatch(MONEY_PATTERN, text)
    assert TypeAdapter(Money).validate_python(text) == ore
    assert accepted(TypeAdapter(AwardMoney), text) is (ore >= 0)
    assert accepted(TypeAdapter(PositiveMoney), text) is (ore > 0)
    assert (re.fullmatch(AWARD_PATTERN, text) is not None) is (ore >= 0)
    assert (re.fullmatch(POSITIVE_MONEY_PATTERN, text) is not None) is (ore > 0)


@given(st.floats(allow_nan=True) | st.integers() | st.booleans() | st.none())
def test_rule_8_an_amount_that_is_not_a_string_is_refused(value: object) -> None:
    for adapter in (TypeAdapter(Money), TypeAdapter(AwardMoney), TypeAdapter(PositiveMoney)):
        assert not accepted(adapter, value)
