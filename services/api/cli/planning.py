"""plan check / plan load: a grant and its activities from a YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.actors import ActorOpt, cli_actor
from api.cli.common import DatabaseOpt, container, err, out
from ledger import migrate
from ledger.domain.balances import figures
from ledger.domain.commands import CostObjectRoute
from ledger.domain.money import format_kronor
from ledger.formats import plan
from ledger.projections import loader

app = typer.Typer(help="Plan files: a grant and its activities as data.", no_args_is_help=True)

PlanPath = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A plan (YAML).")]


@app.command()
def check(
    path: PlanPath,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="Check routing against this ledger too (nothing is written)."
        ),
    ] = None,
) -> None:
    """Report, without writing, every rule the plan would violate."""
    parsed = plan.read(path)
    routes: tuple[CostObjectRoute, ...] = ()
    if database_url:
        c = container(database_url)
        with c.engine.connect() as conn:
            routes = loader.load_routes(conn, c.service.tables)
    state, problems = plan.check(parsed, routes)
    for p in problems:
        err.print(f"[red]refused[/] ({p.fields.get('rule', p.code)}): {escape(p.detail)}")
    if state is not None:
        f = figures(state.balances, state.areas, state.activities)
        table = Table("area", "awarded", "allocated", "unallocated", title=state.grant_id)
        for a in f.areas:
            table.add_row(
                a.code, *(format_kronor(x) for x in (a.awarded, a.allocated, a.unallocated))
            )
        table.add_row("total", *(format_kronor(x) for x in (f.awarded, f.allocated, f.unallocated)))
        out.print(table)
    if problems:
        raise typer.Exit(1)
    out.print("plan is valid")


@app.command()
def load(path: PlanPath, actor: ActorOpt = None, database_url: DatabaseOpt = None) -> None:
    """Register the grant and allocate its activities, all in one transaction."""
    c = container(database_url)
    migrate.upgrade(c.engine)
    commands = plan.commands(plan.read(path))
    # Rule 7: the events name who loaded the plan, not the command that did it.
    results = c.service.execute_all(commands, cli_actor("planner", actor))
    out.print(f"loaded {escape(str(path))}: {sum(len(r.events) for r in results)} events")
