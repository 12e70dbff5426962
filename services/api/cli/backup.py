"""export events / import events: the event log as JSON lines, with its hash chain."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.common import DatabaseOpt, engine, err
from api.cli.groups import export_app, import_app
from api.cli.groups import register as register_groups
from ledger import migrate
from ledger.formats.backup import BrokenChainInFile, ImportRefused, export_events, import_events
from ledger.store import EventStore


def register(app: typer.Typer) -> None:
    register_groups(app)


def _progress(*columns: TextColumn | BarColumn | DownloadColumn) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *columns,
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@export_app.command("events")
def export_events_command(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", dir_okay=False, help="Write here instead of standard output."
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Every event as a JSON line (all columns, hashes included), in position order."""
    eng = engine(database_url)
    with eng.connect() as conn:
        total = EventStore().head_position(conn)
    with _progress(TextColumn("{task.completed:,} events")) as progress:
        task = progress.add_task("exporting", total=total or None)

        def tick(n: int, _bytes: int) -> None:
            progress.update(task, completed=n)

        if output is None:
            summary = export_events(eng, sys.stdout.buffer, progress=tick)
        else:
            # Written beside the target and renamed at the end: a crash leaves no file that
            # looks like a complete (shorter) log.
            partial = output.with_name(output.name + ".partial")
            with partial.open("wb") as f:
                summary = export_events(eng, f, progress=tick)
                f.flush()
                os.fsync(f.fileno())
            partial.replace(output)
    err.print(
        f"exported {summary.events} events, head position {summary.head_position}, "
        f"head hash {summary.head_hash}",
        soft_wrap=True,
    )


@import_app.command("events")
def import_events_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A file from `export events`.")
    ],
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before importing.")
    ] = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Into an empty database: check the chain line by line, keep positions, hashes and times,
    rebuild the projections; a broken chain refuses the whole file and writes nothing."""
    eng = engine(database_url, schema=not migrate_first)
    if migrate_first:
        migrate.upgrade(eng)
    size = file.stat().st_size
    try:
        with _progress(DownloadColumn()) as progress, file.open("rb") as f:
            task = progress.add_task("importing", total=size or None)
            summary = import_events(
                eng, f, progress=lambda _n, read: progress.update(task, completed=read)
            )
    except BrokenChainInFile as e:
        err.print(f"[red]refused: chain broken at {escape(e.detail)}[/]", soft_wrap=True)
        raise typer.Exit(1) from e
    except ImportRefused as e:
        err.print(f"[red]refused[/]: {escape(e.detail)}", soft_wrap=True)
        raise typer.Exit(1) from e
    verified = EventStore().verify(eng)
    if not verified.ok:  # pragma: no cover - the file's chain was checked line by line
        err.print(f"[red]imported chain does not verify[/]: {escape(verified.reason or '')}")
        raise typer.Exit(1)
    print(
        f"imported {summary.events} events, head position {summary.head_position}, "
        f"head hash {summary.head_hash}; projections rebuilt, chain valid"
    )
