"""`python -m src.forecast`: use a logged model on a CSV, by default the registered champion.

    python -m src.forecast data.path=load.csv                 # the next horizon steps
    python -m src.forecast data.path=load.csv windows=all     # backtest over every window
    python -m src.forecast model=models:/many2many-sweep/3 data.path=load.csv

Writes <out_dir>/forecast.csv and forecast.png (or backtest.csv), and prints the table.
The model is read as data (its JSON and .keras files); its code file is not run.
"""

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from src import tables
from src.config import UserError, check_known_keys
from src.redact import redact
from src.data.sources import dating_column, header_hint, oldest_first, read_table, shown_value

log = logging.getLogger(__name__)
WINDOWS = ("last", "all")


def read_history(data: DictConfig) -> pd.DataFrame:
    """The rows to forecast from, oldest first, indexed by time where the file has it."""
    if data.path is None:
        return _default_series()
    file = Path(data.path).expanduser()
    frame = read_table(data.path)
    column = dating_column(frame, data.time_column, file)
    if column is None:
        return frame
    frame, times = oldest_first(frame, column, file)
    return frame.drop(columns=[column]).set_index(times)


def _default_series() -> pd.DataFrame:
    """The embedded synthetic series, as `make sweep` makes them by default."""
    from hydra import compose

    from src.config import build

    return build(compose("config").data.source)


def next_index(history: pd.DataFrame, horizon: int) -> pd.Index:
    """The forecast's index, continuing the history's: timestamps at its inferred frequency,
    else in whole months where its last dates are (monthly on the 15th), else in business
    days where it is daily and never on a weekend (holidays leave its frequency unnamed), else
    at its median spacing; numbers (years) at their median step; else, or where the times
    repeat, 1..horizon."""
    index, steps = history.index, pd.RangeIndex(1, horizon + 1, name="step")
    if len(index) < 2:
        return steps
    if index.has_duplicates:  # any spacing taken from them is made up
        log.warning("the history's times repeat: the forecast is numbered by step")
        return steps
    if isinstance(index, pd.DatetimeIndex):
        with pd.option_context("future.infer_freq_returns_offset", True):
            offset = pd.infer_freq(index[-10:]) if len(index) >= 3 else None
        offset = offset or _months_apart(index[-10:]) or _business_days(index) or index.to_series().diff().median()
        return pd.DatetimeIndex([index[-1] + offset * (k + 1) for k in range(horizon)], name=index.name)
    if index.name is not None and pd.api.types.is_numeric_dtype(index):  # a time column of numbers
        step = np.median(np.diff(index.to_numpy()))
        step = int(step) if pd.api.types.is_integer_dtype(index) and float(step).is_integer() else step
        if step > 0:
            return pd.Index([index[-1] + step * (k + 1) for k in range(horizon)], name=index.name)
    return steps


def _business_days(times: pd.DatetimeIndex) -> pd.offsets.BusinessDay | None:
    """One business day where the times are a day apart at the median, span over a week
    and none falls on a Saturday or Sunday: weekday data whose holidays make pandas name no
    frequency (the median day put the forecast on weekends)."""
    daily = times.to_series().diff().median() == pd.Timedelta(days=1)
    if daily and times[-1] - times[0] >= pd.Timedelta(days=7) and (times.dayofweek < 5).all():
        return pd.offsets.BDay()
    return None


def _months_apart(times: pd.DatetimeIndex) -> pd.DateOffset | None:
    """A step of whole months where the times fall on the same day of the month (or each on
    its month's last day) and time of day, which no pandas frequency names when the day is
    not the 1st or the last: the most common gap, where every gap is a multiple of it (a
    missing month, quarter or year made the step a median of days, and the dates drifted)."""
    months = np.diff(np.asarray(times.year * 12 + times.month))
    same_time = (times.time == times[0].time()).all()
    month_ends = bool(times.is_month_end.all())
    if not (same_time and (month_ends or (times.day == times[0].day).all())) or not len(months):
        return None
    values, counts = np.unique(months, return_counts=True)
    step = int(values[np.argmax(counts)])
    if step <= 0 or (months % step).any():
        return None
    return pd.offsets.MonthEnd(step) if month_ends else pd.DateOffset(months=step)


def load(uri: str, tmp: Path):
    from src.serving.check import model_errors, unfinished_run_note
    from src.serving.logged import load_forecaster

    with model_errors(uri):
        forecaster = load_forecaster(uri, tmp)
    note = unfinished_run_note(uri)
    if note:
        log.warning(note)
    return forecaster


def series_of(history: pd.DataFrame, forecaster) -> pd.DataFrame:
    missing = [s for s in forecaster.series if s not in history.columns]
    if missing:
        raise UserError(f"data.path: the model forecasts {', '.join(forecaster.series)}; missing "
                        f"{', '.join(missing)} (columns: {', '.join(map(str, history.columns))})"
                        f"{header_hint(history.columns, missing)}")
    flags = [s for s in forecaster.series if pd.api.types.is_bool_dtype(history[s])]
    if flags:  # as training refuses them (src.data.sources.read_csv)
        raise UserError(f"data.path: column '{flags[0]}' holds true/false values, not numbers")
    for name in forecaster.series:  # as training does; text outside the window was drawn as labels
        text = pd.to_numeric(history[name], errors="coerce").isna() & history[name].notna()
        if text.any():
            row = int(np.argmax(text.to_numpy()))
            raise UserError(f"data.path: column '{name}' row {row} holds "
                            f"{shown_value(history[name].iloc[row])}, not a number")
    return history[forecaster.series]


