"""The API server's own processes: one uvicorn server, or a small supervisor and its workers.

``grantledger serve`` replaces itself (exec) with ``python -m api.serve OPTIONS``, so the CLI's
imports (typer, rich, Alembic, every sub-command) are in no server process.

With one worker this process is the server (``uvicorn.run``).  With several it is a supervisor
that imports nothing but a few standard-library modules: it binds the socket, **forks** the
workers, and each worker then imports uvicorn and the app and builds its own app (so its own
database pool: nothing of the database exists before the fork).  It does what uvicorn's own
supervisor (``uvicorn.supervisors.Multiprocess``) does, with the same signals and messages:

- SIGINT / SIGTERM: SIGTERM to every worker (each finishes its requests), wait, exit;
- a worker that exits, or answers no health-check ping within 5 s, is killed and replaced; one
  that fails at startup (exit status 3: the app, or the socket, is broken) stops the supervisor;
- SIGHUP: replace the workers one by one, each only once its replacement serves;
- SIGTTIN / SIGTTOU: one worker more / fewer.

Why not uvicorn's: it runs in a supervisor that carries uvicorn (asyncio, ssl, click:
≈ 15 MB), and it *spawns* its workers, which starts multiprocessing's resource tracker (one
more process, ≈ 12 MB) and a fresh interpreter per worker.  Forked workers start faster and
share the supervisor's pages until they write them.  A forked worker puts the signals the
supervisor catches back to their defaults, so it reacts to a signal as a spawned one would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time: 0.7 MB of the supervisor's 12
if TYPE_CHECKING:
    from typing import Any, NoReturn

APP = "api.app:create_app"
STARTUP_FAILURE = 3  # uvicorn's exit status for a server that could not start
HEALTHCHECK_TIMEOUT = 5.0  # uvicorn's timeout_worker_healthcheck
_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 5}
# What uvicorn's supervisor catches (and what a worker puts back to the default).
_SIGNALS = {
    getattr(signal, f"SIG{name}"): name
    for name in ("INT", "TERM", "HUP", "QUIT", "TTIN", "TTOU", "USR1", "USR2", "WINCH")
    if hasattr(signal, f"SIG{name}")
}


def exec_server(options: dict[str, Any]) -> None:
    """Become the server process (never returns): uvicorn with ``options``, serving the app."""
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "api.serve", json.dumps(options)]
    # glibc gives each of a worker's many threads (uvicorn's thread pool) its own malloc arena
    # by default, and freed memory stays in each.  One arena: Python allocates under the GIL, so
    # its lock is not contended (same CPU per request, paired), and a burst of batch requests
    # leaves ≈ 3 MB less behind per worker than with two.
    env = {"MALLOC_ARENA_MAX": "1", **os.environ}
    os.execve(sys.executable, argv, env)  # noqa: S606 - this interpreter, argv built above


# Packages the server's dependencies import when they are installed, for features serving
# never uses (each ≈ 0.7–5 MB per process).  Marked absent in a server process (importing
# them raises ImportError), each importer carries on without: the reason it may is beside it.
NOT_SERVED = {
    # structlog: rich (with pygments and attrs) as the console renderer's exception formatter;
    # ours is given plain_traceback, and format_exc_info renders exceptions before it anyway.
    "rich": "structlog's optional pretty tracebacks",
    # FastAPI imports pydantic.v1 only to refuse v1 models in routes; the API has none.
    "pydantic.v1": "FastAPI's check for pydantic v1 models",
    # uvicorn: the --reload supervisor (falls back to polling); `serve` never reloads.
    "watchfiles": "uvicorn --reload",
    # structlog's deprecated threadlocal module; SQLAlchemy's asyncio bridge (sync engines here).
    "greenlet": "structlog.threadlocal, SQLAlchemy asyncio",
}


def serve_only() -> None:
    """Keep out of this process what installed packages import but serving never uses."""
    for name in NOT_SERVED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def _log(options: dict[str, Any], level: str, message: str) -> None:
    """A line in uvicorn's own format (``INFO:     …``) on stderr, if the log level lets it."""
    threshold = options.get("log_level") or "info"
    if isinstance(threshold, str):
        threshold = _LEVELS.get(threshold.lower(), 20)
    if _LEVELS[level] >= threshold:
        sys.stderr.write(f"{level.upper() + ':':<10}{message}\n")
        sys.stderr.flush()


class Worker:
    """One forked worker process and the socket its health checks go over."""

    def __init__(self, options: dict[str, Any], listener: socket.socket) -> None:
        self.options = options
        self.listener = listener
        self.pid = 0
        self.exitcode: int | None = None
        self._conn: socket.socket | None = None

    def start(self, siblings: list[Worker]) -> None:
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            parent.close()
            for other in siblings:
                other.close_conn()
            _work(self.options, self.listener, child)
        child.close()
        self.pid, self._conn = pid, parent

    def close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _reap(self, block: bool = False) -> bool:
        """Whether the process has exited (its exit code is then known)."""
        if self.exitcode is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.exitcode = 1
            return True
        if pid == 0:
            return False
        self.exitcode = os.waitstatus_to_exitcode(status)
        return True

    def _healthcheck(self, timeout: float) -> bool | None:
        """The worker's answer (has its server started?), or None if none came in time."""
        conn = self._conn
        if conn is None:
            return None
        try:
            conn.settimeout(timeout)
            conn.sendall(b"?")
            answer = conn.recv(1)
        except OSError:  # timeout, or the worker is gone
            return None
        return None if not answer else answer == b"1"

    def is_alive(self, timeout: float) -> bool:
        return not self._reap() and self._healthcheck(timeout) is not None

    def wait_until_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._reap():
                return False
            if self._healthcheck(1.0):
                return True
            time.sleep(0.1)
        return False

    def terminate(self) -> None:
        if not self._reap():
            os.kill(self.pid, signal.SIGTERM)
            _log(self.options, "info", f"Terminated child process [{self.pid}]")
        self.close_conn()

    def kill(self) -> None:
        if not self._reap():
            os.kill(self.pid, signal.SIGKILL)
        self.close_conn()

    def join(self) -> None:
        _log(self.options, "info", f"Waiting for child process [{self.pid}]")
        self._reap(block=True)


