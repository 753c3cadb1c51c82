"""Build, fit, evaluate and log one model into the active MLflow run. `src.train` and
every sweep trial call this same function, so every approach is treated alike."""

import logging

import keras
import mlflow
import numpy as np
import pandas as pd
from omegaconf import DictConfig

from src import evaluation, run_record, tracking
from src.config import build
from src.data.windowed import WindowedData
from src.models.revin import with_revin
from src.plots import forecast_figure
from src.serving.forecaster import Forecaster
from src.serving.logged import log_forecaster
from src.training import fit

# Keras retraces predict for each new array shape (validation, test, timing); TensorFlow
# warns about it after a few runs in one process. Expected here, so not shown.
logging.getLogger("tensorflow").setLevel(logging.ERROR)


def build_model(cfg: DictConfig, data: WindowedData) -> keras.Model:
    model = build(cfg.arch, input_steps=data.input_steps, horizon=data.horizon,
                  n_series=data.model_series)
    return with_revin(model) if data.scaler.mode == "revin" else model


def count_trainable(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def fit_and_log(cfg: DictConfig, data: WindowedData,
                callbacks: list[keras.callbacks.Callback] = ()) -> dict[str, float]:
    """Returns the logged summary metrics (original units unless named *_loss)."""
    keras.backend.clear_session()  # a clean graph per run: no growth over a sweep
    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg, data)
    n_params = count_trainable(model)
    mlflow.set_tags({"arch": cfg.arch.name, "stacking": data.stacking,
                     "scaling": data.scaler.mode, "split_fingerprint": data.fingerprint})
    tracking.log_config(cfg)
    mlflow.log_params(run_record.handles(cfg, n_params))
    run_record.log_dataset(cfg.data, data)
    mlflow.log_metric("n_params", n_params)
    mlflow.log_text(tracking.model_summary(model), "model_summary.txt")

    epoch_logger = tracking.EpochLogger()
    result = fit(model, data, cfg.train, seed=cfg.seed, callbacks=[epoch_logger, *callbacks])
    epoch_logger.wait()

    forecaster = Forecaster.for_data(model, data, approach=cfg.arch.name)
    val_forecast = forecaster.forecast(data.val.X)
    test_forecast = forecaster.forecast(data.test.X)
    metrics = evaluation.evaluate(data, val_forecast, test_forecast)
    metrics.update(n_params=n_params, best_val_loss=result.best_val_loss,
                   epochs_trained=result.epochs, best_epoch=result.best_epoch,
                   fit_seconds=result.seconds, seconds_per_epoch=result.seconds_per_epoch,
                   predict_seconds_per_window=evaluation.seconds_per_window(forecaster, data, data.test))
    mlflow.log_metrics(metrics)
    run_record.log_by_step(evaluation.by_step("test", data.test.y, test_forecast))
    figure = forecast_figure(data.test, test_forecast, data.series, cfg.tracking.forecast_windows,
                             title=f"{cfg.arch.name}: test MSE {metrics['test_mse']:.4g}")
    mlflow.log_figure(figure, "forecast.png")
    if cfg.tracking.log_model:
        # Its input example: the last training window, as a user would pass a history.
        log_forecaster(forecaster, pd.DataFrame(data.train.X[-1], columns=data.series))
    return metrics
