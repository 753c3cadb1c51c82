"""Where the series come from. Each source returns a DataFrame: one row per time step,
one float column per series, in time order."""

import csv
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from src.config import UserError

N_SPLITS = 3  # train, validation, test
log = logging.getLogger(__name__)


def synthetic(n_series: int, n_windows: int, window: int, horizon: int,
              trend: float = 0.0, noise: float = 1.0, coupling: float = 0.3,
              seed: int = 0) -> pd.DataFrame:
    """Seeded series with structure that differs per series.

    Series c has its own level, slope, period and harmonics, and threshold-AR noise whose
    persistence depends on its sign (a nonlinearity a linear map cannot fit). Series c also
    receives a saturated, lagged share of series c-1 (`coupling`), so a model that looks
    across series can gain something a channel-independent one cannot. The length is
    chosen so that the three chronological splits together hold exactly `n_windows` windows.
    """
    n_rows = n_windows + N_SPLITS * (window + horizon - 1)
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows, dtype=np.float64)
    columns: dict[str, np.ndarray] = {}
    previous = None
    for c in range(n_series):
        period = rng.choice([12.0, 20.0, 24.0, 30.0, 50.0])
        amplitude = rng.uniform(1.0, 3.0)
        phase = rng.uniform(0, 2 * np.pi)
        seasonal = amplitude * np.sin(2 * np.pi * t / period + phase)
        seasonal += 0.5 * amplitude * np.sin(4 * np.pi * t / period + 2 * phase)
        slope = rng.uniform(-0.002, 0.004) + trend
        sigma = noise * amplitude * rng.uniform(0.15, 0.3)
        level = rng.uniform(-5.0, 20.0)
        series = level + slope * t + seasonal + _threshold_ar(n_rows, sigma, rng)
        if previous is not None and coupling:
            lag = 5
            driver = (previous - previous.mean()) / previous.std()
            series[lag:] += coupling * amplitude * 2 * np.tanh(2 * driver[:-lag])
        columns[f"s{c}"] = series
        previous = series
    return pd.DataFrame(columns)


