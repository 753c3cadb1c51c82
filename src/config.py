"""Typed schemas for the config groups and the checks Hydra cannot express.

The dataclasses are registered in Hydra's ConfigStore under `schema/` and every YAML in
`conf/` extends one of them, so a wrong type (`train.epochs=abc`) or an unknown key fails
when the config is composed. `validate` adds the value checks (positive sizes, known
options) and runs before any data is read or any MLflow run is created.
"""

import math
import os
import re
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import MISSING, DictConfig, OmegaConf

from src.data.scaling import MODES as SCALINGS
from src.data.stacking import STACKINGS
from src.redact import redact

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"  # conf/: every option's YAML


def arch_options() -> list[str]:
    """The approaches there are: one YAML each in conf/arch/."""
    return sorted(p.stem for p in (CONF_DIR / "arch").glob("*.yaml"))


class UserError(Exception):
    """Bad input from the user: reported as one line, without a traceback."""


# The schemas give each key its type (and `validate` its range); every value and its comment
# lives in the YAML under conf/, the one place users read. MISSING here means "the YAML sets it".

@dataclass
class DataConfig:
    input_steps: int = MISSING
    horizon: int = MISSING
    stacking: str = MISSING
    scaling: str = MISSING
    val_fraction: float = MISSING
    test_fraction: float = MISSING
    # The function that returns the raw series as a DataFrame (rows = time, columns = series).
    source: Any = MISSING


@dataclass
class SyntheticDataConfig(DataConfig):
    n_series: int = MISSING
    n_windows: int = MISSING
    trend: float = MISSING
    noise: float = MISSING
    coupling: float = MISSING
    seed: int = MISSING


@dataclass
class CsvDataConfig(DataConfig):
    path: str = MISSING
    columns: Optional[list[str]] = MISSING
    time_column: Optional[str] = MISSING


@dataclass
class BaselineArchConfig:
    _target_: str = MISSING
    name: str = MISSING
    # This approach's own searched parameters (name -> ParamSpec, with key: arch.<its key>),
    # beside search.space; empty: none of its own.
    space: dict[str, Any] = field(default_factory=dict)

    # Not a config key: False where train.* (epochs, learning rate, batch size) cannot change
    # the fit, so a sweep does not search them for it (trained_by_gradient).
    BY_GRADIENT = True


@dataclass
class RecurrentArchConfig(BaselineArchConfig):
    units: list[int] = MISSING


@dataclass
class NaiveArchConfig(BaselineArchConfig):
    BY_GRADIENT = False  # not fitted at all


@dataclass
class LinearArchConfig(BaselineArchConfig):
    alphas: list[float] = MISSING  # ridge, in closed form: trained_by_gradient reads this key


@dataclass
class SeasonalNaiveArchConfig(BaselineArchConfig):
    period: int = MISSING

    BY_GRADIENT = False


@dataclass
class StatisticalArchConfig(BaselineArchConfig):
    season_length: int = MISSING

    BY_GRADIENT = False  # statsmodels' own fit


def trained_by_gradient(arch: DictConfig) -> bool:
    """Whether train.* shapes this arch config's fit: True for an arch typed by its builder
    alone (no schema under /schema/arch/), which is a network to train, unless it is fitted
    in closed form (ridge penalties `alphas`, as src.models.ridge.is_closed_form says)."""
    return getattr(OmegaConf.get_type(arch), "BY_GRADIENT", True) and "alphas" not in arch


@dataclass
class TrainConfig:
    epochs: int = MISSING
    batch_size: int = MISSING
    learning_rate: float = MISSING
    patience: int = MISSING
    jit_compile: Optional[bool] = MISSING
    steps_per_execution: int = MISSING
    verbose: Optional[int] = MISSING


@dataclass
class TrackingConfig:
    uri: str = MISSING
    artifact_root: str = MISSING
    experiment: str = MISSING
    log_model: bool = MISSING
    forecast_windows: int = MISSING


