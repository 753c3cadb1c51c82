"""Rolling-origin folds for the comparison's backtests: K chronological train/val/test
splits whose test blocks tile the end of the series, the last one being the sweep's split.

With n rows, v = round(n * val_fraction) and t = round(n * test_fraction) (the sizes of
`split_bounds`), fold k (k = 0 .. K-1) tests on rows [n - (K-k)*t, n - (K-1-k)*t), validates
on the v rows before them, and trains on every row before those:

    fold 0:   train .......... | val | test |      |      |
    fold 1:   train ................ | val  | test |      |
    fold 2:   train ....................... | val  | test |   <- the sweep's split

Test blocks of consecutive folds are adjacent and never overlap; rows after a fold's test
block play no part in it (src.data.model_inputs.prepare fits the scaler on its training rows).
"""

import numpy as np

from src.config import UserError
from src.data.windows import split_bounds

# How far rows_needed looks; more rows than this for a few folds means fractions near 1.
MAX_ROWS = 10**6


def fold_bounds(n_rows: int, val_fraction: float, test_fraction: float,
                folds: int) -> list[dict[str, tuple[int, int]]]:
    """Row ranges [start, stop) of each fold's train/val/test, oldest fold first."""
    last = split_bounds(n_rows, val_fraction, test_fraction)
    v = last["val"][1] - last["val"][0]
    t = last["test"][1] - last["test"][0]
    out = []
    for k in range(folds):
        test_stop = n_rows - (folds - 1 - k) * t
        val_start = test_stop - t - v
        out.append({"train": (0, val_start), "val": (val_start, test_stop - t),
                    "test": (test_stop - t, test_stop)})
    return out


def rows_needed(val_fraction: float, test_fraction: float, folds: int, window: int) -> int | None:
    """The fewest rows whose first fold trains on, and whose blocks each hold, at least
    `window` rows; None when no number up to MAX_ROWS does."""
    n = np.arange(1, MAX_ROWS + 1)
    v = np.round(n * val_fraction).astype(np.int64)
    t = np.round(n * test_fraction).astype(np.int64)
    ok = (n - folds * t - v >= window) & (v >= window) & (t >= window)
    return int(n[ok.argmax()]) if ok.any() else None


def check_rows(n_rows: int, val_fraction: float, test_fraction: float, folds: int, window: int) -> None:
    """With folds > 1: UserError naming how many rows `folds` folds need when the first fold
    trains on, or a block holds, fewer than one window. One fold is the sweep's split, whose
    own message (src.data.windows) stands."""
    if folds == 1:
        return
    first = fold_bounds(n_rows, val_fraction, test_fraction, folds)[0]
    if min(stop - start for start, stop in first.values()) >= window:
        return
    need = rows_needed(val_fraction, test_fraction, folds, window)
    enough = f"at least {need} rows" if need else f"more than {MAX_ROWS:,} rows"
    raise UserError(
        f"compare.folds={folds} needs {enough} (its first fold must train on at least "
        f"input_steps + horizon = {window} rows before {folds} test blocks of data.test_fraction="
        f"{test_fraction} and a validation block of data.val_fraction={val_fraction}, each of "
        f"{window} rows or more); the data has {n_rows}: use fewer folds or more rows "
        f"(data.n_windows for synthetic data)")
