"""demo: the API on an embedded database with the seed 003 grant and a year of spend."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import DatabaseOpt, container, out
from api.cli.server import serve
from ledger import migrate
from ledger.auth.tokens import Role
from ledger.demo import populate
from ledger.formats import plan
from ledger.service import Actor

DEMO_PLAN = Path(__file__).resolve().parents[3] / "examples" / "god-och-nara-vard-2022.yaml"


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    plan_file: Annotated[Path, typer.Option("--plan", exists=True)] = DEMO_PLAN,
    database_url: DatabaseOpt = "sqlite:///grantledger-demo.db",
) -> None:
    """Load the demo grant once, print a token per role, and serve the API."""
    c = container(database_url, schema=False)
    migrate.upgrade(c.engine)
    parsed = plan.read(plan_file)
    if not c.queries.has_grant(parsed.grant_id):
        out.print(f"loading {plan_file.name} and a year of spend …")
        populate(c.service, parsed, Actor("demo", "admin"))
    for t in c.tokens.list():
        if t.name.startswith("demo-") and t.revoked_at is None:
            c.tokens.revoke(t.name)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    out.print("tokens for this run (shown once):")
    for role in Role:
        name = f"demo-{role.value}-{stamp}"
        out.print(f"  {role.value:<8} {c.tokens.create(name, role.value)}")
    out.print(f"docs: http://{host}:{port}/docs  (Authorize with a token above)")
    out.print(f"web:  http://{host}:{port}/ui/  (sign in with a token above)")
    serve(host=host, port=port, workers=1, migrate_first=False, database_url=database_url)
