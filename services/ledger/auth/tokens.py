"""Create, check, list and revoke API tokens.

A token is 32 random bytes (256 bits), shown once; only its sha256 is stored.  Looking a token
up by its hash leaks nothing about other tokens' secrets through timing, and the final equality
check is constant-time anyway.  A token may carry an expiry instant, from which on it is
refused exactly; lookups are cached per process (``ledger.auth.cache``), so a revocation takes
effect within ``cache_seconds``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ledger.auth.cache import LookupCache
from ledger.auth.tables import tokens
from ledger.db import read_transaction, write_transaction
from ledger.errors import Conflict, InvalidInput, NotFound

TOKEN_PREFIX = "gl_"  # noqa: S105 - a marker that makes leaked tokens greppable, not a secret


class Role(StrEnum):
    """reader ⊂ poster, planner, auditor ⊂ admin (DESIGN §3)."""

    READER = "reader"
    POSTER = "poster"
    PLANNER = "planner"
    AUDITOR = "auditor"
    ADMIN = "admin"

    def may(self, needed: Role) -> bool:
        if self is Role.ADMIN or self is needed:
            return True
        return needed is Role.READER


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class _Found:
    """What a lookup caches: who the token is, and until when."""

    principal: Principal
    expires_at: datetime | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
LONGEST = timedelta(days=3660)  # ten years: longer is "never", which is no expiry at all


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``90d`` or ``8w``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a duration: a number and m, h, d or w, e.g. 90d", field="expires_in"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _utc(value: datetime) -> datetime:
    # SQLite hands back the naive UTC text it was given.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _current(found: _Found | None) -> Principal | None:
    """The principal of a looked-up token that has not expired by now."""
    if found is None or (found.expires_at is not None and datetime.now(UTC) >= found.expires_at):
        return None
    return found.principal


class TokenRegistry:
    def __init__(self, engine: Engine, *, cache_seconds: float = 0.0) -> None:
        self.engine = engine
        self._cache: LookupCache[_Found] = LookupCache(cache_seconds)

    def create(self, name: str, role: str, *, expires_at: datetime | None = None) -> str:
        """Make a token; the returned secret is the only copy there will ever be."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a token needs a name of 1 to 100 characters", field="name")
        try:
            parsed_role = Role(role)
        except ValueError as e:
            raise InvalidInput(
                f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}",
                field="role",
            ) from e
        now = datetime.now(UTC)
        expires_at = _maybe_utc(expires_at)
        if expires_at is not None and not now < expires_at <= now + LONGEST:
            raise InvalidInput(
                f"a token's expiry must lie in the future, at most {LONGEST.days} days ahead",
                field="expires_at",
                expires_at=expires_at.isoformat(),
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    tokens.insert().values(
                        name=name,
                        role=parsed_role.value,
                        token_hash=hash_token(secret),
                        created_at=now,
                        expires_at=expires_at,
                    )
                )
        except IntegrityError as e:
            raise Conflict(f"a token named {name!r} exists already", name=name) from e
        return secret

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked, unexpired token; None for anything else."""
        digest = hash_token(token)
        return _current(self._cache.get(digest) or self._lookup(digest))

    def authenticate_cached(self, token: str) -> tuple[bool, Principal | None]:
        """``(True, what authenticate answers)`` when the cache alone decides, without I/O: the
        token was found within ``cache_seconds`` (its principal, or None once it has expired);
        ``(False, None)`` when only ``authenticate`` (a database lookup) can tell."""
        found = self._cache.get(hash_token(token))
        if found is None:
            return False, None
        return True, _current(found)

    def _lookup(self, digest: str) -> _Found | None:
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                sa.select(
                    tokens.c.name, tokens.c.role, tokens.c.token_hash, tokens.c.expires_at
                ).where(tokens.c.token_hash == digest, tokens.c.revoked_at.is_(None))
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        found = _Found(Principal(row.name, Role(row.role)), _maybe_utc(row.expires_at))
        self._cache.put(digest, found)
        return found

    def principal_of_hash(self, digest: str) -> Principal | None:
        """The principal of the valid token with this sha256 (a web session holds only it).

        Read afresh every time, never from the cache: a revoked token's web sessions end on
        their next request, and an expired token's at its expiry instant.
        """
        return _current(self._lookup(digest))

    def list(self) -> list[TokenInfo]:
        with read_transaction(self.engine) as conn:
            rows = conn.execute(sa.select(tokens).order_by(tokens.c.name)).all()
        return [
            TokenInfo(
                name=r.name,
                role=Role(r.role),
                created_at=_utc(r.created_at),
                revoked_at=_maybe_utc(r.revoked_at),
                expires_at=_maybe_utc(r.expires_at),
            )
            for r in rows
        ]

    def revoke(self, name: str) -> None:
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                tokens.update()
                .where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if done.rowcount == 0:
            raise NotFound(f"no active token named {name!r}", name=name)
