# grantledger: every target sets itself up (make install is idempotent and quick when done).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := services

.PHONY: install run test lint format bench soak openapi clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e ".[dev,bench]"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/grantledger demo --database-url "sqlite:///grantledger-demo.db"

test: install
	$(BIN)/pytest -n 2 -q -m "not slow"

soak: install
	$(BIN)/pytest -q -m slow tests/reliability

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: install
	$(BIN)/grantledger openapi --output openapi/openapi.json

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache grantledger-demo.db*
