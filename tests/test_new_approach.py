"""A fourth approach is one builder and one YAML: a throwaway Conv1D encoder, registered
from this test (a module under src.models, as a user's would be) with a YAML of its own in
a Hydra search path, is typed by its builder's signature, trains and logs like the others,
searches its own parameter (`filters`, declared in its YAML's `space`), and the sweep says
that it searches fewer parameters than the LSTMs."""

import logging
import sys
import types

import keras
import numpy as np
import optuna
import pytest
from keras import layers

from conftest import TINY, make_cfg
from src.config import UserError, validate
from src.one_run import build_network
from src.tuning.space import approach_space, as_overrides, suggest

YAML = """\
# A Conv1D encoder over the window, a Dense head: no arch.units, its own width instead.
_target_: src.models.throwaway.conv1d
name: conv1d
filters: 8
kernel_size: 3
space:
  filters: {type: int, low: 4, high: 16, log: true, key: arch.filters}
"""


def conv1d(input_steps: int, horizon: int, n_series: int, filters: int, kernel_size: int = 3,
           name: str = "conv1d") -> keras.Model:
    inputs = keras.Input((input_steps, n_series), name="window")                       # (B, T, C)
    x = layers.Conv1D(filters, kernel_size, padding="causal", activation="relu", name="encoder")(inputs)
    x = layers.GlobalAveragePooling1D(name="pool")(x)                                   # (B, F)
    x = layers.Dense(horizon * n_series, name="head")(x)                                # (B, H*C)
    return keras.Model(inputs, layers.Reshape((horizon, n_series), name="forecast")(x), name=name)


@pytest.fixture
def conv(tmp_path, monkeypatch):
    """The overrides that select the throwaway approach."""
    module = types.ModuleType("src.models.throwaway")
    module.conv1d = conv1d
    # Defined there, as a user's builder in src/models/throwaway.py would be (only what is
    # defined in src.models may be a _target_, src.config.check_targets).
    monkeypatch.setattr(conv1d, "__module__", module.__name__)
    monkeypatch.setitem(sys.modules, "src.models.throwaway", module)
    (tmp_path / "conf" / "arch").mkdir(parents=True)
    (tmp_path / "conf" / "arch" / "conv1d.yaml").write_text(YAML)
    return [f"hydra.searchpath=[file://{tmp_path}/conf]", "arch=conv1d"]


def test_its_builder_types_its_config(conv):
    validate(make_cfg(*conv))
    with pytest.raises(UserError, match=r"arch.filters: Value 'many' .*conv1d"):
        validate(make_cfg(*conv, "arch.filters=many"))
    with pytest.raises(UserError, match=r"arch.dilation: Key 'dilation' not in"):
        validate(make_cfg(*conv, "+arch.dilation=2"))
    with pytest.raises(UserError, match=r"arch._target_: no class or function 'src.models.throwaway.conv2d'"):
        validate(make_cfg(*conv, "arch._target_=src.models.throwaway.conv2d"))


def test_it_searches_its_own_parameter_and_the_sweep_says_it_searches_fewer(conv, caplog):
    from src.sweep import say_unequal_spaces

    cfg = make_cfg(*conv)
    space = approach_space(cfg)
    assert list(space) == ["learning_rate", "batch_size", "filters"]  # no depth, units, taper
    trial = optuna.trial.FixedTrial({"learning_rate": 0.01, "batch_size": 32, "filters": 5})
    overrides = as_overrides(suggest(trial, space, base_units=None))
    assert "arch.filters=5" in overrides
    network = build_network(make_cfg(*conv, *overrides).arch, 12, 3, 2)
    assert network.get_layer("encoder").filters == 5

    lstm = list(approach_space(make_cfg("arch=reshape_head")))
    with caplog.at_level(logging.WARNING):
        say_unequal_spaces({"reshape_head": lstm, "conv1d": list(space)}, lstm)
    assert [r.getMessage() for r in caplog.records] == [
        "conv1d searches fewer parameters than the others (3, not 5: depth, units, taper do not "
        "apply to it); its budget buys less tuning"]
    bad = make_cfg(*conv, "arch.space.filters.key=arch.width")
    with pytest.raises(UserError, match="arch.space.filters.key: no config key 'arch.width'"):
        approach_space(bad)


@pytest.mark.slow
def test_it_trains_logs_and_reloads_like_the_others(conv, tmp_path, store):
    from mlflow import MlflowClient

    from src.serving.logged import load_forecaster
    from src.train import train

    metrics = train(make_cfg(*conv, *TINY, *store, "train.jit_compile=false"))
    run = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_run(metrics["run_id"])
    assert run.data.params["arch.filters"] == "8"
    assert run.data.tags["approach"] == "conv1d" and run.info.status == "FINISHED"
    assert metrics["n_params"] == (3 * 2 * 8 + 8) + (8 * 20 + 20)  # Conv1D, Dense(10 * 2)
    # The network reloads in safe mode, without the builder's module.
    forecaster = load_forecaster(run.data.tags["model_uri"], tmp_path / "model")
    X = np.random.default_rng(0).normal(size=(2, 40, 2))
    assert forecaster.forecast(X).shape == (2, 10, 2)
