"""Every config composes, typed schemas reject bad types at compose time, and the CLI
answers --cfg and unknown options without touching TensorFlow or MLflow."""

import re

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from conftest import CONF_DIR, make_cfg, run_cli
from src.config import UserError, validate

ARCHS = sorted(p.stem for p in (CONF_DIR / "arch").glob("*.yaml"))
DATA = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("data", DATA)
def test_every_combination_composes_and_resolves(arch, data):
    overrides = [f"arch={arch}", f"data={data}"]
    if data == "csv":
        overrides.append("data.path=series.csv")
    cfg = make_cfg(*overrides)
    container = OmegaConf.to_container(cfg, resolve=True)
    assert container["arch"]["name"] == arch
    assert container["data"]["source"]["_target_"].startswith("src.data.sources.")
    validate(cfg)


EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("arch", ARCHS)
def test_every_preset_composes_with_every_arch(experiment, arch):
    overrides = [f"experiment={experiment}", f"arch={arch}"]
    if experiment == "my_csv":
        overrides += ["data.path=series.csv", "data.columns=[load,price]",
                      "data.input_steps=24", "data.horizon=6"]
    validate(make_cfg(*overrides))


def test_my_csv_preset_needs_only_the_file():
    with pytest.raises(UserError, match=r"data.path must be set \(the CSV file"):
        validate(make_cfg("experiment=my_csv"))
    cfg = make_cfg("experiment=my_csv", "data.path=s.csv", "data.columns=[load]",
                   "data.input_steps=24", "data.horizon=6")
    validate(cfg)
    assert cfg.data.source.path == "s.csv" and list(cfg.data.source.columns) == ["load"]
    assert (cfg.data.input_steps, cfg.data.horizon) == (24, 6)


def test_seed_question_preset_trains_the_seeds_model_and_searches_nothing():
    """What `python -m src.train experiment=seed_question arch=timedistributed` builds: the
    seed answer's TimeDistributed network, 2,398 parameters."""
    from src.data.model_inputs import prepare
    from src.one_run import build_model, count_trainable
    from src.tuning.space import check_space

    cfg = make_cfg("experiment=seed_question", "arch=timedistributed")
    data = prepare(cfg.data)
    assert data.train.X.shape[1:] == (40, 2) and data.train.y.shape[1:] == (10, 2)
    assert count_trainable(build_model(cfg, data)) == 2398
    assert check_space(cfg.search.space, cfg) == {}


def test_public_overrides():
    cfg = make_cfg("arch=timedistributed", "arch.units=[12,12,6]", "data.input_steps=24",
                   "data.horizon=6", "train.epochs=3", "train.batch_size=64",
                   "train.learning_rate=0.01", "seed=7", "tracking.uri=sqlite:///x.db",
                   "tracking.experiment=e", "data.stacking=samples")
    assert list(cfg.arch.units) == [12, 12, 6]
    assert cfg.data.source.window == 24 and cfg.data.source.horizon == 6
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.learning_rate) == (3, 64, 0.01)
    assert (cfg.seed, cfg.tracking.uri, cfg.tracking.experiment) == (7, "sqlite:///x.db", "e")
    csv = make_cfg("data=csv", "data.path=my.csv", "data.columns=[a,b]")
    assert csv.data.source.path == "my.csv" and list(csv.data.source.columns) == ["a", "b"]


def test_every_value_comes_from_the_yaml():
    """The schemas give types only; a key no YAML sets stays missing, so this fails the day
    a new schema field is added without its value and comment in conf/."""
    from src.config import AppConfig, _missing_keys

    assert _missing_keys(OmegaConf.structured(AppConfig))  # the schemas hold no values
    for arch in ARCHS:
        assert _missing_keys(make_cfg(f"arch={arch}")) == []
    assert _missing_keys(make_cfg("data=csv")) == ["data.path"]
    assert _missing_keys(make_cfg(config_name="forecast")) == []


@pytest.mark.parametrize("override", ["train.epochs=abc", "arch.units=[a]", "data.horizon=1.5",
                                      "arch.unknown=1", "train.learning_rate=fast"])
def test_wrong_types_fail_at_compose_time(override):
    with pytest.raises(ConfigCompositionException):
        make_cfg(override)


