"""What both databases can store: checked before a command joins a group's append.

PostgreSQL text cannot hold a NUL character and its integers are 64-bit; SQLite's driver
refuses integers beyond 64 bits too.  A value past either would fail the whole group's flush
(every command in it), so the write path refuses it here, as the one command's own error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ledger.errors import InvalidInput
from ledger.store.chain import canonical_json

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


class Unstorable(InvalidInput):
    code = "unstorable-value"
    title = "A value the database cannot store"

    def __init__(self, *, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}", field=field, reason=reason)


def encode(data: Mapping[str, Any], where: str) -> bytes:
    """``data`` as the chain's canonical JSON, once it is known every database can store it.

    The write path needs the canonical JSON anyway (hash and row), so the check rides on it:
    orjson refuses integers past 53 bits in strict mode and escapes a NUL as ``\\u0000``;
    only then is ``data`` walked, to name the field (or to find it storable after all).
    """
    try:
        encoded = orjson.dumps(data, option=_STRICT)
    except orjson.JSONEncodeError:
        check(data, where)  # names the unstorable field; else the value is merely large
        return canonical_json(data)
    if b"\\u0000" in encoded:
        check(data, where)
    return encoded


_STRICT = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def check(data: Mapping[str, Any], where: str) -> None:
    """Raise ``Unstorable`` naming the first field of ``data`` no database can hold."""
    for name, value in data.items():
        field = f"{where}.{name}" if where else name
        if isinstance(name, str) and "\x00" in name:
            raise Unstorable(field=field, reason="has a key with a NUL character")
        _check_value(value, field)


def _check_value(value: Any, field: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise Unstorable(field=field, reason="contains a NUL character")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise Unstorable(field=field, reason="is an integer beyond 64 bits")
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(key, str) and "\x00" in key:
                raise Unstorable(field=field, reason="has a key with a NUL character")
            _check_value(inner, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            _check_value(inner, f"{field}[{i}]")
