"""What a server process imports (issue 14: the server tree imports only what serving needs).

Each case runs in a fresh interpreter, as a server worker starts: ``api.serve.serve_only()``
(the packages marked absent there), then the app built.  What serving does not use is not
imported then; what a rarely used route needs comes with its first request, and works.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.servers import ROOT, _base_env

# Never in a server process (api.serve.NOT_SERVED), or not until a request needs them.
NOT_AT_START = (
    "rich",  # structlog's optional tracebacks
    "pygments",
    "pydantic.v1",
    "watchfiles",
    "greenlet",
    "typer",  # the CLI
    "alembic",  # migrations: /readyz compares revisions without it
    "openpyxl",
    "jinja2",  # the web app: its first request
    "babel",
    "api.ui.pages",
    "cryptography",  # signed checkpoints: their first check
    "ledger.store.checkpoint",
)


def run(code: str, tmp_path: Path, **env: str) -> str:
    """What ``code`` prints, run by this interpreter as a server worker starts."""
    return _run(code, tmp_path, **env).stdout


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # this interpreter, the code below
        [sys.executable, "-c", code],
        env=_base_env({"GRANTLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'imports.db'}", **env}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_app_is_built_without_what_serving_does_not_use(tmp_path: Path) -> None:
    out = run(
        f"""
import sys
from api.serve import serve_only
serve_only()
from api.app import create_app
app = create_app()
print(sorted(m for m in {NOT_AT_START!r} if sys.modules.get(m) is not None))
""",
        tmp_path,
    )
    assert out.strip() == "[]"


def test_the_web_app_imports_its_pages_on_its_first_request(tmp_path: Path) -> None:
    out = run(
        """
import os, sys
from api.serve import serve_only
serve_only()
from ledger import migrate
from ledger.db import create_engine
migrate.upgrade(create_engine(os.environ["GRANTLEDGER_DATABASE_URL"]))
from fastapi.testclient import TestClient
from api.app import create_app
with TestClient(create_app(), follow_redirects=False) as client:
    assert client.get("/v1/grants").status_code == 401
    assert "jinja2" not in sys.modules and "api.ui.pages" not in sys.modules
    first = client.get("/ui/login")
    assert first.status_code == 200 and "<form" in first.text, first.status_code
    assert "jinja2" in sys.modules and "api.ui.pages" in sys.modules
    assert client.get("/ui/login").text == first.text
    assert client.get("/ui/static/ui.css").status_code == 200
    assert client.get("/ui/").status_code == 303  # to the sign-in page, as before
    assert client.get("/ui").headers["location"].endswith("/ui/")
    assert client.get("/ui/no-such-page").status_code == 404
    assert client.get("/v1/grants").status_code == 401  # the API beside it, unchanged
print("ok")
""",
        tmp_path,
    )
    assert out.strip() == "ok"


def test_console_logs_render_exceptions_without_rich(tmp_path: Path) -> None:
    done = _run(
        """
import logging, sys
from api.serve import serve_only
serve_only()
from api.observability import configure_logging
configure_logging("info", json=False)
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("api.test").exception("boom")
assert sys.modules.get("rich") is None
""",
        tmp_path,
    )
    logged = done.stdout + done.stderr
    assert "boom" in logged
    assert "Traceback (most recent call last)" in logged
    assert "ZeroDivisionError" in logged
