"""Which rows of a SIE file are spend, which are struck, which are skipped and why (pure).

A row is spend when its account is a cost account (``SpendAccounts``) and it carries an object
in the cost-object dimension.  Which grant takes it is not decided here: the service routes it
with the same rule 5 that books every line, and a line no grant takes comes back skipped with
the routing's reason.  A struck row (``#BTRANS``) is passed on for reversal when it would have
been spend.

Natural key.  A row is ``"{year}:{series}-{number}-{line_no}"`` under source ``"sie"``: the fiscal
year (``#RAR 0``; without one, the voucher's calendar year), because ERPs restart voucher numbers
every year, and the row's place in its voucher (see ``reader``).  Importing the same file again
finds every line recorded and adds nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from ledger.errors import InvalidInput
from ledger.formats.sie.accounts import SpendAccounts
from ledger.formats.sie.lexer import UNSAFE_ID, Problem
from ledger.formats.sie.model import SieFile, Trans, Voucher
from ledger.service import SpendLine, StruckLine
from ledger.types import CODE_CHARS, KEY_CHARS, LINE_TEXT_CHARS

SOURCE = "sie"

# Reason codes of skipped rows (stable: clients and the finance guide name them).  The routing
# adds unknown-cost-object and outside-spend-period, the service struck-not-recorded.
NOT_A_COST_ACCOUNT = "not-a-cost-account"
NO_COST_OBJECT = "no-cost-object"
ZERO_AMOUNT = "zero-amount"

# Column widths of the spend_lines projection (the API's bounds too): longer values are
# refused here, by name.
_MAX_LINE_ID = KEY_CHARS
_MAX_CODE = CODE_CHARS
_MAX_TEXT = LINE_TEXT_CHARS


class SieImportRefused(InvalidInput):
    """A SIE file that reads fine but cannot be imported as it stands (422)."""

    code = "sie-import-refused"
    title = "SIE file cannot be imported"

    def __init__(self, message: str, *, line: int, **fields: object) -> None:
        super().__init__(f"line {line}: {message}", line=line, **fields)
        self.line = line

    @classmethod
    def of(cls, problems: list[Problem]) -> SieImportRefused:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(
            first.reason + more,
            line=first.line,
            errors=[p.as_dict() for p in problems[:20]],
        )


@dataclass(frozen=True, slots=True)
class Options:
    """How a file's rows are read: where the cost object and activity are, what is spend."""

    cost_object_dim: int
    activity_dim: int | None
    spend_accounts: SpendAccounts


@dataclass(frozen=True, slots=True)
class Row:
    """What the file says about one row the service is sent: where it is, for the answer."""

    line_id: str
    voucher: str
    file_line: int
    account: str
    amount_ore: int
    booked_on: date
    cost_object: str | None
    activity: str | None

    @classmethod
    def of(cls, lid: str, voucher: Voucher, trans: Trans, options: Options) -> Row:
        objects = dict(trans.objects)
        return cls(
            line_id=lid,
            voucher=f"{voucher.series}{voucher.number}",
            file_line=trans.source_line,
            account=trans.account,
            amount_ore=trans.amount_ore,
            booked_on=trans.date or voucher.date,
            cost_object=objects.get(options.cost_object_dim),
            activity=objects.get(options.activity_dim) if options.activity_dim else None,
        )


