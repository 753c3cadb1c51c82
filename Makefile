# `make help` lists the targets. Every target sets up .venv/ first (quick once done).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
WORKERS ?= 1
PORT ?= 5000
STORE := sqlite:///mlruns/mlflow.db

.PHONY: help setup sweep sweep-quick compare train test bench services services-stop ui clean-runs

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP) ## create .venv/ and install the project into it
	@true

sweep: setup ## the main job: an Optuna study per approach, baselines, one table (WORKERS=2)
	$(PY) -m src.sweep search.workers=$(WORKERS) $(ARGS)

sweep-quick: setup ## the same sweep shrunk to about a minute
	$(PY) -m src.sweep experiment=sweep_quick search.workers=$(WORKERS) $(ARGS)

compare: setup ## report on the sweep: table, repeats over seeds, plots (experiments/reports/)
	$(PY) -m src.compare $(ARGS)

train: setup ## train one approach: make train ARGS="arch=seq2seq train.epochs=50"
	$(PY) -m src.train $(ARGS)

test: setup ## run the test suite
	$(PY) -m pytest $(ARGS)

bench: setup ## measure training and sweep speed against plain Keras (experiments/bench/)
	$(PY) -m src.bench $(ARGS)

services: setup ## start PostgreSQL and an MLflow server on 127.0.0.1 (scaling out, see README)
	scripts/services.sh start

services-stop: ## stop them
	scripts/services.sh stop

ui: setup ## browse runs in mlflow ui at http://127.0.0.1:5000 (PORT=...)
	$(PY) -m mlflow ui --backend-store-uri $(STORE) --host 127.0.0.1 --port $(PORT)

clean-runs: ## delete every local run, study and report (mlruns/*, experiments/*)
	find mlruns experiments -mindepth 1 ! -name .gitkeep -delete
