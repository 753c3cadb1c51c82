"""Forecast errors in original units, overall, per series and per horizon step, beside the
naive forecast on the same windows."""

import time

import numpy as np

from src.data.sources import metric_key
from src.data.model_inputs import WindowedData
from src.data.windows import Split


def naive_forecast(split: Split) -> np.ndarray:
    """(N, H, C): each series' last observed value, repeated, in original units."""
    horizon = split.y.shape[1]
    return np.repeat(split.X[:, -1:, :], horizon, axis=1)


def predict(model, data: WindowedData, split: Split) -> np.ndarray:
    """(N, H, C) forecasts for a split, in original units, through the same Forecaster a
    run logs as its MLflow model."""
    from src.serving.forecaster import Forecaster

    return Forecaster.for_data(model, data).forecast(split.X)


def seconds_per_window(forecaster, data: WindowedData, split: Split, repeats: int = 3) -> float:
    """Median time the network takes for the split's model-ready windows, divided by its
    windows (after one warm-up call); `forecaster`: src.serving.forecaster.Forecaster."""
    X, _ = data.model_arrays(split)
    forecaster.predict_scaled(X)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forecaster.predict_scaled(X)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / len(split.X)


def error_metrics(prefix: str, truth: np.ndarray, forecast: np.ndarray,
                  series: list[str]) -> dict[str, float]:
    """`{prefix}_mse`, `{prefix}_mae`, and the same per series (`/<series>`); truth and
    forecast are (N, H, C)."""
    err = forecast - truth
    metrics = {f"{prefix}_mse": float(np.mean(err**2)), f"{prefix}_mae": float(np.mean(np.abs(err)))}
    for c, name in enumerate(series):
        metrics[f"{prefix}_mse/{metric_key(name)}"] = float(np.mean(err[..., c] ** 2))
        metrics[f"{prefix}_mae/{metric_key(name)}"] = float(np.mean(np.abs(err[..., c])))
    return metrics


def by_step(prefix: str, truth: np.ndarray, forecast: np.ndarray) -> dict[str, list[float]]:
    """`{prefix}_mse_by_step` and `{prefix}_mae_by_step`: element h-1 is the error h steps
    ahead; truth and forecast are (N, H, C)."""
    err = forecast - truth
    return {f"{prefix}_mse_by_step": [float(v) for v in np.mean(err**2, axis=(0, 2))],
            f"{prefix}_mae_by_step": [float(v) for v in np.mean(np.abs(err), axis=(0, 2))]}


def evaluate(data: WindowedData, val_forecast: np.ndarray, test_forecast: np.ndarray) -> dict[str, float]:
    """Validation and test errors, and the test errors' ratio to the naive forecast."""
    naive = error_metrics("naive_test", data.test.y, naive_forecast(data.test), data.series)
    metrics = error_metrics("test", data.test.y, test_forecast, data.series)
    val = error_metrics("val", data.val.y, val_forecast, data.series)
    metrics["val_mse"], metrics["val_mae"] = val["val_mse"], val["val_mae"]
    metrics["naive_test_mse"], metrics["naive_test_mae"] = naive["naive_test_mse"], naive["naive_test_mae"]
    metrics["test_mse_ratio_to_naive"] = ratio(metrics["test_mse"], naive["naive_test_mse"])
    metrics["test_mae_ratio_to_naive"] = ratio(metrics["test_mae"], naive["naive_test_mae"])
    return metrics


def ratio(value: float, reference: float) -> float:
    """value / reference, NaN (shown as -) where the reference is 0: naive is exact where
    every series is flat over the test rows."""
    return value / reference if reference > 0 else float("nan")