@dataclass(frozen=True, slots=True)
class Skip:
    """A row that does not become spend, and why."""

    row: Row
    reason_code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What a SIE file holds for the ledger: lines to post, rows struck, rows skipped."""

    options: Options
    fiscal_year: str
    fiscal_year_from: str  # "#RAR 0" or "voucher dates"
    vouchers: int
    transactions: int  # counted rows (#TRANS; an #RTRANS with its repeat counts once)
    lines: tuple[SpendLine, ...]
    struck: tuple[StruckLine, ...]
    rows: dict[str, Row]  # every line and struck row sent to the service, by line_id
    skipped: tuple[Skip, ...]

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason_code for s in self.skipped).items()))


def fiscal_year_label(start: date) -> str:
    """``2022`` for a calendar year; ``2022-07`` for a broken one (it may share 2022)."""
    return str(start.year) if (start.month, start.day) == (1, 1) else start.strftime("%Y-%m")


def line_id(year: str, voucher: Voucher, trans: Trans) -> str:
    return f"{year}:{voucher.series}-{voucher.number}-{trans.line_no}"


def plan_lines(sie: SieFile, options: Options) -> Plan:
    """Every row of ``sie`` as a line to post, a struck line, or a skip with its reason."""
    if options.activity_dim is not None and options.activity_dim == options.cost_object_dim:
        raise InvalidInput(
            f"the cost object and the activity cannot both be dimension {options.cost_object_dim}",
            field="activity_dim",
        )
    builder = _Builder(options)
    for voucher in sie.vouchers:
        year = fiscal_year_label(sie.fiscal_year[0]) if sie.fiscal_year else str(voucher.date.year)
        builder.voucher(year, voucher)
    if builder.problems:
        raise SieImportRefused.of(builder.problems)
    if sie.fiscal_year:
        label, source = fiscal_year_label(sie.fiscal_year[0]), "#RAR 0"
    else:
        years = sorted({str(v.date.year) for v in sie.vouchers})
        label, source = ", ".join(years), "voucher dates"
    return Plan(
        options=options,
        fiscal_year=label,
        fiscal_year_from=source,
        vouchers=len(sie.vouchers),
        transactions=builder.transactions,
        lines=tuple(builder.lines),
        struck=tuple(builder.struck),
        rows=builder.rows,
        skipped=tuple(builder.skipped),
    )


class _Builder:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.lines: list[SpendLine] = []
        self.struck: list[StruckLine] = []
        self.rows: dict[str, Row] = {}
        self.skipped: list[Skip] = []
        self.problems: list[Problem] = []
        self.seen: dict[tuple[str, str, str], int] = {}
        self.transactions = 0

    def voucher(self, year: str, voucher: Voucher) -> None:
        sends_any = False
        for trans in voucher.transactions:
            self.transactions += 1
            row = Row.of(line_id(year, voucher, trans), voucher, trans, self.options)
            skip = self._skip(row)
            if skip is not None:
                self.skipped.append(Skip(row, *skip))
                continue
            line = self._line(row, voucher, trans)
            if line is not None:
                sends_any = True
                self.lines.append(line)
                self.rows[row.line_id] = row
        for trans in voucher.struck:
            row = Row.of(line_id(year, voucher, trans), voucher, trans, self.options)
            if self._skip(row) is not None:
                continue  # never spend, so never recorded: striking it changes nothing here
            line = self._line(row, voucher, trans)
            if line is not None:
                sends_any = True
                reason = (
                    f"struck in the ERP: #BTRANS on line {trans.source_line} of voucher "
                    f"{voucher.series} {voucher.number} ({year})"
                )
                self.struck.append(StruckLine(line, row.booked_on, reason))
                self.rows[row.line_id] = row
        if sends_any:
            self._check_key(year, voucher)

    def _skip(self, row: Row) -> tuple[str, str] | None:
        accounts = self.options.spend_accounts
        if row.account not in accounts:
            return NOT_A_COST_ACCOUNT, f"account {row.account} is not a cost account ({accounts})"
        if row.cost_object is None:
            return (
                NO_COST_OBJECT,
                f"no object in dimension {self.options.cost_object_dim} (the cost object)",
            )
        if row.amount_ore == 0:
            return ZERO_AMOUNT, "a line of 0.00 kr records nothing"
        return None

    def _line(self, row: Row, voucher: Voucher, trans: Trans) -> SpendLine | None:
        assert row.cost_object is not None
        values = {
            "line id (year:series-number-line)": (row.line_id, _MAX_LINE_ID),
            "voucher": (row.voucher, _MAX_LINE_ID),
            "cost object": (row.cost_object, _MAX_CODE),
            "activity": (row.activity or "", _MAX_CODE),
            "account": (row.account, _MAX_CODE),
        }
        too_long = [
            f"{what} {value[:40]!r}... is longer than {limit} characters"
            for what, (value, limit) in values.items()
            if len(value) > limit
        ]
        if too_long:
            self.problems.extend(Problem(row.file_line, "#TRANS", why) for why in too_long)
            return None
        return SpendLine(
            line_id=row.line_id,
            voucher=row.voucher,
            booked_on=row.booked_on,
            amount=row.amount_ore,
            cost_object=row.cost_object,
            activity=row.activity,
            account=row.account,
            kind="expense",
            text=_text(trans.text or voucher.text),
        )

    def _check_key(self, year: str, voucher: Voucher) -> None:
        if not voucher.number:
            self.problems.append(
                Problem(
                    voucher.source_line,
                    "#VER",
                    f"voucher {voucher.series or '(no series)'} of {voucher.date} has no number, "
                    "so its lines could not be recognised when the file is imported again: "
                    "export the vouchers with their numbers",
                )
            )
            return
        first = self.seen.setdefault((year, voucher.series, voucher.number), voucher.source_line)
        if first != voucher.source_line:
            self.problems.append(
                Problem(
                    voucher.source_line,
                    "#VER",
                    f"voucher {voucher.series} {voucher.number} appears twice (also on line "
                    f"{first}): (year, series, number, line) must name one line",
                )
            )


def _text(value: str | None) -> str | None:
    """Texts end up in reports and terminals: control characters (escape sequences among them)
    and bidirectional overrides become blanks, and the length is capped."""
    if not value:
        return None
    cleaned = UNSAFE_ID.sub(" ", value).strip()
    return cleaned[:_MAX_TEXT] or None
