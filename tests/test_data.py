"""Windowing without leakage, scaling fitted on train only, stacking layouts, CSV input."""

import numpy as np
import pandas as pd
import pytest

from conftest import make_cfg, write_csv
from src.config import UserError
from src.data.model_inputs import prepare
from src.data.stacking import from_samples, to_samples
from src.data.scaling import Scaler
from src.data.sources import read_csv, synthetic
from src.data.windows import make_splits, split_bounds


def test_default_synthetic_data_is_shaped_like_the_seed():
    data = prepare(make_cfg().data)
    n = len(data.train.X) + len(data.val.X) + len(data.test.X)
    assert n == 1200
    assert data.train.X.shape[1:] == (40, 2) and data.test.y.shape[1:] == (10, 2)
    assert data.series == ["s0", "s1"]


def test_synthetic_is_seeded_and_series_differ():
    a = synthetic(3, 200, 40, 10, seed=5)
    pd.testing.assert_frame_equal(a, synthetic(3, 200, 40, 10, seed=5))
    assert not a.equals(synthetic(3, 200, 40, 10, seed=6))
    corr = a.corr().abs().to_numpy()
    assert (corr[np.triu_indices(3, 1)] < 0.9).all()  # no series is a rescaled copy of another


def test_no_window_crosses_a_split_boundary():
    values = np.arange(300, dtype=float).reshape(-1, 1) * [1.0, -1.0]
    splits = make_splits(values, 20, 5, 0.15, 0.15)
    bounds = split_bounds(300, 0.15, 0.15)
    for name, split in splits.items():
        start, stop = bounds[name]
        first_rows = split.X[:, 0, 0]
        last_rows = split.y[:, -1, 0]
        assert first_rows.min() >= start and last_rows.max() < stop, name
        np.testing.assert_array_equal(first_rows, split.starts)
        # input then target: 25 consecutive rows, series kept in their columns
        np.testing.assert_array_equal(split.y[:, 0, 0] - split.X[:, -1, 0], 1)
        np.testing.assert_array_equal(split.X[..., 1], -split.X[..., 0])
    assert splits["train"].y[:, -1, 0].max() < splits["val"].X[:, 0, 0].min()
    assert splits["val"].y[:, -1, 0].max() < splits["test"].X[:, 0, 0].min()


def test_scaler_is_fitted_on_training_rows_only(tmp_path):
    path = write_csv(tmp_path / "a.csv", rows=300)
    cfg = make_cfg("data=csv", f"data.path={path}", "data.input_steps=20", "data.horizon=5")
    base = prepare(cfg.data)
    frame = pd.read_csv(path)
    train_stop = split_bounds(300, 0.15, 0.15)["train"][1]
    frame.loc[train_stop:, ["load", "price", "temp"]] *= 1000  # change val and test only
    frame.to_csv(path, index=False)
    changed = prepare(cfg.data)
    np.testing.assert_array_equal(base.scaler.mean, changed.scaler.mean)
    np.testing.assert_array_equal(base.scaler.std, changed.scaler.std)
    train_rows = pd.read_csv(path)[["load", "price", "temp"]].to_numpy()[:train_stop]
    np.testing.assert_allclose(base.scaler.mean, train_rows.mean(axis=0))


@pytest.mark.parametrize("mode", ["global", "window", "revin"])
def test_scaling_round_trip(mode):
    rng = np.random.default_rng(0)
    X, y = rng.normal(5, 3, (6, 8, 2)), rng.normal(5, 3, (6, 4, 2))
    scaler = Scaler.fit(rng.normal(5, 3, (50, 2)), mode)
    _, y_scaled = scaler.transform(X, y)
    np.testing.assert_allclose(scaler.inverse(y_scaled, X), y, atol=1e-5)


def test_samples_stacking_round_trip_keeps_series_order():
    a = np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3)  # (N, L, C)
    stacked = to_samples(a)
    assert stacked.shape == (6, 5, 1)
    np.testing.assert_array_equal(stacked[4, :, 0], a[1, :, 1])  # row n*C + c
    np.testing.assert_array_equal(from_samples(stacked, 3), a)


def test_samples_stacking_feeds_one_series_per_example():
    data = prepare(make_cfg("data.stacking=samples", "data.n_windows=200").data)
    X, y = data.model_arrays(data.test)
    assert X.shape == (len(data.test.X) * 2, 40, 1) and y.shape[1:] == (10, 1)
    np.testing.assert_allclose(data.to_original(y, data.test), data.test.y, atol=1e-4)


