"""import sie, report, export beancount: meeting finance where it works (ERP, Excel, audit)."""

from __future__ import annotations

import getpass
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from api.cli import groups
from api.cli.common import DatabaseOpt, container, err, out
from api.routers.reports import render_report
from ledger.domain.money import format_kronor
from ledger.exports.beancount import export_beancount, posting_count
from ledger.formats.reports import FORMATS, filename
from ledger.integrations import spend_periods
from ledger.service import Actor, Replayed
from ledger.sie import read_sie
from ledger.sie.importer import ImportOutcome, plan_import, post_plan


def register(app: typer.Typer) -> None:
    groups.register(app)
    app.command("report")(report)


def _spinner() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _actor(role: str, source_system: str | None = None) -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return Actor(f"cli:{user}", role, source_system=source_system)


# --- import sie ------------------------------------------------------------------------------


@groups.import_app.command("sie")
def import_sie(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A SIE 4 file from the ERP.")
    ],
    cost_object_dim: Annotated[
        int | None,
        typer.Option(
            "--cost-object-dim",
            min=1,
            help="Dimension holding the cost object (objekt). Default: settings (6).",
        ),
    ] = None,
    activity_dim: Annotated[
        int | None,
        typer.Option(
            "--activity-dim",
            min=0,
            help="Dimension holding the activity, if the ERP carries one; 0: none. "
            "Default: settings.",
        ),
    ] = None,
    show_skipped: Annotated[
        bool, typer.Option("--show-skipped", help="List every skipped line.")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Import the spend on the grants' cost objects from a SIE 4 file, atomically.

    Importing the same file again adds nothing; lines on other objects are listed as skipped.
    """
    c = container(database_url)
    co_dim = cost_object_dim or c.settings.sie_cost_object_dim
    act_dim = c.settings.sie_activity_dim if activity_dim is None else activity_dim
    with _spinner() as progress:
        task = progress.add_task(f"reading {file.name}")
        sie = read_sie(file.read_bytes())
        progress.update(task, description=f"planning {len(sie.vouchers):,} vouchers")
        periods = spend_periods(c.engine, c.service.tables)
        plan = plan_import(
            sie,
            cost_object_dim=co_dim,
            activity_dim=act_dim or None,
            known_cost_objects=set(periods),
            spend_periods=periods,
        )
        progress.update(task, description=f"posting {len(plan.lines):,} lines")
        outcome = post_plan(c.service, plan, _actor("poster", sie.program))
    assert not isinstance(outcome, Replayed)  # no idempotency key from the command line
    _print_outcome(file, outcome, show_skipped=show_skipped)


def _print_outcome(file: Path, outcome: ImportOutcome, *, show_skipped: bool) -> None:
    plan = outcome.plan
    out.print(
        f"{file.name}: {plan.vouchers:,} vouchers, {plan.transactions:,} lines; "
        f"cost object in dimension {plan.cost_object_dim}"
        + (f", activity in dimension {plan.activity_dim}" if plan.activity_dim else "")
    )
    out.print(f"  imported         {outcome.imported:>8,}")
    out.print(f"  already present  {outcome.already_present:>8,}")
    out.print(f"  skipped          {outcome.skipped:>8,}")
    for reason, n in plan.skipped_by_reason().items():
        out.print(f"    {reason:<22} {n:>6,}")
    for grant_id, counts in outcome.by_grant.items():
        out.print(
            f"  {grant_id}: {counts['imported']:,} imported, "
            f"{counts['already_present']:,} already present"
        )
    if show_skipped and plan.skipped:
        table = Table("line", "voucher", "file line", "account", "amount", "object", "reason")
        for s in plan.skipped:
            table.add_row(
                s.line_id,
                s.voucher,
                str(s.file_line),
                s.account,
                format_kronor(s.amount_ore),
                s.cost_object or "",
                s.reason,
            )
        out.print(table)


# --- report ----------------------------------------------------------------------------------


def report(
    grant_id: Annotated[str, typer.Argument(help="The grant, e.g. gnv-2022.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="xlsx, csv or json.", case_sensitive=False)
    ] = "xlsx",
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of", formats=["%Y-%m-%d"], help="Booking date (YYYY-MM-DD); default: today."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write it; '-' for standard output. "
            "Default: GRANT-DATE.FORMAT in the current directory.",
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Write a grant's report for återrapportering (Excel, CSV for Swedish Excel, or JSON)."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        err.print(f"[red]error[/]: --format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    c = container(database_url)
    on: date | None = as_of.date() if as_of else None
    built = c.queries.grant(grant_id, as_of=on, decisions=True)
    body = render_report(built, fmt)
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    target = output or Path(filename(built, fmt))
    target.write_bytes(body)
    t = built.totals
    out.print(
        f"wrote {target} ({len(body):,} bytes): {built.name}, "
        f"awarded {format_kronor(t.awarded)}, spent {format_kronor(t.spent)}, "
        f"remaining {format_kronor(t.remaining)}"
    )


# --- export beancount ------------------------------------------------------------------------


@groups.export_app.command("beancount")
def beancount(
    output: Annotated[Path, typer.Option("--output", "-o", help="The Beancount file to write.")],
    assert_balances: Annotated[
        bool,
        typer.Option(
            "--assert-balances/--no-assert-balances",
            help="End with a balance assertion per account (the ledger's live balances).",
        ),
    ] = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Write the double-entry postings as a Beancount ledger (check it with bean-check)."""
    c = container(database_url)
    total = posting_count(c.engine, c.service.tables)
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} postings"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress,
        output.open("w", encoding="utf-8") as f,
    ):
        task = progress.add_task("exporting", total=total or None)
        summary = export_beancount(
            c.engine,
            f,
            tables=c.service.tables,
            assert_balances=assert_balances,
            progress=lambda n: progress.update(task, completed=n),
        )
    out.print(
        f"wrote {output}: {summary.transactions:,} transactions, {summary.postings:,} "
        f"transfers, {summary.accounts:,} accounts of {summary.grants:,} grant(s)"
    )
