"""Seed 001: "Nationell satsning Patientmiljarden inkl. tilläggsöverenskommelse 2018", RS/2771/2017.

The region received "12,6 miljoner" for Patientmiljarden (its handlingsplan decided by
Regionstyrelsen 2018-04-25) and then "ytterligare 7,7 miljoner" from the supplementary agreement
(tilläggsöverenskommelse), which the director proposes to split: "5 135 000 kronor ... till
insatser för ökad tillgänglighet ... och förkortade köer och 2 600 000 kronor ... för att behålla
och anställa vårdpersonal ... efter 65 års ålder", the first distributed by the director of
health care, the second by the HR director.

Modelled as one grant whose supplementary areas are registered with a 0 award and raised by
``AmendAward`` under RS/2771/2017.  Cost objects are not in the document (test data).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine

from ledger.domain import commands as cmd
from ledger.domain import errors
from tests.support.ledger import PLANNER, Ledger, assert_books_balance, kr, line

GRANT = "patientmiljarden-2018"
HANDLINGSPLAN = cmd.Decision(
    "RS handlingsplan Patientmiljarden", date(2018, 4, 25), "Regionstyrelsen"
)
TILLAGG = cmd.Decision("RS/2771/2017", date(2018, 10, 11), "Regionstyrelsen")
BASE = kr(12_600_000)  # "12,6 miljoner"
KOER = kr(5_135_000)
PERSONAL_65 = kr(2_600_000)


@pytest.fixture
def patientmiljarden(engine: Engine) -> Ledger:
    ledger = Ledger(engine)
    ledger.register(
        GRANT,
        [
            cmd.AreaSpec(
                "primarvard",
                "Tillgänglig och patientcentrerad primärvård",
                BASE,
                "9810",
                "Hälso- och sjukvårdsdirektör",
            ),
            cmd.AreaSpec(
                "tillganglighet-koer",
                "Ökad tillgänglighet och förkortade köer (tilläggsöverenskommelse)",
                0,
                "9811",
                "Hälso- och sjukvårdsdirektör",
            ),
            cmd.AreaSpec(
                "personal-65-plus",
                "Behålla och anställa vårdpersonal efter 65 års ålder (tilläggsöverenskommelse)",
                0,
                "9812",
                "Personaldirektör",
            ),
        ],
        spend_from=date(2018, 1, 1),  # "insatser genomförda under hela 2018"
        spend_to=date(2018, 12, 31),
        on=HANDLINGSPLAN,
        name="Patientmiljarden 2018",
        repayment_reference="RS/2771/2017",
    )
    return ledger


def amend_with_the_supplementary_agreement(ledger: Ledger) -> None:
    ledger.run(
        cmd.AmendAward(GRANT, "tillganglighet-koer", KOER, TILLAGG, "tilläggsöverenskommelse p.2"),
        PLANNER,
    )
    ledger.run(
        cmd.AmendAward(
            GRANT, "personal-65-plus", PERSONAL_65, TILLAGG, "tilläggsöverenskommelse p.2"
        ),
        PLANNER,
    )


def test_patientmiljarden_alone_is_12_600_000_kr(patientmiljarden: Ledger) -> None:
    f = patientmiljarden.figures(GRANT)
    assert f.awarded == BASE
    assert {a.code: a.awarded for a in f.areas} == {
        "primarvard": kr(12_600_000),
        "tillganglighet-koer": 0,
        "personal-65-plus": 0,
    }


def test_supplementary_agreement_adds_7_735_000_kr_to_its_two_areas(
    patientmiljarden: Ledger,
) -> None:
    amend_with_the_supplementary_agreement(patientmiljarden)
    f = patientmiljarden.figures(GRANT)
    assert {a.code: a.awarded for a in f.areas} == {
        "primarvard": kr(12_600_000),
        "tillganglighet-koer": kr(5_135_000),
        "personal-65-plus": kr(2_600_000),
    }
    assert kr(7_735_000) == KOER + PERSONAL_65  # "ytterligare 7,7 miljoner"
    assert f.awarded == kr(12_600_000) + kr(7_735_000) == kr(20_335_000)
    assert f.unallocated == f.remaining == kr(20_335_000)
    amended = [e for e in patientmiljarden.events() if e.event_type == "AwardAmended"]
    assert [(e.data["area"], e.data["previous"], e.data["awarded"]) for e in amended] == [
        ("tillganglighet-koer", 0, kr(5_135_000)),
        ("personal-65-plus", 0, kr(2_600_000)),
    ]
    assert {e.meta["decision"]["ref"] for e in amended} == {"RS/2771/2017"}
    assert all(e.effective_date == date(2018, 10, 11) for e in amended)
    # As of the day before RS/2771/2017 the supplementary money was not awarded yet.
    before = patientmiljarden.figures(GRANT, as_of=date(2018, 10, 10))
    assert before.awarded == BASE


def test_an_amendment_needs_its_decision_reference(patientmiljarden: Ledger) -> None:
    before = patientmiljarden.snapshot()
    with pytest.raises(errors.DecisionRequired) as refused:
        patientmiljarden.run(
            cmd.AmendAward(GRANT, "tillganglighet-koer", KOER, None, "utan beslut"), PLANNER
        )
    assert refused.value.fields["missing"] == "decision"
    with pytest.raises(errors.DecisionRequired):
        patientmiljarden.run(
            cmd.AmendAward(
                GRANT,
                "tillganglighet-koer",
                KOER,
                cmd.Decision(" ", date(2018, 10, 11), "RS"),
                "tom referens",
            ),
            PLANNER,
        )
    assert patientmiljarden.snapshot() == before


def test_the_directors_distribute_within_the_amended_awards_and_not_beyond(
    patientmiljarden: Ledger,
) -> None:
    """Beslut 3: HoS-direktören fördelar köer, personaldirektören 65+."""
    amend_with_the_supplementary_agreement(patientmiljarden)
    hos = cmd.Decision("RS/2771/2017 p.3, HoS-direktör", date(2018, 10, 20), "HoS-direktör")
    hr = cmd.Decision("RS/2771/2017 p.3, personaldirektör", date(2018, 10, 20), "Personaldirektör")
    patientmiljarden.allocate(
        GRANT, "kortare-koer-ortopedi", "tillganglighet-koer", kr(3_000_000), on=hos
    )
    patientmiljarden.allocate(
        GRANT, "kortare-koer-ogon", "tillganglighet-koer", kr(2_135_000), on=hos
    )
    patientmiljarden.allocate(GRANT, "behalla-65-plus", "personal-65-plus", kr(2_600_000), on=hr)
    with pytest.raises(errors.OverAllocation) as refused:
        patientmiljarden.allocate(GRANT, "ytterligare", "personal-65-plus", kr("0.01"), on=hr)
    assert refused.value.fields["area"] == "personal-65-plus"
    assert (refused.value.available, refused.value.requested) == (0, 1)
    # The award of an area whose money activities hold cannot be cut below it.
    with pytest.raises(errors.AmendmentBelowAllocated) as cut:
        patientmiljarden.run(
            cmd.AmendAward(GRANT, "personal-65-plus", kr(2_000_000), TILLAGG, "sänkning"),
            PLANNER,
        )
    assert (cut.value.available, cut.value.requested) == (0, kr(600_000))
    f = patientmiljarden.figures(GRANT)
    assert {a.code: (a.allocated, a.unallocated) for a in f.areas} == {
        "primarvard": (0, kr(12_600_000)),
        "tillganglighet-koer": (kr(5_135_000), 0),
        "personal-65-plus": (kr(2_600_000), 0),
    }


def test_supplementary_money_spent_and_the_books_balance(patientmiljarden: Ledger) -> None:
    amend_with_the_supplementary_agreement(patientmiljarden)
    patientmiljarden.allocate(
        GRANT,
        "behalla-65-plus",
        "personal-65-plus",
        kr(2_600_000),
        on=cmd.Decision("RS/2771/2017 p.3", date(2018, 10, 20), "Personaldirektör"),
    )
    patientmiljarden.run(cmd.RecordReceipt(GRANT, kr(12_600_000), date(2018, 6, 20), "SKL"))
    patientmiljarden.run(cmd.RecordReceipt(GRANT, kr(7_735_000), date(2018, 6, 29), "SKL tillägg"))
    patientmiljarden.spend(
        line("9812", kr("216666.67"), date(2018, 11, 25), activity="behalla-65-plus"),
        line("9812", kr("216666.67"), date(2018, 12, 25), activity="behalla-65-plus"),
        line("9811", kr(400_000), date(2018, 12, 15)),  # one area on 9811: the area's own spend
    )
    f = patientmiljarden.figures(GRANT)
    assert f.received == kr(20_335_000)
    assert f.spent == kr("833333.34")
    koer = {a.code: a for a in f.areas}["tillganglighet-koer"]
    assert koer.unclassified_spent == kr(400_000)
    assert koer.unallocated == kr(4_735_000)
    assert koer.remaining == kr(4_735_000)
    assert f.remaining == kr(20_335_000) - kr("833333.34")
    assert_books_balance(patientmiljarden.engine)