@dataclass
class ParamSpec:
    """One searched parameter: type int or float over [low, high] (log scale optional,
    step optional), or categorical over `choices`. `key` is the config key it sets;
    depth, units and taper have none: together they set arch.units. Not a config group:
    the fields an entry may leave out, with what leaving them out means."""
    type: str = MISSING
    key: Optional[str] = None
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: Optional[list[Any]] = None


@dataclass
class SearchConfig:
    name: str = MISSING
    archs: list[str] = MISSING
    baselines: list[str] = MISSING
    stackings: list[str] = MISSING
    n_trials: int = MISSING
    workers: Optional[int] = MISSING
    threads_per_worker: Optional[int] = MISSING
    trials_per_process: Optional[int] = MISSING
    storage: Optional[str] = MISSING
    journal: str = MISSING
    max_failures: int = MISSING
    retries: int = MISSING
    heartbeat_interval: int = MISSING
    grace_period: int = MISSING
    plots: bool = MISSING
    sampler: Any = MISSING
    pruner: Any = MISSING
    # name -> ParamSpec (conf/search/space/); empty: nothing searched. Checked against
    # ParamSpec by src.tuning.space.parse_space, since OmegaConf cannot add entries to a
    # typed dict from the command line.
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompareConfig:
    repeats: int = MISSING
    folds: int = MISSING
    report_dir: str = MISSING
    forecast_windows: int = MISSING
    register: bool = MISSING


@dataclass
class BenchConfig:
    approaches: list[str] = MISSING
    repeats: int = MISSING
    epochs: int = MISSING
    ablation_epochs: int = MISSING
    sweep_windows: int = MISSING
    throughput_trials: int = MISSING
    throughput_epochs: int = MISSING
    pruning_trials: int = MISSING
    pruning_epochs: int = MISSING
    memory_trials: int = MISSING
    out_dir: str = MISSING
    baseline: Optional[str] = MISSING
    default_sweep: bool = MISSING
    overrides: list[str] = MISSING


@dataclass
class ForecastDataConfig:
    path: Optional[str] = MISSING
    time_column: Optional[str] = MISSING


@dataclass
class SweepNameConfig:
    name: str = MISSING


@dataclass
class ForecastAppConfig:
    """`python -m src.forecast`: its own config (conf/forecast.yaml), not the training one."""
    model: Optional[str] = MISSING
    data: ForecastDataConfig = field(default_factory=ForecastDataConfig)
    windows: str = MISSING
    out_dir: str = MISSING
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    search: SweepNameConfig = field(default_factory=SweepNameConfig)


@dataclass
class AppConfig:
    data: Any = MISSING
    arch: Any = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    seed: int = MISSING
    run_name: Optional[str] = MISSING


# The only callables a config may name by `_target_`: classes and functions defined in these
# packages. Configs can come back from a shared tracking store (compare, forecast), so nothing
# else is ever instantiated.
ALLOWED_TARGETS = ("src.models.", "src.data.sources.", "optuna.samplers.", "optuna.pruners.")


