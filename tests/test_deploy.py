"""The production start files: Dockerfile, .dockerignore and docker-compose.yml.

No Docker engine is needed: the files are parsed and checked for what a production start relies
on (service order, health checks, a non-root user, a final image without build tools), and the
few commands they embed are run or compiled here.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|build-essential|libc6?-dev|python3?-dev|apt-get|apk|dnf|yum)\b"
)


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction, line continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            out.append((keyword.upper(), " ".join(args.split())))
    return out


def stages() -> list[list[tuple[str, str]]]:
    """Instructions grouped by FROM (each group starts with its FROM); global ARGs excluded."""
    groups: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            groups.append([])
        if groups:
            groups[-1].append((keyword, args))
    return groups


def global_args() -> dict[str, str]:
    args = {}
    for keyword, value in dockerfile_instructions():
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in value:
            name, _, default = value.partition("=")
            args[name] = default
    return args


def base_image(stage: list[tuple[str, str]]) -> str:
    image = stage[0][1].split()[0]
    for name, value in global_args().items():
        image = image.replace("${" + name + "}", value).replace("$" + name, value)
    return image


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1]


def values(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for k, args in stage if k == keyword]


def exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list), args
    return [str(p) for p in parsed]


def image_uid() -> str:
    (user,) = values(final_stage(), "USER")[-1:]
    return user.split(":")[0]


def test_dockerfile_is_multi_stage_on_python_311_slim() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    for stage in all_stages:
        assert base_image(stage) == "python:3.11-slim"
    names = [stage[0][1].split()[-1] for stage in all_stages]
    assert names[0] == "builder"


def test_builder_installs_the_lock_and_the_project_wheel() -> None:
    runs = " ".join(values(stages()[0], "RUN"))
    assert "requirements.lock" in runs
    assert "pip wheel" in runs
    assert "/opt/venv" in runs


def test_runtime_dependencies_are_read_from_pyproject_and_all_pinned() -> None:
    # Run the builder's own extraction command against the real pyproject.toml.
    runs = " ".join(values(stages()[0], "RUN"))
    match = re.search(r'python -c "([^"]*)"', runs)
    assert match, "the builder extracts runtime dependencies with python -c"
    listed = subprocess.run(
        [sys.executable, "-c", match.group(1)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert listed == project["dependencies"]

    def name(requirement: str) -> str:
        return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")

    pinned = {
        name(line)
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    unpinned = {name(r) for r in listed} - pinned
    assert not unpinned, f"runtime dependencies missing from requirements.lock: {unpinned}"


def test_final_stage_has_no_build_tools() -> None:
    stage = final_stage()
    for run in values(stage, "RUN"):
        assert not BUILD_TOOLS.search(run), run
        assert "pip install" not in run
    # Everything installed comes from the builder's virtualenv.
    assert "--from=builder /opt/venv /opt/venv" in values(stage, "COPY")


def test_final_stage_runs_as_a_non_root_user() -> None:
    stage = final_stage()
    users = values(stage, "USER")
    assert users, "the final stage must switch to a non-root USER"
    uid = image_uid()
    assert uid not in ("0", "root")
    assert any(f"--uid {uid}" in run for run in values(stage, "RUN")), "the user is created"


def test_final_stage_ships_migrations_where_the_app_looks() -> None:
    stage = final_stage()
    copies = values(stage, "COPY")
    assert "alembic.ini /app/alembic.ini" in copies
    assert "migrations /app/migrations" in copies
    env = " ".join(values(stage, "ENV"))
    assert "GRANTLEDGER_ALEMBIC_INI=/app/alembic.ini" in env
    assert "PATH=/opt/venv/bin:$PATH" in env
    # alembic.ini must find the migrations next to itself, wherever it is copied.
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "alembic.ini")
    assert ini["alembic"]["script_location"] == "%(here)s/migrations"


def test_final_stage_exposes_checks_and_serves() -> None:
    stage = final_stage()
    assert values(stage, "EXPOSE") == ["8000"]
    (health,) = values(stage, "HEALTHCHECK")
    options, _, command = health.partition(" CMD ")
    assert "--interval" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8000/readyz" in argv[2]
    compile(argv[2], "<healthcheck>", "exec")
    (cmd,) = values(stage, "CMD")
    assert exec_form(cmd)[:2] == ["grantledger", "serve"]
    assert "--host" in exec_form(cmd)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "grantledger" in scripts


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "an allow-list keeps .git, .venv and databases out"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources: set[str] = set()
    for stage in stages():
        for copy in values(stage, "COPY"):
            parts = [p for p in shlex.split(copy) if not p.startswith("--")]
            if "--from=" not in copy:
                sources.update(p.rstrip("/").removeprefix("./") for p in parts[:-1])
    assert sources <= allowed, f"copied but ignored: {sources - allowed}"
    assert not allowed & {"tests", ".git", ".venv", "bench"}
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"


# --- docker-compose.yml --------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def command(service: dict[str, Any]) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def test_compose_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"db", "migrate", "api", "nats", "relay"}
    assert "version" not in compose  # obsolete in the Compose specification


def test_db_is_postgres_16_with_a_named_volume_and_health_check(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:16")
    env = db["environment"]
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= set(env)
    volume, _, target = db["volumes"][0].partition(":")
    assert target == "/var/lib/postgresql/data"
    assert volume in compose["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_migrate_runs_once_after_the_database_is_healthy(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert command(migrate)[:3] == ["grantledger", "db", "upgrade"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"  # quoted: a bare `no` would be YAML's false
    assert migrate["healthcheck"] == {"disable": True}


def test_api_waits_for_migrations_and_serves_on_8000(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert command(api) == [
        "grantledger",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--no-migrate",
    ]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert "8000:8000" in [str(p) for p in api["ports"]]
    test = api["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8000/readyz" in test[3]
    compile(test[3], "<healthcheck>", "exec")


def test_api_and_migrate_run_the_image_as_its_non_root_user(compose: dict[str, Any]) -> None:
    for name in ("api", "migrate"):
        service = compose["services"][name]
        user = str(service["user"])
        assert user.split(":")[0] not in ("0", "root", "")
        assert user.split(":")[0] == image_uid()
        assert service["build"]["dockerfile"] == "Dockerfile"
    assert compose["services"]["api"]["image"] == compose["services"]["migrate"]["image"]


def test_migrate_runs_as_the_owner_and_the_api_as_the_restricted_app_login(
    compose: dict[str, Any],
) -> None:
    """Issue 16 item 6: the API served as the database superuser.  The owner migrates and
    makes the API's login (a member of grantledger_app, see tests/reliability/
    test_app_login.py for what that login may not do); the API serves as that login."""
    env = compose["services"]["db"]["environment"]
    migrate = compose["services"]["migrate"]
    owner_url = (
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
        f"@db:5432/{env['POSTGRES_DB']}"
    )
    assert migrate["environment"]["GRANTLEDGER_DATABASE_URL"] == owner_url
    argv = command(migrate)
    login = argv[argv.index("--app-login") + 1]
    assert login not in (env["POSTGRES_USER"], "grantledger_app")
    password = migrate["environment"]["GRANTLEDGER_APP_DB_PASSWORD"]
    api_url = compose["services"]["api"]["environment"]["GRANTLEDGER_DATABASE_URL"]
    assert api_url == f"postgresql://{login}:{password}@db:5432/{env['POSTGRES_DB']}"
