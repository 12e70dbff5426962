"""Plan files: a grant and its activities as data (``examples/*.yaml``), checked and loaded.

``check`` decides every command of the plan in memory against the ledger's current routes and
reports every violation without writing; ``commands`` gives what ``plan load`` executes, in one
transaction.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from ledger.domain import commands as cmd
from ledger.domain.decide import decide
from ledger.domain.facts import LedgerFacts
from ledger.domain.state import GrantState, evolve
from ledger.errors import InvalidInput, LedgerError
from ledger.inputs import ActivityIn, AreaIn, DecisionIn, GrantIn, Input


class PlannedActivity(Input):
    code: str
    name: str
    amount: str | int | float
    responsible: str
    decision: DecisionIn | None = None
    new_activity: bool = False
    exit_plan: str | None = None


class PlannedArea(AreaIn):
    activities: list[PlannedActivity] = Field(default_factory=list)


class PlanFile(GrantIn):
    areas: list[PlannedArea] = Field(min_length=1)  # type: ignore[assignment]


def read(path: Path) -> PlanFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise InvalidInput(f"cannot read plan {path}: {e}", path=str(path)) from e
    try:
        return PlanFile.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise InvalidInput(f"plan {path} is malformed: {problems}", path=str(path)) from e


def commands(plan: PlanFile) -> list[cmd.RegisterGrant | cmd.AllocateActivity]:
    try:
        return _commands(plan)
    except ValidationError as e:
        raise InvalidInput(f"plan {plan.grant_id} is malformed: {e}") from e


def _commands(plan: PlanFile) -> list[cmd.RegisterGrant | cmd.AllocateActivity]:
    register = GrantIn.model_validate(
        plan.model_dump(by_alias=True, exclude={"areas": {"__all__": {"activities"}}})
    ).to_command()
    allocations = [
        ActivityIn.model_validate(
            {
                **a.model_dump(),
                "area": area.code,
                "decision": _decision_of(a, plan),
            }
        ).to_command(plan.grant_id)
        for area in plan.areas
        for a in area.activities
    ]
    return [register, *allocations]


def check(
    plan: PlanFile, existing_routes: tuple[cmd.CostObjectRoute, ...] = ()
) -> tuple[GrantState | None, list[LedgerError]]:
    """Every violation the plan's commands would meet, and the state of the ones accepted."""
    state: GrantState | None = None
    problems: list[LedgerError] = []
    facts = LedgerFacts(routes=existing_routes)
    for command in commands(plan):
        try:
            for event in decide(state, command, facts):
                state = evolve(state, event)
        except LedgerError as e:
            problems.append(e)
            if state is None:
                break  # nothing else can be checked without the grant
    return state, problems


def _decision_of(activity: PlannedActivity, plan: PlanFile) -> dict[str, object] | None:
    """An activity without its own decision was allocated by the grant's decision."""
    decision = activity.decision or plan.decision
    return decision.model_dump() if decision else None
