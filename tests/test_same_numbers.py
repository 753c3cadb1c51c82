"""The start-up and overhead work of issue 17 changes no number: forecasts through the
forecaster's traced graph equal Keras's `predict` bit for bit, the model's signature is
the one MLflow infers, and a run logs the metrics of the same seed trained and scored the
straightforward way."""

import keras
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from conftest import make_cfg
from src import evaluation
from src.data.model_inputs import prepare
from src.one_run import build_model
from src.serving.forecaster import PREDICT_BATCH, Forecaster
from src.serving.logged import signature
from src.train import train
from src.keras_fit import fit


def keras_forecast(network, data, windows: np.ndarray) -> np.ndarray:
    """What Forecaster.forecast computed before: Keras's predict, batch_size=256."""
    X = data.scaler.transform_inputs(np.asarray(windows, dtype=np.float64))
    if data.stacking == "samples":
        from src.data.stacking import from_samples, to_samples

        return data.scaler.inverse(from_samples(network.predict(to_samples(X), batch_size=256, verbose=0),
                                                data.n_series), windows)
    return data.scaler.inverse(network.predict(X, batch_size=256, verbose=0), windows)


@pytest.mark.parametrize("overrides", [
    ["arch=reshape_head", "arch.units=[5,3]"],
    ["arch=seq2seq", "arch.units=[4]", "data.scaling=revin"],
    ["arch=timedistributed", "arch.units=[3]", "data.stacking=samples", "data.scaling=global"],
    ["arch=linear"],
])
@pytest.mark.parametrize("xla", [False, pytest.param(True, marks=pytest.mark.slow)])  # XLA: seconds
def test_forecasts_equal_keras_predict_bit_for_bit(overrides, xla):
    data = prepare(make_cfg(*overrides, "data.n_windows=2000").data)
    keras.utils.set_random_seed(3)
    network = build_model(make_cfg(*overrides), data)
    network.jit_compile = xla
    forecaster = Forecaster.for_data(network, data)
    assert len(data.train.X) * data.model_series > PREDICT_BATCH  # several batches
    for windows in (data.train.X, data.test.X, data.test.X[-1:]):
        np.testing.assert_array_equal(forecaster.forecast(windows), keras_forecast(network, data, windows))


def test_signature_is_the_one_mlflow_infers():
    data = prepare(make_cfg("data.n_windows=200").data)
    forecaster = Forecaster.for_data(build_model(make_cfg("arch=naive"), data), data)
    history = pd.DataFrame(data.train.X[-1], columns=data.series)
    assert signature(forecaster) == infer_signature(history, forecaster.forecast_frame(history))


@pytest.mark.slow
def test_a_run_logs_the_metrics_of_the_same_seed_scored_the_straightforward_way(store):
    overrides = ["arch=reshape_head", "arch.units=[6,4]", "data.n_windows=300", "train.epochs=4",
                 "train.verbose=0", "seed=7"]
    logged = train(make_cfg(*overrides, *store))

    cfg = make_cfg(*overrides)
    data = prepare(cfg.data)
    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    network = build_model(cfg, data)
    result = fit(network, data, cfg.train, seed=cfg.seed)
    expected = evaluation.evaluate(data, keras_forecast(network, data, data.val.X),
                                   keras_forecast(network, data, data.test.X))
    expected.update(best_val_loss=result.best_val_loss, epochs_trained=result.epochs,
                    best_epoch=result.best_epoch)
    assert {key: logged[key] for key in expected} == expected
