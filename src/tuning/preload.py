"""What every sweep worker needs, made ready once in the server that forks them
(`src.tuning.supervisor.worker_context`), so a fresh process per trial pays none of it."""

import importlib
from contextlib import suppress

from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

from src.serving.logged import requirement_pins

MODULES = ["src.tuning.worker", "src.tuning.trial", "src.one_run", "src.run_figures", "src.tracking", "matplotlib.pyplot",
           "mlflow.pyfunc", "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.tracking.rest_store",
           "alembic.migration", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql",
           "optuna.storages.journal"]
# The PostgreSQL driver where installed; GitPython, which MLflow imports at each run's start
# to tag the source commit (0.06-0.13 s of every trial here).
OPTIONAL = ["psycopg", "git"]

for name in MODULES:
    importlib.import_module(name)
for name in OPTIONAL:
    with suppress(ImportError):
        importlib.import_module(name)

# Logging a model, MLflow checks its pinned requirements against the installed packages,
# and the first check in a process maps every installed package to its modules: 0.3 s of
# every trial here, once in the server instead.
warn_dependency_requirement_mismatches(requirement_pins())
