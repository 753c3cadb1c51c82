"""Build, fit, evaluate and log one model into the active MLflow run. `src.train` and
every sweep trial call this same function, so every approach is treated alike."""

import logging
import time

import keras
import mlflow
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from src import evaluation, run_record, tracking
from src import run_tags as tags
from src.config import build
from src.data.model_inputs import WindowedData
from src.models import ridge
from src.models.revin import with_revin
from src.models.statistical import StatisticalBaseline
from src.run_figures import forecast_figure
from src.tuning import approaches
from src.serving.forecaster import Forecaster
from src.serving.logged import log_forecaster
from src.keras_fit import fit

# Keras retraces predict for each new array shape (validation, test, timing); TensorFlow
# warns about it after a few runs in one process. Expected here, so not shown.
logging.getLogger("tensorflow").setLevel(logging.ERROR)


class EpochLogger(keras.callbacks.Callback):
    """`loss` and `val_loss` each epoch, step = epoch number (1-based), logged
    asynchronously so training does not wait on the store; `wait()` after training."""

    def __init__(self):
        super().__init__()
        self.pending = []

    def on_epoch_end(self, epoch, logs=None):
        metrics = {k: float(v) for k, v in (logs or {}).items() if k in ("loss", "val_loss")}
        self.pending.append(mlflow.log_metrics(metrics, step=epoch + 1, synchronous=False))

    def wait(self) -> None:
        """Every epoch's metrics written, or MlflowException: MLflow's logging thread only
        prints its failures."""
        mlflow.flush_async_logging()
        pending, self.pending = self.pending, []
        for operation in pending:
            operation.wait()


def build_network(arch: DictConfig, input_steps: int, horizon: int, n_series: int) -> keras.Model | StatisticalBaseline:
    """The arch config's builder called with the data's sizes."""
    # The searched space is the sweep's, the ridge penalties the fit's: not builder arguments.
    fit_only = {"space", "alphas"} if ridge.is_closed_form(arch) else {"space"}
    arch = OmegaConf.masked_copy(arch, [k for k in arch if k not in fit_only])
    return build(arch, input_steps=input_steps, horizon=horizon, n_series=n_series)


def build_model(cfg: DictConfig, data: WindowedData) -> keras.Model | StatisticalBaseline:
    model = build_network(cfg.arch, data.input_steps, data.horizon, data.model_series)
    if isinstance(model, StatisticalBaseline):
        return model
    return with_revin(model) if data.scaler.mode == "revin" else model


def count_trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def fit_and_log(cfg: DictConfig, data: WindowedData,
                callbacks: list[keras.callbacks.Callback] = ()) -> dict[str, float]:
    """Returns the logged summary metrics (original units unless named *_loss)."""
    keras.backend.clear_session()  # a clean graph per run: no growth over a sweep
    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg, data)
    if isinstance(model, StatisticalBaseline):
        return fit_and_log_statistical(cfg, data, model)
    n_params = count_trainable(model)
    closed_form = ridge.is_closed_form(cfg.arch)
    log_run_identity(cfg, data, n_params, tracking.model_summary(model),
                     deterministic=closed_form or n_params == 0,
                     gradient=not closed_form and n_params > 0)

    if closed_form:
        result, chosen = ridge.fit(model, data, cfg.arch.alphas)
        mlflow.log_params({k: chosen[k] for k in ("ridge_alpha", "linear_inputs")})
        mlflow.log_dict(chosen["val_loss_by_alpha"], "ridge_val_loss_by_alpha.json")
    else:
        epoch_logger = EpochLogger()
        result = fit(model, data, cfg.train, seed=cfg.seed, callbacks=[epoch_logger, *callbacks])
        epoch_logger.wait()

    forecaster = Forecaster.for_data(model, data, approach=cfg.arch.name)
    metrics = log_scores(cfg, data, forecaster.forecast(data.val.X), forecaster.forecast(data.test.X),
                         n_params=n_params, best_val_loss=result.best_val_loss,
                         epochs_trained=result.epochs, best_epoch=result.best_epoch,
                         fit_seconds=result.seconds, seconds_per_epoch=result.seconds_per_epoch,
                         predict_seconds_per_window=evaluation.seconds_per_window(forecaster, data, data.test))
    if cfg.tracking.log_model:
        # Its input example: the last training window, as a user would pass a history.
        log_forecaster(forecaster, pd.DataFrame(data.train.X[-1], columns=data.series))
    return metrics


