"""Seed 003: "Fördelning God och nära vård 2022", decided 2022-05-04 by Regionstyrelsen.

The plan file ``examples/god-och-nara-vard-2022.yaml`` is loaded through ``plan.commands`` and the
real service, on SQLite and PostgreSQL; every figure the document states is checked to the öre.
Then the year is told as the finance system and the controllers would live it: receipts, spend
on 9916/9917/9942, classification, reallocations and the refusals of rules 1-7, a closed month,
a reversal, a new activity, as-of and as-known-at questions, the year close and the repayment.
"""

from __future__ import annotations

import time
from datetime import date, timedelta, timezone

import pytest
from sqlalchemy.engine import Engine

from ledger.domain import commands as cmd
from ledger.domain import errors
from ledger.domain.balances import GrantFigures
from ledger.formats import plan
from tests.support.ledger import (
    ADMIN,
    EXAMPLES,
    PLANNER,
    Ledger,
    assert_books_balance,
    decision,
    kr,
    line,
    recorded_at,
)

GRANT = "gnv-2022"
PLAN = EXAMPLES / "god-och-nara-vard-2022.yaml"
AS_WRITTEN = EXAMPLES / "god-och-nara-vard-2022-as-written.yaml"

# 003 §3: "Tilldelning ... fördelas till Region Jämtland Härjedalen enligt följande".
AWARDS = {
    "nara-vard": kr(30_593_953),
    "medarbetare": kr(24_796_007),
    "vidareutbildning": kr(5_052_676),
    "karriartjanster": kr(1_263_169),
    "e-halsa": kr(1_263_169),
    "ambulans": kr(1_441_061),
}
TOTAL = kr(64_410_035)

# 003 §3.1.1-§3.1.4, as loaded (vidareutbildning and ambulans at their award, see the plan file).
ACTIVITIES = {
    "lokalt-arbete": ("nara-vard", kr(24_000_000)),
    "gemensam-plan": ("nara-vard", kr(500_000)),
    "fast-lakarkontakt": ("nara-vard", kr(300_000)),
    "regelverk-kunskapsstyrning": ("nara-vard", kr(500_000)),
    "personcentrering": ("nara-vard", kr(1_000_000)),
    "uppfoljning-halsoval": ("nara-vard", kr(300_000)),
    "barnhalsovard": ("nara-vard", kr(1_000_000)),
    "webbplatser": ("medarbetare", kr(6_700_000)),
    "vardlots": ("medarbetare", kr(2_000_000)),
    "handledning-digitala-verktyg": ("medarbetare", kr(2_500_000)),
    "digital-plattform-utbildning": ("medarbetare", kr(600_000)),
    "cambio": ("medarbetare", kr(4_600_000)),
    "inera-projekt": ("medarbetare", kr(5_300_000)),
    "servicetjanster": ("medarbetare", kr(1_000_000)),
    "privata-vardgivare": ("medarbetare", kr(500_000)),
    "vidareutbildning-ssk": ("vidareutbildning", kr(5_052_676)),
    "karriartjanster": ("karriartjanster", kr(1_263_000)),
    "e-halsa-standarder": ("e-halsa", kr(1_263_000)),
    "ambulans-utveckling": ("ambulans", kr(1_441_061)),
}


@pytest.fixture
def gnv(engine: Engine) -> Ledger:
    ledger = Ledger(engine)
    results = ledger.load_plan(PLAN)
    assert len(results) == 1 + len(ACTIVITIES)
    return ledger


# --- the plan: every figure of §3 --------------------------------------------------------------


def test_total_award_is_64_410_035_kr(gnv: Ledger) -> None:
    f = gnv.figures(GRANT)
    assert f.awarded == TOTAL == sum(AWARDS.values())
    assert f.spent == f.received == f.repaid == f.unclassified_spent == 0
    assert f.remaining == TOTAL


def test_each_area_has_its_award_and_cost_object(gnv: Ledger) -> None:
    f = gnv.figures(GRANT)
    assert {a.code: a.awarded for a in f.areas} == AWARDS
    assert {a.code: a.cost_object for a in f.areas} == {
        "nara-vard": "9916",
        "medarbetare": "9917",
        "vidareutbildning": "9917",
        "karriartjanster": "9917",
        "e-halsa": "9942",
        "ambulans": "9942",
    }
    state = gnv.queries.grant_state(GRANT)
    assert [a for a in state.areas if state.areas[a].ring_fenced] == [
        "vidareutbildning",
        "karriartjanster",
    ]


