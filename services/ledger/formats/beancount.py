"""The double-entry postings as a Beancount ledger (Beancount 3: ``bean-check``, ``bean-query``).

One transaction per event position, dated with the event's business date, whose postings are
the event's transfers (``accounts.transfers``): the source account ``-amount`` and the target
``+amount``, in SEK with two decimals.  So every Beancount balance equals the ledger's own balance
of that account, with the same sign, and the whole file sums to zero.  Every account is opened on
the date of its first posting, and (by default) a ``balance`` assertion after the last posting
states the ledger's live balance of every account: ``bean-check`` then proves, with code that
is not ours, that the postings add up to the balances the API answers.

Account names (per grant ``G``; codes become components by ``component``: ``nara-vard`` →
``Nara-vard``, ``gnv-2022`` → ``Gnv-2022``)::

    ledger account          Beancount account                balance reads as
    award:{area}            Income:G:Award:{Area}            −awarded
    unallocated:{area}      Assets:G:Unallocated:{Area}      ofördelat
    budget:{activity}       Assets:G:Budget:{Activity}       remaining (negative: overspent)
    spent:{activity}        Expenses:G:Spent:{Activity}      spent
    unclassified:{area}     Expenses:G:Unclassified:{Area}   the area's unclassified spend
    unplaced:{cost object}  Expenses:G:Unplaced:{CostObject} spend on no area yet (9942)
    suspense:{cost object}  Liabilities:G:Suspense:{CO}      −unplaced spend (its counter-entry)
    repaid:{area}           Expenses:G:Repaid:{Area}         repaid to the funder
    cash:funder             Income:G:Cash:Received           −received
    cash:bank               Assets:G:Cash:Bank               grant cash held
    cash:repaid             Expenses:G:Cash:Repaid           cash returned
    anything else           Equity:G:Other:{Account}

Kinds sit at a fixed depth above codes, so no code can make two accounts collide; the export
refuses (rather than merges) if a name ever maps twice anyway.  Income and Liabilities carry
credit (negative) balances as Beancount expects, Assets and Expenses debit (positive) ones, so
``bean-query`` and Fava show awarded, budget and spend the way a controller reads them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.db import translate_errors
from ledger.domain import accounts
from ledger.domain.money import format_money
from ledger.errors import LedgerError
from ledger.projections.tables import LIVE, ProjectionTables
from ledger.store.schema import events

CURRENCY = "SEK"
_SUSPENSE = "suspense"
_UNPLACED = "unplaced"
_UNCLASSIFIED_GRANT = "unclassified"  # grant-level unplaced spend, as older ledgers name it
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


class AccountCollision(LedgerError):
    code = "beancount-account-collision"
    title = "Two ledger accounts map to one Beancount account"


@dataclass(frozen=True, slots=True)
class ExportSummary:
    transactions: int
    postings: int
    accounts: int
    grants: int


def component(code: str) -> str:
    """A valid Beancount account component: ASCII letters, digits and '-', starting with a
    capital letter or a digit.  Injective on grantledger codes (``[a-z0-9][a-z0-9-]*``)."""
    ascii_only = (
        unicodedata.normalize("NFKD", code).encode("ascii", "ignore").decode("ascii").strip()
    )
    cleaned = "".join(ch if ch in _ALLOWED else "-" for ch in ascii_only)
    if not cleaned:
        return "X"
    first = cleaned[0]
    if first.islower():
        return first.upper() + cleaned[1:]
    if first == "-":
        return "X" + cleaned
    return cleaned


def account_name(grant_id: str, account: str) -> str:
    """The Beancount account of a ledger account of ``grant_id`` (see the module doc)."""
    g = component(grant_id)
    kind, _, code = account.partition(":")
    c = component(code) if code else ""
    if kind in (_SUSPENSE, _UNPLACED) or account == _UNCLASSIFIED_GRANT:
        # Spend on a shared cost object (9942) not yet on an area, per cost object when the
        # ledger keeps it so (``unplaced:9942``), and its counter-entry.
        leaf = "Suspense" if kind == _SUSPENSE else "Unplaced"
        root = "Liabilities" if kind == _SUSPENSE else "Expenses"
        return f"{root}:{g}:{leaf}:{c}" if code else f"{root}:{g}:{leaf}"
    if account == accounts.CASH_FUNDER:
        return f"Income:{g}:Cash:Received"
    if account == accounts.CASH_BANK:
        return f"Assets:{g}:Cash:Bank"
    if account == accounts.CASH_REPAID:
        return f"Expenses:{g}:Cash:Repaid"
    if code:
        match kind:
            case "award":
                return f"Income:{g}:Award:{c}"
            case "unallocated":
                return f"Assets:{g}:Unallocated:{c}"
            case "budget":
                return f"Assets:{g}:Budget:{c}"
            case "spent":
                return f"Expenses:{g}:Spent:{c}"
            case "unclassified":
                return f"Expenses:{g}:Unclassified:{c}"
            case "repaid":
                return f"Expenses:{g}:Repaid:{c}"
    return f"Equity:{g}:Other:{component(account)}"


def _string(text: str) -> str:
    """A Beancount string literal: one line, quotes and backslashes escaped."""
    flat = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _amount(ore: int) -> str:
    return f"{format_money(ore)} {CURRENCY}"


# --- reading ---------------------------------------------------------------------------------


def _snapshot(conn: Connection) -> Connection:
    """One consistent snapshot for the whole export (PostgreSQL reads committed by default)."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def posting_count(engine: Engine, tables: ProjectionTables = LIVE) -> int:
    """How many transfer rows an export writes (for a progress bar)."""
    with translate_errors(), engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(tables.every_posting())
            ).scalar_one()
        )