def fit_and_log_statistical(cfg: DictConfig, data: WindowedData, model: StatisticalBaseline) -> dict[str, float]:
    """A statistical baseline through the same scoring and logging: fitted on the training
    rows, every validation and test window forecast from its own history. It logs no MLflow
    model (it is not a Keras network); its run is tagged `kind` = statistical."""
    rows = data.rows()
    start = time.perf_counter()
    model.fit(rows[: data.val.starts[0]], data.series)
    fit_seconds = time.perf_counter() - start
    log_run_identity(cfg, data, model.n_params, model.describe(), deterministic=True, gradient=False,
                     kind="statistical", scaling="none")
    mlflow.log_params({f"spec/{evaluation.metric_key(name)}": spec for name, spec in model.specs().items()})
    val_forecast = model.forecast(rows, data.last_inputs(data.val))
    start = time.perf_counter()
    test_forecast = model.forecast(rows, data.last_inputs(data.test))
    per_window = (time.perf_counter() - start) / len(data.test.X)
    # In the units of every other run's val_loss: each series' training deviation.
    val_loss = float(np.mean(((val_forecast - data.val.y) / data.scaler.std) ** 2))
    return log_scores(cfg, data, val_forecast, test_forecast, n_params=model.n_params,
                      best_val_loss=val_loss, epochs_trained=0, best_epoch=0, fit_seconds=fit_seconds,
                      seconds_per_epoch=0.0, predict_seconds_per_window=per_window)


def log_run_identity(cfg: DictConfig, data: WindowedData, n_params: int, summary: str,
                     deterministic: bool, gradient: bool, kind: str = "keras",
                     scaling: str | None = None) -> None:
    """Tags, config, short params, dataset and size of a run, before it is fitted.
    `deterministic`: the same result whatever the seed (the report repeats it over folds
    only); `gradient`: trained by gradient descent (learning rate and batch size apply)."""
    mlflow.set_tags({tags.ARCH: cfg.arch.name, tags.STACKING: data.stacking,
                     tags.APPROACH: approaches.label(cfg.arch.name, data.stacking), tags.KIND: kind,
                     tags.SCALING: scaling or data.scaler.mode, tags.SPLIT_FINGERPRINT: data.fingerprint,
                     tags.DETERMINISTIC: str(deterministic).lower()})
    tracking.log_config(cfg)
    mlflow.log_params(run_record.handles(cfg, gradient))
    run_record.log_dataset(cfg.data, data)
    mlflow.log_metric("n_params", n_params)
    mlflow.log_text(summary, "model_summary.txt")


def log_scores(cfg: DictConfig, data: WindowedData, val_forecast: np.ndarray, test_forecast: np.ndarray,
               **extra: float) -> dict[str, float]:
    """The metrics every run logs, from its validation and test forecasts (N, H, C) in
    original units, plus `extra`; errors by horizon step and the forecast figure."""
    metrics = {**evaluation.evaluate(data, val_forecast, test_forecast), **extra}
    mlflow.log_metrics(metrics)
    run_record.log_by_step(evaluation.by_step("test", data.test.y, test_forecast))
    figure = forecast_figure(data.test, test_forecast, data.series, cfg.tracking.forecast_windows,
                             title=f"{cfg.arch.name}: test MSE {metrics['test_mse']:.4g}")
    mlflow.log_figure(figure, "forecast.png")
    return metrics
