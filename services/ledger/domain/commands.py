"""Commands: what a user or system asks the ledger to do, as plain values.

A command is a request, not a fact: ``decide`` may refuse it.  Money is ``int`` öre (parsed at the
boundary with ``money.parse_money``) and dates are ``datetime.date``.  Fields that a rule of
DESIGN §1 checks (a decision reference, an exit plan) are optional in the type on purpose, so that
the rule is enforced by ``decide`` with a precise error rather than by a constructor crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

# --- values shared by commands and events ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """The board decision that authorises a planning entry (beslut, diarienummer)."""

    ref: str  # e.g. "RS/498/2019 § 123"
    date: date
    body: str  # e.g. "Regionstyrelsen"


@dataclass(frozen=True, slots=True)
class AreaSpec:
    """One area of a grant as the agreement awards it (utvecklingsområde / delområde)."""

    code: str
    name: str
    awarded: int
    cost_object: str  # objekt, e.g. "9916"
    responsible: str
    ring_fenced: bool = False


@dataclass(frozen=True, slots=True)
class ReportingObligation:
    """A report due to the funder (återrapportering)."""

    kind: str  # e.g. "delredovisning", "slutredovisning"
    due: date
    recipient: str  # e.g. "Socialstyrelsen"


@dataclass(frozen=True, slots=True)
class CostObjectRoute:
    """One row of the routing table: spend on ``cost_object`` in the period belongs to the grant.

    The service derives these from the registered grants; the domain only reads them.
    """

    cost_object: str
    grant_id: str
    spend_from: date
    spend_to: date


SpendKind = Literal["expense", "depreciation", "investment"]
LineStatus = Literal["recorded", "reversed", "reversal"]


@dataclass(frozen=True, slots=True)
class SpendLine:
    """A cost line as a finance system sends it (utfall): the one shape of a line from the
    request (or the SIE file) to ``decide``, which makes it a ``SpendRecorded``.

    Its ``source`` (the posting system) is the batch's and its transaction id the ledger's: both
    travel beside the lines, in ``RecordSpend``, rather than copied into each.
    """

    line_id: str  # with the source, the line's natural key
    voucher: str | None
    booked_on: date
    amount: int  # negative for credits
    cost_object: str
    activity: str | None
    account: str | None
    # Not a SpendKind: the ERP may send anything, and an unknown kind is a line error, not a crash.
    kind: str
    text: str | None


@dataclass(frozen=True, slots=True)
class RecordedLine:
    """A spend line as stored, with its current placement, as the service loads it."""

    transaction_id: str
    source: str
    line_id: str
    booked_on: date
    amount: int
    cost_object: str
    area: str | None  # None: grant-level unclassified (the cost object serves several areas)
    activity: str | None  # None: unclassified
    status: LineStatus
    reversal_of: str | None = None  # set on a reversal entry: the transaction it cancels


# --- grant commands --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterGrant:
    grant_id: str
    name: str
    funder: str
    decision: Decision | None
    spend_from: date
    spend_to: date
    areas: tuple[AreaSpec, ...]
    reporting: tuple[ReportingObligation, ...] = ()
    # The diarienummer quoted when unspent money is repaid (to Kammarkollegiet).
    repayment_reference: str | None = None


@dataclass(frozen=True, slots=True)
class AmendAward:
    """Change an area's award (tilläggsöverenskommelse)."""

    grant_id: str
    area: str
    awarded: int
    decision: Decision | None
    reason: str


@dataclass(frozen=True, slots=True)
class RecordReceipt:
    """Cash received from the funder (utbetalning)."""

    grant_id: str
    amount: int
    received_on: date
    reference: str


@dataclass(frozen=True, slots=True)
class AllocateActivity:
    """Create an activity with part of an area's money (fördelning)."""

    grant_id: str
    code: str
    area: str
    name: str
    amount: int
    responsible: str
    decision: Decision | None
    new_activity: bool = False
    exit_plan: str | None = None


@dataclass(frozen=True, slots=True)
class Reallocate:
    """Move budget from one activity to another (omfördelning)."""

    grant_id: str
    from_activity: str
    to_activity: str
    amount: int
    reason: str
    decision: Decision | None


@dataclass(frozen=True, slots=True)
class RecordSpend:
    """The lines of one batch that routing (``decide.route_batch``) sent to this grant, from
    ``source``, each with the transaction id the ledger gives it (``transaction_ids[i]`` is
    ``lines[i]``'s)."""

    grant_id: str
    source: str
    lines: tuple[SpendLine, ...]
    transaction_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReverseSpend:
    """Cancel a recorded line with a new entry (rättelse); the line itself stays."""

    grant_id: str
    transaction_id: str  # the reversal entry's own id
    line: RecordedLine
    reason: str
    booked_on: date


@dataclass(frozen=True, slots=True)
class ClassifySpend:
    """Put unclassified spend on an activity."""

    grant_id: str
    line: RecordedLine
    activity: str
    reason: str


@dataclass(frozen=True, slots=True)
class RepayUnspent:
    """Return unspent money to the funder (återbetalning)."""

    grant_id: str
    area: str
    amount: int
    paid_on: date
    reference: str | None = None  # None: quote the grant's repayment_reference


@dataclass(frozen=True, slots=True)
class CloseYear:
    """Close the grant's books for a year: unspent activity budgets return to their areas."""

    grant_id: str
    year: int
    decision: Decision | None


GrantCommand = (
    RegisterGrant
    | AmendAward
    | RecordReceipt
    | AllocateActivity
    | Reallocate
    | RecordSpend
    | ReverseSpend
    | ClassifySpend
    | RepayUnspent
    | CloseYear
)


# --- the periods stream ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosePeriod:
    """Close a month for every grant (periodstängning)."""

    period: str  # "YYYY-MM"