def backtest(forecaster, history: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Every window of the history: errors of the model and of the naive forecast."""
    from numpy.lib.stride_tricks import sliding_window_view

    from src.data.model_inputs import MAX_ABS_VALUE
    from src.serving.forecaster import ForecastInputError

    values = history.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)  # text: NaN
    length = forecaster.input_steps + forecaster.horizon
    if len(values) < length:
        raise ForecastInputError(f"windows=all needs at least input_steps + horizon = {length} "
                                 f"rows; got {len(values)}")
    largest = np.abs(np.where(np.isfinite(values), values, 0)).max(axis=0)
    if (largest > MAX_ABS_VALUE).any():  # the errors' squares would overflow: inf and warnings
        c = int(np.argmax(largest > MAX_ABS_VALUE))
        raise ForecastInputError(f"column '{history.columns[c]}' holds values up to {largest[c]:.3g}; "
                                 f"beyond ±{MAX_ABS_VALUE:.0e} squared errors overflow: rescale it first")
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        row, c = bad[0]
        raise ForecastInputError(f"column '{history.columns[c]}' row {row} holds "
                                 f"{shown_value(history.iloc[row, c])}, not a finite number")
    stacked = sliding_window_view(values, length, axis=0).transpose(0, 2, 1)   # (N, T+H, C)
    X, y = stacked[:, :forecaster.input_steps], stacked[:, forecaster.input_steps:]
    err = forecaster.forecast(X, checked=True) - y
    naive = np.repeat(X[:, -1:], forecaster.horizon, axis=1) - y
    per_window = pd.DataFrame({"window_start": np.arange(len(X)),
                               "mse": (err ** 2).mean(axis=(1, 2)), "mae": np.abs(err).mean(axis=(1, 2)),
                               "naive_mse": (naive ** 2).mean(axis=(1, 2))})
    summary = {"windows": len(X), "mse": float((err ** 2).mean()), "mae": float(np.abs(err).mean()),
               "naive_mse": float((naive ** 2).mean()), "naive_mae": float(np.abs(naive).mean())}
    summary["ratio_to_naive"] = summary["mse"] / summary["naive_mse"]
    return per_window, summary


def forecast(cfg: DictConfig) -> pd.DataFrame:
    """Forecast (or backtest) and write the files; returns the forecast or per-window errors."""
    from src import services
    from src.run_figures import history_figure
    from src.serving.forecaster import ForecastInputError
    from src.serving.registry import champion_uri
    from src.tracking import point_mlflow_at

    check_known_keys(cfg, "src.forecast")
    if cfg.windows not in WINDOWS:
        raise UserError(f"windows must be one of {', '.join(WINDOWS)}; got '{cfg.windows}'")
    history = read_history(cfg.data)
    if not str(cfg.out_dir).strip():
        raise UserError("out_dir must not be empty: name the folder for the forecast's files")
    out = Path(cfg.out_dir)
    services.check_folder(out, "out_dir")
    names = ["backtest.csv"] if cfg.windows == "all" else ["forecast.csv", "forecast.png"]
    for name in names:
        if (out / name).is_dir():
            raise UserError(f"out_dir: {out / name} is a folder, where the forecast writes a file")
    services.check_tracking(cfg.tracking.uri)
    services.check_store_exists(cfg.tracking.uri, "run `make sweep` and `make compare` first, or set tracking.uri")
    point_mlflow_at(cfg.tracking.uri)
    uri = cfg.model or champion_uri(cfg.tracking.experiment, cfg.search.name)
    with tempfile.TemporaryDirectory() as tmp:
        forecaster = load(uri, Path(tmp))
    series = series_of(history, forecaster)
    shown = redact(uri)  # a models:/ or runs:/ URI, or a URL that may carry a password
    try:
        if cfg.windows == "all":
            per_window, summary = backtest(forecaster, series)
            write_files(out, {"backtest.csv": lambda path: per_window.to_csv(path, index=False)})
            print(tables.format_table([{"what": forecaster.approach or shown, **summary}], BACKTEST_COLUMNS))
            print(f"per window: {out / 'backtest.csv'}")
            return per_window
        result = forecaster.forecast_frame(series)
    except ForecastInputError as err:
        raise UserError(f"data: {err}") from None
    result.index = next_index(series, forecaster.horizon)
    figure = history_figure(series.iloc[-3 * forecaster.input_steps:], result,
                            title=f"{forecaster.approach or 'model'}: next {forecaster.horizon} steps ({shown})")
    write_files(out, {"forecast.csv": result.to_csv,
                      "forecast.png": lambda path: figure.savefig(path, dpi=110, format="png")})
    print(result.to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"model {shown} ({forecaster.approach}); written: {out / 'forecast.csv'}, {out / 'forecast.png'}")
    return result


def write_files(out: Path, writers: dict) -> None:
    """Each file written under a temporary name, then all moved into place: a failure leaves
    none of them, old or new, half-written or out of step with the other."""
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    try:
        for name, write in writers.items():
            written[name] = out / f".{name}.partial"
            write(written[name])
    except OSError as err:
        for path in written.values():
            path.unlink(missing_ok=True)
        raise UserError(f"out_dir: cannot write {out / name}: {err.strerror or err}") from None
    for name, path in written.items():
        os.replace(path, out / name)


BACKTEST_COLUMNS = [("what", "model", "{}"), ("windows", "windows", "{:,}"), ("mse", "MSE", "{:.4g}"),
                    ("mae", "MAE", "{:.4g}"), ("naive_mse", "naive MSE", "{:.4g}"),
                    ("ratio_to_naive", "MSE / naive", "{:.3f}")]


def main() -> None:
    from src.cli import run_app

    run_app(forecast, config_name="forecast")


if __name__ == "__main__":
    main()
