"""The one SIE import path: read → plan → post (or preview) → the answer.

The API and the CLI both call ``prepare`` and ``import_sie``; the HTTP router hands the same
command to its idempotent write helper instead of calling ``import_sie`` when it really writes,
and renders the same ``ImportOutcome``.  The whole file is one ``PostSpend`` through the one write
path: every line and reversal is recorded, or none is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ledger.formats.sie.lines import SOURCE as SOURCE
from ledger.formats.sie.lines import Options, Plan, Row, SieImportRefused, Skip, plan_lines
from ledger.formats.sie.model import SieFile
from ledger.formats.sie.reader import read_sie
from ledger.service import (
    Actor,
    Idempotency,
    LedgerService,
    LineOutcome,
    PostSpend,
    Replayed,
    Result,
)

# The answer lists this many skipped rows; its counts always cover all of them.
MAX_LISTED_SKIPS = 1000
_TYPES = {
    "1": "type 1 (årssaldon: the year's opening and closing balances)",
    "2": "type 2 (periodsaldon: balances by month)",
    "3": "type 3 (objektsaldon: balances by object)",
}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A file read and planned: the command that imports it, and what to say about it."""

    sie: SieFile
    plan: Plan
    command: PostSpend

    @property
    def writes_nothing(self) -> bool:
        return not self.command.lines and not self.command.struck

    def outcome(self, result: Result | None, *, dry_run: bool = False) -> ImportOutcome:
        return ImportOutcome.of(self, result, dry_run=dry_run)


@dataclass(frozen=True, slots=True)
class Booked:
    """What one import books on one (grant, cost object, activity)."""

    grant_id: str
    cost_object: str
    activity: str | None
    imported_lines: int = 0
    imported_ore: int = 0
    reversed_lines: int = 0
    reversed_ore: int = 0

    @property
    def net_ore(self) -> int:
        return self.imported_ore - self.reversed_ore


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """The answer to an import: counts, what was booked where, every skip with its reason."""

    sie: SieFile
    plan: Plan
    dry_run: bool
    imported: int
    already_present: int
    reversed: int
    already_reversed: int
    skipped: tuple[Skip, ...]
    booked: tuple[Booked, ...]
    # Per grant: lines imported, already present, reversed, already reversed.
    grants: dict[str, dict[str, int]]

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason_code for s in self.skipped).items()))

    def by_cost_object(self) -> dict[str, Booked]:
        """Per cost object, what this import booked: to tie to the ERP's report of the period."""
        totals: dict[str, Booked] = {}
        for b in self.booked:
            t = totals.get(b.cost_object) or Booked(b.grant_id, b.cost_object, None)
            totals[b.cost_object] = replace(
                t,
                imported_lines=t.imported_lines + b.imported_lines,
                imported_ore=t.imported_ore + b.imported_ore,
                reversed_lines=t.reversed_lines + b.reversed_lines,
                reversed_ore=t.reversed_ore + b.reversed_ore,
            )
        return dict(sorted(totals.items()))

    @classmethod
    def of(cls, prepared: Prepared, result: Result | None, *, dry_run: bool) -> ImportOutcome:
        plan = prepared.plan
        outcomes: Iterable[LineOutcome] = result.lines if result is not None else ()
        counts: Counter[str] = Counter()
        skipped = list(plan.skipped)
        booked: dict[tuple[str, str, str | None], Booked] = {}
        grants: dict[str, Counter[str]] = {}
        for o in outcomes:
            counts[o.status] += 1
            if o.grant_id is not None:
                grants.setdefault(o.grant_id, Counter())[o.status] += 1
            row = plan.rows[o.line_id]
            if o.status == "skipped":
                skipped.append(Skip(row, o.reason_code or "", o.reason or ""))
            elif o.status in ("recorded", "reversed") and o.grant_id is not None:
                assert row.cost_object is not None
                key = (o.grant_id, row.cost_object, row.activity)
                b = booked.get(key) or Booked(*key)
                recorded = o.status == "recorded"
                booked[key] = _add(b, imported=row) if recorded else _add(b, reversed_=row)
        skipped.sort(key=lambda s: s.row.file_line)
        return cls(
            sie=prepared.sie,
            plan=plan,
            dry_run=dry_run,
            imported=counts["recorded"],
            already_present=counts["duplicate"],
            reversed=counts["reversed"],
            already_reversed=counts["already-reversed"],
            skipped=tuple(skipped),
            grants={
                g: {
                    "imported": c["recorded"],
                    "already_present": c["duplicate"],
                    "reversed": c["reversed"],
                    "already_reversed": c["already-reversed"],
                }
                for g, c in sorted(grants.items())
            },
            booked=tuple(booked[k] for k in sorted(booked, key=lambda k: (k[0], k[1], k[2] or ""))),
        )


def _add(b: Booked, *, imported: Row | None = None, reversed_: Row | None = None) -> Booked:
    if imported is not None:
        return replace(
            b,
            imported_lines=b.imported_lines + 1,
            imported_ore=b.imported_ore + imported.amount_ore,
        )
    assert reversed_ is not None
    return replace(
        b, reversed_lines=b.reversed_lines + 1, reversed_ore=b.reversed_ore + reversed_.amount_ore
    )


def prepare(raw: bytes, options: Options, *, max_lines: int | None = None) -> Prepared:
    """Read and plan a file (pure): refuse what is no SIE 4 file of vouchers."""
    sie = read_sie(raw, max_lines=max_lines)
    _require_vouchers(sie)
    plan = plan_lines(sie, options)
    command = PostSpend(SOURCE, plan.lines, skip_unroutable=True, struck=plan.struck)
    return Prepared(sie, plan, command)


def import_sie(
    service: LedgerService,
    prepared: Prepared,
    actor: Actor,
    *,
    dry_run: bool = False,
    idempotency: Idempotency | None = None,
) -> ImportOutcome | Replayed:
    """Post the file's lines and reversals in one transaction, or (dry run) only decide them."""
    if prepared.writes_nothing:
        return prepared.outcome(None, dry_run=dry_run)
    if dry_run:
        return prepared.outcome(service.preview(prepared.command, actor), dry_run=True)
    result = service.execute(prepared.command, actor, idempotency=idempotency)
    if isinstance(result, Replayed):
        return result
    return prepared.outcome(result)


def _require_vouchers(sie: SieFile) -> None:
    if sie.vouchers:
        return
    kind = _TYPES.get((sie.sie_type or "").strip())
    if kind is None and sie.balance_records:
        kind = "a file of balances (#IB/#UB/#RES/#PSALDO)"
    if kind is not None:
        raise SieImportRefused(
            f"this is a SIE {kind} without vouchers (#VER): spend comes from vouchers, so "
            "export SIE 4 (transaktioner) from the ERP instead",
            line=1,
            sie_type=sie.sie_type,
        )
    if sie.flag is None and sie.sie_type is None:
        raise SieImportRefused("this is not a SIE file: no #FLAGGA, #SIETYP or #VER", line=1)
