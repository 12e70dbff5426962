"""Fixtures of the reliability tier: a fresh PostgreSQL database with load grants, the soak summary.

``make soak`` (``pytest -m slow tests/reliability``) writes ``soak-summary.json`` at the
repository root (or where ``GRANTLEDGER_SOAK_SUMMARY`` says) from what the slow tests put into
``soak_summary``: requests, server kills, backend terminations, bad inputs tried, schemathesis
cases, entries acknowledged and entries lost; the same figures close the terminal report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import postgres_database, postgres_reason, postgres_required


@pytest.fixture
def pg_url(_postgres_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (the load and crash tests need a real server)."""
    if not _postgres_available:
        reason = postgres_reason() or "PostgreSQL unavailable"
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    with postgres_database("gl_rel") as url:
        yield url


class SoakSummary:
    def __init__(self) -> None:
        self.figures: dict[str, Any] = {
            "requests": 0,
            "server_kills": 0,
            "backend_terminations": 0,
            "bad_inputs_tried": 0,
            "schemathesis_cases": 0,
            "entries_acknowledged": 0,
            "entries_lost": 0,
        }
        self.runs: list[dict[str, Any]] = []

    def add(self, test: str, **figures: Any) -> None:
        for key, value in figures.items():
            if isinstance(value, int) and key in self.figures:
                self.figures[key] += value
        self.runs.append({"test": test, **figures})


_SUMMARY = SoakSummary()


@pytest.fixture
def soak_summary() -> SoakSummary:
    return _SUMMARY


def _summary_path(config: pytest.Config) -> Path:
    return Path(os.environ.get("GRANTLEDGER_SOAK_SUMMARY") or config.rootpath / "soak-summary.json")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _SUMMARY.runs or not any(r.get("slow") for r in _SUMMARY.runs):
        return
    out = _summary_path(session.config)
    out.write_text(
        json.dumps(
            {
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "passed": exitstatus == 0,
                **_SUMMARY.figures,
                "runs": _SUMMARY.runs,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not any(r.get("slow") for r in _SUMMARY.runs):
        return
    terminalreporter.section("soak summary")
    for key, value in _SUMMARY.figures.items():
        terminalreporter.write_line(f"{key}: {value}")
    terminalreporter.write_line(f"written to {_summary_path(config)}")
