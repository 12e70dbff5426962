"""An event's data is encoded once on the write path (issue 14): the bytes the storable check
sees are the bytes hashed into the chain and stored, so each must equal what the chain rule
(``chain.canonical_json``, ``chain.event_hash``) says, for any data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.ids import time_ordered_ids
from ledger.store import storable
from ledger.store.chain import GENESIS_HASH, canonical_json, event_hash, hashed_body

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=storable.INT64_MIN, max_value=storable.INT64_MAX),
    _TEXT,
)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)
_DATA = st.dictionaries(_TEXT, _JSON, max_size=6)


@given(_DATA)
def test_storable_encoding_is_the_canonical_json(data: dict[str, Any]) -> None:
    """Rule: the hash chain's canonical JSON; storable data is encoded byte for byte as it."""
    if any("\x00" in k or "\x00" in v for k, v in _texts(data)):
        with pytest.raises(storable.Unstorable):
            storable.encode(data, "Event")
        return
    assert storable.encode(data, "Event") == canonical_json(data)


@given(_DATA, st.text(min_size=1, max_size=10), st.integers(1, 10**9))
def test_hashing_pre_encoded_data_gives_the_chain_s_hash(
    data: dict[str, Any], stream: str, position: int
) -> None:
    """Rule: hash = sha256(prev ‖ canonical_json(event)), whether data and meta are handed to
    it as values or as their canonical JSON already encoded (the write path's way)."""
    meta = {"actor": "erp", "role": "poster", "idempotency_key": stream}
    common: dict[str, Any] = {
        "position": position,
        "stream_id": stream,
        "stream_version": position,
        "event_type": "SpendRecorded",
        "schema_version": 2,
        "effective_date": date(2022, 5, 4),
        "recorded_at": "2026-12-01T02:00:00.000001Z",
    }
    as_values = hashed_body(data=data, meta=meta, **common)
    encoded = hashed_body(
        data=orjson.Fragment(canonical_json(data)),
        meta=orjson.Fragment(canonical_json(meta)),
        **common,
    )
    assert event_hash(GENESIS_HASH, encoded) == event_hash(GENESIS_HASH, as_values)


def test_unstorable_values_are_named_past_the_fast_check() -> None:
    """Rule: what no database stores is refused naming its field; a large integer that both
    store (past JSON's 53 exact bits, inside 64) is not refused."""
    with pytest.raises(storable.Unstorable) as nul:
        storable.encode({"text": "ok", "nested": {"deeper": ["a", "b\x00c"]}}, "SpendRecorded")
    assert nul.value.fields["field"] == "SpendRecorded.nested.deeper[1]"
    with pytest.raises(storable.Unstorable) as big:
        storable.encode({"amount": 2**64}, "SpendRecorded")
    assert big.value.fields["field"] == "SpendRecorded.amount"
    assert storable.encode({"amount": 2**60}, "E") == b'{"amount":1152921504606846976}'
    # A backslash-u in the text itself is not a NUL.
    assert storable.encode({"text": "\\u0000"}, "E") == canonical_json({"text": "\\u0000"})


def test_a_batch_s_ids_are_distinct_time_ordered_uuids() -> None:
    """Rule: transaction ids are UUIDv7 (time first), unique even within one millisecond."""
    before = datetime.now(UTC)
    ids = time_ordered_ids(2000)
    assert len(set(ids)) == 2000
    for text in ids[:50]:
        hexa = text.replace("-", "")
        assert hexa[12] == "7"
        assert hexa[16] in "89ab"
        ms = int(hexa[:12], 16)
        assert abs(ms / 1000 - before.timestamp()) < 5


def _texts(value: Any) -> list[tuple[str, str]]:
    """Every (key, text) pair in ``value``, for finding NULs the way ``storable`` must."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            found.append((k, v if isinstance(v, str) else ""))
            found.extend(_texts(v))
    elif isinstance(value, list):
        for v in value:
            found.append(("", v if isinstance(v, str) else ""))
            found.extend(_texts(v))
    return found
