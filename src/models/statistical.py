"""Statistical baselines from statsmodels: ETS, Theta and ARIMA, one model per series.

Each is fitted on the training rows only. Every later window is then forecast from the whole
history up to its last input step with the fitted parameters, without refitting (what
statsforecast's `forward` does): the state-space models (ETS, ARIMA) filter the history once
and project each window's predicted state `horizon` steps ahead; Theta runs its exponential
smoothing over the history. A window's forecast depends on no row after its last input step.
These see the whole history, not only the `input_steps` rows the networks see.
"""

import warnings
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from src.config import UserError

ARIMA_MAX_ORDER = 2   # p and q are searched over 0..2
KPSS_LEVEL = 0.05     # difference again while KPSS rejects stationarity at this level


class SeriesModel(Protocol):
    """One series' fitted model: forecasts from any history that starts at the training rows."""
    spec: str       # what was chosen, e.g. "ARIMA(1,1,1) with drift"
    n_params: int   # parameters estimated on the training rows

    def forecast(self, history: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
        """history (R,): the series from its first training row; ends (N,): each window's
        last input row (< R). Returns (N, horizon): forecasts from history[:end + 1] alone."""


@dataclass
class StateSpaceModel:
    """A statsmodels state-space model (time-invariant system matrices) and its parameters."""
    build: Callable       # endog -> the unfitted statsmodels model
    params: np.ndarray
    spec: str
    n_params: int
    aicc: float

    def forecast(self, history: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
        results = self.build(history[: ends.max() + 1]).filter(self.params)
        system = results.filter_results
        Z, T = _constant(system.design)[0], _constant(system.transition)        # (k,), (k, k)
        c, d = _constant(system.state_intercept), float(_constant(system.obs_intercept)[0])
        # predicted_state[:, t] is the state expected at row t from rows < t alone.
        state = system.predicted_state[:, ends + 1]                               # (k, N)
        out = np.empty((len(ends), horizon))
        for h in range(horizon):
            out[:, h] = d + Z @ state
            state = c[:, None] + T @ state
        return out


def _constant(matrix: np.ndarray) -> np.ndarray:
    """A system matrix without its time axis; every model here is time-invariant."""
    if not np.all(matrix == matrix[..., :1]):
        raise ValueError("a time-varying system matrix: forecasting it needs future values")
    return matrix[..., 0]


@dataclass
class ThetaSeries:
    """The Theta method (statsmodels' ThetaModel, theta = 2) with its training estimates:
    the slope b0, the smoothing alpha and, if deseasonalised, the seasonal indices."""
    b0: float
    alpha: float
    seasonal: np.ndarray      # (period,) indices by row % period; empty: none
    multiplicative: bool
    spec: str
    n_params: int

    def forecast(self, history: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
        from scipy.signal import lfilter

        y = history[: ends.max() + 1]
        period = len(self.seasonal)
        if period:
            index = self.seasonal[np.arange(len(y)) % period]
            y = y / index if self.multiplicative else y - index
        # Simple exponential smoothing from level y[0]: level_t = alpha y_t + (1-alpha) level_{t-1}.
        a = self.alpha
        level, _ = lfilter([a], [1.0, a - 1.0], y[1:], zi=[(1.0 - a) * y[0]])
        level = np.concatenate([[y[0]], level])                                  # (R,)
        n = (ends + 1).astype(np.float64)[:, None]                                # history lengths
        steps = np.arange(horizon, dtype=np.float64)[None, :]
        trend = steps + (1.0 / a - (1.0 - a) ** n / a if a > 0 else 0.0)
        out = level[ends][:, None] + 0.5 * self.b0 * trend                        # (N, H)
        if period:
            ahead = self.seasonal[(ends[:, None] + 1 + np.arange(horizon)[None, :]) % period]
            out = out * ahead if self.multiplicative else out + ahead
        return out


def fit_ets(y: np.ndarray, season_length: int) -> StateSpaceModel:
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    seasons = [None] + ([season_length] if season_length > 1 else [])
    candidates = [(trend, damped, season) for season in seasons
                  for trend, damped in ((False, False), (True, False), (True, True))]

    def build(spec):
        trend, damped, season = spec
        return lambda endog: ExponentialSmoothing(endog, trend=trend, damped_trend=damped,
                                                  seasonal=season)

    def name(spec):
        trend, damped, season = spec
        return f"ETS(A,{'Ad' if damped else 'A' if trend else 'N'},{'A' if season else 'N'})" + \
               (f" season {season}" if season else "")

    fits = _fit_each(y, [(build(s), name(s)) for s in candidates])
    return min(fits.values(), key=lambda m: m.aicc)


def fit_arima(y: np.ndarray, season_length: int) -> StateSpaceModel:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    d = _differences(y)
    trend = "c" if d < 2 else "n"

    def candidate(p, q, seasonal=(0, 0, 0, 0)):
        constant = {0: " with mean", 1: " with drift"}.get(d, "")
        season = f"({seasonal[0]},0,{seasonal[2]})[{seasonal[3]}]" if seasonal[3] else ""
        return (lambda endog: SARIMAX(endog, order=(p, d, q), seasonal_order=seasonal, trend=trend),
                f"ARIMA({p},{d},{q}){season}{constant}")

    orders = [(p, q) for p in range(ARIMA_MAX_ORDER + 1) for q in range(ARIMA_MAX_ORDER + 1)]
    fits = _fit_each(y, [candidate(p, q) for p, q in orders])
    best = min(fits, key=lambda i: fits[i].aicc)
    if season_length > 1:  # one seasonal term on top of the best non-seasonal order
        p, q = orders[best]
        seasonal = _fit_each(y, [candidate(p, q, (1, 0, 0, season_length)),
                                 candidate(p, q, (0, 0, 1, season_length))])
        return min([fits[best], *seasonal.values()], key=lambda m: m.aicc)
    return fits[best]


def _differences(y: np.ndarray) -> int:
    """0, 1 or 2: difference while KPSS rejects level stationarity (as auto.arima does)."""
    from statsmodels.tsa.stattools import kpss

    d = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # p-values outside KPSS's table are clipped, and said
        while d < 2 and kpss(np.diff(y, n=d), regression="c", nlags="auto")[1] < KPSS_LEVEL:
            d += 1
    return d


def _fit_each(y: np.ndarray, candidates: list[tuple[Callable, str]]) -> dict[int, StateSpaceModel]:
    """Index -> fitted model for each (build, spec) that fits y with a finite AICc; min()
    over them keeps the earlier, simpler one on a tie. UserError when none does."""
    fits = {}
    for i, (build, spec) in enumerate(candidates):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence and start-parameter warnings
            try:
                results = build(y).fit(disp=False)
            except (np.linalg.LinAlgError, ValueError):
                continue
        if np.isfinite(results.aicc):
            fits[i] = StateSpaceModel(build=build, params=np.asarray(results.params), spec=spec,
                                      n_params=len(results.params), aicc=float(results.aicc))
    if not fits:
        raise UserError(f"no model could be fitted to the training rows: "
                        f"{', '.join(spec for _, spec in candidates)}")
    return fits


def _seasonal_indices(results, n: int, period: int) -> np.ndarray:
    """The fitted seasonal index of each position in the period (position = row % period),
    read from the public forecast components: step i of a forecast from n rows is row n + i."""
    season = results.forecast_components(steps=period)["seasonal"].to_numpy(dtype=np.float64)
    indices = np.empty(period)
    indices[(n + np.arange(period)) % period] = season
    return indices


def fit_theta(y: np.ndarray, season_length: int) -> ThetaSeries:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    seasonal = season_length > 1
    model = ThetaModel(y, period=season_length if seasonal else None, deseasonalize=seasonal)
    results = model.fit()
    indices = _seasonal_indices(results, len(y), season_length) if model.deseasonalize else np.empty(0)
    multiplicative = model.method.startswith("mul")
    kind = f", deseasonalised ({'multiplicative' if multiplicative else 'additive'}, period " \
           f"{season_length})" if len(indices) else ""
    return ThetaSeries(b0=float(results.params["b0"]), alpha=float(results.params["alpha"]),
                       seasonal=indices, multiplicative=multiplicative,
                       spec=f"Theta(alpha={results.params['alpha']:.4g}, b0={results.params['b0']:.4g}{kind})",
                       n_params=2 + len(indices))


FITTERS = {"ets": fit_ets, "theta": fit_theta, "arima": fit_arima}


def one_blas_thread():
    """The fits are thousands of tiny matrix products, where BLAS threads only contend: on a
    busy 2-core machine ARIMA on the default data took 31 s with the default threads and
    2.4 s with one."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


@dataclass
class StatisticalBaseline:
    """One fitted model per series; forecasts every window of a split in original units."""
    name: str
    method: str           # a key of FITTERS
    horizon: int
    season_length: int
    models: list[SeriesModel] = field(default_factory=list)

    def fit(self, rows: np.ndarray, series: list[str]) -> None:
        """rows (R, C): the training rows, in original units."""
        check_season(self.season_length, len(rows))
        self.series = list(series)
        with one_blas_thread():
            self.models = [FITTERS[self.method](rows[:, c], self.season_length) for c in range(rows.shape[1])]

    def forecast(self, rows: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """rows (R, C): the series from its first training row on; ends (N,): each window's
        last input row. Returns (N, horizon, C), original units."""
        with one_blas_thread():
            return np.stack([m.forecast(rows[:, c], ends, self.horizon) for c, m in enumerate(self.models)],
                            axis=-1)

    @property
    def n_params(self) -> int:
        return sum(m.n_params for m in self.models)

    def specs(self) -> dict[str, str]:
        return {name: m.spec for name, m in zip(self.series, self.models)}

    def describe(self) -> str:
        lines = [f"{self.name}: statsmodels, one model per series, fitted on the training rows"]
        lines += [f"  {name}: {spec}" for name, spec in self.specs().items()]
        return "\n".join(lines) + "\n"


def check_season(season_length: int, training_rows: int) -> None:
    """UserError unless the training rows hold two seasons (and two rows more). `src.train`
    and `src.sweep` check it before any run is created."""
    if training_rows < 2 * season_length + 2:
        raise UserError(f"arch.season_length={season_length} needs at least {2 * season_length + 2} "
                        f"training rows (two seasons); there are {training_rows}")


def check_fits(arch, training_rows: int) -> None:
    """The check above, for an arch config that has a season (the statistical ones)."""
    if "season_length" in arch:
        check_season(arch.season_length, training_rows)


def _builder(method: str):
    def build(input_steps: int, horizon: int, n_series: int, season_length: int = 1,
              name: str = method) -> StatisticalBaseline:
        return StatisticalBaseline(name=name, method=method, horizon=horizon, season_length=season_length)

    build.__name__ = method
    build.__doc__ = f"An unfitted {method} baseline (see the module's docstring)."
    return build


ets = _builder("ets")
theta = _builder("theta")
arima = _builder("arima")