def test_each_activity_is_allocated_its_planned_amount(gnv: Ledger) -> None:
    f = gnv.figures(GRANT)
    got = {x.code: (x.area, x.allocated) for a in f.areas for x in a.activities}
    assert got == ACTIVITIES
    assert all(
        x.spent == 0 and x.remaining == x.allocated and not x.overspent
        for a in f.areas
        for x in a.activities
    )


def test_unallocated_of_nara_vard_is_exact_not_the_documents_rounded_2_994_000(
    gnv: Ledger,
) -> None:
    # §3.1.1 writes "Ofördelat 2 994 000 kr", "TOTALT 30 594 000 kr": 47 kr more than the award.
    planned = sum(amount for area, amount in ACTIVITIES.values() if area == "nara-vard")
    assert planned + kr(2_994_000) == kr(30_594_000) != AWARDS["nara-vard"]
    area = gnv.area(GRANT, "nara-vard")
    assert area.allocated == kr(27_600_000)
    assert area.unallocated == kr(2_993_953)
    assert area.allocated + area.unallocated == area.awarded


def test_unallocated_of_medarbetare_is_1_596_007_kr(gnv: Ledger) -> None:
    area = gnv.area(GRANT, "medarbetare")
    assert area.allocated == kr(23_200_000)
    assert area.unallocated == kr(1_596_007) == kr(24_796_007) - kr(23_200_000)


def test_the_other_areas_keep_what_the_rounded_plan_left(gnv: Ledger) -> None:
    f = gnv.figures(GRANT)
    unallocated = {a.code: a.unallocated for a in f.areas}
    assert unallocated == {
        "nara-vard": kr(2_993_953),
        "medarbetare": kr(1_596_007),
        "vidareutbildning": 0,
        "karriartjanster": kr(169),  # 1 263 169 − "1 263 000"
        "e-halsa": kr(169),
        "ambulans": 0,
    }
    assert f.allocated == kr(59_819_737)
    assert f.unallocated == kr(4_590_298)
    assert f.allocated + f.unallocated == TOTAL


def test_reporting_obligations_of_section_4_are_stored(gnv: Ledger) -> None:
    state = gnv.queries.grant_state(GRANT)
    assert state.reporting == (
        cmd.ReportingObligation("delredovisning", date(2022, 9, 30), "Socialstyrelsen"),
        cmd.ReportingObligation("VFU-redovisning", date(2022, 11, 30), "Socialstyrelsen"),
        cmd.ReportingObligation("slutredovisning", date(2023, 3, 31), "Socialstyrelsen"),
    )
    assert state.decision == cmd.Decision(
        "RS 2022-05-04 God och nära vård", date(2022, 5, 4), "Regionstyrelsen"
    )
    assert (state.spend_from, state.spend_to) == (date(2022, 1, 1), date(2022, 12, 31))


def test_plan_as_written_is_refused_naming_area_available_and_requested() -> None:
    """Rule 1: "Vidareutbildning 5 053 000" > 5 052 676 and ambulance "1 442 000" > 1 441 061."""
    state, problems = plan.check(plan.read(AS_WRITTEN))
    assert [type(p) for p in problems] == [errors.OverAllocation, errors.OverAllocation]
    vidare, ambulans = problems
    assert vidare.fields == {
        "rule": "no-over-allocation",
        "grant_id": GRANT,
        "area": "vidareutbildning",
        "available": 505267600,
        "requested": 505300000,
    }
    assert "'vidareutbildning'" in vidare.detail
    assert "5 052 676.00 kr" in vidare.detail
    assert "5 053 000.00 kr" in vidare.detail
    assert "324.00 kr too much" in vidare.detail
    assert ambulans.fields["area"] == "ambulans"
    assert (ambulans.fields["available"], ambulans.fields["requested"]) == (144106100, 144200000)
    assert "939.00 kr too much" in ambulans.detail
    # Every other command of the plan is accepted.
    assert state is not None
    assert set(state.activities) == set(ACTIVITIES) - {
        "vidareutbildning-ssk",
        "ambulans-utveckling",
    }


