"""Browser sessions for the web app: a signed, expiring cookie that names a token, and CSRF.

The cookie holds the sha256 of the bearer token the user signed in with (never the token
itself), when the session ends, and a random nonce, signed with HMAC-SHA256 under a server key.
Every request looks the token up again by its hash among the *unrevoked* tokens, past the API's
token cache, so revoking a token ends its sessions at once, and its expiry ends them on the
instant.  The CSRF token of a session is an HMAC of its nonce under the
same key (a second message, so it can never be mistaken for the cookie's signature): every form
that writes carries it, and the server compares it in constant time.  SameSite=Strict keeps the
cookie off cross-site requests in the first place; this is the second lock.

The key comes from ``GRANTLEDGER_UI_SESSION_KEY``; without it each process makes a random one,
which is right for one process (sessions end when it restarts) and wrong for several workers:
set the key when running more than one.  Signing out ends the session in the browser (the cookie
is deleted) and in the process that served the logout (its nonce is refused until it expires).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

import orjson
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

COOKIE = "gl_session"


class SessionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANTLEDGER_UI_", extra="ignore")

    session_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32), min_length=16)
    session_minutes: int = Field(default=8 * 60, ge=1, le=7 * 24 * 60)


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    expires: int  # unix seconds
    nonce: str


@dataclass(frozen=True, slots=True)
class Sessions:
    key: bytes
    lifetime_seconds: int
    # Sessions signed out before they expired (nonce → expiry), so a copied cookie dies with
    # the logout too.  Kept in the process, like the default key: see the module doc.
    ended: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Sessions:
        s = SessionSettings()
        return cls(s.session_key.encode(), s.session_minutes * 60)

    def issue(self, token_hash: str, now: float | None = None) -> tuple[Session, str]:
        """A new session for a token, and its cookie value."""
        session = Session(
            token_hash=token_hash,
            expires=int(now if now is not None else time.time()) + self.lifetime_seconds,
            nonce=secrets.token_urlsafe(16),
        )
        body = (
            base64.urlsafe_b64encode(
                orjson.dumps({"h": session.token_hash, "e": session.expires, "n": session.nonce})
            )
            .decode()
            .rstrip("=")
        )  # no padding: a cookie value needs no quoting then
        return session, f"{body}.{self._sign(b'session:' + body.encode())}"

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie names, or None when it is forged, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(b"session:" + body.encode())):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(
                token_hash=str(data["h"]), expires=int(data["e"]), nonce=str(data["n"])
            )
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        if session.expires <= (now if now is not None else time.time()):
            return None
        if session.nonce in self.ended:
            return None
        return session

    def end(self, session: Session, now: float | None = None) -> None:
        """Sign out: the session's cookie is refused from now on, wherever it was copied."""
        moment = now if now is not None else time.time()
        for nonce, expires in list(self.ended.items()):
            if expires <= moment:  # expired anyway: no need to remember it
                self.ended.pop(nonce, None)
        self.ended[session.nonce] = session.expires

    def csrf(self, session: Session) -> str:
        return self._sign(b"csrf:" + session.nonce.encode())

    def csrf_ok(self, session: Session, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent, self.csrf(session))

    def _sign(self, message: bytes) -> str:
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()
