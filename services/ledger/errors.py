"""The errors grantledger raises, as data.

Every refusal a user can meet is a ``LedgerError`` subclass carrying what a person needs to act
on it (which rule, where, available and requested).  The HTTP layer renders them once, by base
class, as RFC 9457 problem documents; the CLI prints them.  Nothing here knows about HTTP: the
base classes below are the *kinds* of failure, and ``code`` is the stable slug of one problem.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every error grantledger raises on purpose."""

    code: str = "ledger-error"
    title: str = "Ledger error"

    def __init__(self, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        # Extra, machine-readable members of the problem document (rule, area, available, ...).
        self.fields: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"{type(self).__name__}({self.detail!r}, {self.fields!r})"


# --- kinds ---------------------------------------------------------------------------------


class InvalidInput(LedgerError):
    """The request itself is malformed in a way the schema could not catch (400/422)."""

    code = "invalid-input"
    title = "Invalid input"


class RuleViolation(LedgerError):
    """A rule of docs/rules.md refuses the command (422)."""

    code = "rule-violation"
    title = "Rule violation"

    def __init__(self, detail: str, *, rule: str, **fields: Any) -> None:
        super().__init__(detail, rule=rule, **fields)
        self.rule = rule


class NotFound(LedgerError):
    """A grant, area, activity, transaction or period the command names does not exist (404)."""

    code = "not-found"
    title = "Not found"


class Conflict(LedgerError):
    """The command collides with what is already recorded (409)."""

    code = "conflict"
    title = "Conflict"


class Unavailable(LedgerError):
    """The database cannot be reached or the schema is not ready (503)."""

    code = "unavailable"
    title = "Service unavailable"


class ServerFault(LedgerError):
    """The server cannot answer from what it holds: its fault, never the request's (500).

    Logged where it is raised; the problem document says what is wrong without internals.
    """

    code = "server-fault"
    title = "Server fault"


# --- store ---------------------------------------------------------------------------------


class ConcurrencyError(Conflict):
    """The stream moved on since the caller read it (stale expected version)."""

    code = "stream-version-conflict"
    title = "Stream version conflict"

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not {expected}: reload and retry",
            stream_id=stream_id,
            expected_version=expected,
            actual_version=actual,
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DatabaseUnavailable(Unavailable):
    code = "database-unavailable"
    title = "Database unavailable"


class SchemaNotReady(Unavailable):
    code = "schema-not-ready"
    title = "Database schema is not at head"


class BadDatabaseUrl(InvalidInput):
    code = "bad-database-url"
    title = "Malformed database URL"


class IdempotencyKeyReused(RuleViolation):
    """The same Idempotency-Key came back with a different request body."""

    code = "idempotency-key-reused"
    title = "Idempotency key reused with another request"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request",
            rule="idempotency",
            key=key,
        )


class CorruptStoredEvent(ServerFault):
    """A stored event the code cannot read back: the ledger, not the request, is at fault."""

    code = "corrupt-stored-event"
    title = "A stored event cannot be read"

    def __init__(self, *, position: int, reason: str) -> None:
        # The reason is logged, not answered: it names the server's internals.
        super().__init__(
            f"the stored event at position {position} cannot be read: the server's log says "
            "why; run `grantledger verify` and tell the ledger's administrator",
            position=position,
        )
        self.reason = reason
