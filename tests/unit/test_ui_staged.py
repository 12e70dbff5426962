"""The import page's staged file (api.ui.staged): what rides from the preview to the confirm.

Rules protected: the confirmation gets back exactly the previewed bytes and options; a field
older than its lifetime, signed for another session, or inflating past the upload limit gives
nothing back; a file too large to carry is refused at the preview.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.ui.session import Sessions
from api.ui.staged import LIFETIME_SECONDS, Staged, StagedTooLarge, stage, unstage

SESSIONS = Sessions(b"k" * 32, 3600)
OPTIONS = {"cost_object_dim": 6, "activity_dim": None, "spend_accounts": "4000-7999"}


@given(raw=st.binary(max_size=5000), name=st.text(min_size=1, max_size=50))
def test_the_confirmation_gets_exactly_the_previewed_file(raw: bytes, name: str) -> None:
    session, _ = SESSIONS.issue("a" * 64, now=1000)
    field = stage(SESSIONS, session, Staged(name, raw, OPTIONS), now=1000)
    back = unstage(SESSIONS, session, field, max_bytes=10_000, now=1001)
    assert back == Staged(name, raw, OPTIONS)


def test_a_field_is_good_for_its_lifetime_and_its_session_only() -> None:
    one, _ = SESSIONS.issue("a" * 64, now=1000)
    two, _ = SESSIONS.issue("a" * 64, now=1000)
    field = stage(SESSIONS, one, Staged("f.se", b"#VER", OPTIONS), now=1000)
    last = 1000 + LIFETIME_SECONDS
    assert unstage(SESSIONS, one, field, max_bytes=100, now=last - 1) is not None
    assert unstage(SESSIONS, one, field, max_bytes=100, now=last) is None
    assert unstage(SESSIONS, two, field, max_bytes=100, now=1001) is None
    assert unstage(Sessions(b"x" * 32, 3600), one, field, max_bytes=100, now=1001) is None


def test_a_field_never_inflates_past_the_upload_limit() -> None:
    session, _ = SESSIONS.issue("a" * 64, now=1000)
    field = stage(SESSIONS, session, Staged("f.se", b"0" * 10_000, OPTIONS), now=1000)
    assert unstage(SESSIONS, session, field, max_bytes=9_999, now=1001) is None
    assert unstage(SESSIONS, session, field, max_bytes=10_000, now=1001) is not None


def test_a_file_too_large_to_carry_is_refused() -> None:
    session, _ = SESSIONS.issue("a" * 64, now=1000)
    with pytest.raises(StagedTooLarge):
        stage(SESSIONS, session, Staged("f.se", os.urandom(2 * 1024 * 1024), OPTIONS))