def test_plan_as_written_through_the_service_refuses_the_over_allocation_and_writes_nothing(
    engine: Engine,
) -> None:
    ledger = Ledger(engine)
    commands = plan.commands(plan.read(AS_WRITTEN))
    vidare = next(c for c in commands if getattr(c, "code", None) == "vidareutbildning-ssk")
    for c in commands:
        if c is not vidare and getattr(c, "code", None) != "ambulans-utveckling":
            ledger.run(c, PLANNER)
    before = ledger.snapshot()
    with pytest.raises(errors.OverAllocation) as refused:
        ledger.run(vidare, PLANNER)
    assert (refused.value.available, refused.value.requested) == (kr(5_052_676), kr(5_053_000))
    assert refused.value.fields["area"] == "vidareutbildning"
    assert ledger.snapshot() == before
    assert ledger.area(GRANT, "vidareutbildning").unallocated == kr(5_052_676)


# --- the year 2022 -----------------------------------------------------------------------------


def tell_the_year(ledger: Ledger) -> GrantFigures:
    """The year of God och nära vård 2022, checked step by step; returns the final figures."""
    ledger.load_plan(PLAN)

    # 1. Money arrives from SKR in two payments (öre included).
    ledger.run(cmd.RecordReceipt(GRANT, kr("32205017.50"), date(2022, 6, 15), "SKR utbet 1"))
    ledger.run(cmd.RecordReceipt(GRANT, kr("32205017.50"), date(2022, 11, 15), "SKR utbet 2"))
    assert ledger.figures(GRANT).received == TOTAL

    # 2. The ERP posts the first quarter. 9916 is nära vård alone; 9917 serves three areas and
    #    9942 two, so their lines without an activity are the grant's unclassified spend.
    nv_open = line("9916", kr("12345.67"), date(2022, 3, 15))
    m_open = line("9917", kr(20_000), date(2022, 3, 20))
    e_open = line("9942", kr(15_000), date(2022, 3, 10))
    q1 = ledger.spend(
        line("9916", kr(1_250_000), date(2022, 2, 28), activity="lokalt-arbete"),
        line("9916", kr("85000.50"), date(2022, 3, 31), activity="barnhalsovard"),
        nv_open,
        line("9917", kr(400_000), date(2022, 3, 31), activity="webbplatser"),
        m_open,
        e_open,
        line("9942", kr(100_000), date(2022, 3, 31), activity="ambulans-utveckling"),
    )
    assert [(o.grant_id, o.status) for o in q1.lines] == [(GRANT, "recorded")] * 7
    tx = {o.line_id: o.transaction_id for o in q1.lines}
    assert [e.data["area"] for e in q1.events][2:6] == ["nara-vard", "medarbetare", None, None]
    f = ledger.figures(GRANT)
    assert f.spent == kr("1882346.17")
    assert f.unclassified_spent == kr("47345.67")  # 12 345.67 + 20 000 + 15 000
    assert f.remaining == TOTAL - kr("1882346.17")
    nara = ledger.area(GRANT, "nara-vard")
    assert nara.spent == kr("1347346.17")
    assert nara.unclassified_spent == kr("12345.67")
    assert nara.unallocated == kr(2_993_953) - kr("12345.67")  # area-level spend draws on it
    assert ledger.area(GRANT, "medarbetare").spent == kr(400_000)  # 20 000 is on no area yet
    assert ledger.area(GRANT, "e-halsa").spent == 0

    # 3. March is closed: a late March line and a March receipt are refused, nothing is written.
    closed = ledger.run(cmd.ClosePeriod("2022-03"), ADMIN)
    before = ledger.snapshot()
    late = line("9916", kr(5_000), date(2022, 3, 25), activity="lokalt-arbete")
    with pytest.raises(errors.UnplaceableSpend) as refused:
        ledger.spend(late)
    assert [(e.line_id, e.field, e.code) for e in refused.value.errors] == [
        (late.line_id, "booked_on", "closed-period")
    ]
    with pytest.raises(errors.PeriodClosed):
        ledger.run(cmd.RecordReceipt(GRANT, kr(1), date(2022, 3, 31), "för sent"))
    assert ledger.snapshot() == before
    known_before_classification = recorded_at(closed)
    time.sleep(0.01)  # the database clock must move on before the correction

    # 4. In April the controller classifies the open lines (allowed in a closed month: it books
    #    nothing new, it says where March's spend belonged). 9942 spend cannot go to a 9916
    #    activity, and a classified line cannot be classified again.
    with pytest.raises(errors.UnplaceableSpend) as refused:
        ledger.classify(tx[e_open.line_id], "lokalt-arbete")
    assert refused.value.errors[0].code == "activity-not-on-cost-object"
    ledger.classify(tx[e_open.line_id], "e-halsa-standarder")
    ledger.classify(tx[m_open.line_id], "vardlots")
    ledger.classify(tx[nv_open.line_id], "personcentrering")
    with pytest.raises(errors.AlreadyClassified):
        ledger.classify(tx[m_open.line_id], "webbplatser")
    f = ledger.figures(GRANT)
    assert f.unclassified_spent == 0
    assert f.spent == kr("1882346.17")
    assert ledger.area(GRANT, "nara-vard").unallocated == kr(2_993_953)
    assert ledger.activity(GRANT, "personcentrering").spent == kr("12345.67")
    assert ledger.activity(GRANT, "vardlots").spent == kr(20_000)
    assert ledger.area(GRANT, "medarbetare").spent == kr(420_000)
    assert ledger.area(GRANT, "e-halsa").spent == kr(15_000)
    # Bitemporal: March as it was known before the classification, and as it is known now.
    march_then = ledger.figures(
        GRANT, as_of=date(2022, 3, 31), known_at=known_before_classification
    )
    march_now = ledger.figures(GRANT, as_of=date(2022, 3, 31))
    assert march_then.spent == march_now.spent == kr("1882346.17")
    assert march_then.unclassified_spent == kr("47345.67")
    assert march_now.unclassified_spent == 0
    assert {a.code: a.spent for a in march_then.areas}["e-halsa"] == 0
    assert {a.code: a.spent for a in march_now.areas}["e-halsa"] == kr(15_000)

    # 5. "Kan vid behov omfördelas mellan de olika aktiviteterna": inside nära vård.
    delegated = decision("HoS-direktör, delegation", date(2022, 6, 1))
    ledger.reallocate(GRANT, "uppfoljning-halsoval", "fast-lakarkontakt", kr(200_000), on=delegated)
    assert ledger.activity(GRANT, "uppfoljning-halsoval").allocated == kr(100_000)
    assert ledger.activity(GRANT, "fast-lakarkontakt").allocated == kr(500_000)
    assert ledger.area(GRANT, "nara-vard").allocated == kr(27_600_000)
    assert ledger.area(GRANT, "nara-vard").unallocated == kr(2_993_953)
    before = ledger.snapshot()
    # Rule 3: no more than the source has left (allocated − spent).
    with pytest.raises(errors.InsufficientRemaining) as short:
        ledger.reallocate(GRANT, "uppfoljning-halsoval", "barnhalsovard", kr("100000.01"))
    assert (short.value.available, short.value.requested) == (kr(100_000), kr("100000.01"))
    # Rule 2: "dock inte satsningen på vidareutbildning för sjuksköterskor och karriärtjänster".
    with pytest.raises(errors.RingFenced) as fenced:
        ledger.reallocate(GRANT, "vidareutbildning-ssk", "webbplatser", kr(100_000))
    assert fenced.value.fields["area"] == "vidareutbildning"
    assert fenced.value.fields["activity"] == "vidareutbildning-ssk"
    with pytest.raises(errors.RingFenced) as fenced:
        ledger.reallocate(GRANT, "webbplatser", "karriartjanster", kr(1_000))
    assert fenced.value.fields["area"] == "karriartjanster"
    # Rule 3: reallocation stays inside its area, even between areas sharing 9942.
    with pytest.raises(errors.CrossAreaReallocation) as across:
        ledger.reallocate(GRANT, "lokalt-arbete", "webbplatser", kr(1_000))
    assert (across.value.fields["from_area"], across.value.fields["to_area"]) == (
        "nara-vard",
        "medarbetare",
    )
    with pytest.raises(errors.CrossAreaReallocation):
        ledger.reallocate(GRANT, "e-halsa-standarder", "ambulans-utveckling", kr(1_000))
    assert ledger.snapshot() == before

    # 6. Rule 4: an investment cannot be booked on the object, its year's depreciation can.
    investment = line(
        "9917", kr(1_200_000), date(2022, 6, 30), activity="cambio", kind="investment"
    )
    depreciation = line(
        "9917", kr(240_000), date(2022, 6, 30), activity="cambio", kind="depreciation"
    )
    with pytest.raises(errors.UnplaceableSpend) as refused:
        ledger.spend(investment, depreciation)
    assert [(e.line_id, e.field, e.code) for e in refused.value.errors] == [
        (investment.line_id, "kind", "investment-not-allowed")
    ]
    assert ledger.snapshot() == before
    ledger.spend(depreciation)
    assert ledger.activity(GRANT, "cambio").spent == kr(240_000)

    # 7. Rule 4: overspend is a fact, recorded and shown.
    ledger.spend(
        line("9916", kr(400_000), date(2022, 9, 30), activity="gemensam-plan"),
        line("9916", kr("250000.25"), date(2022, 9, 30), activity="gemensam-plan"),
    )
    plan_figures = ledger.activity(GRANT, "gemensam-plan")
    assert plan_figures.allocated == kr(500_000)
    assert plan_figures.spent == kr("650000.25")
    assert plan_figures.remaining == -kr("150000.25")
    assert plan_figures.overspent

    # 8. A line on the wrong activity is reversed (rättelse); the line itself stays.
    wrong = ledger.spend(
        line("9916", kr(99_999), date(2022, 5, 10), activity="regelverk-kunskapsstyrning")
    )
    wrong_tx = wrong.lines[0].transaction_id
    reversal = ledger.reverse(wrong_tx, date(2022, 5, 12))
    assert reversal.lines[0].status == "reversal"
    assert ledger.activity(GRANT, "regelverk-kunskapsstyrning").spent == 0
    assert ledger.activity(GRANT, "regelverk-kunskapsstyrning", as_of=date(2022, 5, 11)).spent == (
        kr(99_999)
    )
    assert ledger.queries.line(wrong_tx).status == "reversed"
    assert ledger.queries.line(wrong_tx).reversed_by == reversal.lines[0].transaction_id
    before = ledger.snapshot()
    with pytest.raises(errors.AlreadyReversed):
        ledger.reverse(wrong_tx, date(2022, 5, 13))
    with pytest.raises(errors.NotReversible):
        ledger.reverse(reversal.lines[0].transaction_id, date(2022, 5, 13))
    assert ledger.snapshot() == before

    # 9. Rule 6: a new activity needs an exit plan.
    for exit_plan in (None, "   "):
        with pytest.raises(errors.ExitPlanRequired):
            ledger.allocate(
                GRANT,
                "digital-vardcentral",
                "nara-vard",
                kr(500_000),
                new_activity=True,
                exit_plan=exit_plan,
            )
    assert ledger.snapshot() == before
    ledger.allocate(
        GRANT,
        "digital-vardcentral",
        "nara-vard",
        kr(500_000),
        new_activity=True,
        exit_plan="Implementeras i ordinarie budget för primärvården från 2023",
        on=decision("RS/1234/2022", date(2022, 6, 14)),
    )
    assert ledger.area(GRANT, "nara-vard").unallocated == kr(2_493_953)

    # 10. December: spend on 9942 without activity must be classified before the year closes.
    december = ledger.spend(line("9942", kr(30_000), date(2022, 12, 20)))
    year_end = decision("RS årsbokslut 2022", date(2023, 2, 15))
    with pytest.raises(errors.UnclassifiedSpendOpen) as still_open:
        ledger.run(cmd.CloseYear(GRANT, 2022, year_end), PLANNER)
    assert still_open.value.fields["unclassified"] == kr(30_000)
    ledger.classify(december.lines[0].transaction_id, "ambulans-utveckling")

    # 11. As of the end of March and as of the year's end.
    march = ledger.figures(GRANT, as_of=date(2022, 3, 31))
    assert march.spent == kr("1882346.17")
    spent_2022 = kr("1997346.42") + kr(660_000) + kr(15_000) + kr(130_000)
    year = ledger.figures(GRANT, as_of=date(2022, 12, 31))
    assert year.spent == spent_2022 == kr("2802346.42")
    assert year.awarded == TOTAL
    assert year.received == TOTAL
    assert year.remaining == TOTAL - spent_2022

    # 12. The year is closed: unspent activity budgets return to their areas.
    ledger.run(cmd.CloseYear(GRANT, 2022, year_end), PLANNER)
    nara = ledger.area(GRANT, "nara-vard")
    assert nara.spent == kr("1997346.42")  # 1 250 000 + 85 000.50 + 12 345.67 + 650 000.25
    assert nara.allocated == kr("1847346.17")  # what was spent, the overspent plan at 500 000
    assert nara.unallocated == kr(30_593_953) - kr("1847346.17")
    assert nara.remaining == kr(30_593_953) - kr("1997346.42")
    assert ledger.activity(GRANT, "gemensam-plan").remaining == -kr("150000.25")
    assert ledger.activity(GRANT, "lokalt-arbete").allocated == kr(1_250_000)
    assert ledger.activity(GRANT, "vidareutbildning-ssk").allocated == 0
    with pytest.raises(errors.UnplaceableSpend) as refused:
        ledger.spend(line("9916", kr(1), date(2022, 12, 30), activity="lokalt-arbete"))
    assert refused.value.errors[0].code == "closed-period"
    with pytest.raises(errors.YearClosed):
        ledger.allocate(GRANT, "for-sent", "nara-vard", kr(1), on=decision(on=date(2022, 12, 1)))
    with pytest.raises(errors.YearAlreadyClosed):
        ledger.run(cmd.CloseYear(GRANT, 2022, year_end), PLANNER)

    # 13. What was not spent goes back to the funder, area by area, quoting the agreement.
    for area in ledger.figures(GRANT).areas:
        ledger.run(cmd.RepayUnspent(GRANT, area.code, area.remaining, date(2023, 3, 31)), PLANNER)
    repayments = [e for e in ledger.events() if e.event_type == "RepaymentRecorded"]
    assert {e.data["reference"] for e in repayments} == {"Överenskommelse God och nära vård 2022"}
    assert {e.data["area"]: e.data["amount"] for e in repayments} == {
        "nara-vard": kr("28596606.58"),
        "medarbetare": kr(24_136_007),  # 24 796 007 − 400 000 − 20 000 − 240 000
        "vidareutbildning": kr(5_052_676),
        "karriartjanster": kr(1_263_169),
        "e-halsa": kr(1_248_169),
        "ambulans": kr(1_311_061),
    }
    final = ledger.figures(GRANT)
    assert final.repaid == TOTAL - spent_2022 == kr("61607688.58")
    assert final.remaining == 0
    assert all(a.remaining == 0 for a in final.areas)
    # As of the year's end nothing was repaid yet.
    assert ledger.figures(GRANT, as_of=date(2022, 12, 31)).repaid == 0
    return final


