"""The API server's own process: uvicorn and nothing else, so the process tree stays small.

``grantledger serve`` replaces itself (exec) with ``python -m api.serve OPTIONS``: the CLI's
imports (typer, rich, Alembic, every sub-command) leave the supervisor, and uvicorn's workers,
which re-import the main module when they are spawned, import only this one before the app.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import orjson

APP = "api.app:create_app"


def exec_server(options: dict[str, Any]) -> None:
    """Become the server process (never returns): uvicorn with ``options``, serving the app."""
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "api.serve", orjson.dumps(options).decode()]
    # glibc gives each of a worker's many threads (uvicorn's thread pool) its own malloc arena
    # by default, and freed memory stays in them: two arenas keep a busy worker's RSS flat.
    env = {"MALLOC_ARENA_MAX": "2", **os.environ}
    os.execve(sys.executable, argv, env)  # noqa: S606 - this interpreter, argv built above


def main() -> None:
    import uvicorn

    uvicorn.run(APP, factory=True, **orjson.loads(sys.argv[1]))


if __name__ == "__main__":
    main()
