"""The baselines beside the LSTMs: the closed-form linear map, seasonal naive and the
statistical models (ETS, Theta, ARIMA): exact where they can be, forecasting each window from
its own history only, and logged as MLflow runs with the same metrics as every other run."""

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from conftest import CONF_DIR, TINY, make_cfg
from src.config import UserError, validate
from src.data.model_inputs import prepare
from src.models import ridge
from src.one_run import build_model
from src.serving.forecaster import Forecaster

STATISTICAL = ["ets", "theta", "arima"]
# ets and arima fit a state-space model by maximum likelihood, a second or more per test
# (slow); theta's fit is closed form and keeps each check in the quick suite.
BY_SPEED = [pytest.param(m, marks=pytest.mark.slow) if m in ("ets", "arima") else m for m in STATISTICAL]


def csv_data(tmp_path, values: np.ndarray, *overrides: str):
    """WindowedData of a two-column CSV holding `values` (rows, 2)."""
    path = tmp_path / "series.csv"
    pd.DataFrame(values, columns=["a", "b"]).to_csv(path, index=False)
    cfg = make_cfg("data=csv", f"data.path={path}", "data.input_steps=24", "data.horizon=6", *overrides)
    validate(cfg)
    return cfg, prepare(cfg.data)


def noisy_series(rows: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    return np.column_stack([10 + 0.02 * t + 2 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, rows),
                            np.cumsum(rng.normal(0, 1, rows)) + 50])


# --- linear, in closed form ---------------------------------------------------------------

def test_ridge_equals_numpy_lstsq():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(30, 5)), rng.normal(size=(30, 3))
    ones = np.ones((30, 1))
    (W0, b0), (W1, b1) = ridge.ridge(X, Y, [0.0, 2.5])
    # alpha = 0: ordinary least squares with an intercept column
    expected = np.linalg.lstsq(np.hstack([X, ones]), Y, rcond=None)[0]
    np.testing.assert_allclose(np.vstack([W0, b0]), expected, atol=1e-12)
    # alpha > 0: least squares on the system augmented with sqrt(alpha) I (intercept unpenalised)
    A = np.vstack([np.hstack([X, ones]), np.hstack([np.sqrt(2.5) * np.eye(5), np.zeros((5, 1))])])
    expected = np.linalg.lstsq(A, np.vstack([Y, np.zeros((5, 3))]), rcond=None)[0]
    np.testing.assert_allclose(np.vstack([W1, b1]), expected, atol=1e-12)
    assert not np.allclose(W0, W1)


@pytest.mark.parametrize("scaling", ["window", "global", "revin"])
def test_linear_head_is_the_ridge_solution_chosen_on_validation(tmp_path, scaling):
    cfg, data = csv_data(tmp_path, noisy_series(), "arch=linear", f"data.scaling={scaling}")
    model = build_model(cfg, data)
    result, chosen = ridge.fit(model, data, list(cfg.arch.alphas))
    losses = chosen["val_loss_by_alpha"]
    assert chosen["ridge_alpha"] == float(min(losses, key=losses.get))
    assert result.best_val_loss == min(losses.values()) and result.epochs == 0
    assert chosen["linear_inputs"] == ridge.INPUTS[scaling]
    # The network now forecasts with that solution: its validation MSE in the model's units
    # is the chosen loss (float32 weights), and the training windows' fit is the ridge's.
    X_val, y_val = data.model_arrays(data.val)
    predicted = model.predict(X_val, verbose=0)
    assert float(np.mean((predicted - y_val) ** 2)) == pytest.approx(result.best_val_loss, rel=1e-4)
    X, Y, to_model = ridge.head_arrays(data, data.train, scaling == "revin")
    W, b = ridge.ridge(X, Y, [chosen["ridge_alpha"]])[0]
    np.testing.assert_allclose(model.predict(data.model_arrays(data.train)[0], verbose=0),
                               to_model(X @ W + b), rtol=1e-4, atol=1e-4)


# --- seasonal naive -----------------------------------------------------------------------

