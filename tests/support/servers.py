"""Real ``grantledger serve`` processes on loopback, and the CLI as a subprocess.

``Server`` starts one process on a free port of 127.0.0.1, waits until ``/healthz`` answers, and
can be SIGKILLed and started again on the same port; everything it prints (both streams, every
start) goes to one log file, so a test can read what it logged.  ``servers(...)`` starts several
on one database at once.  Nothing here talks to any address but the loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from ledger.auth.tokens import TokenRegistry
from ledger.db import create_engine

ROOT = Path(__file__).resolve().parents[2]
GRANTLEDGER = Path(sys.executable).parent / "grantledger"
ROLES = ("reader", "poster", "planner", "auditor", "admin")


def _base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANTLEDGER_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "services"), str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _command() -> list[str]:
    if GRANTLEDGER.exists():
        return [str(GRANTLEDGER)]
    return [sys.executable, "-c", "from api.cli import main; main()"]


def cli(
    *args: str,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``grantledger ARGS``; never raises on a non-zero exit (tests assert on it)."""
    full = [*_command(), *args]
    if database_url is not None:
        full += ["--database-url", database_url]
    return subprocess.run(  # our own entry point
        full,
        env=_base_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tokens(database_url: str, prefix: str = "rel") -> dict[str, str]:
    """One fresh token per role (made in-process: the CLI's own test is in test_security)."""
    engine = create_engine(database_url, pool_size=1)
    try:
        registry = TokenRegistry(engine)
        stamp = f"{time.time_ns()}"
        return {role: registry.create(f"{prefix}-{role}-{stamp}", role) for role in ROLES}
    finally:
        engine.dispose()


class ServerDidNotStart(RuntimeError):
    pass


@dataclass
class Server:
    """One ``grantledger serve`` process; ``kill()`` + ``start()`` is a crash and a restart."""

    database_url: str
    log_path: Path
    port: int = field(default_factory=free_port)
    env: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # more options of `grantledger serve` (e.g. --workers 2)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the process without waiting for it (``wait_ready`` does)."""
        if self._log is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # our own entry point
            [
                *_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-migrate",
                "--database-url",
                self.database_url,
                *self.args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_base_env(self.env),
            cwd=ROOT,
        )
        self.starts += 1

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise ServerDidNotStart(
                        f"server on port {self.port} exited with {self.proc.returncode}:\n"
                        + self.log_text()[-3000:]
                    )
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise ServerDidNotStart(f"server on port {self.port} not ready in {timeout} s")

    def start(self, timeout: float = 60) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, in-flight requests cut off."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self._log is not None:
            self._log.flush()

    def close(self) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def servers(
    database_url: str,
    log_dir: Path,
    count: int = 2,
    *,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[Server]]:
    """``count`` servers on one (migrated) database, started together, stopped at the end."""
    with ExitStack() as stack:
        started: list[Server] = []
        for i in range(count):
            s = Server(database_url, log_dir / f"server-{i}.log", env=dict(env or {}))
            stack.callback(s.close)
            s.spawn()
            started.append(s)
        for s in started:
            s.wait_ready()
        yield started
