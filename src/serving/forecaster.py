"""A trained approach as one object that forecasts in original units: the Keras network, the
scaler fitted on the training rows and the stacking it was trained with. The pipeline scores
every run through it, and it is what a logged MLflow model loads, so a served forecast is
the run's own test forecast. Saved as plain files (JSON and .keras), never pickled."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from src.data.scaling import MODES, Scaler
from src.data.stacking import STACKINGS, from_samples, to_samples
from src.models import revin  # noqa: F401  registers the RevIN layers before any load

FORMAT = 1
NETWORK_FILE = "network.keras"
SETTINGS_FILE = "forecaster.json"
PREDICT_BATCH = 256  # windows per network call


def network_graph(network: keras.Model, window_shape: tuple[int, ...]) -> Callable:
    """The network's inference call as one TensorFlow graph for any number of windows of
    `window_shape`: the computation of `network.predict`, XLA or not as it would be, traced
    once instead of once per call and input shape (Keras's predict traced three times a
    run here, half a second each)."""
    def forward(windows):
        return network(windows, training=False)

    if network.run_eagerly:
        return forward
    spec = tf.TensorSpec((None, *window_shape), tf.float32)
    return tf.function(forward, input_signature=[spec], jit_compile=bool(network.jit_compile))


class ForecastInputError(ValueError):
    """Input the forecaster cannot use; the message names the problem."""


def finite(forecasts: np.ndarray) -> np.ndarray:
    """The forecasts (N, H, C), or ForecastInputError where one is not finite: a history far
    outside what the network was trained on (scaled, beyond what float32 holds) gives inf."""
    if not np.isfinite(forecasts).all():
        raise ForecastInputError("the forecast is not finite: the history's values lie too far "
                                 "outside those the model was trained on")
    return forecasts


# The most training standard deviations a scaled input may lie from its offset (the training
# mean, or the window's last value). Far past anything a series drifts to, and far short of
# float32's limit: a history with one value of 1e30 (the others near 20) passed the float32
# check and forecast -5e28 for a series whose own history was normal, exit 0 and served.
MAX_SCALED = 1e6


def check_in_range(model_inputs: np.ndarray) -> None:
    """ForecastInputError where the network's scaled inputs lie beyond MAX_SCALED (or what
    float32 holds): a network forecast meaningless numbers from them, finite where it
    saturates (an LSTM's tanh), written and served without a word."""
    with np.errstate(over="ignore", invalid="ignore"):
        if not (np.abs(model_inputs.astype(np.float32)) <= MAX_SCALED).all():
            raise ForecastInputError(f"the history's values lie too far outside those the model was "
                                     f"trained on: scaled, beyond {MAX_SCALED:.0e} of its training "
                                     f"standard deviations")


@dataclass
class Forecaster:
    network: keras.Model   # scaled (B, T, C) -> (B, H, C); C = 1 when stacked as samples
    scaler: Scaler
    stacking: str          # "channels" or "samples"
    series: list[str]      # column names, in the order the network sees them
    input_steps: int
    horizon: int
    approach: str = ""
    _graph: Any = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def for_data(cls, network: keras.Model, data, approach: str = "") -> "Forecaster":
        """The forecaster of a network trained on `data` (src.data.model_inputs.WindowedData)."""
        return cls(network=network, scaler=data.scaler, stacking=data.stacking,
                   series=list(data.series), input_steps=data.input_steps,
                   horizon=data.horizon, approach=approach)

    def forecast(self, windows: np.ndarray, checked: bool = False) -> np.ndarray:
        """Raw windows (N, input_steps, C) -> forecasts (N, horizon, C), original units.
        `checked`: ForecastInputError where the windows lie too far outside the training
        range for a meaningful forecast (check_in_range, finite)."""
        windows = np.asarray(windows, dtype=np.float64)
        with np.errstate(over="ignore"):  # inf where a value is far out of range
            X = self.scaler.transform_inputs(windows)
        if checked:
            check_in_range(X)
        if self.stacking == "samples":
            X = to_samples(X)
        y = self.predict_scaled(X)
        if self.stacking == "samples":
            y = from_samples(y, len(self.series))
        forecasts = self.scaler.inverse(y, windows)
        return finite(forecasts) if checked else forecasts

    def predict_scaled(self, X: np.ndarray) -> np.ndarray:
        """The network's output for model-ready windows (scaled and stacked), computed in
        batches of PREDICT_BATCH as `network.predict(X, batch_size=PREDICT_BATCH)` does."""
        if self._graph is None:
            self._graph = network_graph(self.network, X.shape[1:])
        X = np.asarray(X, dtype=np.float32)
        return np.concatenate([np.asarray(self._graph(X[start:start + PREDICT_BATCH]))
                               for start in range(0, len(X), PREDICT_BATCH)])

    def window_from(self, history: pd.DataFrame) -> np.ndarray:
        """The last input_steps rows of a history (oldest first) as one window (1, T, C);
        ForecastInputError naming what is wrong with it."""
        if not isinstance(history, pd.DataFrame):
            raise ForecastInputError(f"expected a table with columns {', '.join(self.series)}, "
                                     f"got {type(history).__name__}")
        columns = [str(c) for c in history.columns]
        missing = [s for s in self.series if s not in columns]
        extra = [c for c in columns if c not in self.series]
        if missing or extra:
            problems = ([f"missing {', '.join(missing)}"] if missing else []) + \
                       ([f"unexpected {', '.join(extra)}"] if extra else [])
            raise ForecastInputError(f"columns must be the series the model was trained on "
                                     f"({', '.join(self.series)}): {'; '.join(problems)}")
        if len(history) < self.input_steps:
            raise ForecastInputError(f"needs at least {self.input_steps} rows (input_steps), "
                                     f"oldest first; got {len(history)}")
        recent = history.rename(columns=str)[self.series].iloc[-self.input_steps:]
        for name in self.series:
            values = pd.to_numeric(recent[name], errors="coerce").to_numpy(dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(values))
            if len(bad):
                row = len(history) - self.input_steps + int(bad[0])
                value = recent[name].iloc[int(bad[0])]
                shown = repr(value) if isinstance(value, str) else str(value)
                raise ForecastInputError(f"column '{name}' row {row} holds {shown}, not a finite number")
        return recent.to_numpy(dtype=np.float64)[None]

    def forecast_frame(self, history: pd.DataFrame) -> pd.DataFrame:
        """The next `horizon` steps after a history, one column per series."""
        forecast = self.forecast(self.window_from(history), checked=True)[0]
        return pd.DataFrame(forecast, columns=self.series)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.network.save(folder / NETWORK_FILE)
        settings = {"format": FORMAT, "approach": self.approach, "series": self.series,
                    "input_steps": self.input_steps, "horizon": self.horizon,
                    "stacking": self.stacking, "scaler": self.scaler.to_dict()}
        (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=2))

    @classmethod
    def load(cls, folder: Path) -> "Forecaster":
        settings = json.loads((Path(folder) / SETTINGS_FILE).read_text())
        if settings.get("format") != FORMAT:
            raise ValueError(f"{folder}: forecaster format {settings.get('format')}, expected {FORMAT}")
        series = settings["series"]
        if not isinstance(series, list) or not series or not all(isinstance(s, str) for s in series):
            raise ValueError(f"{folder}: series must be a list of column names, got {series!r}")
        network = keras.models.load_model(Path(folder) / NETWORK_FILE, safe_mode=True, compile=False)
        forecaster = cls(network=network, scaler=Scaler.from_dict(settings["scaler"]),
                         stacking=settings["stacking"], series=series,
                         input_steps=int(settings["input_steps"]), horizon=int(settings["horizon"]),
                         approach=settings.get("approach", ""))
        forecaster.check(folder)
        return forecaster

    def check(self, folder: Path) -> None:
        """ValueError unless the settings agree with each other and with the network: a
        forecaster.json edited by hand, or from another version, failed inside Keras or pandas
        or, with an unknown scaler mode, forecast in the wrong units without a word."""
        n = len(self.series)
        width = 1 if self.stacking == "samples" else n
        problems = []
        if self.scaler.mode not in MODES:
            problems.append(f"scaler mode '{self.scaler.mode}' is not one of {', '.join(MODES)}")
        if self.stacking not in STACKINGS:
            problems.append(f"stacking '{self.stacking}' is not one of {', '.join(STACKINGS)}")
        if len(set(self.series)) < n:
            problems.append(f"series {self.series} names one twice")
        mean, std = self.scaler.mean, self.scaler.std
        if mean.shape != (n,) or std.shape != (n,) or not np.isfinite(mean).all() or not (std > 0).all():
            problems.append(f"the scaler needs a finite mean and a positive std for each of the {n} series")
        wanted = ((None, self.input_steps, width), (None, self.horizon, width))
        found = (tuple(self.network.input_shape), tuple(self.network.output_shape))
        if found != wanted:
            problems.append(f"the network maps {found[0]} to {found[1]}, the settings say "
                            f"{wanted[0]} to {wanted[1]}")
        if problems:
            raise ValueError(f"{folder}: {'; '.join(problems)}")
