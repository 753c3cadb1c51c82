"""MLflow: where runs are stored, how a run ends, and what every run holds."""

import os
import re
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from omegaconf import DictConfig, OmegaConf

from src import run_tags
from src.config import UserError
from src.redact import redact
from src.services import SQLITE_PREFIX
from src.versions import versions

# A dead tracking server should fail a worker within seconds, not after MLflow's default
# minutes of retries; a short blip is still retried. Set them yourself to change this.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# A sweep ends hundreds of runs; MLflow would print two links for each.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
# ...and draw a progress bar for each model it logs or loads.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# Epoch metrics go through MLflow's asynchronous queue. Unbuffered, its thread waits on the
# queue up to a second at a time and ending a run waits for that (0.4 to 1 s per run here);
# buffered, it waits on the stop signal instead and a run ends at once.
os.environ.setdefault("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "1")


def resolve_uri(uri: str) -> str:
    """A relative SQLite path becomes absolute (and its folder is created), so every
    process of a sweep and `mlflow ui` open the same file."""
    if uri.startswith(SQLITE_PREFIX) and not uri.startswith(SQLITE_PREFIX + "/"):
        path = Path(uri[len(SQLITE_PREFIX):]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLITE_PREFIX + str(path)
    return uri


def point_mlflow_at(uri: str) -> str:
    """Make `uri` (resolved) MLflow's tracking URI and return it. With a password in it,
    MLflow's links to each run stay unprinted even where a user's environment asks for them:
    they would show the password."""
    uri = resolve_uri(uri)
    if redact(uri) != uri:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    mlflow.set_tracking_uri(uri)
    return uri


def use_experiment(cfg: DictConfig) -> str:
    """Point MLflow at `cfg.uri` and return the id of `cfg.experiment`, created if new."""
    uri = point_mlflow_at(cfg.uri)
    experiment = mlflow.get_experiment_by_name(cfg.experiment)
    if experiment is None:
        # A server chooses its own artifact store; a local store keeps them beside it, in a
        # folder per experiment.
        folder = re.sub(r"[^0-9A-Za-z_.-]", "_", cfg.experiment)
        location = None if uri.startswith("http") else (Path(cfg.artifact_root).resolve() / folder).as_uri()
        try:
            return mlflow.create_experiment(cfg.experiment, artifact_location=location)
        except MlflowException:  # another worker created it first
            experiment = mlflow.get_experiment_by_name(cfg.experiment)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        raise UserError(f"MLflow experiment '{cfg.experiment}' is deleted: restore it in "
                        f"mlflow ui or pick another tracking.experiment")
    return experiment.experiment_id


@contextmanager
def run(experiment_id: str, run_name: str | None = None, parent_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        killed_on: tuple[type[BaseException], ...] = (KeyboardInterrupt,)) -> Iterator[Any]:
    """An MLflow run that always ends: FINISHED, KILLED on `killed_on`, FAILED otherwise.

    A child run is tied to its parent by the `mlflow.parentRunId` tag, which needs no
    active parent in this process (sweep workers are separate processes). Every run is
    tagged `versions.<package>` with the versions it ran on, to reproduce it later.
    """
    tags = {**{f"{run_tags.VERSIONS_PREFIX}{k}": v for k, v in versions().items()},
            **{key: redact(str(value)) for key, value in (tags or {}).items()}}
    if parent_run_id:
        tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
    status = "FAILED"
    try:
        yield active
        status = "FINISHED"
    except killed_on:
        status = "KILLED"
        raise
    except Exception as err:
        record_error(err)
        raise
    finally:
        mlflow.end_run(status)


def record_error(err: Exception) -> None:
    """Why the active run failed, where `mlflow ui` shows it: the first line as tag `error`,
    the traceback as `error.txt`. Best effort: the store itself may be what failed."""
    import traceback

    text = redact("".join(traceback.format_exception(err)))
    first = redact(str(err).splitlines()[0] if str(err) else type(err).__name__)
    with suppress(Exception):
        mlflow.set_tag(run_tags.ERROR, f"{type(err).__name__}: {first}"[:5000])
        mlflow.log_text(text, "error.txt")


RUN_KEYS = ("data", "arch", "train", "tracking", "seed", "run_name")  # not search, compare


def flatten(cfg: DictConfig, only: tuple[str, ...] = RUN_KEYS) -> dict[str, str]:
    """The resolved config under the top-level keys `only`, nested keys joined by dots.
    A single run's params leave out `search`, which only a sweep's parent run needs."""
    out: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        else:
            out[prefix] = redact(str(node))

    container = OmegaConf.to_container(cfg, resolve=True)
    walk({k: v for k, v in container.items() if k in only}, "")
    return out


def model_summary(model) -> str:
    """A Keras model's summary as text."""
    lines: list[str] = []
    model.summary(print_fn=lambda text, line_break=True: lines.append(text), line_length=100)
    return "\n".join(lines)


def log_config(cfg: DictConfig) -> None:
    """Params: the flattened config, less `data.source.*`, which repeats `data.*`."""
    mlflow.log_params({k: v for k, v in flatten(cfg).items() if not k.startswith("data.source.")})
    mlflow.log_text(redact(OmegaConf.to_yaml(cfg, resolve=True)), "config.yaml")
