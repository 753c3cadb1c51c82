"""What a model URI names, checked in one line: `src.forecast` loads it through `model_errors`,
and `make serve` runs this module before MLflow's scoring server, which answers a URI that
names no model with a traceback.

    MLFLOW_TRACKING_URI=sqlite:///mlruns/mlflow.db python -m src.serving.check models:/many2many-sweep@champion
"""

import sys
from contextlib import contextmanager

from src.config import UserError


@contextmanager
def model_errors(uri: str):
    """Reading `uri`'s model inside: what it fails with becomes one UserError naming it."""
    from mlflow.exceptions import MlflowException

    if "/" not in uri:  # neither models:/..., runs:/..., another scheme nor a folder
        raise UserError(f"model {uri}: not a model URI; use models:/<name>@<alias>, "
                        f"models:/<name>/<version> or runs:/<run id>/<approach> (a run logs its model under its arch's name)")
    try:
        yield
    except MlflowException as err:
        message = str(err.message).splitlines()[0]
        raise UserError(f"model {uri}: {message}{load_hint(uri)}") from None
    except ImportError as err:  # a URI scheme whose client is not installed, e.g. s3://
        raise UserError(f"model {uri}: cannot read it here: {err}") from None
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"model {uri}: not a model logged by this project ({err})") from None


def load_hint(uri: str) -> str:
    """What to do when `uri` names no model."""
    if "@champion" in uri:
        return ("; run `make compare` to register one, or name the sweep whose champion you want: "
                "the model is <tracking.experiment>-<search.name>, so after a preset such as "
                "experiment=my_csv it is models:/my_csv-my_csv@champion (make serve MODEL=...; "
                "src.forecast: give tracking.experiment=my_csv search.name=my_csv)")
    from src import run_tags

    run = run_of(uri)
    if run is None:
        return ""
    if run.data.tags.get(run_tags.ROLE) == run_tags.STUDY_RUN and run_tags.BEST_RUN_ID in run.data.tags:
        best = run.data.tags[run_tags.BEST_RUN_ID]
        return (f"; run {run.info.run_id} is study {run.data.tags.get(run_tags.STUDY, '')}'s run, which logs "
                f"no model: its selected trial's is runs:/{best}/{run.data.tags.get(run_tags.APPROACH, '<approach>')}")
    if run_tags.MODEL_URI not in run.data.tags:
        return (f"; run {run.info.run_id} ({run.data.tags.get(run_tags.ARCH, 'no arch')}) logged no MLflow "
                f"model: the statistical baselines (ets, theta, arima) log none, nor does a run "
                f"with tracking.log_model=false or one that failed before its end")
    return ("; a run logs its model under its approach's name: runs:/<run id>/<approach>, "
            "e.g. runs:/<run id>/reshape_head")


def run_of(uri: str):
    """The MLflow run a runs:/ URI names; None for another URI or a run not in the store."""
    if not uri.startswith("runs:/"):
        return None
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient().get_run(uri[len("runs:/"):].split("/", 1)[0])
    except MlflowException:
        return None


# How a run that did not end FINISHED ended, in words.
UNFINISHED = {"FAILED": "ended FAILED", "KILLED": "was stopped (KILLED: a pruned trial, or Ctrl+C)",
              "RUNNING": "is still RUNNING, or its process died"}


def unfinished_run_note(uri: str) -> str:
    """For a runs:/ URI whose run did not end FINISHED (a failed trial, one pruned or
    stopped, a process that died), a line saying so; '' otherwise. Its model loads and
    forecasts, and said nothing of how its run ended."""
    run = run_of(uri)
    if run is None or run.info.status == "FINISHED":
        return ""
    status = run.info.status
    return (f"run {run.info.run_id} {UNFINISHED.get(status, f'is {status}')}, not FINISHED: the model it logged "
            f"is used all the same; mlflow ui (make ui) shows the run")


def check_model(uri: str) -> None:
    """UserError unless `uri` names a model in the tracking store (MLFLOW_TRACKING_URI):
    its MLmodel file is read, not the model. A store that is not there is not created."""
    import mlflow
    from mlflow.models import get_model_info

    from src import services

    services.check_store_exists(mlflow.get_tracking_uri(), "run `make sweep` and `make compare` first")
    with model_errors(uri):
        get_model_info(uri)


def main(argv: list[str]) -> None:
    from src.cli import fail

    if len(argv) != 1:
        fail("usage: python -m src.serving.check <model URI>")
    try:
        check_model(argv[0])
    except UserError as err:
        fail(str(err))
    note = unfinished_run_note(argv[0])
    if note:
        print(f"warning: {note}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