@pytest.mark.parametrize("scaling", ["window", "global", "revin"])
def test_seasonal_naive_is_exact_on_a_periodic_series(tmp_path, scaling):
    pattern = np.array([3.0, 7.0, 1.0, 4.0, 9.0, 2.0, 8.0])  # period 7, no other structure
    values = np.column_stack([np.resize(pattern, 300), 100 + np.resize(pattern[::-1], 300)])
    for period, exact in ((7, True), (6, False)):
        cfg, data = csv_data(tmp_path, values, "arch=seasonal_naive", f"arch.period={period}",
                             f"data.scaling={scaling}")
        forecast = Forecaster.for_data(build_model(cfg, data), data).forecast(data.test.X)
        error = np.abs(forecast - data.test.y).max()
        assert (error < 1e-5) if exact else (error > 1.0), (period, error)


# --- statistical baselines ----------------------------------------------------------------

# Enough for several test windows; ARIMA's fit of 400 rows took 2.2 s here, of 250 rows 1.3 s.
STATISTICAL_ROWS = 250


def fitted(cfg, data):
    model = build_model(cfg, data)
    rows = data.rows()
    model.fit(rows[: data.val.starts[0]], data.series)
    return model, rows


@pytest.mark.parametrize("method", BY_SPEED)
def test_statistical_baselines_forecast_each_window_from_its_own_history(tmp_path, method):
    cfg, data = csv_data(tmp_path, noisy_series(STATISTICAL_ROWS), f"arch={method}")
    model, rows = fitted(cfg, data)
    ends = data.last_inputs(data.test)
    forecast = model.forecast(rows, ends)
    assert forecast.shape == data.test.y.shape
    for i in (0, len(ends) // 2, len(ends) - 1):
        # The rows after this window's last input step cut off, or replaced by nonsense: the
        # same forecast, bit for bit.
        cut = model.forecast(rows[: ends[i] + 1], ends[i:i + 1])
        garbage = rows.copy()
        garbage[ends[i] + 1:] = 1e6
        np.testing.assert_array_equal(cut[0], forecast[i])
        np.testing.assert_array_equal(model.forecast(garbage, ends[i:i + 1])[0], forecast[i])
    assert not np.array_equal(forecast[0], forecast[1])  # each window has its own origin


@pytest.mark.parametrize("method", BY_SPEED)
def test_moving_the_test_split_changes_nothing_before_it(tmp_path, method):
    """The same series but for its test rows (shifted up): the same fitted models and the
    same validation forecasts; only the test forecasts move."""
    values = noisy_series(STATISTICAL_ROWS)
    cfg, data = csv_data(tmp_path, values, f"arch={method}")
    moved = values.copy()
    moved[data.test.starts[0]:] += 25.0
    (tmp_path / "moved").mkdir()
    cfg_moved, data_moved = csv_data(tmp_path / "moved", moved, f"arch={method}")
    model, rows = fitted(cfg, data)
    model_moved, rows_moved = fitted(cfg_moved, data_moved)
    assert model.specs() == model_moved.specs() and model.n_params == model_moved.n_params
    np.testing.assert_array_equal(model.forecast(rows, data.last_inputs(data.val)),
                                  model_moved.forecast(rows_moved, data_moved.last_inputs(data_moved.val)))
    test, test_moved = (m.forecast(r, d.last_inputs(d.test)) for m, r, d in
                        ((model, rows, data), (model_moved, rows_moved, data_moved)))
    assert not np.allclose(test, test_moved)


@pytest.mark.parametrize("method, reference", [
    pytest.param("ets", "state space", marks=pytest.mark.slow),
    pytest.param("arima", "state space", marks=pytest.mark.slow), ("theta", "ThetaModel")])
def test_at_the_end_of_training_the_forecast_is_the_librarys(tmp_path, method, reference):
    from statsmodels.tsa.forecasting.theta import ThetaModel

    cfg, data = csv_data(tmp_path, noisy_series(STATISTICAL_ROWS), f"arch={method}")
    model, rows = fitted(cfg, data)
    end = data.val.starts[0] - 1  # the last training row
    ours = model.forecast(rows, np.array([end]))[0]                        # (H, C)
    for c, series_model in enumerate(model.models):
        train = rows[: end + 1, c]
        if reference == "ThetaModel":
            expected = ThetaModel(train, deseasonalize=False).fit().forecast(data.horizon)
        else:
            expected = series_model.build(train).filter(series_model.params).forecast(data.horizon)
        np.testing.assert_allclose(ours[:, c], np.asarray(expected), rtol=1e-9, atol=1e-9)


def test_the_seasonal_variants_use_the_season(tmp_path):
    cfg, data = csv_data(tmp_path, noisy_series(), "arch=theta", "arch.season_length=12")
    model, _ = fitted(cfg, data)
    assert "deseasonalised" in model.specs()["a"] and model.n_params > 4


def test_a_season_longer_than_the_training_rows_allow_is_one_line(tmp_path):
    cfg, data = csv_data(tmp_path, noisy_series(), "arch=ets", "arch.season_length=200")
    with pytest.raises(UserError, match="arch.season_length=200 needs at least 402 training rows"):
        fitted(cfg, data)


@pytest.mark.parametrize("overrides, message", [
    (["arch=seasonal_naive", "arch.period=41"], r"arch.period must lie between 1 and data.input_steps \(40\)"),
    (["arch=seasonal_naive", "arch.period=0"], "arch.period must lie between 1"),
    (["arch=linear", "arch.alphas=[]"], "arch.alphas needs at least one ridge penalty"),
    (["arch=linear", "arch.alphas=[1,-1]"], "arch.alphas must be finite penalties of 0 or more"),
    (["arch=ets", "arch.season_length=0"], "arch.season_length must be a positive integer"),
])
def test_baseline_settings_are_checked_before_anything_runs(overrides, message):
    with pytest.raises(UserError, match=message):
        validate(make_cfg(*overrides))


# --- every baseline is a run like every other -------------------------------------------

@pytest.mark.slow
def test_every_new_baseline_is_a_run_with_the_same_metrics(tmp_path, store):
    from src.train import train

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    keys, runs = {}, {}
    for arch in ["naive", "linear", "seasonal_naive", *STATISTICAL]:
        metrics = train(make_cfg(f"arch={arch}", *TINY, *store))
        runs[arch] = client.get_run(metrics["run_id"])
        keys[arch] = set(runs[arch].data.metrics)
        steps = client.get_metric_history(metrics["run_id"], "test_mse_by_step")
        assert sorted(p.step for p in steps) == list(range(1, 11)), arch
        assert runs[arch].info.status == "FINISHED" and runs[arch].data.tags["arch"] == arch
        assert runs[arch].data.tags["deterministic"] == "true"
    for arch in keys:
        assert keys[arch] == keys["naive"], arch
    assert runs["linear"].data.params["linear_inputs"] == "window-relative"
    assert float(runs["linear"].data.params["ridge_alpha"]) in (0.0, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
    assert "learning_rate" not in runs["linear"].data.params
    for arch in STATISTICAL:
        run = runs[arch]
        assert run.data.tags["kind"] == "statistical" and "model_uri" not in run.data.tags
        assert {"spec/s0", "spec/s1"} <= set(run.data.params) and run.data.metrics["n_params"] > 0
    for arch in ("linear", "seasonal_naive"):  # Keras models: logged, served like the LSTMs
        assert runs[arch].data.tags["model_uri"].startswith("models:/")


@pytest.mark.slow
def test_a_season_too_long_for_the_data_stops_before_any_run(store):
    """Before, `src.train` found it in the model's fit, inside its run: a FAILED run per try."""
    from hydra import initialize_config_dir

    from src.sweep import check_fits_data
    from src.train import train

    overrides = [*store, "data.n_windows=12", "data.input_steps=2", "data.horizon=1", "arch.season_length=12"]
    for arch in ("arima", "ets", "theta"):
        with pytest.raises(UserError, match="arch.season_length=12 needs at least 26 training rows"):
            train(make_cfg(*overrides, f"arch={arch}"))
    client = MlflowClient(tracking_uri=store[0].split("=", 1)[1])
    assert not client.search_runs([e.experiment_id for e in client.search_experiments()])
    cfg = make_cfg(*overrides[:-1])
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None), \
            pytest.raises(UserError, match="needs at least 26 training rows"):
        check_fits_data(["arch.season_length=12"], ["ets"], prepare(cfg.data))
