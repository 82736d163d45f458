# phlo_lakehouse: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
# The interpreter the virtualenv is made with: Python 3.11 (default), 3.12 or 3.13, e.g.
# `make test-fast PY=python3.12 VENV=.venv-3.12`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS := dev,dagster-iceberg,phlo
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install run test test-fast dev lint bench clean services-start services-stop

$(STAMP): pyproject.toml constraints.txt
	@$(PY) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13), "phlo_lakehouse needs Python 3.11, 3.12 or 3.13, found " + sys.version' 
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true

## The main job on the embedded default (SQLite catalog + local warehouse in .lakehouse/).
run: install
	$(PYTHON) scripts/run_main_job.py

## Every test, with the real services started and stopped around the run.
test: install
	bash scripts/test.sh

## The service-free tier: every test without a service marker (tools such as chromium or
## faketime still required under CI=true).
FAST ?= not needs_service
test-fast: install
	$(PYTHON) -m pytest -q --timeout=900 --durations=25 -m "$(FAST)"

## The Dagster UI on the embedded default.
dev: install
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${DAGSTER_PORT:-3000}

lint: install
	$(VENV)/bin/ruff check phlo_lakehouse phlo_lakehouse_tests benchmarks scripts
	$(VENV)/bin/ruff format --check phlo_lakehouse phlo_lakehouse_tests benchmarks scripts
	$(VENV)/bin/lint-imports --config pyproject.toml
	$(VENV)/bin/mypy --config-file pyproject.toml

bench: install
	$(PYTHON) benchmarks/stats.py
	$(PYTHON) benchmarks/definitions_load.py
	$(PYTHON) benchmarks/maintenance.py

services-start: install
	bash scripts/services/all.sh start

services-stop:
	bash scripts/services/all.sh stop

clean:
	rm -rf .lakehouse .services .dagster_home
