"""From a data config to scaled, stacked model inputs and back to original units."""

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from src.config import build
from src.data.scaling import Scaler
from src.data.windows import Split, fingerprint, make_splits, split_bounds


@dataclass(frozen=True)
class WindowedData:
    train: Split
    val: Split
    test: Split
    series: list[str]
    scaler: Scaler
    stacking: str     # "channels": (N, T, C); "samples": (N*C, T, 1)
    fingerprint: str  # hash of the data and of the windows in each split

    @property
    def input_steps(self) -> int:
        return self.train.X.shape[1]

    @property
    def horizon(self) -> int:
        return self.train.y.shape[1]

    @property
    def n_series(self) -> int:
        return len(self.series)

    @property
    def model_series(self) -> int:
        """Series the model sees per example: all of them, or one when stacked as samples."""
        return 1 if self.stacking == "samples" else self.n_series

    def model_arrays(self, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """Scaled (X, y) in the model's layout."""
        X, y = self.scaler.transform(split.X, split.y)
        if self.stacking == "samples":
            return _to_samples(X), _to_samples(y)
        return X, y

    def to_original(self, y_model: np.ndarray, split: Split) -> np.ndarray:
        """Model output for `split` -> (N, H, C) in original units."""
        if self.stacking == "samples":
            y_model = _from_samples(y_model, self.n_series)
        return self.scaler.inverse(y_model, split.X)


def _to_samples(a: np.ndarray) -> np.ndarray:
    # (N, L, C) -> (N, C, L) -> (N*C, L, 1): series c of window n is row n*C + c
    n, length, c = a.shape
    return a.transpose(0, 2, 1).reshape(n * c, length, 1)


def _from_samples(a: np.ndarray, n_series: int) -> np.ndarray:
    # (N*C, L, 1) -> (N, C, L) -> (N, L, C)
    length = a.shape[1]
    return a.reshape(-1, n_series, length).transpose(0, 2, 1)


def prepare(cfg: DictConfig) -> WindowedData:
    """Read the source, window it into train/val/test, fit the scaler on train rows only."""
    frame = build(cfg.source)
    values = frame.to_numpy(dtype=np.float64)
    splits = make_splits(values, cfg.input_steps, cfg.horizon, cfg.val_fraction, cfg.test_fraction)
    start, stop = split_bounds(len(values), cfg.val_fraction, cfg.test_fraction)["train"]
    scaler = Scaler.fit(values[start:stop], cfg.scaling)
    return WindowedData(**splits, series=[str(c) for c in frame.columns], scaler=scaler,
                        stacking=cfg.stacking, fingerprint=fingerprint(values, splits))