@pytest.mark.parametrize("override, message", [
    ("data.input_steps=0", "data.input_steps must be a positive integer"),
    ("data.horizon=-2", "data.horizon must be a positive integer"),
    ("train.epochs=0", "train.epochs must be a positive integer"),
    ("train.batch_size=0", "train.batch_size must be a positive integer"),
    ("train.learning_rate=0", "train.learning_rate must be positive"),
    ("arch.units=[12,0]", "arch.units must be positive widths"),
    ("arch.units=[]", "arch.units needs at least one width"),
    ("data.stacking=rows", "data.stacking must be one of channels, samples"),
    ("data.scaling=minmax", "data.scaling must be one of"),
    ("data.val_fraction=0.9", "must leave rows for training"),
    ("data=csv", "data.path must be set"),
])
def test_bad_values_are_named(override, message):
    with pytest.raises(UserError, match=message):
        validate(make_cfg(override))


def test_cfg_job_prints_the_composed_config():
    result = run_cli("src.train", "arch=seq2seq", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    printed = OmegaConf.create(result.stdout)
    assert printed.arch.name == "seq2seq" and printed.data.horizon == 10


def test_unknown_arch_is_one_line_listing_the_options():
    result = run_cli("src.train", "arch=transformer")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown arch 'transformer'; available: " + ", ".join(ARCHS)]


def test_help_lists_the_groups_and_the_composed_config():
    result = run_cli("src.train", "arch=seq2seq", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: python -m src.train" in result.stdout
    assert f"arch: {', '.join(ARCHS)}" in result.stdout.splitlines()
    assert "search/space: default, none, quick" in result.stdout.splitlines()
    config = result.stdout.split("== Config ==")[1].split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
    printed = OmegaConf.create(config)
    assert printed.arch.name == "seq2seq" and printed.train.epochs == 30


def test_help_lists_only_the_groups_its_command_takes(capsys):
    """`python -m src.forecast --help` listed every group in conf/ (arch, data, experiment,
    ...), each of which it then refused: its config takes only tracking."""
    from src.cli import print_help

    print_help("forecast", [])
    groups = capsys.readouterr().out.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert [line.split(":")[0] for line in groups.splitlines() if ": " in line] == ["tracking"]
    print_help("config", [])
    groups = capsys.readouterr().out.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert {"arch", "data", "experiment", "search/space", "tracking"} <= {
        line.split(":")[0] for line in groups.splitlines() if ": " in line}


@pytest.mark.slow
def test_an_unknown_key_names_the_command_that_prints_every_key():
    """src.forecast's hint named `python -m src.train --cfg job`, whose keys it does not take."""
    result = run_cli("src.forecast", "data.columns=[a]")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: data.columns: unknown key (no schema declares it); `python -m src.forecast --cfg job` prints every key"]


def test_help_with_a_bad_override_is_one_line():
    result = run_cli("src.sweep", "train.epochs=abc", "--help")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: train.epochs: expected an integer, got 'abc'"]


@pytest.mark.parametrize("overrides", [
    ["tracking.uri=sqlite:////tmp/x/mlflow.db", "arch=seq2seq", "train.epochs=2"],
    # a value the preset also sets, a list, null, an interpolation and a quoted string
    ["experiment=sweep_quick", "search.n_trials=3", "search.archs=[naive,linear]",
     "search.workers=null", "tracking.experiment=${search.name}", "compare.report_dir='a b'"],
    # one key changed twice, around a group override: the last change holds, as in Hydra
    ["train.epochs=3", "data=csv", "data.path=x.csv", "train.epochs=4", "++train.patience=7"],
    ["search.sampler._target_=optuna.samplers.RandomSampler", "arch.units=[4]", "arch=timedistributed"],
    # a plain change, then ++ of the same key or of its parent: the later one holds (a review's find)
    ["train.patience=3", "++train.patience=7"],
    ["search.space.depth.high=2", "++search.space.depth={type:int,low:1,high:3}"],
])
def test_the_suites_composes_are_hydras(overrides):
    """make_cfg composes the config groups once and applies value overrides after, as
    Hydra does once the defaults are merged: the result is exactly Hydra's own compose."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        expected = compose("config", overrides=overrides)
    made = make_cfg(*overrides)
    assert OmegaConf.to_container(made) == OmegaConf.to_container(expected)
    assert OmegaConf.to_yaml(made) == OmegaConf.to_yaml(expected)
    assert OmegaConf.is_struct(made) and type(made.train._metadata.object_type) is type(expected.train._metadata.object_type)


@pytest.mark.parametrize("overrides", [["train.nope=1"], ["train.epochs=abc"], ["train.epochs=[1"], ["arch=nope"],
                                       ["search.space.depth.step=2", "+search.space.depth.step=3"]])
def test_the_suites_composes_fail_as_hydras_do(overrides):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None), \
            pytest.raises(Exception) as expected:
        compose("config", overrides=overrides)
    with pytest.raises(type(expected.value), match=re.escape(str(expected.value).splitlines()[0])):
        make_cfg(*overrides)