def test_csv_defaults_to_every_numeric_column(tmp_path):
    frame = read_csv(str(write_csv(tmp_path / "s.csv")))
    assert list(frame.columns) == ["load", "price", "temp"]
    assert read_csv(str(tmp_path / "s.csv"), ["temp"]).shape == (200, 1)


@pytest.mark.parametrize("edit, columns, message", [
    (None, ["load", "wind"], "data.columns: wind not in"),
    ("text", ["load"], "column 'load' .* is not numeric: row 3 holds 'abc'"),
    ("nan", ["load"], "column 'load' .* has 1 missing or infinite value"),
    (None, [], "data.columns is empty"),
])
def test_bad_csv_columns_are_named(tmp_path, edit, columns, message):
    path = write_csv(tmp_path / "s.csv")
    frame = pd.read_csv(path)
    if edit == "text":
        frame["load"] = frame["load"].astype(object)
        frame.loc[3, "load"] = "abc"
    elif edit == "nan":
        frame.loc[7, "load"] = np.nan
    frame.to_csv(path, index=False)
    with pytest.raises(UserError, match=message):
        read_csv(str(path), columns)


def test_missing_file_and_short_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_csv(str(tmp_path / "absent.csv"))
    path = write_csv(tmp_path / "short.csv", rows=120)
    with pytest.raises(UserError, match="too few rows: 120 rows .* at least input_steps \\+ horizon = 50"):
        prepare(make_cfg("data=csv", f"data.path={path}").data)


def test_fingerprint_tracks_data_and_windows():
    base = prepare(make_cfg("data.n_windows=200").data).fingerprint
    assert base == prepare(make_cfg("data.n_windows=200", "data.stacking=samples").data).fingerprint
    assert base != prepare(make_cfg("data.n_windows=200", "data.seed=1").data).fingerprint
    assert base != prepare(make_cfg("data.n_windows=200", "data.horizon=9").data).fingerprint


def test_a_newest_first_csv_is_read_oldest_first_for_training_and_forecasting(tmp_path):
    """Before, both read such a file as it stood: training learnt the series backwards and
    src.forecast forecast from the oldest rows, dating the forecast before the file began."""
    from omegaconf import OmegaConf

    from src.forecast import next_index, read_history

    oldest = write_csv(tmp_path / "oldest.csv")
    newest = tmp_path / "newest.csv"
    pd.read_csv(oldest).iloc[::-1].to_csv(newest, index=False)
    pd.testing.assert_frame_equal(read_csv(str(newest)), read_csv(str(oldest)))
    history = read_history(OmegaConf.create({"path": str(newest), "time_column": None}))
    pd.testing.assert_frame_equal(history, read_history(OmegaConf.create({"path": str(oldest), "time_column": None})))
    assert next_index(history, 2)[0] == history.index[-1] + pd.Timedelta(hours=1)


def test_out_of_order_times_are_named_and_repeated_ones_allowed(tmp_path):
    path = write_csv(tmp_path / "series.csv")
    frame = pd.read_csv(path)
    days = frame.assign(date=pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d"))  # hourly rows
    days.to_csv(path, index=False)
    assert len(read_csv(str(path))) == len(frame)
    frame.loc[[5, 6], "date"] = frame.loc[[6, 5], "date"].to_numpy()
    frame.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"column 'date' in .* row 6 .* is earlier than the row before it"):
        read_csv(str(path))