def test_the_year_2022_told_through_the_service(engine: Engine) -> None:
    final = tell_the_year(Ledger(engine))
    assert final.awarded == TOTAL
    assert final.spent == kr("2802346.42")
    assert final.unclassified_spent == 0
    assert_books_balance(engine)


# --- cost object 9942 serves two areas -------------------------------------------------------


def test_cost_object_9942_balances_show_its_unclassified_spend(gnv: Ledger) -> None:
    """Found here: spend on a shared cost object without an activity vanished from that cost
    object's balances (it sat on the grant, not on an area).
    """
    unplaced = gnv.spend(
        line("9942", kr(15_000), date(2022, 3, 10)),
        line("9917", kr(20_000), date(2022, 3, 20)),
    )
    assert gnv.figures(GRANT).unclassified_spent == kr(35_000)

    def on(cost_object: str) -> GrantFigures:
        [answer] = gnv.queries.balances(grant_id=GRANT, cost_object=cost_object)
        return answer.figures

    assert (on("9942").spent, on("9942").unclassified_spent) == (kr(15_000), kr(15_000))
    assert (on("9917").spent, on("9917").unclassified_spent) == (kr(20_000), kr(20_000))
    assert (on("9916").spent, on("9916").unclassified_spent) == (0, 0)
    assert on("9942").awarded == kr(1_263_169) + kr(1_441_061)
    gnv.classify(unplaced.lines[0].transaction_id, "ambulans-utveckling")
    assert (on("9942").spent, on("9942").unclassified_spent) == (kr(15_000), 0)
    assert gnv.area(GRANT, "ambulans").spent == kr(15_000)


# --- as known at a time, asked in Swedish local time --------------------------------------------


def test_known_at_in_swedish_summer_time_is_the_same_instant_as_in_utc(gnv: Ledger) -> None:
    """Found here: SQLite compared a +02:00 known_at as UTC wall time (two hours too late)."""
    first = gnv.spend(line("9916", kr(10_000), date(2022, 3, 1), activity="lokalt-arbete"))
    time.sleep(0.01)
    gnv.spend(line("9916", kr(5_000), date(2022, 3, 2), activity="lokalt-arbete"))
    utc_instant = recorded_at(first)
    cest = utc_instant.astimezone(timezone(timedelta(hours=2)))
    assert cest == utc_instant
    in_utc = gnv.activity(GRANT, "lokalt-arbete", known_at=utc_instant).spent
    in_cest = gnv.activity(GRANT, "lokalt-arbete", known_at=cest).spent
    assert in_utc == kr(10_000)
    assert in_cest == in_utc
