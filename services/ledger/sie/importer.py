"""SIE 4 vouchers → spend lines: which lines a file holds for the ledger, and posting them.

``plan_import`` is pure: it reads a parsed ``SieFile`` and says, for every counted ``#TRANS``,
either the spend line it becomes or why it is skipped.  ``import_sie`` posts the lines through
the one write path (``LedgerService.execute(PostSpend("sie", ...))``), so the whole file is one
transaction: every line is recorded, or none is.

Natural key.  A line is ``(series, voucher number, line number)``, its ``line_id`` is
``"{series}-{number}-{line_no}"`` (``line_no`` counts the voucher's counted ``#TRANS`` lines from 1)
under source ``"sie"``; importing the same file again finds every line recorded and adds nothing.
A voucher without a number cannot be recognised a second time, so a file whose imported lines
sit on one is refused, as is a file that holds the same voucher twice.

What is skipped, never silently: a line with no object in the cost-object dimension (the
counter-entries on balance-sheet accounts, typically), a line whose object is no grant's cost
object, a line on a cost object no grant's spend period covers on that date (when the periods
are known), and a line of 0.00 kr.  Everything else goes to the ledger, which may still refuse
the file (a closed period, an unknown activity): then nothing is written and the answer lists
every bad line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from ledger.errors import InvalidInput
from ledger.integrations import spend_periods
from ledger.service import (
    Actor,
    Idempotency,
    LedgerService,
    LineInput,
    PostSpend,
    Replayed,
    Result,
)
from ledger.sie.reader import SieFile, Trans, Voucher

SOURCE = "sie"

# Reason codes of skipped lines (stable: clients and the finance guide name them).
NO_COST_OBJECT = "no-cost-object"
UNKNOWN_COST_OBJECT = "unknown-cost-object"
OUTSIDE_SPEND_PERIOD = "outside-spend-period"
ZERO_AMOUNT = "zero-amount"

# Column widths of the spend_lines projection: longer values are refused here, by name.
_MAX_LINE_ID = 200
_MAX_CODE = 64
_MAX_TEXT = 1000

SpendPeriods = Mapping[str, Sequence[tuple[date, date]]]


class SieImportRefused(InvalidInput):
    """A SIE file that reads fine but cannot be imported as it stands (422)."""

    code = "sie-import-refused"
    title = "SIE file cannot be imported"

    def __init__(self, message: str, *, line: int, **fields: object) -> None:
        super().__init__(f"line {line}: {message}", line=line, **fields)
        self.line = line


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A counted ``#TRANS`` that does not become spend, and why."""

    line_id: str
    voucher: str
    file_line: int
    account: str
    amount_ore: int
    booked_on: date
    cost_object: str | None
    reason_code: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What a SIE file holds for the ledger: lines to post and lines skipped with reasons."""

    cost_object_dim: int
    activity_dim: int | None
    vouchers: int
    transactions: int  # counted #TRANS lines in the file
    lines: tuple[LineInput, ...]
    skipped: tuple[SkippedLine, ...]

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason_code for s in self.skipped).items()))


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """The answer to an import: counts imported, already present, skipped with reasons."""

    plan: ImportPlan
    imported: int
    already_present: int
    by_grant: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return len(self.plan.skipped)

    @classmethod
    def of(cls, plan: ImportPlan, result: Result | None) -> ImportOutcome:
        by_grant: dict[str, dict[str, int]] = {}
        counts: Counter[str] = Counter()
        for outcome in result.lines if result is not None else ():
            status = "imported" if outcome.status == "recorded" else "already_present"
            counts[status] += 1
            grant = by_grant.setdefault(outcome.grant_id, {"imported": 0, "already_present": 0})
            grant[status] += 1
        return cls(
            plan=plan,
            imported=counts["imported"],
            already_present=counts["already_present"],
            by_grant=dict(sorted(by_grant.items())),
        )


# --- planning (pure) -----------------------------------------------------------------------


def line_id(voucher: Voucher, trans: Trans) -> str:
    return f"{voucher.series}-{voucher.number}-{trans.line_no}"


def plan_import(
    sie: SieFile,
    *,
    cost_object_dim: int,
    activity_dim: int | None,
    known_cost_objects: set[str] | frozenset[str],
    spend_periods: SpendPeriods | None = None,
) -> ImportPlan:
    """Every counted ``#TRANS`` of ``sie`` as a spend line or a skipped line with its reason.

    ``known_cost_objects`` are the cost objects some grant books spend on; ``spend_periods``
    (optional) maps each to the spend periods of its grants, so that a line dated outside all
    of them is skipped with a reason instead of refusing the whole file.
    """
    if sie.flag is None and sie.sie_type is None and not sie.vouchers:
        raise SieImportRefused("this is not a SIE file: no #FLAGGA, #SIETYP or #VER", line=1)
    if activity_dim is not None and activity_dim == cost_object_dim:
        raise InvalidInput(
            f"the cost object and the activity cannot both be dimension {cost_object_dim}",
            field="activity_dim",
        )
    lines: list[LineInput] = []
    skipped: list[SkippedLine] = []
    seen: dict[tuple[str, str], int] = {}
    transactions = 0
    for voucher in sie.vouchers:
        key = (voucher.series, voucher.number)
        imports_any = False
        for trans in voucher.transactions:
            transactions += 1
            objects = dict(trans.objects)
            booked_on = trans.date or voucher.date
            cost_object = objects.get(cost_object_dim)
            reason = _skip_reason(
                trans, booked_on, cost_object, cost_object_dim, known_cost_objects, spend_periods
            )
            lid = line_id(voucher, trans)
            if reason is not None:
                code, why = reason
                skipped.append(
                    SkippedLine(
                        line_id=lid,
                        voucher=f"{voucher.series}{voucher.number}",
                        file_line=trans.source_line,
                        account=trans.account,
                        amount_ore=trans.amount_ore,
                        booked_on=booked_on,
                        cost_object=cost_object,
                        reason_code=code,
                        reason=why,
                    )
                )
                continue
            assert cost_object is not None
            imports_any = True
            activity = objects.get(activity_dim) if activity_dim is not None else None
            lines.append(
                LineInput(
                    line_id=_checked(lid, "line id (series-number-line)", _MAX_LINE_ID, trans),
                    voucher=_checked(
                        f"{voucher.series}{voucher.number}", "voucher", _MAX_LINE_ID, trans
                    ),
                    booked_on=booked_on,
                    amount=trans.amount_ore,
                    cost_object=_checked(cost_object, "cost object", _MAX_CODE, trans),
                    activity=_checked(activity, "activity", _MAX_CODE, trans) if activity else None,
                    account=_checked(trans.account, "account", _MAX_CODE, trans),
                    kind="expense",
                    text=_text(trans.text or voucher.text),
                )
            )
        if imports_any:
            _check_voucher_key(voucher, key, seen)
    return ImportPlan(
        cost_object_dim=cost_object_dim,
        activity_dim=activity_dim,
        vouchers=len(sie.vouchers),
        transactions=transactions,
        lines=tuple(lines),
        skipped=tuple(skipped),
    )


def _skip_reason(
    trans: Trans,
    booked_on: date,
    cost_object: str | None,
    dim: int,
    known: set[str] | frozenset[str],
    periods: SpendPeriods | None,
) -> tuple[str, str] | None:
    if cost_object is None:
        return NO_COST_OBJECT, f"no object in dimension {dim} (the cost object)"
    if cost_object not in known:
        return UNKNOWN_COST_OBJECT, f"cost object {cost_object!r} is no grant's cost object"
    if periods is not None and not any(
        a <= booked_on <= b for a, b in periods.get(cost_object, ())
    ):
        return (
            OUTSIDE_SPEND_PERIOD,
            f"no grant on cost object {cost_object!r} has {booked_on} in its spend period",
        )
    if trans.amount_ore == 0:
        return ZERO_AMOUNT, "a line of 0.00 kr records nothing"
    return None


def _check_voucher_key(
    voucher: Voucher, key: tuple[str, str], seen: dict[tuple[str, str], int]
) -> None:
    if not voucher.number:
        raise SieImportRefused(
            f"voucher {voucher.series or '(no series)'} of {voucher.date} has no number, so its "
            "lines could not be recognised when the file is imported again: export the "
            "vouchers with their numbers",
            line=voucher.source_line,
        )
    first = seen.setdefault(key, voucher.source_line)
    if first != voucher.source_line:
        raise SieImportRefused(
            f"voucher {voucher.series} {voucher.number} appears twice (also on line {first}): "
            "(series, number, line) must name one line",
            line=voucher.source_line,
        )


def _checked(value: str, what: str, limit: int, trans: Trans) -> str:
    if len(value) > limit:
        raise SieImportRefused(
            f"#TRANS {what} {value[:40]!r}... is longer than {limit} characters",
            line=trans.source_line,
        )
    return value


def _text(value: str | None) -> str | None:
    """Texts end up in reports: control characters become blanks, and the length is capped."""
    if not value:
        return None
    cleaned = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value).strip()
    return cleaned[:_MAX_TEXT] or None


# --- applying -------------------------------------------------------------------------------


def import_sie(
    service: LedgerService,
    sie: SieFile,
    actor: Actor,
    *,
    cost_object_dim: int,
    activity_dim: int | None,
    idempotency: Idempotency | None = None,
) -> ImportOutcome | Replayed:
    """Plan the file against the ledger's cost objects and post it, atomically."""
    periods = spend_periods(service.engine, service.tables)
    plan = plan_import(
        sie,
        cost_object_dim=cost_object_dim,
        activity_dim=activity_dim,
        known_cost_objects=set(periods),
        spend_periods=periods,
    )
    return post_plan(service, plan, actor, idempotency=idempotency)


def post_plan(
    service: LedgerService,
    plan: ImportPlan,
    actor: Actor,
    *,
    idempotency: Idempotency | None = None,
) -> ImportOutcome | Replayed:
    """Post the plan's lines in one transaction (nothing to post: nothing is written)."""
    if not plan.lines:
        return ImportOutcome.of(plan, None)
    result = service.execute(PostSpend(SOURCE, plan.lines), actor, idempotency=idempotency)
    if isinstance(result, Replayed):
        return result
    return ImportOutcome.of(plan, result)