def _threshold_ar(n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """AR(1) that persists above zero (phi 0.95) and reverts fast below it (phi 0.3)."""
    shocks = rng.normal(0.0, sigma, n)
    out = np.empty(n)
    out[0] = shocks[0]
    for i in range(1, n):
        phi = 0.95 if out[i - 1] > 0 else 0.3
        out[i] = phi * out[i - 1] + shocks[i]
    return out


TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds")  # a column that dates the rows


def time_column(frame: pd.DataFrame) -> str | None:
    """The first column named as in TIME_NAMES, whatever its case."""
    return next((c for c in frame.columns if str(c).lower() in TIME_NAMES), None)


def dating_column(frame: pd.DataFrame, name: str | None, file: Path) -> str | None:
    """`data.time_column`, which must be in the file; null: the first named as in TIME_NAMES."""
    if name is None:
        return time_column(frame)
    if name not in frame.columns:
        raise UserError(f"data.time_column: no column '{name}' in {file}; columns are: {_names(frame.columns)}")
    return name


def oldest_first(frame: pd.DataFrame, column: str, file: Path) -> tuple[pd.DataFrame, pd.Index]:
    """The rows in time order by `column`, and their times (a DatetimeIndex; numbers such as
    years stay numbers). A file listing them newest first (a common export) is read the other
    way round, which the log says; a value that is not a time, or one before the row above
    it, is a UserError naming the row (its position in the file, as in every message here).
    A time may repeat: a `date` of days can date hourly rows."""
    values = frame[column]
    numbers = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    times = values if numbers else _parse_times(values, column, file)
    if numbers and (dates := _yyyymmdd(values)) is not None:
        log.info("column '%s' in %s holds dates written as numbers (yyyymmdd): read as dates", column, file)
        times, numbers = dates, False
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise UserError(f"column '{column}' in {file} row {row} is not a time: {values.iloc[row]!r}")
    if len(times) > 1 and times.iloc[0] > times.iloc[-1]:
        log.info("%s lists its rows newest first (column '%s'): read oldest first", file, column)
        frame, times = frame.iloc[::-1], times.iloc[::-1]
    backwards = np.flatnonzero((times.shift() > times).to_numpy())
    if backwards.size:
        row = int(times.index[backwards[0]])
        raise UserError(f"column '{column}' in {file} row {row} ({shown_value(frame[column].loc[row])}) is "
                        f"earlier than the row before it: the rows are out of time order; sort the file by {column}")
    index = pd.Index(times.to_numpy(), name=column) if numbers else pd.DatetimeIndex(times, name=column)
    return frame.reset_index(drop=True), index


def _yyyymmdd(values: pd.Series) -> pd.Series | None:
    """Whole numbers that are each a valid date written yyyymmdd (20240131), as dates; else
    None. Taken as numbers they stepped past each month's end (20240131, 20240132, ...)."""
    if not pd.api.types.is_integer_dtype(values) or values.empty:
        return None
    if not values.between(1000_01_01, 2999_12_31).all():
        return None
    dates = pd.to_datetime(values.astype("int64").astype(str), format="%Y%m%d", errors="coerce")
    return None if dates.isna().any() else dates


# A date that may be day first or month first: 01/12/2023, 1.12.23, 01-12-2023.
DAY_OR_MONTH_FIRST = re.compile(r"\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")


def _parse_times(values: pd.Series, column: str, file: Path) -> pd.Series:
    """Times from text; NaT where a value is none. Offsets that change (local time across a
    daylight-saving change) are brought to UTC. Dates such as 01/12/2023 are read month first
    or day first, whichever reads every one of them; where both do and disagree (monthly
    dates on the 1st: 01/MM/YYYY read month first is 1 to 12 January), a UserError."""
    times = _to_datetime(values)
    first = values.dropna().astype(str).head(1)
    if first.empty or not DAY_OR_MONTH_FIRST.match(first.iloc[0]):
        return times
    day_first = _to_datetime(values, dayfirst=True)
    if not _complete(day_first, values):
        return times
    if not _complete(times, values):
        return day_first
    if not day_first.equals(times):
        raise UserError(f"column '{column}' in {file}: its dates (such as {first.iloc[0]!r}) read "
                        f"both day first and month first, and the two disagree; write them as YYYY-MM-DD")
    return times


def _complete(times: pd.Series, values: pd.Series) -> bool:
    """Whether every value that is there was read as a time."""
    return bool((times.isna() == values.isna()).all())


def _to_datetime(values: pd.Series, dayfirst: bool = False) -> pd.Series:
    with warnings.catch_warnings():  # "Parsing dates in %d/%m/%Y format when dayfirst=False ..."
        warnings.simplefilter("ignore", UserWarning)
        try:
            return pd.to_datetime(values, errors="coerce", dayfirst=dayfirst)
        except ValueError:  # pandas refuses mixed offsets unless told to convert them
            return pd.to_datetime(values, errors="coerce", dayfirst=dayfirst, utc=True)


def metric_key(name: str) -> str:
    """A series name as MLflow accepts it in a metric key (`test_mse/<key>`)."""
    return re.sub(r"[^0-9A-Za-z_\-. ]", "_", name)


# MLflow refuses a metric key over 250 characters; a series' longest is `test_mse/<key>`.
MAX_NAME_LENGTH = 250 - len("test_mse/")


def read_table(path: str) -> pd.DataFrame:
    """The CSV file `data.path` as read by pandas, which renames a repeated header name
    (`s0.1`): refused instead, naming it."""
    file = Path(path).expanduser()
    if file.is_dir():
        raise UserError(f"data.path: {file} is a folder, not a CSV file")
    if not file.is_file():
        raise UserError(f"data.path: no such file: {path}")
    try:
        header = next(csv.reader(file.open(newline="")), [])
        # index_col=False: rows ending in a separator (a common export) are read as they
        # stand; by default pandas made their first column the index and shifted the others.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(file, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"data.path: cannot read {file} as CSV: {str(err).splitlines()[0]}") from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        # More values in its rows than names in its header: pandas drops the extra ones.
        raise UserError(f"data.path: the rows of {file} hold more values than its header names "
                        f"columns ({len(header)}): values separated by ';' or tabs with decimal commas, or "
                        f"commas inside unquoted values? Save it as CSV: ',' between values, '.' in numbers")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise UserError(f"data.path: the header of {file} names {_names(twice)} more than once; "
                        f"rename the columns so each is unique")
    if frame.empty:  # a header alone: "no numeric column" said before
        raise UserError(f"data.path: {file} has a header ({_names(frame.columns)}) but no rows")
    return frame


def shown_value(value) -> str:
    """A cell in an error line: text quoted, a number as printed (not numpy's np.float64(...))."""
    return repr(value) if isinstance(value, str) else str(value)


def header_hint(columns, wanted: list[str]) -> str:
    """Why names the file seems to hold are not found: another separator, or spaces around
    the names ('' where neither)."""
    columns = [str(c) for c in columns]
    if len(columns) == 1 and any(sep in columns[0] for sep in ";\t|"):
        return "; the file seems to separate its values with something other than commas: save it as CSV"
    spaced = [c for c in columns if c != c.strip() and c.strip() in wanted]
    if spaced:
        return f"; its names carry spaces ({', '.join(repr(c) for c in spaced)}): remove them from the header"
    return ""


def read_csv(path: str, columns: list[str] | None = None, time_column: str | None = None) -> pd.DataFrame:
    """The chosen columns of a CSV file (default: every numeric column), checked, in time
    order where a column dates the rows (`time_column`, else one named as in TIME_NAMES)."""
    file = Path(path).expanduser()
    frame = read_table(path)
    dated_by = dating_column(frame, time_column, file)
    row_numbers = [c for c in frame.columns[:1] if is_row_number(frame[c])]
    if dated_by is not None:
        frame, _ = oldest_first(frame, dated_by, file)
    if columns is None:  # the time column is not a series, even where it holds numbers (years)
        columns = [c for c in frame.columns if _is_number_column(frame[c]) and c not in (dated_by, *row_numbers)]
        if not columns:
            raise UserError(f"{file} has no numeric column; columns are: {_names(frame.columns)}"
                            f"{header_hint(frame.columns, [])}")
        skipped = [c for c in frame.columns if c not in columns and c not in row_numbers]
        if skipped:
            log.info("data.columns not set: using %s; skipped (not numeric): %s",
                     _names(columns), _names(skipped))
        if row_numbers:
            log.info("data.columns not set: skipped %s, which holds row numbers 0, 1, 2, ... "
                     "(as pandas's to_csv writes them)", row_numbers[0])
    else:
        columns = list(columns)
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise UserError(f"data.columns: {_names(unknown)} not in {file}; "
                            f"available: {_names(frame.columns)}{header_hint(frame.columns, unknown)}")
        if not columns:
            raise UserError("data.columns is empty: name at least one column, or null for all numeric")
    keys = [metric_key(str(name)) for name in columns]
    clash = sorted({str(name) for name, key in zip(columns, keys) if keys.count(key) > 1})
    if clash:  # one series' metrics would overwrite the other's in MLflow
        raise UserError(f"columns {_names(clash)} in {file} would share the MLflow metric name "
                        f"'{metric_key(clash[0])}' (characters other than letters, digits, _ - . and "
                        f"space become _): rename one")
    long = [str(name) for name in columns if len(metric_key(str(name))) > MAX_NAME_LENGTH]
    if long:  # MLflow refused its metrics after training, which ended in a traceback
        raise UserError(f"column '{long[0][:40]}...' in {file} has a name of {len(long[0])} characters; "
                        f"its MLflow metric names (test_mse/<name>) allow {MAX_NAME_LENGTH}: shorten it")
    for name in columns:
        if pd.api.types.is_bool_dtype(frame[name]):
            raise UserError(f"column '{name}' in {file} holds true/false values, not numbers")
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() & frame[name].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UserError(f"column '{name}' in {file} is not numeric: "
                            f"row {row} holds {shown_value(frame[name].iloc[row])}")
        missing = values.isna() | np.isinf(values)
        if missing.any():
            row = int(np.flatnonzero(missing.to_numpy())[0])
            raise UserError(f"column '{name}' in {file} has {int(missing.sum())} missing or "
                            f"infinite value(s), the first at row {row}; fill or drop them first")
        frame[name] = values.astype(np.float64)
    return frame[columns].reset_index(drop=True)


def is_row_number(column: pd.Series) -> bool:
    """pandas's own row numbers, as `DataFrame.to_csv()` writes them by default: a first
    column with no name (read as 'Unnamed: 0') holding 0, 1, 2, ... It is no series."""
    return (str(column.name) == "Unnamed: 0" and pd.api.types.is_integer_dtype(column)
            and bool((column.to_numpy() == np.arange(len(column))).all()))


def _is_number_column(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _names(names) -> str:
    return ", ".join(str(n) for n in names)