def targets(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(key, value) of every `_target_` in a config, nested ones included."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=False)
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if key == "_target_":
                found.append((path, str(value)))
            else:
                found += targets(value, f"{path}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += targets(value, f"{prefix}{i}.")
    return found


NOT_BUILDER_ARGS = ("_target_", "space")  # arch keys the builder is not called with
SIZE_ARGS = ("input_steps", "horizon", "n_series")  # given by the data, never by the config


def check_builder_args(arch: DictConfig) -> None:
    """An arch config without a schema of its own (a YAML that extends none under
    /schema/arch/) is typed by its builder's signature: every key but _target_ and space
    must be a keyword of the builder, of the annotated type. UserError naming the key."""
    import dataclasses
    import inspect

    from hydra.utils import get_method
    from omegaconf.errors import OmegaConfBaseException

    check_targets(arch, where="arch.")  # a class or function defined in an allowed module
    builder = get_method(arch._target_)
    params = [p for p in inspect.signature(builder).parameters.values() if p.name not in SIZE_ARGS]
    schema = dataclasses.make_dataclass(f"{arch.name}_args", [
        (p.name, Any if p.annotation is inspect.Parameter.empty else p.annotation,
         MISSING if p.default is inspect.Parameter.empty else p.default) for p in params])
    given = {k: v for k, v in arch.items() if k not in NOT_BUILDER_ARGS}
    try:
        OmegaConf.merge(OmegaConf.structured(schema), given)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "arch"
        raise UserError(f"arch.{key}: {str(err).splitlines()[0]} (the arguments of "
                        f"{arch._target_})") from None


def check_targets(node: Any, where: str = "", resolve: bool = True) -> None:
    """UserError naming the first `_target_` outside ALLOWED_TARGETS. The name is not enough:
    Hydra also follows attributes, so `src.data.sources.pd.read_pickle` is pandas' function
    reached through a module that imports pandas. What it names must be defined there, which
    `resolve` checks by importing its module (`build` and `load_stored` always do)."""
    for key, target in targets(node):
        if not target.startswith(ALLOWED_TARGETS):
            raise _not_allowed(where, key, target)
        if resolve:
            found = _locate(target)
            if found is None:
                raise UserError(f"{where}{key}: no class or function '{target}'")
            if not _defined_in_allowed(found):
                raise _not_allowed(where, key, target)


def _not_allowed(where: str, key: str, target: str) -> UserError:
    return UserError(f"{where}{key}: '{target}' is not allowed; a _target_ must name a class or "
                     f"function defined in {', '.join(p.rstrip('.') for p in ALLOWED_TARGETS)}")


def _locate(target: str) -> Any:
    """What `target` names, or None. Resolving it imports modules under ALLOWED_TARGETS only
    (the name starts with one)."""
    import logging

    from hydra.utils import get_object

    hydra_log = logging.getLogger("hydra.utils")  # it logs its own several-line error first
    level = hydra_log.level
    hydra_log.setLevel(logging.CRITICAL)  # setLevel, not .level: it clears logging's cache
    try:
        return get_object(target)
    except Exception:  # noqa: BLE001 - Hydra wraps the ImportError or AttributeError
        return None
    finally:
        hydra_log.setLevel(level)


def _defined_in_allowed(found: Any) -> bool:
    """Whether `found` is a class or function whose module is in ALLOWED_TARGETS."""
    import inspect

    module = f"{getattr(found, '__module__', None)}."
    return (inspect.isclass(found) or inspect.isfunction(found)) and module.startswith(ALLOWED_TARGETS)


def build(node: DictConfig, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` of an allowed `_target_` (see ALLOWED_TARGETS); a UserError
    raised by the target comes through as is, a wrong argument as one line."""
    check_targets(node)
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, UserError):
            raise err.__cause__ from None
        if isinstance(err.__cause__, TypeError):  # e.g. an unknown argument in data.source
            raise UserError(f"{node.get('_target_')}: {err.__cause__}") from None
        raise


def current_defaults(arch: str | None, data: str) -> DictConfig:
    """Today's composed config (conf/config.yaml) with the arch and data options named; the
    arch option is left at its default when conf/arch/ has no such file."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = [f"data={data}"]
    if arch and arch.replace("_", "").isalnum() and (CONF_DIR / "arch" / f"{arch}.yaml").is_file():
        overrides.append(f"arch={arch}")
    if GlobalHydra.instance().is_initialized():  # inside a Hydra app, whose search path is conf/
        return compose("config", overrides=overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose("config", overrides=overrides)


# Stored nodes that replace today's instead of merging into it: a `_target_` call (another
# sampler takes other arguments) and the searched spaces (an entry left out was not searched).
REPLACED_WHOLE = ("data.source", "search.sampler", "search.pruner", "search.space", "arch.space")


def load_stored(text: str, where: str) -> DictConfig:
    """A config read back from a tracking store, which others may write: plain YAML data
    (no interpolation, so no resolver runs), typed by the schemas, every `_target_` allowed.
    A key that did not exist when the run was logged takes today's default from conf/.
    UserError naming `where` and the key otherwise."""
    import yaml
    from omegaconf.errors import OmegaConfBaseException

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserError(f"{where}: config.yaml is not YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict) \
            or not isinstance(data.get("arch"), dict):
        raise UserError(f"{where}: config.yaml is not a config of this project")
    for key, value in _leaves(data):
        if isinstance(value, str) and "${" in value:
            raise UserError(f"{where}: {key} holds an interpolation ({value!r}); a stored "
                            f"config must hold plain values")
    cfg = current_defaults(str(data["arch"].get("name")),
                           "synthetic" if "n_series" in data["data"] else "csv")
    if cfg.arch.name != data["arch"].get("name"):  # an arch this tree has no YAML for
        cfg.arch = OmegaConf.create({})
    stored = OmegaConf.create(data)
    for key in REPLACED_WHOLE:  # the stored one as it is, without today's entries mixed in
        if OmegaConf.select(stored, key) is not None:
            OmegaConf.update(cfg, key, {}, merge=False)
            OmegaConf.set_struct(OmegaConf.select(cfg, key), False)  # to take the stored keys
    try:
        cfg = OmegaConf.merge(cfg, data)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "config"
        raise UserError(f"{where}: {key}: {str(err).splitlines()[0]}") from None
    check_targets(cfg, where=f"{where}: ")
    return cfg


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, f"{prefix}{k}.")]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), node)]


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(group="schema/data", name="synthetic", node=SyntheticDataConfig)
    cs.store(group="schema/data", name="csv", node=CsvDataConfig)
    cs.store(group="schema/arch", name="recurrent", node=RecurrentArchConfig)
    cs.store(group="schema/arch", name="baseline", node=BaselineArchConfig)
    cs.store(group="schema/arch", name="naive", node=NaiveArchConfig)
    cs.store(group="schema/arch", name="linear", node=LinearArchConfig)
    cs.store(group="schema/arch", name="seasonal_naive", node=SeasonalNaiveArchConfig)
    cs.store(group="schema/arch", name="statistical", node=StatisticalArchConfig)
    cs.store(group="schema", name="train", node=TrainConfig)
    cs.store(group="schema", name="tracking", node=TrackingConfig)
    cs.store(group="schema", name="search", node=SearchConfig)
    cs.store(group="schema", name="compare", node=CompareConfig)
    cs.store(group="schema", name="bench", node=BenchConfig)
    cs.store(group="schema", name="app", node=AppConfig)
    cs.store(group="schema", name="forecast_app", node=ForecastAppConfig)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _section(node: DictConfig, key: str) -> DictConfig | None:
    """node[key] where it is a section of its own; None for a value, a missing one, or an
    interpolation (resolving one could raise on a `???` it points to)."""
    if OmegaConf.is_missing(node, key) or OmegaConf.is_interpolation(node, key):
        return None
    child = node[key]
    return child if isinstance(child, DictConfig) else None


def _missing_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Keys still `???`, without resolving interpolations (which would raise on them)."""
    found = []
    for key in node.keys():
        path = f"{prefix}{key}"
        if OmegaConf.is_missing(node, key):
            found.append(path)
        elif (section := _section(node, key)) is not None:
            found += _missing_keys(section, f"{path}.")
    return found


def unknown_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Keys that no schema declares (Hydra lets `+foo=1` add them to a typed config)."""
    found = []
    schema = OmegaConf.get_type(node)
    if is_dataclass(schema):
        known = {f.name for f in fields(schema)}
        found += [f"{prefix}{k}" for k in node.keys() if k not in known]
    for key in node.keys():
        section = _section(node, key)
        if section is not None and f"{prefix}{key}" not in found:
            found += unknown_keys(section, f"{prefix}{key}.")
    return found


def check_missing_keys(cfg: DictConfig) -> None:
    missing = _missing_keys(cfg)
    if missing:
        hint = " (the CSV file for data=csv)" if missing[0] == "data.path" else ""
        raise UserError(f"{missing[0]} must be set{hint}: add {missing[0]}=...")


def check_known_keys(cfg: DictConfig, command: str = "src.train") -> None:
    unknown = unknown_keys(cfg)
    if unknown:
        raise UserError(f"{unknown[0]}: unknown key (no schema declares it); "
                        f"`python -m {command} --cfg job` prints every key")


SEED_RANGE = (0, 2**32 - 1)  # what Keras and NumPy accept


def _positive(node: DictConfig, where: str, keys: tuple[str, ...], minimum: int = 1) -> None:
    for key in keys:
        value = node[key]
        wanted = "a positive integer" if minimum == 1 else f"{minimum} or more"
        _require(value is not None and value >= minimum, f"{where}.{key} must be {wanted}, got {value}")


def _seed(value: int, key: str) -> None:
    _require(SEED_RANGE[0] <= value <= SEED_RANGE[1],
             f"{key} must lie between {SEED_RANGE[0]} and {SEED_RANGE[1]}, got {value}")


def _finite(value: float, key: str) -> None:
    _require(math.isfinite(value), f"{key} must be a finite number, got {value}")


def validate(cfg: DictConfig) -> None:
    """Value checks on a composed config; raises UserError naming the first problem.
    Every numeric field's range is checked here, before any data is read or any run or
    study exists."""
    check_known_keys(cfg)
    check_missing_keys(cfg)
    # Names only here: resolving them imports each builder's module, TensorFlow with it (seconds),
    # in processes that build none, such as a sweep's coordinator. Whatever is built is resolved.
    check_targets(cfg, resolve=False)
    data, train = cfg.data, cfg.train
    _positive(data, "data", ("input_steps", "horizon"))
    _require(data.stacking in STACKINGS,
             f"data.stacking must be one of {', '.join(STACKINGS)}; got '{data.stacking}'")
    _require(data.scaling in SCALINGS,
             f"data.scaling must be one of {', '.join(SCALINGS)}; got '{data.scaling}'")
    for key in ("val_fraction", "test_fraction"):
        _require(0 < data[key] < 1, f"data.{key} must lie between 0 and 1, got {data[key]}")
    _require(data.val_fraction + data.test_fraction < 1,
             "data.val_fraction + data.test_fraction must leave rows for training (< 1)")
    if "n_series" in data:
        _positive(data, "data", ("n_series", "n_windows"))
        _seed(data.seed, "data.seed")
        for key in ("trend", "noise", "coupling"):
            _finite(data[key], f"data.{key}")
        _require(data.noise >= 0, f"data.noise must be 0 or more, got {data.noise}")
    if "columns" in data and data.columns is not None:
        columns = [str(c) for c in data.columns]
        twice = sorted({c for c in columns if columns.count(c) > 1})
        _require(not twice, f"data.columns names {', '.join(twice)} more than once")
    _positive(train, "train", ("epochs", "batch_size", "steps_per_execution"))
    _positive(train, "train", ("patience",), minimum=0)
    _finite(train.learning_rate, "train.learning_rate")
    _require(train.learning_rate > 0,
             f"train.learning_rate must be positive, got {train.learning_rate}")
    _require(train.verbose in (None, 0, 1, 2), f"train.verbose must be 0, 1, 2 or null, got {train.verbose}")
    _seed(cfg.seed, "seed")
    _require(bool(cfg.tracking.experiment.strip()), "tracking.experiment must not be empty")
    for key in ("run_name", "tracking.experiment", "search.name"):
        name = OmegaConf.select(cfg, key)
        _require(name is None or redact(name) == name,
                 f"{key} holds a password in a URL ({redact(str(name))}): MLflow and Optuna store and "
                 f"show names as given; leave the password out")
    _require(bool(cfg.tracking.uri.strip()), "tracking.uri must not be empty")
    _positive(cfg.tracking, "tracking", ("forecast_windows",))
    _validate_search(cfg.search)
    _positive(cfg.compare, "compare", ("repeats",), minimum=0)
    _positive(cfg.compare, "compare", ("folds",))
    _require(cfg.compare.folds == 1 or cfg.compare.repeats >= 1,
             f"compare.folds={cfg.compare.folds} needs compare.repeats of 1 or more: the folds "
             f"retrain each approach's selected configuration, and compare.repeats=0 retrains none")
    # Fold 0 must keep training rows (src.data.folds); the row count is checked with the data.
    _require(cfg.compare.folds * data.test_fraction + data.val_fraction < 1,
             f"compare.folds={cfg.compare.folds} test blocks of data.test_fraction={data.test_fraction} "
             f"and a validation block of data.val_fraction={data.val_fraction} leave no training rows "
             f"(they must sum to under 1): use fewer folds or a smaller data.test_fraction")
    _positive(cfg.compare, "compare", ("forecast_windows",))
    _positive(cfg.bench, "bench", tuple(f.name for f in fields(BenchConfig) if f.type is int))
    _positive(cfg.bench, "bench", ("memory_trials",), minimum=2)  # row 5: after trial 2 against the last
    if "units" in cfg.arch:
        units = list(cfg.arch.units)
        _require(len(units) > 0, "arch.units needs at least one width, e.g. arch.units=[12,12,6]")
        _require(all(u > 0 for u in units),
                 f"arch.units must be positive widths, got {units}")
    _validate_baseline(cfg.arch, data)
    if not is_dataclass(OmegaConf.get_type(cfg.arch)):
        check_builder_args(cfg.arch)


def _validate_baseline(arch: DictConfig, data: DictConfig) -> None:
    if "alphas" in arch:
        alphas = list(arch.alphas)
        _require(len(alphas) > 0, "arch.alphas needs at least one ridge penalty, e.g. arch.alphas=[0,1,10]")
        _require(all(math.isfinite(a) and a >= 0 for a in alphas),
                 f"arch.alphas must be finite penalties of 0 or more, got {alphas}")
    if "period" in arch:
        _require(1 <= arch.period <= data.input_steps,
                 f"arch.period must lie between 1 and data.input_steps ({data.input_steps}): the "
                 f"seasonal naive forecast repeats the window's last season; got {arch.period}")
    if "season_length" in arch:
        _require(arch.season_length >= 1, f"arch.season_length must be a positive integer "
                                          f"(1: no seasonal terms), got {arch.season_length}")


MAX_SEARCH_NAME = 100


def _validate_search(search: DictConfig) -> None:
    _positive(search, "search", ("n_trials", "max_failures", "heartbeat_interval"))
    _positive(search, "search", ("retries",), minimum=0)
    for key in ("workers", "threads_per_worker", "trials_per_process"):
        _require(search[key] is None or search[key] >= 1,
                 f"search.{key} must be at least 1 or null, got {search[key]}")
    # A live trial beats every heartbeat_interval; with less than two intervals of grace, one
    # late beat lets another worker fail a trial that is still running.
    _require(search.grace_period >= 2 * search.heartbeat_interval,
             f"search.grace_period ({search.grace_period} s) must be at least twice "
             f"search.heartbeat_interval ({search.heartbeat_interval} s)")
    # It names the studies, the report's folder and (with the experiment) the registered model.
    _require(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9 _.-]*", str(search.name)) is not None,
             f"search.name must be letters, digits, spaces, '_', '.' or '-' (not first), got "
             f"'{search.name}'")
    _require(len(str(search.name)) <= MAX_SEARCH_NAME,  # a sweep ran, then compare's folder failed
             f"search.name has {len(str(search.name))} characters; at most {MAX_SEARCH_NAME}")
    cores = os.cpu_count() or 1  # threads beyond them only cost memory: 1e8 ran out of it
    _require(search.threads_per_worker is None or search.threads_per_worker <= cores,
             f"search.threads_per_worker must be at most the {cores} CPU cores here, got "
             f"{search.threads_per_worker}")
    for stacking in search.stackings:
        _require(stacking in STACKINGS, f"search.stackings: each must be one of "
                 f"{', '.join(STACKINGS)}; got '{stacking}'")
    _require(len(set(search.stackings)) == len(search.stackings) and search.stackings,
             f"search.stackings must name each stacking once, at least one; got {list(search.stackings)}")
