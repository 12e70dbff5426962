"""Seeds 000 and 002: "Ny uppdaterad kömiljard" 2019, RS/498/2019.

Regionstyrelsen 2019-08-27 § 123 decided that "de 4 075 153kr, som regionen erhållit för
förberedelsearbetet ... i sin helhet ska nyttjas för detta arbete"; the regional director's
proposal of 2019-10-20 puts it on "en väntetidssamordnande funktion på 100 %" and "utveckling av
IT-stöd".  The documents give no split between the two and no cost object: those figures
(``FUNKTION``, ``9801``) are test data, the award is the document's to the öre.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine

from ledger.domain import commands as cmd
from ledger.domain import errors
from tests.support.ledger import PLANNER, Ledger, assert_books_balance, kr, line

GRANT = "komiljard-2019"
AWARD = kr(4_075_153)
RS_123 = cmd.Decision("RS/498/2019 § 123", date(2019, 8, 27), "Regionstyrelsen")
PROPOSAL = cmd.Decision("RS/498/2019", date(2019, 10, 20), "Regionstyrelsen")
FUNKTION = kr(1_150_000)  # a year and some of a full-time coordinator (test data)
IT_STOD = AWARD - FUNKTION  # "i sin helhet": the rest, to the öre


@pytest.fixture
def komiljard(engine: Engine) -> Ledger:
    ledger = Ledger(engine)
    ledger.register(
        GRANT,
        [
            cmd.AreaSpec(
                "forberedelsearbete",
                "Förberedelsearbete för ny, uppdaterad kömiljard",
                AWARD,
                "9801",
                "Chef Hälso- och sjukvårdspolitiska avdelningen",
            )
        ],
        spend_from=date(2019, 1, 1),
        spend_to=date(2019, 12, 31),
        on=RS_123,
        name="Ny uppdaterad kömiljard 2019",
        reporting=(cmd.ReportingObligation("nulägesrapport", date(2019, 10, 15), "SKL"),),
        repayment_reference="RS/498/2019",
    )
    return ledger


def allocate_the_proposal(ledger: Ledger) -> None:
    ledger.allocate(
        GRANT,
        "vantetidssamordnare",
        "forberedelsearbete",
        FUNKTION,
        on=PROPOSAL,
        name="Väntetidssamordnande funktion 100 %",
        responsible="Hälso- och sjukvårdsdirektör",
    )
    ledger.allocate(
        GRANT,
        "it-stod",
        "forberedelsearbete",
        IT_STOD,
        on=PROPOSAL,
        name="Utveckling av IT-stöd",
        responsible="IT-chef",
    )


def test_award_is_4_075_153_kr(komiljard: Ledger) -> None:
    f = komiljard.figures(GRANT)
    assert f.awarded == AWARD == 407515300
    assert f.unallocated == AWARD
    assert f.remaining == AWARD
    [area] = f.areas
    assert (area.code, area.awarded) == ("forberedelsearbete", AWARD)
    grant = komiljard.queries.grant_state(GRANT)
    assert grant.decision == RS_123
    assert grant.reporting == (
        cmd.ReportingObligation("nulägesrapport", date(2019, 10, 15), "SKL"),
    )


def test_the_two_measures_use_the_award_in_full(komiljard: Ledger) -> None:
    """ "i sin helhet ska nyttjas för detta arbete": allocated = awarded, nothing unallocated."""
    allocate_the_proposal(komiljard)
    [area] = komiljard.figures(GRANT).areas
    assert area.allocated == AWARD
    assert area.unallocated == 0
    assert {a.code: a.allocated for a in area.activities} == {
        "vantetidssamordnare": kr(1_150_000),
        "it-stod": kr(2_925_153),
    }


def test_one_ore_more_than_the_award_is_refused_naming_area_available_and_requested(
    komiljard: Ledger,
) -> None:
    komiljard.allocate(GRANT, "vantetidssamordnare", "forberedelsearbete", FUNKTION, on=PROPOSAL)
    before = komiljard.snapshot()
    with pytest.raises(errors.OverAllocation) as refused:
        komiljard.allocate(GRANT, "it-stod", "forberedelsearbete", IT_STOD + 1, on=PROPOSAL)
    assert refused.value.fields["area"] == "forberedelsearbete"
    assert refused.value.available == kr(2_925_153)
    assert refused.value.requested == kr("2925153.01")
    assert "0.01 kr too much" in refused.value.detail
    assert komiljard.snapshot() == before
    komiljard.allocate(GRANT, "it-stod", "forberedelsearbete", IT_STOD, on=PROPOSAL)
    assert komiljard.figures(GRANT).unallocated == 0
    # Full: not one öre more, for any activity.
    with pytest.raises(errors.OverAllocation) as refused:
        komiljard.allocate(GRANT, "extra", "forberedelsearbete", 1, on=PROPOSAL)
    assert (refused.value.available, refused.value.requested) == (0, 1)


def test_every_allocation_names_decision_rs_498_2019(komiljard: Ledger) -> None:
    allocate_the_proposal(komiljard)
    planning = komiljard.events(stream_id=f"grant-{GRANT}")
    assert [e.meta["decision"]["ref"] for e in planning] == [
        "RS/498/2019 § 123",
        "RS/498/2019",
        "RS/498/2019",
    ]
    assert planning[0].meta["decision"] == {
        "ref": "RS/498/2019 § 123",
        "date": "2019-08-27",
        "body": "Regionstyrelsen",
    }
    with pytest.raises(errors.DecisionRequired):
        komiljard.run(
            cmd.AllocateActivity(
                GRANT, "utan-beslut", "forberedelsearbete", "x", kr(1), "x", decision=None
            ),
            PLANNER,
        )


def test_the_award_spent_in_full_leaves_nothing_to_release_or_repay(komiljard: Ledger) -> None:
    allocate_the_proposal(komiljard)
    komiljard.run(cmd.RecordReceipt(GRANT, AWARD, date(2019, 6, 28), "SKL kömiljard 2019"))
    salaries = [
        line("9801", kr("95833.33"), date(2019, month, 25), activity="vantetidssamordnare")
        for month in range(11, 13)
    ]
    komiljard.spend(
        *salaries,
        line(
            "9801", FUNKTION - kr("191666.66"), date(2019, 12, 31), activity="vantetidssamordnare"
        ),
        line("9801", kr(2_000_000), date(2019, 11, 15), activity="it-stod"),
        line("9801", kr(925_153), date(2019, 12, 20), activity="it-stod"),
    )
    f = komiljard.figures(GRANT)
    assert f.spent == AWARD
    assert f.remaining == 0
    assert f.received == AWARD
    assert all(a.remaining == 0 and not a.overspent for a in f.areas[0].activities)
    komiljard.run(
        cmd.CloseYear(GRANT, 2019, cmd.Decision("RS årsbokslut 2019", date(2020, 2, 1), "RS")),
        PLANNER,
    )
    closed = [e for e in komiljard.events() if e.event_type == "YearClosed"]
    assert closed[0].data["released"] == []
    with pytest.raises(errors.RepaymentExceedsUnallocated) as refused:
        komiljard.run(cmd.RepayUnspent(GRANT, "forberedelsearbete", 1, date(2020, 3, 31)))
    assert (refused.value.available, refused.value.requested) == (0, 1)
    assert komiljard.figures(GRANT).repaid == 0
    assert_books_balance(komiljard.engine)
