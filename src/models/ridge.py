"""The linear baseline's fit in closed form: ridge least squares from the window the network
sees to the whole horizon, on the training windows, with the penalty chosen on the
validation windows. No epochs, no learning rate, no seed.

The solution goes into the network's Dense `head`, so the fitted model is the same Keras
model as before (scaled inputs -> scaled forecast): the Forecaster, the MLflow model and
serving are unchanged. What the head sees follows `data.scaling`: window-relative values
(`window`), levels (`global`), or each window normalised by its own mean and deviation
(`revin`, the ridge then fits in those units).
"""

import time

import keras
import numpy as np

from src.data.model_inputs import WindowedData
from src.data.windows import Split
from src.models.revin import EPSILON
from src.keras_fit import FitResult

HEAD = "head"  # the Dense layer of src.models.baselines.linear
INPUTS = {"window": "window-relative", "global": "levels", "revin": "instance-normalised"}


def is_closed_form(arch_cfg) -> bool:
    """An arch config whose model is fitted by `fit` rather than by gradient descent."""
    return "alphas" in arch_cfg


def ridge(X: np.ndarray, Y: np.ndarray, alphas: list[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) minimising ||X W + b - Y||² + alpha ||W||² for each alpha (the intercept b is
    not penalised); X (N, D), Y (N, K), W (D, K), b (K,). One SVD serves every alpha;
    alpha = 0 gives the minimum-norm least-squares solution (directions with singular values
    below lstsq's default cut-off are dropped)."""
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    U, s, Vt = np.linalg.svd(X - x_mean, full_matrices=False)
    projected = U.T @ (Y - y_mean)                                   # (r, K)
    kept = s > np.finfo(np.float64).eps * max(X.shape) * (s[0] if len(s) else 0.0)
    out = []
    for alpha in alphas:
        gain = np.where(kept, s / np.where(kept, s**2 + alpha, 1.0), 0.0)  # (r,)
        W = Vt.T @ (gain[:, None] * projected)
        out.append((W, y_mean - x_mean @ W))
    return out


def head_arrays(data: WindowedData, split: Split, revin: bool):
    """What the head maps: features (N, T*C) -> targets (N, H*C), and a function taking the
    head's output back to the model's (scaled) output (N, H, C)."""
    X, y = data.model_arrays(split)                                   # (N, T, C), (N, H, C)
    X, y = X.astype(np.float64), y.astype(np.float64)
    if revin:
        mean = X.mean(axis=1, keepdims=True)                          # (N, 1, C)
        std = np.sqrt(X.var(axis=1, keepdims=True) + EPSILON)
        X, y = (X - mean) / std, (y - mean) / std
    else:
        mean, std = 0.0, 1.0
    shape = y.shape

    def to_model(head_out: np.ndarray) -> np.ndarray:
        return head_out.reshape(shape) * std + mean

    return X.reshape(len(X), -1), y.reshape(len(y), -1), to_model


def fit(model: keras.Model, data: WindowedData, alphas: list[float]) -> tuple[FitResult, dict]:
    """Solve the head on the training windows for each alpha, keep the one with the lowest
    validation MSE (in the model's units: the val_loss of every other approach), set it.
    Returns the fit and what was chosen: `ridge_alpha`, `linear_inputs` and the validation
    loss of every alpha."""
    start = time.perf_counter()
    revin = data.scaler.mode == "revin"
    X, Y, _ = head_arrays(data, data.train, revin)
    X_val, _, to_model = head_arrays(data, data.val, revin)
    _, y_val = data.model_arrays(data.val)
    solutions = ridge(X, Y, list(alphas))
    losses = [float(np.mean((to_model(X_val @ W + b) - y_val) ** 2)) for W, b in solutions]
    best = int(np.argmin(losses))
    head = _find_layer(model, HEAD)
    W, b = solutions[best]
    head.set_weights([W.astype(np.float32), b.astype(np.float32)])
    chosen = {"ridge_alpha": float(alphas[best]), "linear_inputs": INPUTS[data.scaler.mode],
              "val_loss_by_alpha": {repr(float(a)): v for a, v in zip(alphas, losses)}}
    return FitResult(epochs=0, best_epoch=0, best_val_loss=losses[best],
                     seconds=time.perf_counter() - start), chosen


def _find_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    """The layer called `name`, also inside a wrapped model (RevIN's)."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if isinstance(layer, keras.Model):
            try:
                return _find_layer(layer, name)
            except ValueError:
                continue
    raise ValueError(f"{model.name} has no layer '{name}'")