def _work(options: dict[str, Any], listener: socket.socket, conn: socket.socket) -> NoReturn:
    """A forked worker: uvicorn serving the app on the supervisor's socket; exits the process."""
    code = 1
    try:
        for sig in _SIGNALS:  # as a fresh interpreter has them
            signal.signal(
                sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
            )
        import threading

        started: list[Any] = []  # the uvicorn server, once there is one

        def answer_pings() -> None:
            try:
                while conn.recv(1):
                    conn.sendall(b"1" if started and started[0].started else b"0")
            except OSError:
                pass

        # Answer from the start: importing the app takes a while, and a worker that does not
        # answer in time is taken for hung.
        threading.Thread(target=answer_pings, name="healthcheck", daemon=True).start()
        serve_only()
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(APP, factory=True, **options))
        started.append(server)
        server.run(sockets=[listener])
        code = 0
    except SystemExit as e:  # uvicorn's sys.exit(STARTUP_FAILURE) among them
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    except KeyboardInterrupt:
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        # A spawned interpreter would run its exit functions (logging's flush) and end here.
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class Supervisor:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.processes_num = int(options["workers"])
        self.workers: list[Worker] = []
        self.should_exit = False
        self.signal_queue: list[int] = []
        self.listener = self.bind()

    def bind(self) -> socket.socket:
        host, port = self.options.get("host", "127.0.0.1"), int(self.options.get("port", 8000))
        family, shown = (socket.AF_INET6, f"[{host}]") if ":" in host else (socket.AF_INET, host)
        sock = socket.socket(family=family)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            _log(self.options, "error", str(exc))
            sys.exit(STARTUP_FAILURE)
        port = sock.getsockname()[1]
        _log(
            self.options, "info", f"Uvicorn running on http://{shown}:{port} (Press CTRL+C to quit)"
        )
        sock.set_inheritable(True)
        return sock

    def new_worker(self) -> Worker:
        worker = Worker(self.options, self.listener)
        worker.start(self.workers)
        return worker

    def run(self) -> None:
        for sig in _SIGNALS:
            signal.signal(sig, lambda sig, frame: self.signal_queue.append(sig))
        _log(self.options, "info", f"Started parent process [{os.getpid()}]")
        for _ in range(self.processes_num):
            self.workers.append(self.new_worker())
        while not self.should_exit:
            time.sleep(0.5)
            self.handle_signals()
            self.keep_workers_alive()
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.join()
        _log(self.options, "info", f"Stopping parent process [{os.getpid()}]")

    def keep_workers_alive(self) -> None:
        for idx, worker in enumerate(self.workers):
            if self.should_exit:
                return
            if worker.is_alive(HEALTHCHECK_TIMEOUT):
                continue
            worker.kill()  # hung, or already gone
            worker.join()
            if worker.exitcode == STARTUP_FAILURE:
                _log(
                    self.options,
                    "error",
                    f"Child process [{worker.pid}] failed to start, stopping the parent process.",
                )
                self.should_exit = True
                return
            _log(self.options, "info", f"Child process [{worker.pid}] died")
            self.workers[idx] = self.new_worker()

    def handle_signals(self) -> None:
        while self.signal_queue:
            name = _SIGNALS[self.signal_queue.pop(0)]
            if name in ("INT", "TERM"):
                _log(self.options, "info", f"Received SIG{name}, exiting.")
                self.should_exit = True
            elif name == "HUP":
                _log(self.options, "info", "Received SIGHUP, restarting processes.")
                self.restart_all()
            elif name == "TTIN":
                _log(self.options, "info", "Received SIGTTIN, increasing the number of processes.")
                self.processes_num += 1
                self.workers.append(self.new_worker())
            elif name == "TTOU":
                _log(self.options, "info", "Received SIGTTOU, decreasing number of processes.")
                if self.processes_num <= 1:
                    _log(self.options, "info", "Already reached one process, cannot decrease.")
                    continue
                self.processes_num -= 1
                worker = self.workers.pop()
                worker.terminate()
                worker.join()
            else:
                _log(self.options, "debug", f"Received signal SIG{name}, no handler for it.")

    def restart_all(self) -> None:
        """Replace each worker, bringing its replacement into service before retiring it."""
        for idx, old in enumerate(self.workers):
            new = self.new_worker()
            if not new.wait_until_ready(HEALTHCHECK_TIMEOUT):
                new.kill()
                new.join()
                _log(
                    self.options,
                    "error",
                    f"New child process [{new.pid}] was not ready in time; keeping worker "
                    f"[{old.pid}] and aborting the restart.",
                )
                return
            old.terminate()
            old.join()
            self.workers[idx] = new


def main() -> None:
    options = json.loads(sys.argv[1])
    if int(options.get("workers") or 1) > 1:
        Supervisor(options).run()
        return
    serve_only()
    import uvicorn

    uvicorn.run(APP, factory=True, **options)


if __name__ == "__main__":
    main()