def test_local_times_across_a_clock_change_are_read_in_utc(tmp_path):
    """Before, changing UTC offsets (+01:00, then +02:00) were a traceback."""
    from omegaconf import OmegaConf

    from src.forecast import read_history

    path = tmp_path / "local.csv"
    stamps = ["2024-03-30T12:00:00+01:00", "2024-03-31T12:00:00+02:00", "2024-04-01T12:00:00+02:00"]
    pd.DataFrame({"date": stamps, "load": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    history = read_history(OmegaConf.create({"path": str(path), "time_column": None}))
    assert str(history.index.tz) == "UTC" and history.index[-1] == pd.Timestamp("2024-04-01T10:00:00Z")


def test_dates_written_as_yyyymmdd_numbers_are_read_as_dates(tmp_path):
    """Before, 20240131 was a number: the forecast went on at the median step, 20240132."""
    from omegaconf import OmegaConf

    from src.forecast import next_index, read_history

    path = tmp_path / "days.csv"
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    frame = pd.DataFrame({"date": days.strftime("%Y%m%d").astype(int), "load": np.arange(200.0)})
    frame.iloc[::-1].to_csv(path, index=False)  # newest first, as exports often are
    assert list(read_csv(str(path)).columns) == ["load"]
    history = read_history(OmegaConf.create({"path": str(path), "time_column": None}))
    assert list(history.index[:2]) == list(days[:2]) and history["load"].iloc[-1] == 199.0
    assert list(next_index(history, 2)) == [pd.Timestamp("2024-07-19"), pd.Timestamp("2024-07-20")]
    # Numbers that are not all such dates stay numbers.
    pd.DataFrame({"date": [20240130, 20240131, 20240132], "load": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    assert list(next_index(read_history(OmegaConf.create({"path": str(path), "time_column": None})), 1)) == [20240133]


def test_weekday_data_with_holidays_is_forecast_on_weekdays():
    """Before, a holiday among the last dates left the frequency unnamed, and the median gap
    (a day) put 4 of 10 forecast dates on a weekend."""
    from src.forecast import next_index

    weekdays = pd.bdate_range("2024-10-01", "2025-01-03")
    trading = weekdays.drop(pd.to_datetime(["2024-12-25", "2024-12-26", "2025-01-01"]))
    forecast = next_index(pd.DataFrame({"load": np.arange(len(trading))}, index=trading), 10)
    assert list(forecast) == list(pd.bdate_range("2025-01-06", periods=10))
    # A daily series that includes weekends still goes on daily.
    days = pd.date_range("2024-10-01", "2025-01-03").drop(pd.to_datetime(["2024-12-30"]))
    assert next_index(pd.DataFrame({"load": np.arange(len(days))}, index=days), 3)[0] == pd.Timestamp("2025-01-04")


def test_a_time_column_of_numbers_stays_numbers_and_is_not_a_series(tmp_path):
    """Before, years were read as nanoseconds after 1970, and training took them as a series."""
    path = tmp_path / "years.csv"
    pd.DataFrame({"time": range(1900, 2100), "load": np.arange(200.0)}).to_csv(path, index=False)
    assert list(read_csv(str(path)).columns) == ["load"]
    years = [*range(1900, 1905), 1906, 1905, *range(1907, 2100)]  # out of order: the message said np.int64(1905)
    pd.DataFrame({"time": years, "load": np.arange(200.0)}).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"column 'time' in .* row 6 \(1905\) is earlier than the row before it"):
        read_csv(str(path))


def _dated(path, dates, sep=",", decimal="."):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"date": dates, "sales": rng.normal(200, 10, len(dates)).round(1),
                          "temp": rng.normal(0, 1, len(dates)).round(3)})
    frame.to_csv(path, index=False, sep=sep, decimal=decimal)
    return frame


@pytest.mark.parametrize("sep", [";", "\t"])
def test_values_separated_otherwise_with_decimal_commas_are_one_line(tmp_path, sep):
    """Before, pandas split the rows at the decimal commas: the whole header became one
    column of the digits after the last comma, which trained as a series, exit 0."""
    path = tmp_path / "european.csv"
    _dated(path, pd.date_range("2022-01-01", periods=60).strftime("%Y-%m-%d"), sep=sep, decimal=",")
    with pytest.raises(UserError, match=r"rows of .* hold more values than its header names columns \(1\)"):
        read_csv(str(path))


def test_rows_ending_in_a_separator_keep_their_columns(tmp_path):
    """Before, pandas made the dates the index and shifted every column one to the left:
    `sales` held the prices and trained as sales, exit 0."""
    path = tmp_path / "trailing.csv"
    frame = _dated(tmp_path / "plain.csv", pd.date_range("2022-01-01", periods=60).strftime("%Y-%m-%d"))
    path.write_text("date,sales,temp\n" + "".join(f"{d},{s},{t},\n" for d, s, t in frame.itertuples(index=False)))
    pd.testing.assert_frame_equal(read_csv(str(path)), read_csv(str(tmp_path / "plain.csv")))


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y"])
def test_day_first_and_month_first_dates_are_read_as_the_one_that_reads_them_all(tmp_path, fmt):
    """Before, 13/01/2023 of a day-first file was 'not a time'."""
    from omegaconf import OmegaConf

    from src.forecast import read_history

    days = pd.date_range("2023-01-01", periods=60)
    _dated(tmp_path / "d.csv", days.strftime(fmt))
    history = read_history(OmegaConf.create({"path": str(tmp_path / "d.csv"), "time_column": None}))
    assert (history.index == days).all()


def test_dates_that_read_both_day_and_month_first_are_refused(tmp_path):
    """Monthly dates on the 1st, 01/MM/YYYY: read month first they were 1 to 12 January of
    each year, and the forecast was dated in January, before the end of the history."""
    months = pd.date_range("2004-01-01", periods=60, freq="MS")
    _dated(tmp_path / "m.csv", months.strftime("%d/%m/%Y"))
    with pytest.raises(UserError, match=r"column 'date' in .*: its dates \(such as '01/01/2004'\) read both "
                                        r"day first and month first, and the two disagree; write them as YYYY-MM-DD"):
        read_csv(str(tmp_path / "m.csv"))


@pytest.mark.parametrize("freq, missing, expected", [
    ("ME", 295, ["2025-01-31", "2025-02-28", "2025-03-31"]),
    ("MS", 295, ["2025-01-01", "2025-02-01", "2025-03-01"]),
    ("QS", 295, ["2075-01-01", "2075-04-01", "2075-07-01"]),
    ("YS", 95, ["2100-01-01", "2101-01-01", "2102-01-01"]),
])
def test_a_missing_month_quarter_or_year_leaves_the_forecast_in_whole_steps(freq, missing, expected):
    """Before, one gap among the last dates made the step a median of days: month ends went
    2025-01-31, 2025-03-03, 2025-04-03, ..."""
    from src.forecast import next_index

    periods = 300 if freq != "YS" else 100
    start = {"ME": "2000-01-31", "MS": "2000-01-01", "QS": "2000-01-01", "YS": "2000-01-01"}[freq]
    index = pd.date_range(start, periods=periods, freq=freq).delete(missing)
    forecast = next_index(pd.DataFrame({"a": range(len(index))}, index=index.rename("date")), 3)
    assert [str(t.date()) for t in forecast] == expected


def test_a_time_column_named_otherwise_orders_training_rows_too(tmp_path):
    """`data.time_column` was src.forecast's alone: training refused the key, and a file
    dated by `month` newest first trained backwards in time."""
    from src.config import build

    dates = pd.date_range("2000-01-31", periods=120, freq="ME").strftime("%Y-%m-%d")
    oldest = _dated(tmp_path / "oldest.csv", dates).rename(columns={"date": "month"})
    oldest.to_csv(tmp_path / "oldest.csv", index=False)
    oldest.iloc[::-1].to_csv(tmp_path / "newest.csv", index=False)
    expected = read_csv(str(tmp_path / "oldest.csv"), time_column="month")
    pd.testing.assert_frame_equal(read_csv(str(tmp_path / "newest.csv"), time_column="month"), expected)
    assert list(expected.columns) == ["sales", "temp"]
    cfg = make_cfg("data=csv", f"data.path={tmp_path}/newest.csv", "data.time_column=month")
    pd.testing.assert_frame_equal(build(cfg.data.source), expected)  # what training reads
    with pytest.raises(UserError, match=r"data.time_column: no column 'week' in .*; columns are: month, sales, temp"):
        read_csv(str(tmp_path / "newest.csv"), time_column="week")


def test_pandas_row_numbers_are_no_series(tmp_path):
    """A file written by `DataFrame.to_csv()` with its index: 'Unnamed: 0' (0, 1, 2, ...)
    trained as a series and entered the pooled MSE."""
    frame = _dated(tmp_path / "plain.csv", pd.date_range("2022-01-01", periods=60).strftime("%Y-%m-%d"))
    frame.to_csv(tmp_path / "indexed.csv")
    assert list(read_csv(str(tmp_path / "indexed.csv")).columns) == ["sales", "temp"]
    assert list(read_csv(str(tmp_path / "indexed.csv"), columns=["Unnamed: 0", "sales"]).columns) == ["Unnamed: 0", "sales"]
