"""Builders: output shapes, the seed's parameter counts, channel independence, and
models that reload in safe mode."""

from types import SimpleNamespace

import keras
import numpy as np
import pytest
from keras import layers

from conftest import CONF_DIR, make_cfg
from src.config import register_configs
from src.one_run import build_model, count_trainable

# Every approach in conf/arch/, so a new one is one builder and one YAML: each that builds a
# Keras network gets the shape, safe-mode reload and stacking checks below.
ARCHS = sorted(p.stem for p in (CONF_DIR / "arch").glob("*.yaml"))


def build(name, input_steps=40, horizon=10, n_series=2, units=(12, 12, 6)):
    cfg = make_cfg(f"arch={name}")
    if "units" in cfg.arch:
        cfg.arch.units = list(units)
    if "period" in cfg.arch:  # seasonal: a season that fits the window
        cfg.arch.period = min(cfg.arch.period, input_steps)
    shape = SimpleNamespace(input_steps=input_steps, horizon=horizon, model_series=n_series,
                            scaler=SimpleNamespace(mode="window"))
    return build_model(cfg, shape)


register_configs()  # before the session fixture: NETWORKS is known at collection
NETWORKS = [name for name in ARCHS if isinstance(build(name, 6, 2, 1, (2,)), keras.Model)]


def test_the_approaches_are_discovered():
    assert {"reshape_head", "timedistributed", "seq2seq", "naive", "linear"} <= set(NETWORKS)
    assert {"ets", "theta", "arima"} <= set(ARCHS) - set(NETWORKS)  # statistical: no network


def random_windows(n=4, steps=40, series=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, steps, series)).astype("float32")


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("steps, horizon, series, units", [(7, 3, 1, (4,)), (12, 5, 3, (5, 3))])
def test_output_is_batch_horizon_series(name, steps, horizon, series, units):
    model = build(name, steps, horizon, series, units)
    out = model.predict(random_windows(2, steps, series), verbose=0)
    assert out.shape == (2, horizon, series)


def test_every_arch_config_targets_a_builder_of_the_same_name():
    for name in ARCHS:
        arch = make_cfg(f"arch={name}").arch
        assert arch.name == name and arch._target_.startswith("src.models.")


@pytest.mark.parametrize("name", NETWORKS)
def test_one_series_per_sample_keeps_series_apart(name):
    """With data.stacking=samples every network sees one series at a time: moving series 1
    leaves series 0's forecast bit for bit (the Forecaster stacks and unstacks)."""
    from src.data.scaling import Scaler
    from src.serving.forecaster import Forecaster

    keras.utils.set_random_seed(0)
    network = build(name, 12, 4, 1, (3,))
    scaler = Scaler(mode="window", mean=np.zeros(2), std=np.ones(2))
    forecaster = Forecaster(network, scaler, stacking="samples", series=["a", "b"], input_steps=12,
                            horizon=4, approach=name)
    X = random_windows(3, 12, 2).astype("float64")
    moved = X.copy()
    moved[:, :, 1] += np.linspace(-3, 3, 12)
    np.testing.assert_array_equal(forecaster.forecast(X)[:, :, 0], forecaster.forecast(moved)[:, :, 0])


def test_seed_parameter_counts():
    # The seed answer's TimeDistributed summary: 672 + 1200 + 456 + 70 = 2,398.
    assert count_trainable(build("timedistributed")) == 2398
    # LSTM(12) on 2 features 720, LSTM(12) 1200, LSTM(6) 456, Dense(6 -> 20) 140.
    assert count_trainable(build("reshape_head")) == 2516
    assert count_trainable(build("naive")) == 0


def test_layers_are_named_for_reading_summaries():
    names = [layer.name for layer in build("seq2seq").layers]
    assert names == ["window", "encoder_0", "encoder_1", "encoder_2", "repeat",
                     "decoder_0", "decoder_1", "decoder_2", "head"]


def test_timedistributed_keeps_series_apart():
    """Changing only series 1's input leaves series 0's forecast bit for bit."""
    keras.utils.set_random_seed(0)
    model = build("timedistributed")
    X = random_windows()
    moved = X.copy()
    moved[:, :, 1] += np.linspace(-3, 3, 40, dtype="float32")
    before, after = model.predict(X, verbose=0), model.predict(moved, verbose=0)
    np.testing.assert_array_equal(before[:, :, 0], after[:, :, 0])
    assert np.abs(before[:, :, 1] - after[:, :, 1]).max() > 1e-3


def test_the_seeds_bare_reshape_mixes_series():
    """The trap this project avoids: Reshape((2, 40, 1)) on (40, 2) interleaves rows,
    so 'series 0' sees steps of both series and moves when series 1 moves."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((40, 2))
    x = layers.Reshape((2, 40, 1))(inputs)
    x = layers.TimeDistributed(layers.LSTM(6))(x)
    x = layers.TimeDistributed(layers.Dense(10))(x)
    seed_model = keras.Model(inputs, layers.Permute((2, 1))(x))
    X = random_windows()
    moved = X.copy()
    moved[:, :, 1] += 3.0
    change = seed_model.predict(moved, verbose=0) - seed_model.predict(X, verbose=0)
    assert np.abs(change[:, :, 0]).max() > 1e-3


def test_naive_repeats_the_last_value():
    X = random_windows()
    out = build("naive").predict(X, verbose=0)
    np.testing.assert_array_equal(out, np.repeat(X[:, -1:, :], 10, axis=1))


@pytest.mark.parametrize("name", NETWORKS)
def test_saved_model_reloads_in_safe_mode(name, tmp_path):
    keras.utils.set_random_seed(1)
    model = build(name, 12, 4, 2, (5, 3))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    X = random_windows(3, 12, 2)
    np.testing.assert_allclose(reloaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=0, atol=1e-6)
