"""import sie, report, export beancount: meeting finance where it works (ERP, Excel, audit)."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from api.cli import groups
from api.cli.actors import ActorOpt, cli_actor
from api.cli.common import DatabaseOpt, container, err, out
from api.routers.reports import render_report
from ledger.domain.money import format_kronor
from ledger.formats.beancount import export_beancount, posting_count
from ledger.formats.reports import FORMATS, filename
from ledger.formats.sie import importer as sie_importer
from ledger.formats.sie.accounts import SpendAccounts
from ledger.formats.sie.importer import ImportOutcome, prepare
from ledger.formats.sie.lines import Options
from ledger.service import Replayed


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
    spend_accounts: Annotated[
        str | None,
        typer.Option(
            "--spend-accounts",
            help="Account ranges whose lines are spend, e.g. 4000-7999,8400-8499. "
            "Default: settings (4000-7999).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what the import would book; write nothing."),
    ] = False,
    show_skipped: Annotated[
        bool, typer.Option("--show-skipped", help="List every skipped line.")
    ] = False,
    actor: ActorOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Import the spend on the grants' cost objects from a SIE 4 file, atomically.

    Only lines on cost accounts are spend; rows the ERP struck (#BTRANS) are reversed.
    Importing the same file again adds nothing; every other line is counted as skipped.
    """
    c = container(database_url)
    options = Options(
        cost_object_dim=cost_object_dim or c.settings.sie_cost_object_dim,
        activity_dim=(c.settings.sie_activity_dim if activity_dim is None else activity_dim)
        or None,
        spend_accounts=SpendAccounts.parse(
            spend_accounts or c.settings.sie_spend_accounts, field="--spend-accounts"
        ),
    )
    with _spinner() as progress:
        task = progress.add_task(f"reading {escape(file.name)}")
        prepared = prepare(file.read_bytes(), options, max_lines=c.settings.sie_max_lines)
        progress.update(
            task,
            description=f"{'previewing' if dry_run else 'posting'} "
            f"{len(prepared.command.lines):,} lines",
        )
        outcome = sie_importer.import_sie(
            c.service,
            prepared,
            cli_actor("poster", actor, source_system=prepared.sie.program),
            dry_run=dry_run,
        )
    assert not isinstance(outcome, Replayed)  # no idempotency key from the command line
    _print_outcome(file, outcome, show_skipped=show_skipped)


def _print_outcome(file: Path, outcome: ImportOutcome, *, show_skipped: bool) -> None:
    """The answer as a controller reads it; every text from the file is escaped for rich."""
    plan = outcome.plan
    options = plan.options
    out.print(
        f"{escape(file.name)}: {plan.vouchers:,} vouchers, {plan.transactions:,} lines, "
        f"fiscal year {escape(plan.fiscal_year)} (from {plan.fiscal_year_from}); "
        f"cost object in dimension {options.cost_object_dim}"
        + (f", activity in dimension {options.activity_dim}" if options.activity_dim else "")
        + f"; spend accounts {options.spend_accounts}"
    )
    if outcome.dry_run:
        out.print("  [bold]dry run[/]: nothing was written; an import would book this")
    for w in outcome.sie.warnings:
        err.print(f"[yellow]warning[/] ({w.code}): {escape(w.message)}")
    out.print(f"  imported          {outcome.imported:>8,}")
    out.print(f"  already present   {outcome.already_present:>8,}")
    out.print(f"  reversed          {outcome.reversed:>8,}")
    if outcome.already_reversed:
        out.print(f"  already reversed  {outcome.already_reversed:>8,}")
    out.print(f"  skipped           {len(outcome.skipped):>8,}")
    for reason, n in outcome.skipped_by_reason().items():
        out.print(f"    {reason:<23} {n:>6,}")
    for grant_id, counts in outcome.grants.items():
        out.print(
            f"  {escape(grant_id)}: {counts['imported']:,} imported, "
            f"{counts['already_present']:,} already present, {counts['reversed']:,} reversed"
        )
    by_cost_object = outcome.by_cost_object()
    if by_cost_object:
        table = Table("cost object", "grant", "imported", "reversed", "net", title="booked now")
        for co, b in by_cost_object.items():
            table.add_row(
                escape(co),
                escape(b.grant_id),
                format_kronor(b.imported_ore),
                format_kronor(b.reversed_ore),
                format_kronor(b.net_ore),
            )
        out.print(table)
    if show_skipped and outcome.skipped:
        # One line each, never cut to the terminal's width: the key is what a controller looks up.
        for s in outcome.skipped:
            row = s.row
            out.print(
                f"  {escape(row.line_id)}  file line {row.file_line}  account "
                f"{escape(row.account)}  {format_kronor(row.amount_ore)}  "
                f"object {escape(row.cost_object or '-')}  {s.reason_code}: {escape(s.reason)}"
            )


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
        f"wrote {escape(str(target))} ({len(body):,} bytes): {escape(built.name)}, "
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
        f"wrote {escape(str(output))}: {summary.transactions:,} transactions, {summary.postings:,} "
        f"transfers, {summary.accounts:,} accounts of {summary.grants:,} grant(s)"
    )
