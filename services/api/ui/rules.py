"""What a refusal means, in Swedish: the rule it names and its amounts, for the forms."""

from __future__ import annotations

from dataclasses import dataclass

from api.ui.format import kronor
from ledger.errors import Conflict, LedgerError, NotFound, RuleViolation

# The rules of DESIGN §1 by their slug (``RuleViolation.rule``), as a controller says them.
RULES: dict[str, str] = {
    "no-over-allocation": "Regel 1: ett områdes aktiviteter får inte tillsammans få mer än "
    "områdets tilldelning",
    "ring-fenced": "Regel 2: ett öronmärkt område får inga omfördelningar in eller ut",
    "reallocation-within-area": "Regel 3: omfördelning sker bara inom ett område",
    "reallocation-within-remaining": "Regel 3: en omfördelning får inte flytta mer än "
    "aktivitetens återstående budget",
    "spend-placement": "Regel 4: utfallet måste kunna placeras på ett område",
    "cost-object-routing": "Regel 5: ett objekt hör till ett bidrag per period",
    "spend-period": "Regel 5: bokföringsdagen ligger utanför bidragets period",
    "exit-plan-required": "Regel 6: en ny aktivitet kräver en exitplan",
    "decision-reference-required": "Regel 7: en ändring kräver en beslutsreferens",
    "closed-period": "Perioden är stängd",
    "year-closed": "Året är stängt",
    "classify-before-close": "Oklassat utfall måste klassas före årsbokslut",
    "repayment-within-unallocated": "Återbetalning får inte överstiga ofördelat belopp",
    "idempotency": "Samma nyckel har använts för en annan begäran",
}


# Refusals that name no rule of DESIGN §1 but a rule of a file format or of closing a month, by
# ``LedgerError.code``: (heading, the rule as a controller says it).
CODE_RULES: dict[str, tuple[str, str]] = {
    "sie-invalid": (
        "SIE-filen kunde inte läsas",
        "Importen tar en läsbar SIE 4-fil (PC8 eller UTF-8); raderna nedan bryter mot formatet",
    ),
    "sie-import-refused": (
        "SIE-filen kan inte importeras",
        "Utfall kommer från verifikationer (#VER): exportera SIE 4 (transaktioner) ur "
        "ekonomisystemet",
    ),
    "period-already-closed": (
        "Månaden är redan stängd",
        "En stängd månad kan inte stängas igen; periodstängning går inte att ångra",
    ),
    "invalid-period": (
        "Ogiltig period",
        "En period är en månad skriven ÅÅÅÅ-MM, till exempel 2022-03",
    ),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused request as the form shows it."""

    heading: str
    rule: str | None
    available: str | None
    requested: str | None
    detail: str

    @classmethod
    def of(cls, error: LedgerError) -> Refusal:
        rule = error.fields.get("rule") if isinstance(error, RuleViolation) else None
        available, requested = error.fields.get("available"), error.fields.get("requested")
        if error.code in CODE_RULES:
            heading, said = CODE_RULES[error.code]
            return cls(
                heading=heading, rule=said, available=None, requested=None, detail=error.detail
            )
        return cls(
            heading=_heading(error),
            rule=RULES.get(str(rule), str(rule)) if rule else None,
            available=kronor(available) if isinstance(available, int) else None,
            requested=kronor(requested) if isinstance(requested, int) else None,
            detail=error.detail,
        )

    @classmethod
    def invalid(cls, detail: str) -> Refusal:
        return cls("Uppgifterna är inte giltiga", None, None, None, detail)


def _heading(error: LedgerError) -> str:
    if isinstance(error, RuleViolation):
        return "Nekad enligt regel"
    if isinstance(error, NotFound):
        return "Finns inte"
    if isinstance(error, Conflict):
        return "Krockar med det som redan är bokfört"
    return "Kunde inte utföras"
