# grantledger production image.
#
#   docker build -t grantledger .
#   docker compose up            # PostgreSQL + migrations + API (see docker-compose.yml)
#
# Two stages: the builder makes a virtualenv holding the pinned dependencies and the project's
# wheel; the final stage copies only that virtualenv and the Alembic files, so it carries no
# build tools, no sources and no tests.  Both stages use the same base image so the virtualenv's
# interpreter path (/usr/local/bin/python3.11) is valid in the final one.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, in their own layer, so a code change does not reinstall them.  Only the
# runtime dependencies of pyproject.toml are installed (requirements.lock also pins the dev
# tools); requirements.lock, used as constraints, fixes every version to what CI tested.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/runtime-requirements.txt \
    && /opt/venv/bin/pip install --constraint requirements.lock \
        --requirement /tmp/runtime-requirements.txt

# The project itself, as a wheel, without touching the dependencies installed above.
COPY README.md ./
COPY services ./services
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /tmp/dist . \
    && /opt/venv/bin/pip install --no-deps /tmp/dist/grantledger-*.whl \
    && /opt/venv/bin/pip check

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="grantledger" \
      org.opencontainers.image.description="Event-sourced ledger for earmarked state grants"

# The app finds Alembic through GRANTLEDGER_ALEMBIC_INI (ledger/migrate.py); the ini's
# script_location is %(here)s/migrations, so both live in /app.  The default database is a
# SQLite file in the user's writable home so that `docker run` alone works; compose sets
# PostgreSQL.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GRANTLEDGER_ALEMBIC_INI=/app/alembic.ini \
    GRANTLEDGER_DATABASE_URL=sqlite:////var/lib/grantledger/grantledger.db

# A fixed uid so docker-compose.yml (and volume permissions) can name it.
RUN groupadd --gid 10001 grantledger \
    && useradd --uid 10001 --gid 10001 --no-log-init --create-home \
        --home-dir /var/lib/grantledger --shell /usr/sbin/nologin grantledger

COPY --from=builder /opt/venv /opt/venv
COPY alembic.ini /app/alembic.ini
COPY migrations /app/migrations

# Root owns /app and the virtualenv; the service user can read but not change its own code.
WORKDIR /app
USER 10001:10001

EXPOSE 8000

# Ready means the database answers and the schema is at head (urlopen raises on a 503).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

# Standalone, the server migrates first (under a database lock, so replicas may race safely);
# compose runs a one-shot migrate service instead and starts the API with --no-migrate.
CMD ["grantledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
