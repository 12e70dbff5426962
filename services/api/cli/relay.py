"""relay and checkpoint: events out to NATS JetStream, and signed checkpoints of the chain.

nats-py, cryptography and the API's schemas are imported by the commands that use them, so
every other command starts without them.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import DatabaseOpt, err, out, settings

if TYPE_CHECKING:
    from ledger.relay.relay import Relay
    from ledger.store import StoredEvent


def register(app: typer.Typer) -> None:
    app.command()(relay)
    app.command()(checkpoint)


def public_json(e: StoredEvent) -> bytes:
    """An event exactly as GET /v1/events renders it: its public shape, serialized the API's way."""
    from api.schemas.events import event_json

    return event_json(e)


def relay(
    database_url: DatabaseOpt = None,
    private_key: Annotated[
        Path | None,
        typer.Option(
            "--private-key",
            envvar="GRANTLEDGER_RELAY_PRIVATE_KEY",
            help="Sign a checkpoint every GRANTLEDGER_CHECKPOINT_EVERY_EVENTS events or "
            "GRANTLEDGER_CHECKPOINT_EVERY_MINUTES minutes and publish it.",
        ),
    ] = None,
) -> None:
    """Publish every committed event, in position order, to NATS JetStream (until SIGTERM).

    Settings: GRANTLEDGER_NATS_URL, GRANTLEDGER_NATS_STREAM (GRANTLEDGER),
    GRANTLEDGER_NATS_SUBJECT (grantledger); its metrics (lag in events) at
    http://GRANTLEDGER_RELAY_METRICS_HOST:GRANTLEDGER_RELAY_METRICS_PORT/metrics.
    """
    from prometheus_client import start_http_server

    from api.observability import configure_logging
    from ledger.db import create_engine
    from ledger.relay.config import RelaySettings
    from ledger.relay.metrics import RelayMetrics
    from ledger.relay.relay import Relay
    from ledger.store.keys import load_private_key

    base = settings(database_url)
    configure_logging(base.log_level, json=base.log_json)
    config = RelaySettings(database_url=base.database_url)
    signer = load_private_key(private_key) if private_key else None
    metrics = RelayMetrics()
    if config.relay_metrics_port:
        start_http_server(
            config.relay_metrics_port, addr=config.relay_metrics_host, registry=metrics.registry
        )
    engine = create_engine(config.database_url, pool_size=2)
    try:
        # uvloop (installed with uvicorn[standard]) halves the event loop's cost per message.
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_run(Relay(config, engine, public_json, signer, metrics)))
    finally:
        engine.dispose()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _run(r: Relay) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, r.stop.set)  # finish the batch in flight, then stop
    await r.run()
    err.print(f"relay stopped at position {r.metrics.published_position}")


def checkpoint(
    private_key: Annotated[Path, typer.Option("--private-key", help="The Ed25519 private key.")],
    output: Annotated[Path, typer.Option("--output", help="Where to write the signed checkpoint.")],
    database_url: DatabaseOpt = None,
) -> None:
    """Verify the whole chain, then sign {position, hash, recorded_at, event count} at its head."""
    from ledger.db import create_engine
    from ledger.store import checkpoint as checkpoints
    from ledger.store.keys import load_private_key

    key = load_private_key(private_key)
    engine = create_engine(settings(database_url).database_url, pool_size=1)
    try:
        signed = checkpoints.sign(checkpoints.take(engine), key)
    finally:
        engine.dispose()
    output.write_bytes(signed.to_json())
    cp = signed.checkpoint
    out.print(f"checkpoint at position {cp.position} ({cp.event_count} events), hash {cp.hash}")


def verify_checkpoint(database_url: str | None, checkpoint_file: Path, public_key: Path) -> None:
    """``verify --checkpoint``: exit 1 naming the position unless the checkpoint holds."""
    from ledger.db import create_engine
    from ledger.store import checkpoint as checkpoints
    from ledger.store.keys import load_public_key

    try:
        raw = checkpoint_file.read_bytes()
    except OSError as e:
        raise checkpoints.BadCheckpoint(f"cannot read {checkpoint_file}: {e.strerror}") from e
    signed = checkpoints.SignedCheckpoint.parse(raw)
    key = load_public_key(public_key)
    engine = create_engine(settings(database_url).database_url, pool_size=1)
    try:
        verdict = checkpoints.verify(engine, signed, key)
    finally:
        engine.dispose()
    if verdict.ok:
        cp = signed.checkpoint
        out.print(
            f"checkpoint holds: position {cp.position}, hash {cp.hash}, "
            f"{verdict.checked} events verified up to it"
        )
        return
    err.print(f"[red]checkpoint fails at position {verdict.position}[/]: {verdict.reason}")
    raise typer.Exit(1)
