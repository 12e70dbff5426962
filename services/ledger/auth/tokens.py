"""Create, check, list and revoke API tokens.

A token is 32 random bytes (256 bits), shown once; only its sha256 is stored.  Looking a token
up by its hash leaks nothing about other tokens' secrets through timing, and the final equality
check is constant-time anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

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


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenRegistry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, name: str, role: str) -> str:
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
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    tokens.insert().values(
                        name=name,
                        role=parsed_role.value,
                        token_hash=hash_token(secret),
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError as e:
            raise Conflict(f"a token named {name!r} exists already", name=name) from e
        return secret

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None for anything else."""
        digest = hash_token(token)
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                sa.select(tokens.c.name, tokens.c.role, tokens.c.token_hash).where(
                    tokens.c.token_hash == digest, tokens.c.revoked_at.is_(None)
                )
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return Principal(row.name, Role(row.role))

    def principal_of_hash(self, digest: str) -> Principal | None:
        """The principal of the unrevoked token with this sha256 (a web session holds only it)."""
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                sa.select(tokens.c.name, tokens.c.role).where(
                    tokens.c.token_hash == digest, tokens.c.revoked_at.is_(None)
                )
            ).first()
        return None if row is None else Principal(row.name, Role(row.role))

    def list(self) -> list[TokenInfo]:
        with read_transaction(self.engine) as conn:
            rows = conn.execute(sa.select(tokens).order_by(tokens.c.name)).all()
        return [TokenInfo(r.name, Role(r.role), r.created_at, r.revoked_at) for r in rows]

    def revoke(self, name: str) -> None:
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                tokens.update()
                .where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if done.rowcount == 0:
            raise NotFound(f"no active token named {name!r}", name=name)
