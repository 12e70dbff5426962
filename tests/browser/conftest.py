"""Browser tests: Playwright driving Debian's Chromium against a real ``grantledger serve``.

One server per backend (SQLite, PostgreSQL) for the module, on a fresh database holding the
seed 003 plan, the funder's first payment and a few spend lines, two of them on the shared
cost object 9942 without an activity.  Each test gets a fresh browser context (no cookies).

Without Chromium or the ``playwright`` package the tests skip with one line saying why;
``GRANTLEDGER_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns that skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ledger import migrate
from ledger.db import create_engine
from ledger.domain import commands as cmd
from ledger.formats import plan as plans
from ledger.service import Actor, LedgerService, PostSpend, SpendLine
from tests.support.databases import fresh_database, postgres_reason
from tests.support.servers import Server, make_tokens

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GRANTLEDGER_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "screenshots"
PLAN = ROOT / "examples" / "god-och-nara-vard-2022.yaml"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


def browser_reason() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed"
    if chromium() is None:
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def browser_required() -> bool:
    return os.environ.get("GRANTLEDGER_REQUIRE_BROWSER", "") not in ("", "0", "false")


# Module, not session: Playwright's sync API keeps its event loop running in the worker's main
# thread while it is open, and a later test of another module that calls asyncio.run (the relay
# tests) would then fail with "cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = browser_reason()
    if reason is not None:
        if browser_required():
            pytest.fail(f"GRANTLEDGER_REQUIRE_BROWSER is set but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=chromium(), args=ARGS, headless=True)
        yield found
        found.close()


def _line(
    line_id: str, amount: int, cost_object: str, activity: str | None, day: date
) -> SpendLine:
    return SpendLine(
        line_id=line_id,
        voucher=f"V{line_id}",
        booked_on=day,
        amount=amount,
        cost_object=cost_object,
        activity=activity,
        account="4010",
        kind="expense",
        text="Faktura utan aktivitet" if activity is None else "Konsultarvode",
    )


def seed(url: str) -> None:
    """Seed 003 planned, half the money received, spend in March and June."""
    engine = create_engine(url, pool_size=1)
    try:
        migrate.upgrade(engine)
        service = LedgerService(engine)
        actor = Actor("seed", "admin")
        service.execute_all(plans.commands(plans.read(PLAN)), actor)
        service.execute(
            cmd.RecordReceipt("gnv-2022", 32_205_017_50, date(2022, 2, 25), "Utbetalning 50%"),
            actor,
        )
        lines = [
            _line("B-1", 2_000_000_00, "9916", "lokalt-arbete", date(2022, 3, 31)),
            _line("B-2", 1_500_000_00, "9916", "lokalt-arbete", date(2022, 6, 30)),
            _line("B-3", 900_000_00, "9917", "webbplatser", date(2022, 6, 30)),
            _line("B-4", 300_000_00, "9942", "e-halsa-standarder", date(2022, 6, 30)),
            _line("B-U1", 15_000_00, "9942", None, date(2022, 6, 30)),
            _line("B-U2", 22_500_00, "9942", None, date(2022, 6, 30)),
        ]
        service.execute(PostSpend("raindance", tuple(lines)), actor)
    finally:
        engine.dispose()


@dataclass
class LiveApp:
    backend: str
    url: str
    tokens: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_app(
    request: pytest.FixtureRequest,
    browser: Any,
    _postgres_available: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveApp]:
    if request.param == "postgresql" and not _postgres_available:
        pytest.skip(postgres_reason() or "PostgreSQL unavailable")
    tmp = tmp_path_factory.mktemp(f"browser-{request.param}")
    with fresh_database(request.param, tmp) as url:
        seed(url)
        tokens = make_tokens(url, prefix="ui")
        server = Server(url, tmp / "server.log", env={"GRANTLEDGER_LOG_LEVEL": "warning"})
        server.start()
        try:
            yield LiveApp(request.param, server.url, tokens)
        finally:
            server.close()


@pytest.fixture
def page(browser: Any, live_app: LiveApp) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_app.url,
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
        locale="sv-SE",
        timezone_id="Europe/Stockholm",
    )
    context.set_default_timeout(30_000)  # 2 shared cores under load: generous, not slow
    found = context.new_page()
    yield found
    context.close()
