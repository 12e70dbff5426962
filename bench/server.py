"""A real ``grantledger serve`` process for the HTTP phases, and its memory and CPU via /proc."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

PAGE_KB = 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _grantledger() -> list[str]:
    script = Path(sys.executable).parent / "grantledger"
    if script.exists():
        return [str(script)]
    found = shutil.which("grantledger")
    if found:
        return [found]
    return [sys.executable, "-c", "from api.cli import main; main()"]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split between the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class Server:
    """``grantledger serve --workers N`` on a free port, in its own process group."""

    def __init__(self, database_url: str, workers: int) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix="grantledger-bench-server-", suffix=".log", delete=False
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self._monitor: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.peak_total_kb = 0  # the largest sum of VmRSS over the tree seen by the sampler
        self.peak_pss_kb = 0  # the same for PSS (shared pages counted once)
        self.peak_by_pid_kb: dict[int, int] = {}  # VmHWM: each process's own peak (kernel)

    def start(self) -> None:
        env = {
            **os.environ,
            "GRANTLEDGER_DATABASE_URL": self.database_url,
            "GRANTLEDGER_LOG_LEVEL": "warning",
        }
        argv = [
            *_grantledger(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-migrate",
        ]
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._monitor = threading.Thread(target=self._sample, name="rss", daemon=True)
        self._monitor.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"grantledger serve exited early:\n{self.log_tail()}")
            try:
                up = httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200
                # Every worker must be up, not just the first one to bind.
                if up and len(self.pids()) >= 1 + self.workers:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"grantledger serve not ready after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def pids(self) -> list[int]:
        return [] if self.proc is None else process_tree(self.proc.pid)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the children running the app (not the tracker)."""
        root = self.proc.pid if self.proc else -1
        found = []
        for pid in self.pids():
            if pid == root:
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"resource_tracker" not in cmdline:
                found.append(pid)
        return found

    def rss_kb(self) -> int:
        return sum(_status_kb(pid, "VmRSS") for pid in self.pids())

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids())

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def sample(self) -> None:
        pids = self.pids()
        total = pss = 0
        with self._lock:
            for pid in pids:
                total += _status_kb(pid, "VmRSS")
                pss += _pss_kb(pid)
                hwm = _status_kb(pid, "VmHWM")
                if hwm:
                    self.peak_by_pid_kb[pid] = max(self.peak_by_pid_kb.get(pid, 0), hwm)
            self.peak_total_kb = max(self.peak_total_kb, total)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)

    def peak_mb(self) -> tuple[float, float, float]:
        """Peaks in MB: RSS summed over the tree, PSS summed over it, one process's own RSS."""
        self.sample()
        with self._lock:
            tree = self.peak_total_kb
            pss = self.peak_pss_kb
            one = max(self.peak_by_pid_kb.values(), default=0)
        return tree / PAGE_KB, pss / PAGE_KB, one / PAGE_KB

    def stop(self) -> None:
        self._stop.set()
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session: the group is the server's own
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        Path(self._log.name).unlink(missing_ok=True)
