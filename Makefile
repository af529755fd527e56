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

.PHONY: run worker test install install-dev lock-litellm migrate seed lint format check serve-gunicorn db-stop clean

$(BIN)/activate: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

install: $(BIN)/activate

# Test-only packages: requirements-dev.txt, then LiteLLM and everything it needs from
# requirements-litellm.txt with --require-hashes (every package pinned and hashed; --no-deps
# because the file lists the whole closure).
$(VENV)/.dev-installed: $(BIN)/activate requirements-dev.txt requirements-litellm.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-litellm.txt
	touch $@

install-dev: $(VENV)/.dev-installed

# Regenerate requirements-litellm.txt (hashes included) after changing requirements-litellm.in or
# a pin the two share. pip-tools runs from a throwaway virtualenv; pip constraints take no extras.
LOCK_TMP := $(shell mktemp -d -u /tmp/inkwell-lock.XXXXXX)
lock-litellm:
	$(PYTHON) -m venv $(LOCK_TMP)/venv
	$(LOCK_TMP)/venv/bin/pip install --quiet pip-tools==7.6.2
	cat requirements.txt requirements-dev.txt | grep -v '^-r' | sed 's/\[[a-z,]*\]//' > $(LOCK_TMP)/constraints.txt
	$(LOCK_TMP)/venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --no-header \
	  -c $(LOCK_TMP)/constraints.txt -o requirements-litellm.txt requirements-litellm.in
	sed -i 's|-c $(LOCK_TMP)/constraints.txt|-c requirements.txt, requirements-dev.txt|' requirements-litellm.txt
	rm -rf $(LOCK_TMP)

migrate: install
	$(MANAGE) migrate --noinput

seed: migrate
	$(if $(SEED_FIXTURES),$(MANAGE) loaddata $(SEED_FIXTURES))
	$(MANAGE) sync_model_prices
	$(MANAGE) bootstrap_demo --base-url http://$(HOST):$(PORT)

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

test: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Everything CI checks besides the tests.
check: lint
	$(MANAGE) makemigrations --check --dry-run
	$(MANAGE) spectacular --validate --fail-on-warn --file /dev/null
	DJANGO_SETTINGS_MODULE=config.settings.production \
	SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
	CRYPTOGRAPHY_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
	FINGERPRINT_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
	$(MANAGE) check --deploy --fail-level WARNING

serve-gunicorn: seed
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(BIN)/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers 2

db-stop:
	$(BIN)/python -c "from config.embedded_postgres import stop_embedded_database as s; print('stopped' if s('.pgdata') else 'not running')"

clean: db-stop
	rm -rf $(VENV) staticfiles
