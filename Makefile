# `make help` lists the targets. Every target sets up .venv/ first (quick once done).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
UPGRADE ?= --upgrade
# The lock is for CPython 3.11 on Linux x86_64 (what CI runs); `make lock` writes it.
LOCK_FLAGS := --extra dev --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --custom-compile-command 'make lock'
ARGS ?=
WORKERS ?=
PORT ?= 5000
SERVE_PORT ?= 5002
MODEL ?= models:/many2many-sweep@champion
STORE := sqlite:///mlruns/mlflow.db

.PHONY: help setup lock sweep sweep-quick compare forecast serve train test bench services services-stop ui clean-runs

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Exactly the lock's versions (sync also removes what the lock no longer lists), then the
# project itself without dependencies. Compiled to bytecode at install, as pip does: uv does
# not by default, and where PYTHONDONTWRITEBYTECODE is set every process would compile
# TensorFlow's and MLflow's sources again on import. uv installs several times faster than
# pip, which stays the fallback where uv cannot be installed.
$(STAMP): $(LOCK) pyproject.toml
	python3 -m venv $(VENV)
	if $(PY) -m pip install --quiet uv==$(UV_VERSION); then \
	  $(UV) pip sync --quiet --compile-bytecode --python $(PY) --require-hashes $(LOCK) && \
	  $(UV) pip install --quiet --python $(PY) --no-deps -e .; \
	else \
	  echo "uv could not be installed: installing the lock with pip" >&2 && \
	  $(PY) -m pip install --quiet --require-hashes -r $(LOCK) && \
	  $(PY) -m pip install --quiet --no-deps -e .; \
	fi
	touch $@

setup: $(STAMP) ## create .venv/ and install the locked versions and the project into it
	@true

lock: ## refresh requirements.lock to the newest versions allowed (UPGRADE= keeps its pins)
	@test -d $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(UV) pip compile --quiet $(UPGRADE) $(LOCK_FLAGS) pyproject.toml -o $(LOCK)

sweep: setup ## the main job: an Optuna study per approach, baselines, one table (WORKERS=1)
	$(PY) -m src.sweep $(if $(WORKERS),search.workers=$(WORKERS)) $(ARGS)

sweep-quick: setup ## the same sweep shrunk to about a minute
	$(PY) -m src.sweep experiment=sweep_quick $(if $(WORKERS),search.workers=$(WORKERS)) $(ARGS)

compare: setup ## report on the sweep: table, repeats over seeds, plots (experiments/reports/)
	$(PY) -m src.compare $(ARGS)

forecast: setup ## the champion's forecast for a CSV: make forecast ARGS="data.path=load.csv"
	$(PY) -m src.forecast $(ARGS)

# The model checked first: MLflow's server answers a URI that names no model with a traceback.
serve: setup ## serve the champion on http://127.0.0.1:5002/invocations (MODEL=models:/...)
	@MLFLOW_TRACKING_URI=$(STORE) $(PY) -m src.serving.check $(MODEL)
	PATH=$(VENV)/bin:$$PATH MLFLOW_TRACKING_URI=$(STORE) $(PY) -m mlflow models serve -m $(MODEL) --env-manager local \
	    --host 127.0.0.1 --port $(SERVE_PORT)

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

ui: setup ## browse runs in mlflow ui at http://127.0.0.1:5000 (PORT=...); prints the runs view's address
	@$(PY) -m src.ui_link $(PORT) $(STORE)
	$(PY) -m mlflow ui --backend-store-uri $(STORE) --host 127.0.0.1 --port $(PORT)

clean-runs: ## delete every local run, study and report (mlruns/*, experiments/*)
	find mlruns experiments -mindepth 1 ! -name .gitkeep -delete
