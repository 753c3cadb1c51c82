"""Per-series scaling fitted on the training rows only.

Every mode divides series c by the same training standard deviation; they differ only in
the offset subtracted: the training mean (`global`, `revin`) or the window's own last
observed value (`window`). The offset cancels in (truth - forecast), so the loss is the
same normalised MSE under every mode and validation losses stay comparable across modes.
`revin` scales like `global` here; the model normalises each window itself.
"""

from dataclasses import dataclass

import numpy as np


MODES = ("global", "window", "revin")  # data.scaling


@dataclass(frozen=True)
class Scaler:
    mode: str
    mean: np.ndarray  # (C,)
    std: np.ndarray   # (C,)

    @classmethod
    def fit(cls, train_rows: np.ndarray, mode: str) -> "Scaler":
        std = train_rows.std(axis=0)
        std = np.where(std > 0, std, 1.0)  # a constant series keeps its units
        return cls(mode=mode, mean=train_rows.mean(axis=0), std=std)

    def _offset(self, X: np.ndarray) -> np.ndarray:
        """(N, 1, C) value subtracted from both the window and its targets."""
        if self.mode == "window":
            return X[:, -1:, :]
        return np.broadcast_to(self.mean, (len(X), 1, X.shape[-1]))

    def transform(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offset = self._offset(X)
        scaled_X = (X - offset) / self.std
        scaled_y = (y - offset) / self.std
        return scaled_X.astype(np.float32), scaled_y.astype(np.float32)

    def transform_inputs(self, X: np.ndarray) -> np.ndarray:
        """Raw windows (N, T, C) as the model sees them (float32), no targets needed."""
        return ((X - self._offset(X)) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Scaler":
        return cls(mode=str(d["mode"]), mean=np.asarray(d["mean"], dtype=np.float64),
                   std=np.asarray(d["std"], dtype=np.float64))

    def inverse(self, y_scaled: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Scaled targets or forecasts (N, H, C) back to original units; X is the raw window."""
        return y_scaled * self.std + self._offset(X)
