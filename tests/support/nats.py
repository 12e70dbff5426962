"""NATS for the relay tests: the shared server at 127.0.0.1:4222, private servers, relay processes.

Every test gets its own stream and subject (``Names``), so runs share the server; the stream is
deleted afterwards.  A test that stops the broker starts its OWN ``nats-server`` on a free port
with its own store directory (``PrivateNats``) and never touches the shared one.  The relay runs
as a real ``grantledger relay`` process (``RelayProcess``) that can be SIGKILLed and restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from tests.support.servers import ROOT, _base_env, _command, free_port

SHARED_URL = os.environ.get("GRANTLEDGER_TEST_NATS_URL", "nats://127.0.0.1:4222")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def nats_required() -> bool:
    return os.environ.get("GRANTLEDGER_REQUIRE_NATS", "") not in ("", "0", "false")


def nats_reason(url: str = SHARED_URL) -> str | None:
    """None when NATS answers at the URL, else why not."""
    host, _, port = url.removeprefix("nats://").partition(":")
    try:
        with socket.create_connection((host, int(port or 4222)), timeout=2) as s:
            if not s.recv(4096).startswith(b"INFO"):
                return f"{url} answers but is not NATS"
    except OSError as e:
        return f"NATS at {url} unreachable: {e}"
    return None


@dataclass(frozen=True)
class Names:
    """A stream and subject of one test, so that test runs can share one server."""

    stream: str
    subject: str

    @classmethod
    def fresh(cls) -> Names:
        tag = uuid.uuid4().hex[:12]
        return cls(stream=f"GLTEST_{tag}", subject=f"gltest_{tag}")

    def env(self, url: str) -> dict[str, str]:
        return {
            "GRANTLEDGER_NATS_URL": url,
            "GRANTLEDGER_NATS_STREAM": self.stream,
            "GRANTLEDGER_NATS_SUBJECT": self.subject,
        }


@dataclass(frozen=True)
class Received:
    seq: int
    subject: str
    headers: dict[str, str]
    data: bytes

    @property
    def position(self) -> int:
        return int(self.headers["Grantledger-Position"])


async def _fetch_all(url: str, names: Names) -> list[Received]:
    nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False)
    try:
        js = nc.jetstream(timeout=10)
        try:
            info = await js.stream_info(names.stream)
        except NotFoundError:
            return []
        if info.state.messages == 0:
            return []
        # An ephemeral consumer of every subject of the test, from sequence 1.
        sub = await js.pull_subscribe(
            f"{names.subject}.>",
            stream=names.stream,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE),
        )
        out: list[Received] = []
        while len(out) < info.state.messages:
            for m in await sub.fetch(min(5000, info.state.messages - len(out)), timeout=10):
                seq = m.metadata.sequence.stream
                out.append(Received(seq, m.subject, dict(m.headers or {}), m.data))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def stream_messages(url: str, names: Names) -> list[Received]:
    """Every message the stream holds, in stream order."""
    return asyncio.run(_fetch_all(url, names))


async def _delete(url: str, stream: str) -> None:
    nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def delete_stream(url: str, stream: str) -> None:
    asyncio.run(_delete(url, stream))


@dataclass
class PrivateNats:
    """Our own nats-server (JetStream, file store in ``store``) that a test may stop and start."""

    store: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(  # the machine's nats-server, on loopback only
            [
                NATS_SERVER,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store),
                "-l",
                str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: nats_reason(self.url) is None, 20, f"nats-server on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class RelayProcess:
    """One ``grantledger relay`` process; ``kill()`` + ``start()`` is a crash and a restart."""

    database_url: str
    env: Mapping[str, str]
    log_path: Path
    metrics_port: int = field(default_factory=free_port)
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        if self._log is None:
            self._log = self.log_path.open("ab")
        env = {
            **self.env,
            "GRANTLEDGER_RELAY_METRICS_PORT": str(self.metrics_port),
            "GRANTLEDGER_RELAY_MAX_BACKOFF": "1",
            "GRANTLEDGER_RELAY_ACK_TIMEOUT": "3",
        }
        self.proc = subprocess.Popen(  # our own entry point
            [*_command(), "relay", "--database-url", self.database_url, *self.args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_base_env(env),
            cwd=ROOT,
        )

    def metrics(self) -> dict[str, float]:
        """The relay's own /metrics, or nothing while it is not (yet) serving."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=3).text
        except httpx.TransportError:
            return {}
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("grantledger_relay_") and " " in line:
                name, value = line.rsplit(" ", 1)
                found[name] = float(value)
        return found

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
