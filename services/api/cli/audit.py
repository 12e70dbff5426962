"""verify and replay: the auditor's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli import relay as checkpoints
from api.cli.common import DatabaseOpt, engine, err, out
from ledger.replay import replay as run_replay
from ledger.store import EventStore


def register(app: typer.Typer) -> None:
    app.command()(verify)
    app.command()(replay)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def verify(
    database_url: DatabaseOpt = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A signed checkpoint to hold it to.")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="The key that signed the checkpoint.")
    ] = None,
) -> None:
    """Walk the whole hash chain; exit 1 naming the first bad position if it is broken.

    With --checkpoint and --public-key: the signature must hold and the chain up to the
    checkpoint's position must end in exactly its hash (catches a rewritten chain and deleted
    last events).
    """
    if checkpoint is not None or public_key is not None:
        if checkpoint is None or public_key is None:
            raise typer.BadParameter("--checkpoint and --public-key go together")
        checkpoints.verify_checkpoint(database_url, checkpoint, public_key)
        return
    eng = engine(database_url)
    store = EventStore()
    with eng.connect() as conn:
        total = store.head_position(conn)
    with _progress() as progress:
        task = progress.add_task("verifying", total=total or None)
        result = store.verify(eng, progress=lambda n: progress.update(task, completed=n))
    if result.ok:
        out.print(f"chain valid: {result.checked} events, head {result.head_hash}")
        return
    err.print(f"[red]chain broken at position {result.first_bad_position}[/]: {result.reason}")
    raise typer.Exit(1)


def replay(database_url: DatabaseOpt = None) -> None:
    """Rebuild every projection from position 0 and diff it with the live tables."""
    eng = engine(database_url)
    with eng.connect() as conn:
        total = EventStore().head_position(conn)
    with _progress() as progress:
        task = progress.add_task("replaying", total=total or None)
        report = run_replay(eng, progress=lambda n: progress.update(task, completed=n))
    if report.identical:
        out.print("identical")
        out.print(f"({report.events} events replayed up to position {report.position})")
        return
    for d in report.differences:
        err.print(
            f"[red]{d.table}[/]: {d.only_live} row(s) only live, "
            f"{d.only_replayed} only in the replay"
        )
        for example in d.examples:
            err.print(f"  {example}")
    raise typer.Exit(1)
