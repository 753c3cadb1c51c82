"""Sliding windows over chronological splits. No window crosses a split boundary."""

import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from src.config import UserError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    X: np.ndarray       # (N, input_steps, C), original units
    y: np.ndarray       # (N, horizon, C), original units
    starts: np.ndarray  # (N,) row of each window's first input step


def split_bounds(n_rows: int, val_fraction: float, test_fraction: float) -> dict[str, tuple[int, int]]:
    """Row ranges [start, stop) of the three chronological splits."""
    n_test = int(round(n_rows * test_fraction))
    n_val = int(round(n_rows * val_fraction))
    n_train = n_rows - n_val - n_test
    edges = np.cumsum([0, n_train, n_val, n_test])
    return {name: (int(edges[i]), int(edges[i + 1])) for i, name in enumerate(SPLITS)}


def make_splits(values: np.ndarray, input_steps: int, horizon: int,
                val_fraction: float, test_fraction: float) -> dict[str, Split]:
    """values: (rows, C). Windows of input_steps + horizon rows, stride 1, inside each split."""
    return windows_within(values, split_bounds(len(values), val_fraction, test_fraction),
                          input_steps, horizon)


def windows_within(values: np.ndarray, bounds: dict[str, tuple[int, int]], input_steps: int,
                   horizon: int) -> dict[str, Split]:
    """Windows inside explicit row ranges [start, stop) per split (a fold's, or the split's)."""
    window = input_steps + horizon
    short = {name: stop - start for name, (start, stop) in bounds.items() if stop - start < window}
    if short:
        sizes = ", ".join(f"{n} {stop - start}" for n, (start, stop) in bounds.items())
        raise UserError(
            f"too few rows: {len(values)} rows split into {sizes}, but every split needs at "
            f"least input_steps + horizon = {window} rows; supply more rows (data.n_windows for synthetic data) or shorter windows")
    return {name: _windows(values, start, stop, input_steps, horizon)
            for name, (start, stop) in bounds.items()}


def _windows(values: np.ndarray, start: int, stop: int, input_steps: int, horizon: int) -> Split:
    segment = values[start:stop]
    # (n_windows, C, window) -> (n_windows, window, C)
    stacked = sliding_window_view(segment, input_steps + horizon, axis=0).transpose(0, 2, 1)
    # float64 in original units: errors are computed from these, and float32 squares
    # overflow for values around 1e20 and up. Models get float32 after scaling.
    stacked = np.ascontiguousarray(stacked, dtype=np.float64)
    starts = start + np.arange(len(stacked))
    return Split(X=stacked[:, :input_steps], y=stacked[:, input_steps:], starts=starts)


def fingerprint(values: np.ndarray, splits: dict[str, Split]) -> str:
    """Short hash of the data and of which windows fall in which split."""
    digest = hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    for name in SPLITS:
        split = splits[name]
        digest.update(name.encode())
        digest.update(np.asarray(split.X.shape + split.y.shape, dtype=np.int64).tobytes())
        digest.update(split.starts.astype(np.int64).tobytes())
    return digest.hexdigest()[:16]