@dataclass(frozen=True, slots=True)
class _Account:
    grant_id: str
    ledger: str
    name: str
    opened: date


def _accounts(conn: Connection, t: ProjectionTables) -> list[_Account]:
    p = t.every_posting()
    legs = sa.union_all(
        sa.select(p.c.grant_id, p.c.source.label("account"), p.c.effective_date),
        sa.select(p.c.grant_id, p.c.target.label("account"), p.c.effective_date),
    ).subquery()
    rows = conn.execute(
        sa.select(legs.c.grant_id, legs.c.account, sa.func.min(legs.c.effective_date)).group_by(
            legs.c.grant_id, legs.c.account
        )
    )
    found: dict[str, _Account] = {}
    for grant_id, ledger, opened in rows:
        name = account_name(grant_id, ledger)
        other = found.get(name)
        if other is not None:
            raise AccountCollision(
                f"{other.grant_id}/{other.ledger} and {grant_id}/{ledger} both map to {name}",
                account=name,
            )
        found[name] = _Account(grant_id, ledger, name, _as_date(opened))
    return sorted(found.values(), key=lambda a: a.name)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))  # SQLite's MIN() over a date column answers text


def _rows(conn: Connection, t: ProjectionTables) -> Iterator[Any]:
    p = t.every_posting()
    q = (
        sa.select(
            p.c.position,
            p.c.grant_id,
            p.c.source,
            p.c.target,
            p.c.amount,
            p.c.effective_date,
            events.c.event_type,
            events.c.stream_version,
            events.c.recorded_at,
            events.c.data,
            events.c.meta,
        )
        .join(events, events.c.position == p.c.position)
        .order_by(p.c.position, p.c.seq)
    )
    yield from conn.execution_options(stream_results=True, yield_per=2000).execute(q)


def _live_balances(conn: Connection, t: ProjectionTables) -> dict[tuple[str, str], int]:
    b = t.account_balances
    return {
        (g, a): int(v)
        for g, a, v in conn.execute(sa.select(b.c.grant_id, b.c.account, b.c.balance))
    }


# --- writing ---------------------------------------------------------------------------------


def _narration(event_type: str, data: dict[str, Any]) -> str:
    parts = [event_type]
    for key in ("code", "area", "voucher", "line_id", "text", "reference", "reason", "period"):
        value = data.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
    return " ".join(parts)[:300]


def _metadata(row: Any) -> list[str]:
    meta: dict[str, Any] = row.meta or {}
    lines = [
        f"  position: {row.position}",
        f"  stream-version: {row.stream_version}",
        f"  recorded: {_string(_as_utc(row.recorded_at))}",
    ]
    actor = meta.get("actor")
    if isinstance(actor, str):
        lines.append(f"  actor: {_string(actor)}")
    decision = meta.get("decision") or (row.data or {}).get("decision")
    if isinstance(decision, dict) and isinstance(decision.get("ref"), str):
        lines.append(f"  decision: {_string(decision['ref'])}")
    transaction_id = (row.data or {}).get("transaction_id")
    if isinstance(transaction_id, str):
        lines.append(f"  transaction-id: {_string(transaction_id)}")
    return lines


