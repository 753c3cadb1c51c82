"""From a data config to scaled, stacked model inputs and back to original units."""

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from src.config import UserError, build
from src.data.scaling import Scaler
from src.data.stacking import from_samples, to_samples
from src.data.folds import check_rows, fold_bounds
from src.data.windows import Split, fingerprint, windows_within


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
            return to_samples(X), to_samples(y)
        return X, y

    def rows(self) -> np.ndarray:
        """(R, C) the series in original units, from the first training row to the last test
        row, read back from the windows (the three splits tile these rows)."""
        segments, next_row = [], 0
        for split in (self.train, self.val, self.test):
            if split.starts[0] != next_row:
                raise ValueError(f"the splits do not tile the rows: a split starts at row "
                                 f"{split.starts[0]}, not {next_row}")
            segments += [split.X[:, 0], split.X[-1, 1:], split.y[-1]]
            next_row = int(split.starts[-1]) + self.input_steps + self.horizon
        return np.concatenate(segments)

    def last_inputs(self, split: Split) -> np.ndarray:
        """(N,) the row of each window's last input step: what a forecast may see up to."""
        return split.starts + self.input_steps - 1

    def to_original(self, y_model: np.ndarray, split: Split) -> np.ndarray:
        """Model output for `split` -> (N, H, C) in original units."""
        if self.stacking == "samples":
            y_model = from_samples(y_model, self.n_series)
        return self.scaler.inverse(y_model, split.X)


# Beyond this, squared errors summed over a test split can overflow even float64; a series
# whose values all lie within ±1/MAX_ABS_VALUE has squares that underflow to 0 (its spread
# was 0, and it was refused as constant).
MAX_ABS_VALUE = 1e100


def check_values(values: np.ndarray, series: list[str]) -> None:
    """Finite values of a magnitude whose errors can be computed (UserError otherwise)."""
    for c, name in enumerate(series):
        column = values[:, c]
        if not np.isfinite(column).all():
            row = int(np.flatnonzero(~np.isfinite(column))[0])
            raise UserError(f"series '{name}' has a missing or infinite value at row {row}")
        largest = float(np.abs(column).max()) if len(column) else 0.0
        if largest > MAX_ABS_VALUE:
            raise UserError(f"series '{name}' holds values up to {largest:.3g}; beyond "
                            f"±{MAX_ABS_VALUE:.0e} squared errors overflow: rescale it first")
        if 0 < largest < 1 / MAX_ABS_VALUE:
            raise UserError(f"series '{name}' holds values no larger than {largest:.3g}; within "
                            f"±{1 / MAX_ABS_VALUE:.0e} squared errors underflow to 0: rescale it first")


def check_training_rows(train_rows: np.ndarray, series: list[str]) -> None:
    """Every series must vary over the training rows: a constant one cannot be scaled,
    and its naive error is zero, so no ratio to it exists."""
    std, mean = train_rows.std(axis=0), np.abs(train_rows.mean(axis=0))
    for c, name in enumerate(series):
        if std[c] == 0 or std[c] <= 1e-12 * mean[c]:
            raise UserError(f"series '{name}' is constant over the {len(train_rows)} training rows "
                            f"({train_rows[0, c]:.6g}): nothing to learn or compare with; "
                            f"leave it out of data.columns")


def prepare(cfg: DictConfig, fold: int | None = None, folds: int = 1) -> WindowedData:
    """Read the source, window it into train/val/test, fit the scaler on train rows only.
    With `folds` > 1: fold `fold` of the rolling-origin folds (src.data.folds); the default,
    the last fold, is the sweep's split (the same windows and fingerprint)."""
    frame = build(cfg.source)
    values = frame.to_numpy(dtype=np.float64)
    series = [str(c) for c in frame.columns]
    check_values(values, series)
    check_rows(len(values), cfg.val_fraction, cfg.test_fraction, folds, cfg.input_steps + cfg.horizon)
    bounds = fold_bounds(len(values), cfg.val_fraction, cfg.test_fraction, folds)[
        folds - 1 if fold is None else fold]
    splits = windows_within(values, bounds, cfg.input_steps, cfg.horizon)
    start, stop = bounds["train"]
    check_training_rows(values[start:stop], series)
    scaler = Scaler.fit(values[start:stop], cfg.scaling)
    return WindowedData(**splits, series=series, scaler=scaler,
                        stacking=cfg.stacking, fingerprint=fingerprint(values, splits))
