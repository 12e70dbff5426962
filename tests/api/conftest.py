"""The API tier's fixtures (``tests/support/api.py``): an app per backend with a token per role,
a planned grant, and a real ``grantledger serve`` process on loopback."""

from tests.support.api import (  # noqa: F401 - fixtures are found by name
    _api_postgres,
    _api_sqlite_template,
    api,
    api_database,
    api_factory,
    live_server,
    module_database_url,
    planned,
    shared_api,
)
