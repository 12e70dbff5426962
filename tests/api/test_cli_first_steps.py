"""The first steps of a fresh clone (issue 12): a command on a database without the schema.

``grantledger verify`` as the README writes it used to create an empty ``./grantledger.db`` and
die in a 60-line traceback (``no such table: events``).  Every ledger command now says in one
line that there is no ledger there and names ``grantledger db upgrade`` (or the demo's
database), creates no file, and works once the schema is there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.support.servers import cli

COMMANDS = (("verify",), ("replay",), ("token", "list"), ("report", "gnv-2022", "-o", "-"))


def assert_one_line_pointing_at_db_upgrade(run_stderr: str, run_stdout: str) -> None:
    assert "Traceback" not in run_stderr + run_stdout
    lines = [line for line in run_stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run_stderr
    assert lines[0].startswith("error: "), lines
    assert "grantledger db upgrade" in lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_a_command_on_a_database_without_the_schema_says_so_in_one_line(
    database_url: str, command: tuple[str, ...]
) -> None:
    run = cli(*command, database_url=database_url)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert_one_line_pointing_at_db_upgrade(run.stderr, run.stdout)
    if database_url.startswith("sqlite"):
        assert not Path(make_url(database_url).database or "").exists()  # no empty ledger made


def test_after_db_upgrade_the_same_command_works(database_url: str) -> None:
    assert cli("verify", database_url=database_url).returncode == 2
    upgraded = cli("db", "upgrade", database_url=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    run = cli("verify", database_url=database_url)
    assert run.returncode == 0, run.stderr
    assert "chain valid: 0 events" in run.stdout


def test_a_missing_sqlite_file_is_named_and_the_demo_database_offered(tmp_path: Path) -> None:
    missing = tmp_path / "grantledger.db"
    run = cli("verify", database_url=f"sqlite:///{missing}")
    assert_one_line_pointing_at_db_upgrade(run.stderr, run.stdout)
    assert f"no database at {missing}" in run.stderr
    assert "sqlite:///grantledger-demo.db" in run.stderr
    assert not missing.exists()
