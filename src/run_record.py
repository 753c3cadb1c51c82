"""What a run records beside its config and summary metrics, for `mlflow ui` to chart and
filter: short numeric params, the dataset it saw, and errors by horizon step."""

import time
import warnings
from pathlib import Path

import mlflow
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf

from src.data.model_inputs import WindowedData
from src.redact import redact

def handles(cfg: DictConfig, gradient: bool) -> dict[str, str]:
    """depth and width (cells in the first layer) of a recurrent stack; learning rate and
    batch size of a model trained by gradient descent (not naive, the closed-form linear or
    a statistical baseline). Nothing is made up for the others. The same names in every
    approach, so the compare view's parallel coordinates and scatter plots line up; a sweep
    trial adds its other searched values (taper, ...) by their space name."""
    out = {}
    if "units" in cfg.arch:
        out.update(depth=str(len(cfg.arch.units)), width=str(cfg.arch.units[0]))
    if gradient:
        out.update(learning_rate=str(cfg.train.learning_rate), batch_size=str(cfg.train.batch_size))
    return out


def log_by_step(series: dict[str, list[float]]) -> None:
    """Each list as one metric with step = h (1-based horizon step): one line chart each."""
    now = int(time.time() * 1000)
    metrics = [Metric(key, value, now, h) for key, values in series.items()
               for h, value in enumerate(values, start=1)]
    mlflow.MlflowClient().log_batch(mlflow.active_run().info.run_id, metrics=metrics)


def dataset_name(data_cfg: DictConfig) -> str:
    return Path(data_cfg.path).name if "path" in data_cfg else "synthetic"


def log_dataset(data_cfg: DictConfig, data: WindowedData) -> None:
    """The run's data as an MLflow dataset input: the runs table's Dataset column. Its
    digest is the split fingerprint, so runs that saw the same windows show the same one."""
    if "path" in data_cfg:
        source = redact(str(Path(data_cfg.path).resolve()))
    else:
        from mlflow.data.code_dataset_source import CodeDatasetSource

        source = CodeDatasetSource(tags=OmegaConf.to_container(data_cfg.source, resolve=True))
    with warnings.catch_warnings():
        # a local path matches two of MLflow's source resolvers, which pick the same class
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        dataset = mlflow.data.from_numpy(data.train.X, targets=data.train.y, source=source,
                                         name=dataset_name(data_cfg), digest=data.fingerprint)
    try:
        mlflow.log_input(dataset, context="train/val/test")
    except MlflowException as err:
        # Workers logging the same new dataset at once both try to create it, and a server on
        # PostgreSQL refuses the second (a unique-key conflict). It exists now: log it again.
        if "unique" not in str(err).lower() and "duplicate" not in str(err).lower():
            raise
        mlflow.log_input(dataset, context="train/val/test")
