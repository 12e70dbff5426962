"""Request bodies beyond the grant and activity shapes shared with plan files."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from api.schemas import examples
from ledger.domain import commands as cmd
from ledger.domain.commands import SpendKind
from ledger.inputs import ActivityIn, DecisionIn, GrantIn, Input
from ledger.service import ClassifyTransaction, PostSpend, ReverseTransaction, SpendLine
from ledger.types import (
    AccountCode,
    AwardMoney,
    Code,
    CostObject,
    Day,
    LineText,
    LongText,
    Money,
    PositiveMoney,
    ShortText,
    Text,
)


class GrantBody(GrantIn):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.GRANT]})


class ActivityBody(ActivityIn):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ACTIVITY]})


class ReallocationBody(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REALLOCATION]})

    from_activity: Code
    to_activity: Code
    amount: PositiveMoney
    reason: LongText
    decision: DecisionIn

    def to_command(self, grant_id: str) -> cmd.Reallocate:
        return cmd.Reallocate(
            grant_id,
            self.from_activity,
            self.to_activity,
            self.amount,
            self.reason,
            self.decision.to_domain(),
        )


class AmendmentBody(Input):
    area: Code
    awarded: AwardMoney
    decision: DecisionIn
    reason: LongText

    def to_command(self, grant_id: str) -> cmd.AmendAward:
        return cmd.AmendAward(
            grant_id,
            self.area,
            self.awarded,
            self.decision.to_domain(),
            self.reason,
        )


class ReceiptBody(Input):
    amount: PositiveMoney
    received_on: Day
    reference: Text

    def to_command(self, grant_id: str) -> cmd.RecordReceipt:
        return cmd.RecordReceipt(grant_id, self.amount, self.received_on, self.reference)


class RepaymentBody(Input):
    area: Code
    amount: PositiveMoney
    paid_on: Day
    reference: Text | None = Field(
        default=None, description="Defaults to the grant's repayment reference (diarienummer)."
    )

    def to_command(self, grant_id: str) -> cmd.RepayUnspent:
        return cmd.RepayUnspent(grant_id, self.area, self.amount, self.paid_on, self.reference)


class YearCloseBody(Input):
    year: int = Field(ge=2000, le=2100)
    decision: DecisionIn

    def to_command(self, grant_id: str) -> cmd.CloseYear:
        return cmd.CloseYear(grant_id, self.year, self.decision.to_domain())


class SpendLineBody(Input):
    line_id: ShortText
    voucher: ShortText | None = None
    booked_on: Day
    amount: Money
    cost_object: CostObject
    activity: Code | None = None
    account: AccountCode | None = None
    kind: SpendKind = Field(
        default="expense",
        description="expense or depreciation; investment is refused (rule 4: only the year's "
        "depreciation of an investment may be booked).",
    )
    text: LineText | None = None

    def to_domain(self) -> SpendLine:
        return SpendLine(
            line_id=self.line_id,
            voucher=self.voucher,
            booked_on=self.booked_on,
            amount=self.amount,
            cost_object=self.cost_object,
            activity=self.activity,
            account=self.account,
            kind=self.kind,
            text=self.text,
        )


class SpendBatchBody(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SPEND_BATCH]})

    source: Code = Field(description="The posting system; (source, line_id) is a line's key.")
    lines: list[SpendLineBody] = Field(min_length=1, max_length=10_000)

    def to_command(self) -> PostSpend:
        return PostSpend(self.source, tuple(line.to_domain() for line in self.lines))


class ReversalBody(Input):
    reason: LongText
    booked_on: Day

    def to_command(self, transaction_id: str) -> ReverseTransaction:
        return ReverseTransaction(transaction_id, self.reason, self.booked_on)


class ClassificationBody(Input):
    activity: Code
    reason: LongText

    def to_command(self, transaction_id: str) -> ClassifyTransaction:
        return ClassifyTransaction(transaction_id, self.activity, self.reason)
