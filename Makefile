# Inkwell: `make run` serves admin + API on http://127.0.0.1:8000 with a task-queue worker beside it,
# `make worker` runs a worker alone, `make test` runs every test.
# Both create the virtualenv and install requirements when needed; neither needs a database
# server (an embedded PostgreSQL starts from .pgdata/ unless DATABASE_URL is set).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
HOST ?= 127.0.0.1
PORT ?= 8000
SEED_FIXTURES := $(sort $(wildcard fixtures/*.json))
# One pytest-xdist worker per core; each worker gets its own throwaway PostgreSQL (or its own
# test database on DATABASE_URL's server). `make test PYTEST_ARGS=` runs serially.
PYTEST_ARGS ?= -n auto

.PHONY: run worker test install migrate seed lint format check serve-gunicorn db-stop clean

$(BIN)/activate: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

install: $(BIN)/activate

migrate: install
	$(MANAGE) migrate --noinput

seed: migrate
	$(if $(SEED_FIXTURES),$(MANAGE) loaddata $(SEED_FIXTURES))
	$(MANAGE) sync_model_prices
	$(MANAGE) bootstrap_demo

run: seed
	$(MANAGE) collectstatic --noinput --verbosity 0
	@echo "Admin: http://$(HOST):$(PORT)/admin/   API: http://$(HOST):$(PORT)/api/v1/   Docs: http://$(HOST):$(PORT)/api/v1/docs/"
	@# The worker runs in its own session so Ctrl-C reaches it once, from the trap: it then finishes
	@# (or, after WORKER_SHUTDOWN_GRACEFUL_TIMEOUT, releases) the jobs in hand and stops.
	@setsid $(MANAGE) procrastinate worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(MANAGE) runserver $(HOST):$(PORT)

# A task-queue worker alone (every queue; `make worker QUEUES=publishing,email` for some).
worker: migrate
	$(MANAGE) procrastinate worker $(if $(QUEUES),--queues $(QUEUES))

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Everything CI checks besides the tests.
check: lint
	$(MANAGE) makemigrations --check --dry-run
	$(MANAGE) spectacular --validate --fail-on-warn --file /dev/null
	DJANGO_SETTINGS_MODULE=config.settings.production \
	SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
	CRYPTOGRAPHY_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
	$(MANAGE) check --deploy --fail-level WARNING

serve-gunicorn: seed
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(BIN)/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers 2

db-stop:
	$(BIN)/python -c "from config.embedded_postgres import stop_embedded_database as s; print('stopped' if s('.pgdata') else 'not running')"

clean: db-stop
	rm -rf $(VENV) staticfiles
