"""Seed 004: "Professionsmiljarden" 2016, RS/176/2016.

"25 miljoner kronor är beviljade till Region Jämtland Härjedalen för år 2016."  Regionstyrelsen
2016-05-24—25 § 131 approved the distribution and let the director of health care "omdisponera
mellan kostnadsposterna"; by November "viss omfördelning av pengar har skett då några aktiviteter
har blivit billigare och några dyrare än beräknat", and "beviljade medel måste förbrukas i år".

Modelled as one area (the three purposes share one pot that is re-disposed freely) with the
activities the document names.  Their amounts and the cost object are test data; the award and
every figure derived from it are checked to the öre.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine

from ledger.domain import commands as cmd
from ledger.domain import errors
from tests.support.ledger import PLANNER, Ledger, assert_books_balance, kr, line

GRANT = "professionsmiljarden-2016"
AREA = "resursutnyttjande"
AWARD = kr(25_000_000)
RS_131 = cmd.Decision("RS/176/2016 § 131", date(2016, 5, 25), "Regionstyrelsen")
DELEGATION = cmd.Decision("RS/176/2016, delegation § 131", date(2016, 10, 31), "HoS-direktör")

PLANNED = {
    "mobilt-narvardsteam": kr(6_000_000),
    "ssk-forsta-aret": kr(1_500_000),
    "nova-cosmic": kr(7_000_000),
    "kundtjanst": kr(3_000_000),
    "betalningsansvar": kr(1_200_000),
    "virtuella-jourrum": kr(2_300_000),
}
PLANNED_TOTAL = kr(21_000_000)


@pytest.fixture
def professionsmiljarden(engine: Engine) -> Ledger:
    ledger = Ledger(engine)
    ledger.register(
        GRANT,
        [
            cmd.AreaSpec(
                AREA,
                "Stöd till bättre resursutnyttjande i hälso- och sjukvården",
                AWARD,
                "9820",
                "Hälso- och sjukvårdsdirektör",
            )
        ],
        spend_from=date(2016, 1, 1),
        spend_to=date(2016, 12, 31),
        on=RS_131,
        name="Professionsmiljarden 2016",
        repayment_reference="RS/176/2016",
    )
    for code, amount in PLANNED.items():
        ledger.allocate(GRANT, code, AREA, amount, on=RS_131)
    return ledger


def test_25_000_000_kr_awarded_and_planned(professionsmiljarden: Ledger) -> None:
    f = professionsmiljarden.figures(GRANT)
    assert f.awarded == kr(25_000_000)
    assert sum(PLANNED.values()) == PLANNED_TOTAL
    assert f.allocated == PLANNED_TOTAL
    assert f.unallocated == kr(4_000_000)  # "plan för omfördelning" of what is left over
    assert {x.code: x.allocated for x in f.areas[0].activities} == PLANNED


def test_viss_omfordelning_moves_money_from_cheaper_to_dearer_activities(
    professionsmiljarden: Ledger,
) -> None:
    ledger = professionsmiljarden
    ledger.spend(
        line("9820", kr("2456789.10"), date(2016, 9, 30), activity="nova-cosmic"),
        line("9820", kr(1_400_000), date(2016, 9, 30), activity="kundtjanst"),
        line("9820", kr(2_000_000), date(2016, 9, 30), activity="mobilt-narvardsteam"),
    )
    # NOVA got cheaper, the mobile team dearer: the director re-disposes under § 131.
    ledger.reallocate(GRANT, "nova-cosmic", "mobilt-narvardsteam", kr(1_500_000), on=DELEGATION)
    ledger.reallocate(GRANT, "kundtjanst", "ssk-forsta-aret", kr("250000.50"), on=DELEGATION)
    f = ledger.figures(GRANT)
    allocated = {x.code: x.allocated for x in f.areas[0].activities}
    assert allocated == {
        "mobilt-narvardsteam": kr(7_500_000),
        "ssk-forsta-aret": kr("1750000.50"),
        "nova-cosmic": kr(5_500_000),
        "kundtjanst": kr("2749999.50"),
        "betalningsansvar": kr(1_200_000),
        "virtuella-jourrum": kr(2_300_000),
    }
    assert f.allocated == PLANNED_TOTAL  # reallocation moves budget, it adds none
    assert f.unallocated == kr(4_000_000)
    # Not more than an activity has left: NOVA has 5 500 000 − 2 456 789.10.
    before = ledger.snapshot()
    with pytest.raises(errors.InsufficientRemaining) as refused:
        ledger.reallocate(GRANT, "nova-cosmic", "kundtjanst", kr("3043210.91"), on=DELEGATION)
    assert refused.value.available == kr("3043210.90")
    assert refused.value.requested == kr("3043210.91")
    assert refused.value.fields["activity"] == "nova-cosmic"
    assert ledger.snapshot() == before
    with pytest.raises(errors.DecisionRequired):
        ledger.run(
            cmd.Reallocate(GRANT, "nova-cosmic", "kundtjanst", kr(1), "utan beslut", None),
            PLANNER,
        )


def test_leftover_money_goes_to_other_activities_that_fit_the_purpose(
    professionsmiljarden: Ledger,
) -> None:
    """ "Vid eventuellt läge av 'överblivna' pengar finns en plan för omfördelning"."""
    ledger = professionsmiljarden
    ledger.allocate(
        GRANT,
        "utbildning-ai",
        AREA,
        kr(3_999_999),
        on=DELEGATION,
        new_activity=True,
        exit_plan="Engångsinsats 2016; inga löpande kostnader efter satsningen",
    )
    assert ledger.figures(GRANT).unallocated == kr(1)
    with pytest.raises(errors.OverAllocation) as refused:
        ledger.allocate(GRANT, "ytterligare", AREA, kr("1.01"), on=DELEGATION)
    assert (refused.value.available, refused.value.requested) == (kr(1), kr("1.01"))


def test_equipment_for_virtual_on_call_rooms_is_booked_as_depreciation_only(
    professionsmiljarden: Ledger,
) -> None:
    """ "Utrustning till virtuella jourrum": an investment line is refused (rule 4)."""
    ledger = professionsmiljarden
    equipment = line(
        "9820", kr(900_000), date(2016, 6, 1), activity="virtuella-jourrum", kind="investment"
    )
    with pytest.raises(errors.UnplaceableSpend) as refused:
        ledger.spend(equipment)
    assert [(e.line_id, e.field, e.code) for e in refused.value.errors] == [
        (equipment.line_id, "kind", "investment-not-allowed")
    ]
    ledger.spend(
        line(
            "9820",
            kr(105_000),
            date(2016, 12, 31),
            activity="virtuella-jourrum",
            kind="depreciation",
        )
    )
    assert ledger.activity(GRANT, "virtuella-jourrum").spent == kr(105_000)


def test_year_close_releases_unspent_budgets_and_what_is_left_is_repaid(
    professionsmiljarden: Ledger,
) -> None:
    """ "beviljade medel måste förbrukas i år": what is not, goes back to the funder."""
    ledger = professionsmiljarden
    ledger.run(cmd.RecordReceipt(GRANT, AWARD, date(2016, 3, 15), "SKL professionsmiljarden"))
    spend = {
        "mobilt-narvardsteam": kr("6812345.67"),  # dearer than planned: overspent
        "ssk-forsta-aret": kr(1_500_000),
        "nova-cosmic": kr("5123456.78"),
        "kundtjanst": kr(2_990_000),
        "betalningsansvar": kr(1_150_000),
        "virtuella-jourrum": kr(2_100_000),
    }
    ledger.spend(
        *(line("9820", amount, date(2016, 11, 30), activity=code) for code, amount in spend.items())
    )
    ledger.reallocate(GRANT, "nova-cosmic", "mobilt-narvardsteam", kr("812345.67"), on=DELEGATION)
    total_spent = sum(spend.values())
    assert total_spent == kr("19675802.45")
    f = ledger.figures(GRANT)
    assert f.spent == total_spent
    assert f.remaining == kr("5324197.55")
    assert not any(x.overspent for x in f.areas[0].activities)

    ledger.run(
        cmd.CloseYear(GRANT, 2016, cmd.Decision("RS/176/2016 bokslut", date(2017, 2, 1), "RS")),
        PLANNER,
    )
    [closed] = [e for e in ledger.events() if e.event_type == "YearClosed"]
    assert {r["activity"]: r["amount"] for r in closed.data["released"]} == {
        "nova-cosmic": kr("1064197.55"),  # 7 000 000 − 812 345.67 − 5 123 456.78
        "kundtjanst": kr(10_000),
        "betalningsansvar": kr(50_000),
        "virtuella-jourrum": kr(200_000),
    }
    f = ledger.figures(GRANT)
    assert f.allocated == total_spent
    assert f.unallocated == kr("5324197.55")  # 4 000 000 never allocated + 1 324 197.55 released
    assert all(x.remaining == 0 for x in f.areas[0].activities)

    with pytest.raises(errors.RepaymentExceedsUnallocated) as refused:
        ledger.run(cmd.RepayUnspent(GRANT, AREA, kr("5324197.56"), date(2017, 3, 31)), PLANNER)
    assert refused.value.available == kr("5324197.55")
    ledger.run(cmd.RepayUnspent(GRANT, AREA, kr("5324197.55"), date(2017, 3, 31)), PLANNER)
    f = ledger.figures(GRANT)
    assert f.repaid == kr("5324197.55")
    assert f.remaining == 0
    assert f.unallocated == 0
    assert f.spent + f.repaid == AWARD
    [repayment] = [e for e in ledger.events() if e.event_type == "RepaymentRecorded"]
    assert repayment.data["reference"] == "RS/176/2016"
    assert_books_balance(ledger.engine)
