"""An uploaded file carried from its preview to its confirmation, in the page itself.

The import page previews a SIE file (a dry run) and imports it only when the poster confirms.
The confirmation must import *exactly the previewed bytes*, without asking for the file again
and without keeping it on the server (several workers share no memory; the database is no
place for a file nobody confirmed).  So the preview page carries the file in a hidden field:
its bytes compressed (zlib) and base64url-encoded, with the import's options and an expiry,
signed with HMAC-SHA256 under the session key and bound to the session's nonce.  A field that
was altered, is older than ``LIFETIME_SECONDS``, or comes from another session is refused.

Bounded: a file whose field would exceed ``MAX_FIELD_CHARS`` is refused at the preview with
what to do instead (the CLI or the API take files up to the request limit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import zlib
from dataclasses import dataclass

import orjson

from api.ui.session import Session, Sessions

LIFETIME_SECONDS = 30 * 60  # time enough to read a preview, short enough to be that day's file
MAX_FIELD_CHARS = 2 * 1024 * 1024  # what a page carries comfortably in a form field


class StagedTooLarge(Exception):
    def __init__(self, chars: int) -> None:
        super().__init__(chars)
        self.chars = chars


@dataclass(frozen=True, slots=True)
class Staged:
    """A previewed file: its name, its bytes, and the options it was read with."""

    filename: str
    raw: bytes
    options: dict[str, object]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def stage(sessions: Sessions, session: Session, staged: Staged, now: float | None = None) -> str:
    """The hidden field's value for a previewed file."""
    expires = int(now if now is not None else time.time()) + LIFETIME_SECONDS
    head = orjson.dumps({"f": staged.filename, "o": staged.options, "e": expires})
    body = f"{_b64(head)}.{_b64(zlib.compress(staged.raw, 6))}"
    if len(body) > MAX_FIELD_CHARS:
        raise StagedTooLarge(len(body))
    return f"{body}.{_sign(sessions, session, body)}"


def unstage(
    sessions: Sessions, session: Session, value: str, *, max_bytes: int, now: float | None = None
) -> Staged | None:
    """The file a hidden field carries, or None when it is altered, expired, not this session's
    or larger than ``max_bytes`` (the upload limit it was staged under)."""
    if value.count(".") != 2 or len(value) > MAX_FIELD_CHARS + 200:
        return None
    head, data, signature = value.split(".")
    if not hmac.compare_digest(signature, _sign(sessions, session, f"{head}.{data}")):
        return None
    try:
        meta = orjson.loads(_unb64(head))
        if int(meta["e"]) <= (now if now is not None else time.time()):
            return None
        # Bounded like the upload it came from: a signed field is ours, but inflate no more.
        inflater = zlib.decompressobj()
        raw = inflater.decompress(_unb64(data), max_bytes)
        if inflater.unconsumed_tail or not inflater.eof:
            return None
        return Staged(filename=str(meta["f"]), raw=raw, options=dict(meta["o"]))
    except (ValueError, KeyError, TypeError, zlib.error, orjson.JSONDecodeError):
        return None


def _sign(sessions: Sessions, session: Session, body: str) -> str:
    message = b"staged-import:" + session.nonce.encode() + b":" + body.encode()
    return hmac.new(sessions.key, message, hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
