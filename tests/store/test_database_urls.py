"""Database URLs as people write them (issue 2 §3), and clear errors for the rest."""

from __future__ import annotations

import pytest

from ledger.db import create_engine, normalize_url, read_transaction
from ledger.errors import BadDatabaseUrl, DatabaseUnavailable


@pytest.mark.parametrize(
    ("raw", "driver", "database"),
    [
        ("sqlite:///grantledger.db", "sqlite+pysqlite", "grantledger.db"),
        ("sqlite:////var/lib/gl.db", "sqlite+pysqlite", "/var/lib/gl.db"),
        ("postgresql://postgres@127.0.0.1:5432/ledger", "postgresql+psycopg", "ledger"),
        ("postgres://u:p@db/ledger", "postgresql+psycopg", "ledger"),
        ("postgresql+psycopg://u@h/ledger", "postgresql+psycopg", "ledger"),
    ],
)
def test_urls_people_write_get_our_driver(raw: str, driver: str, database: str) -> None:
    url = normalize_url(raw)
    assert url.drivername == driver
    assert url.database == database


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("not a url", "cannot parse"),
        ("mysql://root@localhost/x", "unsupported database 'mysql'"),
        ("sqlite://", "needs a file path"),
        ("postgresql://u@h:5432", "names no database"),
    ],
)
def test_malformed_urls_are_refused_with_what_is_wrong(raw: str, says: str) -> None:
    with pytest.raises(BadDatabaseUrl, match=says):
        normalize_url(raw)


def test_password_never_shown_in_errors() -> None:
    with pytest.raises(BadDatabaseUrl) as caught:
        normalize_url("mysql://root:s3cret@localhost/x")
    assert "s3cret" not in caught.value.detail


def test_unreachable_database_is_a_clear_error_not_a_traceback() -> None:
    engine = create_engine("postgresql://nobody@127.0.0.1:1/nothing")
    with pytest.raises(DatabaseUnavailable, match="unreachable"), read_transaction(engine):
        pass