def _as_utc(value: Any) -> str:
    if isinstance(value, datetime):
        aware: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    return str(value)


def export_beancount(
    engine: Engine,
    out: TextIO,
    *,
    tables: ProjectionTables = LIVE,
    assert_balances: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write every posting of every grant to ``out`` as a Beancount ledger, from one snapshot."""
    with translate_errors(), engine.connect() as conn:
        _snapshot(conn)
        with conn.begin():
            summary = _write(conn, out, tables, assert_balances, progress)
    if progress is not None:
        progress(summary.postings)
    return summary


def _write(
    conn: Connection,
    out: TextIO,
    tables: ProjectionTables,
    assert_balances: bool,
    progress: Callable[[int], None] | None,
) -> ExportSummary:
    opened = _accounts(conn, tables)
    names = {(a.grant_id, a.ledger): a.name for a in opened}
    grant_names = dict(
        conn.execute(sa.select(tables.grants.c.grant_id, tables.grants.c.name)).all()
    )
    out.write(_HEADER)
    out.write(f'option "title" {_string("grantledger: " + ", ".join(sorted(grant_names)))}\n')
    out.write(f'option "operating_currency" "{CURRENCY}"\n\n')
    first = min((a.opened for a in opened), default=date(1970, 1, 1))
    out.write(f"{first.isoformat()} commodity {CURRENCY}\n\n")
    for a in opened:
        out.write(f"{a.opened.isoformat()} open {a.name} {CURRENCY}\n")
        out.write(f"  ledger-account: {_string(a.ledger)}\n")
        out.write(f"  grant: {_string(a.grant_id)}\n")
    out.write("\n")

    transactions = postings = 0
    last_date = first
    current: int | None = None
    for row in _rows(conn, tables):
        if row.position != current:
            current = row.position
            transactions += 1
            on = _as_date(row.effective_date)
            last_date = max(last_date, on)
            data = row.data or {}
            out.write(
                f"\n{on.isoformat()} * {_string(row.grant_id)} "
                f"{_string(_narration(row.event_type, data))}\n"
            )
            out.write("\n".join(_metadata(row)) + "\n")
        amount = int(row.amount)
        out.write(f"  {names[(row.grant_id, row.source)]}  {_amount(-amount)}\n")
        out.write(f"  {names[(row.grant_id, row.target)]}  {_amount(amount)}\n")
        postings += 1
        if progress is not None and postings % 1000 == 0:
            progress(postings)

    if assert_balances and opened:
        live = _live_balances(conn, tables)
        check_on = last_date + timedelta(days=1)
        out.write(
            "\n; The ledger's live balance of every account (account_balances), asserted\n"
            "; after the last posting: bean-check proves the postings add up to them.\n"
        )
        for a in opened:
            balance = live.get((a.grant_id, a.ledger), 0)
            out.write(f"{check_on.isoformat()} balance {a.name}  {_amount(balance)}\n")
    return ExportSummary(
        transactions=transactions,
        postings=postings,
        accounts=len(opened),
        grants=len(grant_names),
    )


_HEADER = """\
; grantledger: the double-entry postings of every grant, one transaction per event position.
; Each transfer moves an amount from a source account (-) to a target account (+); the
; Beancount balance of an account equals the ledger's balance of it, with the same sign.
;   award:{area}        -> Income:{Grant}:Award:{Area}          (-awarded)
;   unallocated:{area}  -> Assets:{Grant}:Unallocated:{Area}    (ofördelat)
;   budget:{activity}   -> Assets:{Grant}:Budget:{Activity}     (remaining)
;   spent:{activity}    -> Expenses:{Grant}:Spent:{Activity}
;   unclassified:{area} -> Expenses:{Grant}:Unclassified:{Area}
;   unplaced:{object}   -> Expenses:{Grant}:Unplaced:{Object}   (spend on no area yet)
;   suspense:{object}   -> Liabilities:{Grant}:Suspense:{Object}
;   repaid:{area}       -> Expenses:{Grant}:Repaid:{Area}
;   cash:funder / cash:bank / cash:repaid -> Income:{Grant}:Cash:Received /
;                          Assets:{Grant}:Cash:Bank / Expenses:{Grant}:Cash:Repaid
; Check it with: bean-check FILE; query it with: bean-query FILE "SELECT account, sum(number)
; GROUP BY account".

"""
