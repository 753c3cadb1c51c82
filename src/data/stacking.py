"""The two layouts a model can see the series in. `channels`: (N, L, C), every series a
feature of one example. `samples`: (N*C, L, 1), every series its own example; row n*C + c
holds series c of window n."""

import numpy as np

STACKINGS = ("channels", "samples")


def to_samples(a: np.ndarray) -> np.ndarray:
    # (N, L, C) -> (N, C, L) -> (N*C, L, 1)
    n, length, c = a.shape
    return a.transpose(0, 2, 1).reshape(n * c, length, 1)


def from_samples(a: np.ndarray, n_series: int) -> np.ndarray:
    # (N*C, L, 1) -> (N, C, L) -> (N, L, C)
    length = a.shape[1]
    return a.reshape(-1, n_series, length).transpose(0, 2, 1)
