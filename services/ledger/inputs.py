"""Inputs as people and systems write them, parsed into commands.

The same models read an HTTP body and a plan file, so both refuse the same things the same way.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ledger.domain import commands as cmd
from ledger.types import (
    AwardMoney,
    Code,
    CostObject,
    Day,
    LongText,
    PositiveMoney,
    ShortText,
    Text,
)


class Input(BaseModel):
    # Unknown fields are refused: a typo must not silently drop a decision reference.
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4000)


class DecisionIn(Input):
    ref: Text = Field(description="Diarienummer, e.g. RS/498/2019 § 123.")
    date: Day
    body: Text = Field(description="The deciding body, e.g. Regionstyrelsen.")

    def to_domain(self) -> cmd.Decision:
        return cmd.Decision(self.ref, self.date, self.body)


class PeriodIn(Input):
    from_: Day = Field(alias="from")
    to: Day


class AreaIn(Input):
    code: Code
    name: Text
    awarded: AwardMoney
    cost_object: CostObject
    responsible: Text
    ring_fenced: bool = False

    def to_domain(self) -> cmd.AreaSpec:
        return cmd.AreaSpec(
            self.code, self.name, self.awarded, self.cost_object, self.responsible, self.ring_fenced
        )


class ReportingIn(Input):
    kind: Text
    due: Day
    recipient: Text


class GrantIn(Input):
    grant_id: Code
    name: Text
    funder: Text
    decision: DecisionIn  # rule 7: refused at parsing when absent, like any required field
    spend_period: PeriodIn
    areas: list[AreaIn] = Field(min_length=1, max_length=200)
    reporting: list[ReportingIn] = Field(default_factory=list, max_length=200)
    repayment_reference: ShortText | None = None

    def to_command(self) -> cmd.RegisterGrant:
        return cmd.RegisterGrant(
            grant_id=self.grant_id,
            name=self.name,
            funder=self.funder,
            decision=self.decision.to_domain(),
            spend_from=self.spend_period.from_,
            spend_to=self.spend_period.to,
            areas=tuple(a.to_domain() for a in self.areas),
            reporting=tuple(
                cmd.ReportingObligation(r.kind, r.due, r.recipient) for r in self.reporting
            ),
            repayment_reference=self.repayment_reference,
        )


class ActivityIn(Input):
    code: Code
    area: Code
    name: Text
    amount: PositiveMoney
    responsible: Text
    decision: DecisionIn  # rule 7
    new_activity: bool = False
    exit_plan: LongText | None = None

    def to_command(self, grant_id: str) -> cmd.AllocateActivity:
        return cmd.AllocateActivity(
            grant_id=grant_id,
            code=self.code,
            area=self.area,
            name=self.name,
            amount=self.amount,
            responsible=self.responsible,
            decision=self.decision.to_domain(),
            new_activity=self.new_activity,
            exit_plan=self.exit_plan,
        )
